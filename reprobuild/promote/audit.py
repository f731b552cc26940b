"""The promotion audit log: one JSON object per line, appended for every promotion
(refused and failed ones too). Entries carry references, digests and the outcome — never
credentials: references cannot hold them and error messages are built without them."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobuild import __version__
from reprobuild.errors import ConfigError
from reprobuild.redaction import redact

__all__ = ["AuditEntry", "append_entry", "read_entries"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    source: str
    destinations: tuple[str, ...]
    digest: str | None
    result: str
    """``promoted``, ``unchanged``, ``refused`` or ``failed``."""
    detail: str = ""
    record: str | None = None
    resolved_from: str | None = None
    changes: dict[str, int] = field(default_factory=dict)
    time: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    tool: str = f"reprobuild {__version__}"

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "tool": self.tool,
            "source": self.source,
            "record": self.record,
            "resolved_from": self.resolved_from,
            "destinations": list(self.destinations),
            "digest": self.digest,
            "result": self.result,
            "detail": redact(self.detail),
            "changes": self.changes,
        }


def append_entry(path: Path, entry: AuditEntry) -> None:
    """Append one line; O_APPEND keeps concurrent writers' lines whole."""
    line = json.dumps(entry.to_json(), sort_keys=True) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot append to the audit log: {exc.strerror}") from None


def read_entries(path: Path) -> Sequence[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
