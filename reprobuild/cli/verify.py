"""``reprobuild verify [RECORD]``: rebuild from the record's inputs (or check a registry
image) and compare the image ID with the record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from reprobuild.cli.options import FormatOption, cli_errors

__all__ = ["verify"]


@cli_errors
def verify(
    record: Annotated[
        Path, typer.Argument(help="The build record (default: ./reprobuild-record.json).")
    ] = Path("reprobuild-record.json"),
    image: Annotated[
        str | None,
        typer.Option("--image", metavar="REF@sha256:…", help="Check this registry image "
                     "against the record instead of rebuilding (pulled by digest)."),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option("--project", help="The project directory (default: the record's)."),
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option("--base-image", metavar="REF@DIGEST", envvar="REPROBUILD_BASE_IMAGE",
                     help="Override [tool.reprobuild] base-image, as `reprobuild image` does."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the rebuilt image when it differs.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No build progress.")] = False,
    output_format: FormatOption = "text",
) -> None:
    """Rebuild the image from the record's inputs (no cache) and compare its image ID with
    the record; on a mismatch, name the layers, paths and config fields that differ."""
    import json

    from reprobuild.engine import connect
    from reprobuild.errors import UsageError
    from reprobuild.image.record import load_record
    from reprobuild.image.verify import (
        check_inputs,
        check_rebuild,
        check_registry_image,
        progress_printer,
        project_root,
    )

    fmt = output_format.lower()
    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {output_format!r}")
    recorded = load_record(record)
    root = (project or project_root(record, recorded)).resolve()
    progress = progress_printer(quiet)
    if image is None:
        check_inputs(recorded, root)  # before the engine: refuse fast, even without one
    with connect() as engine:
        if image is not None:
            verdict = check_registry_image(engine, recorded, image, root, base_image, progress)
        else:
            verdict = check_rebuild(engine, recorded, root, base_image, keep, progress)
    if fmt == "json":
        sys.stdout.write(json.dumps(verdict.to_dict(record), indent=2, sort_keys=True) + "\n")
    else:
        print(verdict.render())
    if not verdict.match:
        raise typer.Exit(1)
