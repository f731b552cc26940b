"""The CLI surface: version, entry points, rules/explain, usage errors exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from reprobuild import __version__
from reprobuild.cli import app
from reprobuild.lint.rules import all_rules

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"reprobuild {__version__}"


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reprobuild", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"reprobuild {__version__}"


def test_rules_lists_every_rule_once() -> None:
    result = runner.invoke(app, ["rules", "--format", "json"])
    assert result.exit_code == 0
    codes = [r["code"] for r in json.loads(result.output)]
    assert codes == [r.code for r in all_rules()]
    assert len(set(codes)) == len(codes)


def test_every_rule_is_documented_with_the_fixed_headings() -> None:
    for rule in all_rules():
        for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
            assert heading in rule.doc, f"{rule.code} lacks {heading!r}"
        assert rule.summary and rule.name and rule.code.startswith("RB")


def test_explain_prints_the_documentation() -> None:
    result = runner.invoke(app, ["explain", "rb101"])
    assert result.exit_code == 0
    assert result.output.startswith("# RB101 ")
    assert "## Why is this bad?" in result.output


def test_explain_unknown_code_is_a_usage_error() -> None:
    result = runner.invoke(app, ["explain", "RB000"])
    assert result.exit_code == 2
    assert "unknown rule 'RB000'" in result.output


def test_lint_bad_format_and_type_exit_2(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("")
    assert runner.invoke(app, ["lint", "--format", "xml", str(req)]).exit_code == 2
    assert runner.invoke(app, ["lint", "--type", "pipfile", str(req)]).exit_code == 2
    assert runner.invoke(app, ["lint", "--select", "RB000", str(req)]).exit_code == 2
    assert runner.invoke(app, ["lint", "--fail-on", "fatal", str(req)]).exit_code == 2


def test_lint_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["lint", str(tmp_path / "requirements.txt")])
    assert result.exit_code == 2
    assert "cannot read" in result.output
    assert "Traceback" not in result.output


def test_lint_unrecognised_file_exits_2(tmp_path: Path) -> None:
    weights = tmp_path / "weights.lock"
    weights.write_text('{"version": 1, "files": []}')
    result = runner.invoke(app, ["lint", str(weights)])
    assert result.exit_code == 2
    assert "not a lockfile reprobuild recognises" in result.output


def test_walked_unrecognised_file_is_skipped_with_a_notice(tmp_path: Path) -> None:
    (tmp_path / "env.lock").write_text('{"json": true}')
    result = runner.invoke(app, ["lint", str(tmp_path)])
    assert result.exit_code == 0
    assert "skipped" in result.output


def test_bad_config_key_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.reprobuild.lint]\nignroe = ["RB101"]\n')
    req = tmp_path / "requirements.txt"
    req.write_text("")
    result = runner.invoke(app, ["lint", str(req)])
    assert result.exit_code == 2
    assert "unknown key(s) ignroe" in result.output


def test_rule_codes_are_known_without_importing_rules() -> None:
    from reprobuild.lint.rules import KNOWN_CODES

    assert {r.code for r in all_rules()} == KNOWN_CODES


def test_linting_a_lockfile_does_not_load_the_dockerfile_parser(tmp_path: Path) -> None:
    """Start-up cost: pre-commit runs `reprobuild lint` on lockfiles on every commit."""
    req = tmp_path / "requirements.txt"
    req.write_text("attrs==26.1.0 --hash=sha256:" + "a" * 64 + "\n")
    code = (
        "import sys; from reprobuild.cli import main; sys.argv = ['reprobuild', 'lint', "
        f"{str(req)!r}]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('reprobuild.dockerfile._parse', 'httpx', 'docker', 'yaml', "
        "'jinja2', 'pydantic') if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
