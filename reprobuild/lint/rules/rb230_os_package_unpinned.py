"""RB230 os-package-unpinned: OS packages installed without a version.

## What it does

Flags each package named without a version in

* ``apt-get install`` / ``apt install`` / ``aptitude install`` (pin as ``pkg=version``),
* ``apk add`` (``pkg=version``),
* ``dnf`` / ``yum`` / ``microdnf`` / ``tdnf install`` (``pkg-version[-release]``),

in ``RUN`` shell form, ``["apt-get", "install", …]`` JSON form and shell heredocs. Each
unpinned package is its own finding, on the physical line where it is named. Local
package files (``./x.deb``, ``*.rpm``), URLs, ``@groups`` and ``$VARIABLES`` that cannot
be resolved are skipped; ``$VARIABLES`` with an ``ARG``/``ENV`` value are expanded.
``pkg/release`` (a target release) is not a version.

## Why is this bad?

The package index decides what you get: today's ``curl`` and next month's are different
builds with different bugs. The image is not reproducible, and a rebuild for an
unrelated change silently upgrades system libraries (a CUDA or glibc bump can break
wheels built against the old ones).

## Example

```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends curl git
```

## Fix

Pin the versions you tested (``apt-cache policy curl`` / ``apk policy`` / ``dnf list``
inside the base image show them):

```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends \\
      curl=7.88.1-10+deb12u7 \\
      git=1:2.39.5-0+deb12u1
```

Pinned versions only stay installable on a pinned base image (RB201), and Debian
removes superseded versions from its mirrors: pair this with ``snapshot.debian.org``
or a package mirror for long-lived images.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext, Instruction, SimpleCommand
from reprobuild.dockerfile.findings import violation
from reprobuild.dockerfile.shell import program
from reprobuild.lint.rule import Rule, Severity, Target, Violation

_APT = frozenset({"apt-get", "apt", "aptitude"})
_RPM = frozenset({"dnf", "yum", "microdnf", "tdnf", "dnf5"})
_APT_WITH_VALUE = frozenset({"-o", "--option", "-t", "--target-release", "-c", "--config-file"})
_APK_WITH_VALUE = frozenset(
    {"-t", "--virtual", "-X", "--repository", "-p", "--root", "--arch", "--cache-dir",
     "--keys-dir", "--repositories-file"}
)
_RPM_WITH_VALUE = frozenset(
    {"-x", "--exclude", "--installroot", "--releasever", "--repo", "--repoid",
     "--enablerepo", "--disablerepo", "--setopt", "-c", "--config", "--forcearch",
     "--downloaddir", "--destdir"}
)
_RPM_VERSION = re.compile(r"-\d")  # name-1.2.3[-release]: a dash followed by a digit


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for instruction in dockerfile.instructions_of("RUN"):
        for command in instruction.shell_commands():
            found = _packages(command)
            if found is None:
                continue
            manager, packages = found
            for written in packages:
                yield from _check_package(
                    dockerfile, ctx, instruction, command, manager, written
                )


def _check_package(
    dockerfile: Dockerfile,
    ctx: DockerfileContext,
    instruction: Instruction,
    command: SimpleCommand,
    manager: str,
    written: str,
) -> Iterator[Violation]:
    resolved = dockerfile.resolve(written, ctx.build_args, stage=instruction.stage)
    if resolved is None:
        return
    for package in resolved.split():
        if _skip(package) or _pinned(manager, package):
            continue
        how = "pkg-version" if manager in _RPM else "pkg=version"
        yield violation(
            instruction,
            f"{manager} installs {package} without a version; pin it ({how})",
            line=instruction.line_in(command, written),
        )


def _packages(command: SimpleCommand) -> tuple[str, list[str]] | None:
    """(manager, package words) when the command installs OS packages."""
    argv = command.argv
    manager = program(argv)
    if manager in _APT:
        return _after(argv, manager, {"install"}, _APT_WITH_VALUE)
    if manager == "apk":
        return _after(argv, manager, {"add"}, _APK_WITH_VALUE)
    if manager in _RPM:
        return _after(argv, manager, {"install", "in"}, _RPM_WITH_VALUE)
    return None


def _after(
    argv: tuple[str, ...], manager: str, verbs: set[str], with_value: frozenset[str]
) -> tuple[str, list[str]] | None:
    positionals: list[str] = []
    skip = False
    for word in argv[1:]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in with_value
        else:
            positionals.append(word)
    if not positionals or positionals[0] not in verbs:
        return None
    return manager, positionals[1:]


def _skip(package: str) -> bool:
    return (
        package.startswith(("/", ".", "~", "@", "$"))
        or package.endswith((".deb", ".rpm", ".apk"))
        or "*" in package
        or "://" in package
    )


def _pinned(manager: str, package: str) -> bool:
    if manager in _RPM:
        return bool(_RPM_VERSION.search(package))
    return "=" in package


RULE = Rule(
    code="RB230",
    name="os-package-unpinned",
    severity=Severity.WARNING,
    summary="apt/apk/dnf/yum package installed without a version",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
)
