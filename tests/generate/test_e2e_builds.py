"""End to end on the real engine: generate -> fetch (test blob cache, never PyPI) ->
build with network none (`reprobuild image`), for the uv route (a forked resolution and
a compiled wheel) and for a config full of hostile values."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from reprobuild.cli import app

if TYPE_CHECKING:
    import docker

    from tests.harness.types import BaseImage, Services

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "generate"
TEST_BLOBS = ROOT / ".cache" / "test-blobs"
BOOTSTRAP = {"pip", "setuptools"}  # what `python -m venv` puts in every venv
runner = CliRunner()

HOSTILE = {
    "SUBSHELL": "$(touch /tmp/pwned-subshell)",
    "BACKTICKS": "`touch /tmp/pwned-backticks`",
    "QUOTES": "\"; touch /tmp/pwned-quotes; echo \"",
    "VARIABLE": "${PATH} $HOME \\$ \\\\",
    "SINGLE": "it's 'quoted'",
}


def _build(
    project: Path, services: Services, base_image: BaseImage, tmp: Path
) -> tuple[str, str]:
    config = tmp / "docker-config"
    config.mkdir(exist_ok=True)
    (config / "config.json").write_text("{}")
    record = tmp / "record.json"
    result = runner.invoke(
        app,
        ["image", str(project), "--base-image", base_image.from_ref, "--record", str(record),
         "--source-date-epoch", "1700000000", "-q"],
        env={"DOCKER_HOST": services.docker_host, "DOCKER_CONFIG": str(config),
             "REPROBUILD_CACHE_DIR": str(TEST_BLOBS), "CI": "1", "GITHUB_OUTPUT": ""},
    )
    assert result.exit_code == 0, result.output
    return str(json.loads(record.read_text())["image_id"]), result.output


@pytest.fixture(scope="module")
def uv_image(
    services: Services, engine: docker.DockerClient, base_image: BaseImage,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("uv-e2e")
    project = tmp / "uv"
    shutil.copytree(FIXTURES / "uv", project)
    image_id, _ = _build(project, services, base_image, tmp)
    yield image_id
    with contextlib.suppress(Exception):
        engine.images.remove(image_id, force=True)


def test_uv_fork_and_compiled_wheel_install_and_import(
    uv_image: str, engine: docker.DockerClient
) -> None:
    script = (
        "import importlib.metadata as m, json, numpy, attrs; "
        "assert int(numpy.arange(5).sum()) == 10; "
        "print(json.dumps(sorted([d.metadata['Name'].lower(), d.version] "
        "for d in m.distributions())))"
    )
    output = engine.containers.run(
        uv_image, ["python", "-c", script], entrypoint="", remove=True, network_mode="none"
    )
    installed = {(n, v) for n, v in json.loads(output) if n not in BOOTSTRAP}
    # python 3.11's fork of numpy; not the <3.11 or >=3.12 ones, no win32-only colorama,
    # no dev-group iniconfig, no tomli (python_version < '3.11').
    assert installed == {("attrs", "26.1.0"), ("numpy", "2.4.6")}


def test_hostile_config_values_execute_nothing_and_stay_verbatim(
    services: Services, engine: docker.DockerClient, base_image: BaseImage, tmp_path: Path
) -> None:
    project = tmp_path / "pip"
    shutil.copytree(FIXTURES / "pip", project)
    env_lines = ", ".join(f"{k} = {json.dumps(v)}" for k, v in HOSTILE.items())
    label_lines = ", ".join(f'"org.example.{k.lower()}" = {json.dumps(v)}'
                            for k, v in HOSTILE.items())
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f"env = {{ {env_lines} }}\nlabels = {{ {label_lines} }}\n"
    )
    image_id, _ = _build(project, services, base_image, tmp_path)
    try:
        attrs = engine.api.inspect_image(image_id)["Config"]
        env = dict(item.split("=", 1) for item in attrs["Env"])
        for key, value in HOSTILE.items():
            assert env[key] == value
            assert attrs["Labels"][f"org.example.{key.lower()}"] == value
        listing = engine.containers.run(
            image_id, ["sh", "-c", "ls /tmp; ls / | grep pwned || true"], entrypoint="",
            remove=True, network_mode="none",
        ).decode()
        assert "pwned" not in listing
    finally:
        with contextlib.suppress(Exception):
            engine.images.remove(image_id, force=True)
