"""Helpers shared by the format readers (decoding, TOML loading, locating tables)."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

from reprobuild.errors import LockParseError
from reprobuild.models import Sha256

__all__ = ["decode", "file_sha256", "load_toml", "table_header_lines"]


def file_sha256(data: bytes) -> Sha256:
    return Sha256(hashlib.sha256(data).hexdigest())


def decode(path: Path, data: bytes) -> str:
    """Decode a lockfile as UTF-8 (BOM tolerated), naming the offending byte on failure."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LockParseError(path, "not UTF-8 text", line=line) from None


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_toml(path: Path, text: str) -> dict[str, Any]:
    """``tomllib.loads`` with the error turned into a LockParseError that names the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POS.search(message)
        line = int(match.group(1)) if match else None
        reason = _TOML_POS.sub("", message).strip()
        raise LockParseError(path, f"invalid TOML: {reason}", line=line) from None


def table_header_lines(text: str, header: str) -> list[int]:
    """1-based lines of each ``[[header]]`` array-of-tables entry, in file order.

    tomllib keeps no positions; array-of-tables headers are one per line and in the same
    order as the parsed list, so counting them maps ``package[i]`` back to its line.
    """
    pattern = re.compile(r"^\s*\[\[\s*" + re.escape(header) + r"\s*\]\]\s*(#.*)?$")
    return [n for n, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]
