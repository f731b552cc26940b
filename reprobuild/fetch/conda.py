"""Download a conda lock's archives for one target into the build context, hash-verified,
through the content-addressed cache; with them the installer wheel and the small files
the image's builder stage checks and runs (see :mod:`reprobuild.generate.conda`).

``.reprobuild/conda/`` ends up holding exactly: ``packages/<archive>`` for every package
the lock pins for the target's subdir and ``noarch``, ``installer/<py-rattler wheel>``,
``packages.json``, ``installer.txt`` and ``install.py``.

Hashes: sha256 whenever the lock gives one (conda-lock v1+ and ``#sha256:`` explicit
lines do). md5 only when that is all the lock has (``conda list --explicit --md5``): the
archive is downloaded, its md5 checked, and it is stored in the cache under the sha256
of its bytes like every blob, with an ``md5/<hex>`` entry pointing at that sha256. The
pointer is not content-addressed, so a hit through it checks the md5 again.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reprobuild.fetch.cache import BlobCache, HashMismatchError
from reprobuild.fetch.fetcher import (
    FetchError,
    FetchReport,
    _stream,
    cache_file,
    place_exactly,
)
from reprobuild.fsutil import atomic_write_text
from reprobuild.generate.conda import (
    INSTALLER,
    CondaFile,
    CondaPlan,
    context_files,
    redact_conda,
)

if TYPE_CHECKING:
    import httpx

    from reprobuild.generate.config import ImageConfig
    from reprobuild.models import Lock

__all__ = ["CondaFetchReport", "Md5Index", "fetch_conda", "fetch_conda_lock"]

WHEELS_DIR = Path(".reprobuild") / "wheels"

_CHUNK = 1 << 20


@dataclass(slots=True)
class CondaFetchReport(FetchReport):
    """``files``: (archive filename, sha256) of every archive placed in ``packages/``."""

    md5_only: list[str] = field(default_factory=list)
    """Packages verified by md5 alone (the lock gives nothing stronger)."""


class Md5Index:
    """``<cache>/md5/<xx>/<md5>`` -> the sha256 the blob is stored under."""

    def __init__(self, cache: BlobCache) -> None:
        self.cache = cache

    def _pointer(self, md5: str) -> Path:
        return self.cache.root / "md5" / md5[:2] / md5

    def get(self, md5: str) -> str | None:
        """The sha256 of a cached blob whose md5 is ``md5`` (checked again), or None."""
        pointer = self._pointer(md5)
        if not pointer.is_file():
            return None
        sha256 = pointer.read_text(encoding="utf-8").strip()
        blob = self.cache.get(sha256)
        if blob is None or _digests(_read(blob))[1] != md5:
            return None
        return sha256

    def put(self, md5: str, sha256: str) -> None:
        pointer = self._pointer(md5)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(pointer, sha256 + "\n")


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(_CHUNK), b"")


def _digests(chunks: Iterable[bytes]) -> tuple[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        sha256.update(chunk)
        md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def _download_md5_only(
    client: httpx.Client, file: CondaFile, cache: BlobCache, md5_index: Md5Index
) -> str:
    """Download, check the md5, then store under the bytes' sha256; returns that sha256."""
    assert file.md5 is not None
    spool = cache.root / "tmp" / f".{file.filename}.{os.getpid()}.part"
    spool.parent.mkdir(parents=True, exist_ok=True)
    try:
        with spool.open("wb") as handle:
            for chunk in _stream(client, file.url, {}):
                handle.write(chunk)
        sha256, md5 = _digests(_read(spool))
        if md5 != file.md5:
            raise HashMismatchError(
                f"{file.display} ({file.filename}): downloaded bytes have md5:{md5}, but the "
                f"lock pins md5:{file.md5}; the file was discarded. The channel served "
                "different bytes than were locked: relock or check the channel."
            )
        cache.put(_read(spool), expected_sha256=sha256, what=file.filename)
    finally:
        spool.unlink(missing_ok=True)
    md5_index.put(file.md5, sha256)
    return sha256


def _ensure(
    client: httpx.Client, file: CondaFile, cache: BlobCache, md5_index: Md5Index,
    report: CondaFetchReport,
) -> str:
    """The cached blob's sha256 for ``file``, downloading it when the cache lacks it."""
    cached = cache.get(file.sha256) if file.sha256 else None
    if file.sha256 is None and file.md5 is not None:
        sha256 = md5_index.get(file.md5)
        cached = cache.get(sha256) if sha256 else None
    if cached is not None:
        report.from_cache += 1
        return cached.name
    if file.sha256 is not None:
        stored = cache.put(
            _stream(client, file.url, {}),
            expected_sha256=file.sha256,
            what=f"{file.display} ({file.filename})",
        )
        sha256 = file.sha256
    else:
        sha256 = _download_md5_only(client, file, cache, md5_index)
        stored = cache.path_for(sha256)
    report.downloaded += 1
    report.downloaded_bytes += stored.stat().st_size
    return sha256


def fetch_conda(
    plan: CondaPlan,
    platform: str,
    destination: Path,
    *,
    cache: BlobCache,
    client: httpx.Client,
) -> CondaFetchReport:
    """Fill ``destination`` (``.reprobuild/conda``) for ``plan``; see the module doc."""
    report = CondaFetchReport()
    md5_index = Md5Index(cache)
    archives: dict[str, str] = {}
    for file in plan.conda:
        try:
            archives[file.filename] = _ensure(client, file, cache, md5_index, report)
        except FetchError as exc:  # the fetcher's redact() misses conda's /t/<token>/ form
            raise FetchError(f"{file.display}: {redact_conda(str(exc))}") from None
        if file.sha256 is None:
            report.md5_only.append(file.display)
    try:
        wheel = INSTALLER.wheel_for(platform)
    except KeyError:
        raise FetchError(f"no {INSTALLER.name} wheel pinned for {platform}") from None
    cache_file(
        cache,
        report,
        sha256=wheel.sha256,
        filename=wheel.filename,
        download=lambda: _stream(client, wheel.url, {}),
        what=wheel.filename,
    )
    place_exactly(cache, destination / "packages", archives)
    place_exactly(cache, destination / "installer", {wheel.filename: wheel.sha256})
    for name, text in context_files(plan).items():
        target = destination / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            atomic_write_text(target, text)
    report.files = sorted(archives.items())
    return report


def fetch_conda_lock(
    config: ImageConfig,
    lock: Lock,
    cache: BlobCache,
    *,
    root: Path,
    say: Callable[[str], None] = print,
) -> None:
    """A conda lock's inputs: archives and installer into ``<root>/.reprobuild/conda/``,
    its pip packages' wheels into ``<root>/.reprobuild/wheels/``."""
    import httpx

    from reprobuild.fetch.fetcher import fetch_wheels
    from reprobuild.fetch.index import index_urls_for
    from reprobuild.generate.conda import CONDA_DIR, plan_conda
    from reprobuild.generate.pins import PinFile

    plan = plan_conda(config, lock, PinFile.load(config.root / config.pins_file))
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), trust_env=True) as client:
        report = fetch_conda(plan, config.platform, root / CONDA_DIR, cache=cache, client=client)
        say(
            f"{len(report.files)} conda packages in {CONDA_DIR}/packages: "
            f"{report.downloaded} downloaded ({report.downloaded_bytes} bytes), "
            f"{report.from_cache} from the cache (counts include the installer wheel)"
        )
        if report.md5_only:
            print(
                f"warning: verified by md5 only (the lock gives no sha256): "
                f"{', '.join(report.md5_only)}",
                file=sys.stderr,
            )
        if plan.pip and plan.pip_target is not None:
            wheels = fetch_wheels(
                plan.pip, plan.pip_target, root / WHEELS_DIR, cache=cache,
                index_urls=index_urls_for(lock), client=client,
            )
            say(
                f"{len(wheels.files)} wheels in {WHEELS_DIR}: {wheels.downloaded} downloaded "
                f"({wheels.downloaded_bytes} bytes), {wheels.from_cache} from the cache"
            )
