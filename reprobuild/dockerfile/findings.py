"""What Dockerfile rules share to report: a violation anchored on its instruction."""

from __future__ import annotations

from reprobuild.dockerfile import Instruction
from reprobuild.lint.rule import Violation

__all__ = ["violation"]


def violation(instruction: Instruction, message: str, *, line: int | None = None) -> Violation:
    """A violation at ``line`` (default: the instruction's first line). Its anchor is the
    instruction's first line, so ``# reprobuild: ignore=…`` above the instruction works
    even when ``line`` is inside a continuation or a heredoc."""
    return Violation(
        message=message, line=line or instruction.start_line, anchor_line=instruction.start_line
    )
