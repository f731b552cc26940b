"""`reprobuild lint --fix` pins RB201/RB204 findings with the pin machinery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakeregistry import FakeRegistry, digest_of
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.registry.client import RegistryClient

MIRROR = "registry.test"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    registry = FakeRegistry()
    registry.add_image("library/python", "3.11-slim", b"py")
    registry.add_image("library/busybox", "1.36", b"bb")
    original = RegistryClient.from_project

    def with_fake(config: Any, **kwargs: Any) -> RegistryClient:
        kwargs.setdefault("transport", registry.transport())
        return original(config, **kwargs)

    monkeypatch.setattr(RegistryClient, "from_project", staticmethod(with_fake))
    return registry


def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.reprobuild]\nregistry-mirrors = {{ "docker.io" = "{MIRROR}" }}\n'
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11-slim AS base\n"
        "COPY --from=busybox:1.36 /bin/busybox /bin/busybox\n"
        "FROM base\n"
    )
    return dockerfile


def test_lint_without_fix_stays_offline(tmp_path: Path, fake: FakeRegistry) -> None:
    dockerfile = project(tmp_path)
    before = dockerfile.read_text()
    result = CliRunner().invoke(app, ["lint", "--select", "RB201,RB204", str(dockerfile)])
    assert "RB201" in result.output and "RB204" in result.output
    assert dockerfile.read_text() == before
    assert not fake.counts  # lint never touches the network unless --fix


def test_lint_fix_pins_and_reports_what_is_left(tmp_path: Path, fake: FakeRegistry) -> None:
    dockerfile = project(tmp_path)
    result = CliRunner().invoke(app, ["lint", "--fix", "--select", "RB201,RB204", str(dockerfile)])
    assert result.exit_code == 0, result.output
    py = digest_of(fake.manifests[("library/python", "3.11-slim")][0])
    bb = digest_of(fake.manifests[("library/busybox", "1.36")][0])
    assert dockerfile.read_text() == (
        f"FROM python:3.11-slim@{py} AS base\n"
        f"COPY --from=busybox:1.36@{bb} /bin/busybox /bin/busybox\n"
        "FROM base\n"
    )
    assert "RB201" not in result.stdout and "RB204" not in result.stdout


def test_lint_fix_registry_error_exits_2(tmp_path: Path, fake: FakeRegistry) -> None:
    dockerfile = project(tmp_path)
    dockerfile.write_text("FROM python:0.0-missing\n")
    result = CliRunner().invoke(app, ["lint", "--fix", "--select", "RB201", str(dockerfile)])
    assert result.exit_code == 2
    assert "MANIFEST_UNKNOWN" in result.output
