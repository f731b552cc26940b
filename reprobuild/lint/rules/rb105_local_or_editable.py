"""## What it does
Flags an editable install (`-e ./lib`, uv `editable`, poetry `develop = true`) or a
requirement installed from a local path (a directory or a file).

The project a uv, poetry or pylock lock is made for (its own `editable = "."` or
`virtual = "."` entry) is not flagged: it is the code being packaged, not a dependency.
Constraint-only entries are skipped.

## Why is this bad?
The lock says *where* the code is, not *what* it is: whatever sits at that path on the
machine doing the build gets installed, and nobody else can rebuild the image from the
lock alone. An editable install also links to the source tree instead of copying it,
which a container image build does not keep.

## Example
```text
-e ./libs/featurizer
../wheels/private_pkg-1.0-py3-none-any.whl
```

## Fix
Publish the package to an index (a private one is fine) and lock it by version and hash;
or copy the directory into the image explicitly in the Dockerfile and install it there,
non-editable. If the local package is intentional, ignore the rule for that package
(`per-package-ignores`).
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import is_compiled_input, is_project_root, violation_at
from reprobuild.models import Lock, SourceKind

__all__ = ["RULE", "check"]

_KIND = {
    SourceKind.EDITABLE: "an editable install",
    SourceKind.DIRECTORY: "a local directory",
    SourceKind.PATH: "a local path",
}


def check(lock: Lock) -> Iterator[Violation]:
    if is_compiled_input(lock):
        return
    for package in lock.installed():
        kind = _KIND.get(package.source)
        if kind is None or is_project_root(package, lock):
            continue
        where = f" ({package.url})" if package.url else ""
        yield violation_at(
            package,
            f"{package.name} is {kind}{where}: what gets installed depends on the files at "
            "build time, not on the lock; publish it to an index and lock it by version and "
            "hash, or ignore RB105 for this package if that is intended",
        )


RULE = Rule(
    code="RB105",
    name="local-or-editable",
    severity=Severity.WARNING,
    summary="Editable or local-path requirement",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Lock the package from an index by version and hash",
)
