"""## What it does
Flags a registry requirement that is not pinned to one exact version (`==1.2.3` or
`===1.2.3`): a range such as `>=1.2`, a wildcard such as `==1.*`, or no version at
all.

Only packages that come from an index are judged (URL, VCS and local sources carry no
version; RB103, RB104 and RB105 judge them). Constraint-only entries from `-c` files
are skipped: a constraint is allowed to be a range. So is a `requirements.in` whose
compiled `requirements.txt` sits beside it: it is the lock's input, loose by design
(the lockfile rules judge the `.txt`; RB107 checks that the two agree).

## Why is this bad?
An unpinned requirement resolves to whatever the newest matching release is on the day
of the build. Two builds of the same lock then install different code, and a new release
(or a malicious upload) enters the image without anyone changing a file.

## Example
```text
torch>=2.1
requests
```

Use instead:
```text
torch==2.3.1
requests==2.32.3
```

## Fix
Compile the loose requirements into a lock (`pip-compile requirements.in` or
`uv pip compile requirements.in -o requirements.txt`) and install from the output.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import is_compiled_input, violation_at
from reprobuild.models import Lock, SourceKind

__all__ = ["RULE", "check"]


def check(lock: Lock) -> Iterator[Violation]:
    if is_compiled_input(lock):
        return
    for package in lock.installed():
        if package.source is not SourceKind.REGISTRY or package.is_pinned:
            continue
        what = (
            f"allows any version matching {package.specifier!r}"
            if package.specifier
            else "has no version at all"
        )
        yield violation_at(
            package,
            f"{package.name} is not pinned to one version ({what}); a rebuild may install a "
            "different release: pin it with == (compile the inputs with pip-compile or "
            "uv pip compile)",
        )


RULE = Rule(
    code="RB102",
    name="unpinned-requirement",
    severity=Severity.ERROR,
    summary="Requirement not pinned to one exact version",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Pin the requirement with == (compile the lock)",
)
