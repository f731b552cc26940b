"""Read a PEP 751 ``pylock.toml`` (or ``pylock.<name>.toml``) into a Lock.

``packaging.pylock`` validates the document against the specification; this module maps
its validated model onto the normalized one. Markers and ``requires-python`` are kept
as written (packaging would re-quote them). The lock-level ``environments`` markers
become ``Lock.platforms``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.pylock import (
    Package,
    PackageArchive,
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockValidationError,
)

from reprobuild.errors import LockParseError
from reprobuild.lockfiles._common import decode, file_sha256, load_toml, table_header_lines
from reprobuild.lockfiles._fields import artifact_kind, file_name, located
from reprobuild.models import (
    Artifact,
    ArtifactKind,
    Hash,
    Lock,
    LockedPackage,
    LockFormat,
    SourceKind,
)

__all__ = ["read"]

_PACKAGE_KEY = re.compile(r"^packages\[(\d+)\]")


def read(path: Path, data: bytes) -> Lock:
    text = decode(path, data)
    document = load_toml(path, text)
    lines = table_header_lines(text, "packages")
    try:
        pylock = Pylock.from_dict(document)
    except PylockValidationError as exc:
        raise LockParseError(
            path, exc.message, line=_line_of(exc.context, lines), key=exc.context
        ) from None
    # Validated above: a list of tables, one per pylock.packages entry.
    raw_packages: list[dict[str, Any]] = document["packages"]
    packages = []
    for index, package in enumerate(pylock.packages):
        key = f"packages[{index}]"
        line = _line_of(key, lines)
        with located(path, line):
            packages.append(_package(path, package, raw_packages[index].get("marker"), key, line))
    return Lock(
        format=LockFormat.PYLOCK,
        path=path,
        sha256=file_sha256(data),
        packages=tuple(packages),
        python=document.get("requires-python"),  # as written; packaging reformats it
        platforms=tuple(document.get("environments", ())),
        format_version=str(pylock.lock_version),
    )


def _line_of(key: str | None, lines: list[int]) -> int | None:
    """The line of the ``[[packages]]`` table a key path points into, if it does."""
    match = _PACKAGE_KEY.match(key or "")
    index = int(match.group(1)) if match else len(lines)
    return lines[index] if index < len(lines) else None


def _package(
    path: Path, package: Package, marker: str | None, where: str, line: int | None
) -> LockedPackage:
    artifacts = _artifacts(path, package, where)
    kind, url, vcs, vcs_ref = SourceKind.REGISTRY, package.index, None, None
    if package.vcs is not None:
        kind, vcs, vcs_ref = SourceKind.VCS, package.vcs.type, package.vcs.commit_id
        url = package.vcs.url or package.vcs.path
    elif package.directory is not None:
        kind = SourceKind.EDITABLE if package.directory.editable else SourceKind.DIRECTORY
        url = package.directory.path
    elif package.archive is not None:
        kind = SourceKind.URL if package.archive.url else SourceKind.PATH
        url = package.archive.url or package.archive.path
    return LockedPackage(
        name=package.name,
        version=str(package.version) if package.version is not None else None,
        hashes=tuple(h for artifact in artifacts for h in artifact.hashes),
        artifacts=artifacts,
        source=kind,
        url=url,
        vcs=vcs,
        vcs_ref=vcs_ref,
        marker=marker,
        line=line,
        key=where,
    )


def _artifacts(path: Path, package: Package, where: str) -> tuple[Artifact, ...]:
    artifacts: list[Artifact] = []
    if package.archive is not None:
        artifacts.append(_archive(path, package.archive, f"{where}.archive"))
    if package.sdist is not None:
        artifacts.append(_file(path, package.sdist, f"{where}.sdist", ArtifactKind.SDIST))
    for index, wheel in enumerate(package.wheels or ()):
        artifacts.append(_file(path, wheel, f"{where}.wheels[{index}]", ArtifactKind.WHEEL))
    return tuple(artifacts)


def _archive(path: Path, archive: PackageArchive, where: str) -> Artifact:
    location = archive.url or archive.path or ""
    filename = file_name(location)
    return Artifact(
        artifact_kind(filename),
        filename=filename,
        url=location,
        hashes=_hashes(path, archive.hashes, f"{where}.hashes"),
        size=archive.size,
    )


def _file(
    path: Path, file: PackageSdist | PackageWheel, where: str, kind: ArtifactKind
) -> Artifact:
    location = file.url or file.path
    return Artifact(
        kind,
        # Spelled out rather than PackageSdist.filename, which needs packaging >= 26.1.
        filename=file.name or (file_name(location) if location else None),
        url=location,
        hashes=_hashes(path, file.hashes, f"{where}.hashes"),
        size=file.size,
    )


def _hashes(path: Path, hashes: Mapping[str, str], where: str) -> tuple[Hash, ...]:
    found = []
    for algorithm, value in hashes.items():
        try:
            found.append(Hash(algorithm.lower(), value.lower()))
        except ValueError:
            raise LockParseError(
                path,
                f"malformed {algorithm} hash {value[:80]!r} (expected lower-case hex)",
                key=f"{where}.{algorithm}",
            ) from None
    return tuple(found)
