"""`reprobuild pin` against an in-memory registry: text edits, modes, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakeregistry import FakeRegistry, digest_of
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.errors import LockParseError
from reprobuild.pin import PinMode, PinStatus, pin_files
from reprobuild.registry.client import RegistryClient
from reprobuild.registry.errors import ManifestUnknownError
from reprobuild.registry.mirrors import RegistrySettings

MIRROR = "registry.test"


@pytest.fixture
def fake() -> FakeRegistry:
    registry = FakeRegistry()
    for repo, tag in [
        ("library/python", "3.11-slim"),
        ("library/python", "latest"),
        ("library/busybox", "1.36"),
        ("astral-sh/uv", "0.4.20"),
        ("library/debian", "bookworm"),
    ]:
        registry.add_image(repo, tag, f"{repo}:{tag}".encode())
    return registry


@pytest.fixture
def client(fake: FakeRegistry) -> RegistryClient:
    settings = RegistrySettings(mirrors={"docker.io": (MIRROR,)})
    return RegistryClient(settings, transport=fake.transport(), sleep=lambda s: None)


def digest(fake: FakeRegistry, repo: str, tag: str) -> str:
    return digest_of(fake.manifests[(repo, tag)][0])


def write(tmp_path: Path, text: str, name: str = "Dockerfile") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_pins_every_site_and_preserves_formatting(
    tmp_path: Path, fake: FakeRegistry, client: RegistryClient
) -> None:
    py = digest(fake, "library/python", "3.11-slim")
    bb = digest(fake, "library/busybox", "1.36")
    uv = digest(fake, "astral-sh/uv", "0.4.20")
    deb = digest(fake, "library/debian", "bookworm")
    latest = digest(fake, "library/python", "latest")
    source = (
        "# syntax=docker/dockerfile:1\n"
        'ARG BASE="debian:bookworm"\n'
        "# the builder\n"
        "FROM   --platform=$BUILDPLATFORM python:3.11-slim   AS Builder  # trailing\n"
        "RUN --mount=type=bind,from=busybox:1.36,source=/bin,target=/bb \\\n"
        "    --mount=type=cache,target=/root/.cache \\\n"
        "    /bb/true\n"
        "COPY --from=astral-sh/uv:0.4.20 /uv /bin/uv\n"
        "COPY --from=builder /app /app\n"
        "COPY --from=0 /x /x\n"
        "FROM ${BASE} AS runtime\n"
        "FROM builder\n"
        "FROM scratch\n"
        "FROM python\n"
    )
    path = write(tmp_path, source)
    report = pin_files([path], client)
    expected = (
        source.replace('"debian:bookworm"', f'"debian:bookworm@{deb}"')
        .replace("python:3.11-slim ", f"python:3.11-slim@{py} ")
        .replace("from=busybox:1.36,", f"from=busybox:1.36@{bb},")
        .replace("--from=astral-sh/uv:0.4.20 ", f"--from=astral-sh/uv:0.4.20@{uv} ")
        .replace("FROM python\n", f"FROM python:latest@{latest}\n")
    )
    assert path.read_text() == expected
    assert report.changed_files == (path,)
    assert {r.status for r in report.results} == {PinStatus.PINNED}
    assert [(r.site.kind, r.site.line) for r in report.results] == [
        ("ARG", 2),
        ("FROM", 4),
        ("RUN --mount from", 5),
        ("COPY --from", 8),
        ("FROM", 14),
    ]
    assert report.exit_code == 0
    # pinning again changes nothing and does not even look pinned tags up
    fake.counts.clear()
    again = pin_files([path], client)
    assert again.changed_files == () and path.read_text() == expected
    assert not fake.counts
    assert pin_files([path], client, mode=PinMode.CHECK).exit_code == 0


def test_crlf_and_mode_preserved(
    tmp_path: Path, fake: FakeRegistry, client: RegistryClient
) -> None:
    path = write(tmp_path, "FROM python:3.11-slim\r\nRUN true\r\n")
    path.chmod(0o600)
    pin_files([path], client)
    py = digest(fake, "library/python", "3.11-slim")
    assert path.read_bytes() == f"FROM python:3.11-slim@{py}\r\nRUN true\r\n".encode()
    assert path.stat().st_mode & 0o777 == 0o600


def test_digest_only_stays_digest_only(tmp_path: Path, client: RegistryClient) -> None:
    text = "FROM python@sha256:" + "1" * 64 + "\n"
    path = write(tmp_path, text)
    report = pin_files([path], client, mode=PinMode.UPDATE)
    assert path.read_text() == text
    assert [r.status for r in report.results] == [PinStatus.DIGEST_ONLY]


def test_check_reports_unpinned_and_drift_then_update_fixes(
    tmp_path: Path, fake: FakeRegistry, client: RegistryClient
) -> None:
    old = "sha256:" + "0" * 64
    text = f"FROM python:3.11-slim@{old}\nCOPY --from=busybox:1.36 /bin/sh /sh\n"
    path = write(tmp_path, text)
    report = pin_files([path], client, mode=PinMode.CHECK)
    assert path.read_text() == text
    assert report.exit_code == 1
    drift, unpinned = report.results
    now = digest(fake, "library/python", "3.11-slim")
    assert (drift.status, drift.pinned_digest, drift.current_digest) == (PinStatus.DRIFT, old, now)
    assert f"pinned {old}" in drift.describe() and now in drift.describe()
    assert unpinned.status is PinStatus.UNPINNED
    # plain pin leaves the existing (drifted) pin alone
    pin_files([path], client)
    assert f"python:3.11-slim@{old}" in path.read_text()
    report = pin_files([path], client, mode=PinMode.UPDATE)
    assert f"python:3.11-slim@{now}" in path.read_text()
    assert [r.status for r in report.results] == [PinStatus.UPDATED, PinStatus.UP_TO_DATE]
    assert pin_files([path], client, mode=PinMode.CHECK).exit_code == 0


def test_variable_built_reference_is_unpinnable(tmp_path: Path, client: RegistryClient) -> None:
    path = write(tmp_path, "ARG PY=3.11-slim\nFROM python:${PY}\n")
    report = pin_files([path], client)
    assert [r.status for r in report.results] == [PinStatus.UNPINNABLE]
    assert "built from variables" in report.results[0].describe()
    assert pin_files([path], client, mode=PinMode.CHECK).exit_code == 1
    # an ARG without default, or overridden by a build arg, is not edited either
    path = write(tmp_path, "ARG BASE\nFROM $BASE\n", "Dockerfile.2")
    assert [r.status for r in pin_files([path], client).results] == [PinStatus.UNPINNABLE]
    path = write(tmp_path, "ARG BASE=python:3.11-slim\nFROM $BASE\n", "Dockerfile.3")
    report = pin_files([path], client, build_args={"BASE": "debian:bookworm"})
    assert [r.status for r in report.results] == [PinStatus.UNPINNABLE]


def test_unknown_tag_names_file_and_line(tmp_path: Path, client: RegistryClient) -> None:
    path = write(tmp_path, "FROM debian:bookworm\n\nFROM python:9.9\n")
    with pytest.raises(ManifestUnknownError) as info:
        pin_files([path], client)
    assert f"{path}:3: python:9.9" in str(info.value)
    assert "MANIFEST_UNKNOWN" in str(info.value)
    assert path.read_text() == "FROM debian:bookworm\n\nFROM python:9.9\n"  # nothing written


def test_invalid_reference(tmp_path: Path, client: RegistryClient) -> None:
    path = write(tmp_path, "FROM Python:3\n")
    with pytest.raises(LockParseError, match=r"Dockerfile:1: invalid image reference"):
        pin_files([path], client)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, fake: FakeRegistry) -> CliRunner:
    original = RegistryClient.from_project

    def with_fake(config: Any, **kwargs: Any) -> RegistryClient:
        kwargs.setdefault("transport", fake.transport())
        return original(config, **kwargs)

    monkeypatch.setattr(RegistryClient, "from_project", staticmethod(with_fake))
    return CliRunner()


def test_cli_modes_and_exit_codes(tmp_path: Path, fake: FakeRegistry, cli: CliRunner) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.reprobuild]\nregistry-mirrors = {{ "docker.io" = "{MIRROR}" }}\n'
    )
    path = write(tmp_path, "FROM python:3.11-slim\n")
    result = cli.invoke(app, ["pin", "--check", str(path)])
    assert result.exit_code == 1, result.output
    assert "is not pinned by digest" in result.output
    result = cli.invoke(app, ["pin", str(path)])
    assert result.exit_code == 0, result.output
    assert "pinned python:3.11-slim -> python:3.11-slim@sha256:" in result.output
    result = cli.invoke(app, ["pin", "--check", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["problems"] == 0 and data["results"][0]["status"] == "up-to-date"
    assert data["results"][0]["canonical"].startswith("docker.io/library/python:3.11-slim@")
    bad = write(tmp_path, "FROM python:nope\n", "Dockerfile.bad")
    result = cli.invoke(app, ["pin", str(bad)])
    assert result.exit_code == 2
    assert "MANIFEST_UNKNOWN" in result.output and "Traceback" not in result.output
    result = cli.invoke(app, ["pin", "--check", "--update", str(path)])
    assert result.exit_code == 2
