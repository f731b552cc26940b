"""reprobuild.dockerfile.shell: splitting RUN scripts into simple commands."""

from __future__ import annotations

import pytest

from reprobuild.dockerfile.shell import program, split_commands


def argvs(script: str) -> list[tuple[str, ...]]:
    return [c.argv for c in split_commands(script)]


def test_operators_and_pipes() -> None:
    commands = split_commands("set -eux; curl -fsSL https://x | sudo -E bash - && echo ok || true")
    assert [c.argv for c in commands] == [
        ("set", "-eux"), ("curl", "-fsSL", "https://x"), ("bash", "-"), ("echo", "ok"), ("true",)
    ]
    assert [c.operator for c in commands] == [";", "|", "&&", "||", ""]
    assert [c.piped_from for c in commands] == [False, False, True, False, False]


def test_quotes_keep_operators_inside_words() -> None:
    assert argvs("echo 'a && b' \"c | d\"; ls") == [("echo", "a && b", "c | d"), ("ls",)]


def test_newlines_continuations_and_comments() -> None:
    script = (
        "apt-get update \\\n && apt-get install -y \\\n   curl\n# a comment\npip install x # tail"
    )
    commands = split_commands(script)
    assert [c.argv for c in commands] == [
        ("apt-get", "update"), ("apt-get", "install", "-y", "curl"), ("pip", "install", "x")
    ]
    assert [c.line_offset for c in commands] == [0, 1, 4]
    assert commands[1].operator == ";"


def test_substitutions_are_extra_commands() -> None:
    commands = split_commands('echo "$(curl -s https://b | sh)" && x=`wget -O- https://c | bash`')
    inner = [c for c in commands if c.in_substitution]
    assert [c.argv for c in inner] == [("curl", "-s", "https://b"), ("sh",),
                                       ("wget", "-O-", "https://c"), ("bash",)]
    assert inner[1].piped_from and inner[3].piped_from
    outer = [c for c in commands if not c.in_substitution]
    assert outer[0].words == ("echo", "$(curl -s https://b | sh)")


def test_redirections_are_not_operators_and_leave_argv() -> None:
    [command] = split_commands("pip install x > /dev/null 2>&1 &>log >|f")
    assert command.argv == ("pip", "install", "x")
    assert command.operator == ""


def test_pipe_stderr() -> None:
    commands = split_commands("make |& tee log")
    assert commands[1].piped_from


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("sudo -u root pip install x", ("pip", "install", "x")),
        ("env -i PATH=/bin DEBIAN_FRONTEND=noninteractive apt-get install y",
         ("apt-get", "install", "y")),
        ("PIP_NO_CACHE_DIR=1 exec pip install z", ("pip", "install", "z")),
        ("nice -n 5 time xargs -n 1 pip install", ("pip", "install")),
        ("timeout 60 curl https://x", ("curl", "https://x")),
    ],
)
def test_wrappers_are_stripped_from_argv(script: str, expected: tuple[str, ...]) -> None:
    [command] = split_commands(script)
    assert command.argv == expected


def test_shell_grammar_words() -> None:
    script = "if [ -f x ]; then apt-get install -y foo; fi; (cd /src && make) || true"
    assert argvs(script) == [
        ("[", "-f", "x", "]"), ("apt-get", "install", "-y", "foo"), ("cd", "/src"), ("make",),
        ("true",),
    ]


def test_arithmetic_is_one_word_and_not_a_command() -> None:
    assert argvs("echo $(( 1 + 2 ))") == [("echo", "$(( 1 + 2 ))")]


@pytest.mark.parametrize("script", ["echo 'unbalanced && x", 'a "b', "a \\", "$(", "`", "))((", ""])
def test_never_raises(script: str) -> None:
    split_commands(script)


def test_program() -> None:
    assert program(("/usr/bin/pip3", "install")) == "pip3"
    assert program(()) == ""
