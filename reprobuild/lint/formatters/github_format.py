"""GitHub Actions workflow commands: ``::error file=…,line=…,title=…::message``."""

from __future__ import annotations

from collections.abc import Sequence

from reprobuild.lint.engine import LintResult
from reprobuild.lint.rule import Rule, Severity

__all__ = ["render"]

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    # The escaping the Actions runner expects in workflow commands.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(result: LintResult, rules: Sequence[Rule]) -> str:
    lines = []
    for f in result.findings:
        props = [f"file={_escape_property(f.path.as_posix())}"]
        if f.line is not None:
            props.append(f"line={f.line}")
            if f.column is not None:
                props.append(f"col={f.column}")
        props.append(f"title={_escape_property(f'{f.code} {f.name}')}")
        lines.append(f"::{_LEVEL[f.severity]} {','.join(props)}::{_escape_data(f.message)}")
    for e in result.errors:
        lines.append(f"::error::{_escape_data(str(e))}")
    return "".join(line + "\n" for line in lines)
