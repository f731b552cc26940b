"""``reprobuild rules`` and ``reprobuild explain CODE``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from reprobuild.cli.options import FormatOption, cli_errors
from reprobuild.errors import UsageError

__all__ = ["explain", "rules"]


@cli_errors
def rules(format: FormatOption = "text") -> None:
    """List every lint rule: code, default severity, fix availability, summary."""
    from reprobuild.lint.rules import all_rules

    if format == "json":
        items = [
            {
                "code": r.code,
                "name": r.name,
                "severity": r.severity.label,
                "target": r.target.value,
                "fix": r.fix.value,
                "summary": r.summary,
            }
            for r in all_rules()
        ]
        print(json.dumps(items, indent=2))
        return
    if format != "text":
        raise UsageError(f"--format must be text or json, not {format!r}")
    for r in all_rules():
        fix = " (fixable)" if r.fix.value != "none" else ""
        print(f"{r.code}  {r.name:<32} {r.severity.label:<8} {r.summary}{fix}")


@cli_errors
def explain(code: Annotated[str, typer.Argument(help="A rule code, e.g. RB101.")]) -> None:
    """Print a rule's documentation (what it does, why, example, fix)."""
    from reprobuild.lint.rules import get_rule

    rule = get_rule(code)
    if rule is None:
        raise UsageError(f"unknown rule {code!r}; `reprobuild rules` lists them")
    print(f"# {rule.code} {rule.name}\n")
    print(
        f"Severity: {rule.severity.label}. Applies to: {rule.target.value}s. "
        f"Fix: {rule.fix.value}.\n"
    )
    print(rule.doc.strip())
