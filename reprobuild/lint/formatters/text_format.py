"""``path:line:col: CODE [severity] message`` — one finding a line, then a summary."""

from __future__ import annotations

from collections.abc import Sequence

from reprobuild.lint.engine import LintResult
from reprobuild.lint.rule import Finding, Rule

__all__ = ["format_location", "render"]


def format_location(finding: Finding) -> str:
    where = finding.path.as_posix()
    if finding.line is not None:
        where += f":{finding.line}"
        if finding.column is not None:
            where += f":{finding.column}"
    return where


def render(result: LintResult, rules: Sequence[Rule]) -> str:
    lines = [
        f"{format_location(f)}: {f.code} [{f.severity.label}] {f.message}"
        for f in result.findings
    ]
    counts = result.counts()
    n = len(result.files)
    summary = (
        f"{n} file{'s' if n != 1 else ''} checked: {counts['error']} error(s), "
        f"{counts['warning']} warning(s), {counts['info']} info"
    )
    lines.append(summary)
    return "\n".join(lines) + "\n"
