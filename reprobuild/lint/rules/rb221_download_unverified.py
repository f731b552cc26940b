"""RB221 download-unverified: ``curl``/``wget`` output run or used without a checksum check.

## What it does

Looks at every ``RUN`` (shell form, ``["sh", "-c", …]`` and shell heredocs) and flags

* a download piped into a shell or interpreter (``curl … | sh``, ``wget -O- … | bash``,
  ``| python3``, ``| perl``, ``iwr … | iex``), or run through ``sh -c "$(curl …)"`` /
  ``bash <(curl …)``, whether or not something else is verified;
* a download written to a file (``curl -o``/``-O``/``> file``, ``wget``,
  ``Invoke-WebRequest -OutFile``) or piped into another program (``| tar x``,
  ``| gpg --dearmor``) when the same ``RUN`` verifies nothing: no ``sha256sum -c`` /
  ``sha512sum --check`` (``echo "<hash>  file" | sha256sum -c -``), ``shasum -a 256 -c``,
  ``gpg --verify``/``gpgv``, ``cosign verify-blob``, ``minisign -V`` or PowerShell
  ``Get-FileHash``. A ``sha256sum file`` whose output is compared (piped or inside
  ``$( )``) counts as a check.

``curl`` calls whose output is neither saved nor piped (health checks) and version
look-ups piped only into text tools (``| jq``, ``| grep``, ``| cut`` …) are not flagged.
The check must be in the *same* ``RUN``: a later layer cannot un-trust a file.

## Why is this bad?

The bytes come from the network at build time and nothing checks them: a re-published
release, a compromised CDN or a man-in-the-middle changes what goes into the image (or,
piped to a shell, what runs as root in the build) without any trace. It is also not
reproducible: "latest installer" scripts change under you.

## Example

```dockerfile
RUN curl -fsSL https://sh.rustup.rs | sh -s -- -y
RUN wget -q https://repo.anaconda.com/miniconda/Miniconda3-latest-Linux-x86_64.sh -O /tmp/mc.sh \\
 && bash /tmp/mc.sh -b -p /opt/conda
```

## Fix

Download a fixed version to a file, verify it against a checksum you recorded, then
use it:

```dockerfile
ARG MINICONDA_SHA256=…
RUN wget -q -O /tmp/mc.sh \\
      https://repo.anaconda.com/miniconda/Miniconda3-py311_24.7.1-0-Linux-x86_64.sh \\
 && echo "${MINICONDA_SHA256}  /tmp/mc.sh" | sha256sum -c - \\
 && bash /tmp/mc.sh -b -p /opt/conda
```

Or use ``ADD --checksum=sha256:…`` (RB220) for single files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext, Instruction, SimpleCommand
from reprobuild.dockerfile.findings import violation
from reprobuild.dockerfile.shell import SHELLS, program
from reprobuild.lint.rule import Rule, Severity, Target, Violation

_POWERSHELL_DOWNLOADERS = frozenset({"invoke-webrequest", "iwr", "invoke-restmethod", "irm"})
_INTERPRETERS = SHELLS | frozenset(
    {"pwsh", "powershell", "iex", "invoke-expression", "source", "."}
)
_INTERPRETER_PATTERN = re.compile(r"(?:python|pypy|perl|ruby|php|node|nodejs|lua|bun|deno)[\d.]*")
_TEXT_TOOLS = frozenset(
    {"jq", "yq", "grep", "egrep", "sed", "awk", "gawk", "cut", "head", "tail", "tr", "sort",
     "uniq", "wc", "xargs", "cat", "echo", "tee", "sha256sum", "sha512sum"}
)
_HASH_TOOLS = frozenset({"sha256sum", "sha384sum", "sha512sum", "b2sum", "b3sum"})
_RUN_DOWNLOAD = re.compile(r"(?:\$\(|<\(|`)\s*(?:\S*/)?(curl|wget)(?:\.exe)?\b", re.IGNORECASE)
_STDOUT_REDIRECT = re.compile(r"(?:1|&)?>>?(?!&)(.*)")
_URL = re.compile(r"^(?:https?|ftps?)://", re.IGNORECASE)


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for instruction in dockerfile.instructions_of("RUN"):
        commands = instruction.shell_commands()
        verified = any(_verifies(c, commands, i) for i, c in enumerate(commands))
        for index, command in enumerate(commands):
            yield from _check_command(instruction, commands, index, command, verified)


def _check_command(
    instruction: Instruction,
    commands: list[SimpleCommand],
    index: int,
    command: SimpleCommand,
    verified: bool,
) -> Iterator[Violation]:
    name = _name(command)
    if _is_interpreter(name) and (found := _RUN_DOWNLOAD.search(command.text)):
        yield violation(
            instruction,
            f"`{name}` runs the output of `{found.group(1)}` without verifying it; download "
            "to a file, check it with `sha256sum -c`, then run it",
            line=instruction.line_in(command, found.group(1)),
        )
        return
    destination = _destination(name, command)
    if destination is None:
        return
    pipeline = _pipeline_after(commands, index)
    consumers = [_name(c) for c in pipeline]
    interpreter = next((c for c in consumers if _is_interpreter(c)), None)
    line = instruction.line_in(command, name if name in command.text else None)
    if interpreter is not None:
        yield violation(
            instruction,
            f"`{name} … | {interpreter}` runs a download without verifying it; download to a "
            "file, check it with `sha256sum -c`, then run it",
            line=line,
        )
        return
    if verified or command.in_substitution:
        return
    if destination == "stdout" and (not consumers or all(c in _TEXT_TOOLS for c in consumers)):
        return  # printed, or a version look-up: nothing from it ends up in the image
    url = next((w for w in command.argv if _URL.match(w)), None)
    what = f"downloads {url}" if url else "downloads a file"
    yield violation(
        instruction,
        f"{program(command.argv)} {what} and this RUN never verifies it; check it with "
        '`echo "<sha256>  <file>" | sha256sum -c -` (or `gpg --verify`)',
        line=line,
    )


def _name(command: SimpleCommand) -> str:
    name = program(command.argv).lower()
    return name.removesuffix(".exe")


def _is_interpreter(name: str) -> bool:
    return name in _INTERPRETERS or bool(_INTERPRETER_PATTERN.fullmatch(name))


def _pipeline_after(commands: list[SimpleCommand], index: int) -> list[SimpleCommand]:
    pipeline: list[SimpleCommand] = []
    current = commands[index]
    for later in commands[index + 1 :]:
        if current.operator != "|" or later.in_substitution != commands[index].in_substitution:
            break
        pipeline.append(later)
        current = later
    return pipeline


def _destination(name: str, command: SimpleCommand) -> str | None:
    """"file", "stdout", or None when the command downloads nothing."""
    argv = command.argv
    if name == "curl":
        return _curl_destination(argv, _stdout_to_file(command.words))
    if name == "wget":
        return _wget_destination(argv)
    if name in _POWERSHELL_DOWNLOADERS:
        return "file" if any(w.lower().startswith("-outf") for w in argv) else "stdout"
    return None


def _stdout_to_file(words: tuple[str, ...]) -> bool:
    """``> file``, ``>>file``, ``&> file`` (not ``2>``, not ``> /dev/null``)."""
    for position, word in enumerate(words):
        match = _STDOUT_REDIRECT.match(word)
        if match:
            target = match.group(1) or (words[position + 1] if position + 1 < len(words) else "")
            if target and target != "/dev/null":
                return True
    return False


def _curl_destination(argv: tuple[str, ...], redirected: bool) -> str | None:
    if not any(not w.startswith("-") for w in argv[1:]):
        return None
    for word in argv[1:]:
        if word in ("--output", "--remote-name", "--remote-name-all", "--remote-header-name"):
            return "file"
        if word.startswith("--output="):
            return "file"
        if word.startswith("-") and not word.startswith("--") and ("o" in word or "O" in word):
            return "file"
    return "file" if redirected else "stdout"


def _wget_destination(argv: tuple[str, ...]) -> str | None:
    if "--spider" in argv or not any(not w.startswith("-") for w in argv[1:]):
        return None
    target: str | None = None
    for position, word in enumerate(argv[1:], start=1):
        following = argv[position + 1] if position + 1 < len(argv) else ""
        if word.startswith("--output-document"):
            target = word.partition("=")[2] or following
        elif word.startswith("-") and not word.startswith("--") and "O" in word:
            target = word.split("O", 1)[1] or following
    return "stdout" if target in ("-", "/dev/stdout") else "file"


def _verifies(command: SimpleCommand, commands: list[SimpleCommand], index: int) -> bool:
    name = _name(command)
    words = command.argv
    if name in _HASH_TOOLS or name == "shasum":
        checks = "-c" in words or "--check" in words or any(
            w.startswith("-") and not w.startswith("--") and "c" in w for w in words[1:]
        )
        if name == "shasum":
            algorithm = _option_value(words, "-a", "--algorithm")
            if algorithm not in ("256", "384", "512", "512224", "512256"):
                return False
        compared = command.operator == "|" or command.in_substitution
        return checks or compared
    if name in ("gpg", "gpg2"):
        return "--verify" in words
    if name in ("gpgv", "gpgv2", "get-filehash"):
        return True
    if name == "cosign":
        return any(w.startswith("verify") for w in words[1:])
    if name in ("minisign", "signify"):
        return "-V" in words
    if name == "openssl":
        return "dgst" in words and (command.operator == "|" or command.in_substitution)
    return "get-filehash" in command.text.lower()


def _option_value(words: tuple[str, ...], short: str, long: str) -> str | None:
    for position, word in enumerate(words):
        if word in (short, long) and position + 1 < len(words):
            return words[position + 1]
        if word.startswith(long + "="):
            return word.partition("=")[2]
        if word.startswith(short) and len(word) > len(short):
            return word[len(short) :]
    return None


RULE = Rule(
    code="RB221",
    name="download-unverified",
    severity=Severity.ERROR,
    summary="curl/wget output piped to a shell, or used with no checksum check in the RUN",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
)
