"""Golden tests: whole generated Dockerfiles and requirements files, per lock format.

Digests come from each fixture's committed pin file, so the output is independent of
images built at test time. Set REPROBUILD_UPDATE_GOLDEN=1 to rewrite the expected files
(then review the diff).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.config import load_config
from reprobuild.generate.config import image_config_from
from reprobuild.generate.generator import generate
from reprobuild.generate.pins import PinFile
from reprobuild.lockfiles import read_lock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generate"
PROJECTS = ["pip", "uv", "pylock", "poetry"]
UPDATE = os.environ.get("REPROBUILD_UPDATE_GOLDEN") == "1"
runner = CliRunner()


def _generate(project_dir: Path) -> tuple[str, str]:
    project = load_config(start=project_dir)
    config = image_config_from(project)
    files = generate(config, read_lock(config.lockfile), PinFile.load(project_dir /
                                                                        config.pins_file))
    return files.dockerfile, files.requirements


@pytest.mark.parametrize("name", PROJECTS)
def test_golden(name: str) -> None:
    project_dir = FIXTURES / name
    dockerfile, requirements = _generate(project_dir)
    expected_dockerfile = project_dir / "expected.Dockerfile"
    expected_requirements = project_dir / "expected.requirements.lock.txt"
    if UPDATE:
        expected_dockerfile.write_text(dockerfile)
        expected_requirements.write_text(requirements)
    assert dockerfile == expected_dockerfile.read_text()
    assert requirements == expected_requirements.read_text()


@pytest.mark.parametrize("name", PROJECTS)
def test_generated_dockerfile_lints_clean(name: str, tmp_path: Path) -> None:
    """reprobuild lint finds no error; hadolint finds no error either."""
    project_dir = FIXTURES / name
    dockerfile, requirements = _generate(project_dir)
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / ".reprobuild").mkdir()
    (tmp_path / ".reprobuild" / "requirements.lock.txt").write_text(requirements)
    result = runner.invoke(app, ["lint", "--format", "json", str(tmp_path / "Dockerfile"),
                                 str(tmp_path / ".reprobuild" / "requirements.lock.txt")])
    assert result.exit_code == 0, result.output
    hadolint = Path(sys.executable).with_name("hadolint")
    proc = subprocess.run(
        [str(hadolint), "--failure-threshold", "error", "-"],
        input=dockerfile, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_fork_keeps_only_the_targets_version() -> None:
    _, requirements = _generate(FIXTURES / "uv")
    assert "numpy==2.4.6" in requirements  # python 3.11's fork
    assert "numpy==2.2.6" not in requirements and "numpy==2.5.5" not in requirements
    assert "colorama" not in requirements  # sys_platform == 'win32'
    assert "iniconfig" not in requirements  # dev group


def test_generate_check_detects_drift(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "pip", project)
    first = runner.invoke(app, ["generate", str(project), "--offline"])
    assert first.exit_code == 0, first.output
    assert runner.invoke(app, ["generate", str(project), "--check"]).exit_code == 0
    lock = project / "requirements.txt"
    lock.write_text(lock.read_text().replace("attrs==26.1.0", "attrs==26.0.0"))
    drift = runner.invoke(app, ["generate", str(project), "--check"])
    assert drift.exit_code == 1
    assert "-attrs==26.1.0" in drift.output and "+attrs==26.0.0" in drift.output


def test_missing_pin_offline_is_a_clear_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "pip", project)
    (project / "reprobuild.pins.json").unlink()
    result = runner.invoke(app, ["generate", str(project), "--offline"])
    assert result.exit_code == 2
    assert "python:3.11-slim-bookworm has no pin" in result.output
