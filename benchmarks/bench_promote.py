"""Promotion benchmark: reprobuild vs ``docker pull/tag/push`` vs ``skopeo copy --all``.

One run. A multi-layer image (``--layers`` gzip layers of ``--layer-mib`` MiB of random,
incompressible data) is pushed to a throwaway registry A, then promoted by digest

  (a) within A (``bench/app`` -> ``bench/prod-<tool>:v1``), and
  (b) to a second registry B (a fresh B for each tool, so nobody finds blobs already
      there),

with ``reprobuild promote`` (a fresh interpreter: start-up included), with ``docker pull``
+ ``docker tag`` + ``docker push`` (the engine of ``scripts/services.sh up``; DOCKER_HOST
from .services/env; the image is removed from the engine before each pull), and with
``skopeo copy --all``. Every tool talks to the registries through a counting TCP relay,
so "bytes" is every byte sent over the connections in both directions (HTTP included).
Prints bytes, wall time, the tools' own CPU time (robust when the machine is busy; docker's
work happens in dockerd and is not counted) and the ratios; asserts nothing.

    python benchmarks/bench_promote.py [--layers 4] [--layer-mib 32]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reprobuild.registry.auth import DockerConfig  # noqa: E402
from reprobuild.registry.client import DOCKER_MANIFEST, RegistryClient  # noqa: E402
from reprobuild.registry.reference import parse_reference  # noqa: E402
from tests.harness.registry import RunningRegistry, start_registry  # noqa: E402

LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"


class Relay:
    """A TCP relay on 127.0.0.1 that counts the bytes it forwards (both directions)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.bytes = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for sock in (client, upstream):  # as every tool's own sockets: no Nagle delays
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        buffer = bytearray(256 * 1024)
        view = memoryview(buffer)
        try:
            while n := source.recv_into(buffer):
                sink.sendall(view[:n])
                with self._lock:
                    self.bytes += n
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def take(self) -> int:
        with self._lock:
            count, self.bytes = self.bytes, 0
        return count

    def close(self) -> None:
        self._server.close()


@dataclass(frozen=True)
class Measure:
    seconds: float
    bytes: int
    cpu: float
    """User + system CPU seconds of the tool's processes (not dockerd's)."""


@contextlib.contextmanager
def registry(workdir: Path) -> Iterator[tuple[RunningRegistry, Relay]]:
    running = start_registry(workdir)
    relay = Relay(running.port)
    try:
        yield running, relay
    finally:
        relay.close()
        running.stop()


def build_image(host: str, layers: int, layer_mib: int) -> str:
    """Push a real (pullable) image to ``host/bench/app``; return its digest."""
    rng = random.Random(20261126)
    repo = parse_reference(f"{host}/bench/app")
    blobs, diff_ids = [], []
    with RegistryClient(docker_config=DockerConfig()) as client:
        for index in range(layers):
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w") as tar:
                data = rng.randbytes(layer_mib * 1024 * 1024)
                info = tarfile.TarInfo(f"data/layer-{index}.bin")
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
            diff_ids.append("sha256:" + hashlib.sha256(raw.getvalue()).hexdigest())
            compressed = gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)
            blobs.append((client.upload_blob(repo, compressed), len(compressed)))
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["/bin/true"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            }
        ).encode()
        config_digest = client.upload_blob(repo, config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": LAYER_TYPE, "digest": d, "size": s} for d, s in blobs],
            },
            indent=3,
        ).encode()
        return client.put_manifest(repo.with_tag("src"), manifest, DOCKER_MANIFEST)


def timed(commands: list[list[str]], relays: list[Relay], env: dict[str, str]) -> Measure:
    for relay in relays:
        relay.take()
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for command in commands:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measure(seconds, sum(relay.take() for relay in relays), cpu)


def services_env(tmp: Path) -> dict[str, str]:
    """The environment for the tools: DOCKER_HOST from .services/env, and Python's
    bytecode cache on (in a private prefix): an installed reprobuild has compiled .pyc
    files, so PYTHONDONTWRITEBYTECODE (set in some sandboxes) would bill it ~0.3 s of
    compiling per start that users never pay."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    env_file = ROOT / ".services" / "env"
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key == "DOCKER_HOST":
                env.setdefault("DOCKER_HOST", value)
    return env


def tools(src: str, dst_repo: str, tmp: Path, env: dict[str, str]) -> dict[str, list[list[str]]]:
    """The commands each tool runs to promote ``src`` (by digest) to ``dst_repo-<tool>:v1``."""
    config = tmp / "pyproject.toml"
    config.write_text("[tool.reprobuild]\n")
    docker_dst = f"{dst_repo}-docker:v1"
    return {
        "reprobuild": [
            [
                sys.executable,
                "-m",
                "reprobuild",
                "promote",
                src,
                f"{dst_repo}-reprobuild:v1",
                "--config",
                str(config),
                "--audit-log",
                str(tmp / "audit.jsonl"),
            ],
        ],
        "docker": [
            ["docker", "pull", "-q", src],
            ["docker", "tag", src, docker_dst],
            ["docker", "push", "-q", docker_dst],
        ],
        "skopeo": [
            [
                "skopeo",
                "copy",
                "--all",
                "--quiet",
                "--insecure-policy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                f"docker://{src}",
                f"docker://{dst_repo}-skopeo:v1",
            ],
        ],
    }


def forget_in_engine(env: dict[str, str], *refs: str) -> None:
    subprocess.run(["docker", "rmi", "-f", *refs], env=env, capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--layer-mib", type=int, default=32)
    args = parser.parse_args()
    for binary in ("docker", "skopeo"):
        if shutil.which(binary) is None:
            raise SystemExit(f"{binary} not found: run scripts/services.sh up")
    results: dict[tuple[str, str], Measure] = {}
    with tempfile.TemporaryDirectory(prefix="bench-promote-") as tmp_name:
        tmp = Path(tmp_name)
        env = services_env(tmp)
        with registry(tmp / "a") as (_, relay_a):
            digest = build_image(relay_a.host, args.layers, args.layer_mib)
            src = f"{relay_a.host}/bench/app@{digest}"
            image_bytes = sum(
                d.size
                for d in RegistryClient(docker_config=DockerConfig())
                .get_manifest(parse_reference(src))
                .layers
            )
            print(f"image {src}: {args.layers} layers, {image_bytes / 2**20:.1f} MiB compressed")
            # An untimed dry run imports (and byte-compiles) everything a promotion uses.
            warm_up = tools(src, f"{relay_a.host}/bench/warm-up", tmp, env)["reprobuild"][0]
            subprocess.run([*warm_up, "--dry-run"], env=env, capture_output=True, check=True)
            for tool, commands in tools(src, f"{relay_a.host}/bench/prod", tmp, env).items():
                forget_in_engine(env, src, f"{relay_a.host}/bench/prod-docker:v1")
                results[("same", tool)] = timed(commands, [relay_a], env)
            for index, tool in enumerate(("reprobuild", "docker", "skopeo")):
                with registry(tmp / f"b{index}") as (_, relay_b):
                    commands = tools(src, f"{relay_b.host}/bench/prod", tmp, env)[tool]
                    forget_in_engine(env, src)
                    results[("cross", tool)] = timed(commands, [relay_a, relay_b], env)
                    forget_in_engine(env, f"{relay_b.host}/bench/prod-docker:v1")
            forget_in_engine(env, src, f"{relay_a.host}/bench/prod-docker:v1")
    report(results, image_bytes)


def report(results: dict[tuple[str, str], Measure], image_bytes: int) -> None:
    titles = {"same": "(a) same registry", "cross": "(b) to a second registry"}
    for scenario, title in titles.items():
        print(f"\n{title}")
        print(f"  {'tool':<12}{'time s':>9}{'cpu s':>8}{'MiB moved':>12}{'x image':>9}")
        for tool in ("reprobuild", "docker", "skopeo"):
            m = results[(scenario, tool)]
            print(
                f"  {tool:<12}{m.seconds:>9.2f}{m.cpu:>8.2f}{m.bytes / 2**20:>12.2f}"
                f"{m.bytes / image_bytes:>9.3f}"
            )
        ours = results[(scenario, "reprobuild")]
        for other in ("docker", "skopeo"):
            theirs = results[(scenario, other)]
            print(
                f"  {other} / reprobuild: time x{theirs.seconds / ours.seconds:.2f}, "
                f"bytes x{theirs.bytes / max(ours.bytes, 1):.1f}"
            )


if __name__ == "__main__":
    main()
