"""The normalized lock model every format reader produces.

Readers report facts, lint rules judge: a package without a hash is a valid
:class:`LockedPackage` with an empty ``hashes`` tuple, and RB101 flags it. Lint rules
and the generator consume this model, never a lockfile format directly.

All classes are frozen; they are built once at the parse boundary and never mutated.
This module imports no other reprobuild module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NewType

if TYPE_CHECKING:  # annotations only: linting a Dockerfile never imports packaging
    from packaging.utils import NormalizedName

__all__ = [
    "Artifact",
    "ArtifactKind",
    "Hash",
    "IndexConfig",
    "Lock",
    "LockFormat",
    "LockedPackage",
    "Manager",
    "Sha256",
    "SourceKind",
]

Sha256 = NewType("Sha256", str)
"""Lower-case hex SHA-256 of some bytes (no ``sha256:`` prefix)."""

Manager = Literal["pip", "conda"]

_HEX = re.compile(r"^[0-9a-f]+$")
# Digest lengths in hex characters: a hash of the wrong length is a typo or truncation.
HASH_HEX_LENGTHS: dict[str, int] = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
}
STRONG_HASH_ALGORITHMS = frozenset({"sha256", "sha384", "sha512"})


class LockFormat(StrEnum):
    REQUIREMENTS = "requirements"
    POETRY = "poetry"
    UV = "uv"
    PYLOCK = "pylock"
    CONDA_LOCK = "conda-lock"
    CONDA_EXPLICIT = "conda-explicit"


class SourceKind(StrEnum):
    REGISTRY = "registry"
    """From a package index (PyPI, a private index, a conda channel)."""
    URL = "url"
    """A direct URL to an archive (``name @ https://…/x.whl``)."""
    VCS = "vcs"
    """A version-control checkout (``git+https://…@ref``); see ``vcs_ref``."""
    PATH = "path"
    """A local file path (an archive or a directory installed non-editable)."""
    DIRECTORY = "directory"
    """A local source tree (poetry ``type = "directory"``, uv ``directory``/``virtual``)."""
    EDITABLE = "editable"
    """An editable install (``-e``, uv ``editable``, poetry ``develop = true``)."""


class ArtifactKind(StrEnum):
    WHEEL = "wheel"
    SDIST = "sdist"
    CONDA = "conda"
    """A conda package archive (``.conda`` or ``.tar.bz2``)."""
    OTHER = "other"


@dataclass(frozen=True, slots=True, order=True)
class Hash:
    """One digest of an artifact: ``Hash("sha256", "ab12…")``; ``str()`` gives ``sha256:ab12…``."""

    algorithm: str
    value: str

    def __post_init__(self) -> None:
        if self.algorithm != self.algorithm.lower() or not self.algorithm:
            raise ValueError(f"hash algorithm must be lower-case: {self.algorithm!r}")
        if not _HEX.match(self.value):
            raise ValueError(f"hash value must be lower-case hex: {self.value!r}")

    @classmethod
    def parse(cls, text: str) -> Hash:
        """Parse ``sha256:…`` / ``sha256=…`` (the forms lockfiles use); raises ValueError."""
        for sep in (":", "="):
            algorithm, found, value = text.partition(sep)
            if found:
                return cls(algorithm.strip().lower(), value.strip().lower())
        raise ValueError(f"not an ALGORITHM:HEX hash: {text!r}")

    @property
    def is_strong(self) -> bool:
        return self.algorithm in STRONG_HASH_ALGORITHMS

    @property
    def has_valid_length(self) -> bool:
        expected = HASH_HEX_LENGTHS.get(self.algorithm)
        return expected is None or expected == len(self.value)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}"


@dataclass(frozen=True, slots=True)
class Artifact:
    """One installable file a lock names for a package (a wheel, an sdist, a conda archive).

    Requirements files list hashes without naming the files they belong to; their
    packages have ``hashes`` but no artifacts.
    """

    kind: ArtifactKind
    filename: str | None = None
    url: str | None = None
    hashes: tuple[Hash, ...] = ()
    size: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedPackage:
    """One package entry of a lock, as the file states it."""

    name: NormalizedName
    """Canonical name (``packaging.utils.canonicalize_name``)."""
    version: str | None
    """The exact version, or ``None`` when the entry does not pin one (see ``specifier``)."""
    manager: Manager = "pip"
    specifier: str = ""
    """The version specifier as written (``==1.2``, ``>=1,<2``; empty when none)."""
    hashes: tuple[Hash, ...] = ()
    """Every hash the lock gives for the package, over all its artifacts."""
    artifacts: tuple[Artifact, ...] = ()
    source: SourceKind = SourceKind.REGISTRY
    url: str | None = None
    """Source URL: the index/registry URL, the direct or VCS URL, or the local path."""
    vcs: str | None = None
    """VCS scheme (``git``, ``hg``, ``svn``, ``bzr``) for VCS sources."""
    vcs_ref: str | None = None
    """The revision a VCS source names (a commit id, or a branch/tag the lock left mutable)."""
    marker: str | None = None
    """Environment marker as written (PEP 508 syntax), or ``None``."""
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    """Dependency groups, poetry categories or conda-lock categories the entry belongs to."""
    constraint_only: bool = False
    """From a ``-c`` constraints file: limits versions but is not itself installed."""
    channel: str | None = None
    """conda: the channel (URL or name)."""
    subdir: str | None = None
    """conda: the platform subdir (``linux-64``, ``noarch``)."""
    build: str | None = None
    """conda: the build string."""
    platform: str | None = None
    """The platform this entry is locked for, in multi-platform locks (conda-lock)."""
    path: Path | None = None
    """The file the entry was read from, when it differs from the lock's (``-r`` includes)."""
    line: int | None = None
    """1-based line where the entry starts, when known."""
    key: str | None = None
    """TOML/YAML key path of the entry (``package[3]``), when the format has one."""
    inline_ignores: frozenset[str] = frozenset()
    """Rule codes suppressed by a ``# reprobuild: ignore=…`` comment on the entry."""

    @property
    def is_pinned(self) -> bool:
        return self.version is not None

    @property
    def strong_hashes(self) -> tuple[Hash, ...]:
        return tuple(h for h in self.hashes if h.is_strong)


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexConfig:
    """Where a lock says packages come from (pip options or conda channels)."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    no_index: bool = False
    no_binary: tuple[str, ...] = ()
    only_binary: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    """conda channels (URLs or names), in priority order."""
    sources: tuple[tuple[str, str], ...] = ()
    """Named package sources (poetry ``[[package.source]]`` / uv registries): (name, url)."""
    line_of: tuple[tuple[str, int], ...] = ()
    """Where each option was set: (``--extra-index-url value``, line), for findings."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Lock:
    """A lockfile, normalized."""

    format: LockFormat
    path: Path
    sha256: Sha256
    """SHA-256 of the file's bytes (the record ties images to it)."""
    packages: tuple[LockedPackage, ...]
    python: str | None = None
    """The Python requirement the lock was made for (``>=3.10``), when it states one."""
    platforms: tuple[str, ...] = ()
    indexes: IndexConfig = field(default_factory=IndexConfig)
    content_hash: str | None = None
    """The input hash the lock stores (poetry ``content-hash``, conda-lock ``input_hash``)."""
    includes: tuple[Path, ...] = ()
    """Other files read to build this lock (``-r``/``-c`` targets), in reading order."""
    format_version: str | None = None
    """The format's own version field (poetry ``lock-version``, uv ``version``…)."""

    def installed(self) -> tuple[LockedPackage, ...]:
        """Packages that get installed (constraints excluded)."""
        return tuple(p for p in self.packages if not p.constraint_only)
