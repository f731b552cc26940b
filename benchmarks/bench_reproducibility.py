"""Reproducibility benchmark on the real engine (start it with ``scripts/services.sh up``).

(a) Image IDs of N clean builds (``reprobuild image --no-cache``, seconds apart, every
    file touched in between) of every example with a ``[tool.reprobuild]`` config.
(b) Rebuild time after a source-only change vs the cold build, for reprobuild's
    generated Dockerfile and for a naive one (``COPY . .`` then ``pip install -r``).
(c) Final image size: reprobuild's vs the naive Dockerfile's.

Prints the figures side by side; asserts nothing. The python base image is the test
harness's (Debian bookworm, in the engine and its mirror), passed as ``--base-image``.

    python benchmarks/bench_reproducibility.py [--builds 3] [--only pip-requirements,...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from tests.harness.base_images import ensure_python_base  # noqa: E402
from tests.harness.services import ensure_services, require_mirror  # noqa: E402

SDE = "1700000000"
_TIMES = re.compile(r"built sha256:\w+ in ([\d.]+) s|normalized to sha256:\w+ in ([\d.]+) s")

NAIVE = """\
FROM {base}
WORKDIR /app
COPY . .
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-index --find-links=.reprobuild/wheels -r requirements.txt
ENV PATH=/opt/venv/bin:$PATH
CMD ["python", "-m", "app"]
"""


@dataclass(frozen=True)
class Build:
    image_id: str
    seconds: float
    build_s: float
    normalize_s: float
    error: str = ""


def has_config(example: Path) -> dict[str, object] | None:
    if (example / "reprobuild.toml").is_file():
        return tomllib.loads((example / "reprobuild.toml").read_text())
    pyproject = example / "pyproject.toml"
    if pyproject.is_file():
        table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("reprobuild")
        return table if isinstance(table, dict) else None
    return None


def git_commit(root: Path) -> None:
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(
            ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
             "-C", str(root), *args],
            check=True, capture_output=True,
        )


def touch_all(root: Path) -> None:
    now = time.time()
    for path in root.rglob("*"):
        if ".git" not in path.parts:
            os.utime(path, (now, now))


def reprobuild_image(
    project: Path, env: dict[str, str], base: str | None, *, nocache: bool, record: Path
) -> Build:
    args = [sys.executable, "-m", "reprobuild", "image", str(project), "--record", str(record),
            "--source-date-epoch", SDE, "--format", "json"]
    if nocache:
        args.append("--no-cache")
    if base:
        args += ["--base-image", base]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return Build("", seconds, 0, 0, last[:160])
    found = _TIMES.findall(done.stderr)
    build_s = sum(float(b) for b, _ in found if b)
    normalize_s = sum(float(n) for _, n in found if n)
    return Build(json.loads(done.stdout)["image_id"], seconds, build_s, normalize_s)


def part_a(env: dict[str, str], base: str, work: Path, builds: int, only: set[str],
           client: docker.DockerClient) -> None:
    print(f"\n(a) image IDs of {builds} clean builds per example (no cache, seconds apart, "
          "files touched in between)")
    print(f"{'example':<20} {'equal':<6} {'image id':<20} {'seconds per build':<28} note")
    for example in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        config = has_config(example)
        if config is None or (only and example.name not in only):
            continue
        project = work / example.name
        shutil.copytree(example, project)
        git_commit(project)
        override = base if str(config.get("base-image", "")).startswith("python:") else None
        results = []
        for index in range(builds):
            if index:
                time.sleep(1.5)
                touch_all(project)
            results.append(reprobuild_image(project, env, override, nocache=True,
                                            record=work / f"{example.name}-{index}.json"))
        ids = [r.image_id for r in results]
        errors = [r.error for r in results if r.error]
        equal = "yes" if not errors and len(set(ids)) == 1 else "NO"
        shown = ids[0][7:19] if ids[0] else "-"
        secs = " ".join(f"{r.seconds:.0f}({r.normalize_s:.0f})" for r in results)
        print(f"{example.name:<20} {equal:<6} {shown:<20} {secs:<28} "
              f"{errors[0] if errors else ''}")
        if len(set(ids)) > 1:
            print("    ids: " + ", ".join(i[7:19] for i in ids))
        for image_id in set(ids) - {""}:
            with contextlib.suppress(docker.errors.DockerException):
                client.images.remove(image_id, force=True)
    print("    seconds: whole `reprobuild image` run (of which normalize)")


def docker_build(client: docker.DockerClient, project: Path, dockerfile: str,
                 nocache: bool) -> tuple[str, float]:
    started = time.monotonic()
    image_id = ""
    for chunk in client.api.build(path=str(project), dockerfile=dockerfile, nocache=nocache,
                                  rm=True, forcerm=True, decode=True, network_mode="none"):
        if "error" in chunk:
            raise RuntimeError(chunk["error"])
        image_id = str(chunk.get("aux", {}).get("ID", image_id))
    return image_id, time.monotonic() - started


def part_bc(env: dict[str, str], base: str, work: Path, client: docker.DockerClient) -> None:
    project = work / "app-project"
    shutil.copytree(EXAMPLES / "pip-requirements", project)
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text("")
    (project / "app" / "__main__.py").write_text("print('version 1')\n")
    settings = (project / "reprobuild.toml").read_text()
    settings = re.sub(r"(?m)^cmd = .*$", 'cmd = ["python", "-m", "app"]\nsource = ["app"]',
                      settings)
    (project / "reprobuild.toml").write_text(settings)
    git_commit(project)
    cold = reprobuild_image(project, env, base, nocache=True, record=work / "cold.json")
    (project / "app" / "__main__.py").write_text("print('version 2')\n")
    warm = reprobuild_image(project, env, base, nocache=False, record=work / "warm.json")

    subprocess.run([sys.executable, "-m", "reprobuild", "fetch", str(project)], env=env,
                   check=True, capture_output=True)
    (project / "Dockerfile.naive").write_text(NAIVE.format(base=base))
    (project / "app" / "__main__.py").write_text("print('version 1')\n")
    naive_cold_id, naive_cold = docker_build(client, project, "Dockerfile.naive", True)
    (project / "app" / "__main__.py").write_text("print('version 2')\n")
    naive_warm_id, naive_warm = docker_build(client, project, "Dockerfile.naive", False)

    def size(image_id: str) -> float:
        return float(client.api.inspect_image(image_id)["Size"]) / 1e6 if image_id else 0.0

    print("\n(b) rebuild after a source-only change vs the cold build (seconds)")
    print(f"{'Dockerfile':<34} {'cold':>8} {'source change':>14} {'ratio':>7}")
    for name, first, second in (
        ("reprobuild (generated, normalized)", cold.seconds, warm.seconds),
        ("naive (COPY . . ; pip install -r)", naive_cold, naive_warm),
    ):
        print(f"{name:<34} {first:>8.1f} {second:>14.1f} {second / first:>7.2f}")
    if cold.error or warm.error:
        print(f"    reprobuild error: {cold.error or warm.error}")
    print(f"    reprobuild split: cold build {cold.build_s:.1f} + normalize {cold.normalize_s:.1f};"
          f" warm build {warm.build_s:.1f} + normalize {warm.normalize_s:.1f}")
    print("\n(c) final image size (MB)")
    print(f"{'reprobuild':<34} {size(warm.image_id):>8.1f}")
    print(f"{'naive':<34} {size(naive_warm_id):>8.1f}")
    print(f"{'base image':<34} {size(client.api.inspect_image(base)['Id']):>8.1f}")
    for image_id in {cold.image_id, warm.image_id, naive_cold_id, naive_warm_id} - {""}:
        with contextlib.suppress(docker.errors.DockerException):
            client.images.remove(image_id, force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated example names for (a)")
    parser.add_argument("--skip-a", action="store_true")
    parser.add_argument("--skip-bc", action="store_true")
    options = parser.parse_args()

    services = ensure_services()
    require_mirror(services)
    client = docker.DockerClient(base_url=services.docker_host, timeout=900)
    base = ensure_python_base(client, services.mirror).from_ref
    version = client.version()
    print(f"engine {version['Version']} ({client.info()['Driver']}), base {base}")
    env = {**os.environ, "DOCKER_HOST": services.docker_host, "CI": "1", "GITHUB_OUTPUT": ""}
    cache = ROOT / ".cache" / "test-blobs"
    if cache.is_dir():
        env["REPROBUILD_CACHE_DIR"] = str(cache)
    with tempfile.TemporaryDirectory(prefix="bench-repro-") as tmp:
        work = Path(tmp)
        if not options.skip_a:
            only = {name for name in options.only.split(",") if name}
            part_a(env, base, work, options.builds, only, client)
        if not options.skip_bc:
            part_bc(env, base, work, client)


if __name__ == "__main__":
    main()
