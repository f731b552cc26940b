"""Project configuration: ``[tool.reprobuild]`` in ``pyproject.toml`` or a ``reprobuild.toml``.

The file is found by walking up from the starting directory; ``reprobuild.toml`` (whose
top level *is* the reprobuild table) wins over ``pyproject.toml`` in the same directory.
Each section is validated where it is consumed; unknown keys are errors so that a typo
never silently disables a check.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobuild.errors import ConfigError

__all__ = ["ProjectConfig", "find_config", "load_config"]


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """The raw ``[tool.reprobuild]`` table and where it came from."""

    path: Path | None
    table: dict[str, Any] = field(default_factory=dict)
    start: Path | None = None
    """Where the search started (the project directory when there is no config file)."""

    @property
    def root(self) -> Path:
        """The project directory: where the config file lives, else where the search began."""
        if self.path:
            return self.path.parent
        if self.start is not None:
            return self.start if self.start.is_dir() else self.start.parent
        return Path.cwd()

    def section(self, dotted: str) -> dict[str, Any]:
        """A sub-table such as ``lint`` (``{}`` when absent); non-tables are errors."""
        value: Any = self.table
        for part in dotted.split("."):
            value = value.get(part, {}) if isinstance(value, dict) else None
            if not isinstance(value, dict):
                raise ConfigError(f"{self.where(dotted)} must be a table")
        result: dict[str, Any] = value
        return result

    def where(self, key: str) -> str:
        prefix = "" if self.path and self.path.name == "reprobuild.toml" else "tool.reprobuild."
        return f"{self.path or '<defaults>'}: {prefix}{key}"


def find_config(start: Path) -> Path | None:
    directory = start.resolve()
    if directory.is_file():
        directory = directory.parent
    for candidate_dir in (directory, *directory.parents):
        dedicated = candidate_dir / "reprobuild.toml"
        if dedicated.is_file():
            return dedicated
        pyproject = candidate_dir / "pyproject.toml"
        if pyproject.is_file() and _has_reprobuild_table(pyproject):
            return pyproject
    return None


def _has_reprobuild_table(pyproject: Path) -> bool:
    try:
        return b"tool.reprobuild" in pyproject.read_bytes()
    except OSError:
        return False


def load_config(path: Path | None = None, *, start: Path | None = None) -> ProjectConfig:
    """Load the config at ``path``, or the one found above ``start`` (default: cwd)."""
    if path is None:
        path = find_config(start or Path.cwd())
        if path is None:
            return ProjectConfig(path=None, start=start)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if path.name == "reprobuild.toml":
        table = data
    else:
        tool = data.get("tool", {})
        table = tool.get("reprobuild", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.reprobuild must be a table")
    return ProjectConfig(path=path, table=table)
