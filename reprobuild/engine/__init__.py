"""The Docker engine: the only package that talks to the daemon (see connect())."""

from __future__ import annotations

from reprobuild.engine.client import Engine, EngineInfo, connect, find_buildkit_cli
from reprobuild.engine.errors import (
    BuildStepError,
    EngineError,
    EngineUnreachableError,
    PushError,
    PushUnauthorizedError,
    UnsupportedDockerfileError,
)

__all__ = [
    "BuildStepError",
    "Engine",
    "EngineError",
    "EngineInfo",
    "EngineUnreachableError",
    "PushError",
    "PushUnauthorizedError",
    "UnsupportedDockerfileError",
    "connect",
    "find_buildkit_cli",
]
