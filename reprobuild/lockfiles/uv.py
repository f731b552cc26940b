"""Read ``uv.lock`` (and a script's ``<script>.py.lock``) into a Lock.

Handles the released schema (``[[package]]`` with table sources, ``version``/``revision``)
and the pre-release one (``[[distribution]]`` with string sources such as
``editable+.``). A forked resolution locks one name several times, each entry limited by
its ``resolution-markers``; every entry is kept. uv writes environment markers on the
dependency edges rather than on packages: a package's ``marker`` is the condition its
fork and its incoming edges state (a necessary condition, not uv's full marker algebra).

``groups``: a package reached from a project's plain dependencies (a workspace member's,
or a script lock's ``[manifest]`` requirements) is in ``main``, as in poetry; one reached
from a project's ``optional-dependencies`` or ``dev-dependencies`` is in that extra's or
group's name. ``extras`` are the extras the edges into the package request.
``format_version`` is ``"<version>.<revision>"`` (just ``"1"`` before revisions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from packaging.utils import NormalizedName, canonicalize_name

from reprobuild.errors import LockParseError
from reprobuild.lockfiles._common import decode, file_sha256, load_toml, table_header_lines
from reprobuild.lockfiles._fields import (
    artifact_kind,
    file_name,
    get_int,
    get_list,
    get_str,
    get_table,
    located,
    parse_hash,
    require_str,
    strings,
    tables,
)
from reprobuild.models import Artifact, ArtifactKind, Lock, LockedPackage, LockFormat, SourceKind

__all__ = ["read"]

_SOURCE_KINDS: dict[str, SourceKind] = {
    "registry": SourceKind.REGISTRY,
    "git": SourceKind.VCS,
    "url": SourceKind.URL,
    "path": SourceKind.PATH,
    "directory": SourceKind.DIRECTORY,
    "virtual": SourceKind.DIRECTORY,
    "editable": SourceKind.EDITABLE,
}
# Sources that are the user's own projects: the roots group membership is computed from.
_PROJECT_SOURCES = frozenset({"editable", "virtual", "directory"})
MAIN_GROUP = "main"


@dataclass(frozen=True, slots=True)
class _Source:
    kind: str
    """uv's source type (``registry``, ``git``, ``editable``…)."""
    value: str


@dataclass(frozen=True, slots=True)
class _Edge:
    """One entry of a ``dependencies`` list: which package it pulls in, and how."""

    name: NormalizedName
    version: str | None
    marker: str | None
    extras: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    """A ``[[package]]`` table, checked, before the whole-lock passes."""

    index: int
    where: str
    name: NormalizedName
    version: str | None
    source: _Source | None
    fork_markers: tuple[str, ...]
    dependencies: tuple[_Edge, ...]
    optional: dict[str, tuple[_Edge, ...]]
    dev: dict[str, tuple[_Edge, ...]]
    artifacts: tuple[Artifact, ...]


_ByName = dict[NormalizedName, list[_Entry]]


def read(path: Path, data: bytes) -> Lock:
    text = decode(path, data)
    document = load_toml(path, text)
    header = "distribution" if "distribution" in document else "package"
    lines = table_header_lines(text, header)
    entries = []
    for index, table in enumerate(tables(path, get_list(path, document, header, ""), header)):
        with located(path, lines[index] if index < len(lines) else None):
            entries.append(_entry(path, table, index, f"{header}[{index}]"))
    manifest = get_table(path, document, "manifest", "")
    by_name = _by_name(entries)
    groups = _groups(path, entries, by_name, manifest)
    incoming = _incoming(entries, by_name)
    packages = tuple(
        _package(entry, lines, groups.get(entry.index, ()), incoming.get(entry.index, ()))
        for entry in entries
    )
    version = get_int(path, document, "version", "")
    revision = get_int(path, document, "revision", "")
    format_version = None if version is None else str(version)
    if format_version is not None and revision is not None:
        format_version += f".{revision}"
    return Lock(
        format=LockFormat.UV,
        path=path,
        sha256=file_sha256(data),
        packages=packages,
        python=get_str(path, document, "requires-python", ""),
        format_version=format_version,
    )


def _entry(path: Path, table: dict[str, Any], index: int, where: str) -> _Entry:
    source = _source(path, table, where)
    # The pre-release schema repeated a local project's path as an unhashed "sdist"; it is
    # the source, not an artifact.
    local = source is not None and source.kind in _PROJECT_SOURCES
    return _Entry(
        index=index,
        where=where,
        name=canonicalize_name(require_str(path, table, "name", where)),
        version=get_str(path, table, "version", where),
        source=source,
        fork_markers=tuple(
            strings(
                path,
                get_list(path, table, "resolution-markers", where),
                f"{where}.resolution-markers",
            )
        ),
        dependencies=_edges(path, table, "dependencies", where),
        optional=_edge_groups(path, table, "optional-dependencies", where),
        dev=_edge_groups(path, table, "dev-dependencies", where),
        artifacts=() if local else _artifacts(path, table, where),
    )


def _source(path: Path, table: dict[str, Any], where: str) -> _Source | None:
    raw = table.get("source")
    key = f"{where}.source"
    if raw is None:
        return None
    if isinstance(raw, str):  # pre-release schema: "editable+.", "registry+https://…"
        kind, plus, value = raw.partition("+")
        if not plus or kind not in _SOURCE_KINDS:
            raise LockParseError(path, f"unknown source {raw!r}", key=key)
        return _Source(kind, value)
    if not isinstance(raw, dict):
        raise LockParseError(path, f"expected a table, found {type(raw).__name__}", key=key)
    for kind in _SOURCE_KINDS:
        if kind in raw:
            return _Source(kind, require_str(path, raw, kind, key))
    known = ", ".join(_SOURCE_KINDS)
    raise LockParseError(path, f"no source type given (expected one of {known})", key=key)


def _edges(path: Path, table: dict[str, Any], name: str, where: str) -> tuple[_Edge, ...]:
    key = f"{where}.{name}"
    return tuple(
        _edge(path, item, f"{key}[{i}]")
        for i, item in enumerate(tables(path, get_list(path, table, name, where), key))
    )


def _edge(path: Path, item: dict[str, Any], where: str) -> _Edge:
    extra = item.get("extra", [])
    if not isinstance(extra, list):
        raise LockParseError(path, "expected an array of extra names", key=f"{where}.extra")
    return _Edge(
        name=canonicalize_name(require_str(path, item, "name", where)),
        version=get_str(path, item, "version", where),
        marker=get_str(path, item, "marker", where),
        extras=tuple(strings(path, extra, f"{where}.extra")),
    )


def _edge_groups(
    path: Path, table: dict[str, Any], name: str, where: str
) -> dict[str, tuple[_Edge, ...]]:
    key = f"{where}.{name}"
    return {
        group: _edges(path, {group: items}, group, key)
        for group, items in get_table(path, table, name, where).items()
    }


def _artifacts(path: Path, table: dict[str, Any], where: str) -> tuple[Artifact, ...]:
    artifacts: list[Artifact] = []
    if "sdist" in table:
        sdist = get_table(path, table, "sdist", where)
        artifacts.append(_artifact(path, sdist, f"{where}.sdist", ArtifactKind.SDIST))
    wheels = get_list(path, table, "wheels", where)
    for index, wheel in enumerate(tables(path, wheels, f"{where}.wheels")):
        artifacts.append(_artifact(path, wheel, f"{where}.wheels[{index}]", ArtifactKind.WHEEL))
    return tuple(artifacts)


def _artifact(path: Path, table: dict[str, Any], where: str, kind: ArtifactKind) -> Artifact:
    url = get_str(path, table, "url", where)
    location = url or get_str(path, table, "path", where)
    filename = get_str(path, table, "filename", where) or (
        file_name(location) if location else None
    )
    text = get_str(path, table, "hash", where)
    hashes = (parse_hash(path, text, f"{where}.hash"),) if text else ()
    if kind is ArtifactKind.SDIST and filename and location and location == url:
        kind = artifact_kind(filename)  # an "sdist" of a URL source may be any archive
    return Artifact(
        kind,
        filename=filename,
        url=location,
        hashes=hashes,
        size=get_int(path, table, "size", where),
    )


def _incoming(entries: list[_Entry], by_name: _ByName) -> dict[int, tuple[_Edge, ...]]:
    """Every dependency edge (main, extra or group) that reaches each entry."""
    found: dict[int, list[_Edge]] = {}
    for entry in entries:
        for edge in _all_edges(entry):
            for target in _targets(by_name, edge):
                found.setdefault(target.index, []).append(edge)
    return {index: tuple(edges) for index, edges in found.items()}


def _all_edges(entry: _Entry) -> Iterable[_Edge]:
    yield from entry.dependencies
    for edges in (*entry.optional.values(), *entry.dev.values()):
        yield from edges


def _by_name(entries: list[_Entry]) -> _ByName:
    found: dict[NormalizedName, list[_Entry]] = {}
    for entry in entries:
        found.setdefault(entry.name, []).append(entry)
    return found


def _targets(by_name: _ByName, edge: _Edge) -> list[_Entry]:
    # An edge names a version only when the name is locked more than once (a fork).
    return [
        e for e in by_name.get(edge.name, []) if edge.version is None or e.version == edge.version
    ]


def _groups(
    path: Path, entries: list[_Entry], by_name: _ByName, manifest: dict[str, Any]
) -> dict[int, tuple[str, ...]]:
    """Which of the projects' groups (``main``, extras, dependency groups) reach each entry.

    The projects are the workspace members (or, for a script lock, the manifest's
    requirements); a package reached from a project's plain dependencies is in ``main``.
    """
    members = set(
        strings(path, get_list(path, manifest, "members", "manifest"), "manifest.members")
    )
    roots = [
        e
        for e in entries
        if e.name in members
        or (
            not members
            and e.source is not None
            and e.source.kind in _PROJECT_SOURCES
            and e.source.value in (".", "")
        )
    ]
    starts: dict[str, list[_Edge]] = {}
    for root in roots:
        starts.setdefault(MAIN_GROUP, []).extend(root.dependencies)
        for group, group_edges in (*root.optional.items(), *root.dev.items()):
            starts.setdefault(group, []).extend(group_edges)
    requirements = tables(
        path, get_list(path, manifest, "requirements", "manifest"), "manifest.requirements"
    )
    for index, item in enumerate(requirements):
        starts.setdefault(MAIN_GROUP, []).append(
            _edge(path, item, f"manifest.requirements[{index}]")
        )

    membership: dict[int, list[str]] = {}
    for group, edges in starts.items():
        for index in _reachable(by_name, edges):
            membership.setdefault(index, []).append(group)
    return {index: tuple(groups) for index, groups in membership.items()}


def _reachable(by_name: _ByName, edges: list[_Edge]) -> set[int]:
    seen: set[int] = set()
    seen_extras: set[tuple[int, str]] = set()
    todo = list(edges)
    while todo:
        edge = todo.pop()
        for target in _targets(by_name, edge):
            if target.index not in seen:
                seen.add(target.index)
                todo.extend(target.dependencies)
            for extra in edge.extras:
                if (target.index, extra) not in seen_extras:
                    seen_extras.add((target.index, extra))
                    todo.extend(target.optional.get(extra, ()))
    return seen


def _package(
    entry: _Entry, lines: list[int], groups: tuple[str, ...], incoming: tuple[_Edge, ...]
) -> LockedPackage:
    kind, url, vcs, vcs_ref = _resolve_source(entry.source)
    hashes = tuple(h for artifact in entry.artifacts for h in artifact.hashes)
    extras = sorted({extra for edge in incoming for extra in edge.extras})
    return LockedPackage(
        name=entry.name,
        version=entry.version,
        hashes=hashes,
        artifacts=entry.artifacts,
        source=kind,
        url=url,
        vcs=vcs,
        vcs_ref=vcs_ref,
        marker=_marker(entry.fork_markers, incoming),
        extras=tuple(extras),
        groups=groups,
        line=lines[entry.index] if entry.index < len(lines) else None,
        key=entry.where,
    )


def _resolve_source(
    source: _Source | None,
) -> tuple[SourceKind, str | None, str | None, str | None]:
    """(kind, url, vcs, vcs_ref); a git source's commit is the URL's ``#fragment``."""
    if source is None:
        return SourceKind.REGISTRY, None, None, None
    kind = _SOURCE_KINDS[source.kind]
    if kind is not SourceKind.VCS:
        return kind, source.value, None, None
    value = source.value.removeprefix("git+")
    parts = urlsplit(value)
    query = parse_qs(parts.query)
    requested = next((query[k][0] for k in ("rev", "tag", "branch") if k in query), None)
    repository = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return kind, repository, "git", parts.fragment or requested


def _marker(fork_markers: tuple[str, ...], incoming: tuple[_Edge, ...]) -> str | None:
    fork = _any_of(fork_markers)
    edge_markers = [edge.marker for edge in incoming]
    # Only when every edge that pulls the package in carries a marker is it conditional.
    edge = _any_of(tuple(m for m in edge_markers if m)) if incoming and all(edge_markers) else None
    if fork and edge and fork != edge:
        return f"({fork}) and ({edge})"
    return fork or edge


def _any_of(markers: tuple[str, ...]) -> str | None:
    distinct = list(dict.fromkeys(markers))
    if len(distinct) <= 1:
        return distinct[0] if distinct else None
    return " or ".join(f"({m})" for m in distinct)
