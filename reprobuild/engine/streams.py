"""Pure parsers for the engine's JSON-lines streams (build and push), testable without
an engine. Both streams report failures *inside* an HTTP 200 response, as
``{"error": …, "errorDetail": {…}}`` objects, so they are parsed here and raised."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reprobuild.engine.errors import BuildStepError, PushError, PushUnauthorizedError
from reprobuild.redaction import redact

__all__ = ["BuildResult", "parse_build_stream", "parse_push_stream"]

_STEP = re.compile(r"^Step \d+/\d+ : ")
_BUILT = re.compile(r"^Successfully built ([0-9a-f]{12,64})\s*$")
_PUSH_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_UNAUTHORIZED = re.compile(
    r"unauthorized|authentication required|no basic auth credentials|denied|401", re.I
)
TAIL_LINES = 20


@dataclass(frozen=True, slots=True)
class BuildResult:
    image_id: str
    steps: int


def _message(event: Mapping[str, Any]) -> str:
    detail = event.get("errorDetail")
    text = event.get("error")
    if not text and isinstance(detail, Mapping):
        text = detail.get("message")
    return redact(str(text or "unknown error")).strip()


def parse_build_stream(
    events: Iterable[Mapping[str, Any]], progress: Callable[[str], None]
) -> BuildResult:
    """Consume a decoded legacy-builder stream: forward output lines, remember the current
    step and the tail of its log, raise :class:`BuildStepError` on an in-band error."""
    step = "the first step"
    steps = 0
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    image_id: str | None = None
    short_id: str | None = None
    for event in events:
        if "error" in event or "errorDetail" in event:
            raise BuildStepError(step, _message(event), tuple(tail))
        aux = event.get("aux")
        if isinstance(aux, Mapping) and isinstance(aux.get("ID"), str):
            image_id = aux["ID"]
        text = event.get("stream")
        if not isinstance(text, str):
            continue
        for line in text.splitlines():
            if _STEP.match(line):
                step = line.strip()
                steps += 1
                tail.clear()
            elif line.strip():
                tail.append(line)
            built = _BUILT.match(line)
            if built:
                short_id = built.group(1)
            progress(line)
    if image_id is None and short_id is not None:
        image_id = short_id  # pre-1.30 engines: only the short ID; the caller inspects it
    if image_id is None:
        raise BuildStepError(step, "the engine ended the build without an image ID", tuple(tail))
    return BuildResult(image_id=image_id, steps=steps)


def parse_push_stream(
    events: Iterable[Mapping[str, Any]], reference: str, progress: Callable[[str], None]
) -> str:
    """The manifest digest of a push, from ``aux.Digest`` or the final status line."""
    digest: str | None = None
    for event in events:
        if "error" in event or "errorDetail" in event:
            message = _message(event)
            if _UNAUTHORIZED.search(message):
                raise PushUnauthorizedError(
                    f"push of {reference} was refused: {message}; log in to the registry "
                    "(docker login) or check the credentials"
                )
            raise PushError(f"push of {reference} failed: {message}")
        aux = event.get("aux")
        if isinstance(aux, Mapping) and isinstance(aux.get("Digest"), str):
            digest = aux["Digest"]
        status = event.get("status")
        if isinstance(status, str):
            found = _PUSH_DIGEST.search(status)
            if found and digest is None:
                digest = found.group(1)
            if event.get("id") is None or "digest:" in status:
                progress(status)
    if digest is None:
        raise PushError(f"push of {reference} ended without a manifest digest")
    return digest
