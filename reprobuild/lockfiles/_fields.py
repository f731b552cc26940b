"""Typed access to parsed TOML tables for the poetry, uv and pylock readers.

tomllib gives plain dicts and lists; these helpers check each value's type once, at the
parse boundary, and turn a wrong type into a LockParseError naming the key path
(``package[3].files[0].hash``), so readers never leak KeyError or TypeError.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from reprobuild.errors import LockParseError
from reprobuild.models import ArtifactKind, Hash

__all__ = [
    "artifact_kind",
    "file_name",
    "get_bool",
    "get_int",
    "get_list",
    "get_str",
    "get_table",
    "located",
    "parse_hash",
    "require_str",
    "strings",
    "tables",
]

_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz")


def _child(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _type_error(path: Path, key: str, expected: str, value: object) -> LockParseError:
    return LockParseError(path, f"expected {expected}, found {type(value).__name__}", key=key)


def get_str(path: Path, table: dict[str, Any], name: str, where: str) -> str | None:
    value = table.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _type_error(path, _child(where, name), "a string", value)


def require_str(path: Path, table: dict[str, Any], name: str, where: str) -> str:
    value = get_str(path, table, name, where)
    if value is None:
        raise LockParseError(path, "missing required key", key=_child(where, name))
    return value


def get_int(path: Path, table: dict[str, Any], name: str, where: str) -> int | None:
    value = table.get(name)
    # bool is an int subclass, but TOML keeps them apart.
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _type_error(path, _child(where, name), "an integer", value)


def get_bool(path: Path, table: dict[str, Any], name: str, where: str) -> bool:
    value = table.get(name, False)
    if isinstance(value, bool):
        return value
    raise _type_error(path, _child(where, name), "true or false", value)


def get_table(path: Path, table: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = table.get(name, {})
    if isinstance(value, dict):
        return value
    raise _type_error(path, _child(where, name), "a table", value)


def get_list(path: Path, table: dict[str, Any], name: str, where: str) -> list[Any]:
    value = table.get(name, [])
    if isinstance(value, list):
        return value
    raise _type_error(path, _child(where, name), "an array", value)


def tables(path: Path, items: list[Any], where: str) -> list[dict[str, Any]]:
    """Check that every element of an array is a table."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _type_error(path, f"{where}[{index}]", "a table", item)
    return items


def strings(path: Path, items: list[Any], where: str) -> list[str]:
    """Check that every element of an array is a string."""
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise _type_error(path, f"{where}[{index}]", "a string", item)
    return items


@contextmanager
def located(path: Path, line: int | None) -> Iterator[None]:
    """Add ``line`` (where the enclosing table starts) to errors raised inside."""
    try:
        yield
    except LockParseError as exc:
        if exc.line is not None or line is None:
            raise
        raise LockParseError(path, exc.reason, line=line, key=exc.key) from None


def parse_hash(path: Path, text: str, key: str) -> Hash:
    """``sha256:…`` -> Hash; a malformed one is a parse error (a weak one is for lint)."""
    try:
        return Hash.parse(text)
    except ValueError:
        raise LockParseError(
            path, f"malformed hash {text[:80]!r} (expected ALGORITHM:HEX)", key=key
        ) from None


def file_name(url_or_path: str) -> str:
    """The last path segment of a URL or a local path, percent-decoded."""
    try:
        segment = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path
    except ValueError:  # e.g. an unbalanced "[" in the host: keep the raw text
        segment = url_or_path
    return unquote(segment.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])


def artifact_kind(filename: str) -> ArtifactKind:
    lower = filename.lower()
    if lower.endswith(".whl"):
        return ArtifactKind.WHEEL
    if lower.endswith(_SDIST_SUFFIXES):
        return ArtifactKind.SDIST
    return ArtifactKind.OTHER
