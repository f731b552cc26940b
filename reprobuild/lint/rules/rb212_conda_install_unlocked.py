"""## What it does
Flags ``conda``/``mamba``/``micromamba`` commands in ``RUN`` instructions that solve an
environment at build time instead of installing an explicit lock:

* ``install``/``create``/``update`` with package specs (``conda install numpy=1.26``,
  ``micromamba create -n env python=3.11``), and ``update --all``;
* ``install``/``create`` with ``--file FILE``/``-f FILE`` where FILE is not a lock;
* ``conda env create``/``conda env update`` with an ``environment.yml`` (or with no
  ``-f``, which reads ``environment.yml`` from the working directory).

A file counts as a lock when:

* it is in the build context (followed through ``COPY``/``ADD`` and bind mounts) and
  contains an ``@EXPLICIT`` line (``conda-lock render --kind explicit``,
  ``conda list --explicit --md5``); or it is a ``conda-lock.yml`` and the command is
  ``micromamba``/``mamba`` (``conda`` itself cannot read that format);
* it is not in the build context and its name says lock: ``*.lock``, ``*explicit*``,
  ``conda-lock.yml`` (the last for ``micromamba``/``mamba`` only).

``conda-lock install`` is not flagged.

## Why is this bad?
A spec list or an ``environment.yml`` is an input to the solver, not a lock: each build
solves again against the channels as they are that day, so two builds of the same
Dockerfile get different packages, and nothing checks the archives' checksums. An
explicit lock lists exact package URLs with their MD5/SHA-256, and conda installs those
files without solving.

## Example
```dockerfile
COPY environment.yml .
RUN conda env create -f environment.yml
```

Use instead:
```dockerfile
COPY conda-linux-64.lock .
RUN conda create --name app --file conda-linux-64.lock
```

## Fix
Lock on the host with ``conda-lock lock -f environment.yml -p linux-64``, then render
an explicit lock (``conda-lock render --kind explicit -p linux-64``) and install it with
``conda create --file``, or install ``conda-lock.yml`` with ``micromamba create -f`` or
``conda-lock install``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

from reprobuild.dockerfile import Dockerfile, DockerfileContext
from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._installs import Call, calls, conda_options

__all__ = ["RULE", "check"]

_SOLVING = frozenset({"install", "create", "update", "upgrade"})
_ENV_SOLVING = frozenset({"create", "update"})
_EXPLICIT = re.compile(r"^@EXPLICIT\s*$", re.MULTILINE)
_CONDA_LOCK_YAML = re.compile(r"(^|[.-])conda-lock\.ya?ml$")
_READS_CONDA_LOCK = frozenset({"micromamba", "mamba"})


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for call in calls(dockerfile, ctx):
        if call.tool not in ("conda", "mamba", "micromamba"):
            continue
        sub = call.subcommand
        env_command = len(sub) == 2 and sub[0] == "env" and sub[1] in _ENV_SOLVING
        if not env_command and (len(sub) != 1 or sub[0] not in _SOLVING):
            continue
        yield from _judge(call, env_command)


def _at(call: Call, needle: str | None, message: str) -> Violation:
    return Violation(
        message=message,
        line=call.line_of(needle),
        anchor_line=call.instruction.start_line,
    )


def _judge(call: Call, env_command: bool) -> Iterator[Violation]:
    opts = conda_options(call)
    files = opts.values_of("-f", "--file")
    for spec in () if env_command else opts.operands:
        yield _at(call, spec, f"`{call.display} {spec}` asks the solver for `{spec}` at "
                  "build time, so each build may get different packages; install an "
                  "explicit lock made with conda-lock instead")
    if env_command and not files:
        yield _at(call, call.subcommand[-1], f"`{call.display}` without --file solves "
                  "environment.yml from the working directory at build time; install an "
                  "explicit lock made with conda-lock instead")
    if call.subcommand[0] in ("update", "upgrade") and opts.has("--all"):
        yield _at(call, "--all", f"`{call.display} --all` updates every package to "
                  "whatever the channels serve at build time; install an explicit lock")
    for text in files:
        problem = _file_problem(call, text)
        if problem:
            yield _at(call, text, f"`{call.display} --file {text}`: {problem}")


def _file_problem(call: Call, text: str) -> str | None:
    """Why the file is not an explicit lock this command can install, or None."""
    path = call.context_file(text)
    reads_yaml = call.tool in _READS_CONDA_LOCK
    if path is not None:
        head = _head(path)
        if _EXPLICIT.search(head):
            return None
        if _looks_like_conda_lock(head):
            if reads_yaml:
                return None
            return ("conda cannot install a conda-lock.yml; use `conda-lock install`, "
                    "micromamba, or render an explicit lock (conda-lock render --kind "
                    "explicit)")
        return (f"{path.name} is not an explicit lock (no @EXPLICIT line), so the "
                "solver runs at build time; install a lock made with conda-lock instead")
    name = posixpath.basename(text).lower()
    if name.endswith(".lock") or "explicit" in name:
        return None
    if _CONDA_LOCK_YAML.search(name):
        if reads_yaml:
            return None
        return ("conda cannot install a conda-lock.yml; use `conda-lock install`, "
                "micromamba, or render an explicit lock (conda-lock render --kind explicit)")
    return (f"{posixpath.basename(text)} looks like an environment or spec file, not an "
            "explicit lock (and reprobuild cannot find it in the build context to check "
            "for @EXPLICIT); install a lock made with conda-lock instead")


def _head(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _looks_like_conda_lock(head: str) -> bool:
    return bool(re.search(r"^package:\s*$", head, re.MULTILINE)) and bool(
        re.search(r"^metadata:\s*$", head, re.MULTILINE)
    )


RULE = Rule(
    code="RB212",
    name="conda-install-unlocked",
    severity=Severity.ERROR,
    summary="conda/mamba install that solves at build time instead of using a lock",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Install an explicit lock made with conda-lock",
)
