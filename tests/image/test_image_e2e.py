"""``reprobuild image`` on the REAL engine and registries (pip route): generate -> fetch
from the test blob cache (never PyPI) -> build with network none -> push -> record.

One build is shared by the module (session fixture); the failing-step and unauthorized
push tests reuse its project and the engine's cache, so the whole file stays short.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.lockfiles import read_lock
from reprobuild.models import LockFormat

if TYPE_CHECKING:
    import docker

    from tests.harness.types import BaseImage, RegistryInfo, Services

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
PIP_FIXTURE = ROOT / "tests" / "fixtures" / "generate" / "pip"
TEST_BLOBS = ROOT / ".cache" / "test-blobs"
SDE = "1700000000"
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
# The venv the image builds comes with pip (ensurepip); 3.11's ensurepip adds setuptools.
BOOTSTRAP = {"pip", "setuptools"}

runner = CliRunner()


@dataclass(frozen=True)
class Built:
    project: Path
    record: dict[str, object]
    digest_file: str
    reference: str
    output: str


def _env(services: Services, tmp: Path) -> dict[str, str]:
    docker_config = tmp / "docker-config"
    docker_config.mkdir(exist_ok=True)
    (docker_config / "config.json").write_text("{}")  # no stored credentials, no proxies
    return {
        "DOCKER_HOST": services.docker_host,
        "DOCKER_CONFIG": str(docker_config),
        "REPROBUILD_CACHE_DIR": str(TEST_BLOBS),
        "CI": "1",
        "GITHUB_OUTPUT": "",
    }


@pytest.fixture(scope="module")
def built(
    services: Services,
    engine: docker.DockerClient,
    base_image: BaseImage,
    registry_open: RegistryInfo,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Built]:
    if not TEST_BLOBS.is_dir():
        pytest.fail(f"{TEST_BLOBS} is missing: run scripts/prefetch_test_wheels.py", pytrace=False)
    tmp = tmp_path_factory.mktemp("image-e2e")
    project = tmp / "pip"
    shutil.copytree(PIP_FIXTURE, project)
    reference = f"{registry_open.host}/e2e/pip:latest"
    record = tmp / "record.json"
    digest_file = tmp / "digest"
    result = runner.invoke(
        app,
        ["image", str(project), "--base-image", base_image.from_ref, "--push", reference,
         "--record", str(record), "--digest-file", str(digest_file),
         "--source-date-epoch", SDE],
        env=_env(services, tmp),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(record.read_text())
    yield Built(project, data, digest_file.read_text().strip(), reference, result.output)
    for name in (data["image_id"], reference):
        with contextlib.suppress(Exception):  # already gone: nothing to clean
            engine.images.remove(str(name), force=True)


def test_record_identity_and_pushed_digest(built: Built, registry_open: RegistryInfo) -> None:
    record = built.record
    assert record["schema"] == "reprobuild.record/1"
    assert str(record["image_id"]).startswith("sha256:")
    push = record["push"]
    assert isinstance(push, dict)
    assert push["reference"] == built.reference
    assert built.digest_file == push["digest"]
    response = httpx.head(
        f"{registry_open.url}/v2/e2e/pip/manifests/latest", headers={"Accept": SCHEMA2}
    )
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == push["digest"]
    assert record["source_date_epoch"] == int(SDE)
    engine_facts = record["engine"]
    assert isinstance(engine_facts, dict) and engine_facts["api_version"]
    assert engine_facts["builder"] == "legacy"
    assert record["lint"]["counts"]["error"] == 0  # type: ignore[index]
    assert record["locks"][0]["format"] == "requirements"  # type: ignore[index]
    assert record["base_images"][-1]["digest"]  # type: ignore[index]


def test_installed_distributions_equal_the_lock(
    built: Built, engine: docker.DockerClient
) -> None:
    script = (
        "import importlib.metadata as m, json, attrs, packaging; "
        "print(json.dumps(sorted([d.metadata['Name'].lower(), d.version] "
        "for d in m.distributions())))"
    )
    output = engine.containers.run(
        str(built.record["image_id"]), ["python", "-c", script],
        remove=True, network_mode="none",
    )
    installed = {(name, version) for name, version in json.loads(output)}
    lock = read_lock(built.project / "requirements.txt", LockFormat.REQUIREMENTS)
    wanted = {(p.name.lower(), p.version) for p in lock.packages}
    assert {d for d in installed if d[0] not in BOOTSTRAP} == wanted


def test_failing_run_step_exits_1_naming_the_step(
    services: Services, base_image: BaseImage, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image.from_ref}\n"
        "RUN echo about to fail && exit 3\n"
    )
    result = runner.invoke(
        app,
        ["image", str(tmp_path), "-f", str(tmp_path / "Dockerfile"), "-q",
         "--source-date-epoch", SDE],
        env=_env(services, tmp_path),
    )
    assert result.exit_code == 1, result.output
    assert "Step 2/2 : RUN echo about to fail && exit 3" in result.output
    assert "about to fail" in result.output.split("Step 2/2", 1)[1]
    assert not (tmp_path / "reprobuild-record.json").exists()


def test_unauthorized_push_exits_2(
    built: Built, services: Services, base_image: BaseImage, registry_basic: RegistryInfo,
    engine: docker.DockerClient, tmp_path: Path,
) -> None:
    reference = f"{registry_basic.host}/e2e/pip:latest"
    result = runner.invoke(
        app,
        ["image", str(built.project), "--base-image", base_image.from_ref, "--push",
         reference, "-q", "--record", str(tmp_path / "r.json"), "--source-date-epoch", SDE],
        env=_env(services, tmp_path),
    )
    assert result.exit_code == 2, result.output
    assert f"push of {reference} was refused" in result.output
    assert registry_basic.password is not None and registry_basic.password not in result.output
    assert not (tmp_path / "r.json").exists()
    with contextlib.suppress(Exception):  # the tag made for the refused push
        engine.images.remove(reference)
