"""## What it does
Flags a requirement installed from a direct URL (`name @ https://…/x.whl`) that
carries no hash.

## Why is this bad?
The server behind a URL can serve different bytes tomorrow: a re-uploaded release
asset, a compromised host, or a redirect elsewhere. Unlike an index, nothing pins what
that file should contain, so the lock does not describe what gets installed. pip's hash
checking (`#sha256=…` fragment or `--hash`) is the only thing tying the URL to one
file.

## Example
```text
torch @ https://download.pytorch.org/whl/cu121/torch-2.3.1%2Bcu121-cp311-cp311-linux_x86_64.whl
```

Use instead:
```text
torch @ https://download.pytorch.org/whl/cu121/torch-2.3.1%2Bcu121-cp311-cp311-linux_x86_64.whl \\
    --hash=sha256:<digest of the file>
```

## Fix
Download the file once, compute its digest (`pip hash FILE` or `sha256sum FILE`) and
add it as `--hash=sha256:…` (or a `#sha256=…` URL fragment); or regenerate with
`pip-compile --generate-hashes`, which hashes URL requirements too.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import is_compiled_input, redact, violation_at
from reprobuild.models import Lock, SourceKind

__all__ = ["RULE", "check"]


def check(lock: Lock) -> Iterator[Violation]:
    if is_compiled_input(lock):
        return
    for package in lock.installed():
        if package.source is not SourceKind.URL:
            continue
        if package.hashes or any(a.hashes for a in package.artifacts):
            continue
        url = redact(package.url) if package.url else "a direct URL"
        yield violation_at(
            package,
            f"{package.name} is installed from {url} without a hash, so whatever the server "
            "serves is installed; add --hash=sha256:<digest> (pip hash FILE) or regenerate "
            "with pip-compile --generate-hashes",
        )


RULE = Rule(
    code="RB104",
    name="url-without-hash",
    severity=Severity.ERROR,
    summary="Direct URL requirement without a hash",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Add the file's sha256 hash",
)
