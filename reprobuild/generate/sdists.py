"""The sdist route: sdist-only packages that ``[tool.reprobuild] allow-sdist`` names are
built into wheels in a ``wheels`` builder stage, never in the image that ships.

Everything that stage reads is hash-checked: the sdists against the project's lock
(``.reprobuild/sdists.lock.txt``, ``pip wheel --require-hashes --no-deps``), and the build
backends (setuptools, wheel, hatchling, ...) against ``build-requirements``, a second
pinned and hashed lock, installed from wheels into a throwaway venv and used without
build isolation, so pip fetches nothing. The built wheels' hashes cannot be in any lock
(a local build makes them), so the install stage installs them in a separate pip call,
by exact pin, ``--no-index --no-deps --only-binary=:all:`` from the wheels stage's output
only (docs/decisions.md, "Generator: sdists").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from reprobuild.errors import ReprobuildError
from reprobuild.generate.config import ImageConfig
from reprobuild.generate.export import hashed_requirements
from reprobuild.generate.target import Target
from reprobuild.models import ArtifactKind, Lock, LockedPackage, LockFormat, SourceKind

__all__ = [
    "BUILD_LOCK",
    "BUILD_WHEELS_DIR",
    "SDISTS_DIR",
    "SDISTS_LOCK",
    "SdistError",
    "SdistRoute",
    "read_build_requirements",
    "sdist_route",
]

SDISTS_LOCK = Path(".reprobuild") / "sdists.lock.txt"
BUILD_LOCK = Path(".reprobuild") / "build-requirements.lock.txt"
SDISTS_DIR = Path(".reprobuild") / "sdists"
BUILD_WHEELS_DIR = Path(".reprobuild") / "build-wheels"
# A pin as it goes on the install command line (a shell word): canonical name, normal
# version. Checked, not quoted, so the Dockerfile shows the exact requirement.
_PIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?==[0-9a-z.!+]+$")


class SdistError(ReprobuildError):
    """allow-sdist or build-requirements cannot be honoured (names the file/package)."""


@dataclass(frozen=True, slots=True)
class SdistRoute:
    wheels: tuple[LockedPackage, ...]
    """Installed from the lock's own wheels, as without allow-sdist."""
    sdists: tuple[LockedPackage, ...]
    """Built from their sdists in the wheels stage."""
    build: tuple[LockedPackage, ...]
    """The build requirements that apply to the target."""
    build_lock: Lock

    @property
    def pins(self) -> tuple[str, ...]:
        pins = tuple(f"{p.name}=={Version(p.version or '')}" for p in self.sdists)
        bad = [pin for pin in pins if not _PIN.match(pin)]
        if bad:
            raise SdistError(f"cannot put {', '.join(bad)} on a pip command line")
        return pins

    def warnings(self, build_name: str) -> tuple[str, ...]:
        """RB109 stays visible: generation prints one warning per package built here."""
        return tuple(
            f"RB109 sdist-only: {p.name}=={p.version} has no wheel; it is built from its "
            f"sdist in the image's wheels stage (allow-sdist) with the backends in "
            f"{build_name}, so the result depends on them and on the base image"
            for p in self.sdists
        )

    def files(self, *, header: str, build_header: str) -> tuple[tuple[Path, str], ...]:
        """The two hashed requirements files the wheels stage reads."""
        names = frozenset(p.name for p in self.sdists)
        return (
            (SDISTS_LOCK, hashed_requirements(self.sdists, header=header, allow_sdist=names)),
            (BUILD_LOCK, hashed_requirements(self.build, header=build_header)),
        )


def _version_ok(package: LockedPackage) -> bool:
    try:
        Version(package.version or "")
    except InvalidVersion:
        return False
    return True


def read_build_requirements(path: Path, target: Target) -> tuple[Lock, tuple[LockedPackage, ...]]:
    """The build-requirements lock and its packages for ``target``; refuses (naming file
    and line) anything not pinned with ``==`` and hashed, or not from an index."""
    from reprobuild.lockfiles import read_lock

    if not path.is_file():
        raise SdistError(
            f"{path}: build-requirements file not found; write it with "
            "`pip-compile --generate-hashes --allow-unsafe` (setuptools, wheel, ...)"
        )
    lock = read_lock(path, LockFormat.REQUIREMENTS)
    problems: list[str] = []
    chosen: list[LockedPackage] = []
    for package in lock.installed():
        if not target.marker_holds(package.marker):
            continue
        where = f"{path.name}:{package.line}" if package.line else path.name
        if package.source is not SourceKind.REGISTRY:
            problems.append(f"{where}: {package.name} is not a package from an index")
        elif package.version is None or not _version_ok(package):
            problems.append(f"{where}: {package.name} is not pinned with == ({package.specifier})")
        elif not package.strong_hashes:
            problems.append(f"{where}: {package.name}=={package.version} has no sha256 --hash")
        chosen.append(package)
    if problems:
        raise SdistError(
            f"{path}: build requirements must be a pinned, hashed lock "
            "(pip-compile --generate-hashes --allow-unsafe): " + "; ".join(problems)
        )
    if not chosen:
        raise SdistError(f"{path}: no build requirements for {target.platform} "
                         f"Python {target.python}")
    return lock, tuple(chosen)


def sdist_route(
    config: ImageConfig, lock: Lock, packages: Sequence[LockedPackage], target: Target
) -> SdistRoute | None:
    """Split the packages to install into wheels and allowed sdists (None: allow-sdist is
    not set, the route is unchanged)."""
    if not config.allow_sdist or config.build_requirements is None:
        return None
    allowed = frozenset(config.allow_sdist)
    unknown = sorted(allowed - {p.name for p in lock.packages})
    if unknown:
        raise SdistError(
            f"[tool.reprobuild] allow-sdist names {', '.join(unknown)}, which "
            f"{lock.path.name} does not contain; remove {'them' if len(unknown) > 1 else 'it'}"
        )
    sdists = tuple(p for p in packages if p.name in allowed)
    with_wheels = [
        f"{p.name}=={p.version}"
        for p in sdists
        if any(a.kind is ArtifactKind.WHEEL for a in p.artifacts)
    ]
    if with_wheels:
        raise SdistError(
            f"{lock.path.name} has wheels for {', '.join(with_wheels)}; remove "
            f"{'them' if len(with_wheels) > 1 else 'it'} from [tool.reprobuild] allow-sdist"
        )
    build_lock, build = read_build_requirements(config.build_requirements, target)
    return SdistRoute(
        wheels=tuple(p for p in packages if p.name not in allowed),
        sdists=sdists,
        build=build,
        build_lock=build_lock,
    )
