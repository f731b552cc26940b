"""The ``reprobuild`` command line (typer).

Commands live in one module each and import heavy modules inside the command body, so
that ``reprobuild lint`` from a pre-commit hook starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from reprobuild import __version__
from reprobuild.cli import fetch as fetch_cmd
from reprobuild.cli import generate as generate_cmd
from reprobuild.cli import image as image_cmd
from reprobuild.cli import lint as lint_cmd
from reprobuild.cli import mirror as mirror_cmd
from reprobuild.cli import pin as pin_cmd
from reprobuild.cli import promote as promote_cmd
from reprobuild.cli import rules as rules_cmd
from reprobuild.cli import run as run_cmd
from reprobuild.cli import verify as verify_cmd

__all__ = ["COMMANDS", "app", "build_app", "main"]


def _version(value: bool) -> None:
    if value:
        print(f"reprobuild {__version__}")
        raise typer.Exit(0)


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """reprobuild: the container-image part of a reproducible ML run."""


# name -> command function: the one table of subcommands.
COMMANDS: dict[str, Callable[..., None]] = {
    "lint": lint_cmd.lint,
    "rules": rules_cmd.rules,
    "explain": rules_cmd.explain,
    "generate": generate_cmd.generate,
    "fetch": fetch_cmd.fetch,
    "pin": pin_cmd.pin,
    "image": image_cmd.image,
    "verify": verify_cmd.verify,
    "promote": promote_cmd.promote,
    "mirror": mirror_cmd.mirror,
    "run": run_cmd.run,
    "rerun": run_cmd.rerun,
}


def build_app(only: str | None = None) -> typer.Typer:
    """The typer app with every command, or with just ``only``: typer builds a click
    command for each registered function on every call (signatures, type hints), about
    half of a cold ``reprobuild lint``'s time, so `main()` registers only the one run."""
    built = typer.Typer(
        name="reprobuild",
        help="Reproducible ML environments: lint lockfiles and Dockerfiles, generate, build, "
        "record and promote images by digest.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    built.callback()(_root)
    for name, function in COMMANDS.items():
        if only is None or name == only:
            built.command(name)(function)
    return built


app = build_app()


def main() -> None:
    import sys

    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    chosen = build_app(command) if command in COMMANDS else app
    chosen(prog_name="reprobuild")
