"""Read conda-lock's unified ``conda-lock.yml`` (lockfile ``version: 1``, and 2).

One ``package`` entry per (package, platform). Dialects seen in the wild:

* ``hash`` is a bare md5 string (earliest conda-lock 1.x) or a ``{md5, sha256}`` mapping;
  pip entries carry ``sha256`` only and may point at sdists.
* ``metadata.channels`` items are plain strings or ``{url, used_env_vars}`` mappings.
* ``category: main`` (v1) or ``categories: [main, dev]`` (v2).
* Keys in any order (``version`` first or last), ``dependencies`` sometimes absent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from reprobuild.errors import LockParseError
from reprobuild.lockfiles._common import decode, file_sha256
from reprobuild.lockfiles._fields import (
    get_list,
    get_str,
    get_table,
    require_str,
    strings,
)
from reprobuild.lockfiles.conda_explicit import check_url, conda_package, pip_package
from reprobuild.models import (
    Hash,
    IndexConfig,
    Lock,
    LockedPackage,
    LockFormat,
)

__all__ = ["read"]

SUPPORTED_VERSIONS = (1, 2)
_PACKAGE_KEY = re.compile(r"^package\s*:\s*(#.*)?$")
_PLAIN_KEY = re.compile(r"[\w.-]{1,40}")


def read(path: Path, data: bytes) -> Lock:
    text = decode(path, data)
    document = _load_yaml(path, text)
    if not isinstance(document, dict):
        raise LockParseError(
            path, "expected a YAML mapping with 'version', 'metadata' and 'package' keys"
        )
    version = _lockfile_version(path, document)
    metadata = get_table(path, document, "metadata", "")
    entries = get_list(path, document, "package", "")
    lines = _package_lines(text, len(entries))
    packages = tuple(
        _package(path, entry, f"package[{index}]", lines[index])
        for index, entry in enumerate(entries)
    )
    listed = get_list(path, metadata, "platforms", "metadata")
    platforms = strings(path, listed, "metadata.platforms")
    if not platforms:
        platforms = list(dict.fromkeys(p.platform for p in packages if p.platform))
    return Lock(
        format=LockFormat.CONDA_LOCK,
        path=path,
        sha256=file_sha256(data),
        packages=packages,
        platforms=tuple(platforms),
        indexes=IndexConfig(channels=_channels(path, metadata)),
        content_hash=_content_hash(path, metadata),
        format_version=str(version),
    )


def _load_yaml(path: Path, text: str) -> object:
    # Imported here, not at module top: `reprobuild lint` on a requirements file must
    # not pay PyYAML's import time.
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or "syntax error").splitlines()[0]
        raise LockParseError(path, f"invalid YAML: {problem}", line=line) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        # ValueError: an impossible date (2021-13-45) in a value the safe loader converts.
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise LockParseError(path, f"invalid YAML: {first_line[:200]}") from None
    except RecursionError:
        raise LockParseError(path, "invalid YAML: nested too deeply") from None


def _lockfile_version(path: Path, document: dict[str, Any]) -> int:
    version = document.get("version")
    if version is None:
        raise LockParseError(
            path, "missing 'version' (a conda-lock.yml states 'version: 1')", key="version"
        )
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise LockParseError(
            path,
            f"unsupported conda-lock lockfile version {repr(version)[:40]} (reprobuild reads "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))})",
            key="version",
        )
    return version


def _package_lines(text: str, count: int) -> list[int | None]:
    """1-based line of each ``package:`` list item, or all None if the scan disagrees.

    PyYAML's fast loader keeps no positions. conda-lock writes ``package:`` as a block
    sequence, so the items are the ``- `` lines at the first item's indentation until
    the next top-level key; if that count differs from the parsed list (a flow-style or
    hand-mangled file), no lines is better than wrong lines.
    """
    found: list[int] = []
    indent: int | None = None
    in_section = False
    for number, line in enumerate(text.split("\n"), start=1):
        if not in_section:
            in_section = bool(_PACKAGE_KEY.match(line))
            continue
        content = line.lstrip(" ")
        if not content.strip() or content.startswith("#"):
            continue
        column = len(line) - len(content)
        is_item = content.startswith("- ") or content.rstrip() == "-"
        if column == 0 and not is_item:
            break  # the next top-level key
        if is_item and indent in (None, column):
            indent = column
            found.append(number)
    if len(found) != count:
        return [None] * count
    lines: list[int | None] = list(found)
    return lines


def _package(path: Path, entry: object, key: str, line: int | None) -> LockedPackage:
    if not isinstance(entry, dict):
        raise LockParseError(
            path, f"expected a mapping, found {type(entry).__name__}", line=line, key=key
        )
    try:
        return _package_from(path, entry, key, line)
    except LockParseError as exc:
        if exc.line is not None or line is None:
            raise
        # Put the entry's line on errors the typed getters raised with a key only.
        raise LockParseError(path, exc.reason, line=line, key=exc.key) from None


def _package_from(path: Path, entry: dict[str, Any], key: str, line: int | None) -> LockedPackage:
    name = require_str(path, entry, "name", key)
    version = _version(path, entry, key)
    manager = get_str(path, entry, "manager", key) or "conda"
    if manager not in ("conda", "pip"):
        raise LockParseError(
            path, f"unknown manager {manager[:40]!r} (expected conda or pip)", key=f"{key}.manager"
        )
    platform = get_str(path, entry, "platform", key)
    url = require_str(path, entry, "url", key)
    check_url(path, url, key=f"{key}.url")
    hashes = _hashes(path, entry.get("hash"), f"{key}.hash")
    groups = _groups(path, entry, key)
    if manager == "pip":
        # `url` is the locked artifact (or VCS commit); `source`, when present, only
        # repeats the URL the user asked for, which may name a mutable branch.
        return pip_package(
            canonicalize_name(name),
            version,
            url,
            hashes,
            platform=platform,
            groups=groups,
            line=line,
            key=key,
        )
    return conda_package(
        name, version, url, hashes, platform=platform, groups=groups, line=line, key=key
    )


def _version(path: Path, entry: dict[str, Any], key: str) -> str:
    version = entry.get("version")
    # An unquoted `version: 3` loads as an int; a float (`1.10`) would have lost digits.
    if isinstance(version, int) and not isinstance(version, bool):
        return str(version)
    if isinstance(version, str) and version:
        return version
    if version is None:
        raise LockParseError(path, "missing required key", key=f"{key}.version")
    raise LockParseError(
        path,
        f"expected a string, found {type(version).__name__} (quote the version)",
        key=f"{key}.version",
    )


def _hashes(path: Path, value: object, key: str) -> tuple[Hash, ...]:
    """``hash: <md5>`` (earliest dialect) or ``hash: {md5: …, sha256: …}``."""
    if value is None:
        return ()
    if isinstance(value, str):
        algorithm, sep, digest = value.partition(":")
        if not sep:  # the bare form: md5, or sha256 when it has sha256's length
            algorithm, digest = ("sha256" if len(value) == 64 else "md5"), value
        return (_hash(path, algorithm, digest, key),)
    if not isinstance(value, dict):
        raise LockParseError(
            path, f"expected a mapping or a string, found {type(value).__name__}", key=key
        )
    hashes: list[Hash] = []
    for algorithm, digest in value.items():
        if digest is None:
            continue  # an algorithm listed without a digest states nothing
        where = f"{key}.{_key_part(algorithm)}"
        if not isinstance(algorithm, str) or not isinstance(digest, str):
            raise LockParseError(path, "expected ALGORITHM: HEX string pairs", key=where)
        hashes.append(_hash(path, algorithm, digest, where))
    return tuple(hashes)


def _hash(path: Path, algorithm: str, digest: str, key: str) -> Hash:
    try:
        return Hash(algorithm.strip().lower(), digest.strip().lower())
    except ValueError:
        raise LockParseError(
            path, f"malformed {algorithm[:20]!r} hash {digest[:80]!r} (expected hex)", key=key
        ) from None


def _key_part(value: object) -> str:
    """A mapping key as it may appear in a key path: plain names as is, others quoted."""
    if isinstance(value, str) and _PLAIN_KEY.fullmatch(value):
        return value
    return repr(value)[:40]


def _groups(path: Path, entry: dict[str, Any], key: str) -> tuple[str, ...]:
    """v1 ``category: main`` or v2 ``categories: [main, dev]``."""
    if "categories" in entry:
        where = f"{key}.categories"
        categories = strings(path, get_list(path, entry, "categories", key), where)
        return tuple(dict.fromkeys(categories))
    category = get_str(path, entry, "category", key)
    return (category,) if category else ()


def _channels(path: Path, metadata: dict[str, Any]) -> tuple[str, ...]:
    """``- conda-forge`` or ``- {url: conda-forge, used_env_vars: []}``, in priority order."""
    channels: list[str] = []
    for index, item in enumerate(get_list(path, metadata, "channels", "metadata")):
        where = f"metadata.channels[{index}]"
        if isinstance(item, dict):
            channels.append(require_str(path, item, "url", where))
        elif isinstance(item, str):
            channels.append(item)
        else:
            raise LockParseError(
                path,
                f"expected a channel name or a {{url: …}} mapping, found {type(item).__name__}",
                key=where,
            )
    return tuple(channels)


def _content_hash(path: Path, metadata: dict[str, Any]) -> str | None:
    """Per-platform input hashes joined as ``linux-64:abc,osx-64:def`` (sorted by platform)."""
    hashes = get_table(path, metadata, "content_hash", "metadata")
    parts: list[str] = []
    for platform in sorted(hashes, key=str):
        value = hashes[platform]
        if not isinstance(platform, str) or not isinstance(value, str):
            raise LockParseError(
                path,
                "expected PLATFORM: HASH string pairs",
                key=f"metadata.content_hash.{_key_part(platform)}",
            )
        parts.append(f"{platform}:{value}")
    return ",".join(parts) or None
