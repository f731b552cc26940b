"""``reprobuild promote SRC DST...``: copy an image by digest, verify it, then tag it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reprobuild.cli.options import ConfigOption, FormatOption, cli_errors
from reprobuild.errors import UsageError

__all__ = ["promote"]

_FORMATS = ("text", "json")


@cli_errors
def promote(
    source: Annotated[
        str, typer.Argument(help="repo@sha256:…, or a record file written by `reprobuild image`.")
    ],
    destinations: Annotated[
        list[str], typer.Argument(help="registry/repo[:tag], one or more.", show_default=False)
    ],
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the plan (blobs to mount/copy/skip, tags); change nothing."
        ),
    ] = False,
    resolve_tag: Annotated[
        bool,
        typer.Option(
            "--resolve-tag",
            help="Accept a tagged SRC: resolve it to its digest now (recorded in the audit log).",
        ),
    ] = False,
    allow_retag: Annotated[
        bool,
        typer.Option("--allow-retag", help="Re-point an existing immutable tag to this digest."),
    ] = False,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="Promotion policy file (default: promotion.toml next "
            "to the project config, else [tool.reprobuild.promotion]).",
            dir_okay=False,
        ),
    ] = None,
    audit_log: Annotated[
        Path | None,
        typer.Option("--audit-log", help="Append the audit entry here instead.", dir_okay=False),
    ] = None,
    format: FormatOption = "text",
    config: ConfigOption = None,
) -> None:
    """Promote an image strictly by digest: copy the manifest bytes unchanged and every
    blob they reference (mounted within one registry, streamed across registries, skipped
    when present), verify the destination, then apply and read back the tags.
    Exit 0 done or nothing to do, 1 refused by policy or verification mismatch,
    2 could not run (unreachable, unauthorized, bad input)."""
    from dataclasses import replace

    from reprobuild.config import load_config
    from reprobuild.promote.copy import PromotionResult
    from reprobuild.promote.policy import load_policy
    from reprobuild.promote.run import PromoteOptions
    from reprobuild.promote.run import promote as run_promote
    from reprobuild.registry.client import RegistryClient
    from reprobuild.registry.mirrors import RegistrySettings

    if format not in _FORMATS:
        raise UsageError(f"--format must be one of {', '.join(_FORMATS)}, not {format!r}")
    project = load_config(config)
    policy = load_policy(project, policy_file)
    if audit_log is not None:
        policy = replace(policy, audit_log=audit_log)
    options = PromoteOptions(dry_run=dry_run, allow_retag=allow_retag, resolve_tag=resolve_tag)
    settings = RegistrySettings.from_project(project)
    # The destination is read directly, never through a pull-through mirror configured
    # for it: what is verified must be what that registry itself serves.
    with (
        RegistryClient(settings) as source_client,
        RegistryClient(replace(settings, mirrors={})) as dest_client,
    ):
        outcome = run_promote(
            source,
            destinations,
            policy=policy,
            source_client=source_client,
            dest_client=dest_client,
            options=options,
        )
    if format == "json":
        print(json.dumps(outcome.to_json(), indent=2))
    elif isinstance(outcome, PromotionResult):
        print(outcome.summary())
    else:
        print("\n".join(outcome.describe()))
