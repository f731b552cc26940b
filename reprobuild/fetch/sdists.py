"""Fetch for the sdist route (reprobuild.generate.sdists): the allowed packages' sdists
into ``.reprobuild/sdists/`` and the build requirements' wheels into
``.reprobuild/build-wheels/``, hash-verified, through the same content-addressed cache.

An sdist is chosen like a wheel: the lock's own sdist artifacts (uv.lock, pylock.toml;
poetry.lock's found on the index), or, for requirements files that give only hashes, a
cached blob remembered under an sdist name, else the index's sdist whose sha256 the lock
lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from packaging.utils import InvalidSdistFilename, parse_sdist_filename

from reprobuild.fetch.cache import BlobCache
from reprobuild.fetch.fetcher import (
    FetchError,
    FetchReport,
    _stream,
    cache_file,
    fetch_wheels,
    place_exactly,
)
from reprobuild.fetch.index import IndexFile, SimpleIndex, index_urls_for
from reprobuild.generate.sdists import BUILD_WHEELS_DIR, SDISTS_DIR, SdistRoute
from reprobuild.generate.target import Target
from reprobuild.models import ArtifactKind, LockedPackage

if TYPE_CHECKING:
    import httpx

__all__ = ["SdistFetch", "fetch_sdist_route", "fetch_sdists"]


@dataclass(frozen=True, slots=True)
class SdistFetch:
    sdists: FetchReport
    build_wheels: FetchReport


@dataclass(frozen=True, slots=True)
class _Sdist:
    filename: str
    sha256: str
    url: str | None


def _is_sdist_of(package: LockedPackage, filename: str) -> bool:
    try:
        name, _ = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return False
    return name == package.name


def _from_lock(package: LockedPackage, index_files: Sequence[IndexFile]) -> list[_Sdist]:
    urls = {f.filename: f.url for f in index_files}
    found = []
    for artifact in package.artifacts:
        sha = next((h.value for h in artifact.hashes if h.algorithm == "sha256"), None)
        name = artifact.filename
        if artifact.kind is ArtifactKind.SDIST and name and sha and _is_sdist_of(package, name):
            found.append(_Sdist(name, sha, artifact.url or urls.get(name)))
    return found


def _from_hashes(
    package: LockedPackage, cache: BlobCache, index_files: Sequence[IndexFile]
) -> list[_Sdist]:
    wanted = {h.value for h in package.hashes if h.algorithm == "sha256"}
    found = []
    for sha in sorted(wanted):
        name = cache.name_of(sha) if cache.get(sha) else None
        if name and _is_sdist_of(package, name):
            found.append(_Sdist(name, sha, None))
    found += [
        _Sdist(f.filename, f.sha256, f.url)
        for f in index_files
        if f.sha256 in wanted and _is_sdist_of(package, f.filename)
    ]
    return found


def _choose(
    package: LockedPackage, cache: BlobCache, indexes: Sequence[SimpleIndex]
) -> _Sdist | None:
    """Offline first; the index only when the lock and the cache do not say enough."""

    def usable(found: list[_Sdist]) -> _Sdist | None:
        ready = [s for s in found if s.url is not None or cache.get(s.sha256) is not None]
        return min(ready, key=lambda s: s.filename) if ready else None

    offline = _from_lock(package, ()) if package.artifacts else _from_hashes(package, cache, ())
    chosen = usable(offline)
    if chosen is not None:
        return chosen
    index_files = [f for index in indexes for f in index.files(package.name)]
    online = (
        _from_lock(package, index_files)
        if package.artifacts
        else _from_hashes(package, cache, index_files)
    )
    return usable(online)


def fetch_sdists(
    packages: Sequence[LockedPackage],
    destination: Path,
    *,
    cache: BlobCache,
    index_urls: Sequence[str],
    client: httpx.Client,
) -> FetchReport:
    """One sdist per package, verified against the lock; ``destination`` ends up holding
    exactly those files."""
    report = FetchReport()
    indexes = [SimpleIndex(client, url) for url in index_urls]
    host_auth = {urlsplit(i.url).netloc: i.auth for i in indexes if i.auth is not None}
    chosen: list[tuple[LockedPackage, _Sdist]] = []
    missing: list[str] = []
    for package in packages:
        sdist = _choose(package, cache, indexes)
        if sdist is None:
            missing.append(f"{package.name}=={package.version}")
        else:
            chosen.append((package, sdist))
    if missing:
        raise FetchError(
            "no sdist matching the lock's hashes for " + ", ".join(missing)
            + " (listed in [tool.reprobuild] allow-sdist)"
        )
    wanted: dict[str, str] = {}
    for package, sdist in chosen:
        url = sdist.url
        if url is None and cache.get(sdist.sha256) is None:
            # _choose keeps only downloadable or cached files
            raise FetchError(f"{package.name}: no download URL for {sdist.filename}")
        cache_file(
            cache,
            report,
            sha256=sdist.sha256,
            filename=sdist.filename,
            download=partial(_stream, client, url or "", host_auth),
            what=f"{package.name}=={package.version} ({sdist.filename})",
        )
        wanted[sdist.filename] = sdist.sha256
    place_exactly(cache, destination, wanted)
    report.files = sorted(wanted.items())
    return report


def fetch_sdist_route(
    route: SdistRoute,
    target: Target,
    root: Path,
    *,
    cache: BlobCache,
    index_urls: Sequence[str],
    client: httpx.Client,
) -> SdistFetch:
    """The wheels stage's inputs, into the project's ``.reprobuild/``."""
    return SdistFetch(
        sdists=fetch_sdists(
            route.sdists, root / SDISTS_DIR, cache=cache, index_urls=index_urls, client=client
        ),
        build_wheels=fetch_wheels(
            route.build, target, root / BUILD_WHEELS_DIR, cache=cache,
            index_urls=index_urls_for(route.build_lock), client=client,
        ),
    )
