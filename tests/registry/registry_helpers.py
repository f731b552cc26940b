"""Registry test helpers and the ``multiarch_index`` session fixture (imported by the
conftest.py of tests/registry and tests/pin).

``multiarch_index``: an OCI image index with a linux/amd64 and a linux/arm64 child, each
a real (tiny) image: a config blob and one uncompressed tar layer, generated here and
pushed with reprobuild's own client to ``registry_open`` (``multiarch/demo:1.0``) and to
the mirror registry (``reprobuild-test/multiarch:1.0``, i.e. ``docker.io/…`` through the
mirror configuration).
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reprobuild.registry.auth import Credentials, DockerConfig
from reprobuild.registry.client import OCI_INDEX, OCI_MANIFEST, RegistryClient
from reprobuild.registry.mirrors import RegistrySettings
from reprobuild.registry.reference import ImageRef, parse_reference

if TYPE_CHECKING:
    from tests.harness.types import RegistryInfo, Services

MIRRORED_REPOSITORY = "reprobuild-test/multiarch"


def client_for(info: RegistryInfo, **options: object) -> RegistryClient:
    """A client for one harness registry: its credentials and CA, no ~/.docker lookups."""
    credentials = {}
    if info.username is not None and info.password is not None:
        credentials[info.host] = Credentials(info.username, info.password)
    ca_files = {info.host: Path(info.ca_file)} if info.ca_file else {}
    options.setdefault("docker_config", DockerConfig())
    return RegistryClient(
        RegistrySettings(ca_files=ca_files),
        credentials=credentials,
        **options,  # type: ignore[arg-type]
    )


def layer_tar(files: dict[str, bytes]) -> bytes:
    """A deterministic uncompressed layer tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class PushedImage:
    ref: ImageRef
    digest: str
    size: int
    raw: bytes
    config: str
    layer: str


def push_image(
    client: RegistryClient, ref: ImageRef, *, arch: str, note: str, tag: str | None = None
) -> PushedImage:
    """Push a tiny linux/<arch> OCI image; tagged when ``tag`` is given, else by digest."""
    layer = layer_tar({"etc/reprobuild-test": f"{arch} {note}\n".encode()})
    import hashlib

    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()],
            },
        },
        sort_keys=True,
    ).encode()
    config_digest = client.upload_blob(ref, config)
    layer_digest = client.upload_blob(ref, layer)
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
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        },
        indent=2,
    ).encode()
    target = (
        ref.with_tag(tag) if tag else ref.with_digest("sha256:" + hashlib.sha256(raw).hexdigest())
    )
    digest = client.put_manifest(target, raw, OCI_MANIFEST)
    return PushedImage(
        target.with_digest(digest), digest, len(raw), raw, config_digest, layer_digest
    )


@dataclass(frozen=True)
class MultiArchIndex:
    ref: ImageRef
    """``127.0.0.1:PORT/multiarch/demo:1.0`` in registry_open (no digest)."""
    digest: str
    """The index digest: what a pin records."""
    children: dict[str, str]
    """``linux/amd64`` / ``linux/arm64`` -> child manifest digest."""
    raw: bytes
    mirror: str
    """The mirror registry's host, where ``docker.io/reprobuild-test/multiarch:1.0`` is."""

    @property
    def mirrored_ref(self) -> ImageRef:
        return parse_reference(f"{MIRRORED_REPOSITORY}:1.0")


def push_index(
    client: RegistryClient, repo: ImageRef, tag: str
) -> tuple[str, dict[str, str], bytes]:
    children = {}
    descriptors = []
    for arch in ("amd64", "arm64"):
        image = push_image(client, repo, arch=arch, note="multiarch")
        children[f"linux/{arch}"] = image.digest
        platform = {"architecture": arch, "os": "linux"}
        if arch == "arm64":
            platform["variant"] = "v8"
        descriptors.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": image.digest,
                "size": image.size,
                "platform": platform,
            }
        )
    raw = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}, indent=1
    ).encode()
    digest = client.put_manifest(repo.with_tag(tag), raw, OCI_INDEX)
    return digest, children, raw


@pytest.fixture(scope="session")
def multiarch_index(registry_open: RegistryInfo, services: Services) -> MultiArchIndex:
    repo = parse_reference(f"{registry_open.host}/multiarch/demo")
    with client_for(registry_open) as client:
        digest, children, raw = push_index(client, repo, "1.0")
    with RegistryClient(docker_config=DockerConfig()) as client:
        mirrored = parse_reference(f"{services.mirror}/{MIRRORED_REPOSITORY}")
        mirror_digest, _, _ = push_index(client, mirrored, "1.0")
    assert mirror_digest == digest  # same bytes, same digest, wherever they are
    return MultiArchIndex(repo.with_tag("1.0"), digest, children, raw, services.mirror)
