"""## What it does
Flags a package whose only hashes are weak: MD5 or SHA-1 (for example a conda
`@EXPLICIT` line with only an `#md5` fragment, a conda-lock entry with only `md5`,
or a `#md5=` URL fragment in a requirements file). A package with at least one SHA-256,
SHA-384 or SHA-512 hash passes. Packages without any hash are RB101's business.

## Why is this bad?
MD5 and SHA-1 collisions can be manufactured: an attacker can prepare two files with the
same digest, get one of them reviewed or published, and swap in the other. A weak hash
therefore proves far less than it appears to about what gets installed.

## Example
```text
@EXPLICIT
https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1-h4ab18f5_1.conda#9653f1bf3766164d0e65fa723cabbc54
```

Use instead a lock that records SHA-256 (here `conda-lock.yml`):
```yaml
- name: zlib
  version: 1.3.1
  manager: conda
  platform: linux-64
  url: https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1-h4ab18f5_1.conda
  hash:
    md5: 9653f1bf3766164d0e65fa723cabbc54
    sha256: <digest>
```

## Fix
Regenerate the lock so that it records SHA-256: `conda-lock lock` writes `sha256` next
to `md5` for every conda package of `conda-lock.yml` (install from that file, not from
an explicit render that keeps only `#md5`), and `pip-compile --generate-hashes` writes
SHA-256 for pip packages.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import (
    describe,
    is_compiled_input,
    regenerate_hint,
    violation_at,
)
from reprobuild.models import Lock

__all__ = ["RULE", "check"]


def check(lock: Lock) -> Iterator[Violation]:
    if is_compiled_input(lock):
        return
    for package in lock.installed():
        hashes = set(package.hashes)
        for artifact in package.artifacts:
            hashes.update(artifact.hashes)
        if not hashes or any(h.is_strong for h in hashes):
            continue
        algorithms = "/".join(sorted({h.algorithm for h in hashes}))
        yield violation_at(
            package,
            f"{describe(package)} is verified only by {algorithms}, which can be forged by a "
            f"collision; regenerate the lock with sha256 hashes: {regenerate_hint(lock)}",
        )


RULE = Rule(
    code="RB108",
    name="weak-hash-only",
    severity=Severity.ERROR,
    summary="Package verified only by an MD5 or SHA-1 hash",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Regenerate the lock with sha256 hashes",
)
