"""The conda route: a Dockerfile that installs a conda lock's exact packages, no solver.

``conda-lock.yml`` and explicit locks name every package archive with its hash. The image
installs those files, and only those, into ``/opt/conda``:

* a builder stage makes a throwaway venv with the installer, py-rattler, installed from
  its wheel with ``pip --require-hashes`` (so the installer is pinned by hash like every
  other input; see ``INSTALLER``), then runs ``templates/conda-install.py``, which checks
  each archive's sha256 (md5 when the lock gives nothing else) against a manifest and
  links the records into the prefix with ``rattler.install`` (no solve, no network);
* the manifest, the installer requirements and the install script are checked in the
  Dockerfile itself by sha256, so ``generate --check`` covers them and a changed package
  list changes the Dockerfile;
* pip packages a conda-lock.yml lists go through the pip route's hashed requirements
  file, installed with the environment's own Python;
* the final stage copies the prefix; it does not need the builder's Python.

The manifest and the installer requirements are pure functions of the lock and this
module, so ``reprobuild fetch`` (which writes them next to the archives) and
``generate`` (which puts their hashes in the Dockerfile) always agree.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reprobuild import __version__
from reprobuild.generate.base import BaseChoice, choose_base
from reprobuild.generate.config import ImageConfig
from reprobuild.generate.export import hashed_requirements
from reprobuild.generate.generator import (
    GeneratedFiles,
    GenerateError,
    _environment,
    project_relative,
    template_dir,
)
from reprobuild.generate.pins import PinFile, Resolver
from reprobuild.generate.target import Target, select_packages
from reprobuild.models import ArtifactKind, Lock, LockedPackage, LockFormat, SourceKind
from reprobuild.redaction import redact

__all__ = [
    "CONDA_DIR",
    "INSTALLER",
    "CondaFile",
    "CondaPlan",
    "InstallerWheel",
    "conda_files",
    "generate_conda",
    "install_script",
    "installer_requirements",
    "manifest_text",
    "plan_conda",
    "redact_conda",
    "subdir_for",
]

CONDA_DIR = PurePosixPath(".reprobuild/conda")
"""In the build context: packages/, installer/, packages.json, installer.txt, install.py."""
PREFIX = "/opt/conda"
MANIFEST_SCHEMA = "reprobuild.conda-packages/1"
_SUBDIRS = {"linux/amd64": "linux-64", "linux/arm64": "linux-aarch64"}
# conda's token-in-path form (https://host/t/<token>/channel): redact() covers userinfo only.
_CONDA_TOKEN = re.compile(r"/t/[^/]+/")


@dataclass(frozen=True, slots=True)
class InstallerWheel:
    filename: str
    sha256: str
    url: str


@dataclass(frozen=True, slots=True)
class Installer:
    name: str
    version: str
    wheels: tuple[tuple[str, InstallerWheel], ...]
    """(docker platform, wheel): abi3 wheels, so any Python >= 3.10 in the builder works."""

    def wheel_for(self, platform: str) -> InstallerWheel:
        return dict(self.wheels)[platform]


_FILES = "https://files.pythonhosted.org/packages"
INSTALLER = Installer(
    name="py-rattler",
    version="0.28.0",
    wheels=(
        (
            "linux/amd64",
            InstallerWheel(
                "py_rattler-0.28.0-cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "4f4ab1d34d5394e7ce130a86e59009c95ace4f5757d9c3af04de1351bcea47eb",
                f"{_FILES}/8f/6d/3fa200701f73ba8c2230d76f01c4e928c1abad98d6c43722f5cace3c12ab/"
                "py_rattler-0.28.0-cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            ),
        ),
        (
            "linux/arm64",
            InstallerWheel(
                "py_rattler-0.28.0-cp310-abi3-manylinux_2_28_aarch64.whl",
                "61b24202374188e72130f1b3dc63b455befaafc3e49e5481a38b6a6c8828c1e0",
                f"{_FILES}/ab/d1/2160739ab3796b2285871c3b653ceefab19fa5d7dcf3179e7435f0bfacbd/"
                "py_rattler-0.28.0-cp310-abi3-manylinux_2_28_aarch64.whl",
            ),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class CondaFile:
    """One conda archive the image installs, as the lock pins it."""

    filename: str
    name: str
    version: str
    build: str
    subdir: str
    channel: str
    """Redacted: it goes into the manifest and the image."""
    url: str
    """As the lock writes it (may hold credentials): for downloading only, never printed."""
    sha256: str | None
    md5: str | None

    @property
    def display(self) -> str:
        return f"{self.name}={self.version}={self.build}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "filename": self.filename,
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "subdir": self.subdir,
            "channel": self.channel,
            "sha256": self.sha256,
            "md5": self.md5,
        }


@dataclass(frozen=True, slots=True)
class CondaPlan:
    base: BaseChoice
    subdir: str
    conda: tuple[CondaFile, ...]
    pip: tuple[LockedPackage, ...]
    pip_target: Target | None
    """The environment's own Python (the conda ``python`` package), when pip packages exist."""


def subdir_for(platform: str) -> str:
    return _SUBDIRS[platform]


def redact_conda(text: str) -> str:
    """Credentials out of a channel URL: userinfo, and conda's ``/t/<token>/`` path form."""
    return _CONDA_TOKEN.sub("/t/***/", redact(text))


def _conda_file(package: LockedPackage) -> CondaFile | str:
    """The archive to install, or why it cannot be installed hash-verified."""
    what = f"{package.name}={package.version}"
    archives = [a for a in package.artifacts if a.kind is ArtifactKind.CONDA and a.url]
    if package.source is not SourceKind.REGISTRY or not archives:
        return f"{what} (not a conda archive from a channel)"
    artifact = archives[0]
    hashes = {h.algorithm: h.value for h in artifact.hashes or package.hashes}
    sha256, md5 = hashes.get("sha256"), hashes.get("md5")
    if sha256 is None and md5 is None:
        return f"{what} (the lock gives no sha256 or md5)"
    if not package.subdir or not package.build or not artifact.filename:
        return f"{what} (the URL does not name <channel>/<subdir>/<name>-<version>-<build>)"
    return CondaFile(
        filename=artifact.filename,
        name=package.name,
        version=package.version or "",
        build=package.build,
        subdir=package.subdir,
        channel=redact_conda(package.channel or ""),
        url=artifact.url or "",
        sha256=sha256,
        md5=None if sha256 else md5,
    )


def _for_platform(lock: Lock, package: LockedPackage, subdir: str) -> bool:
    if lock.format is LockFormat.CONDA_LOCK:
        return package.platform == subdir
    return True  # an explicit lock is for one platform; checked once in conda_files


def _in_groups(package: LockedPackage, groups: tuple[str, ...]) -> bool:
    return not package.groups or any(g in groups for g in package.groups)


def conda_files(
    lock: Lock, platform: str, *, groups: tuple[str, ...] = ("main",)
) -> tuple[CondaFile, ...]:
    """The conda archives to install for ``platform`` (sorted by file name); refuses a
    lock that cannot install there hash-verified, naming every package in the way."""
    subdir = subdir_for(platform)
    if lock.format is LockFormat.CONDA_LOCK and subdir not in lock.platforms:
        raise GenerateError(
            f"{lock.path}: the lock is for {', '.join(lock.platforms) or 'no platform'}, "
            f"not {subdir} ({platform}); add it to the lock's platforms or change "
            "[tool.reprobuild] platform"
        )
    if lock.format is LockFormat.CONDA_EXPLICIT and lock.platforms and subdir not in lock.platforms:
        raise GenerateError(
            f"{lock.path}: an explicit lock for {lock.platforms[0]}, not {subdir} ({platform}); "
            "render one for this platform or change [tool.reprobuild] platform"
        )
    problems: list[str] = []
    files: dict[str, CondaFile] = {}
    for package in lock.installed():
        if (
            package.manager != "conda"
            or not _for_platform(lock, package, subdir)
            or not _in_groups(package, groups)
        ):
            continue
        found = _conda_file(package)
        if isinstance(found, str):
            problems.append(found)
        elif found.subdir not in (subdir, "noarch"):
            problems.append(f"{found.display} (built for {found.subdir}, not {subdir})")
        elif found.name in files:
            problems.append(f"{found.name} (locked twice: {files[found.name].display})")
        else:
            files[found.name] = found
    if problems:
        raise GenerateError(
            f"{lock.path}: cannot install hash-verified without a solver: " + "; ".join(problems)
        )
    if not files:
        raise GenerateError(f"{lock.path}: no conda packages for {subdir} in groups {groups}")
    return tuple(sorted(files.values(), key=lambda f: f.filename))


def manifest_text(files: tuple[CondaFile, ...], subdir: str) -> str:
    """``packages.json``: what the install script verifies and installs (deterministic)."""
    document = {
        "schema": MANIFEST_SCHEMA,
        "subdir": subdir,
        "packages": [f.to_dict() for f in files],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def installer_requirements() -> str:
    hashes = " ".join(f"--hash=sha256:{w.sha256}" for _, w in sorted(INSTALLER.wheels))
    return (
        "# The conda installer, pinned by hash (reprobuild's conda route).\n"
        f"{INSTALLER.name}=={INSTALLER.version} {hashes}\n"
    )


def install_script() -> str:
    return (template_dir() / "conda-install.py").read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _pip_target(
    lock: Lock, files: tuple[CondaFile, ...], pip: tuple[LockedPackage, ...], platform: str
) -> Target | None:
    if not pip:
        return None
    names = {f.name: f for f in files}
    if "python" not in names or "pip" not in names:
        raise GenerateError(
            f"{lock.path}: the lock has pip packages ({', '.join(p.name for p in pip[:5])}) "
            "but no conda python and pip to install them with; add python and pip to the "
            "environment and relock"
        )
    major_minor = ".".join(names["python"].version.split(".")[:2])
    return Target(python=major_minor, platform=platform, glibc=None)


def plan_conda(
    config: ImageConfig,
    lock: Lock,
    pins: PinFile,
    *,
    resolver: Resolver | None = None,
    update: bool = False,
) -> CondaPlan:
    """Base image, conda archives and pip packages for the target (shared with fetch)."""
    base = choose_base(config, lock, pins, resolver=resolver, update=update)
    if not base.has_python:
        raise GenerateError(
            f"base image {base.reference} has no Python for the conda installer's builder "
            "stage; set [tool.reprobuild] base-image to an image with python3 >= 3.10"
        )
    groups = config.groups or ("main",)
    subdir = subdir_for(config.platform)
    files = conda_files(lock, config.platform, groups=groups)
    pip_lock = _pip_only(lock, subdir)
    pip = tuple(
        p for p in pip_lock.installed() if not p.groups or any(g in groups for g in p.groups)
    )
    target = _pip_target(lock, files, pip, config.platform)
    if target is not None:
        pip = select_packages(pip_lock, target, groups=groups)
    return CondaPlan(base=base, subdir=subdir, conda=files, pip=pip, pip_target=target)


def _pip_only(lock: Lock, subdir: str) -> Lock:
    """The lock's pip entries for this platform, as a lock the pip route understands."""
    from dataclasses import replace

    keep = tuple(
        p
        for p in lock.packages
        if p.manager == "pip" and (p.platform is None or p.platform == subdir)
    )
    return replace(lock, packages=keep, python=None)


def generate_conda(
    config: ImageConfig,
    lock: Lock,
    pins: PinFile,
    *,
    resolver: Resolver | None = None,
    update: bool = False,
) -> GeneratedFiles:
    plan = plan_conda(config, lock, pins, resolver=resolver, update=update)
    lock_name = project_relative(config, lock.path)
    python_note = (
        f"Python {plan.pip_target.python} (the environment's)" if plan.pip_target else "no Python"
    )
    requirements = hashed_requirements(
        plan.pip,
        header=(
            f"Generated by reprobuild {__version__} from {lock_name} "
            f"(sha256:{lock.sha256}) for {config.platform}, {python_note}.\n"
            "pip packages of a conda lock, installed into /opt/conda with the environment's "
            "Python:\n--require-hashes --no-deps --only-binary=:all: --no-index."
        ),
    )
    md5_only = [f.display for f in plan.conda if f.sha256 is None]
    if any(re.search(r"\s", name) for name in md5_only):  # it goes in a comment line
        raise GenerateError(f"{lock.path}: a package name, version or build has whitespace")
    context = {
        "tool_version": __version__,
        "lock_name": lock_name,
        "lock_format": lock.format.value,
        "lock_sha256": f"sha256:{lock.sha256}",
        "platform": config.platform,
        "subdir": plan.subdir,
        "package_count": len(plan.conda),
        "md5_only": md5_only,
        "prefix": PREFIX,
        "checksums": [
            (_sha256(installer_requirements()), "installer.txt"),
            (_sha256(install_script()), "install.py"),
            (_sha256(manifest_text(plan.conda, plan.subdir)), "packages.json"),
        ],
        "pip": bool(plan.pip),
        "base_pinned": plan.base.pinned,
        "base_reference": plan.base.reference,
        "base_digest": plan.base.digest,
        "labels": list(config.labels),
        "env": list(config.env),
        "workdir": config.workdir,
        "source": list(config.source),
        "user": config.user,
        "entrypoint": list(config.entrypoint) if config.entrypoint is not None else None,
        "cmd": list(config.cmd) if config.cmd is not None else None,
    }
    dockerfile = _environment().get_template("conda.Dockerfile.j2").render(context)
    return GeneratedFiles(
        dockerfile=dockerfile,
        requirements=requirements,
        base=plan.base,
        packages=len(plan.conda) + len(plan.pip),
    )


def context_files(plan: CondaPlan) -> dict[Path, str]:
    """The small text files ``reprobuild fetch`` writes next to the archives."""
    return {
        Path("installer.txt"): installer_requirements(),
        Path("install.py"): install_script(),
        Path("packages.json"): manifest_text(plan.conda, plan.subdir),
    }
