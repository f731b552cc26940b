"""Helpers for the promotion tests: clients for harness registries (and proxies in front
of them), and small multi-layer images pushed with reprobuild's own client."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprobuild.registry.auth import Credentials, DockerConfig
from reprobuild.registry.client import OCI_MANIFEST, RegistryClient
from reprobuild.registry.mirrors import RegistrySettings
from reprobuild.registry.reference import ImageRef, parse_reference

if TYPE_CHECKING:
    from tests.harness.types import RegistryInfo

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
CHUNK = 1024 * 1024


class Sleeps(list[float]):
    """Records back-off sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(
    *infos: RegistryInfo, via: dict[str, RegistryInfo] | None = None, **options: Any
) -> RegistryClient:
    """A client with the credentials of each registry; ``via`` maps a proxy address to the
    registry behind it (the proxy gets that registry's credentials)."""
    credentials: dict[str, Credentials] = {}
    hosts = [(info.host, info) for info in infos] + list((via or {}).items())
    for host, info in hosts:
        if info.username is not None and info.password is not None:
            credentials[host] = Credentials(info.username, info.password)
    ca_files = {i.host: Path(i.ca_file) for i in infos if i.ca_file}
    options.setdefault("docker_config", DockerConfig())
    return RegistryClient(RegistrySettings(ca_files=ca_files), credentials=credentials, **options)


def random_chunks(size: int, seed: str) -> Iterator[bytes]:
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(CHUNK, left)
        yield rng.randbytes(n)
        left -= n


@dataclass(frozen=True)
class LayeredImage:
    ref: ImageRef
    """repository@digest."""
    digest: str
    layers: tuple[str, ...]
    layer_sizes: tuple[int, ...]
    config: str

    @property
    def layer_bytes(self) -> int:
        return sum(self.layer_sizes)


def push_layered_image(
    client: RegistryClient,
    repo: str | ImageRef,
    *,
    seed: str,
    layer_sizes: tuple[int, ...] = (3000, 5000, 7000),
    tag: str | None = None,
) -> LayeredImage:
    """Push an OCI image of random (streamed) layers; by digest, and under ``tag``."""
    ref = parse_reference(repo) if isinstance(repo, str) else repo
    layers = []
    for index, size in enumerate(layer_sizes):
        digest = _digest_of_chunks(random_chunks(size, f"{seed}/{index}"))
        layers.append(
            client.upload_blob(ref, random_chunks(size, f"{seed}/{index}"), digest=digest)
        )
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": [f"SEED={seed}"]},
            "rootfs": {"type": "layers", "diff_ids": layers},
        },
        sort_keys=True,
    ).encode()
    config_digest = client.upload_blob(ref, config)
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {"mediaType": LAYER_TYPE, "digest": d, "size": s}
                for d, s in zip(layers, layer_sizes, strict=True)
            ],
        },
        indent=3,  # unusual formatting: a re-serialised manifest would change digest
    ).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    client.put_manifest(ref.with_digest(digest), raw, OCI_MANIFEST)
    if tag:
        client.put_manifest(ref.with_tag(tag), raw, OCI_MANIFEST)
    bare = ImageRef(ref.registry, ref.repository, digest=digest)
    return LayeredImage(bare, digest, tuple(layers), layer_sizes, config_digest)


def _digest_of_chunks(chunks: Iterator[bytes]) -> str:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def record_file(
    path: Path, reference: str, digest: str, *, errors: int = 0, pushed: bool = True
) -> Path:
    """A ``reprobuild.record/1`` file as ``reprobuild image --push`` writes it."""
    from reprobuild.image.record import (
        BuildRecord,
        EngineRecord,
        LintSummary,
        PushRecord,
        write_record,
    )

    sha = "sha256:" + "0" * 64
    record = BuildRecord(
        tool_version="test",
        project="demo",
        git=None,
        lint=LintSummary(ruleset="1", counts={"error": errors, "warning": 1, "info": 0}, files=2),
        dockerfile="Dockerfile",
        dockerfile_sha256=sha,
        dockerfile_generated=False,
        config=None,
        config_sha256=None,
        locks=(),
        base_images=(),
        build_args={},
        source_date_epoch=0,
        engine=EngineRecord("28", "1.50", "overlay2", "linux/amd64", False, "buildkit"),
        context_sha256=sha,
        image_id=sha,
        diff_ids=(),
        normalized=True,
        push=PushRecord(reference, digest) if pushed else None,
    )
    write_record(path, record)
    return path


def write_record(path: Path, image: LayeredImage, *, errors: int = 0) -> Path:
    return record_file(path, image.ref.name + ":latest", image.digest, errors=errors)
