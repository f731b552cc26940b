"""Read explicit conda locks: ``@EXPLICIT`` then one package URL per line.

The format is what ``conda list --explicit`` and ``conda-lock render`` write::

    # platform: linux-64
    # input_hash: 09bb…
    @EXPLICIT
    https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1-h4ab18f5_1.conda#57d7…
    # pip pyattimo @ https://files.pythonhosted.org/…/pyattimo-0.6.0-….whl#sha256=7a86…

conda itself ignores the ``# pip`` comment lines; conda-lock installs them, so they are
packages (``manager="pip"``). The conda URL helpers here are shared with the
``conda-lock.yml`` reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import urldefrag, urlsplit

from packaging.utils import NormalizedName

from reprobuild.errors import LockParseError
from reprobuild.lockfiles._common import decode, file_sha256
from reprobuild.lockfiles._fields import artifact_kind, file_name
from reprobuild.models import (
    Artifact,
    ArtifactKind,
    Hash,
    IndexConfig,
    Lock,
    LockedPackage,
    LockFormat,
    SourceKind,
)

__all__ = [
    "CondaArchive",
    "check_url",
    "conda_package",
    "parse_conda_url",
    "pip_package",
    "read",
]

CONDA_SUFFIXES = (".conda", ".tar.bz2")
# noarch, or <os>-<arch> (linux-64, osx-arm64, linux-aarch64, emscripten-wasm32, zos-z).
_SUBDIR = re.compile(r"^(noarch|[a-z0-9]+-[a-z0-9_]+)$")
_HEADER = re.compile(r"^#\s*(platform|input_hash|env_hash)\s*:\s*(\S+)\s*$")
# conda-lock's form only (`# pip <name> @ <url>`): other comments that happen to start
# with "pip" ("# pip install …") are comments, as they are to conda.
_PIP_COMMENT = re.compile(r"^#\s*pip\s+(?P<requirement>[^\s@]+\s*@\s*\S.*?)\s*$")
_PIP_HASH_FRAGMENT = re.compile(r"^(md5|sha1|sha224|sha256|sha384|sha512)=([0-9a-fA-F]+)$")
_VCS_SCHEMES = ("git", "hg", "svn", "bzr")


@dataclass(frozen=True, slots=True)
class CondaArchive:
    """What a conda package URL says: ``<channel>/<subdir>/<name>-<version>-<build>.conda``."""

    channel: str | None
    subdir: str | None
    filename: str
    name: str
    version: str
    build: str


def check_url(path: Path, url: str, *, line: int | None = None, key: str | None = None) -> None:
    """Reject a URL urllib cannot split (``https://[bad/…``) as a parse error.

    Messages here never quote a URL: conda channel URLs can carry tokens or passwords.
    """
    try:
        urlsplit(url)
    except ValueError:
        raise LockParseError(
            path,
            "malformed URL (bad host or brackets); fix or re-render the lock",
            line=line,
            key=key,
        ) from None


def parse_conda_url(url: str) -> CondaArchive | None:
    """Split a conda package URL (no fragment); None if the file is not a conda archive."""
    filename = file_name(url)
    stem = next((filename[: -len(s)] for s in CONDA_SUFFIXES if filename.endswith(s)), None)
    if stem is None:
        return None
    # Names may contain dashes; versions and build strings never do (conda forbids it),
    # so the last two dashes split the stem.
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    name, version, build = parts
    head = url.rstrip("/").rpartition("/")[0]
    channel: str | None = None
    subdir: str | None = None
    if head:
        rest, _, last = head.rpartition("/")
        if _SUBDIR.match(last) and rest and not rest.endswith(":/"):
            channel, subdir = rest, last
        else:
            channel = head
    return CondaArchive(channel, subdir, filename, name, version, build)


def conda_package(
    name: str,
    version: str,
    url: str,
    hashes: tuple[Hash, ...],
    *,
    platform: str | None = None,
    groups: tuple[str, ...] = (),
    line: int | None = None,
    key: str | None = None,
) -> LockedPackage:
    """A conda package; channel, subdir and build come from its URL when it is an archive."""
    archive = parse_conda_url(url)
    is_local = "://" not in url or url.lower().startswith("file:")
    filename = archive.filename if archive else file_name(url)
    channel = archive.channel if archive else None
    return LockedPackage(
        # conda names are already lower-case; '_' and '-' name different conda packages,
        # so they are not PEP 503-normalised.
        name=cast(NormalizedName, name),
        version=version,
        manager="conda",
        hashes=hashes,
        artifacts=(
            Artifact(
                kind=ArtifactKind.CONDA if archive else ArtifactKind.OTHER,
                filename=filename,
                url=url,
                hashes=hashes,
            ),
        ),
        source=SourceKind.PATH if is_local else SourceKind.REGISTRY,
        url=url if is_local else channel,
        groups=groups,
        channel=channel,
        subdir=archive.subdir if archive else None,
        build=archive.build if archive else None,
        platform=platform,
        line=line,
        key=key,
    )


def pip_package(
    name: NormalizedName,
    version: str | None,
    url: str,
    hashes: tuple[Hash, ...],
    *,
    platform: str | None = None,
    groups: tuple[str, ...] = (),
    line: int | None = None,
    key: str | None = None,
) -> LockedPackage:
    """A pip package a conda lock installs from a direct URL (a file on PyPI, or VCS)."""
    scheme = url.partition("://")[0].lower()
    vcs = scheme.partition("+")[0] if "+" in scheme else None
    if vcs in _VCS_SCHEMES:
        # git+https://host/repo.git@<ref>: the ref follows the last '@' of the path.
        location = url.partition("://")[2]
        repo_path = location.partition("/")[2]
        vcs_ref = repo_path.rpartition("@")[2] if "@" in repo_path else None
        return LockedPackage(
            name=name,
            version=version,
            manager="pip",
            hashes=hashes,
            source=SourceKind.VCS,
            url=url,
            vcs=vcs,
            vcs_ref=vcs_ref or None,
            platform=platform,
            groups=groups,
            line=line,
            key=key,
        )
    filename = file_name(url)
    artifact = Artifact(kind=artifact_kind(filename), filename=filename, url=url, hashes=hashes)
    return LockedPackage(
        name=name,
        version=version,
        manager="pip",
        hashes=hashes,
        artifacts=(artifact,),
        source=SourceKind.PATH if scheme in ("", "file") or "://" not in url else SourceKind.URL,
        url=url,
        platform=platform,
        groups=groups,
        line=line,
        key=key,
    )


def read(path: Path, data: bytes) -> Lock:
    text = decode(path, data)
    header: dict[str, str] = {}
    packages: list[LockedPackage] = []
    explicit = False
    # split("\n"), not splitlines(): editors count only newlines as line breaks.
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if not explicit and (match := _HEADER.match(line)):
                header.setdefault(match.group(1), match.group(2))
            elif explicit and (match := _PIP_COMMENT.match(line)):
                packages.append(_pip_line(path, match.group("requirement"), lineno, header))
            continue
        if line == "@EXPLICIT":
            explicit = True
            continue
        if not explicit:
            raise LockParseError(
                path,
                "unexpected line before @EXPLICIT "
                "(an explicit conda lock starts with comments and an @EXPLICIT line)",
                line=lineno,
            )
        packages.append(_conda_line(path, line, lineno, header.get("platform")))
    if not explicit:
        raise LockParseError(path, "no @EXPLICIT line: not an explicit conda lock")
    platform = header.get("platform")
    channels = dict.fromkeys(p.channel for p in packages if p.channel)
    return Lock(
        format=LockFormat.CONDA_EXPLICIT,
        path=path,
        sha256=file_sha256(data),
        packages=tuple(packages),
        platforms=(platform,) if platform else (),
        indexes=IndexConfig(channels=tuple(channels)),
        content_hash=header.get("input_hash") or header.get("env_hash"),
    )


def _conda_line(path: Path, line: str, lineno: int, platform: str | None) -> LockedPackage:
    url, _, fragment = line.partition("#")
    url = url.strip()
    check_url(path, url, line=lineno)
    archive = parse_conda_url(url)
    if archive is None:
        raise LockParseError(
            path,
            "expected a URL to a <name>-<version>-<build>.conda or .tar.bz2 package, "
            f"found a file named {file_name(url)[:80]!r}",
            line=lineno,
        )
    hashes = _fragment_hashes(path, fragment.strip(), lineno)
    return conda_package(archive.name, archive.version, url, hashes, platform=platform, line=lineno)


def _fragment_hashes(path: Path, fragment: str, lineno: int) -> tuple[Hash, ...]:
    """``#<md5>`` (conda's classic form) or ``#sha256:<hex>`` / ``#md5:<hex>``."""
    if not fragment:
        return ()
    algorithm, sep, value = fragment.partition(":")
    if not sep:
        algorithm, value = {32: "md5", 64: "sha256"}.get(len(fragment), ""), fragment
    try:
        if algorithm.lower() not in ("md5", "sha256"):
            raise ValueError(fragment)
        return (Hash(algorithm.lower(), value.lower()),)
    except ValueError:
        raise LockParseError(
            path,
            f"unrecognised hash fragment #{fragment[:80]} (expected #<md5> or #sha256:<hex>)",
            line=lineno,
        ) from None


def _pip_line(path: Path, text: str, lineno: int, header: dict[str, str]) -> LockedPackage:
    """``# pip <name> @ <url>#sha256=<hex>``: conda-lock's pip entry in a rendered lock."""
    # Imported here: only explicit locks with pip lines pay for it.
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import (
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        # packaging's message adds the line and a caret marker below; keep the first line.
        reason = (str(exc).splitlines() or ["not a requirement"])[0]
        raise LockParseError(path, f"invalid '# pip' line: {reason}", line=lineno) from None
    if not requirement.url:
        raise LockParseError(path, "a '# pip' line must read '# pip <name> @ <url>'", line=lineno)
    check_url(path, requirement.url, line=lineno)
    url, fragment = urldefrag(requirement.url)
    hashes: tuple[Hash, ...] = ()
    match = _PIP_HASH_FRAGMENT.match(fragment)
    if match:
        hashes = (Hash(match.group(1), match.group(2).lower()),)
    elif fragment:
        url = requirement.url  # a fragment that is not a hash (egg=…) stays part of the URL
    filename = file_name(url)
    version: str | None = None
    try:
        if filename.endswith(".whl"):
            version = str(parse_wheel_filename(filename)[1])
        else:
            version = str(parse_sdist_filename(filename)[1])
    except ValueError:
        version = None  # a VCS URL or a file name that does not state a version
    return pip_package(
        canonicalize_name(requirement.name),
        version,
        url,
        hashes,
        platform=header.get("platform"),
        line=lineno,
    )
