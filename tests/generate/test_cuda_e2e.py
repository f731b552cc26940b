"""The CUDA route: a golden Dockerfile for a torch-style lock on a python-less
``nvidia/cuda`` base, lint-clean, and one real build of examples/cuda-torch-style on the
python-less stand-in image, with Python from Debian's .debs and no network in the build.

Golden outputs come from committed pins (tests/fixtures/generate/cuda-torch; placeholders,
see its README). The build uses the .debs and wheels that scripts/prefetch_test_wheels.py
cached (with the closure's pins, resolved against the signed archive at setup time):
the test itself reaches neither PyPI nor Debian.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.config import load_config
from reprobuild.generate.config import image_config_from
from reprobuild.generate.generator import generate
from reprobuild.generate.pins import PinFile
from reprobuild.generate.python_source import DEBS_SUMS
from reprobuild.lockfiles import read_lock

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "generate" / "cuda-torch"
EXAMPLE = ROOT / "examples" / "cuda-torch-style"
TEST_CACHE = ROOT / ".cache" / "test-blobs"
CACHED_DEBS = TEST_CACHE / "debian" / "bookworm-python3.11.json"
STAND_IN_TAG = "12.4.1-base-ubuntu22.04"
UPDATE = os.environ.get("REPROBUILD_UPDATE_GOLDEN") == "1"
runner = CliRunner()


def _generate(project_dir: Path) -> tuple[str, str, str]:
    config = image_config_from(load_config(start=project_dir))
    files = generate(config, read_lock(config.lockfile), PinFile.load(project_dir /
                                                                        config.pins_file))
    extra = dict(files.extra)
    return files.dockerfile, files.requirements, extra[Path(DEBS_SUMS)]


def test_golden_cuda_dockerfile() -> None:
    dockerfile, requirements, sums = _generate(GOLDEN)
    expected = {
        "expected.Dockerfile": dockerfile,
        "expected.requirements.lock.txt": requirements,
        "expected.debs.sha256": sums,
    }
    for name, text in expected.items():
        if UPDATE:
            (GOLDEN / name).write_text(text)
        assert text == (GOLDEN / name).read_text(), name
    assert "FROM nvidia/cuda:12.4.1-base-ubuntu22.04@sha256:" in dockerfile
    assert "torch==2.5.1" in requirements and "nvidia-cuda-runtime-cu12==12.4.127" in requirements


def test_golden_cuda_dockerfile_lints_clean(tmp_path: Path) -> None:
    dockerfile, requirements, _ = _generate(GOLDEN)
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / ".reprobuild").mkdir()
    (tmp_path / ".reprobuild" / "requirements.lock.txt").write_text(requirements)
    result = runner.invoke(app, ["lint", "--format", "json", str(tmp_path / "Dockerfile"),
                                 str(tmp_path / ".reprobuild" / "requirements.lock.txt")])
    assert result.exit_code == 0, result.output
    hadolint = Path(sys.executable).with_name("hadolint")
    proc = subprocess.run(
        [str(hadolint), "--failure-threshold", "error", "-"],
        input=dockerfile, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generate_check_sees_a_changed_deb_pin(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(GOLDEN, project)
    written = runner.invoke(app, ["generate", str(project), "--offline"])
    assert written.exit_code == 0, written.output
    assert (project / DEBS_SUMS).read_text() == (GOLDEN / "expected.debs.sha256").read_text()
    pins = json.loads((project / "reprobuild.pins.json").read_text())
    pins["debs"]["amd64"]["debs"][0]["sha256"] = "0" * 64
    (project / "reprobuild.pins.json").write_text(json.dumps(pins))
    check = runner.invoke(app, ["generate", str(project), "--check"])
    assert check.exit_code == 1
    assert "+" + "0" * 64 in check.output


class _NoNetwork(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the test tried to reach {request.url}")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """`reprobuild fetch` makes its own client: make it refuse every request."""
    real = httpx.Client

    def client(*args: Any, **kwargs: Any) -> httpx.Client:
        kwargs["transport"] = _NoNetwork()
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "Client", client)


def _stand_in_project(tmp_path: Path, digest: str) -> Path:
    """The example, configured for the stand-in: Debian bookworm's archive (the stand-in
    is bookworm under an ubuntu22.04 tag) and pins for the stand-in and the cached .debs."""
    if not CACHED_DEBS.is_file():
        pytest.fail(f"{CACHED_DEBS} is missing: run `python scripts/prefetch_test_wheels.py`")
    debs = json.loads(CACHED_DEBS.read_text())
    project = tmp_path / "cuda-torch-style"
    shutil.copytree(EXAMPLE, project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + 'python = "3.11"\n'
        + f"apt-sources = {json.dumps(debs['sources'])}\n"
        + f"apt-keyring = {json.dumps(debs['keyring'])}\n"
    )
    (project / "reprobuild.pins.json").write_text(json.dumps({
        "schema": "reprobuild.pins/1",
        "images": {f"nvidia/cuda:{STAND_IN_TAG}": {"digest": digest}},
        "debs": {"amd64": debs},
    }))
    return project


@pytest.mark.engine
@pytest.mark.usefixtures("no_network")
def test_build_on_python_less_cuda_stand_in(
    tmp_path: Path, engine: Any, cuda_images: dict[str, Any]
) -> None:
    """generate -> fetch (cache only) -> build with no network -> the container runs
    Debian's python3.11, loads libcudart.so.12 from the wheel, and has exactly the lock."""
    import docker

    stand_in = cuda_images[STAND_IN_TAG]
    assert not stand_in.has_python
    project = _stand_in_project(tmp_path, stand_in.digest)
    generated = runner.invoke(app, ["generate", str(project), "--offline"])
    assert generated.exit_code == 0, generated.output
    assert f"nvidia/cuda:{STAND_IN_TAG}@{stand_in.digest}" in generated.output
    fetched = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(TEST_CACHE)])
    assert fetched.exit_code == 0, fetched.output
    assert "1 wheels in .reprobuild/wheels: 0 downloaded" in fetched.output
    assert " .debs in .reprobuild/debs: 0 downloaded" in fetched.output

    tag = f"reprobuild-test/cuda-e2e:{uuid.uuid4().hex[:12]}"
    built: list[str] = []
    try:
        log = []
        for chunk in engine.api.build(
            path=str(project), tag=tag, network_mode="none", rm=True, forcerm=True,
            nocache=True, decode=True,
        ):
            log.append(chunk.get("stream", "") + chunk.get("error", ""))
            stream = chunk.get("stream", "")
            if stream.startswith(" ---> ") and " " not in stream[6:].strip():
                built.append(stream[6:].strip())
        output = "".join(log)
        assert "Successfully built" in output and not any(
            line.startswith("error") for line in log
        ), output
        ran = engine.containers.run(tag, network_disabled=True, remove=True).decode()
        assert ran.startswith("loaded /opt/venv/lib/python3.11/site-packages/nvidia/cuda_runtime/"
                              "lib/libcudart.so.12 with Python 3.11."), ran
        probe = (
            "import importlib.metadata as m, json, sys\n"
            "print(json.dumps({'exe': sys.executable, 'base': sys.base_prefix,"
            " 'dists': sorted(f\"{d.metadata['Name'].lower()}=={d.version}\""
            " for d in m.distributions())}))\n"
        )
        report = json.loads(engine.containers.run(
            tag, ["python", "-c", probe], network_disabled=True, remove=True
        ))
        assert report["exe"] == "/opt/venv/bin/python" and report["base"] == "/usr"
        lock = read_lock(project / "requirements.txt")
        # The venv's own pip and setuptools (Python 3.11's ensurepip, from Debian's
        # python3-pip-whl and python3-setuptools-whl) are not lock inputs.
        bootstrap = {d for d in report["dists"] if d.startswith(("pip==", "setuptools=="))}
        assert {d.split("==")[0] for d in bootstrap} == {"pip", "setuptools"}
        assert set(report["dists"]) - bootstrap == {
            f"{p.name}=={p.version}" for p in lock.packages
        }
    finally:
        for image in [tag, *reversed(built)]:
            if image.removeprefix("sha256:")[:12] in stand_in.image_id:
                continue  # never the shared stand-in
            with contextlib.suppress(docker.errors.APIError):
                engine.images.remove(image, force=True)
