"""Content hash of a file or directory tree, and the version a data tool gives it.

The tree hash is git-like so that it is the same on every machine: one line per file,
``<mode> <sha256> <relative path>``, sorted by path, where mode is 100644, 100755 (the
executable bit is all that survives a checkout) or 120000 (a symlink: the hash of its
target text). Empty directories do not count. Contents are read in 1 MiB chunks.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from reprobuild.errors import ReprobuildError

__all__ = ["TREE_FORMAT", "DataVersion", "TreeHash", "data_version", "tree_hash"]

TREE_FORMAT = "reprobuild.tree/1"
_CHUNK = 1 << 20


class DataHashError(ReprobuildError):
    """A data or output path cannot be read."""


@dataclass(frozen=True, slots=True)
class TreeHash:
    sha256: str  # "sha256:<hex>"
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class DataVersion:
    """What a data-versioning tool calls this input's version."""

    system: str  # "dvc" | "delta"
    version: str  # DVC: the md5 it records; Delta: the table version number
    source: str  # where it was read: "data.csv.dvc", "dvc.lock:featurize", "_delta_log"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _entry(path: Path, relative: str) -> tuple[str, int]:
    """(``<mode> <sha256> <path>`` line, size) for one file or symlink."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        target = str(path.readlink()).encode()
        return f"120000 {hashlib.sha256(target).hexdigest()} {relative}", len(target)
    mode = "100755" if info.st_mode & stat.S_IXUSR else "100644"
    return f"{mode} {_file_sha256(path)} {relative}", info.st_size


def tree_hash(path: Path) -> TreeHash:
    """The content hash of ``path`` (a file hashes as a one-entry tree named ``.``)."""
    try:
        if path.is_symlink() or path.is_file():
            line, size = _entry(path, ".")
            lines, total = [line], size
        elif path.is_dir():
            lines, total = [], 0
            entries: list[tuple[str, Path]] = []
            for directory, dirnames, filenames in os.walk(path):
                dirnames.sort()
                base = Path(directory)
                for name in filenames:
                    entries.append(((base / name).relative_to(path).as_posix(), base / name))
                for name in list(dirnames):
                    if (base / name).is_symlink():  # os.walk does not follow it: hash the link
                        entries.append(((base / name).relative_to(path).as_posix(), base / name))
            for relative, file in sorted(entries):
                line, size = _entry(file, relative)
                lines.append(line)
                total += size
        else:
            raise DataHashError(f"{path}: no such file or directory")
    except OSError as exc:
        raise DataHashError(f"{path}: cannot read: {exc.strerror or exc}") from None
    digest = hashlib.sha256(f"{TREE_FORMAT}\n".encode())
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return TreeHash(sha256=f"sha256:{digest.hexdigest()}", files=len(lines), bytes=total)


def data_version(path: Path, project_root: Path) -> DataVersion | None:
    """The DVC version of ``path`` (its ``.dvc`` file, else the ``dvc.lock`` stage that
    outputs it), else its Delta table version; None when no tool versions it."""
    return _dvc_file(path, project_root) or _dvc_lock(path, project_root) or _delta(path)


def _load_yaml(path: Path) -> object:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataHashError(f"{path}: cannot read: {exc}") from None


def _out_version(out: object) -> str | None:
    if not isinstance(out, dict):
        return None
    for key in ("md5", "etag", "checksum"):
        if isinstance(out.get(key), str):
            return str(out[key])
    return None


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _dvc_file(path: Path, project_root: Path) -> DataVersion | None:
    dvc_file = path.with_name(path.name + ".dvc")
    if not dvc_file.is_file():
        return None
    data = _load_yaml(dvc_file)
    outs = data.get("outs") if isinstance(data, dict) else None
    for out in outs if isinstance(outs, list) else []:
        version = _out_version(out)
        if version and isinstance(out, dict) and str(out.get("path")) == path.name:
            return DataVersion("dvc", version, _relative(dvc_file, project_root))
    return None


def _dvc_lock(path: Path, project_root: Path) -> DataVersion | None:
    """DVC paths in dvc.lock are relative to the dvc.lock's directory (plus the stage's
    ``wdir``, which DVC already folds into the recorded path)."""
    target = path.resolve()
    for directory in (target.parent, *target.parents):
        lock = directory / "dvc.lock"
        if lock.is_file():
            data = _load_yaml(lock)
            stages = data.get("stages") if isinstance(data, dict) else None
            for name, stage in (stages or {}).items() if isinstance(stages, dict) else ():
                outs = stage.get("outs") if isinstance(stage, dict) else None
                for out in outs if isinstance(outs, list) else []:
                    version = _out_version(out)
                    if not (version and isinstance(out, dict)):
                        continue
                    if (directory / str(out.get("path"))).resolve() == target:
                        where = f"{_relative(lock, project_root)}:{name}"
                        return DataVersion("dvc", version, where)
            return None
        if directory == project_root.resolve():
            return None
    return None


def _delta(path: Path) -> DataVersion | None:
    log = path / "_delta_log"
    if not log.is_dir():
        return None
    versions = [int(p.stem) for p in log.glob("*.json") if p.stem.isdigit()]
    return DataVersion("delta", str(max(versions)), "_delta_log") if versions else None
