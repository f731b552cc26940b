"""Test setup: put every wheel the generator fixtures pin into a reprobuild blob cache.

Tests never reach PyPI: `make test` runs this first (it is idempotent: a cache that
already holds every pinned hash downloads nothing). pip downloads with --require-hashes,
and the cache stores each file under its verified sha256 with its file name beside it,
exactly as `reprobuild fetch` would.

    python scripts/prefetch_test_wheels.py [CACHE_DIR]
"""

from __future__ import annotations

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
]


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


if __name__ == "__main__":
    main()
