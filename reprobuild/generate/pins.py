"""The committed pin file: image reference -> digest, so generation works offline.

``reprobuild.pins.json`` (sorted keys, one schema version)::

    {"schema": "reprobuild.pins/1",
     "images": {"python:3.11-slim-bookworm": {
         "digest": "sha256:…",                       # the index digest when multi-arch
         "platforms": {"linux/amd64": "sha256:…"}}}} # per-platform children, when known

Written when a reference is first resolved (or on ``--update``) and read by
``generate``/``generate --check``, which then need no network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobuild.errors import ConfigError, ReprobuildError
from reprobuild.fsutil import atomic_write_text

__all__ = ["PinFile", "PinnedImage", "Resolver", "UnpinnedImageError"]

SCHEMA = "reprobuild.pins/1"


class UnpinnedImageError(ReprobuildError):
    """A base image has no pin and resolving was not allowed."""


@dataclass(frozen=True, slots=True)
class PinnedImage:
    digest: str
    platforms: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"digest": self.digest}
        if self.platforms:
            data["platforms"] = dict(self.platforms)
        return data


Resolver = Callable[[str], PinnedImage]
"""Resolves a reference (``python:3.11-slim-bookworm``) to its current digest (network)."""


@dataclass(slots=True)
class PinFile:
    path: Path
    images: dict[str, PinnedImage] = field(default_factory=dict)
    changed: bool = False
    other: dict[str, Any] = field(default_factory=dict)
    """Sections other modules own (``debs``: reprobuild.generate.python_source), kept
    verbatim so that saving the images never drops them."""

    @classmethod
    def load(cls, path: Path) -> PinFile:
        if not path.exists():
            return cls(path=path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read pin file: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ConfigError(f"{path}: not a {SCHEMA} pin file")
        images: dict[str, PinnedImage] = {}
        for ref, entry in (data.get("images") or {}).items():
            digest = entry.get("digest") if isinstance(entry, dict) else None
            if not isinstance(digest, str) or not digest.startswith("sha256:"):
                raise ConfigError(f"{path}: images.{ref}.digest must be a sha256 digest")
            platforms = entry.get("platforms") or {}
            images[ref] = PinnedImage(digest=digest, platforms=tuple(sorted(platforms.items())))
        other = {k: v for k, v in data.items() if k not in ("schema", "images")}
        return cls(path=path, images=images, other=other)

    def get(
        self, reference: str, *, resolver: Resolver | None, update: bool = False
    ) -> PinnedImage:
        """The pin for ``reference``; resolved (and recorded) when missing or on update."""
        pinned = self.images.get(reference)
        if pinned is not None and not update:
            return pinned
        if resolver is None:
            raise UnpinnedImageError(
                f"{reference} has no pin in {self.path.name}; run `reprobuild generate` "
                "with network access to the registry (or `--update`) to record one"
            )
        fresh = resolver(reference)
        if fresh != pinned:
            self.images[reference] = fresh
            self.changed = True
        return fresh

    def render(self) -> str:
        document = {
            **self.other,
            "schema": SCHEMA,
            "images": {ref: self.images[ref].to_dict() for ref in sorted(self.images)},
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    def save(self) -> None:
        atomic_write_text(self.path, self.render())
        self.changed = False
