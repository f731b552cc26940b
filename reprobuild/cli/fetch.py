"""``reprobuild fetch``: the lock's wheels for the target, into the build context."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reprobuild.cli.options import ConfigOption, cli_errors

if TYPE_CHECKING:
    import httpx

    from reprobuild.generate.pins import PinFile
    from reprobuild.generate.python_source import DebRequest
    from reprobuild.generate.sdists import SdistRoute
    from reprobuild.generate.target import Target

__all__ = ["fetch"]

WHEELS_DIR = Path(".reprobuild") / "wheels"


@cli_errors
def fetch(
    path: Annotated[Path, typer.Argument(help="The project directory.")] = Path(),
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Content-addressed download cache "
                     "(default: $REPROBUILD_CACHE_DIR or ~/.cache/reprobuild)."),
    ] = None,
    update_debs: Annotated[
        bool,
        typer.Option("--update-debs", help="Re-resolve the distribution's .debs (Python for "
                     "bases without one, apt-packages) against the signed archive index."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Download every wheel the lock pins for the target platform and Python, verifying
    each hash, into .reprobuild/wheels/ (the build installs only from there)."""
    import httpx

    from reprobuild.config import load_config
    from reprobuild.fetch.cache import BlobCache, default_cache_dir
    from reprobuild.fetch.fetcher import fetch_wheels
    from reprobuild.fetch.index import index_urls_for
    from reprobuild.generate.config import image_config_from
    from reprobuild.generate.generator import plan
    from reprobuild.generate.pins import PinFile
    from reprobuild.generate.sdists import sdist_route
    from reprobuild.lockfiles import read_lock
    from reprobuild.models import LockFormat

    project = load_config(config, start=path.resolve())
    settings = image_config_from(project)
    lock = read_lock(settings.lockfile)
    if lock.format in (LockFormat.CONDA_LOCK, LockFormat.CONDA_EXPLICIT):
        from reprobuild.fetch.conda import fetch_conda_lock

        fetch_conda_lock(settings, lock, cache_dir or default_cache_dir())
        return
    pins = PinFile.load(settings.root / settings.pins_file)
    base, packages = plan(settings, lock, pins)
    route = sdist_route(settings, lock, packages, base.target)  # None: no allow-sdist
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), trust_env=True) as client:
        report = fetch_wheels(
            route.wheels if route is not None else packages,
            base.target,
            settings.root / WHEELS_DIR,
            cache=BlobCache(cache_dir or default_cache_dir()),
            index_urls=index_urls_for(lock),
            client=client,
        )
        if route is not None:
            _fetch_sdists(
                route, base.target, settings.root, cache_dir, index_urls_for(lock), client
            )
    print(
        f"{len(report.files)} wheels in {WHEELS_DIR}: {report.downloaded} downloaded "
        f"({report.downloaded_bytes} bytes), {report.from_cache} from the cache"
    )
    if base.debs is not None:
        _fetch_debs(settings.root, base.debs, pins, cache_dir, update=update_debs)


def _fetch_debs(
    root: Path, request: DebRequest, pins: PinFile, cache_dir: Path | None, *, update: bool
) -> None:
    """The .deb closure: resolved with apt against the signed index when not pinned (or
    on --update-debs) and recorded in the pin file; then downloaded hash-verified."""
    import httpx

    from reprobuild.fetch.cache import BlobCache, default_cache_dir
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
            print(f"pinned {len(debs.debs)} .debs in {pins.path.name}")
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), trust_env=True) as client:
        report = fetch_debs(
            debs.debs, root / DEBS_DIR, cache=BlobCache(cache_dir or default_cache_dir()),
            client=client,
        )
    print(
        f"{len(report.files)} .debs in {DEBS_DIR}: {report.downloaded} downloaded "
        f"({report.downloaded_bytes} bytes), {report.from_cache} from the cache"
    )


def _fetch_sdists(
    route: SdistRoute,
    target: Target,
    root: Path,
    cache_dir: Path | None,
    index_urls: list[str],
    client: httpx.Client,
) -> None:
    """The wheels stage's inputs: the allowed sdists (from the lock's indexes) and the
    build requirements' wheels (from theirs)."""
    from reprobuild.fetch.cache import BlobCache, default_cache_dir
    from reprobuild.fetch.sdists import fetch_sdist_route
    from reprobuild.generate.sdists import BUILD_WHEELS_DIR, SDISTS_DIR

    fetched = fetch_sdist_route(
        route, target, root, cache=BlobCache(cache_dir or default_cache_dir()),
        index_urls=index_urls, client=client,
    )
    for what, directory, report in (
        ("sdists", SDISTS_DIR, fetched.sdists),
        ("build wheels", BUILD_WHEELS_DIR, fetched.build_wheels),
    ):
        print(
            f"{len(report.files)} {what} in {directory}: {report.downloaded} downloaded "
            f"({report.downloaded_bytes} bytes), {report.from_cache} from the cache"
        )
