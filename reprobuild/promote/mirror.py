"""``reprobuild mirror``: copy the base images pinned in Dockerfiles into a mirror.

NVIDIA deletes end-of-life ``nvidia/cuda`` tags (and their layers) months after EOL; a
build pinned to such a digest stays buildable only if the bytes live somewhere else too.
Every image a Dockerfile pins by digest (FROM, COPY --from, RUN --mount from=) is copied
by digest with the promotion engine, so the mirror serves the same digest.

Names in the mirror: Docker Hub images keep their repository path (``library/python``,
``nvidia/cuda``), so the mirror can serve as dockerd's ``--registry-mirror``; images from
other registries go under the registry's name (``nvcr.io/nvidia/x`` ->
``<mirror>/nvcr.io/nvidia/x``). The original tag is added only where the mirror does not
have it yet: a mirror never re-points a tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprobuild.errors import LockParseError, ReprobuildError, UsageError
from reprobuild.promote.copy import execute
from reprobuild.promote.plan import Destination, TagAction, make_plan
from reprobuild.promote.source import PromotionSource
from reprobuild.registry.reference import DOCKER_HUB, ImageRef, parse_reference

if TYPE_CHECKING:
    from reprobuild.registry.client import RegistryClient

__all__ = [
    "MirrorReport",
    "MirrorResult",
    "MirrorStatus",
    "MirrorTarget",
    "PinnedImage",
    "find_pinned_images",
    "mirror_images",
]


class MirrorStatus(StrEnum):
    MIRRORED = "mirrored"
    PRESENT = "already-mirrored"
    PLANNED = "would-mirror"
    UNPINNED = "not-pinned"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class MirrorTarget:
    registry: str
    prefix: str = ""

    @classmethod
    def parse(cls, text: str) -> MirrorTarget:
        """``host[:port][/prefix]``."""
        host, _, prefix = text.strip().rstrip("/").partition("/")
        try:
            parse_reference(f"{host}/{prefix + '/' if prefix else ''}probe")
        except ReprobuildError:
            raise UsageError(f"{text!r}: a mirror is host[:port][/path-prefix]") from None
        if "." not in host and ":" not in host and host != "localhost":
            raise UsageError(f"{text!r}: the mirror must start with a registry host")
        return cls(host, prefix)

    def repository_for(self, ref: ImageRef) -> ImageRef:
        path = ref.repository
        if ref.registry != DOCKER_HUB:
            path = f"{_component(ref.registry)}/{path}"
        if self.prefix:
            path = f"{self.prefix}/{path}"
        return ImageRef(self.registry, path)


@dataclass(frozen=True, slots=True)
class PinnedImage:
    path: Path
    line: int
    written: str
    ref: ImageRef | None
    """None when the reference is not pinned by digest."""


@dataclass(frozen=True, slots=True)
class MirrorResult:
    image: PinnedImage
    status: MirrorStatus
    destination: ImageRef | None = None
    bytes_copied: int = 0
    detail: str = ""

    def describe(self) -> str:
        where = f"{self.image.path}:{self.image.line}"
        target = f" -> {self.destination.canonical}" if self.destination else ""
        extra = f" ({self.detail})" if self.detail else ""
        return f"{where}: {self.image.written}: {self.status.value}{target}{extra}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.image.path),
            "line": self.image.line,
            "reference": self.image.written,
            "status": self.status.value,
            "destination": self.destination.canonical if self.destination else None,
            "bytes_copied": self.bytes_copied,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class MirrorReport:
    results: tuple[MirrorResult, ...]

    @property
    def exit_code(self) -> int:
        return 2 if any(r.status is MirrorStatus.FAILED for r in self.results) else 0

    def to_json(self) -> dict[str, Any]:
        return {"results": [r.to_json() for r in self.results]}


def find_pinned_images(
    paths: Sequence[Path], build_args: Mapping[str, str] | None = None
) -> list[PinnedImage]:
    from reprobuild.dockerfile import parse_dockerfile
    from reprobuild.dockerfile.images import image_uses, is_scratch

    found: list[PinnedImage] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise LockParseError(path, f"cannot read: {exc.strerror or exc}") from None
        dockerfile = parse_dockerfile(path, text)
        for use in image_uses(dockerfile, dict(build_args or {})):
            if use.stage_reference or use.resolved is None or is_scratch(use.resolved):
                continue
            ref = parse_reference(use.resolved)
            found.append(PinnedImage(path, use.line, use.written, ref if ref.digest else None))
    return found


def mirror_images(
    images: Sequence[PinnedImage],
    target: MirrorTarget,
    *,
    source_client: RegistryClient,
    dest_client: RegistryClient,
    dry_run: bool = False,
) -> MirrorReport:
    """Mirror each distinct pinned image once; report every reference."""
    done: dict[ImageRef, MirrorResult] = {}
    results: list[MirrorResult] = []
    for image in images:
        if image.ref is None:
            results.append(MirrorResult(image, MirrorStatus.UNPINNED, detail="pin it first"))
            continue
        if image.ref not in done:
            done[image.ref] = _mirror_one(image, target, source_client, dest_client, dry_run)
        results.append(replace(done[image.ref], image=image))
    return MirrorReport(tuple(results))


def _mirror_one(
    image: PinnedImage,
    target: MirrorTarget,
    source_client: RegistryClient,
    dest_client: RegistryClient,
    dry_run: bool,
) -> MirrorResult:
    assert image.ref is not None and image.ref.digest is not None
    ref = image.ref
    source = PromotionSource(ImageRef(ref.registry, ref.repository, digest=ref.digest))
    repo = target.repository_for(ref)
    try:
        plan = make_plan(
            source,
            [Destination(repo, ref.tag)],
            source_client=source_client,
            dest_client=dest_client,
        )
        detail = ""
        if any(t.action is TagAction.RETAG for d in plan.destinations for t in d.tags):
            # Never re-point a mirror's tag: mirror the digest only, and say so.
            plan = replace(
                plan,
                destinations=tuple(
                    replace(d, tags=tuple(t for t in d.tags if t.action is not TagAction.RETAG))
                    for d in plan.destinations
                ),
            )
            detail = f"tag {ref.tag} already points at another digest there; left as is"
        pinned = repo.with_digest(ref.digest)
        if not plan.has_work:
            return MirrorResult(image, MirrorStatus.PRESENT, pinned, detail=detail)
        if dry_run:
            return MirrorResult(
                image, MirrorStatus.PLANNED, pinned, plan.bytes_to_copy(), detail=detail
            )
        result = execute(plan, source_client=source_client, dest_client=dest_client)
    except ReprobuildError as exc:
        return MirrorResult(image, MirrorStatus.FAILED, repo, detail=str(exc))
    return MirrorResult(image, MirrorStatus.MIRRORED, pinned, result.bytes_copied, detail=detail)


def _component(registry: str) -> str:
    """A registry host as one repository path component: ``127.0.0.1:5000`` ->
    ``127.0.0.1-5000``."""
    return re.sub(r"[^a-z0-9._-]+", "-", registry.lower()).strip("-._")
