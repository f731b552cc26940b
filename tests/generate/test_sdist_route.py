"""The sdist route (allow-sdist + build-requirements): golden files, lint, refusals, fetch
through the blob cache, and one real build on the engine where the package built from
its sdist imports.

The fixture (tests/fixtures/generate/sdist) locks attrs (wheels) and
reprobuild-sdist-demo, a tiny real sdist written by :func:`write_sdist` (committed in
tests/fixtures/generate/sdist-dist, so the golden hash is fixed; a test checks the writer
still produces it). Its build-requirements.txt (setuptools, wheel) was made with the real
pip-compile --generate-hashes; scripts/prefetch_test_wheels.py caches those wheels, so no
test reaches PyPI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.config import load_config
from reprobuild.errors import ConfigError
from reprobuild.fetch.cache import BlobCache, HashMismatchError
from reprobuild.fetch.fetcher import FetchError, fetch_wheels
from reprobuild.fetch.sdists import fetch_sdists
from reprobuild.generate.config import ImageConfig, image_config_from
from reprobuild.generate.export import ExportError
from reprobuild.generate.generator import GeneratedFiles, generate
from reprobuild.generate.pins import PinFile
from reprobuild.generate.sdists import BUILD_LOCK, SDISTS_LOCK, SdistError
from reprobuild.generate.target import Target
from reprobuild.lockfiles import read_lock
from reprobuild.models import Artifact, ArtifactKind, Hash, Lock

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "generate" / "sdist"
SDIST = ROOT / "tests" / "fixtures" / "generate" / "sdist-dist" / (
    "reprobuild_sdist_demo-0.1.0.tar.gz"
)
TEST_CACHE = ROOT / ".cache" / "test-blobs"
UPDATE = os.environ.get("REPROBUILD_UPDATE_GOLDEN") == "1"
EXPECTED = {
    "expected.Dockerfile": "dockerfile",
    "expected.requirements.lock.txt": "requirements",
    "expected.sdists.lock.txt": SDISTS_LOCK,
    "expected.build-requirements.lock.txt": BUILD_LOCK,
}
runner = CliRunner()


def write_sdist(directory: Path, version: str = "0.1.0") -> Path:
    """A real, minimal sdist (setuptools backend, one module), byte-for-byte reproducible:
    sorted members, fixed mtimes and modes, gzip without a timestamp."""
    top = f"reprobuild_sdist_demo-{version}"
    files = {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "reprobuild-sdist-demo"\nversion = "{version}"\n'
            'description = "A pure-Python package published only as an sdist (reprobuild '
            'tests)"\nrequires-python = ">=3.8"\n\n'
            '[tool.setuptools]\npy-modules = ["reprobuild_sdist_demo"]\n'
        ),
        "reprobuild_sdist_demo.py": 'ORIGIN = "built from its sdist"\n',
        "PKG-INFO": (
            f"Metadata-Version: 2.1\nName: reprobuild-sdist-demo\nVersion: {version}\n"
            "Summary: A pure-Python package published only as an sdist (reprobuild tests)\n"
            "Requires-Python: >=3.8\n"
        ),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name].encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    path = directory / f"{top}.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _config(project: Path) -> ImageConfig:
    return image_config_from(load_config(start=project))


def _generate(project: Path, lock: Lock | None = None) -> GeneratedFiles:
    config = _config(project)
    return generate(
        config, lock or read_lock(config.lockfile), PinFile.load(project / config.pins_file)
    )


def _outputs(files: GeneratedFiles) -> dict[str, str]:
    extra = {str(path): text for path, text in files.extra}
    return {
        name: getattr(files, key) if isinstance(key, str) else extra[str(key)]
        for name, key in EXPECTED.items()
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "sdist"
    shutil.copytree(FIXTURE, copy)
    return copy


def _append_config(project: Path, text: str) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + text)


def _without_sdist_settings(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        "".join(
            line
            for line in pyproject.read_text().splitlines(keepends=True)
            if not line.startswith(("allow-sdist", "build-requirements"))
        )
    )


# --- generation ---------------------------------------------------------------------


def test_fixture_sdist_is_what_write_sdist_makes(tmp_path: Path) -> None:
    assert _sha256(write_sdist(tmp_path)) == _sha256(SDIST)
    assert _sha256(SDIST) in (FIXTURE / "requirements.txt").read_text()


def test_golden_sdist_route() -> None:
    outputs = _outputs(_generate(FIXTURE))
    for name, text in outputs.items():
        if UPDATE:
            (FIXTURE / name).write_text(text)
        assert text == (FIXTURE / name).read_text(), name
    dockerfile = outputs["expected.Dockerfile"]
    assert " AS wheels\n" in dockerfile
    assert "COPY --from=wheels /tmp/reprobuild/built/ /tmp/reprobuild/built/" in dockerfile
    # The sdist package leaves the hashed wheel install and goes to the wheels stage.
    assert "reprobuild-sdist-demo" not in outputs["expected.requirements.lock.txt"]
    assert "reprobuild-sdist-demo==0.1.0 \\\n    --hash=sha256:" + _sha256(SDIST) in (
        outputs["expected.sdists.lock.txt"]
    )
    assert "setuptools==" in outputs["expected.build-requirements.lock.txt"]


def test_generation_warns_rb109(project: Path) -> None:
    files = _generate(project)
    assert len(files.warnings) == 1
    assert files.warnings[0].startswith("RB109 sdist-only: reprobuild-sdist-demo==0.1.0")
    result = runner.invoke(app, ["generate", str(project), "--offline"])
    assert result.exit_code == 0, result.output
    assert "warning: RB109 sdist-only: reprobuild-sdist-demo==0.1.0" in result.output
    for relative in (SDISTS_LOCK, BUILD_LOCK):
        assert (project / relative).is_file()
    check = runner.invoke(app, ["generate", str(project), "--check"])
    assert check.exit_code == 0, check.output
    (project / BUILD_LOCK).write_text("")
    assert runner.invoke(app, ["generate", str(project), "--check"]).exit_code == 1


def test_generated_dockerfile_lints_clean(project: Path) -> None:
    """reprobuild lint (RB210 follows both pip calls and both -r files) and hadolint."""
    assert runner.invoke(app, ["generate", str(project), "--offline"]).exit_code == 0
    reprobuild = project / ".reprobuild"
    result = runner.invoke(
        app,
        ["lint", "--format", "json", str(project / "Dockerfile"),
         *(str(reprobuild / name) for name in ("requirements.lock.txt", "sdists.lock.txt",
                                              "build-requirements.lock.txt"))],
    )
    assert result.exit_code == 0, result.output
    hadolint = Path(sys.executable).with_name("hadolint")
    proc = subprocess.run(
        [str(hadolint), "--failure-threshold", "error", "-"],
        input=(project / "Dockerfile").read_text(), capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lint_still_catches_an_unhashed_sdists_file(project: Path) -> None:
    """The wheels stage's `pip wheel -r` is judged like any install: no hash, an error."""
    assert runner.invoke(app, ["generate", str(project), "--offline"]).exit_code == 0
    (project / SDISTS_LOCK).write_text("reprobuild-sdist-demo==0.1.0\n")
    result = runner.invoke(app, ["lint", str(project / "Dockerfile")])
    assert result.exit_code == 1, result.output
    assert "RB210" in result.output and "pip wheel" in result.output


def _sdist_only_lock(project: Path) -> Lock:
    """The fixture lock as a file-listing lock would state it: the demo has only an sdist."""
    lock = read_lock(project / "requirements.txt")
    sdist = Artifact(
        kind=ArtifactKind.SDIST,
        filename=SDIST.name,
        hashes=(Hash("sha256", _sha256(SDIST)),),
    )
    return dataclasses.replace(lock, packages=tuple(
        dataclasses.replace(p, artifacts=(sdist,)) if p.name == "reprobuild-sdist-demo" else p
        for p in lock.packages
    ))


def test_sdist_only_refused_without_allow_sdist(project: Path) -> None:
    _without_sdist_settings(project)
    with pytest.raises(ExportError, match=r"reprobuild-sdist-demo==0\.1\.0 \(sdist only") as err:
        _generate(project, _sdist_only_lock(project))
    assert "allow-sdist" in str(err.value)


def test_sdist_only_allowed_with_allow_sdist(project: Path) -> None:
    files = _generate(project, _sdist_only_lock(project))
    assert "reprobuild-sdist-demo==0.1.0" in dict(files.extra)[SDISTS_LOCK]


def test_allowed_package_with_wheels_is_refused(project: Path) -> None:
    lock = _sdist_only_lock(project)
    wheel = Artifact(
        kind=ArtifactKind.WHEEL,
        filename="reprobuild_sdist_demo-0.1.0-py3-none-any.whl",
        hashes=(Hash("sha256", "a" * 64),),
    )
    lock = dataclasses.replace(lock, packages=tuple(
        dataclasses.replace(p, artifacts=(*p.artifacts, wheel))
        if p.name == "reprobuild-sdist-demo" else p
        for p in lock.packages
    ))
    with pytest.raises(SdistError, match=r"has wheels for reprobuild-sdist-demo==0\.1\.0"):
        _generate(project, lock)


def test_allow_sdist_naming_a_package_not_in_the_lock(project: Path) -> None:
    text = (project / "pyproject.toml").read_text().replace(
        'allow-sdist = ["reprobuild-sdist-demo"]',
        'allow-sdist = ["reprobuild-sdist-demo", "not-locked"]',
    )
    (project / "pyproject.toml").write_text(text)
    with pytest.raises(SdistError, match="allow-sdist names not-locked"):
        _generate(project)


@pytest.mark.parametrize(
    ("build_requirements", "message"),
    [
        ("setuptools==84.2.1\nwheel==0.48.0\n", r"build-requirements\.txt:1: setuptools==84\.2\.1 "
         r"has no sha256 --hash; build-requirements\.txt:2: wheel"),
        ("setuptools>=61 --hash=sha256:" + "a" * 64 + "\n",
         r"build-requirements\.txt:1: setuptools is not pinned with =="),
    ],
    ids=["unhashed", "unpinned"],
)
def test_unhashed_or_unpinned_build_requirements_refused(
    project: Path, build_requirements: str, message: str
) -> None:
    (project / "build-requirements.txt").write_text(build_requirements)
    with pytest.raises(SdistError, match=message):
        _generate(project)
    result = runner.invoke(app, ["generate", str(project), "--offline"])
    assert result.exit_code == 2 and "pinned, hashed lock" in result.output


def test_allow_sdist_without_build_requirements_is_a_config_error(project: Path) -> None:
    text = (project / "pyproject.toml").read_text().replace(
        'build-requirements = "build-requirements.txt"\n', ""
    )
    (project / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"allow-sdist.*needs build-requirements"):
        _config(project)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('allow-sdist = ["Reprobuild_Sdist.Demo"]', "write 'reprobuild-sdist-demo'"),
        ('allow-sdist = "reprobuild-sdist-demo"', "must be a list of strings"),
        ('allow-sdist = []', "is only used with allow-sdist"),
    ],
)
def test_allow_sdist_values_are_checked(project: Path, setting: str, message: str) -> None:
    text = (project / "pyproject.toml").read_text().replace(
        'allow-sdist = ["reprobuild-sdist-demo"]', setting
    )
    (project / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        _config(project)


def test_build_requirements_path_stays_in_the_project(project: Path) -> None:
    text = (project / "pyproject.toml").read_text().replace(
        '"build-requirements.txt"', '"../build-requirements.txt"'
    )
    (project / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError, match="relative path inside the project"):
        _config(project)


# --- fetch --------------------------------------------------------------------------


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the test tried to reach {request.url}")


def _index(files: dict[str, bytes]) -> httpx.MockTransport:
    """A PEP 691 index on a fake host serving ``files`` for reprobuild-sdist-demo."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/simple/reprobuild-sdist-demo/":
            return httpx.Response(200, headers={
                "content-type": "application/vnd.pypi.simple.v1+json"}, json={"files": [
                    {"filename": name, "url": f"/files/{name}",
                     "hashes": {"sha256": _sha256_bytes(data)}}
                    for name, data in files.items()
                ]})
        name = request.url.path.removeprefix("/files/")
        if name in files:
            return httpx.Response(200, content=files[name])
        return httpx.Response(404)

    return httpx.MockTransport(handle)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_sdists_downloads_verifies_and_caches(tmp_path: Path) -> None:
    sdist = write_sdist(tmp_path, version="0.2.0")
    lock_file = tmp_path / "requirements.txt"
    lock_file.write_text(f"reprobuild-sdist-demo==0.2.0 --hash=sha256:{_sha256(sdist)}\n")
    packages = read_lock(lock_file).packages
    cache = BlobCache(tmp_path / "cache")
    destination = tmp_path / "sdists"
    index = ["http://index.invalid/simple"]
    with httpx.Client(transport=_index({sdist.name: sdist.read_bytes()})) as client:
        first = fetch_sdists(packages, destination, cache=cache, index_urls=index, client=client)
    assert first.downloaded == 1 and first.files == [(sdist.name, _sha256(sdist))]
    assert (destination / sdist.name).read_bytes() == sdist.read_bytes()
    with httpx.Client(transport=httpx.MockTransport(_refuse)) as client:
        second = fetch_sdists(packages, destination, cache=cache, index_urls=index, client=client)
    assert second.downloaded == 0 and second.from_cache == 1


def test_fetch_sdists_refuses_other_bytes(tmp_path: Path) -> None:
    sdist = write_sdist(tmp_path)
    lock_file = tmp_path / "requirements.txt"
    lock_file.write_text(f"reprobuild-sdist-demo==0.1.0 --hash=sha256:{_sha256(sdist)}\n")
    served = {sdist.name: sdist.read_bytes()}

    def tampered(request: httpx.Request) -> httpx.Response:
        response = _index(served).handle_request(request)
        if request.url.path.startswith("/files/"):
            return httpx.Response(200, content=b"not the locked sdist")
        return response

    cache = BlobCache(tmp_path / "cache")
    with httpx.Client(transport=httpx.MockTransport(tampered)) as client, pytest.raises(
        HashMismatchError, match=r"reprobuild-sdist-demo==0\.1\.0"
    ):
        fetch_sdists(read_lock(lock_file).packages, tmp_path / "sdists", cache=cache,
                     index_urls=["http://index.invalid/simple"], client=client)
    assert cache.get(_sha256(sdist)) is None


def test_fetch_without_allow_sdist_names_the_sdist_only_package(tmp_path: Path) -> None:
    """A requirements lock names no files: fetch finds out, and says what to do."""
    sdist = write_sdist(tmp_path)
    lock_file = tmp_path / "requirements.txt"
    lock_file.write_text(f"reprobuild-sdist-demo==0.1.0 --hash=sha256:{_sha256(sdist)}\n")
    with httpx.Client(transport=_index({sdist.name: sdist.read_bytes()})) as client, \
            pytest.raises(FetchError, match=r"reprobuild-sdist-demo==0\.1\.0 \(sdist only.*"
                          r"allow-sdist"):
        fetch_wheels(read_lock(lock_file).packages, Target(python="3.11"), tmp_path / "wheels",
                     cache=BlobCache(tmp_path / "cache"),
                     index_urls=["http://index.invalid/simple"], client=client)


@pytest.fixture
def test_cache() -> BlobCache:
    """The prefetched test cache, plus the fixture sdist (a local file, put by hash)."""
    if not (TEST_CACHE / "sha256").is_dir():
        pytest.fail(f"{TEST_CACHE} is missing: run `python scripts/prefetch_test_wheels.py`")
    cache = BlobCache(TEST_CACHE)
    sha = _sha256(SDIST)
    if cache.get(sha) is None:
        cache.put([SDIST.read_bytes()], expected_sha256=sha, what=SDIST.name)
    cache.remember_name(sha, SDIST.name)
    return cache


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """`reprobuild fetch` makes its own client: make it refuse every request."""
    real = httpx.Client

    def client(*args: Any, **kwargs: Any) -> httpx.Client:
        kwargs["transport"] = httpx.MockTransport(_refuse)
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "Client", client)


@pytest.mark.usefixtures("no_network")
def test_fetch_cli_fills_the_wheels_stage_inputs(project: Path, test_cache: BlobCache) -> None:
    result = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(test_cache.root)])
    assert result.exit_code == 0, result.output
    assert "1 wheels in .reprobuild/wheels: 0 downloaded" in result.output
    assert "1 sdists in .reprobuild/sdists: 0 downloaded" in result.output
    assert "3 build wheels in .reprobuild/build-wheels: 0 downloaded" in result.output
    assert [p.name for p in (project / ".reprobuild" / "sdists").iterdir()] == [SDIST.name]
    built = sorted(p.name.split("-")[0] for p in (project / ".reprobuild" / "build-wheels")
                   .iterdir())
    assert built == ["packaging", "setuptools", "wheel"]


# --- one real build -----------------------------------------------------------------


@pytest.mark.engine
@pytest.mark.usefixtures("no_network")
def test_build_installs_the_package_built_from_its_sdist(
    project: Path, test_cache: BlobCache, engine: Any, base_image: Any
) -> None:
    """generate -> fetch (cache only) -> build with no network: the wheels stage builds
    the sdist with the locked setuptools, and the image imports it."""
    import docker

    _append_config(project, f"base-image = {json.dumps(base_image.from_ref)}\n")
    generated = runner.invoke(app, ["generate", str(project), "--offline"])
    assert generated.exit_code == 0, generated.output
    fetched = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(test_cache.root)])
    assert fetched.exit_code == 0, fetched.output

    tag = f"reprobuild-test/sdist-e2e:{uuid.uuid4().hex[:12]}"
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
        assert "setuptools-84.2.1" in output  # the locked backend, not the venv's own
        assert "Successfully built reprobuild-sdist-demo" in output  # pip wheel, from the sdist
        ran = engine.containers.run(tag, network_disabled=True, remove=True).decode()
        assert ran.strip() == "built from its sdist"
        probe = (
            "import importlib.metadata as m, json\n"
            "print(json.dumps(sorted(f\"{d.metadata['Name'].lower()}=={d.version}\""
            " for d in m.distributions())))\n"
        )
        dists = set(json.loads(engine.containers.run(
            tag, ["python", "-c", probe], network_disabled=True, remove=True
        )))
        assert {"attrs==26.1.0", "reprobuild-sdist-demo==0.1.0"} <= dists
        # The build backends stay in the throwaway stage.
        assert not any(d.startswith(("wheel==", "packaging==", "setuptools==84"))
                       for d in dists), dists
    finally:
        for image in [tag, *reversed(built)]:
            if image.removeprefix("sha256:")[:12] in base_image.image_id:
                continue  # never the shared base
            with contextlib.suppress(docker.errors.APIError):
                engine.images.remove(image, force=True)
