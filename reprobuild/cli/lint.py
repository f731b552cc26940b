"""``reprobuild lint PATH...``: lockfiles and Dockerfiles, text/json/sarif/github output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from reprobuild.cli.options import ConfigOption, FormatOption, cli_errors, parse_key_values
from reprobuild.errors import UsageError

__all__ = ["lint"]

FILE_TYPES = (
    "auto",
    "dockerfile",
    "requirements",
    "poetry",
    "uv",
    "pylock",
    "conda-lock",
    "conda-explicit",
)


@cli_errors
def lint(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or directories (walked for lockfiles and Dockerfiles)."),
    ] = None,
    format: FormatOption = "text",
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding has this severity or higher: error, warning or info "
            "(default: error, or [tool.reprobuild.lint] fail-on).",
        ),
    ] = None,
    file_type: Annotated[
        str,
        typer.Option("--type", help=f"Treat every PATH as this type: {', '.join(FILE_TYPES)}."),
    ] = "auto",
    build_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--build-arg", help="KEY=VALUE to resolve ARGs in FROM, as docker build takes it."
        ),
    ] = None,
    select: Annotated[
        str | None, typer.Option("--select", help="Comma-separated rule codes to run only.")
    ] = None,
    ignore: Annotated[
        str | None, typer.Option("--ignore", help="Comma-separated rule codes to skip.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    config: ConfigOption = None,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Pin unpinned images (RB201, RB204) by digest, as `reprobuild pin` does; "
            "the only lint option that contacts registries.",
        ),
    ] = False,
) -> None:
    """Lint lockfiles and Dockerfiles. Exit 0 clean, 1 findings at or above --fail-on,
    2 when an input cannot be read."""
    import dataclasses

    from reprobuild.config import load_config
    from reprobuild.lint.config import lint_config_from
    from reprobuild.lint.engine import lint_paths
    from reprobuild.lint.formatters import FORMATS, render
    from reprobuild.lint.rule import Severity
    from reprobuild.lint.rules import KNOWN_CODES, all_rules

    if format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    if file_type not in FILE_TYPES:
        raise UsageError(f"--type must be one of {', '.join(FILE_TYPES)}, not {file_type!r}")
    targets = paths or [Path()]
    known = KNOWN_CODES
    project = load_config(config, start=targets[0] if targets[0].exists() else None)
    settings = lint_config_from(project, known)
    if fail_on is not None:
        try:
            settings = dataclasses.replace(settings, fail_on=Severity.parse(fail_on))
        except ValueError as exc:
            raise UsageError(f"--fail-on: {exc}") from None
    if select:
        settings = dataclasses.replace(settings, select=_codes(select, known, "--select"))
    if ignore:
        settings = dataclasses.replace(
            settings, ignore=settings.ignore | _codes(ignore, known, "--ignore")
        )
    result = lint_paths(
        targets,
        config=settings,
        file_type=None if file_type == "auto" else file_type,
        build_args=parse_key_values(build_arg, "--build-arg"),
    )
    # --fix (owned with `reprobuild pin`): pin, then lint again to report what is left.
    if fix:
        from reprobuild.pin import fix_lint_findings

        pinned = fix_lint_findings(
            result.findings, project, build_args=parse_key_values(build_arg, "--build-arg")
        )
        for pin_result in pinned.results if pinned else ():
            if pin_result.status.value in ("pinned", "unpinnable"):
                print(f"reprobuild: fix: {pin_result.describe()}", file=sys.stderr)
        if pinned and pinned.changed_files:
            result = lint_paths(
                targets,
                config=settings,
                file_type=None if file_type == "auto" else file_type,
                build_args=parse_key_values(build_arg, "--build-arg"),
            )
    # SARIF describes every rule; the other formats never look at the list.
    report = render(format, result, all_rules() if format == "sarif" else ())
    if output is not None:
        from reprobuild.fsutil import atomic_write_text

        atomic_write_text(output, report)
    else:
        sys.stdout.write(report)
    for path, reason in result.skipped:
        print(f"reprobuild: skipped {path}: {reason}", file=sys.stderr)
    for error in result.errors:
        print(f"reprobuild: error: {error}", file=sys.stderr)
    if result.errors:
        raise typer.Exit(2)
    if result.fails(settings.fail_on):
        raise typer.Exit(1)


def _codes(text: str, known: frozenset[str], option: str) -> frozenset[str]:
    codes = frozenset(c.strip().upper() for c in text.split(",") if c.strip())
    unknown = codes - known
    if unknown:
        raise UsageError(
            f"{option}: unknown rule code(s) {', '.join(sorted(unknown))}; "
            "`reprobuild rules` lists them"
        )
    return codes
