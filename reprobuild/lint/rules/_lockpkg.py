"""Small helpers the lockfile rules (RB1xx) share: naming a package, building a violation.

Not a rule module (it has no ``RULE``); ``RULE_MODULES`` does not list it.
"""

from __future__ import annotations

from reprobuild.lint.rule import Violation
from reprobuild.models import Lock, LockedPackage, LockFormat, SourceKind
from reprobuild.redaction import redact

__all__ = [
    "describe",
    "is_compiled_input",
    "is_local_archive",
    "is_project_root",
    "redact",
    "regenerate_hint",
    "violation_at",
]

_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".conda")


def describe(package: LockedPackage) -> str:
    """``torch 2.3.0`` (or just ``torch`` when unpinned), for messages."""
    return f"{package.name} {package.version}" if package.version else str(package.name)


def violation_at(package: LockedPackage, message: str) -> Violation:
    """A violation placed where the package is written, carrying its per-package facts."""
    return Violation(
        message=message,
        line=package.line,
        path=package.path,
        package=package.name,
        inline_ignores=package.inline_ignores,
    )


def is_local_archive(package: LockedPackage) -> bool:
    """A PATH source that names a file (which can be hashed), not a directory."""
    return package.source is SourceKind.PATH and (package.url or "").lower().endswith(
        _ARCHIVE_SUFFIXES
    )


def is_compiled_input(lock: Lock) -> bool:
    """A `requirements.in` whose compiled `requirements.txt` sits beside it.

    It is the input of a lock, loose by design; the rules judge the compiled file, and
    RB107 checks that the two agree.
    """
    return (
        lock.format is LockFormat.REQUIREMENTS
        and lock.path.suffix.lower() == ".in"
        and lock.path.with_suffix(".txt").is_file()
    )


def is_project_root(package: LockedPackage, lock: Lock) -> bool:
    """The project a uv/poetry/pylock lock is *for* (``editable = "."``/``virtual = "."``).

    It is built from the working tree by design; flagging it would flag every such lock.
    """
    if lock.format not in (LockFormat.UV, LockFormat.POETRY, LockFormat.PYLOCK):
        return False
    if package.source not in (SourceKind.EDITABLE, SourceKind.DIRECTORY):
        return False
    url = (package.url or ".").removeprefix("file://")
    return url in (".", "./", "") or _same_dir(lock, url)


def _same_dir(lock: Lock, url: str) -> bool:
    try:
        return (lock.path.parent / url).resolve() == lock.path.parent.resolve()
    except (OSError, ValueError):
        return False


_REGENERATE = {
    LockFormat.REQUIREMENTS: "pip-compile --generate-hashes or uv pip compile --generate-hashes",
    LockFormat.POETRY: "poetry lock",
    LockFormat.UV: "uv lock",
    LockFormat.PYLOCK: "uv export --format pylock.toml or the tool that wrote it",
    LockFormat.CONDA_LOCK: "conda-lock lock",
    LockFormat.CONDA_EXPLICIT: "conda-lock and install from its conda-lock.yml, which records "
    "sha256 for every package",
}


def regenerate_hint(lock: Lock) -> str:
    """The command that regenerates this kind of lock with hashes, for "what to do" messages."""
    return _REGENERATE.get(lock.format, "the tool that wrote the lock")
