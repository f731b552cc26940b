"""Everything a project's build needs, fetched on the host: one entry point for
``reprobuild fetch`` and ``reprobuild image``.

Per route: wheels (pip route, and the pip packages of a conda-lock), conda archives and
their installer (conda route), allowed sdists with their locked build requirements, and
the distribution's ``.deb``s for bases without Python. Everything lands under
``<root>/.reprobuild/`` (``FETCHED_DIRS``), hash-verified, through the content-addressed
cache. ``root`` is the project for ``reprobuild fetch``; ``reprobuild image`` passes a
scratch directory so that the project stays clean.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reprobuild.fetch.cache import BlobCache

if TYPE_CHECKING:
    from reprobuild.generate.config import ImageConfig
    from reprobuild.generate.pins import PinFile
    from reprobuild.generate.python_source import DebRequest
    from reprobuild.models import Lock

__all__ = ["FETCHED_DIRS", "WHEELS_DIR", "fetch_project"]

WHEELS_DIR = Path(".reprobuild") / "wheels"
# Directories fetch fills (never committed; the image build adds them to its context).
FETCHED_DIRS = (
    ".reprobuild/wheels",
    ".reprobuild/conda",
    ".reprobuild/debs",
    ".reprobuild/sdists",
    ".reprobuild/build-wheels",
)

Say = Callable[[str], None]


def _say(message: str) -> None:
    print(message)


def fetch_project(
    settings: ImageConfig,
    lock: Lock,
    pins: PinFile,
    *,
    root: Path,
    cache: BlobCache,
    update_debs: bool = False,
    say: Say = _say,
) -> None:
    import httpx

    from reprobuild.fetch.fetcher import fetch_wheels
    from reprobuild.fetch.index import index_urls_for
    from reprobuild.generate.generator import plan
    from reprobuild.generate.sdists import sdist_route
    from reprobuild.models import LockFormat

    if lock.format in (LockFormat.CONDA_LOCK, LockFormat.CONDA_EXPLICIT):
        from reprobuild.fetch.conda import fetch_conda_lock

        fetch_conda_lock(settings, lock, cache, root=root, say=say)
        return
    base, packages = plan(settings, lock, pins)
    route = sdist_route(settings, lock, packages, base.target)  # None: no allow-sdist
    index_urls = index_urls_for(lock)
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), trust_env=True) as client:
        report = fetch_wheels(
            route.wheels if route is not None else packages,
            base.target,
            root / WHEELS_DIR,
            cache=cache,
            index_urls=index_urls,
            client=client,
        )
        say(
            f"{len(report.files)} wheels in {WHEELS_DIR}: {report.downloaded} downloaded "
            f"({report.downloaded_bytes} bytes), {report.from_cache} from the cache"
        )
        if route is not None:
            from reprobuild.fetch.sdists import fetch_sdist_route
            from reprobuild.generate.sdists import BUILD_WHEELS_DIR, SDISTS_DIR

            fetched = fetch_sdist_route(
                route, base.target, root, cache=cache, index_urls=index_urls, client=client
            )
            for what, directory, part in (
                ("sdists", SDISTS_DIR, fetched.sdists),
                ("build wheels", BUILD_WHEELS_DIR, fetched.build_wheels),
            ):
                say(
                    f"{len(part.files)} {what} in {directory}: {part.downloaded} downloaded "
                    f"({part.downloaded_bytes} bytes), {part.from_cache} from the cache"
                )
    if base.debs is not None:
        _fetch_debs(root, base.debs, pins, cache, update=update_debs, say=say)


def _fetch_debs(
    root: Path, request: DebRequest, pins: PinFile, cache: BlobCache, *, update: bool, say: Say
) -> None:
    """The .deb closure: resolved with apt against the signed index when not pinned (or
    on --update-debs) and recorded in the pin file; then downloaded hash-verified."""
    import httpx

    from reprobuild.fetch.debian import fetch_debs, resolve_debs
    from reprobuild.generate.python_source import (
        DEBS_DIR,
        UnpinnedDebsError,
        pinned_debs,
        record_debs,
    )

    try:
        if update:
            raise UnpinnedDebsError("--update-debs")
        debs = pinned_debs(pins, request)
    except UnpinnedDebsError:
        debs = resolve_debs(request)
        record_debs(pins, debs)
        if pins.changed:
            pins.save()
            say(f"pinned {len(debs.debs)} .debs in {pins.path.name}")
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), trust_env=True) as client:
        report = fetch_debs(debs.debs, root / DEBS_DIR, cache=cache, client=client)
    say(
        f"{len(report.files)} .debs in {DEBS_DIR}: {report.downloaded} downloaded "
        f"({report.downloaded_bytes} bytes), {report.from_cache} from the cache"
    )

