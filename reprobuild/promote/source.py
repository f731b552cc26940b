"""What is promoted: ``repo@sha256:…``, a tag resolved on request, or a record file.

A record is the JSON file ``reprobuild image`` writes (schema ``reprobuild.record/1``,
:mod:`reprobuild.image.record`); promotion uses its pushed reference and manifest
digest, the image ID and the lint counts by severity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprobuild.errors import ConfigError, UsageError
from reprobuild.registry.reference import ImageRef, parse_reference, validate_digest

if TYPE_CHECKING:
    from reprobuild.registry.client import RegistryClient

__all__ = ["ImageRecord", "PromotionSource", "load_record", "resolve_source"]


@dataclass(frozen=True, slots=True)
class ImageRecord:
    path: Path
    reference: ImageRef
    """The pushed repository, with the manifest digest."""
    image_id: str | None
    lint_counts: Mapping[str, int] | None = field(default=None, compare=False)
    """Findings by severity (``error``, ``warning``, …); None when lint did not run."""

    @property
    def lint_passed(self) -> bool:
        return self.lint_counts is not None and int(self.lint_counts.get("error", 0)) == 0


@dataclass(frozen=True, slots=True)
class PromotionSource:
    ref: ImageRef
    """Repository and digest (never only a tag)."""
    record: ImageRecord | None = None
    resolved_from: str | None = None
    """The tag reference ``--resolve-tag`` resolved, as written."""

    @property
    def digest(self) -> str:
        assert self.ref.digest is not None
        return self.ref.digest

    def describe(self) -> str:
        if self.record is not None:
            return f"{self.record.path} ({self.ref.canonical})"
        if self.resolved_from is not None:
            return f"{self.resolved_from} (resolved to {self.digest})"
        return self.ref.canonical

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.ref.canonical,
            "digest": self.digest,
            "record": str(self.record.path) if self.record else None,
            "resolved_from": self.resolved_from,
        }


def load_record(path: Path) -> ImageRecord:
    """The promotion-relevant part of a record (read by :mod:`reprobuild.image.record`)."""
    from reprobuild.image.record import load_record as load_build_record

    record = load_build_record(path)
    if record.push is None:
        raise ConfigError(
            f"{path}: push: the image was not pushed; build with `reprobuild image --push` "
            "(promotion copies from the pushed digest)"
        )
    pushed = parse_reference(record.push.reference)
    return ImageRecord(
        path=path,
        reference=ImageRef(
            pushed.registry, pushed.repository, digest=validate_digest(record.push.digest)
        ),
        image_id=record.image_id,
        lint_counts=dict(record.lint.counts),
    )


def resolve_source(
    text: str, client: RegistryClient | None, *, resolve_tag: bool
) -> PromotionSource:
    """``repo@digest`` as is; a tag only with ``resolve_tag`` (needs ``client``); a path
    to an existing file is read as a record."""
    path = Path(text)
    if path.suffix == ".json" or path.is_file():
        record = load_record(path)
        return PromotionSource(ref=record.reference, record=record)
    ref = parse_reference(text)
    if ref.digest is not None:
        return PromotionSource(ref=ImageRef(ref.registry, ref.repository, digest=ref.digest))
    if not resolve_tag:
        raise UsageError(
            f"{text}: promotion is by digest; give repo@sha256:…, a record file, or "
            "--resolve-tag to resolve the tag now (what it resolved is recorded)"
        )
    if client is None:
        raise UsageError(f"{text}: resolving a tag needs a registry client")
    digest = client.resolve(ref).digest
    return PromotionSource(
        ref=ImageRef(ref.registry, ref.repository, digest=digest), resolved_from=ref.canonical
    )
