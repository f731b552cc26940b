"""Options shared by several commands, defined once (pip-tools style), and the error edge."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from reprobuild.errors import ReprobuildError

__all__ = ["ConfigOption", "FormatOption", "cli_errors", "parse_key_values"]

P = ParamSpec("P")
R = TypeVar("R")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Config file (pyproject.toml with [tool.reprobuild], or reprobuild.toml). "
        "Default: the nearest one above the current directory.",
        dir_okay=False,
    ),
]

FormatOption = Annotated[
    str,
    typer.Option("--format", "-F", help="Output format.", case_sensitive=False),
]


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Map the one exception root to a one-line message and exit code 2 (could not run)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ReprobuildError as exc:
            print(f"reprobuild: error: {exc}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print("reprobuild: interrupted", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper


def parse_key_values(values: list[str] | None, option: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs (``--build-arg``); a bare ``KEY`` takes the environment's value."""
    import os

    from reprobuild.errors import UsageError

    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"{option} expects KEY=VALUE, got {item!r}")
        if not sep:
            if key not in os.environ:
                continue  # docker build drops a bare KEY that is not in the environment
            value = os.environ[key]
        result[key] = value
    return result
