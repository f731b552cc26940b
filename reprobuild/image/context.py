"""The build context as a deterministic tar: same project files -> same bytes, whatever
the checkout's mtimes, owners, umask or file creation order.

* entries sorted by path, parents before children; regular files, directories, symlinks
  (sockets, FIFOs and devices are left out: a context has no use for them)
* mtime = SOURCE_DATE_EPOCH, uid/gid 0, no uname/gname, mode 0644/0755 (only the
  executable bit survives, as in git), no PAX records beyond what long names need
* ``.dockerignore`` honoured with docker-py's own matcher (the CLI's rules, so what is
  excluded here is what ``docker build`` would exclude); ``.git`` always left out
* extra files (the fetched wheels, an out-of-project Dockerfile) overlaid at fixed paths
  without being written into the project
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from reprobuild.errors import ReprobuildError

__all__ = ["BuildContext", "ContextError", "build_context", "dockerignore_patterns"]

ALWAYS_EXCLUDED = (".git", "**/.git")
_CHUNK = 1 << 20


class ContextError(ReprobuildError):
    """A project file cannot go into the build context."""


@dataclass(frozen=True, slots=True)
class BuildContext:
    file: IO[bytes]
    """The tar, rewound; closed (and deleted) with :meth:`close`."""
    sha256: str
    size: int
    entries: int

    def close(self) -> None:
        self.file.close()


def dockerignore_patterns(root: Path) -> list[str]:
    """The ``.dockerignore`` lines (comments and blanks dropped), as the CLI reads them."""
    path = root / ".dockerignore"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _included(root: Path, dockerfile: str | None, extra_excludes: Iterable[str]) -> list[str]:
    from docker.utils.build import exclude_paths  # the CLI's .dockerignore semantics

    patterns = [*dockerignore_patterns(root), *ALWAYS_EXCLUDED, *extra_excludes]
    # exclude_paths re-includes the Dockerfile (as the CLI does); .dockerignore is also
    # always sent by the CLI.
    found = set(exclude_paths(str(root), patterns, dockerfile=dockerfile or "Dockerfile"))
    if (root / ".dockerignore").is_file():
        found.add(".dockerignore")
    return sorted(p for p in found if p and not _is_git(p))


def _is_git(path: str) -> bool:
    return ".git" in PurePosixPath(path).parts


def _sort_key(path: str) -> tuple[str, ...]:
    return PurePosixPath(path).parts


def _info(name: str, kind: bytes, mode: int, epoch: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.size = size
    return info


def _parents(path: str) -> list[str]:
    parts = PurePosixPath(path).parts[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def build_context(
    root: Path,
    *,
    source_date_epoch: int,
    dockerfile: str | None = None,
    extra_files: Mapping[str, Path | bytes] | None = None,
    extra_excludes: Iterable[str] = (),
) -> BuildContext:
    """Write the context tar of ``root`` to a temporary file and return it rewound.

    ``extra_files`` maps context paths (posix, relative) to a host file or bytes; they
    replace project files of the same path. ``extra_excludes`` are more ignore patterns.
    """
    root = root.resolve()
    if not root.is_dir():
        raise ContextError(f"{root}: the build context must be a directory")
    extras = dict(extra_files or {})
    for name in extras:
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or not name:
            raise ContextError(f"context path {name!r} must be relative and inside the context")
    project = [p for p in _included(root, dockerfile, extra_excludes) if p not in extras]
    entries: dict[str, Path | bytes | None] = {p: root / p for p in project}
    entries.update(extras)
    for name in list(entries):
        for parent in _parents(name):
            entries.setdefault(parent, None)  # an implied directory

    spool = tempfile.TemporaryFile(prefix="reprobuild-context-")  # noqa: SIM115 (returned open)
    digest = hashlib.sha256()
    count = 0
    try:
        writer = _HashingWriter(spool, digest)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(entries, key=_sort_key):
                count += _add(tar, name, entries[name], source_date_epoch)
        spool.flush()
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return BuildContext(file=spool, sha256=digest.hexdigest(), size=size, entries=count)


def _add(tar: tarfile.TarFile, name: str, source: Path | bytes | None, epoch: int) -> int:
    if source is None:
        tar.addfile(_info(name, tarfile.DIRTYPE, 0o755, epoch))
        return 1
    if isinstance(source, bytes):
        tar.addfile(_info(name, tarfile.REGTYPE, 0o644, epoch, len(source)), io.BytesIO(source))
        return 1
    try:
        st = source.lstat()
    except OSError as exc:
        raise ContextError(f"{source}: cannot read: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        info = _info(name, tarfile.SYMTYPE, 0o777, epoch)
        info.linkname = str(source.readlink())
        tar.addfile(info)
    elif stat.S_ISDIR(st.st_mode):
        tar.addfile(_info(name, tarfile.DIRTYPE, 0o755, epoch))
    elif stat.S_ISREG(st.st_mode):
        mode = 0o755 if st.st_mode & 0o111 else 0o644
        try:
            with source.open("rb") as handle:
                tar.addfile(_info(name, tarfile.REGTYPE, mode, epoch, st.st_size), handle)
        except OSError as exc:
            raise ContextError(f"{source}: cannot read: {exc.strerror}") from None
    else:
        return 0  # sockets, FIFOs, devices
    return 1


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes what passes through (tar stream mode needs only
    ``write``), so the context digest costs no second read."""

    def __init__(self, target: IO[bytes], digest: hashlib._Hash) -> None:
        self._target = target
        self._digest = digest

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._digest.update(data)
        self._target.write(data)
        return len(data)
