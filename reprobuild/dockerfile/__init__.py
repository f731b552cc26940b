"""Dockerfiles: parsing (:func:`parse_dockerfile`) and the model rules consume.

The implementation lives in :mod:`reprobuild.dockerfile._parse`; names are imported
from it on first use (PEP 562) so that ``reprobuild.dockerfile.names``, which the lint
engine imports for every run, does not pay for the parser when only lockfiles are
linted (pre-commit start-up budget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reprobuild.dockerfile._parse import (
        Dockerfile,
        DockerfileContext,
        Heredoc,
        Instruction,
        SimpleCommand,
        Stage,
        parse_dockerfile,
        parse_key_values,
    )

__all__ = [
    "Dockerfile",
    "DockerfileContext",
    "Heredoc",
    "Instruction",
    "SimpleCommand",
    "Stage",
    "parse_dockerfile",
    "parse_key_values",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from reprobuild.dockerfile import _parse

        value = getattr(_parse, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
