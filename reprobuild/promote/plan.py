"""The promotion plan: what each destination lacks, read-only.

The source manifest is fetched by digest (bytes verified), and for an index every child
too, recursively. For each destination repository the plan says, per blob, whether it
is already there (skip), can be mounted from a repository of the same registry (mount:
no layer bytes move), or must be streamed across (copy); which manifests must be put;
and what each tag points at now (create, unchanged, or re-point).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from reprobuild.errors import UsageError
from reprobuild.promote.source import PromotionSource
from reprobuild.registry.errors import ManifestUnknownError
from reprobuild.registry.reference import ImageRef, parse_reference

if TYPE_CHECKING:
    from reprobuild.registry.client import Descriptor, RegistryClient

__all__ = [
    "BlobAction",
    "BlobStep",
    "Destination",
    "DestinationPlan",
    "ManifestStep",
    "Plan",
    "SourceManifest",
    "TagAction",
    "TagStep",
    "blobs_present",
    "load_tree",
    "make_plan",
    "parse_destinations",
]


class BlobAction(StrEnum):
    SKIP = "skip"
    MOUNT = "mount"
    COPY = "copy"


class TagAction(StrEnum):
    CREATE = "create"
    UNCHANGED = "unchanged"
    RETAG = "retag"
    """The tag exists and points at another digest."""


@dataclass(frozen=True, slots=True)
class SourceManifest:
    """One manifest of the source tree: raw bytes as served, and what it references."""

    digest: str
    media_type: str
    raw: bytes = field(repr=False)
    blobs: tuple[Descriptor, ...]
    children: tuple[SourceManifest, ...] = ()

    def children_first(self) -> Iterator[SourceManifest]:
        """Every manifest, each after the manifests it references (the push order)."""
        for child in self.children:
            yield from child.children_first()
        yield self

    def all_blobs(self) -> tuple[Descriptor, ...]:
        seen: dict[str, Descriptor] = {}
        for manifest in self.children_first():
            for blob in manifest.blobs:
                seen.setdefault(blob.digest, blob)
        return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class Destination:
    """``registry/repo[:tag]`` as given on the command line."""

    repo: ImageRef
    """Registry and repository only."""
    tag: str | None

    @property
    def text(self) -> str:
        return self.repo.name + (f":{self.tag}" if self.tag else "")


@dataclass(frozen=True, slots=True)
class BlobStep:
    digest: str
    size: int
    action: BlobAction
    mount_from: ImageRef | None = None


@dataclass(frozen=True, slots=True)
class ManifestStep:
    digest: str
    media_type: str
    present: bool


@dataclass(frozen=True, slots=True)
class TagStep:
    tag: str
    current: str | None
    """The digest the tag points at now; None when it does not exist."""
    action: TagAction


@dataclass(frozen=True, slots=True)
class DestinationPlan:
    repo: ImageRef
    blobs: tuple[BlobStep, ...]
    manifests: tuple[ManifestStep, ...]
    tags: tuple[TagStep, ...]

    @property
    def has_work(self) -> bool:
        return (
            any(b.action is not BlobAction.SKIP for b in self.blobs)
            or any(not m.present for m in self.manifests)
            or any(t.action is not TagAction.UNCHANGED for t in self.tags)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repo.name,
            "blobs": [
                {
                    "digest": b.digest,
                    "size": b.size,
                    "action": b.action.value,
                    **({"from": b.mount_from.name} if b.mount_from else {}),
                }
                for b in self.blobs
            ],
            "manifests": [
                {"digest": m.digest, "media_type": m.media_type, "present": m.present}
                for m in self.manifests
            ],
            "tags": [
                {"tag": t.tag, "current": t.current, "action": t.action.value} for t in self.tags
            ],
        }


@dataclass(frozen=True, slots=True)
class Plan:
    source: PromotionSource
    tree: SourceManifest
    destinations: tuple[DestinationPlan, ...]

    @property
    def digest(self) -> str:
        return self.source.digest

    @property
    def has_work(self) -> bool:
        return any(d.has_work for d in self.destinations)

    def bytes_to_copy(self) -> int:
        return sum(
            b.size for d in self.destinations for b in d.blobs if b.action is BlobAction.COPY
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source.to_json(),
            "digest": self.digest,
            "media_type": self.tree.media_type,
            "manifests": len(list(self.tree.children_first())),
            "bytes_to_copy": self.bytes_to_copy(),
            "destinations": [d.to_json() for d in self.destinations],
        }

    def describe(self) -> list[str]:
        """Human-readable plan lines (``--dry-run``)."""
        lines = [f"promote {self.source.describe()}"]
        for dest in self.destinations:
            lines.append(f"  to {dest.repo.name}:")
            for blob in dest.blobs:
                how = f" from {blob.mount_from.name}" if blob.mount_from else ""
                lines.append(f"    {blob.action.value:<5} blob {blob.digest} ({blob.size} B){how}")
            for manifest in dest.manifests:
                verb = "have " if manifest.present else "put  "
                lines.append(f"    {verb} manifest {manifest.digest}")
            for tag in dest.tags:
                was = f" (now {tag.current})" if tag.action is TagAction.RETAG else ""
                lines.append(f"    {tag.action.value:<5} tag {tag.tag}{was}")
        if not self.has_work:
            lines.append("  nothing to do: every destination already has it")
        return lines


def parse_destinations(texts: Sequence[str]) -> tuple[Destination, ...]:
    destinations: list[Destination] = []
    for text in texts:
        ref = parse_reference(text)
        if ref.digest is not None:
            raise UsageError(
                f"{text}: a destination is registry/repo[:tag]; the digest is the source's"
            )
        destinations.append(Destination(ImageRef(ref.registry, ref.repository), ref.tag))
    return tuple(destinations)


def load_tree(client: RegistryClient, ref: ImageRef, *, depth: int = 0) -> SourceManifest:
    """The manifest at ``ref`` (by digest) and, for an index, its children."""
    if depth > 4:
        raise UsageError(f"{ref.familiar}: indexes nested deeper than 4 levels")
    manifest = client.get_manifest(ref)
    if manifest.is_index:
        children = tuple(
            load_tree(client, ref.with_digest(child.digest), depth=depth + 1)
            for child in manifest.children
        )
        return SourceManifest(manifest.digest, manifest.media_type, manifest.raw, (), children)
    config = manifest.config
    blobs = ((config,) if config is not None else ()) + manifest.layers
    return SourceManifest(manifest.digest, manifest.media_type, manifest.raw, blobs)


def make_plan(
    source: PromotionSource,
    destinations: Sequence[Destination],
    *,
    source_client: RegistryClient,
    dest_client: RegistryClient,
) -> Plan:
    tree = load_tree(source_client, source.ref)
    planned: list[DestinationPlan] = []
    by_repo: dict[ImageRef, list[str]] = {}
    for dest in destinations:
        tags = by_repo.setdefault(dest.repo, [])
        if dest.tag is not None and dest.tag not in tags:
            tags.append(dest.tag)
    for repo, tags in by_repo.items():
        earlier = [p.repo for p in planned if p.repo.registry == repo.registry]
        planned.append(_plan_one(tree, source.ref, repo, tags, dest_client, earlier))
    return Plan(source=source, tree=tree, destinations=tuple(planned))


def _plan_one(
    tree: SourceManifest,
    source: ImageRef,
    repo: ImageRef,
    tags: list[str],
    client: RegistryClient,
    earlier_same_registry: list[ImageRef],
) -> DestinationPlan:
    manifests = tuple(
        ManifestStep(m.digest, m.media_type, _manifest_present(client, repo, m.digest))
        for m in tree.children_first()
    )
    mount_from: ImageRef | None = None
    if source.registry == repo.registry:
        mount_from = ImageRef(source.registry, source.repository)
    elif earlier_same_registry:
        mount_from = earlier_same_registry[0]  # copied there first, mounted from there
    all_blobs = tree.all_blobs()
    present = blobs_present(client, repo, [b.digest for b in all_blobs])
    blobs: list[BlobStep] = []
    for blob in all_blobs:
        if blob.digest in present:
            blobs.append(BlobStep(blob.digest, blob.size, BlobAction.SKIP))
        elif mount_from is not None:
            blobs.append(BlobStep(blob.digest, blob.size, BlobAction.MOUNT, mount_from))
        else:
            blobs.append(BlobStep(blob.digest, blob.size, BlobAction.COPY))
    tag_steps = []
    for tag in tags:
        current = _tag_digest(client, repo.with_tag(tag))
        action = (
            TagAction.CREATE
            if current is None
            else TagAction.UNCHANGED
            if current == tree.digest
            else TagAction.RETAG
        )
        tag_steps.append(TagStep(tag, current, action))
    return DestinationPlan(repo, tuple(blobs), manifests, tuple(tag_steps))


def blobs_present(
    client: RegistryClient, repo: ImageRef, digests: Sequence[str], workers: int = 8
) -> frozenset[str]:
    """Which of ``digests`` ``repo`` has (HEAD requests, several at a time)."""
    if len(digests) <= 1:
        return frozenset(d for d in digests if client.blob_exists(repo, d))
    with ThreadPoolExecutor(max_workers=min(workers, len(digests))) as pool:
        answers = list(pool.map(lambda d: client.blob_exists(repo, d), digests))
    return frozenset(d for d, there in zip(digests, answers, strict=True) if there)


def _manifest_present(client: RegistryClient, repo: ImageRef, digest: str) -> bool:
    try:
        client.resolve(repo.with_digest(digest))
    except ManifestUnknownError:
        return False
    return True


def _tag_digest(client: RegistryClient, ref: ImageRef) -> str | None:
    try:
        return client.resolve(ref).digest
    except ManifestUnknownError:
        return None
