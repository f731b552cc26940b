"""Python (and other OS packages) for bases that lack them: the distribution's own .debs.

The ``nvidia/cuda`` images have no Python. ``python-source = "apt"`` (the default for such
bases) brings ``python<X.Y>`` and ``python<X.Y>-venv`` in from the base distribution's
archive, hash-verified end to end:

1. ``reprobuild fetch`` resolves the closure on the host with apt itself, in a private
   state directory: ``apt-get update`` checks the suite's ``InRelease`` signature against
   the configured keyring and the ``Packages`` index against the signed hashes;
   ``apt-get install --print-uris`` then names every ``.deb`` with the index's sha256
   (:mod:`reprobuild.fetch.debian`).
2. Each ``.deb``'s package, version, archive path and sha256 is recorded in the committed
   pin file (``"debs"`` section), so later fetches, ``generate`` and ``generate --check``
   are offline and a changed archive is detected (a download must match the pin).
3. ``generate`` writes ``.reprobuild/debs.sha256`` from the pins; the Dockerfile checks
   every file with ``sha256sum --check`` and installs, with ``apt-get install ./file.deb…``
   (apt orders Pre-Depends; it has no index in the image, so these files are all it can
   use) and no network, the ones whose package the base does not already have: installed
   packages are left alone, as apt would; one too old for a dependency fails loudly.

``apt-packages = { name = "version" }`` adds pinned OS packages on any base.
Resolving with an empty dpkg status makes the closure independent of the base image
(it includes libc6 & co.); the image skips what it already has.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from reprobuild.errors import ConfigError, ReprobuildError
from reprobuild.generate.config import ImageConfig

if TYPE_CHECKING:
    from reprobuild.generate.base import BaseChoice
    from reprobuild.generate.pins import PinFile
    from reprobuild.models import Lock

__all__ = [
    "DEBS_DIR",
    "DEBS_SUMS",
    "DebPin",
    "DebRequest",
    "DebSet",
    "UnpinnedDebsError",
    "adopt_python_source",
    "debs_sha256_text",
    "pinned_debs",
    "record_debs",
]

DEBS_DIR = ".reprobuild/debs"
DEBS_SUMS = ".reprobuild/debs.sha256"
PINS_SECTION = "debs"

_DEBIAN = "http://deb.debian.org/debian"
_DEBIAN_SECURITY = "http://deb.debian.org/debian-security"
_DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
_UBUNTU = {"amd64": "http://archive.ubuntu.com/ubuntu", "arm64": "http://ports.ubuntu.com/ubuntu-ports"}
_UBUNTU_SECURITY = {
    "amd64": "http://security.ubuntu.com/ubuntu", "arm64": "http://ports.ubuntu.com/ubuntu-ports"
}
_UBUNTU_KEYRING = "/usr/share/keyrings/ubuntu-archive-keyring.gpg"


@dataclass(frozen=True, slots=True)
class Distribution:
    """What the base image's OS name implies: its suite and its own Python."""

    family: str
    """``debian`` or ``ubuntu``"""
    suite: str
    python: str


# The OS part of a base tag (nvidia/cuda ``-ubuntu22.04``, python ``-bookworm``) -> archive.
DISTRIBUTIONS = {
    "bookworm": Distribution("debian", "bookworm", "3.11"),
    "trixie": Distribution("debian", "trixie", "3.13"),
    "ubuntu22.04": Distribution("ubuntu", "jammy", "3.10"),
    "ubuntu24.04": Distribution("ubuntu", "noble", "3.12"),
}
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_DEB_VERSION = re.compile(r"^[0-9A-Za-z.+~:-]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UnpinnedDebsError(ReprobuildError):
    """The pin file has no .debs for what the config asks (run ``reprobuild fetch``)."""


@dataclass(frozen=True, slots=True)
class DebRequest:
    """What to bring in from the distribution's archive, and from where."""

    sources: tuple[str, ...]
    """One-line apt sources without ``deb``: ``URI SUITE COMPONENT...``"""
    keyring: str
    """The OpenPGP keyring the suites' ``InRelease`` must be signed with."""
    architecture: str
    """dpkg's name: ``amd64``, ``arm64``"""
    packages: tuple[str, ...]
    """apt requests: ``python3.11``, ``curl=7.88.1-10+deb12u8``"""
    python_from_debs: bool

    def matches(self, pinned: DebSet) -> bool:
        return (pinned.sources, pinned.keyring, pinned.architecture, pinned.packages) == (
            self.sources, self.keyring, self.architecture, self.packages
        )


@dataclass(frozen=True, slots=True)
class DebPin:
    package: str
    version: str
    architecture: str
    url: str
    """Where the archive serves it (source URI + the index's ``Filename``)."""
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        """The pool file name (``name_version_arch.deb``, no epoch): the build context's."""
        return unquote(self.url.rsplit("/", 1)[-1])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class DebSet:
    sources: tuple[str, ...]
    keyring: str
    architecture: str
    packages: tuple[str, ...]
    debs: tuple[DebPin, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "keyring": self.keyring,
            "architecture": self.architecture,
            "packages": list(self.packages),
            "debs": [d.to_dict() for d in sorted(self.debs, key=lambda d: d.filename)],
        }


def _os_of(config: ImageConfig, base: BaseChoice) -> str | None:
    if config.cuda_os and base.cuda is not None:
        return config.cuda_os
    if base.cuda is not None:
        return base.cuda.os
    tag = base.reference.rsplit(":", 1)[-1] if ":" in base.reference else ""
    return next((name for name in DISTRIBUTIONS if tag.endswith(name)), None)


def default_sources(os_name: str, architecture: str) -> tuple[tuple[str, ...], str]:
    """The archive, updates and security suites of a known OS, with its keyring."""
    dist = DISTRIBUTIONS[os_name]
    if dist.family == "debian":
        return (
            f"{_DEBIAN} {dist.suite} main",
            f"{_DEBIAN} {dist.suite}-updates main",
            f"{_DEBIAN_SECURITY} {dist.suite}-security main",
        ), _DEBIAN_KEYRING
    archive, security = _UBUNTU[architecture], _UBUNTU_SECURITY[architecture]
    return (
        f"{archive} {dist.suite} main universe",
        f"{archive} {dist.suite}-updates main universe",
        f"{security} {dist.suite}-security main universe",
    ), _UBUNTU_KEYRING


def adopt_python_source(config: ImageConfig, base: BaseChoice, lock: Lock) -> BaseChoice:
    """``base`` with the .debs to install (``base.debs``), and, when Python comes from the
    archive, the distribution's own Python as the target (unless the config names one or
    the lock excludes it: then ``python<X.Y>`` must exist in the configured suites).
    Unchanged when neither Python nor OS packages are needed."""
    source = config.python_source
    if source == "auto":
        source = "image" if base.has_python else "apt"
    if source == "image" and not base.has_python:
        raise ConfigError(
            f"[tool.reprobuild] python-source = \"image\" but {base.reference} has no Python; "
            'use python-source = "apt" or a base-image with Python'
        )
    python_from_debs = source == "apt"
    if not python_from_debs and not config.apt_packages:
        return base
    architecture = "arm64" if config.platform == "linux/arm64" else "amd64"
    os_name = _os_of(config, base)
    dist = DISTRIBUTIONS.get(os_name or "")
    sources, keyring = (
        default_sources(os_name, architecture) if dist and os_name else ((), "")
    )
    sources = config.apt_sources or sources
    keyring = config.apt_keyring or keyring
    if not sources or not keyring:
        raise ConfigError(
            f"[tool.reprobuild]: cannot tell which package archive {base.reference} uses "
            f"(OS {os_name or 'unknown'}); set apt-sources and apt-keyring"
        )
    target = base.target
    if python_from_debs and config.python is None and dist is not None and _allows(
        lock, dist.python
    ):
        target = dataclasses.replace(target, python=dist.python)
    wanted: list[str] = []
    if python_from_debs:
        wanted += [f"python{target.python}", f"python{target.python}-venv"]
    wanted += [f"{name}={version}" for name, version in config.apt_packages]
    request = DebRequest(
        sources=sources,
        keyring=keyring,
        architecture=architecture,
        packages=tuple(wanted),
        python_from_debs=python_from_debs,
    )
    return dataclasses.replace(base, target=target, debs=request)


def _allows(lock: Lock, python: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return not lock.python or SpecifierSet(lock.python).contains(f"{python}.0")
    except InvalidSpecifier:
        return True


def _deb_from(where: str, entry: object) -> DebPin:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table")
    try:
        pin = DebPin(
            package=str(entry["package"]),
            version=str(entry["version"]),
            architecture=str(entry["architecture"]),
            url=str(entry["url"]),
            sha256=str(entry["sha256"]),
            size=int(entry["size"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: missing or invalid field {exc}") from None
    # Names and versions reach a Dockerfile and a shell loop: refuse anything unusual.
    if not (
        _PACKAGE.match(pin.package)
        and _DEB_VERSION.match(pin.version)
        and _SHA256.match(pin.sha256)
        and re.match(r"^[a-z0-9][a-z0-9+.-]*_[A-Za-z0-9.+~-]+_[a-z0-9]+\.deb$", pin.filename)
    ):
        raise ConfigError(f"{where}: {pin.package} {pin.version}: not a valid .deb pin")
    return pin


def pinned_debs(pins: PinFile, request: DebRequest) -> DebSet:
    """The pinned closure for ``request``; refuses a missing or stale one."""
    section = pins.other.get(PINS_SECTION, {})
    entry = section.get(request.architecture) if isinstance(section, dict) else None
    where = f"{pins.path.name}: {PINS_SECTION}.{request.architecture}"
    if not isinstance(entry, dict):
        raise UnpinnedDebsError(
            f"{where}: no pinned .debs for {' '.join(request.packages)}; run `reprobuild "
            "fetch` (it resolves them against the signed archive index and records them)"
        )
    pinned = DebSet(
        sources=tuple(str(s) for s in entry.get("sources", ())),
        keyring=str(entry.get("keyring", "")),
        architecture=str(entry.get("architecture", "")),
        packages=tuple(str(p) for p in entry.get("packages", ())),
        debs=tuple(_deb_from(f"{where}.debs[{i}]", d) for i, d in enumerate(entry.get("debs", ()))),
    )
    if not request.matches(pinned):
        raise UnpinnedDebsError(
            f"{where}: pinned for {' '.join(pinned.packages)} from {'; '.join(pinned.sources)}, "
            "but the config now asks for something else; run `reprobuild fetch --update-debs`"
        )
    if not pinned.debs:
        raise UnpinnedDebsError(f"{where}: the pinned closure is empty")
    return pinned


def record_debs(pins: PinFile, debs: DebSet) -> None:
    """Put a resolved closure in the pin file (saved by the caller)."""
    section = pins.other.setdefault(PINS_SECTION, {})
    new = debs.to_dict()
    if section.get(debs.architecture) != new:
        section[debs.architecture] = new
        pins.changed = True


def debs_sha256_text(debs: DebSet) -> str:
    """``sha256sum --check`` input, one line per file, sorted: what the image verifies."""
    ordered = sorted(debs.debs, key=lambda d: d.filename)
    return "".join(f"{d.sha256}  {d.filename}\n" for d in ordered)
