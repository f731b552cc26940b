"""`reprobuild generate` resolves a missing pin through the real registry (the mirror
configured for docker.io), records it, and then works offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from reprobuild.cli import app
from tests.harness.types import BaseImage, Services

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generate"
runner = CliRunner()


def test_missing_pin_is_resolved_through_the_mirror(
    tmp_path: Path, services: Services, base_image: BaseImage
) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "pip", project)
    (project / "reprobuild.pins.json").unlink()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + f'registry-mirrors = {{ "docker.io" = "{services.mirror}" }}\n'
    )
    result = runner.invoke(app, ["generate", str(project)])
    assert result.exit_code == 0, result.output
    pins = json.loads((project / "reprobuild.pins.json").read_text())
    assert pins["images"]["python:3.11-slim-bookworm"]["digest"] == base_image.digest
    dockerfile = (project / "Dockerfile").read_text()
    assert f"FROM python:3.11-slim-bookworm@{base_image.digest} AS deps" in dockerfile
    # From now on the pin answers: --check and --offline need no registry.
    assert runner.invoke(app, ["generate", str(project), "--check"]).exit_code == 0
    assert runner.invoke(app, ["generate", str(project), "--offline"]).exit_code == 0


def test_unknown_tag_is_a_clear_error(tmp_path: Path, services: Services) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "pip", project)
    (project / "reprobuild.pins.json").unlink()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('python = "3.11"', 'python = "3.10"')
        + f'registry-mirrors = {{ "docker.io" = "{services.mirror}" }}\n'
    )
    result = runner.invoke(app, ["generate", str(project)])
    assert result.exit_code == 2
    assert "python:3.10-slim-bookworm" in result.output
    assert "Traceback" not in result.output
