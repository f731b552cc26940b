"""Read ``poetry.lock`` (lock-version 1.0 and 1.1, 2.0 and 2.1) into a Lock.

Lock-version 1.x keeps every package's files in a trailing ``[metadata.files]`` table
keyed by package name and marks each package with a ``category``; 2.x lists ``files``
inside each ``[[package]]``, and 2.1 adds ``groups`` and per-group ``markers`` tables.
``[package.extras]`` lists the extras a package *offers*, not the ones requested, so it
is not read into ``LockedPackage.extras``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from reprobuild.errors import LockParseError
from reprobuild.lockfiles._common import decode, file_sha256, load_toml, table_header_lines
from reprobuild.lockfiles._fields import (
    artifact_kind,
    get_bool,
    get_list,
    get_str,
    get_table,
    located,
    parse_hash,
    require_str,
    strings,
    tables,
)
from reprobuild.models import (
    Artifact,
    ArtifactKind,
    IndexConfig,
    Lock,
    LockedPackage,
    LockFormat,
    SourceKind,
)

__all__ = ["read"]

_SOURCE_KINDS: dict[str, SourceKind] = {
    "git": SourceKind.VCS,
    "url": SourceKind.URL,
    "file": SourceKind.PATH,
    "directory": SourceKind.DIRECTORY,
    "legacy": SourceKind.REGISTRY,
}


def read(path: Path, data: bytes) -> Lock:
    text = decode(path, data)
    document = load_toml(path, text)
    metadata = get_table(path, document, "metadata", "")
    entries = tables(path, get_list(path, document, "package", ""), "package")
    legacy_files = get_table(path, metadata, "files", "metadata")
    lines = table_header_lines(text, "package")
    name_counts: dict[str, int] = {}
    for index, entry in enumerate(entries):
        with located(path, lines[index] if index < len(lines) else None):
            name = canonicalize_name(require_str(path, entry, "name", f"package[{index}]"))
        name_counts[name] = name_counts.get(name, 0) + 1

    packages: list[LockedPackage] = []
    sources: dict[str, str] = {}
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else None
        with located(path, line):
            package = _package(path, entry, f"package[{index}]", line, legacy_files, name_counts)
            named = _named_source(path, entry, f"package[{index}]")
        packages.append(package)
        if named is not None:
            sources.setdefault(*named)

    return Lock(
        format=LockFormat.POETRY,
        path=path,
        sha256=file_sha256(data),
        packages=tuple(packages),
        python=get_str(path, metadata, "python-versions", "metadata"),
        indexes=IndexConfig(sources=tuple(sources.items())),
        content_hash=get_str(path, metadata, "content-hash", "metadata"),
        format_version=get_str(path, metadata, "lock-version", "metadata"),
    )


def _package(
    path: Path,
    entry: dict[str, Any],
    where: str,
    line: int | None,
    legacy_files: dict[str, Any],
    name_counts: dict[str, int],
) -> LockedPackage:
    name = canonicalize_name(require_str(path, entry, "name", where))
    version = require_str(path, entry, "version", where)
    if "files" in entry:
        artifacts = _artifacts(path, get_list(path, entry, "files", where), f"{where}.files")
    else:
        artifacts = _legacy_artifacts(path, legacy_files, name)
        if name_counts[name] > 1:
            # 1.x pools the files of every locked version of a name under one key.
            artifacts = tuple(a for a in artifacts if _belongs_to(a, version))
    groups = _groups(path, entry, where)
    source = get_table(path, entry, "source", where)
    kind, url, vcs, vcs_ref = _source(path, source, f"{where}.source")
    if kind is SourceKind.DIRECTORY and get_bool(path, entry, "develop", where):
        kind = SourceKind.EDITABLE
    return LockedPackage(
        name=name,
        version=version,
        hashes=tuple(h for artifact in artifacts for h in artifact.hashes),
        artifacts=artifacts,
        source=kind,
        url=url,
        vcs=vcs,
        vcs_ref=vcs_ref,
        marker=_marker(path, entry, where, groups),
        groups=groups,
        line=line,
        key=where,
    )


def _artifacts(path: Path, files: list[Any], where: str) -> tuple[Artifact, ...]:
    artifacts = []
    for index, item in enumerate(tables(path, files, where)):
        key = f"{where}[{index}]"
        filename = require_str(path, item, "file", key)
        text = get_str(path, item, "hash", key)
        hashes = (parse_hash(path, text, f"{key}.hash"),) if text else ()
        artifacts.append(Artifact(artifact_kind(filename), filename=filename, hashes=hashes))
    return tuple(artifacts)


def _legacy_artifacts(path: Path, legacy_files: dict[str, Any], name: str) -> tuple[Artifact, ...]:
    for key, files in legacy_files.items():
        if canonicalize_name(key) == name:
            where = f"metadata.files.{_toml_key(key)}"
            if not isinstance(files, list):
                raise LockParseError(path, "expected an array of files", key=where)
            return _artifacts(path, files, where)
    return ()


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else f'"{key}"'


def _belongs_to(artifact: Artifact, version: str) -> bool:
    """Whether a pooled 1.x file is one of ``version``'s (kept when it cannot be told)."""
    filename = artifact.filename or ""
    try:
        if artifact.kind is ArtifactKind.WHEEL:
            found = parse_wheel_filename(filename)[1]
        elif artifact.kind is ArtifactKind.SDIST:
            found = parse_sdist_filename(filename)[1]
        else:
            return True
        return found == Version(version)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return True


def _groups(path: Path, entry: dict[str, Any], where: str) -> tuple[str, ...]:
    if "groups" in entry:  # 2.1
        return tuple(strings(path, get_list(path, entry, "groups", where), f"{where}.groups"))
    category = get_str(path, entry, "category", where)  # 1.x
    return (category,) if category else ()


def _marker(path: Path, entry: dict[str, Any], where: str, groups: tuple[str, ...]) -> str | None:
    name = "markers" if "markers" in entry else "marker"  # 1.0 used the singular
    value = entry.get(name)
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise LockParseError(
            path,
            f"expected a string or a table, found {type(value).__name__}",
            key=f"{where}.{name}",
        )
    # 2.1: one marker per group. A group without one installs the package unconditionally;
    # otherwise the package is installed when any of its groups' markers holds.
    for group, marker in value.items():
        if not isinstance(marker, str):
            raise LockParseError(path, "expected a string", key=f"{where}.{name}.{group}")
    if not value or any(group not in value for group in groups):
        return None
    distinct = list(dict.fromkeys(value.values()))
    return distinct[0] if len(distinct) == 1 else " or ".join(f"({m})" for m in distinct)


def _source(
    path: Path, source: dict[str, Any], where: str
) -> tuple[SourceKind, str | None, str | None, str | None]:
    """(kind, url, vcs, vcs_ref) of a ``[package.source]`` table (PyPI when empty)."""
    if not source:
        return SourceKind.REGISTRY, None, None, None
    source_type = require_str(path, source, "type", where)
    kind = _SOURCE_KINDS.get(source_type)
    if kind is None:
        known = ", ".join(_SOURCE_KINDS)
        raise LockParseError(
            path,
            f"unknown source type {source_type!r} (expected one of {known})",
            key=f"{where}.type",
        )
    url = require_str(path, source, "url", where)
    if kind is not SourceKind.VCS:
        return kind, url, None, None
    # The commit poetry resolved the reference to; the reference itself may be a branch.
    ref = get_str(path, source, "resolved_reference", where) or get_str(
        path, source, "reference", where
    )
    return kind, url, source_type, ref


def _named_source(path: Path, entry: dict[str, Any], where: str) -> tuple[str, str] | None:
    """(name, url) of a package's named index (``type = "legacy"``), if it has one."""
    source = get_table(path, entry, "source", where)
    if get_str(path, source, "type", f"{where}.source") != "legacy":
        return None
    name = get_str(path, source, "reference", f"{where}.source")
    url = get_str(path, source, "url", f"{where}.source")
    return (name, url) if name and url else None
