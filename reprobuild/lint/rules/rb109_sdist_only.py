"""## What it does
Flags a package for which the lock names only source distributions (`.tar.gz`,
`.zip`) and no wheel. Only locks that list artifacts are judged (poetry, uv, pylock,
conda-lock pip entries); a requirements file's hashes do not say which files they
belong to, so it is never flagged. Constraint-only entries are skipped.

## Why is this bad?
An sdist is built on the machine that installs it: the result depends on the compiler,
system libraries and build-backend versions present at build time, so two images built
from the same lock can differ, and the build can break when the base image changes.
Native extensions (common in ML stacks) also make the image build slow.

## Example
```toml
[[package]]
name = "antlr4-python3-runtime"
version = "4.9.3"
files = [
    {file = "antlr4-python3-runtime-4.9.3.tar.gz", hash = "sha256:…"},
]
```

## Fix
Choose a version that publishes wheels for your platform and Python, or build the wheel
once, publish it to your private index and lock that. If building from source is
intended, ignore the rule for the package (`per-package-ignores`) and pin the build
dependencies.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import describe, is_compiled_input, violation_at
from reprobuild.models import ArtifactKind, Lock

__all__ = ["RULE", "check"]


def check(lock: Lock) -> Iterator[Violation]:
    if is_compiled_input(lock):
        return
    for package in lock.installed():
        if package.manager != "pip":
            continue
        kinds = {artifact.kind for artifact in package.artifacts}
        if ArtifactKind.SDIST not in kinds or ArtifactKind.WHEEL in kinds:
            continue
        sdists = [a.filename for a in package.artifacts if a.kind is ArtifactKind.SDIST]
        named = ", ".join(name for name in sdists if name) or "an sdist"
        yield violation_at(
            package,
            f"{describe(package)} has no wheel in the lock, only {named}: it is compiled "
            "during the image build, so the result depends on the build machine; pick a "
            "version with wheels, or build the wheel once and lock it",
        )


RULE = Rule(
    code="RB109",
    name="sdist-only",
    severity=Severity.WARNING,
    summary="Package locked only as a source distribution (no wheel)",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Lock a version that ships wheels",
)
