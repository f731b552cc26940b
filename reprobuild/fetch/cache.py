"""A content-addressed file cache: ``<root>/sha256/<hex>``, written atomically.

A file is stored under the SHA-256 of its bytes, verified while it is written, so a
cache hit never needs re-checking against the lock and a second fetch downloads nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from reprobuild.errors import ReprobuildError

__all__ = ["BlobCache", "HashMismatchError", "default_cache_dir"]


class HashMismatchError(ReprobuildError):
    """Downloaded bytes do not match the hash the lock pins (the file is discarded)."""


def default_cache_dir() -> Path:
    base = os.environ.get("REPROBUILD_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "reprobuild"


class BlobCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def get(self, sha256: str) -> Path | None:
        path = self.path_for(sha256)
        return path if path.is_file() else None

    def put(self, chunks: Iterable[bytes], *, expected_sha256: str, what: str) -> Path:
        """Store the streamed bytes if (and only if) they hash to ``expected_sha256``."""
        target = self.path_for(expected_sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        digest = hashlib.sha256()
        size = 0
        try:
            with tmp.open("wb") as handle:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != expected_sha256:
                raise HashMismatchError(
                    f"{what}: downloaded {size} bytes with sha256:{digest.hexdigest()}, but the "
                    f"lock pins sha256:{expected_sha256}; the file was discarded. The index "
                    "served different bytes than were locked: relock or check the index."
                )
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def name_of(self, sha256: str) -> str | None:
        """The file name a blob was fetched under (requirements locks name no files)."""
        sidecar = self.path_for(sha256).with_suffix(".name")
        return sidecar.read_text(encoding="utf-8").strip() if sidecar.is_file() else None

    def remember_name(self, sha256: str, filename: str) -> None:
        sidecar = self.path_for(sha256).with_suffix(".name")
        if not sidecar.is_file():
            tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}")
            tmp.write_text(filename + "\n", encoding="utf-8")
            tmp.replace(sidecar)

    def copy_to(self, sha256: str, destination: Path) -> None:
        source = self.path_for(sha256)
        tmp = destination.with_name(f".{destination.name}.part")
        shutil.copyfile(source, tmp)
        tmp.replace(destination)
