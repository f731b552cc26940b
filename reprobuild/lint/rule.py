"""The types every lint rule and formatter shares.

A rule is a module with a docstring that *is* its documentation (``## What it does``,
``## Why is this bad?``, ``## Example``, ``## Fix``) and one ``RULE = Rule(...)`` whose
``check`` yields :class:`Violation`s. The engine turns violations into
:class:`Finding`s, applying configured severities and suppressions; formatters only
ever see findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any

__all__ = ["Finding", "FixAvailability", "Rule", "Severity", "Target", "Violation"]


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {text!r} (expected info, warning or error)"
            ) from None


class FixAvailability(Enum):
    NONE = "none"
    SOMETIMES = "sometimes"
    ALWAYS = "always"


class Target(Enum):
    LOCK = "lock"
    """``check(lock: Lock)``"""
    DOCKERFILE = "dockerfile"
    """``check(dockerfile: Dockerfile, ctx: DockerfileContext)``"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """What a rule reports: a message and where. Code and severity come from the rule."""

    message: str
    line: int | None = None
    column: int | None = None
    path: Path | None = None
    """The file the violation is in, when not the file being linted (``-r`` includes)."""
    package: str | None = None
    """The package concerned (for per-package ignores), canonical name."""
    anchor_line: int | None = None
    """The line a suppression comment is looked for above (a Dockerfile instruction's first
    line when ``line`` points inside a continuation)."""
    severity: Severity | None = None
    """Overrides the rule's default severity for this one violation (e.g. a warning case)."""
    inline_ignores: frozenset[str] = frozenset()
    """Codes suppressed in the source at the violation's spot (``# reprobuild: ignore=…``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    """One line: what the rule flags (listed by ``reprobuild rules``)."""
    target: Target
    check: Callable[..., Iterable[Violation]]
    doc: str
    """Markdown documentation: the rule module's docstring."""
    fix: FixAvailability = FixAvailability.NONE
    fix_title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    path: Path
    line: int | None = None
    column: int | None = None
    package: str | None = None
    fix_title: str | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (str(self.path), self.line or 0, self.column or 0, self.code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.label,
            "message": self.message,
            "path": self.path.as_posix(),
            "line": self.line,
            "column": self.column,
            "package": self.package,
            "fix": self.fix_title,
        }
