"""``reprobuild fetch``: the lock's wheels for the target, into the build context."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reprobuild.cli.options import ConfigOption, cli_errors

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
    from reprobuild.lockfiles import read_lock

    project = load_config(config, start=path.resolve())
    settings = image_config_from(project)
    lock = read_lock(settings.lockfile)
    base, packages = plan(settings, lock, PinFile.load(settings.root / settings.pins_file))
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), trust_env=True) as client:
        report = fetch_wheels(
            packages,
            base.target,
            settings.root / WHEELS_DIR,
            cache=BlobCache(cache_dir or default_cache_dir()),
            index_urls=index_urls_for(lock),
            client=client,
        )
    print(
        f"{len(report.files)} wheels in {WHEELS_DIR}: {report.downloaded} downloaded "
        f"({report.downloaded_bytes} bytes), {report.from_cache} from the cache"
    )
