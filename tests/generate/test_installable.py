"""Every pip-family format: generate, fetch from the test cache (no network: the client
refuses every request), then the real installers accept exactly the fetched inputs with
`--no-index --require-hashes --no-deps` (`pip install --dry-run`; uv's for other Pythons,
because pip evaluates markers against the running interpreter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from reprobuild.config import load_config
from reprobuild.fetch.cache import BlobCache
from reprobuild.fetch.fetcher import fetch_wheels
from reprobuild.fetch.index import index_urls_for
from reprobuild.generate.config import image_config_from
from reprobuild.generate.generator import generate, plan
from reprobuild.generate.pins import PinFile
from reprobuild.lockfiles import read_lock

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "generate"
TEST_CACHE = ROOT / ".cache" / "test-blobs"


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"test tried to reach the network: {request.url}")


@pytest.fixture(scope="module")
def cache() -> BlobCache:
    if not TEST_CACHE.is_dir():
        pytest.fail(
            f"{TEST_CACHE} is missing: run `python scripts/prefetch_test_wheels.py` "
            "(make test does)"
        )
    return BlobCache(TEST_CACHE)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pip", {"attrs==26.1.0", "packaging==26.4"}),
        ("uv", {"attrs==26.1.0", "numpy==2.4.6"}),
        ("pylock", {"attrs==26.1.0", "numpy==2.5.5"}),
        ("poetry", {"attrs==26.1.0"}),
    ],
)
def test_fetched_inputs_install(
    name: str, expected: set[str], tmp_path: Path, cache: BlobCache
) -> None:
    project = tmp_path / name
    shutil.copytree(FIXTURES / name, project)
    config = image_config_from(load_config(start=project))
    lock = read_lock(config.lockfile)
    pins = PinFile.load(project / config.pins_file)
    base, packages = plan(config, lock, pins)
    files = generate(config, lock, pins)
    requirements = project / ".reprobuild" / "requirements.lock.txt"
    requirements.parent.mkdir(parents=True, exist_ok=True)
    requirements.write_text(files.requirements)
    wheels = project / ".reprobuild" / "wheels"
    with httpx.Client(transport=httpx.MockTransport(_no_network)) as client:
        report = fetch_wheels(
            packages, base.target, wheels, cache=cache,
            index_urls=index_urls_for(lock), client=client,
        )
    assert report.downloaded == 0
    target = base.target.python
    common = ["--no-index", "--find-links", str(wheels), "--require-hashes", "--no-deps",
              "-r", str(requirements), "--target", str(tmp_path / "site")]
    if target == f"{sys.version_info.major}.{sys.version_info.minor}":
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--only-binary=:all:",
             *common],
            capture_output=True, text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        line = next(x for x in proc.stdout.splitlines() if x.startswith("Would install"))
        installed = {p.rsplit("-", 1)[0] + "==" + p.rsplit("-", 1)[1] for p in line.split()[2:]}
    else:
        uv = shutil.which("uv", path=str(Path(sys.executable).parent))
        assert uv, "uv must be installed in the venv"
        proc = subprocess.run(
            [uv, "pip", "install", "--dry-run", "--python-version", target,
             "--python-platform", "x86_64-manylinux_2_28", *common],
            capture_output=True, text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        installed = {
            x.strip()[2:] for x in proc.stderr.splitlines() if x.strip().startswith("+ ")
        }
    assert installed == expected
