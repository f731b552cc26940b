"""Where two saved images differ: which config fields, which layers, which paths.

Input is `docker save` output (legacy or OCI layout; both carry ``manifest.json``). Layers
are read as streams, one entry at a time; for each entry only its header and a sha256 of
its content are kept, so memory grows with the number of entries, not their size.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from reprobuild.image.normalize import (
    NormalizeError,
    SavedManifest,
    read_saved_manifest,
)

__all__ = [
    "ASPECTS",
    "ConfigFieldDiff",
    "EntrySummary",
    "ImageDiff",
    "LayerDiff",
    "PathDiff",
    "SavedImage",
    "diff_saved_images",
    "layer_entries",
    "open_saved",
]

ASPECTS = ("added", "removed", "content", "mode", "mtime", "owner", "xattrs")
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class EntrySummary:
    """One layer entry without its data."""

    path: str
    kind: str  # "file", "dir", "symlink", "hardlink", "char", "block", "fifo"
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: int
    size: int
    sha256: str  # content digest for files, "" otherwise
    linkname: str
    device: tuple[int, int]
    xattrs: tuple[tuple[str, str], ...]

    def aspects_differing(self, other: EntrySummary) -> tuple[str, ...]:
        found = []
        if (self.kind, self.size, self.sha256, self.linkname, self.device) != (
            other.kind, other.size, other.sha256, other.linkname, other.device
        ):
            found.append("content")
        if self.mode != other.mode:
            found.append("mode")
        if self.mtime != other.mtime:
            found.append("mtime")
        if (self.uid, self.gid, self.uname, self.gname) != (
            other.uid, other.gid, other.uname, other.gname
        ):
            found.append("owner")
        if self.xattrs != other.xattrs:
            found.append("xattrs")
        return tuple(found)

    def describe(self, aspect: str) -> str:
        if aspect == "content":
            if self.kind in ("symlink", "hardlink"):
                return f"{self.kind} -> {self.linkname}"
            if self.kind == "file":
                return f"{self.size} bytes sha256:{self.sha256[:12]}"
            return self.kind
        if aspect == "mode":
            return oct(self.mode)
        if aspect == "mtime":
            return str(self.mtime)
        if aspect == "owner":
            return f"{self.uid}:{self.gid} ({self.uname or '-'}:{self.gname or '-'})"
        if aspect == "xattrs":
            return ",".join(key for key, _ in self.xattrs) or "none"
        return self.kind


@dataclass(frozen=True)
class PathDiff:
    path: str
    aspects: tuple[str, ...]  # subset of ASPECTS
    a: str = ""  # short description of the differing aspects in image a
    b: str = ""


@dataclass(frozen=True)
class LayerDiff:
    index: int
    diff_id_a: str | None  # None: the image has no layer at this index
    diff_id_b: str | None
    paths: tuple[PathDiff, ...]
    order_only: bool = False  # same entries, different order or tar encoding


@dataclass(frozen=True)
class ConfigFieldDiff:
    field: str  # dotted path, e.g. "config.Env[2]" or "history[5].created"
    a: Any
    b: Any


@dataclass(frozen=True)
class ImageDiff:
    image_id_a: str
    image_id_b: str
    config: tuple[ConfigFieldDiff, ...]
    layers: tuple[LayerDiff, ...]
    identical_layers: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def identical(self) -> bool:
        return self.image_id_a == self.image_id_b

    def differing_paths(self) -> list[str]:
        return [p.path for layer in self.layers for p in layer.paths]

    def to_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "image_id_a": self.image_id_a,
            "image_id_b": self.image_id_b,
            "config": [{"field": c.field, "a": c.a, "b": c.b} for c in self.config],
            "layers": [
                {
                    "index": layer.index,
                    "diff_id_a": layer.diff_id_a,
                    "diff_id_b": layer.diff_id_b,
                    "order_only": layer.order_only,
                    "paths": [
                        {"path": p.path, "aspects": list(p.aspects), "a": p.a, "b": p.b}
                        for p in layer.paths
                    ],
                }
                for layer in self.layers
            ],
            "notes": list(self.notes),
        }

    def render(self, *, limit: int = 50) -> str:
        """A human report: one line per differing config field and path."""
        if self.identical:
            return f"identical: {self.image_id_a}"
        lines = [f"image {self.image_id_a} != {self.image_id_b}"]
        lines += [f"config {c.field}: {_short(c.a)} != {_short(c.b)}" for c in self.config]
        for layer in self.layers:
            id_a, id_b = layer.diff_id_a or "(none)", layer.diff_id_b or "(none)"
            lines.append(f"layer {layer.index}: {id_a} != {id_b}")
            if layer.order_only:
                lines.append("  same entries; the tar order or encoding differs")
            for p in layer.paths[:limit]:
                detail = f" ({p.a} != {p.b})" if p.a or p.b else ""
                lines.append(f"  /{p.path}: {', '.join(p.aspects)}{detail}")
            if len(layer.paths) > limit:
                lines.append(f"  … and {len(layer.paths) - limit} more paths")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _short(value: Any, width: int = 100) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class SavedImage:
    """An open `docker save` archive."""

    archive: tarfile.TarFile
    manifest: SavedManifest
    config_bytes: bytes
    origin: str

    @property
    def image_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.config_bytes).hexdigest()

    @property
    def config(self) -> dict[str, Any]:
        value = json.loads(self.config_bytes)
        if not isinstance(value, dict):
            raise NormalizeError(f"{self.origin}: the image config is not a JSON object")
        return value

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(self.config.get("rootfs", {}).get("diff_ids") or ())

    @contextmanager
    def layer(self, index: int) -> Iterator[IO[bytes]]:
        path = self.manifest.layer_paths[index]
        stream = self.archive.extractfile(path)
        if stream is None:
            raise NormalizeError(f"{self.origin}: layer {path} is missing")
        with stream:
            yield stream


@contextmanager
def open_saved(path: Path) -> Iterator[SavedImage]:
    """Open a `docker save` tar file (random access; layers are streamed on demand)."""
    origin = str(path)
    try:
        archive = tarfile.open(path, mode="r:")  # noqa: SIM115 - closed by the `with` below
    except (OSError, tarfile.TarError) as exc:
        raise NormalizeError(f"{origin}: not a `docker save` archive ({exc})") from None
    with archive:
        manifest = read_saved_manifest(archive, origin)
        config = archive.extractfile(manifest.config_path)
        if config is None:
            raise NormalizeError(f"{origin}: config {manifest.config_path} is missing")
        with config:
            yield SavedImage(archive, manifest, config.read(), origin)


_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.GNUTYPE_SPARSE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


def layer_entries(stream: IO[bytes]) -> Iterator[EntrySummary]:
    """Summaries of a layer's entries in archive order (content hashed on the way)."""
    with tarfile.open(fileobj=stream, mode="r|*") as layer:
        for member in layer:
            digest = ""
            if member.isreg():
                data = layer.extractfile(member)
                if data is not None:
                    sha = hashlib.sha256()
                    while chunk := data.read(HASH_CHUNK):
                        sha.update(chunk)
                    digest = sha.hexdigest()
            yield _summary(member, digest)


def _summary(member: tarfile.TarInfo, digest: str) -> EntrySummary:
    return EntrySummary(
        path=member.name.removeprefix("./").strip("/"),
        kind=_KINDS.get(member.type, f"type-{member.type!r}"),
        mode=member.mode & 0o7777,
        uid=member.uid,
        gid=member.gid,
        uname=member.uname,
        gname=member.gname,
        mtime=int(member.mtime),
        size=member.size if member.isreg() else 0,
        sha256=digest,
        linkname=member.linkname,
        device=(member.devmajor, member.devminor) if member.ischr() or member.isblk() else (0, 0),
        xattrs=tuple(
            sorted((k, v) for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr."))
        ),
    )


def _index_layer(image: SavedImage, index: int) -> dict[str, EntrySummary]:
    with image.layer(index) as stream:
        return {summary.path: summary for summary in layer_entries(stream)}


def diff_layer(a: SavedImage, b: SavedImage, index: int) -> LayerDiff:
    ids_a, ids_b = a.diff_ids, b.diff_ids
    id_a = ids_a[index] if index < len(ids_a) else None
    id_b = ids_b[index] if index < len(ids_b) else None
    entries_a = _index_layer(a, index) if id_a else {}
    entries_b = _index_layer(b, index) if id_b else {}
    paths: list[PathDiff] = []
    for path in sorted(entries_a.keys() | entries_b.keys()):
        ea, eb = entries_a.get(path), entries_b.get(path)
        if ea is None and eb is not None:
            paths.append(PathDiff(path, ("added",), "", eb.describe("content")))
        elif eb is None and ea is not None:
            paths.append(PathDiff(path, ("removed",), ea.describe("content"), ""))
        elif ea is not None and eb is not None:
            aspects = ea.aspects_differing(eb)
            if aspects:
                paths.append(
                    PathDiff(
                        path,
                        aspects,
                        "; ".join(ea.describe(x) for x in aspects),
                        "; ".join(eb.describe(x) for x in aspects),
                    )
                )
    # Same entries yet different diff_ids: the tar order or header encoding differs.
    order_only = not paths and id_a is not None and id_b is not None
    return LayerDiff(index, id_a, id_b, tuple(paths), order_only)


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


_MISSING = "<absent>"


def diff_configs(a: dict[str, Any], b: dict[str, Any]) -> tuple[ConfigFieldDiff, ...]:
    """Differing leaf fields; ``rootfs.diff_ids`` is left to the layer comparison."""
    flat_a = {k: v for k, v in _flatten(a) if not k.startswith("rootfs.diff_ids")}
    flat_b = {k: v for k, v in _flatten(b) if not k.startswith("rootfs.diff_ids")}
    return tuple(
        ConfigFieldDiff(key, flat_a.get(key, _MISSING), flat_b.get(key, _MISSING))
        for key in sorted(flat_a.keys() | flat_b.keys())
        if flat_a.get(key, _MISSING) != flat_b.get(key, _MISSING)
    )


def diff_images(a: SavedImage, b: SavedImage) -> ImageDiff:
    ids_a, ids_b = a.diff_ids, b.diff_ids
    layers = []
    same = 0
    for index in range(max(len(ids_a), len(ids_b))):
        in_both = index < len(ids_a) and index < len(ids_b)
        if in_both and ids_a[index] == ids_b[index]:
            same += 1
            continue
        layers.append(diff_layer(a, b, index))
    notes = []
    if len(ids_a) != len(ids_b):
        notes.append(f"layer counts differ: {len(ids_a)} != {len(ids_b)}")
    return ImageDiff(
        a.image_id, b.image_id, diff_configs(a.config, b.config), tuple(layers), same, tuple(notes)
    )


def diff_saved_images(a: Path, b: Path) -> ImageDiff:
    """Compare two `docker save` archives: config fields, then each differing layer."""
    with open_saved(a) as saved_a, open_saved(b) as saved_b:
        return diff_images(saved_a, saved_b)
