"""Errors the engine module raises: one line each, never a docker-py traceback."""

from __future__ import annotations

from reprobuild.errors import ReprobuildError

__all__ = [
    "BuildStepError",
    "EngineError",
    "EngineUnreachableError",
    "PushError",
    "PushUnauthorizedError",
    "UnsupportedDockerfileError",
]


class EngineError(ReprobuildError):
    """The engine refused or failed an operation (exit 2)."""


class EngineUnreachableError(EngineError):
    """No Docker engine answers at the resolved address."""

    def __init__(self, host: str, detail: str = "") -> None:
        self.host = host
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"cannot reach the Docker engine at {host}; is dockerd running? "
            f"is DOCKER_HOST set?{suffix}"
        )


class BuildStepError(EngineError):
    """A Dockerfile step failed (exit 1: the build ran and the project's step is wrong)."""

    exit_code = 1

    def __init__(self, step: str, message: str, log_tail: tuple[str, ...] = ()) -> None:
        self.step = step
        self.reason = message
        self.log_tail = log_tail
        tail = " | ".join(line.strip() for line in log_tail[-3:] if line.strip())
        text = f"build failed at {step}: {message}"
        if tail and tail not in message:
            text += f" (log: {tail})"
        super().__init__(text.replace("\n", " ").replace("\r", " "))


class UnsupportedDockerfileError(EngineError):
    """The Dockerfile needs BuildKit and no BuildKit-capable docker CLI is available."""


class PushError(EngineError):
    """The registry rejected the push (the error arrived inside the 200 stream)."""


class PushUnauthorizedError(PushError):
    """The registry wants credentials the engine does not have (or they are wrong)."""
