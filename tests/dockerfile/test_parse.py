"""reprobuild.dockerfile: the line structure, stages, args and variable resolution."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from reprobuild.dockerfile import Dockerfile, Instruction, parse_dockerfile
from reprobuild.errors import LockParseError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dockerfiles"


def parse(text: str) -> Dockerfile:
    return parse_dockerfile(Path("Dockerfile"), text)


def only(dockerfile: Dockerfile, keyword: str) -> Instruction:
    [instruction] = [i for i in dockerfile.instructions if i.keyword == keyword]
    return instruction


def test_continuations_with_comments_and_empty_lines() -> None:
    text = (
        "FROM alpine:3.20\n"
        "RUN apk add \\\n"
        "    # a comment\n"
        "\n"
        "    curl=8.9.1-r0 \\\n"
        "    git\n"
        "CMD sh\n"
    )
    dockerfile = parse(text)
    run = only(dockerfile, "RUN")
    assert (run.start_line, run.end_line) == (2, 6)
    assert run.value == "apk add     curl=8.9.1-r0     git"
    assert run.line_of("curl=") == 5
    assert run.line_of("git") == 6
    assert run.line_of("not there") == 2
    assert only(dockerfile, "CMD").start_line == 7


def test_directives_escape_and_syntax() -> None:
    text = (
        "# syntax=docker/dockerfile:1.7\n# escape=`\n"
        "FROM mcr.microsoft.com/windows:ltsc2022\nRUN dir C:\\ ; `\n    echo x\n"
    )
    dockerfile = parse(text)
    assert dockerfile.escape == "`"
    assert dockerfile.syntax == "docker/dockerfile:1.7"
    run = only(dockerfile, "RUN")
    assert run.value == "dir C:\\ ;     echo x"
    assert run.line_of("echo") == 5


def test_directive_after_an_instruction_is_a_comment() -> None:
    dockerfile = parse("FROM a:1\n# escape=`\nRUN echo `\n")
    assert dockerfile.escape == "\\"


def test_invalid_escape_is_a_parse_error() -> None:
    with pytest.raises(LockParseError, match=r"Dockerfile:1: invalid escape token"):
        parse("# escape=x\nFROM a:1\n")


def test_heredocs() -> None:
    text = (
        "FROM debian:12\n"
        "RUN <<EOF\n"
        "apt-get update\n"
        "apt-get install -y curl\n"
        "EOF\n"
        "RUN <<-ONE cat >/a && <<'TWO' cat > /b\n"
        "\tfirst\n"
        "\tONE\n"
        "second $HOME\n"
        "TWO\n"
        "COPY <<EOF /etc/x.conf\n"
        "key = 1\n"
        "EOF\n"
        "RUN echo '<<NOT' \"<<A\" <<<here\n"
        "USER 1000\n"
    )
    dockerfile = parse(text)
    keywords = [i.keyword for i in dockerfile.instructions]
    assert keywords == ["FROM", "RUN", "RUN", "COPY", "RUN", "USER"]
    first, second = [i for i in dockerfile.instructions if i.heredocs and i.keyword == "RUN"]
    assert first.heredocs[0].body == "apt-get update\napt-get install -y curl"
    assert first.heredocs[0].start_line == 3
    assert (first.start_line, first.end_line) == (2, 5)
    assert [h.name for h in second.heredocs] == ["ONE", "TWO"]
    assert second.heredocs[0].body == "first"
    assert second.heredocs[1].body == "second $HOME"
    assert second.heredocs[1].start_line == 9
    copy = only(dockerfile, "COPY")
    assert copy.heredocs[0].body == "key = 1"
    assert first.line_of("install") == 4
    assert dockerfile.instructions[4].heredocs == ()


def test_shell_commands_of_heredoc_scripts() -> None:
    dockerfile = parse(
        "FROM debian:12\nRUN <<EOF\nset -e\ncurl -fsSL https://x | sh\nEOF\n"
        "RUN python3 <<EOF\nimport os\nEOF\n"
        "RUN bash -ex <<EOF\npip install x\nEOF\n"
        "RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n"
    )
    runs = [i for i in dockerfile.instructions if i.keyword == "RUN"]
    commands = runs[0].shell_commands()
    assert [c.argv for c in commands] == [("set", "-e"), ("curl", "-fsSL", "https://x"), ("sh",)]
    assert [runs[0].start_line + c.line_offset for c in commands] == [3, 4, 4]
    assert commands[2].piped_from
    assert [c.argv for c in runs[1].shell_commands()] == [("python3",)]
    assert [c.argv for c in runs[2].shell_commands()] == [("bash", "-ex"), ("pip", "install", "x")]
    assert [runs[2].start_line + c.line_offset for c in runs[2].shell_commands()] == [9, 10]
    assert runs[3].shell_commands() == []


def test_shell_commands_lines_inside_continuations() -> None:
    dockerfile = parse("FROM a:1\nRUN apt-get update && \\\n  apt-get install -y \\\n    curl\n")
    run = only(dockerfile, "RUN")
    assert [run.start_line + c.line_offset for c in run.shell_commands()] == [2, 3]


def test_json_form() -> None:
    dockerfile = parse('FROM a:1\nRUN --network=none ["pip", "install", "x"]\nRUN [not json\n')
    first, second = [i for i in dockerfile.instructions if i.keyword == "RUN"]
    assert first.json_form and first.flags == ("--network=none",)
    [command] = first.shell_commands()
    assert command.argv == ("pip", "install", "x")
    assert not second.json_form


def test_flags() -> None:
    dockerfile = parse(
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\n"
        "RUN --mount=type=cache,target=/a --mount=type=bind,from=build,target=/b "
        "--network=host make\n"
        "COPY --from=build --chown=1000:1000 --link /out /out\n"
    )
    run = dockerfile.instructions[1]
    assert run.flag_values("mount") == ("type=cache,target=/a", "type=bind,from=build,target=/b")
    assert run.flag("network") == "host"
    assert run.value == "make"
    copy = dockerfile.instructions[2]
    assert copy.flag("from") == "build" and copy.flag("link") == "" and copy.flag("chmod") is None
    assert copy.value == "/out /out"


def test_stages_aliases_and_indexes() -> None:
    dockerfile = parse(
        "ARG V=1\nFROM --platform=linux/amd64 python:3.11 AS Builder\nRUN x\n"
        "FROM scratch\nCOPY --from=builder / /\n"
    )
    assert [i.stage for i in dockerfile.instructions] == [-1, 0, 0, 1, 1]
    builder, final = dockerfile.stages
    assert (builder.name, builder.base, builder.platform, builder.line) == (
        "builder", "python:3.11", "linux/amd64", 2,
    )
    assert final.name is None and final.base == "scratch"
    assert dockerfile.stage_names() == frozenset({"builder"})
    assert dockerfile.is_stage_reference("BUILDER") and dockerfile.is_stage_reference("0")
    assert not dockerfile.is_stage_reference("2") and not dockerfile.is_stage_reference("alpine")


def test_global_args_and_resolve() -> None:
    dockerfile = parse(
        'ARG REGISTRY=docker.io BASE="python"\nARG TAG\nARG EMPTY=\n'
        "FROM ${REGISTRY}/$BASE:${TAG:-3.11}\n"
        "ARG TAG\nARG LOCAL=x\nENV HOME_DIR=/home/$LOCAL LEGACY_FREE=1\nENV OLD some value\n"
    )
    assert dockerfile.global_args == {
        "REGISTRY": "docker.io", "BASE": "python", "TAG": None, "EMPTY": ""
    }
    base = dockerfile.stages[0].base
    assert dockerfile.resolve(base, {}) == "docker.io/python:3.11"
    assert dockerfile.resolve(base, {"TAG": "3.12"}) == "docker.io/python:3.12"
    assert dockerfile.resolve("python:$TAG", {}) is None
    assert dockerfile.resolve("python:${EMPTY:-3}", {}) == "python:3"
    assert dockerfile.resolve("python:${EMPTY-3}", {}) == "python:"
    assert dockerfile.resolve("x${REGISTRY:+-mirror}", {}) == "x-mirror"
    assert dockerfile.resolve("x${TAG:+-y}", {}) == "x"
    assert dockerfile.resolve("${UNDECLARED}", {}) is None
    assert dockerfile.resolve("${UNDECLARED}", {"UNDECLARED": "u"}) == "u"
    assert dockerfile.resolve("${BASE#py}", {}) is None
    assert dockerfile.resolve("cost \\$5", {}) == "cost $5"
    assert dockerfile.resolve("$HOME_DIR $OLD", {}, stage=0) == "/home/x some value"
    assert dockerfile.resolve("$TAG", {"TAG": "t"}, stage=0) == "t"
    assert dockerfile.resolve("$REGISTRY", {}, stage=0) is None  # not re-declared in the stage


def test_recursive_args_do_not_loop() -> None:
    dockerfile = parse("ARG A=$B\nARG B=$A\nFROM x:$A\n")
    assert dockerfile.resolve("x:$A", {}) is None


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# just a comment\n", "FROM", "RUN <<EOF\nno end", "RUN \\", "\\\n\\\n",
     "FROM a AS\n", "ARG =x\nFROM $\n", "RUN <<\n", "\x00\x0b\u2028RUN x\r\n"],
)
def test_odd_input_does_not_crash(text: str) -> None:
    dockerfile = parse(text)
    for instruction in dockerfile.instructions:
        instruction.shell_commands()
        instruction.line_of("x")
    for stage in dockerfile.stages:
        dockerfile.resolve(stage.base, {})


def _empty_continuation_line(text: str) -> bool:
    lines = text.splitlines()
    return any(a.rstrip().endswith("\\") and not b.strip() for a, b in itertools.pairwise(lines))


def _dockerfile_parse_comparable() -> list[Path]:
    """Fixtures within dockerfile-parse's reach: no heredocs, and no empty line inside a
    continuation (it ends the instruction there; BuildKit joins across it, with a warning)."""
    return [
        p
        for p in sorted(FIXTURES.glob("*.Dockerfile"))
        if "<<" not in p.read_text() and not _empty_continuation_line(p.read_text())
    ]


def test_empty_line_inside_continuation_is_joined_like_buildkit() -> None:
    dockerfile = parse("FROM a:1\nRUN apt-get install -y \\\n\n    curl\nUSER 1\n")
    run = dockerfile.instructions[1]
    assert (run.start_line, run.end_line, run.line_of("curl")) == (2, 4, 4)


@pytest.mark.parametrize("path", _dockerfile_parse_comparable(), ids=lambda p: p.name)
def test_agrees_with_dockerfile_parse(path: Path) -> None:
    """Where dockerfile-parse is right (no heredocs), both see the same instructions."""
    text = path.read_text()
    theirs = [
        (i["instruction"], i["startline"] + 1, i["endline"] + 1)
        for i in DockerfileParser(fileobj=io.BytesIO(text.encode())).structure
        if i["instruction"] != "COMMENT"
    ]
    dockerfile = parse_dockerfile(path, text)
    ours = [(i.keyword, i.start_line, i.end_line) for i in dockerfile.instructions]
    assert ours == theirs
