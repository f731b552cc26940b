"""``reprobuild lint`` on lockfiles through the CLI: exit codes and ``--format json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reprobuild.cli import app

SHA = "a" * 64


Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(tmp_path)  # no [tool.reprobuild] from the repository applies

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["lint", *args])

    return invoke


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_clean_lock_exits_0(tmp_path: Path, run: Run) -> None:
    lock = _write(tmp_path / "requirements.txt", f"six==1.16.0 --hash=sha256:{SHA}\n")
    result = run(str(lock))
    assert result.exit_code == 0, result.output


def test_findings_exit_1_and_name_the_rule(tmp_path: Path, run: Run) -> None:
    lock = _write(tmp_path / "requirements.txt", "numpy==1.26.4\n")
    result = run(str(lock))
    assert result.exit_code == 1, result.output
    assert "RB101" in result.output and "numpy" in result.output


def test_unreadable_lock_exits_2(tmp_path: Path, run: Run) -> None:
    lock = _write(tmp_path / "poetry.lock", "This lock file is broken!\n")
    result = run(str(lock))
    assert result.exit_code == 2, result.output


def test_missing_file_exits_2(tmp_path: Path, run: Run) -> None:
    assert run(str(tmp_path / "nope.txt")).exit_code == 2


def test_warnings_pass_unless_fail_on_warning(tmp_path: Path, run: Run) -> None:
    lock = _write(tmp_path / "requirements.txt", "-e ./local\n")
    assert run(str(lock)).exit_code == 0
    assert run("--fail-on", "warning", str(lock)).exit_code == 1


def test_select_and_ignore(tmp_path: Path, run: Run) -> None:
    lock = _write(tmp_path / "requirements.txt", "numpy>=1\n")
    assert run("--select", "RB101", str(lock)).exit_code == 1
    assert run("--ignore", "RB101,RB102", str(lock)).exit_code == 0


def test_json_format(tmp_path: Path, run: Run) -> None:
    lock = _write(
        tmp_path / "requirements.txt",
        "--trusted-host pypi.internal\n"
        f"six==1.16.0 --hash=sha256:{SHA}\n"
        "pandas>=2 --hash=sha256:" + SHA + "\n",
    )
    result = run("--format", "json", str(lock))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    findings = [(f["code"], f["severity"], f["line"], f["package"]) for f in document["findings"]]
    assert findings == [
        ("RB106", "error", 1, None),
        ("RB102", "error", 3, "pandas"),
    ]
    assert document["summary"]["error"] == 2
    assert all(f["path"] == lock.as_posix() for f in document["findings"])


def test_json_format_reports_unreadable_files(tmp_path: Path, run: Run) -> None:
    lock = _write(tmp_path / "poetry.lock", "This lock file is broken!\n")
    result = run("--format", "json", str(lock))
    assert result.exit_code == 2
    [error] = json.loads(result.stdout)["errors"]
    assert error["path"] == lock.as_posix()


def test_config_in_pyproject_applies(tmp_path: Path, run: Run) -> None:
    _write(
        tmp_path / "pyproject.toml",
        '[tool.reprobuild.lint]\nper-package-ignores = { numpy = ["RB101"] }\n',
    )
    lock = _write(tmp_path / "requirements.txt", "numpy==1.26.4\n")
    assert run(str(lock)).exit_code == 0
