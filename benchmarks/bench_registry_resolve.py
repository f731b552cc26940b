"""Tag resolution benchmark: reprobuild's registry client vs ``skopeo inspect``.

Pushes N small images (a config and a layer each, under N tags) to a local registry,
then resolves every tag to its digest, side by side in one run:

* reprobuild, ``RegistryClient.resolve_many`` (a fresh client: connection set-up
  included; keep-alive, 8 threads), and the same with one thread;
* ``reprobuild pin --check`` on a Dockerfile with one ``FROM`` per tag, in a fresh
  interpreter (start-up and imports included: what a CI step pays);
* ``skopeo inspect --tls-verify=false --format '{{.Digest}}' docker://…`` once per tag,
  the way a shell script pins images.

Checks that both tools report the same digests, prints times and ratios; asserts
nothing else. The registry is the one given with ``--registry HOST:PORT`` or a
throwaway ``/usr/bin/docker-registry`` started (and stopped) by this script.

    python benchmarks/bench_registry_resolve.py [--count 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reprobuild.registry.client import OCI_MANIFEST, RegistryClient  # noqa: E402
from reprobuild.registry.reference import ImageRef, parse_reference  # noqa: E402

REGISTRY_BINARY = "/usr/bin/docker-registry"


@contextlib.contextmanager
def throwaway_registry() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        config = Path(tmp) / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {tmp}/storage\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"127.0.0.1:{port}")
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def wait_for(host: str, timeout: float = 15.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://{host}/v2/", timeout=1).status_code in (200, 401):
                return
        time.sleep(0.1)
    raise SystemExit(f"registry {host} did not answer within {timeout}s")


def seed(client: RegistryClient, host: str, count: int) -> list[ImageRef]:
    repo = parse_reference(f"{host}/bench/resolve")
    refs = []
    for i in range(count):
        config = json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}, "n": i}
        ).encode()
        layer = f"layer {i}".encode()
        config_digest = client.upload_blob(repo, config)
        layer_digest = client.upload_blob(repo, layer)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest,
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        tagged = repo.with_tag(f"t{i}")
        client.put_manifest(tagged, manifest, OCI_MANIFEST)
        refs.append(tagged)
    return refs


def timed(func: Callable[[], list[str]]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def reprobuild_resolve(refs: list[ImageRef], workers: int) -> list[str]:
    with RegistryClient(max_workers=workers) as client:
        results = client.resolve_many(refs)
    digests = []
    for result in results:
        if isinstance(result, Exception):
            raise result
        digests.append(result.digest)
    return digests


def skopeo_resolve(skopeo: str, refs: list[ImageRef]) -> list[str]:
    digests = []
    for ref in refs:
        out = subprocess.run(
            [
                skopeo,
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                f"docker://{ref.familiar}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        digests.append(out.stdout.strip())
    return digests


def pin_cli(refs: list[ImageRef], directory: Path) -> list[str]:
    dockerfile = directory / "Dockerfile"
    dockerfile.write_text("".join(f"FROM {ref.familiar} AS s{i}\n" for i, ref in enumerate(refs)))
    out = subprocess.run(
        [sys.executable, "-m", "reprobuild", "pin", "--check", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=directory,
        check=False,
    )
    if out.returncode != 1:  # 1 = unpinned references found, as expected here
        raise SystemExit(f"reprobuild pin failed: {out.stderr}")
    return [r["current_digest"] for r in json.loads(out.stdout)["results"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--registry", help="HOST:PORT of a loopback registry to use")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise SystemExit("skopeo is not installed (scripts/services.sh up installs it)")
    context = contextlib.nullcontext(args.registry) if args.registry else throwaway_registry()
    with context as host:
        with RegistryClient() as client:
            refs = seed(client, host, args.count)
        runs: dict[str, list[float]] = {"concurrent": [], "sequential": [], "pin": [], "skopeo": []}
        workdir = Path(tempfile.mkdtemp(prefix="bench-pin-"))
        answers: dict[str, list[str]] = {}
        for _ in range(args.repeat):
            for name, func in (
                ("concurrent", lambda: reprobuild_resolve(refs, 8)),
                ("sequential", lambda: reprobuild_resolve(refs, 1)),
                ("pin", lambda: pin_cli(refs, workdir)),
                ("skopeo", lambda: skopeo_resolve(skopeo, refs)),
            ):
                seconds, digests = timed(func)
                runs[name].append(seconds)
                answers[name] = digests
        shutil.rmtree(workdir, ignore_errors=True)
    if not answers["concurrent"] == answers["sequential"] == answers["pin"] == answers["skopeo"]:
        raise SystemExit("the tools disagree about the digests")
    best = {name: min(times) for name, times in runs.items()}
    print(f"resolve {args.count} tags on {host} (best of {args.repeat}, same digests: yes)")
    for name, label in (
        ("concurrent", "reprobuild resolve_many, 8 threads"),
        ("sequential", "reprobuild resolve_many, 1 thread "),
        ("pin", "reprobuild pin --check (new process)"),
        ("skopeo", "skopeo inspect, one per tag         "),
    ):
        median = statistics.median(runs[name])
        print(f"  {label}: {best[name] * 1000:8.1f} ms  (median {median * 1000:.1f} ms)")
    print(f"  ratio skopeo / reprobuild (8 threads): {best['skopeo'] / best['concurrent']:.1f}x")
    print(f"  ratio skopeo / reprobuild (1 thread):  {best['skopeo'] / best['sequential']:.1f}x")
    print(f"  ratio skopeo / reprobuild pin CLI:     {best['skopeo'] / best['pin']:.1f}x")


if __name__ == "__main__":
    main()
