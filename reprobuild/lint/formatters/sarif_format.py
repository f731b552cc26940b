"""SARIF 2.1.0: one run, every rule's metadata and help text, one result per finding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reprobuild import __version__
from reprobuild.errors import LockParseError
from reprobuild.lint.engine import LintResult
from reprobuild.lint.rule import Rule, Severity

__all__ = ["render"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(path: Path) -> str:
    # SARIF wants URI references; relative paths stay relative (resolved against the repo).
    return path.as_posix() if not path.is_absolute() else path.as_uri()


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"fix-availability": rule.fix.value, "tags": [rule.target.value]},
    }


def render(result: LintResult, rules: Sequence[Rule]) -> str:
    index = {rule.code: i for i, rule in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for f in result.findings:
        region: dict[str, Any] = {}
        if f.line is not None:
            region["startLine"] = f.line
            if f.column is not None:
                region["startColumn"] = f.column
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.path)}}
        if region:
            location["region"] = region
        entry: dict[str, Any] = {
            "ruleId": f.code,
            "level": _LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [{"physicalLocation": location}],
        }
        if f.code in index:
            entry["ruleIndex"] = index[f.code]
        results.append(entry)
    notifications = [
        {
            "level": "error",
            "message": {"text": str(e)},
            **(
                {"locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.path)}}}]}
                if isinstance(e, LockParseError)
                else {}
            ),
        }
        for e in result.errors
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "reprobuild",
                "version": __version__,
                "rules": [_rule_descriptor(rule) for rule in rules],
            }
        },
        "results": results,
        "invocations": [
            {
                "executionSuccessful": not result.errors,
                "toolExecutionNotifications": notifications,
            }
        ],
    }
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2) + "\n"
