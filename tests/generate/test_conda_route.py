"""The conda route: golden Dockerfiles for a conda-lock.yml and an explicit lock, lint,
refusals, `reprobuild fetch` from a channel served on loopback (hash mismatch refused,
md5-only locks, the cache), and one end-to-end build on the real engine.

Nothing here reaches PyPI: the installer wheel (py-rattler) and the pip wheel come from
the test cache `scripts/prefetch_test_wheels.py` fills; the HTTP client refuses any host
but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.config import load_config
from reprobuild.errors import ReprobuildError
from reprobuild.fetch.cache import BlobCache
from reprobuild.generate.conda import (
    INSTALLER,
    context_files,
    generate_conda,
    manifest_text,
    plan_conda,
)
from reprobuild.generate.config import image_config_from
from reprobuild.generate.generator import generate
from reprobuild.generate.pins import PinFile
from reprobuild.lockfiles import read_lock
from tests.generate.conda_packages import (
    Channel,
    CondaPackage,
    PipWheel,
    build_package,
    conda_lock_yml,
    demo_packages,
    explicit_lock,
    serve_channel,
    write_channel,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "generate"
TEST_CACHE = ROOT / ".cache" / "test-blobs"
PROJECTS = ["conda-lock", "conda-explicit"]
UPDATE = os.environ.get("REPROBUILD_UPDATE_GOLDEN") == "1"
PIN = (
    '{"schema": "reprobuild.pins/1", "images": {"python:3.11-slim-bookworm": '
    '{"digest": "sha256:' + "1" * 64 + '"}}}\n'
)
ATTRS = PipWheel(
    "attrs",
    "26.1.0",
    "https://files.pythonhosted.org/packages/64/b4/17d4b0b2a2dc85a6df63d1157e028ed19f90d4cd97c"
    "36717afef2bc2f395/attrs-26.1.0-py3-none-any.whl",
    "c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309",
)
runner = CliRunner()


def _render(project_dir: Path) -> tuple[str, str, str]:
    config = image_config_from(load_config(start=project_dir))
    lock = read_lock(config.lockfile)
    pins = PinFile.load(project_dir / config.pins_file)
    files = generate(config, lock, pins)
    plan = plan_conda(config, lock, pins)
    return files.dockerfile, files.requirements, manifest_text(plan.conda, plan.subdir)


# ------------------------------------------------------------------ golden and lint


@pytest.mark.parametrize("name", PROJECTS)
def test_golden(name: str) -> None:
    project_dir = FIXTURES / name
    rendered = _render(project_dir)
    expected = [
        project_dir / "expected.Dockerfile",
        project_dir / "expected.requirements.lock.txt",
        project_dir / "expected.packages.json",
    ]
    if UPDATE:
        for path, text in zip(expected, rendered, strict=True):
            path.write_text(text)
    assert list(rendered) == [p.read_text() for p in expected]


@pytest.mark.parametrize("name", PROJECTS)
def test_generated_dockerfile_lints_clean(name: str, tmp_path: Path) -> None:
    project_dir = FIXTURES / name
    dockerfile, requirements, _ = _render(project_dir)
    config = image_config_from(load_config(start=project_dir))
    lock = read_lock(config.lockfile)
    plan = plan_conda(config, lock, PinFile.load(project_dir / config.pins_file))
    (tmp_path / "Dockerfile").write_text(dockerfile)
    conda_dir = tmp_path / ".reprobuild" / "conda"
    conda_dir.mkdir(parents=True)
    (tmp_path / ".reprobuild" / "requirements.lock.txt").write_text(requirements)
    for relative, text in context_files(plan).items():
        (conda_dir / relative).write_text(text)
    result = runner.invoke(
        app,
        ["lint", "--format", "json", str(tmp_path / "Dockerfile"),
         str(tmp_path / ".reprobuild" / "requirements.lock.txt")],
    )
    assert result.exit_code == 0, result.output
    hadolint = Path(sys.executable).with_name("hadolint")
    proc = subprocess.run(
        [str(hadolint), "--failure-threshold", "error", "-"],
        input=dockerfile, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_conda_lock_keeps_only_the_targets_platform() -> None:
    _, _, manifest = _render(FIXTURES / "conda-lock")
    packages = json.loads(manifest)["packages"]
    assert {p["subdir"] for p in packages} == {"linux-64", "noarch"}
    assert sorted(p["name"] for p in packages) == ["demo-conda", "hello", "pip", "python"]
    assert all(p["sha256"] and p["md5"] is None for p in packages)


def test_explicit_lock_md5_only_and_token_redacted() -> None:
    dockerfile, requirements, manifest = _render(FIXTURES / "conda-explicit")
    assert "Verified by md5 only (the lock gives no sha256): demo-conda=0.1=g0_0" in dockerfile
    entry = next(p for p in json.loads(manifest)["packages"] if p["name"] == "demo-conda")
    assert entry["sha256"] is None and len(entry["md5"]) == 32
    for text in (dockerfile, requirements, manifest):
        assert "tk-SECRET" not in text
    assert "/t/***/demo-channel" in manifest


def test_wrong_platform_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "conda-lock", project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'python = "3.11"', 'python = "3.11"\nplatform = "linux/arm64"'))
    result = runner.invoke(app, ["generate", str(project), "--offline"])
    assert result.exit_code == 2
    assert "not linux-aarch64 (linux/arm64)" in result.output


def test_arm64_takes_linux_aarch64_and_noarch(tmp_path: Path) -> None:
    lock = conda_lock_yml("https://conda.anaconda.org/demo", {
        "linux-64": demo_packages("linux-64"),
        "linux-aarch64": demo_packages("linux-aarch64"),
    })
    project = _project(tmp_path, "conda-lock.yml", lock, extra='platform = "linux/arm64"\n')
    config = image_config_from(load_config(start=project))
    pins = PinFile.load(project / "reprobuild.pins.json")
    plan = plan_conda(config, read_lock(config.lockfile), pins)
    assert [(f.name, f.subdir) for f in plan.conda] == [
        ("demo-conda", "noarch"), ("hello", "linux-aarch64")]
    assert json.loads(manifest_text(plan.conda, plan.subdir))["subdir"] == "linux-aarch64"


def test_generate_check_covers_the_package_set(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "conda-explicit", project)
    assert runner.invoke(app, ["generate", str(project), "--offline"]).exit_code == 0
    assert runner.invoke(app, ["generate", str(project), "--check"]).exit_code == 0
    lock = project / "explicit.lock"
    lines = lock.read_text().splitlines(keepends=True)
    lock.write_text("".join(line for line in lines if "demo-conda" not in line))
    drift = runner.invoke(app, ["generate", str(project), "--check"])
    assert drift.exit_code == 1
    assert "/tmp/reprobuild/conda/packages.json" in drift.output


def _project(tmp_path: Path, lockfile: str, text: str, extra: str = "") -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(
        f'[tool.reprobuild]\nlockfile = "{lockfile}"\npython = "3.11"\n{extra}'
    )
    (project / "reprobuild.pins.json").write_text(PIN)
    (project / lockfile).write_text(text)
    return project


def test_unhashed_package_is_refused(tmp_path: Path) -> None:
    lock = explicit_lock("https://conda.anaconda.org/demo", demo_packages())
    lock = lock.replace("#sha256:" + demo_packages()[0].sha256, "")
    project = _project(tmp_path, "explicit.lock", lock)
    result = runner.invoke(app, ["generate", str(project), "--offline"])
    assert result.exit_code == 2
    assert "hello=1.0 (the lock gives no sha256 or md5)" in result.output


def test_pip_packages_need_the_environments_python(tmp_path: Path) -> None:
    lock = conda_lock_yml("https://conda.anaconda.org/demo", {"linux-64": demo_packages()},
                          pip=[ATTRS])
    project = _project(tmp_path, "conda-lock.yml", lock)
    config = image_config_from(load_config(start=project))
    with pytest.raises(ReprobuildError, match="no conda python and pip"):
        pins = PinFile.load(project / "reprobuild.pins.json")
        generate_conda(config, read_lock(config.lockfile), pins)


# ------------------------------------------------------------------ fetch


class _LoopbackOnly(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "127.0.0.1", f"test tried to reach {request.url.host}"
        return super().handle_request(request)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """`reprobuild fetch` makes its own client: make it refuse every host but loopback."""
    real = httpx.Client

    def client(*args: Any, **kwargs: Any) -> httpx.Client:
        kwargs["transport"] = _LoopbackOnly()
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "Client", client)


@pytest.fixture
def seeded_cache(tmp_path: Path) -> BlobCache:
    """A fresh cache holding only what the test cache has for the installer and attrs."""
    source = BlobCache(TEST_CACHE)
    cache = BlobCache(tmp_path / "cache")
    for sha256 in (INSTALLER.wheel_for("linux/amd64").sha256, ATTRS.sha256):
        blob = source.get(sha256)
        if blob is None:
            pytest.fail(f"{TEST_CACHE} lacks {sha256}: run scripts/prefetch_test_wheels.py")
        cache.put([blob.read_bytes()], expected_sha256=sha256, what=sha256)
        cache.remember_name(sha256, source.name_of(sha256) or sha256)
    return cache


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[tuple[Channel, list[CondaPackage]]]:
    packages = demo_packages()
    write_channel(tmp_path / "channel", packages)
    with serve_channel(tmp_path / "channel") as served:
        yield served, packages


def _fetch(project: Path, cache: BlobCache) -> Any:
    return runner.invoke(app, ["fetch", str(project), "--cache-dir", str(cache.root)])


@pytest.mark.usefixtures("loopback_only")
def test_fetch_verifies_caches_and_keeps_exactly_the_lock(
    tmp_path: Path, channel: tuple[Channel, list[CondaPackage]], seeded_cache: BlobCache
) -> None:
    served, packages = channel
    project = _project(tmp_path, "explicit.lock",
                       explicit_lock(served.url, packages, md5_only=["demo-conda"]))
    stale = project / ".reprobuild" / "conda" / "packages" / "old-1-0.tar.bz2"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    first = _fetch(project, seeded_cache)
    assert first.exit_code == 0, first.output
    assert "2 conda packages" in first.output and "2 downloaded" in first.output
    assert "verified by md5 only" in first.output and "demo-conda=0.1=g0_0" in first.output
    conda_dir = project / ".reprobuild" / "conda"
    assert sorted(p.name for p in (conda_dir / "packages").iterdir()) == sorted(
        p.filename for p in packages)
    for package in packages:
        assert (conda_dir / "packages" / package.filename).read_bytes() == package.data
    assert [p.name for p in (conda_dir / "installer").iterdir()] == [
        INSTALLER.wheel_for("linux/amd64").filename]
    assert {p.name for p in conda_dir.iterdir()} == {
        "packages", "installer", "packages.json", "installer.txt", "install.py"}
    hits = sum(served.hits.values())

    second = _fetch(project, seeded_cache)
    assert second.exit_code == 0, second.output
    assert "0 downloaded" in second.output
    assert sum(served.hits.values()) == hits  # the md5-only entry too: found by its md5


@pytest.mark.parametrize("md5_only", [False, True])
@pytest.mark.usefixtures("loopback_only")
def test_fetch_refuses_a_hash_mismatch(
    tmp_path: Path, channel: tuple[Channel, list[CondaPackage]], seeded_cache: BlobCache,
    md5_only: bool,
) -> None:
    served, packages = channel
    hello = packages[0]
    served.tampered[f"/demo/linux-64/{hello.filename}"] = hello.data + b"tampered"
    project = _project(tmp_path, "explicit.lock", explicit_lock(
        served.url, packages, md5_only=["hello"] if md5_only else []))
    result = _fetch(project, seeded_cache)
    assert result.exit_code == 2
    algorithm = "md5" if md5_only else "sha256"
    assert f"the lock pins {algorithm}:" in result.output and "discarded" in result.output
    assert not (project / ".reprobuild" / "conda" / "packages" / hello.filename).exists()


@pytest.mark.usefixtures("loopback_only")
def test_fetch_errors_keep_channel_tokens_out(
    tmp_path: Path, channel: tuple[Channel, list[CondaPackage]], seeded_cache: BlobCache
) -> None:
    served, packages = channel
    url = served.url.replace("/demo", "/t/tk-SECRET-9/demo")  # answers 404
    result = _fetch(_project(tmp_path, "explicit.lock", explicit_lock(url, packages)),
                    seeded_cache)
    assert result.exit_code == 2
    assert "404" in result.output and "tk-SECRET" not in result.output


@pytest.mark.usefixtures("loopback_only")
def test_fetch_conda_lock_with_pip_wheels(
    tmp_path: Path, channel: tuple[Channel, list[CondaPackage]], seeded_cache: BlobCache
) -> None:
    served, packages = channel
    python = build_package("python", "3.11.9", "h0_0", "linux-64", {"bin/python": (b"", 0o755)})
    pip = build_package("pip", "24.0", "g0_0", "noarch", {"lib/pip.txt": (b"", 0o644)})
    write_channel(served.root, [*packages, python, pip])
    other = build_package("hello", "1.0", "h0_0", "linux-aarch64", {"bin/hello": (b"", 0o755)})
    lock = conda_lock_yml(served.url, {"linux-64": [*packages, python, pip],
                                       "linux-aarch64": [other]}, pip=[ATTRS])
    project = _project(tmp_path, "conda-lock.yml", lock)
    result = _fetch(project, seeded_cache)
    assert result.exit_code == 0, result.output
    assert "4 conda packages" in result.output
    assert "1 wheels in .reprobuild/wheels: 0 downloaded" in result.output
    assert [p.name for p in (project / ".reprobuild" / "wheels").iterdir()] == [
        "attrs-26.1.0-py3-none-any.whl"]
    assert not any("aarch64" in path for path in served.hits)


# ------------------------------------------------------------------ the in-build check


def _install(conda_dir: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    """Run the install script as the builder stage does (host py-rattler, no network)."""
    return subprocess.run(
        [sys.executable, "-I", str(conda_dir / "install.py"), str(conda_dir / "packages.json"),
         str(prefix)],
        capture_output=True, text=True,
    )


@pytest.mark.usefixtures("loopback_only")
def test_install_script_checks_every_archive(
    tmp_path: Path, channel: tuple[Channel, list[CondaPackage]], seeded_cache: BlobCache
) -> None:
    served, packages = channel
    project = _project(tmp_path, "explicit.lock",
                       explicit_lock(served.url, packages, md5_only=["demo-conda"]))
    assert _fetch(project, seeded_cache).exit_code == 0
    conda_dir = project / ".reprobuild" / "conda"

    installed = _install(conda_dir, tmp_path / "prefix")
    assert installed.returncode == 0, installed.stderr
    records = sorted(p.name for p in (tmp_path / "prefix" / "conda-meta").glob("*.json"))
    assert records == sorted(f"{p.name}-{p.version}-{p.build}.json" for p in packages)
    assert (tmp_path / "prefix" / "bin" / "hello").read_bytes() == packages[0].payload[
        "bin/hello"]

    archive = conda_dir / "packages" / packages[1].filename  # the md5-only one
    archive.write_bytes(archive.read_bytes() + b"x")
    refused = _install(conda_dir, tmp_path / "prefix2")
    assert refused.returncode == 1
    assert f"{packages[1].filename}: md5 " in refused.stderr and "the lock pins" in refused.stderr
    assert not (tmp_path / "prefix2" / "conda-meta").exists()

    archive.write_bytes(packages[1].data)
    (conda_dir / "packages" / "extra-1-0.tar.bz2").write_bytes(b"x")
    extra = _install(conda_dir, tmp_path / "prefix3")
    assert extra.returncode == 1 and "unexpected ['extra-1-0.tar.bz2']" in extra.stderr


# ------------------------------------------------------------------ end to end


@pytest.mark.engine
@pytest.mark.usefixtures("loopback_only")
def test_build_installs_the_exact_packages(
    tmp_path: Path,
    channel: tuple[Channel, list[CondaPackage]],
    seeded_cache: BlobCache,
    engine: Any,
    base_image: Any,
) -> None:
    """generate -> fetch from the loopback channel -> build with no network -> the
    container's conda-meta records and payload files match the packages byte for byte."""
    import docker

    served, packages = channel
    project = _project(
        tmp_path, "conda-lock.yml",
        conda_lock_yml(served.url, {"linux-64": packages}),
        extra=f'base-image = "{base_image.from_ref}"\n',
    )
    generated = runner.invoke(app, ["generate", str(project), "--offline"])
    assert generated.exit_code == 0, generated.output
    fetched = _fetch(project, seeded_cache)
    assert fetched.exit_code == 0, fetched.output

    tag = f"reprobuild-test/conda-route:{uuid.uuid4().hex[:12]}"
    built: list[str] = []
    try:
        log = []
        for chunk in engine.api.build(
            path=str(project), tag=tag, network_mode="none", rm=True, forcerm=True,
            decode=True, nocache=True,
        ):
            log.append(chunk.get("stream", "") + chunk.get("error", ""))
            aux = chunk.get("aux") or {}
            if "ID" in aux:
                built.append(aux["ID"])
            stream = chunk.get("stream", "")
            if stream.startswith(" ---> ") and " " not in stream[6:].strip():
                built.append(stream[6:].strip())
        assert not any(c.startswith("error") for c in log), "".join(log)
        probe = (
            "import glob, hashlib, json, subprocess\n"
            "meta = {p.rsplit('/', 1)[1]: json.load(open(p))"
            " for p in glob.glob('/opt/conda/conda-meta/*.json')}\n"
            "files = {}\n"
            "for record in meta.values():\n"
            "    for path in record['files']:\n"
            "        files[path] = hashlib.sha256(open('/opt/conda/' + path, 'rb').read())"
            ".hexdigest()\n"
            "out = subprocess.run(['hello'], capture_output=True, text=True).stdout\n"
            "print(json.dumps({'meta': meta, 'files': files, 'hello': out}))\n"
        )
        output = engine.containers.run(
            tag, ["python3", "-c", probe], entrypoint=[], network_disabled=True, remove=True,
        )
        report = json.loads(output)
        assert sorted(report["meta"]) == sorted(
            f"{p.name}-{p.version}-{p.build}.json" for p in packages)
        for package in packages:
            record = report["meta"][f"{package.name}-{package.version}-{package.build}.json"]
            assert (record["sha256"], record["md5"]) == (package.sha256, package.md5)
            assert record["fn"] == package.filename
            assert sorted(record["files"]) == sorted(package.payload)
            for path, data in package.payload.items():
                assert report["files"][path] == hashlib.sha256(data).hexdigest()
        assert report["hello"] == "hello from a conda package\n"
    finally:
        for image in [tag, *reversed(built)]:
            if image.removeprefix("sha256:")[:12] in base_image.image_id:
                continue  # never the shared base image
            with contextlib.suppress(docker.errors.APIError):  # gone with its child
                engine.images.remove(image)
