"""The ``reprobuild`` command line (typer).

Commands live in one module each and import heavy modules inside the command body, so
that ``reprobuild lint`` from a pre-commit hook starts fast.
"""

from __future__ import annotations

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

__all__ = ["app", "main"]

app = typer.Typer(
    name="reprobuild",
    help="Reproducible ML environments: lint lockfiles and Dockerfiles, generate, build, "
    "record and promote images by digest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"reprobuild {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """reprobuild: the container-image part of a reproducible ML run."""


app.command("lint")(lint_cmd.lint)
app.command("rules")(rules_cmd.rules)
app.command("explain")(rules_cmd.explain)
app.command("generate")(generate_cmd.generate)
app.command("fetch")(fetch_cmd.fetch)
app.command("pin")(pin_cmd.pin)
app.command("image")(image_cmd.image)
app.command("promote")(promote_cmd.promote)
app.command("mirror")(mirror_cmd.mirror)
app.command("verify")(verify_cmd.verify)
app.command("run")(run_cmd.run)
app.command("rerun")(run_cmd.rerun)


def main() -> None:
    app(prog_name="reprobuild")
