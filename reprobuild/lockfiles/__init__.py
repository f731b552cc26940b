"""Lockfile readers: detect a file's format from its name and content, read it into a Lock.

Each reader module exposes ``read(path: Path, data: bytes) -> Lock`` and raises
:class:`~reprobuild.errors.LockParseError` (never anything else) on malformed input.
Reader modules are imported on demand, so linting one requirements file does not pay
for the YAML or TOML readers.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import cast

from reprobuild.errors import LockParseError, UnknownFormatError
from reprobuild.models import Lock, LockFormat

__all__ = ["READERS", "detect_format", "is_lockfile_name", "read_lock"]

Reader = Callable[[Path, bytes], Lock]

# format -> module implementing read(); the explicit registry of readers.
READERS: dict[LockFormat, str] = {
    LockFormat.REQUIREMENTS: "reprobuild.lockfiles.requirements",
    LockFormat.POETRY: "reprobuild.lockfiles.poetry",
    LockFormat.UV: "reprobuild.lockfiles.uv",
    LockFormat.PYLOCK: "reprobuild.lockfiles.pylock",
    LockFormat.CONDA_LOCK: "reprobuild.lockfiles.conda_lock",
    LockFormat.CONDA_EXPLICIT: "reprobuild.lockfiles.conda_explicit",
}

# File-name patterns (matched case-insensitively against the base name) that a
# directory walk treats as lockfiles. Explicit arguments may have any name.
LOCKFILE_NAME_PATTERNS: tuple[str, ...] = (
    "*requirements*.txt",
    "*requirements*.in",
    "*constraints*.txt",
    "requirements*",
    "*-lock.txt",
    "*_lock.txt",
    "*.lock.txt",
    "poetry.lock",
    "uv.lock",
    "*.py.lock",
    "pylock.toml",
    "pylock.*.toml",
    "conda-lock.yml",
    "conda-lock.yaml",
    "*.conda-lock.yml",
    "*.conda-lock.yaml",
    "conda-*.lock",
    "*.conda.lock",
    "explicit*.txt",
    "env.lock",
    "environment.lock",
)


def is_lockfile_name(name: str) -> bool:
    lower = name.lower()
    return any(fnmatch.fnmatchcase(lower, pattern) for pattern in LOCKFILE_NAME_PATTERNS)


_EXPLICIT = re.compile(r"^@EXPLICIT\s*$", re.MULTILINE)
_PYLOCK_NAME = re.compile(r"^pylock\.([^.]+\.)?toml$")


def detect_format(path: Path, data: bytes) -> LockFormat | None:
    """Guess a lockfile's format from its name, then from its content; None if unknown."""
    name = path.name.lower()
    head = data[:65536].decode("utf-8", errors="replace")
    if name == "poetry.lock":
        return LockFormat.POETRY
    if name == "uv.lock" or (name.endswith(".py.lock") and _looks_like_uv(head)):
        return LockFormat.UV
    if _PYLOCK_NAME.match(name):
        return LockFormat.PYLOCK
    if _EXPLICIT.search(head):
        return LockFormat.CONDA_EXPLICIT
    if name.endswith((".yml", ".yaml")) and _looks_like_conda_lock(head):
        return LockFormat.CONDA_LOCK
    if name.endswith((".txt", ".in")) or name.startswith("requirements"):
        return LockFormat.REQUIREMENTS
    # Unknown name: decide from content alone, conservatively.
    if name.endswith(".toml") and re.search(r"^lock-version\s*=", head, re.MULTILINE):
        return LockFormat.PYLOCK
    if "content-hash" in head and re.search(r"^\[\[package\]\]", head, re.MULTILINE):
        return LockFormat.POETRY
    if _looks_like_uv(head):
        return LockFormat.UV
    if _looks_like_conda_lock(head):
        return LockFormat.CONDA_LOCK
    return None


def _looks_like_uv(head: str) -> bool:
    return bool(
        re.search(r"^version\s*=\s*\d+\s*$", head, re.MULTILINE)
        and re.search(r"^\[\[(package|distribution)\]\]|^\[manifest\]", head, re.MULTILINE)
    )


def _looks_like_conda_lock(head: str) -> bool:
    return bool(
        re.search(r"^package:\s*(\[\s*\]\s*)?(#.*)?$", head, re.MULTILINE)
        and re.search(r"^metadata:\s*$", head, re.MULTILINE)
    )


def reader_for(fmt: LockFormat) -> Reader:
    module = importlib.import_module(READERS[fmt])
    return cast(Reader, module.read)


def read_lock(path: Path, fmt: LockFormat | None = None) -> Lock:
    """Read ``path`` as a lockfile of format ``fmt`` (detected when None)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LockParseError(path, f"cannot read: {exc.strerror or exc}") from None
    fmt = fmt or detect_format(path, data)
    if fmt is None:
        raise UnknownFormatError(
            path,
            "not a lockfile reprobuild recognises (requirements, poetry.lock, uv.lock, "
            "pylock.toml, conda-lock.yml or an @EXPLICIT conda lock); "
            "pass --type to say which it is",
        )
    return reader_for(fmt)(path, data)
