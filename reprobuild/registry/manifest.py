"""What registries serve: media types, descriptors, raw manifests, resolved tags.

A :class:`Manifest` keeps the bytes exactly as served: its digest is the hash of those
bytes, and re-serialising the JSON would change it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reprobuild.registry.reference import ImageRef

__all__ = [
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INDEX_MEDIA_TYPES",
    "MANIFEST_MEDIA_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Descriptor",
    "Manifest",
    "Platform",
    "Resolved",
    "compute_digest",
    "digest_algorithm",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Descriptor:
        if not isinstance(data, dict) or not isinstance(data.get("digest"), str):
            raise ValueError("descriptor without a digest")
        platform = data.get("platform")
        return cls(
            media_type=str(data.get("mediaType", "")),
            digest=data["digest"],
            size=int(data.get("size", 0)),
            platform=(
                Platform(
                    os=str(platform.get("os", "")),
                    architecture=str(platform.get("architecture", "")),
                    variant=platform.get("variant"),
                )
                if isinstance(platform, dict)
                else None
            ),
            annotations=dict(data.get("annotations") or {}),
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    """Raw manifest bytes as served, with their media type and (verified) digest."""

    raw: bytes = field(repr=False)
    media_type: str
    digest: str

    @property
    def document(self) -> dict[str, Any]:
        data = json.loads(self.raw)
        if not isinstance(data, dict):
            raise ValueError("a manifest is a JSON object")
        return data

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @property
    def children(self) -> tuple[Descriptor, ...]:
        """The per-platform manifests of an index (empty for an image manifest)."""
        if not self.is_index:
            return ()
        return tuple(Descriptor.from_json(d) for d in self.document.get("manifests", []))

    @property
    def config(self) -> Descriptor | None:
        config = self.document.get("config")
        return Descriptor.from_json(config) if config is not None and not self.is_index else None

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        if self.is_index:
            return ()
        return tuple(Descriptor.from_json(d) for d in self.document.get("layers", []))


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a tag points at. For an index the pin is the index digest; ``children`` are
    the per-platform manifests (filled when asked for with ``platforms=True``)."""

    ref: ImageRef
    digest: str
    media_type: str
    size: int
    children: tuple[Descriptor, ...] = ()

    @property
    def pinned(self) -> ImageRef:
        return self.ref.with_digest(self.digest)

    def platform_digest(self, platform: str) -> str | None:
        """The child manifest digest for ``linux/arm64`` (or ``linux/arm64/v8``)."""
        for child in self.children:
            if child.platform and (
                str(child.platform) == platform
                or f"{child.platform.os}/{child.platform.architecture}" == platform
            ):
                return child.digest
        return None


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def digest_algorithm(digest: str) -> str:
    return digest.split(":", 1)[0]
