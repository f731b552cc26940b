"""The stable JSON schema of ``reprobuild lint --format json`` (documented in docs/lint.md).

```json
{"schema": "reprobuild.lint/1", "tool": {"name": "reprobuild", "version": "…"},
 "files": ["…"], "findings": [{"code", "name", "severity", "message", "path", "line",
 "column", "package", "fix"}], "errors": [{"path", "message"}],
 "summary": {"error": 0, "warning": 0, "info": 0}}
```
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from reprobuild import __version__
from reprobuild.errors import LockParseError
from reprobuild.lint.engine import LintResult
from reprobuild.lint.rule import Rule

__all__ = ["SCHEMA", "render"]

SCHEMA = "reprobuild.lint/1"


def render(result: LintResult, rules: Sequence[Rule]) -> str:
    document = {
        "schema": SCHEMA,
        "tool": {"name": "reprobuild", "version": __version__},
        "files": [p.as_posix() for p in result.files],
        "findings": [f.to_dict() for f in result.findings],
        "errors": [
            {
                "path": e.path.as_posix() if isinstance(e, LockParseError) else None,
                "message": str(e),
            }
            for e in result.errors
        ],
        "skipped": [{"path": p.as_posix(), "reason": r} for p, r in result.skipped],
        "summary": result.counts(),
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
