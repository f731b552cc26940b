"""The bundled examples stay what the README says: the clean ones lint clean and their
committed Dockerfiles are what `reprobuild generate` produces now (offline); the
insecure one is caught."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reprobuild.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GENERATED = ["pip-requirements", "uv-project", "pylock", "poetry-project", "pipeline"]
runner = CliRunner()


@pytest.mark.parametrize("name", GENERATED)
def test_committed_dockerfile_is_up_to_date(name: str) -> None:
    result = runner.invoke(app, ["generate", str(EXAMPLES / name), "--check", "--offline"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", GENERATED)
def test_example_lints_clean(name: str) -> None:
    result = runner.invoke(app, ["lint", str(EXAMPLES / name)])
    assert result.exit_code == 0, result.output


def test_insecure_example_is_caught() -> None:
    result = runner.invoke(app, ["lint", "--format", "json", str(EXAMPLES / "insecure")])
    assert result.exit_code == 1
    for code in ("RB101", "RB102", "RB103", "RB106", "RB201", "RB210", "RB220", "RB221",
                 "RB240"):
        assert f'"code": "{code}"' in result.output, code
