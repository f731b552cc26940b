"""Locked packages -> the hashed requirements file the image installs from.

Every lock format goes through the same file (``pip install --require-hashes --no-deps
--only-binary=:all: --no-index``), so the install step is identical whatever produced
the lock. Every hash the lock gives is kept (pip accepts a file matching any of them)
and markers are kept (pip evaluates them again in the image).
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.markers import InvalidMarker, Marker
from packaging.version import InvalidVersion, Version

from reprobuild.errors import ReprobuildError
from reprobuild.models import ArtifactKind, LockedPackage, SourceKind

__all__ = ["ExportError", "hashed_requirements"]


class ExportError(ReprobuildError):
    """A locked package cannot be installed hash-verified from files (names them)."""


def _line(package: LockedPackage) -> str:
    if package.version is None:
        raise ExportError(f"{package.name}: not pinned to one version ({package.specifier})")
    try:
        version = str(Version(package.version))
    except InvalidVersion:
        raise ExportError(f"{package.name}: invalid version {package.version!r}") from None
    hashes = sorted({str(h) for h in package.strong_hashes})
    if not hashes:
        raise ExportError(f"{package.name}=={version}: the lock gives no sha256 hash")
    requirement = f"{package.name}=={version}"
    if package.marker:
        try:
            requirement += f" ; {Marker(package.marker)}"
        except InvalidMarker:
            raise ExportError(f"{package.name}: invalid marker {package.marker!r}") from None
    return " \\\n    ".join([requirement, *(f"--hash={h}" for h in hashes)])


def hashed_requirements(
    packages: Iterable[LockedPackage], *, header: str, allow_sdist: frozenset[str] = frozenset()
) -> str:
    """The requirements text; refuses (naming them) what cannot install from hashed wheels.
    Packages named in ``allow_sdist`` may be sdist-only (reprobuild.generate.sdists)."""
    refused: list[str] = []
    lines: list[str] = []
    for package in sorted(packages, key=lambda p: (p.name, p.version or "", p.marker or "")):
        if package.source not in (SourceKind.REGISTRY, SourceKind.URL):
            refused.append(f"{package.name} ({package.source.value} source: not in any index)")
            continue
        kinds = {a.kind for a in package.artifacts}
        if kinds and ArtifactKind.WHEEL not in kinds and package.name not in allow_sdist:
            refused.append(
                f"{package.name}=={package.version} (sdist only: building it would run "
                "arbitrary code; relock with a version that has wheels, or list it in "
                "[tool.reprobuild] allow-sdist with hashed build-requirements)"
            )
            continue
        try:
            lines.append(_line(package))
        except ExportError as exc:
            refused.append(str(exc))
    if refused:
        raise ExportError("cannot install hash-verified from wheels: " + "; ".join(refused))
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + "".join(line + "\n" for line in lines)
