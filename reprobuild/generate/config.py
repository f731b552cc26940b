"""The image configuration: the generator's part of ``[tool.reprobuild]``.

```toml
[tool.reprobuild]
lockfile = "requirements.txt"        # default: the one lockfile found in the project root
platform = "linux/amd64"
python = "3.11"                      # default: the newest of 3.13..3.10 the lock allows
base-image = "python:3.11-slim-bookworm"   # explicit; overrides the python/CUDA choice
cuda = "auto"                        # "auto" | "12.4" | false
cuda-flavor = "base"                 # base | runtime | devel
cudnn = false
cuda-os = "ubuntu22.04"
python-source = "auto"               # auto | image | apt: where Python comes from (auto: the
                                     # base's own, else the distribution's .debs, pinned)
apt-sources = ["http://deb.debian.org/debian bookworm main"]   # default: from the base's OS
apt-keyring = "/usr/share/keyrings/debian-archive-keyring.gpg" # signs the suites' InRelease
apt-packages = { curl = "7.88.1-10+deb12u8" }  # OS packages, pinned versions (hash-pinned
                                               # .debs in the pin file, like the wheels)
groups = ["main"]                    # poetry/uv groups (conda-lock categories) to install
source = ["src"]                     # project paths copied after the dependencies
workdir = "/app"
user = "1000:1000"                   # non-root by default; "root" to opt out
env = { PYTHONUNBUFFERED = "1" }
labels = { "org.example.team" = "ml" }
entrypoint = ["python", "-m", "myproject"]
cmd = []
dockerfile = "Dockerfile"
pins-file = "reprobuild.pins.json"
allow-sdist = ["antlr4-python3-runtime"]     # sdist-only packages built in a "wheels" stage
build-requirements = "build-requirements.txt"  # their build backends: a hashed, pinned lock
```

Values that reach the Dockerfile are validated here (names, paths, users) and quoted by
the renderer (JSON strings), so nothing from a config file is ever interpreted by a shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

from packaging.version import InvalidVersion, Version

from reprobuild.config import ProjectConfig
from reprobuild.errors import ConfigError
from reprobuild.registry.mirrors import REGISTRY_CONFIG_KEYS

__all__ = ["GENERATE_KEYS", "ImageConfig", "image_config_from"]

CudaSetting = Literal["auto"] | str | Literal[False]

GENERATE_KEYS = frozenset(
    {
        "lockfile", "platform", "python", "base-image", "cuda", "cuda-flavor", "cudnn",
        "cuda-os", "groups", "source", "workdir", "user", "env", "labels",
        "entrypoint", "cmd", "dockerfile", "pins-file",
        "python-source", "apt-sources", "apt-keyring", "apt-packages",
        "allow-sdist", "build-requirements",
    }
)
# Sections owned by other subsystems; known here so that a typo at the top level is caught.
OTHER_KEYS = frozenset({"lint", "promotion", "record"}) | REGISTRY_CONFIG_KEYS

LOCKFILE_CANDIDATES = (
    "uv.lock",
    "poetry.lock",
    "pylock.toml",
    "conda-lock.yml",
    "requirements.txt",
    "requirements.lock",
)
SUPPORTED_PYTHONS = ("3.13", "3.12", "3.11", "3.10")
PLATFORMS = ("linux/amd64", "linux/arm64")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_KEY = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")
_NAME_OR_ID = r"([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})"
_USER = re.compile(rf"^{_NAME_OR_ID}(:{_NAME_OR_ID})?$")
_CUDA = re.compile(r"^\d+\.\d+(\.\d+)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConfig:
    root: Path
    lockfile: Path
    platform: str = "linux/amd64"
    python: str | None = None
    base_image: str | None = None
    cuda: CudaSetting = "auto"
    cuda_flavor: Literal["base", "runtime", "devel"] = "base"
    cudnn: bool = False
    cuda_os: str | None = None
    groups: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    workdir: str = "/app"
    user: str = "1000:1000"
    env: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    dockerfile: Path = field(default_factory=lambda: Path("Dockerfile"))
    pins_file: Path = field(default_factory=lambda: Path("reprobuild.pins.json"))
    python_source: Literal["auto", "image", "apt"] = "auto"
    apt_sources: tuple[str, ...] = ()
    apt_keyring: str | None = None
    apt_packages: tuple[tuple[str, str], ...] = ()
    allow_sdist: tuple[str, ...] = ()
    """Canonical names of sdist-only packages built into wheels (reprobuild.generate.sdists)."""
    build_requirements: Path | None = None
    """The hashed lock of those builds' backends (absolute, inside the project)."""

    @property
    def architecture(self) -> str:
        return self.platform.split("/", 1)[1]


def _fail(project: ProjectConfig, key: str, message: str) -> ConfigError:
    return ConfigError(f"{project.where(key)}: {message}")


def _string(project: ProjectConfig, table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise _fail(project, key, f"must be a string, not {type(value).__name__}")
    if isinstance(value, str) and ("\n" in value or "\r" in value or "\0" in value):
        raise _fail(project, key, "must be a single line")
    return value


def _strings(project: ProjectConfig, table: dict[str, Any], key: str) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(project, key, "must be a list of strings")
    if any("\0" in v for v in value):
        raise _fail(project, key, "must not contain NUL characters")
    return tuple(value)


def _mapping(project: ProjectConfig, table: dict[str, Any], key: str) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(project, key, "must be a table of strings")
    for name, text in value.items():
        if any(c in text for c in "\r\n\0"):
            raise _fail(project, f"{key}.{name}", "must be a single line")
    return cast(dict[str, str], value)


def _relative_path(project: ProjectConfig, key: str, text: str) -> str:
    """A project path copied into the image: relative, inside the project, no tricks."""
    pure = PurePosixPath(text)
    if (
        not text
        or pure.is_absolute()
        or ".." in pure.parts
        or any(c in text for c in "\n\r\0\\")
        or text.startswith("-")
    ):
        raise _fail(project, key, f"{text!r} must be a relative path inside the project")
    return pure.as_posix()


def _find_lockfile(project: ProjectConfig) -> Path:
    found = [project.root / name for name in LOCKFILE_CANDIDATES if (project.root / name).is_file()]
    if not found:
        raise ConfigError(
            f"no lockfile in {project.root} (looked for {', '.join(LOCKFILE_CANDIDATES)}); "
            "set [tool.reprobuild] lockfile"
        )
    return found[0]


def image_config_from(project: ProjectConfig) -> ImageConfig:
    table = project.table
    unknown = set(table) - GENERATE_KEYS - OTHER_KEYS
    if unknown:
        raise ConfigError(
            f"{project.where(sorted(unknown)[0])}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"expected one of {', '.join(sorted(GENERATE_KEYS | OTHER_KEYS))}"
        )
    root = project.root
    lockfile_text = _string(project, table, "lockfile")
    lockfile = (
        root / _relative_path(project, "lockfile", lockfile_text)
        if lockfile_text
        else _find_lockfile(project)
    )

    platform = _string(project, table, "platform") or "linux/amd64"
    if platform not in PLATFORMS:
        raise _fail(project, "platform", f"{platform!r} is not one of {', '.join(PLATFORMS)}")

    python = _string(project, table, "python")
    if python is not None:
        try:
            parsed = Version(python)
        except InvalidVersion:
            raise _fail(project, "python", f"{python!r} is not a version like 3.11") from None
        python = f"{parsed.major}.{parsed.minor}"

    base_image = _string(project, table, "base-image")
    if base_image is not None:
        from reprobuild.errors import ReprobuildError
        from reprobuild.registry.reference import parse_reference

        try:
            parse_reference(base_image)
        except ReprobuildError as exc:  # the parser's own error says what is wrong
            raise _fail(project, "base-image", str(exc)) from None

    cuda_value = table.get("cuda", "auto")
    if cuda_value is False or cuda_value == "auto":
        cuda: CudaSetting = cuda_value
    elif isinstance(cuda_value, str) and _CUDA.match(cuda_value):
        cuda = cuda_value
    else:
        raise _fail(project, "cuda", 'must be "auto", false, or a version like "12.4"')

    flavor = _string(project, table, "cuda-flavor") or "base"
    if flavor not in ("base", "runtime", "devel"):
        raise _fail(project, "cuda-flavor", "must be base, runtime or devel")
    cudnn = table.get("cudnn", False)
    if not isinstance(cudnn, bool):
        raise _fail(project, "cudnn", "must be true or false")

    user = _string(project, table, "user") or "1000:1000"
    if not _USER.match(user):
        raise _fail(project, "user", f"{user!r} is not a user[:group] name or id")

    workdir = _string(project, table, "workdir") or "/app"
    if not workdir.startswith("/") or any(c in workdir for c in "\n\r\0\\$`\"'"):
        raise _fail(project, "workdir", f"{workdir!r} must be an absolute path without quotes")

    env = _mapping(project, table, "env")
    for name in env:
        if not _ENV_NAME.match(name):
            raise _fail(project, f"env.{name}", "is not a valid environment variable name")
    labels = _mapping(project, table, "labels")
    for name in labels:
        if not _LABEL_KEY.match(name):
            raise _fail(project, f"labels.{name}", "label keys are lower-case dotted names")

    python_source, apt_sources, apt_keyring, apt_packages = _apt_settings(project, table)
    allow_sdist, build_requirements = _sdist_settings(project, table)
    return ImageConfig(
        allow_sdist=allow_sdist,
        build_requirements=build_requirements,
        python_source=python_source,
        apt_sources=apt_sources,
        apt_keyring=apt_keyring,
        apt_packages=apt_packages,
        root=root,
        lockfile=lockfile,
        platform=platform,
        python=python,
        base_image=base_image,
        cuda=cuda,
        cuda_flavor=cast(Literal["base", "runtime", "devel"], flavor),
        cudnn=cudnn,
        cuda_os=_string(project, table, "cuda-os"),
        groups=_strings(project, table, "groups") or (),
        source=tuple(
            _relative_path(project, "source", s) for s in _strings(project, table, "source") or ()
        ),
        workdir=workdir,
        user=user,
        env=tuple(sorted(env.items())),
        labels=tuple(sorted(labels.items())),
        entrypoint=_strings(project, table, "entrypoint"),
        cmd=_strings(project, table, "cmd"),
        dockerfile=Path(
            _relative_path(
                project, "dockerfile", _string(project, table, "dockerfile") or "Dockerfile"
            )
        ),
        pins_file=Path(
            _relative_path(
                project, "pins-file", _string(project, table, "pins-file") or "reprobuild.pins.json"
            )
        ),
    )


_APT_SOURCE = re.compile(r"^(https?|file):/{1,3}[^\s]+( [A-Za-z0-9._/-]+){2,}$")
_DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_DEB_VERSION = re.compile(r"^[0-9A-Za-z.+~:-]+$")


def _apt_settings(
    project: ProjectConfig, table: dict[str, Any]
) -> tuple[
    Literal["auto", "image", "apt"], tuple[str, ...], str | None, tuple[tuple[str, str], ...]
]:
    """python-source, apt-sources, apt-keyring, apt-packages (see
    reprobuild.generate.python_source)."""
    source = _string(project, table, "python-source") or "auto"
    if source not in ("auto", "image", "apt"):
        raise _fail(project, "python-source", 'must be "auto", "image" or "apt"')
    sources = _strings(project, table, "apt-sources") or ()
    for line in sources:
        if not _APT_SOURCE.match(line):
            raise _fail(
                project, "apt-sources",
                f"{line!r} is not 'URI SUITE COMPONENT...' (e.g. "
                "'http://deb.debian.org/debian bookworm main')",
            )
    keyring = _string(project, table, "apt-keyring")
    if keyring is not None and not keyring.startswith("/"):
        raise _fail(project, "apt-keyring", "must be an absolute path to an OpenPGP keyring")
    packages = _mapping(project, table, "apt-packages")
    for name, version in packages.items():
        if not _DEB_NAME.match(name) or not _DEB_VERSION.match(version):
            raise _fail(
                project, f"apt-packages.{name}",
                "must be a Debian package name and its exact version",
            )
    return (
        cast(Literal["auto", "image", "apt"], source),
        sources,
        keyring,
        tuple(sorted(packages.items())),
    )


_CANONICAL_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def _sdist_settings(
    project: ProjectConfig, table: dict[str, Any]
) -> tuple[tuple[str, ...], Path | None]:
    """allow-sdist and build-requirements (see reprobuild.generate.sdists): both or neither."""
    from packaging.utils import canonicalize_name

    names = _strings(project, table, "allow-sdist") or ()
    for name in names:
        if canonicalize_name(name) != name or not _CANONICAL_NAME.match(name):
            raise _fail(
                project, "allow-sdist",
                f"{name!r} is not a canonical package name (write {canonicalize_name(name)!r})",
            )
    text = _string(project, table, "build-requirements")
    if names and not text:
        raise _fail(
            project, "allow-sdist",
            "needs build-requirements: the path of a hashed lock of the build backends "
            "(pip-compile --generate-hashes --allow-unsafe of setuptools, wheel, ...)",
        )
    if text and not names:
        raise _fail(project, "build-requirements", "is only used with allow-sdist; remove it")
    if not text:
        return (), None
    path = project.root / _relative_path(project, "build-requirements", text)
    return tuple(sorted(set(names))), path
