"""``reprobuild pin FILE...``: pin Dockerfile images to ``name:tag@sha256:…``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from reprobuild.cli.options import ConfigOption, FormatOption, cli_errors, parse_key_values
from reprobuild.errors import UsageError

__all__ = ["pin"]

_FORMATS = ("text", "json")


@cli_errors
def pin(
    files: Annotated[list[Path], typer.Argument(help="Dockerfiles to pin.")],
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Change nothing; exit 1 when a reference is unpinned or its tag now "
            "resolves to another digest (drift).",
        ),
    ] = False,
    update: Annotated[
        bool,
        typer.Option("--update", help="Also move existing pins to their tags' current digests."),
    ] = False,
    format: FormatOption = "text",
    build_arg: Annotated[
        list[str] | None,
        typer.Option("--build-arg", help="KEY=VALUE to resolve ARGs in FROM."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Pin the images in FROM, ARG defaults used by FROM, COPY --from and RUN --mount
    from= to digests, editing only the references. Exit 0 ok, 1 unpinned or drift under
    --check, 2 when it cannot run (registry unreachable, unauthorized, bad reference)."""
    from reprobuild.config import load_config
    from reprobuild.pin import PinMode, pin_files
    from reprobuild.registry.client import RegistryClient

    if format not in _FORMATS:
        raise UsageError(f"--format must be one of {', '.join(_FORMATS)}, not {format!r}")
    if check and update:
        raise UsageError("--check and --update exclude each other")
    mode = PinMode.CHECK if check else PinMode.UPDATE if update else PinMode.WRITE
    project = load_config(config, start=files[0].parent if files else None)
    with RegistryClient.from_project(project) as client:
        report = pin_files(
            files, client, mode=mode, build_args=parse_key_values(build_arg, "--build-arg")
        )
    if format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        for result in report.results:
            if result.status.value in ("up-to-date", "digest-only"):
                continue
            stream = sys.stderr if result.status.is_problem and not check else sys.stdout
            print(result.describe(), file=stream)
        if check and not report.problems:
            print(f"all {len(report.results)} image references are pinned and current")
    raise typer.Exit(report.exit_code)
