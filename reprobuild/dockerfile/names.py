"""Which file names are Dockerfiles (no parsing; cheap enough for directory walks)."""

from __future__ import annotations

__all__ = ["is_dockerfile_name"]


def is_dockerfile_name(name: str) -> bool:
    """``Dockerfile``, ``Containerfile``, ``Dockerfile.*``, ``*.Dockerfile`` (any case)."""
    lower = name.lower()
    for stem in ("dockerfile", "containerfile"):
        if lower == stem or lower.startswith(stem + ".") or lower.endswith("." + stem):
            return not lower.endswith((".dockerignore", ".containerignore"))
    return False
