"""RB222 git-clone-unpinned: ``git clone`` without checking out a commit id.

## What it does

Flags each ``git clone`` in a ``RUN`` that is not followed, in the same ``RUN``, by one
of ``git checkout <commit>``, ``git switch --detach <commit>``, ``git reset --hard
<commit>`` or ``git fetch … <commit>`` (any ``git -C dir``/``-c key=value`` options),
where ``<commit>`` is a full 40-hex (or 64-hex) commit id, written out or from an
``ARG``/``ENV`` with such a default. ``git clone --revision=<commit>`` (git 2.49) is
pinned too. ``--branch v1.2`` is not: tags and branches move.

## Why is this bad?

A clone takes whatever the default branch (or the named branch or tag) points to at
build time. Two builds of the same Dockerfile compile different code, and nothing in
the image says which.

## Example

```dockerfile
RUN git clone --depth 1 https://github.com/ggerganov/llama.cpp /opt/llama.cpp
```

## Fix

Check out the commit you tested, in the same ``RUN``:

```dockerfile
ARG LLAMA_CPP_COMMIT=356a192b7913b04c54574d18c28d46e6395428ab
RUN git clone https://github.com/ggerganov/llama.cpp /opt/llama.cpp \\
 && git -C /opt/llama.cpp checkout ${LLAMA_CPP_COMMIT}
```

For a shallow fetch of just that commit: ``git init && git remote add origin <url> &&
git fetch --depth 1 origin <commit> && git checkout FETCH_HEAD``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext, SimpleCommand
from reprobuild.dockerfile.findings import violation
from reprobuild.dockerfile.shell import program
from reprobuild.lint.rule import Rule, Severity, Target, Violation

_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_GLOBAL_WITH_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})
_CLONE_WITH_VALUE = frozenset(
    {"-b", "--branch", "--depth", "-o", "--origin", "-c", "--config", "--reference",
     "--separate-git-dir", "-j", "--jobs", "--filter", "--shallow-since", "--shallow-exclude",
     "-u", "--upload-pack", "--template", "--revision", "--bundle-uri", "--server-option"}
)


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for instruction in dockerfile.instructions_of("RUN"):
        is_commit = _commit_test(dockerfile, ctx.build_args, instruction.stage)
        unpinned: list[tuple[SimpleCommand, str]] = []
        for command in instruction.shell_commands():
            sub, args = _git_subcommand(command)
            if sub == "clone":
                revision = _option(args, "--revision")
                if revision is None or not is_commit(revision):
                    unpinned.append((command, _repository(args)))
            elif unpinned and _pins(sub, args, is_commit):
                unpinned.pop()
        for command, repository in unpinned:
            yield violation(
                instruction,
                f"git clone {repository} takes whatever the branch points to at build time; "
                "`git checkout <40-hex commit>` in the same RUN",
                line=instruction.line_in(command, repository or "clone"),
            )


def _commit_test(
    dockerfile: Dockerfile, build_args: dict[str, str], stage: int
) -> Callable[[str], bool]:
    """Whether a word is (or expands to) a full commit id, in the RUN's stage scope."""

    def is_commit(word: str) -> bool:
        resolved = dockerfile.resolve(word, build_args, stage=stage)
        return resolved is not None and bool(_COMMIT.fullmatch(resolved))

    return is_commit


def _git_subcommand(command: SimpleCommand) -> tuple[str, tuple[str, ...]]:
    argv = command.argv
    if program(argv) != "git":
        return "", ()
    position = 1
    while position < len(argv) and argv[position].startswith("-"):
        position += 2 if argv[position] in _GLOBAL_WITH_VALUE else 1
    if position >= len(argv):
        return "", ()
    return argv[position], argv[position + 1 :]


def _positionals(args: tuple[str, ...], with_value: frozenset[str]) -> list[str]:
    found: list[str] = []
    skip = False
    for word in args:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in with_value
        else:
            found.append(word)
    return found


def _repository(args: tuple[str, ...]) -> str:
    positionals = _positionals(args, _CLONE_WITH_VALUE)
    return positionals[0] if positionals else ""


def _option(args: tuple[str, ...], name: str) -> str | None:
    for position, word in enumerate(args):
        if word == name and position + 1 < len(args):
            return args[position + 1]
        if word.startswith(name + "="):
            return word.partition("=")[2]
    return None


def _pins(sub: str, args: tuple[str, ...], is_commit: Callable[[str], bool]) -> bool:
    if sub == "switch" and "--detach" not in args and "-d" not in args:
        return False
    if sub == "reset" and "--hard" not in args:
        return False
    if sub in ("checkout", "switch", "reset", "fetch"):
        return any(is_commit(w) for w in _positionals(args, frozenset({"--depth", "-b", "-B"})))
    return False


RULE = Rule(
    code="RB222",
    name="git-clone-unpinned",
    severity=Severity.ERROR,
    summary="git clone without checking out a full commit id in the same RUN",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
)
