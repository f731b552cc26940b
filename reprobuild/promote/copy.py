"""Carry out a :class:`~reprobuild.promote.plan.Plan`: blobs, then manifests (children
first), verify everything at every destination, and only then apply and read back tags.

Blobs stream from the source straight into the destination upload (hashed on the way by
the registry client, 1 MiB at a time): no layer is ever held in memory or on disk. An
interrupted run leaves no tag behind; the next run skips every blob that made it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reprobuild.promote.errors import VerificationError
from reprobuild.promote.plan import (
    BlobAction,
    BlobStep,
    DestinationPlan,
    Plan,
    SourceManifest,
    TagAction,
    blobs_present,
)
from reprobuild.registry.errors import DigestMismatchError, ManifestUnknownError
from reprobuild.registry.reference import ImageRef

if TYPE_CHECKING:
    from reprobuild.registry.client import RegistryClient

__all__ = ["PromotionResult", "execute"]

DEFAULT_WORKERS = 4


@dataclass(frozen=True, slots=True)
class PromotionResult:
    plan: Plan
    blobs_copied: int
    blobs_mounted: int
    blobs_skipped: int
    bytes_copied: int
    manifests_put: int
    tags_applied: tuple[str, ...]
    """``registry/repo:tag`` for every tag created or re-pointed."""

    @property
    def changed(self) -> bool:
        return bool(
            self.blobs_copied or self.blobs_mounted or self.manifests_put or self.tags_applied
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "result": "promoted" if self.changed else "unchanged",
            "blobs_copied": self.blobs_copied,
            "blobs_mounted": self.blobs_mounted,
            "blobs_skipped": self.blobs_skipped,
            "bytes_copied": self.bytes_copied,
            "manifests_put": self.manifests_put,
            "tags_applied": list(self.tags_applied),
        }

    def summary(self) -> str:
        tags = ", ".join(self.tags_applied) or "no tag changed"
        return (
            f"{self.plan.digest}: {self.blobs_copied} blobs copied ({self.bytes_copied} B), "
            f"{self.blobs_mounted} mounted, {self.blobs_skipped} already present, "
            f"{self.manifests_put} manifests put, verified; tags: {tags}"
        )


@dataclass(frozen=True, slots=True)
class _BlobOutcome:
    action: BlobAction
    size: int


def execute(
    plan: Plan,
    *,
    source_client: RegistryClient,
    dest_client: RegistryClient,
    workers: int = DEFAULT_WORKERS,
) -> PromotionResult:
    """Copy, verify, then tag. Raises VerificationError (exit 1) when any byte read
    back, or read from the source, does not match its digest; nothing is tagged then."""
    source = plan.source.ref
    outcomes: list[_BlobOutcome] = []
    manifests_put = 0
    try:
        for dest in plan.destinations:
            outcomes += _copy_blobs(dest, source, source_client, dest_client, workers)
            manifests_put += _put_manifests(dest, plan.tree, dest_client)
        for dest in plan.destinations:
            _verify_content(dest, plan.tree, dest_client)
        tags = tuple(
            tag for dest in plan.destinations for tag in _apply_tags(dest, plan.tree, dest_client)
        )
    except DigestMismatchError as exc:
        raise VerificationError(str(exc)) from None
    return PromotionResult(
        plan=plan,
        blobs_copied=sum(o.action is BlobAction.COPY for o in outcomes),
        blobs_mounted=sum(o.action is BlobAction.MOUNT for o in outcomes),
        blobs_skipped=sum(o.action is BlobAction.SKIP for o in outcomes),
        bytes_copied=sum(o.size for o in outcomes if o.action is BlobAction.COPY),
        manifests_put=manifests_put,
        tags_applied=tags,
    )


def _copy_blobs(
    dest: DestinationPlan,
    source: ImageRef,
    source_client: RegistryClient,
    dest_client: RegistryClient,
    workers: int,
) -> list[_BlobOutcome]:
    """All blob steps, ``workers`` at a time; the first error is raised at the end."""

    def one(step: BlobStep) -> _BlobOutcome:
        return _copy_blob(step, dest.repo, source, source_client, dest_client)

    steps = [s for s in dest.blobs if s.action is not BlobAction.SKIP]
    outcomes = [_BlobOutcome(BlobAction.SKIP, s.size) for s in dest.blobs if s not in steps]
    results = _run_all(one, steps, workers)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return outcomes + [r for r in results if isinstance(r, _BlobOutcome)]


def _run_all(
    func: Callable[[BlobStep], _BlobOutcome], steps: list[BlobStep], workers: int
) -> list[_BlobOutcome | BaseException | None]:
    """Run the steps; after the first failure no new step starts (the destination is
    probably gone) but those in flight finish, so that a rerun can reuse them. None
    marks a step that was not started."""
    failed = threading.Event()

    def guarded(step: BlobStep) -> _BlobOutcome | BaseException | None:
        if failed.is_set():
            return None
        try:
            return func(step)
        except Exception as exc:  # collected and re-raised by the caller
            failed.set()
            return exc

    if len(steps) <= 1 or workers <= 1:
        return [guarded(s) for s in steps]
    with ThreadPoolExecutor(max_workers=min(workers, len(steps))) as pool:
        return list(pool.map(guarded, steps))


def _copy_blob(
    step: BlobStep,
    repo: ImageRef,
    source: ImageRef,
    source_client: RegistryClient,
    dest_client: RegistryClient,
) -> _BlobOutcome:
    # A declined mount (e.g. no pull access to the other repository) falls back to a copy.
    if (
        step.action is BlobAction.MOUNT
        and step.mount_from is not None
        and dest_client.mount_blob(repo, step.digest, step.mount_from)
    ):
        return _BlobOutcome(BlobAction.MOUNT, step.size)
    # iter_blob hashes what it streams and raises before the last chunk is consumed when
    # the bytes do not match, so the upload is never committed (and upload_blob need not
    # hash them again); ``digest=`` is not passed to upload_blob because its presence
    # check (a HEAD) was already made by the plan.
    stream = source_client.iter_blob(source, step.digest)
    try:
        uploaded = dest_client.upload_blob(repo, stream, verified_digest=step.digest)
    finally:
        close = getattr(stream, "close", None)  # a generator: release its response now
        if close is not None:
            close()
    if uploaded != step.digest:
        raise VerificationError(f"{repo.name}: blob {step.digest} was stored as {uploaded}")
    return _BlobOutcome(BlobAction.COPY, step.size)


def _put_manifests(dest: DestinationPlan, tree: SourceManifest, client: RegistryClient) -> int:
    present = {m.digest for m in dest.manifests if m.present}
    put = 0
    for manifest in tree.children_first():
        if manifest.digest in present:
            continue
        client.put_manifest(
            dest.repo.with_digest(manifest.digest), manifest.raw, manifest.media_type
        )
        put += 1
    return put


def _verify_content(dest: DestinationPlan, tree: SourceManifest, client: RegistryClient) -> None:
    """Read every manifest back by digest (the client hashes the bytes) and check that
    every blob a step touched is there."""
    for manifest in tree.children_first():
        try:
            got = client.get_manifest(dest.repo.with_digest(manifest.digest))
        except ManifestUnknownError:
            raise VerificationError(
                f"{dest.repo.name}@{manifest.digest}: missing at the destination after the copy"
            ) from None
        if got.raw != manifest.raw:
            raise VerificationError(f"{dest.repo.name}@{manifest.digest}: bytes differ")
    moved = [s.digest for s in dest.blobs if s.action is not BlobAction.SKIP]
    missing = set(moved) - blobs_present(client, dest.repo, moved)
    if missing:
        raise VerificationError(
            f"{dest.repo.name}: blob {sorted(missing)[0]} missing at the destination after the copy"
        )


def _apply_tags(dest: DestinationPlan, tree: SourceManifest, client: RegistryClient) -> list[str]:
    applied: list[str] = []
    for step in dest.tags:
        if step.action is TagAction.UNCHANGED:
            continue
        ref = dest.repo.with_tag(step.tag)
        client.put_manifest(ref, tree.raw, tree.media_type)
        now = client.resolve(ref).digest
        if now != tree.digest:
            raise VerificationError(
                f"{ref.familiar}: the tag reads back as {now}, not {tree.digest}"
            )
        applied.append(f"{dest.repo.name}:{step.tag}")
    return applied
