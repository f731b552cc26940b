"""``reprobuild mirror FILE...``: copy digest-pinned base images into a mirror registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reprobuild.cli.options import ConfigOption, FormatOption, cli_errors, parse_key_values
from reprobuild.errors import UsageError

__all__ = ["mirror"]

_FORMATS = ("text", "json")


@cli_errors
def mirror(
    files: Annotated[list[Path], typer.Argument(help="Dockerfiles whose pinned images to mirror.")],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Mirror registry host[:port][/prefix] (default: "
            "mirror-registry in the promotion policy).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be copied; change nothing.")
    ] = False,
    build_arg: Annotated[
        list[str] | None,
        typer.Option("--build-arg", help="KEY=VALUE to resolve ARGs in FROM."),
    ] = None,
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="Promotion policy file.", dir_okay=False)
    ] = None,
    format: FormatOption = "text",
    config: ConfigOption = None,
) -> None:
    """Copy the images pinned by digest in FROM, COPY --from and RUN --mount from= into
    the mirror registry, by digest, and report what is already mirrored. Exit 0 done,
    2 when an image could not be copied (unreachable, unauthorized, bad input)."""
    from dataclasses import replace

    from reprobuild.config import load_config
    from reprobuild.promote.mirror import MirrorTarget, find_pinned_images, mirror_images
    from reprobuild.promote.policy import load_policy
    from reprobuild.registry.client import RegistryClient
    from reprobuild.registry.mirrors import RegistrySettings

    if format not in _FORMATS:
        raise UsageError(f"--format must be one of {', '.join(_FORMATS)}, not {format!r}")
    project = load_config(config, start=files[0].parent if files else None)
    target_text = to or load_policy(project, policy_file).mirror_registry
    if not target_text:
        raise UsageError(
            "no mirror registry: give --to HOST[:PORT][/prefix] or set mirror-registry in "
            "[tool.reprobuild.promotion]"
        )
    target = MirrorTarget.parse(target_text)
    images = find_pinned_images(files, parse_key_values(build_arg, "--build-arg"))
    settings = RegistrySettings.from_project(project)
    # Read the originals from their own registries: the point is to copy from upstream,
    # not from a configured pull-through mirror.
    with (
        RegistryClient(replace(settings, mirrors={})) as source_client,
        RegistryClient(settings) as dest_client,
    ):
        report = mirror_images(
            images,
            target,
            source_client=source_client,
            dest_client=dest_client,
            dry_run=dry_run,
        )
    if format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        for result in report.results:
            print(result.describe())
    raise typer.Exit(report.exit_code)
