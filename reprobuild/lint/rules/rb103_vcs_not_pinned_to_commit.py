"""## What it does
Flags a version-control requirement whose revision is not a full commit id: no revision
at all, a branch or tag name, or an abbreviated commit id.

A full commit id is 40 hex digits for git (SHA-1) and Mercurial, or 64 for git
repositories using SHA-256. Subversion revision numbers (`@1234`) count as pinned.

## Why is this bad?
A branch moves and a tag can be deleted and re-created: the same lock then checks out
different code on the next build. With no revision, pip checks out the default branch's
tip. An abbreviated commit id can become ambiguous as the repository grows, and some
hosts refuse to fetch one.

## Example
```text
mylib @ git+https://github.com/org/mylib@main
```

Use instead:
```text
mylib @ git+https://github.com/org/mylib@3f1e2d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e
```

## Fix
Replace the branch or tag with the full commit id it points to
(`git ls-remote https://github.com/org/mylib main`), or re-lock with a tool that
records the resolved commit (`uv lock` and `poetry lock` do).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import is_compiled_input, redact, violation_at
from reprobuild.models import Lock, LockedPackage, SourceKind

__all__ = ["RULE", "check", "is_full_commit"]

_FULL_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-f]{4,}$", re.IGNORECASE)
_SVN_REVISION = re.compile(r"^r?\d+$")


def is_full_commit(vcs: str | None, ref: str) -> bool:
    if (vcs or "").lower() == "svn":
        return bool(_SVN_REVISION.match(ref))  # revision numbers are never reused
    return bool(_FULL_COMMIT.match(ref))


def _problem(package: LockedPackage) -> str | None:
    ref = (package.vcs_ref or "").strip()
    if not ref:
        return (
            "names no revision, so the default branch's current tip is checked out; "
            "append @<full commit id>"
        )
    if is_full_commit(package.vcs, ref):
        return None
    if _HEX.match(ref):
        return (
            f"names the abbreviated commit {ref!r}, which can become ambiguous; "
            "use the full commit id"
        )
    return f"names {ref!r}, a branch or tag that can move; pin the full commit id it points to"


def check(lock: Lock) -> Iterator[Violation]:
    if is_compiled_input(lock):
        return
    for package in lock.installed():
        if package.source is not SourceKind.VCS:
            continue
        problem = _problem(package)
        if problem is None:
            continue
        where = f" ({redact(package.url)})" if package.url else ""
        yield violation_at(package, f"{package.name}{where} {problem}")


RULE = Rule(
    code="RB103",
    name="vcs-not-pinned-to-commit",
    severity=Severity.ERROR,
    summary="VCS requirement not pinned to a full commit id",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Pin the VCS reference to its full commit id",
)
