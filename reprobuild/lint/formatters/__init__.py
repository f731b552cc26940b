"""Findings -> text. Each formatter is ``render(result, rules) -> str``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import cast

from reprobuild.lint.engine import LintResult
from reprobuild.lint.rule import Rule

__all__ = ["FORMATS", "render"]

FORMATS: tuple[str, ...] = ("text", "json", "sarif", "github")

Renderer = Callable[[LintResult, Sequence[Rule]], str]


def render(fmt: str, result: LintResult, rules: Sequence[Rule]) -> str:
    module = importlib.import_module(f"{__name__}.{fmt}_format")
    return cast(Renderer, module.render)(result, rules)
