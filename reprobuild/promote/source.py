"""What is promoted: ``repo@sha256:…``, a tag resolved on request, or a record file.

A record is the JSON file ``reprobuild image`` writes (schema ``reprobuild.record/1``).
Only the fields promotion needs are read here: the pushed reference, the manifest
digest, the image ID and the lint counts by severity.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprobuild.errors import ConfigError, UsageError
from reprobuild.registry.reference import ImageRef, parse_reference, validate_digest

if TYPE_CHECKING:
    from reprobuild.registry.client import RegistryClient

__all__ = ["RECORD_SCHEMA", "ImageRecord", "PromotionSource", "load_record", "resolve_source"]

RECORD_SCHEMA = "reprobuild.record/1"

# Stop-gap reader: the record module (reprobuild/image/record.py) was being written at
# the same time. Each field is looked up under the names below, first match wins.
_REFERENCE_KEYS = (
    "push.reference",
    "pushed.reference",
    "image.pushed_reference",
    "pushed_reference",
    "reference",
)
_DIGEST_KEYS = (
    "push.digest",
    "push.manifest_digest",
    "pushed.digest",
    "pushed.manifest_digest",
    "image.manifest_digest",
    "manifest_digest",
)
_IMAGE_ID_KEYS = ("image.id", "image.image_id", "image_id")
_LINT_KEYS = ("lint.counts", "lint.by_severity", "lint.summary", "lint")


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
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{where}: cannot read the record: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: not a reprobuild record (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("schema") != RECORD_SCHEMA:
        raise ConfigError(
            f"{where}: schema: expected {RECORD_SCHEMA!r} (a file written by `reprobuild image`)"
        )
    reference = _first(data, _REFERENCE_KEYS)
    digest = _first(data, _DIGEST_KEYS)
    if not isinstance(reference, str) or not isinstance(digest, str):
        raise ConfigError(
            f"{where}: the record has no pushed reference and manifest digest; "
            "build with `reprobuild image --push`"
        )
    ref = parse_reference(reference)
    ref = ImageRef(ref.registry, ref.repository, digest=validate_digest(digest))
    image_id = _first(data, _IMAGE_ID_KEYS)
    return ImageRecord(
        path=path,
        reference=ref,
        image_id=image_id if isinstance(image_id, str) else None,
        lint_counts=_lint_counts(_first(data, _LINT_KEYS)),
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


def _first(data: Mapping[str, Any], paths: tuple[str, ...]) -> Any:
    for dotted in paths:
        value: Any = data
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            return value
    return None


def _lint_counts(value: Any) -> Mapping[str, int] | None:
    if not isinstance(value, dict):
        return None
    counts = value.get("counts", value)
    if not isinstance(counts, dict):
        return None
    return {str(k).lower(): int(v) for k, v in counts.items() if isinstance(v, int)}
