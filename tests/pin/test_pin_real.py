"""`reprobuild pin` end to end against the harness's real registries."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from registry_helpers import MultiArchIndex, client_for, push_image
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.registry.reference import parse_reference

if TYPE_CHECKING:
    from tests.harness.types import BaseImage, RegistryInfo, Services

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def empty_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials unless a test writes some (never the user's ~/.docker)."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line in a fresh interpreter (exit codes, stderr, no traceback)."""
    return subprocess.run(
        [sys.executable, "-m", "reprobuild", "pin", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )


def test_pin_dockerfile_against_registry_open(
    tmp_path: Path, registry_open: RegistryInfo, multiarch_index: MultiArchIndex
) -> None:
    host = registry_open.host
    with client_for(registry_open) as client:
        tool = push_image(
            client, parse_reference(f"{host}/pin/tool"), arch="amd64", note="tool", tag="2.0"
        )
    source = (
        f"ARG BASE={host}/multiarch/demo:1.0\n"
        "FROM ${BASE} AS build\n"
        f"COPY --from={host}/pin/tool:2.0 /etc/reprobuild-test /tool  # a tool\n"
        "FROM scratch\n"
        "COPY --from=build / /\n"
        f"RUN --mount=type=bind,from={host}/pin/tool@{tool.digest},target=/t true\n"
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(source)
    result = run_cli("--check", str(dockerfile))
    assert result.returncode == 1, result.stderr
    assert "is not pinned by digest" in result.stdout
    assert dockerfile.read_text() == source

    result = run_cli(str(dockerfile))
    assert result.returncode == 0, result.stderr
    expected = source.replace(
        f"BASE={host}/multiarch/demo:1.0",
        f"BASE={host}/multiarch/demo:1.0@{multiarch_index.digest}",
    ).replace(f"--from={host}/pin/tool:2.0 ", f"--from={host}/pin/tool:2.0@{tool.digest} ")
    assert dockerfile.read_text() == expected

    result = run_cli("--check", "--format", "json", str(dockerfile))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [r["status"] for r in report["results"]] == ["up-to-date", "up-to-date", "digest-only"]


def test_drift_check_and_update(tmp_path: Path, registry_open: RegistryInfo) -> None:
    repo = parse_reference(f"{registry_open.host}/pin/drift")
    with client_for(registry_open) as client:
        first = push_image(client, repo, arch="amd64", note="first", tag="1")
        dockerfile = tmp_path / "Dockerfile"
        dockerfile.write_text(f"FROM {registry_open.host}/pin/drift:1\nRUN true\n")
        runner = CliRunner()
        assert runner.invoke(app, ["pin", str(dockerfile)]).exit_code == 0
        assert f"pin/drift:1@{first.digest}" in dockerfile.read_text()
        second = push_image(client, repo, arch="amd64", note="second", tag="1")
    assert second.digest != first.digest

    result = runner.invoke(app, ["pin", "--check", "--format", "json", str(dockerfile)])
    assert result.exit_code == 1, result.output
    (drift,) = json.loads(result.output)["results"]
    assert (drift["status"], drift["pinned_digest"], drift["current_digest"]) == (
        "drift",
        first.digest,
        second.digest,
    )
    assert drift["canonical"] == f"{registry_open.host}/pin/drift:1@{first.digest}"
    text_report = runner.invoke(app, ["pin", "--check", str(dockerfile)])
    assert text_report.exit_code == 1
    assert f"pinned {first.digest}" in text_report.output and second.digest in text_report.output

    assert runner.invoke(app, ["pin", str(dockerfile)]).exit_code == 0  # plain pin: no move
    assert first.digest in dockerfile.read_text()
    result = runner.invoke(app, ["pin", "--update", str(dockerfile)])
    assert result.exit_code == 0, result.output
    assert dockerfile.read_text() == (
        f"FROM {registry_open.host}/pin/drift:1@{second.digest}\nRUN true\n"
    )
    assert runner.invoke(app, ["pin", "--check", str(dockerfile)]).exit_code == 0


def test_pin_through_the_mirror_config(tmp_path: Path, multiarch_index: MultiArchIndex) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.reprobuild]\nregistry-mirrors = {{ "docker.io" = "{multiarch_index.mirror}" }}\n'
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM reprobuild-test/multiarch:1.0\nFROM docker.io/reprobuild-test/multiarch:1.0\n"
    )
    result = run_cli(str(dockerfile))
    assert result.returncode == 0, result.stderr
    assert dockerfile.read_text() == (
        f"FROM reprobuild-test/multiarch:1.0@{multiarch_index.digest}\n"
        f"FROM docker.io/reprobuild-test/multiarch:1.0@{multiarch_index.digest}\n"
    )
    missing = tmp_path / "Dockerfile.missing"
    missing.write_text("FROM reprobuild-test/multiarch:0.0\n")
    result = run_cli(str(missing))
    assert result.returncode == 2
    assert (
        "MANIFEST_UNKNOWN" in result.stderr
        and f"via mirror {multiarch_index.mirror}" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_pin_base_image_through_the_mirror(
    tmp_path: Path, base_image: BaseImage, services: Services
) -> None:
    mirror = services.mirror
    (tmp_path / "reprobuild.toml").write_text(
        f'registry-mirrors = {{ "docker.io" = "{mirror}" }}\n'
    )
    name = base_image.repository.removeprefix("library/")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {name}:{base_image.tag}\n")
    result = CliRunner().invoke(app, ["pin", str(dockerfile)])
    assert result.exit_code == 0, result.output
    assert dockerfile.read_text() == f"FROM {base_image.from_ref}\n"


def test_wrong_basic_credentials_exit_2(
    tmp_path: Path, registry_basic: RegistryInfo, empty_docker_config: Path
) -> None:
    with client_for(registry_basic) as client:
        push_image(
            client,
            parse_reference(f"{registry_basic.host}/pin/private"),
            arch="amd64",
            note="private",
            tag="1",
        )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {registry_basic.host}/pin/private:1\n")
    wrong = base64.b64encode(b"alice:definitely-wrong-9").decode()
    (empty_docker_config / "config.json").write_text(
        json.dumps({"auths": {registry_basic.host: {"auth": wrong}}})
    )
    result = run_cli(str(dockerfile))
    assert result.returncode == 2
    assert "UNAUTHORIZED" in result.stderr and "docker login" in result.stderr
    for secret in ("definitely-wrong-9", wrong, registry_basic.password or "?"):
        assert secret not in result.stderr + result.stdout
    right = base64.b64encode(f"alice:{registry_basic.password}".encode()).decode()
    (empty_docker_config / "config.json").write_text(
        json.dumps({"auths": {registry_basic.host: {"auth": right}}})
    )
    result = run_cli(str(dockerfile))
    assert result.returncode == 0, result.stderr
    assert "@sha256:" in dockerfile.read_text()


def test_wrong_token_credentials_exit_2(
    tmp_path: Path, registry_token: RegistryInfo, empty_docker_config: Path
) -> None:
    (tmp_path / "reprobuild.toml").write_text(
        f'registry-ca-files = {{ "{registry_token.host}" = "{registry_token.ca_file}" }}\n'
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {registry_token.host}/pin/token:1\n")
    (empty_docker_config / "config.json").write_text(
        json.dumps(
            {"auths": {registry_token.host: {"username": "bob", "password": "bad-token-pw"}}}
        )
    )
    result = run_cli(str(dockerfile))
    assert result.returncode == 2
    assert "UNAUTHORIZED" in result.stderr and "bad-token-pw" not in result.stderr


def test_registry_down_exit_2(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM 127.0.0.1:{port}/gone/image:1\n")
    result = run_cli(str(dockerfile))
    assert result.returncode == 2
    assert f"cannot reach 127.0.0.1:{port}" in result.stderr
    assert f"{dockerfile}:1" in result.stderr and "Traceback" not in result.stderr
