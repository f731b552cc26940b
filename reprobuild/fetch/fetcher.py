"""Download the wheels a lock pins for one target into the build context, hash-verified,
through the content-addressed cache.

Per package: the candidate files are the lock's own artifacts (uv.lock and pylock.toml
name URLs; poetry.lock names files, found on the index) or, for requirements files that
give only hashes, the index's files whose sha256 the lock lists. Of the wheels that fit
the target, the one with the most specific tag wins (pip's order). The destination
directory ends up holding exactly those files, so the build context is deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from packaging.utils import parse_wheel_filename

from reprobuild.errors import ReprobuildError
from reprobuild.fetch.cache import BlobCache
from reprobuild.fetch.index import IndexFile, SimpleIndex, split_credentials
from reprobuild.generate.target import Target
from reprobuild.models import LockedPackage
from reprobuild.redaction import redact

if TYPE_CHECKING:
    import httpx

__all__ = ["FetchError", "FetchReport", "cache_file", "fetch_wheels", "place_exactly"]


class FetchError(ReprobuildError):
    """A locked artifact could not be found or downloaded (names the package)."""


@dataclass(slots=True)
class FetchReport:
    files: list[tuple[str, str]] = field(default_factory=list)
    """(filename, sha256) of every file placed in the destination."""
    downloaded: int = 0
    downloaded_bytes: int = 0
    from_cache: int = 0


def cache_file(
    cache: BlobCache,
    report: FetchReport,
    *,
    sha256: str,
    filename: str,
    download: Callable[[], Iterable[bytes]],
    what: str,
) -> None:
    """Make sure the blob is in the cache: downloaded (and verified) only when missing.
    The name is remembered so requirements locks, which name no files, can re-fetch
    offline. Shared by every fetcher (wheels, sdists, conda packages, .debs)."""
    if cache.get(sha256) is None:
        stored = cache.put(download(), expected_sha256=sha256, what=what)
        report.downloaded += 1
        report.downloaded_bytes += stored.stat().st_size
    else:
        report.from_cache += 1
    cache.remember_name(sha256, filename)


def place_exactly(cache: BlobCache, directory: Path, wanted: Mapping[str, str]) -> None:
    """Make ``directory`` hold exactly ``wanted`` (filename -> sha256) from the cache, so
    the build context is deterministic; files already there and right are left alone."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.iterdir():
        if stale.name not in wanted and stale.is_file():
            stale.unlink()
    for filename, sha256 in wanted.items():
        target = directory / filename
        if not (target.is_file() and _sha256_of(target) == sha256):
            cache.copy_to(sha256, target)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Candidate:
    filename: str
    sha256: str
    url: str | None


def _tag_rank(target: Target) -> dict[str, int]:
    from packaging.tags import compatible_tags, cpython_tags

    version = target.python_tuple
    abi = f"cp{version[0]}{version[1]}"
    ordered = [
        *cpython_tags(version, abis=[abi, "abi3", "none"]),
        *compatible_tags(version, interpreter=abi),
    ]
    # Platform tags aside, pip prefers the interpreter-specific ones; keep that order and
    # prefer the newest manylinux that still fits (the order Target.wheel_tags builds).
    rank: dict[str, int] = {}
    for tag in ordered:
        rank.setdefault(f"{tag.interpreter}-{tag.abi}", len(rank))
    return rank


def _score(filename: str, target: Target, rank: dict[str, int]) -> tuple[int, str]:
    _, _, _, tags = parse_wheel_filename(filename)
    fitting = [t for t in tags if t in target.wheel_tags()]
    best = min(rank.get(f"{t.interpreter}-{t.abi}", 10_000) for t in fitting)
    return best, filename


def _candidates(
    package: LockedPackage, target: Target, index_files: Sequence[IndexFile] | None
) -> list[_Candidate]:
    wanted = {h.value for h in package.hashes if h.algorithm == "sha256"}
    found: list[_Candidate] = []
    if package.artifacts:
        urls = {f.filename: f.url for f in index_files or ()}
        for artifact in package.artifacts:
            sha = next((h.value for h in artifact.hashes if h.algorithm == "sha256"), None)
            name = artifact.filename
            if not name or not sha or not name.endswith(".whl"):
                continue
            if target.accepts_wheel(name):
                found.append(_Candidate(name, sha, artifact.url or urls.get(name)))
    else:
        for file in index_files or ():
            if (
                file.sha256 in wanted
                and file.filename.endswith(".whl")
                and target.accepts_wheel(file.filename)
            ):
                found.append(_Candidate(file.filename, file.sha256, file.url))
    return found


def _best(
    candidates: Sequence[_Candidate], target: Target, rank: dict[str, int]
) -> _Candidate | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: _score(c.filename, target, rank))


def _stream(
    client: httpx.Client, url: str, host_auth: dict[str, tuple[str, str]]
) -> Iterator[bytes]:
    import httpx

    clean, auth = split_credentials(url)
    # Like pip, send an index's credentials to files served from the same host.
    auth = auth or host_auth.get(urlsplit(clean).netloc)
    try:
        with client.stream(
            "GET", clean, auth=auth or httpx.USE_CLIENT_DEFAULT, follow_redirects=True
        ) as response:
            if response.status_code != 200:
                raise FetchError(f"GET {redact(url)} answered {response.status_code}")
            yield from response.iter_bytes(chunk_size=1 << 16)
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot download {redact(url)}: {type(exc).__name__}") from None


def fetch_wheels(
    packages: Sequence[LockedPackage],
    target: Target,
    destination: Path,
    *,
    cache: BlobCache,
    index_urls: Sequence[str],
    client: httpx.Client,
) -> FetchReport:
    report = FetchReport()
    indexes = [SimpleIndex(client, url) for url in index_urls]
    host_auth = {urlsplit(i.url).netloc: i.auth for i in indexes if i.auth is not None}
    rank = _tag_rank(target)
    chosen: list[tuple[LockedPackage, _Candidate]] = []
    missing: list[str] = []
    for package in packages:
        # Offline first: the lock's own artifacts, or remembered cache entries for
        # requirements locks (which name no files). The index only when that is not enough.
        candidates = (
            _candidates(package, target, None)
            if package.artifacts
            else _cached_candidates(package, target, cache)
        )
        best = _best(candidates, target, rank)
        index_files: list[IndexFile] = []
        if best is None or (best.url is None and cache.get(best.sha256) is None):
            for index in indexes:
                index_files += index.files(package.name)
            best = _best(_candidates(package, target, index_files), target, rank)
        if best is None:
            missing.append(f"{package.name}=={package.version}{_sdist_note(package, index_files)}")
            continue
        chosen.append((package, best))
    if missing:
        raise FetchError(
            f"no wheel for {target.platform} Python {target.python} matching the lock's hashes: "
            + ", ".join(missing)
        )
    wanted: dict[str, str] = {}
    for package, candidate in chosen:
        url = candidate.url
        if url is None and cache.get(candidate.sha256) is None:
            raise FetchError(f"{package.name}: no download URL for {candidate.filename}")
        cache_file(
            cache,
            report,
            sha256=candidate.sha256,
            filename=candidate.filename,
            download=partial(_stream, client, url or "", host_auth),
            what=f"{package.name}=={package.version} ({candidate.filename})",
        )
        wanted[candidate.filename] = candidate.sha256
    place_exactly(cache, destination, wanted)
    report.files = sorted(wanted.items())
    return report


def _cached_candidates(
    package: LockedPackage, target: Target, cache: BlobCache
) -> list[_Candidate]:
    """Requirements locks name no files: a cached blob remembers its name in a sidecar."""
    found = []
    for h in package.hashes:
        if h.algorithm != "sha256" or cache.get(h.value) is None:
            continue
        name = cache.name_of(h.value)
        if name and target.accepts_wheel(name):
            found.append(_Candidate(name, h.value, None))
    return found


def _sdist_note(package: LockedPackage, index_files: Sequence[IndexFile]) -> str:
    """Say so when the locked hashes are an sdist's (requirements locks name no files)."""
    wanted = {h.value for h in package.hashes if h.algorithm == "sha256"}
    if any(f.sha256 in wanted and not f.filename.endswith(".whl") for f in index_files):
        return (
            " (sdist only: relock with a version that has wheels, or list it in "
            "[tool.reprobuild] allow-sdist with hashed build-requirements)"
        )
    return ""
