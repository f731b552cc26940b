"""The one exception root of reprobuild.

Every error a user can cause derives from :class:`ReprobuildError`; the CLI edge maps
it to exit code 2 ("could not run") and prints its message on one line. Messages say
where the problem is and, where possible, what to do. They never carry credentials.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "LockParseError",
    "ReprobuildError",
    "UnknownFormatError",
    "UsageError",
]


class ReprobuildError(Exception):
    """Root of every error reprobuild raises on purpose (exit code 2 at the CLI edge)."""

    exit_code: int = 2


class UsageError(ReprobuildError):
    """The command line asked for something that cannot be done as asked."""


class ConfigError(ReprobuildError):
    """`[tool.reprobuild]` (or another config file) is invalid."""


class LockParseError(ReprobuildError):
    """A lockfile (or a Dockerfile) could not be read.

    The message names the file and the line, or the TOML/YAML key path, so a user can
    go straight to the spot: ``poetry.lock: package[3].files[0]: expected a table``.
    """

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.key = key
        self.reason = message
        where = str(path)
        if line is not None:
            where += f":{line}"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")


class UnknownFormatError(LockParseError):
    """The file is not a lockfile (or Dockerfile) reprobuild recognises."""
