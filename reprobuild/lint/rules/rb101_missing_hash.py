"""## What it does
Flags an installed package that the lock gives no hash for.

Local directories and editable installs are skipped (there is no file to hash; RB105
reports them), as are VCS checkouts (RB103) and direct URLs (RB104), and the project a
uv or poetry lock is made for. Constraint-only entries (`-c` files) are not installed
and are skipped too, and so is a `requirements.in` with its compiled `requirements.txt`
beside it (the `.txt` is judged).

## Why is this bad?
Without a hash, the installer accepts whatever bytes the index serves for that name and
version: a re-uploaded, tampered or mirrored file installs silently, and two builds of
the same lock can contain different code. With hashes, `pip install --require-hashes`
(implied as soon as one requirement has a hash) refuses any file whose digest differs.

## Example
```text
numpy==1.26.4
```

Use instead:
```text
numpy==1.26.4 \\
    --hash=sha256:2e4f0b1a0b4b1a...
```

## Fix
Regenerate the lock with hashes: `pip-compile --generate-hashes` or
`uv pip compile --generate-hashes` for requirements files; `poetry lock`, `uv lock`
and `conda-lock` record hashes by default.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import (
    describe,
    is_compiled_input,
    is_local_archive,
    is_project_root,
    regenerate_hint,
    violation_at,
)
from reprobuild.models import Lock, LockedPackage, LockFormat, SourceKind

__all__ = ["RULE", "check"]

# Sources that other rules judge (or that have no file to hash).
_NOT_HASHABLE_HERE = frozenset(
    {SourceKind.DIRECTORY, SourceKind.EDITABLE, SourceKind.VCS, SourceKind.URL}
)


def _needs_hash(package: LockedPackage, lock: Lock) -> bool:
    if package.source in _NOT_HASHABLE_HERE or is_project_root(package, lock):
        return False
    # A PATH source may be a directory (no hash possible) or an archive (hashable).
    return package.source is not SourceKind.PATH or is_local_archive(package)


def _has_hash(package: LockedPackage) -> bool:
    return bool(package.hashes) or any(a.hashes for a in package.artifacts)


def check(lock: Lock) -> Iterator[Violation]:
    if is_compiled_input(lock):
        return
    installed = lock.installed()
    # pip turns on --require-hashes as soon as one requirement has a hash, and then
    # rejects the whole file over the unhashed ones: worth saying.
    mixed = lock.format is LockFormat.REQUIREMENTS and any(_has_hash(p) for p in installed)
    for package in installed:
        if _has_hash(package) or not _needs_hash(package, lock):
            continue
        consequence = (
            "pip will refuse to install the file, since other requirements have hashes"
            if mixed
            else "the installer cannot verify the file it downloads"
        )
        yield violation_at(
            package,
            f"{describe(package)} has no hash, so {consequence}; regenerate the lock with "
            f"hashes: {regenerate_hint(lock)}",
        )


RULE = Rule(
    code="RB101",
    name="missing-hash",
    severity=Severity.ERROR,
    summary="Package without a hash in the lock",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Regenerate the lock with hashes",
)
