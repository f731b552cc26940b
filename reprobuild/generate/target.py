"""The target an image is built for (Python version, platform, glibc), and which locked
packages install there.

Everything here is offline and uses ``packaging`` (markers, specifiers, wheel tags).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from reprobuild.errors import ReprobuildError
from reprobuild.models import ArtifactKind, Lock, LockedPackage, SourceKind

__all__ = ["NotInstallableError", "Target", "select_packages"]

_ARCH = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
# glibc of the base images reprobuild chooses (manylinux wheels newer than this refuse).
GLIBC_OF_OS = {
    "bookworm": (2, 36),
    "ubuntu20.04": (2, 31),
    "ubuntu22.04": (2, 35),
    "ubuntu24.04": (2, 39),
    "ubi8": (2, 28),
    "ubi9": (2, 34),
    "rockylinux8": (2, 28),
    "rockylinux9": (2, 34),
}
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


class NotInstallableError(ReprobuildError):
    """The lock cannot install on the target; the message names the packages."""


@dataclass(frozen=True, slots=True)
class Target:
    python: str
    """``3.11``"""
    platform: str = "linux/amd64"
    glibc: tuple[int, int] | None = (2, 36)
    """The base image's glibc; None when unknown (an explicit base image)."""

    @property
    def machine(self) -> str:
        return _ARCH[self.platform]

    @property
    def python_tuple(self) -> tuple[int, int]:
        major, minor = self.python.split(".")[:2]
        return int(major), int(minor)

    def marker_environment(self) -> dict[str, str]:
        major, minor = self.python_tuple
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{major}.{minor}.0",
            "os_name": "posix",
            "platform_machine": self.machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": f"{major}.{minor}.0",
            "python_version": f"{major}.{minor}",
            "sys_platform": "linux",
            "extra": "",
        }

    def wheel_tags(self) -> frozenset[Tag]:
        return _wheel_tags(self.python_tuple, self.machine, self.glibc)

    def accepts_wheel(self, filename: str) -> bool:
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            return False
        return not tags.isdisjoint(self.wheel_tags())

    def why_not(self, filename: str) -> str:
        """A short reason a wheel does not fit (for error messages)."""
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            return "not a valid wheel file name"
        platforms = {t.platform for t in tags}
        if all(self.machine not in p and p != "any" for p in platforms):
            return f"built for {', '.join(sorted(platforms))}, not {self.machine}"
        if self.glibc is not None and all(p.startswith("manylinux_") for p in platforms):
            needs = min(
                tuple(int(x) for x in p.split("_")[1:3]) for p in platforms
            )
            if needs > self.glibc:
                return (
                    f"needs glibc {needs[0]}.{needs[1]} but the base image has "
                    f"{self.glibc[0]}.{self.glibc[1]}"
                )
        return f"tags {', '.join(sorted(str(t) for t in tags))} do not match Python {self.python}"

    def marker_holds(self, marker: str | None) -> bool:
        if not marker:
            return True
        try:
            return Marker(marker).evaluate(self.marker_environment())
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            return True  # keep it: pip will evaluate it again at install time


@cache
def _wheel_tags(
    version: tuple[int, int], arch: str, glibc: tuple[int, int] | None
) -> frozenset[Tag]:
    platforms: list[str] = []
    if glibc is not None:
        major, top = glibc
        platforms += [f"manylinux_{major}_{minor}_{arch}" for minor in range(top, 4, -1)]
        platforms += [
            f"{legacy}_{arch}"
            for legacy, floor in _LEGACY_MANYLINUX.items()
            if floor <= glibc and (arch == "x86_64" or legacy == "manylinux2014")
        ]
    platforms.append(f"linux_{arch}")
    abi = f"cp{version[0]}{version[1]}"
    return frozenset(
        [
            *cpython_tags(version, abis=[abi, "abi3", "none"], platforms=platforms),
            *compatible_tags(version, interpreter=abi, platforms=platforms),
        ]
    )


def _in_groups(package: LockedPackage, groups: tuple[str, ...]) -> bool:
    return not groups or not package.groups or any(g in groups for g in package.groups)


def is_project_root(package: LockedPackage, lock: Lock) -> bool:
    """The project itself (uv's virtual/editable ``.``, a poetry develop dir at the lock's
    directory): its source is copied into the image, not installed from the lock. Other
    local packages are not skipped: the exporter refuses them, naming them."""
    if package.source not in (SourceKind.EDITABLE, SourceKind.DIRECTORY):
        return False
    where = (lock.path.parent / (package.url or ".")).resolve()
    return where == lock.path.parent.resolve()


def select_packages(
    lock: Lock,
    target: Target,
    *,
    groups: tuple[str, ...] = (),
) -> tuple[LockedPackage, ...]:
    """The pip packages to install on ``target``, after markers and groups; refuses a lock
    that cannot install there, naming the packages."""
    if lock.python:
        try:
            allowed = SpecifierSet(lock.python)
        except InvalidSpecifier:
            allowed = None
        if allowed is not None and not allowed.contains(f"{target.python}.0", prereleases=True):
            raise NotInstallableError(
                f"{lock.path}: the lock requires Python {lock.python}; "
                f"the target is Python {target.python} (set [tool.reprobuild] python)"
            )
    chosen = [
        p
        for p in lock.installed()
        if p.manager == "pip"
        and not is_project_root(p, lock)
        and _in_groups(p, groups)
        and target.marker_holds(p.marker)
    ]
    problems: list[str] = []
    for package in chosen:
        wheels = [a for a in package.artifacts if a.kind is ArtifactKind.WHEEL and a.filename]
        if not wheels:
            continue  # requirements locks name no files: `reprobuild fetch` checks them
        if not any(target.accepts_wheel(a.filename or "") for a in wheels):
            reasons = sorted({target.why_not(a.filename or "") for a in wheels})
            problems.append(
                f"{package.name}=={package.version}: no wheel for {target.platform} "
                f"Python {target.python} ({'; '.join(reasons[:3])})"
            )
    if problems:
        raise NotInstallableError(
            f"{lock.path}: cannot install on {target.platform}, Python {target.python}: "
            + "; ".join(problems)
        )
    return tuple(chosen)
