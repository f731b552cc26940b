"""Test setup: put every wheel the generator fixtures pin into a reprobuild blob cache.

Tests never reach PyPI: `make test` runs this first (it is idempotent: a cache that
already holds every pinned hash downloads nothing). pip downloads with --require-hashes,
and the cache stores each file under its verified sha256 with its file name beside it,
exactly as `reprobuild fetch` would.

    python scripts/prefetch_test_wheels.py [CACHE_DIR]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reprobuild.fetch.cache import BlobCache  # noqa: E402
from reprobuild.lockfiles import read_lock  # noqa: E402
from reprobuild.models import LockFormat  # noqa: E402

DEFAULT_CACHE = ROOT / ".cache" / "test-blobs"
# (requirements file, python version) pairs the tests install or fetch from.
TARGETS = [
    (ROOT / "tests/fixtures/generate/pip/expected.requirements.lock.txt", "3.11"),
    (ROOT / "tests/fixtures/generate/uv/expected.requirements.lock.txt", "3.11"),
    (ROOT / "tests/fixtures/generate/pylock/expected.requirements.lock.txt", "3.12"),
    (ROOT / "tests/fixtures/generate/poetry/expected.requirements.lock.txt", "3.13"),
    (ROOT / "examples/cuda-torch-style/requirements.txt", "3.11"),
    # The sdist route's build backends (setuptools, wheel; pip-compile --generate-hashes).
    (ROOT / "tests/fixtures/generate/sdist/build-requirements.txt", "3.11"),
    # The pipeline example's numpy (tests/runs/test_pipeline_e2e.py builds its image).
    (ROOT / "examples/pipeline/requirements.txt", "3.11"),
]
# Debian's python3.11 closure for the python-less CUDA stand-in (tests/generate/
# test_cuda_e2e.py), resolved against the signed archive now and kept with its pins, and
# bookworm's signed InRelease + Packages index for the offline apt tests
# (tests/generate/test_python_source.py).
DEBIAN_DIR_NAME = "debian"
DEBIAN_ARCHIVE = "http://deb.debian.org/debian"
DEBIAN_INDEX_FILES = ("dists/bookworm/InRelease", "dists/bookworm/main/binary-amd64/Packages.xz")
DEBIAN_PACKAGES = ("python3.11", "python3.11-venv")


def missing(cache: BlobCache, requirements: Path) -> bool:
    lock = read_lock(requirements, LockFormat.REQUIREMENTS)
    return any(
        not any(cache.get(h.value) and cache.name_of(h.value) for h in p.hashes)
        for p in lock.packages
    )


def main() -> None:
    cache = BlobCache(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CACHE)
    for requirements, python in TARGETS:
        if not missing(cache, requirements):
            print(f"prefetch: {requirements.relative_to(ROOT)}: cached")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            # pip evaluates markers against the running interpreter even with
            # --python-version: the generator already chose the target's packages, so
            # download them unconditionally.
            unmarked = Path(tmp) / "requirements.txt"
            unmarked.write_text(
                "".join(
                    f"{p.name}=={p.version} "
                    + " ".join(f"--hash={h}" for h in p.hashes)
                    + "\n"
                    for p in read_lock(requirements, LockFormat.REQUIREMENTS).packages
                )
            )
            wheels = Path(tmp) / "wheels"
            subprocess.run(
                [
                    sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--require-hashes", "--only-binary=:all:", "--python-version", python,
                    "--implementation", "cp", "--platform", "manylinux_2_17_x86_64",
                    "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
                    "--dest", str(wheels), "-r", str(unmarked),
                ],
                check=True,
            )
            for wheel in sorted(wheels.iterdir()):
                import hashlib

                digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                with wheel.open("rb") as handle:
                    cache.put(iter(lambda: handle.read(1 << 20), b""), expected_sha256=digest,
                              what=wheel.name)
                cache.remember_name(digest, wheel.name)
        print(f"prefetch: {requirements.relative_to(ROOT)}: downloaded")
    prefetch_debian(cache)


def prefetch_debian(cache: BlobCache) -> None:
    import httpx

    from reprobuild.fetch.debian import fetch_debs, resolve_debs
    from reprobuild.generate.python_source import DebPin, DebRequest, DebSet, default_sources

    root = cache.root / DEBIAN_DIR_NAME
    root.mkdir(parents=True, exist_ok=True)
    pins_path = root / "bookworm-python3.11.json"
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
        for relative in DEBIAN_INDEX_FILES:
            target = root / "mirror" / relative
            if target.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            response = client.get(f"{DEBIAN_ARCHIVE}/{relative}", follow_redirects=True)
            response.raise_for_status()
            # InRelease is checked by apt in the tests; the index by InRelease's hash.
            target.with_suffix(".part").write_bytes(response.content)
            target.with_suffix(".part").replace(target)
        if pins_path.is_file():
            data = json.loads(pins_path.read_text())
            debs = DebSet(
                sources=tuple(data["sources"]), keyring=data["keyring"],
                architecture=data["architecture"], packages=tuple(data["packages"]),
                debs=tuple(DebPin(**d) for d in data["debs"]),
            )
        else:
            sources, keyring = default_sources("bookworm", "amd64")
            debs = resolve_debs(
                DebRequest(sources=sources, keyring=keyring, architecture="amd64",
                           packages=DEBIAN_PACKAGES, python_from_debs=True)
            )
        with tempfile.TemporaryDirectory() as tmp:
            report = fetch_debs(debs.debs, Path(tmp), cache=cache, client=client)
        pins_path.write_text(json.dumps(debs.to_dict(), indent=2, sort_keys=True) + "\n")
    print(f"prefetch: debian bookworm: {len(debs.debs)} .debs, {report.downloaded} downloaded")
    prefetch_conda_installer(cache)


def prefetch_conda_installer(cache: BlobCache) -> None:
    """The conda route's installer wheel (py-rattler, pinned by hash in
    reprobuild.generate.conda.INSTALLER) for linux/amd64, which the conda tests build."""
    import hashlib

    from reprobuild.generate.conda import INSTALLER, installer_requirements

    wheel = INSTALLER.wheel_for("linux/amd64")
    if cache.get(wheel.sha256) and cache.name_of(wheel.sha256):
        print(f"prefetch: {wheel.filename}: cached")
        return
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "installer.txt"
        requirements.write_text(installer_requirements())
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--require-hashes", "--only-binary=:all:", "--python-version", "3.11",
                "--implementation", "cp", "--platform", "manylinux2014_x86_64",
                "--dest", tmp, "-r", str(requirements),
            ],
            check=True,
        )
        path = Path(tmp) / wheel.filename
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with path.open("rb") as handle:
            cache.put(iter(lambda: handle.read(1 << 20), b""), expected_sha256=digest,
                      what=wheel.filename)
        cache.remember_name(digest, wheel.filename)
    print(f"prefetch: {wheel.filename}: downloaded")


if __name__ == "__main__":
    main()
