"""``reprobuild fetch``: the lock's inputs for the target, into the build context."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reprobuild.cli.options import ConfigOption, cli_errors

__all__ = ["fetch"]


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
    """Download every input the lock pins for the target platform and Python — wheels,
    conda packages, allowed sdists and their build requirements, the .debs of a Python
    for bases without one — verifying each hash, into .reprobuild/ (the build installs
    only from there)."""
    from reprobuild.config import load_config
    from reprobuild.fetch.cache import BlobCache, default_cache_dir
    from reprobuild.fetch.project import fetch_project
    from reprobuild.generate.config import image_config_from
    from reprobuild.generate.pins import PinFile
    from reprobuild.lockfiles import read_lock

    project = load_config(config, start=path.resolve())
    settings = image_config_from(project)
    fetch_project(
        settings,
        read_lock(settings.lockfile),
        PinFile.load(settings.root / settings.pins_file),
        root=settings.root,
        cache=BlobCache(cache_dir or default_cache_dir()),
        update_debs=update_debs,
    )
