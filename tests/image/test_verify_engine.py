"""``reprobuild verify`` on the REAL engine: a deterministic build verifies (exit 0), a
``RUN date > /stamp`` build does not and the report names /stamp (exit 1), changed inputs
are refused (exit 2), a registry image is checked against its record, and the scan finds
the day count ``useradd`` writes into /etc/shadow."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner, Result

from reprobuild.cli import app
from reprobuild.engine import connect
from reprobuild.image.scan import scan_for_build_time

if TYPE_CHECKING:
    import docker

    from tests.harness.types import BaseImage, RegistryInfo, Services

pytestmark = pytest.mark.engine

SDE = "1700000000"
STABLE = """\
FROM {base}
COPY app.txt /srv/app.txt
RUN python3 -c "print('stable')" > /srv/out.txt
"""
STAMPED = """\
FROM {base}
COPY app.txt /srv/app.txt
RUN useradd --no-create-home builder && date > /stamp
"""

runner = CliRunner()


@dataclass(frozen=True)
class Project:
    root: Path
    env: dict[str, str]
    stable_record: Path
    stamped_record: Path
    pushed: str  # REF@sha256:… of the stable image in registry_open
    base_layers: int


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(root),
         *args],
        check=True, capture_output=True,
    )


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    return runner.invoke(app, args, env=env)


def _record(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def project(
    services: Services,
    engine: docker.DockerClient,
    base_image: BaseImage,
    registry_open: RegistryInfo,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Project]:
    tmp = tmp_path_factory.mktemp("verify")
    root = tmp / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "verify-test"\n')
    (root / "app.txt").write_text("application\n")
    (root / "Dockerfile.stable").write_text(STABLE.format(base=base_image.from_ref))
    (root / "Dockerfile.stamped").write_text(STAMPED.format(base=base_image.from_ref))
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "init")
    docker_config = tmp / "docker-config"
    docker_config.mkdir()
    (docker_config / "config.json").write_text("{}")
    env = {"DOCKER_HOST": services.docker_host, "DOCKER_CONFIG": str(docker_config), "CI": "1",
           "GITHUB_OUTPUT": ""}
    reference = f"{registry_open.host}/verify/stable:v1"
    records = {}
    for name, extra in (("stable", ["--push", reference]), ("stamped", [])):
        records[name] = tmp / f"{name}.json"
        result = _invoke(
            ["image", str(root), "-f", str(root / f"Dockerfile.{name}"), "--no-cache", "-q",
             "--record", str(records[name]), "--source-date-epoch", SDE, *extra],
            env,
        )
        assert result.exit_code == 0, result.output
    stable = _record(records["stable"])
    layers = engine.api.inspect_image(base_image.image_id)["RootFS"]["Layers"]
    yield Project(
        root, env, records["stable"], records["stamped"],
        f"{registry_open.host}/verify/stable@{stable['push']['digest']}", len(layers),
    )
    for path in records.values():
        with contextlib.suppress(Exception):
            engine.images.remove(str(_record(path)["image_id"]), force=True)


def test_a_deterministic_build_verifies(project: Project) -> None:
    result = _invoke(["verify", str(project.stable_record), "-q"], project.env)
    assert result.exit_code == 0, result.output
    assert "reproduced" in result.output
    assert _record(project.stable_record)["image_id"] in result.output


def test_a_date_stamp_is_named_with_its_layer_and_aspect(project: Project) -> None:
    result = _invoke(
        ["verify", str(project.stamped_record), "-q", "--format", "json"], project.env
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["result"] == "mismatch"
    assert report["expected_image_id"] == _record(project.stamped_record)["image_id"]
    (layer,) = report["diff"]["layers"]
    assert layer["index"] == project.base_layers + 1  # COPY, then the RUN layer
    assert [(p["path"], p["aspects"]) for p in layer["paths"]] == [("stamp", ["content"])]
    assert report["diff"]["config"] == []
    kinds = {(f["path"], f["kind"]) for f in report["build_time_findings"]}
    assert ("/stamp", "date") in kinds
    assert ("/etc/shadow", "day-count") in kinds


def test_changed_inputs_are_refused(project: Project, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(project.root, copy)
    dockerfile = copy / "Dockerfile.stable"
    dockerfile.write_text(dockerfile.read_text() + "# one more line\n")
    result = _invoke(
        ["verify", str(project.stable_record), "--project", str(copy), "-q"], project.env
    )
    assert result.exit_code == 2, result.output
    assert "Dockerfile.stable: sha256 differs" in result.output
    _git(copy, "commit", "-q", "-am", "change")
    result = _invoke(
        ["verify", str(project.stable_record), "--project", str(copy), "-q"], project.env
    )
    assert result.exit_code == 2, result.output
    assert "HEAD is" in result.output and "git checkout" in result.output


def test_a_registry_image_is_checked_against_its_record(project: Project) -> None:
    result = _invoke(
        ["verify", str(project.stable_record), "--image", project.pushed, "-q",
         "--format", "json"],
        project.env,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["source"] == "registry" and report["result"] == "match"


def test_another_registry_image_does_not_match_the_record(project: Project) -> None:
    result = _invoke(
        ["verify", str(project.stamped_record), "--image", project.pushed, "-q"], project.env
    )
    assert result.exit_code == 1, result.output
    assert "MISMATCH: the registry image" in result.output  # the text report
    assert "/stamp: removed" in result.output  # the stable image has no RUN date layer


def test_scan_finds_the_useradd_day_count(
    project: Project, services: Services, tmp_path: Path
) -> None:
    image_id = str(_record(project.stamped_record)["image_id"])
    saved = tmp_path / "stamped.tar"
    with connect(services.docker_host) as repro_engine, repro_engine.save(image_id) as stream, \
            saved.open("wb") as out:
        shutil.copyfileobj(stream, out)
    findings = scan_for_build_time(saved, datetime.now(UTC), skip_layers=project.base_layers)
    shadow = [f for f in findings if f.path == "/etc/shadow"]
    assert [f.kind for f in shadow] == ["day-count"]
    assert f":{int(datetime.now(UTC).timestamp()) // 86400}:" in shadow[0].excerpt
