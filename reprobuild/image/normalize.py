"""Deterministic rewrite of a built image: the layers the build added and the config.

The legacy builder (the only one docker-py drives on a 20.10 daemon) stamps wall-clock
time into layer entries and the config, and the build container's id into the config.
This module takes the image out of the engine (`docker save`), rewrites

* each layer the build added: entries sorted by path, mtimes clamped to
  SOURCE_DATE_EPOCH, uname/gname cleared (numeric owners kept), only ``SCHILY.xattr.*``
  PAX records kept, hardlinks placed after their target, whiteouts and devices kept;
* the config: ``created`` and every ``history[].created`` set to SOURCE_DATE_EPOCH, the
  build container's traces (``container``, ``container_config``, ``docker_version``,
  ``config.Hostname``, ``config.Image``) removed, ``rootfs.diff_ids`` replaced, encoded
  with a fixed JSON encoder,

leaves the base image's layers byte-for-byte alone, and loads the result. The new image
ID is sha256 of the config bytes, which the engine must confirm.

Everything is streamed through temporary files: no layer is held in memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

from reprobuild.errors import ReprobuildError

__all__ = [
    "NormalizeError",
    "NormalizedImage",
    "SavedManifest",
    "canonical_config",
    "encode_config",
    "normalize_image",
    "read_saved_manifest",
    "rewrite_layer",
]

OPAQUE_WHITEOUT = ".wh..wh..opq"
COPY_CHUNK = 1 << 20
# Config keys that only describe the build container or the daemon, never the image.
CONTAINER_KEYS = ("container", "container_config", "docker_version")


class NormalizeError(ReprobuildError):
    """The saved image is not what `docker save` writes, or the engine rejected the
    rewritten image."""


class EngineFacts(Protocol):
    @property
    def containerd_store(self) -> bool: ...


class ImageStore(Protocol):
    """What normalize needs from :class:`reprobuild.engine.Engine`."""

    def info(self) -> EngineFacts: ...

    def inspect(self, image_id: str) -> dict[str, Any]: ...

    def save(self, image_id: str) -> AbstractContextManager[IO[bytes]]: ...

    def load(self, tar_stream: IO[bytes]) -> str: ...


@dataclass(frozen=True)
class NormalizedImage:
    image_id: str
    diff_ids: tuple[str, ...]
    base_layer_count: int


@dataclass(frozen=True)
class SavedManifest:
    """The one image of a `docker save` archive (legacy or OCI layout: both carry
    ``manifest.json``)."""

    config_path: str
    layer_paths: tuple[str, ...]
    repo_tags: tuple[str, ...]


def read_saved_manifest(archive: tarfile.TarFile, origin: str) -> SavedManifest:
    """The single entry of ``manifest.json`` in a saved archive."""
    data = _read_member(archive, "manifest.json", origin)
    try:
        entries = json.loads(data)
        (entry,) = entries
        return SavedManifest(
            config_path=str(entry["Config"]),
            layer_paths=tuple(str(path) for path in entry["Layers"]),
            repo_tags=tuple(str(tag) for tag in entry.get("RepoTags") or ()),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise NormalizeError(
            f"{origin}: manifest.json is not a single-image `docker save` manifest ({exc})"
        ) from None


def _read_member(archive: tarfile.TarFile, name: str, origin: str) -> bytes:
    try:
        member = archive.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise NormalizeError(f"{origin}: no {name} in the saved image")
    with member:
        return member.read()


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_config(
    config: dict[str, Any], *, diff_ids: Sequence[str], source_date_epoch: int
) -> dict[str, Any]:
    """The config without build-time and build-container traces (a new dict)."""
    created = rfc3339(source_date_epoch)
    result = {key: value for key, value in config.items() if key not in CONTAINER_KEYS}
    result["created"] = created
    result["history"] = [
        {**entry, "created": created} for entry in config.get("history") or []
    ]
    inner = dict(config.get("config") or {})
    inner.pop("Image", None)  # the parent *intermediate* image: timestamp-dependent
    if "Hostname" in inner:
        inner["Hostname"] = ""
    result["config"] = inner
    result["rootfs"] = {**(config.get("rootfs") or {}), "diff_ids": list(diff_ids)}
    return result


def encode_config(config: dict[str, Any]) -> bytes:
    """The fixed encoding whose sha256 is the image ID."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _sort_key(name: str) -> tuple[tuple[int, str], ...]:
    # Parents before children; an opaque whiteout first in its directory (OCI: SHOULD).
    return tuple((0 if part == OPAQUE_WHITEOUT else 1, part) for part in _clean(name).split("/"))


def _clean(name: str) -> str:
    return str(PurePosixPath("/" + name)).lstrip("/") or "."


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes what passes through (the new diff_id)."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = bytes(data)
        self.sha256.update(view)
        self.target.write(view)
        return len(view)


def rewrite_layer(source: IO[bytes], target: IO[bytes], *, source_date_epoch: int) -> str:
    """Rewrite one layer tar deterministically into `target`; return its diff_id.

    `source` must be seekable (entries are read in sorted order, not archive order).
    """
    writer = _HashingWriter(target)
    with tarfile.open(fileobj=source, mode="r:") as layer, tarfile.open(
        fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT
    ) as out:
        members = layer.getmembers()
        hardlinks = _hardlink_groups(members)
        for member in sorted(members, key=lambda m: _sort_key(m.name)):
            entry, data_from = _canonical_entry(member, hardlinks, source_date_epoch)
            if data_from is None:
                out.addfile(entry)
                continue
            data = layer.extractfile(data_from)
            if data is None:  # pragma: no cover - regular files always have data
                raise NormalizeError(f"layer entry {member.name!r} has no data")
            with data:
                out.addfile(entry, data)
    return "sha256:" + writer.sha256.hexdigest()


@dataclass(frozen=True)
class _LinkGroup:
    original: tarfile.TarInfo  # the regular entry that carries the data
    leader: str  # the name that sorts first: written as the regular file


def _hardlink_groups(members: list[tarfile.TarInfo]) -> dict[str, _LinkGroup]:
    """Every name in a hardlink group, mapped to its group.

    After sorting, the entry that sorts first becomes the regular file (with the data and
    metadata of the original) and the others links to it: a link must follow its target.
    """
    by_name = {_clean(m.name): m for m in members}
    names: dict[str, list[str]] = {}
    for member in members:
        if member.islnk():
            target = by_name.get(_clean(member.linkname))
            if target is not None and target.isreg():
                key = _clean(target.name)
                names.setdefault(key, [key]).append(_clean(member.name))
    groups: dict[str, _LinkGroup] = {}
    for key, group_names in names.items():
        group = _LinkGroup(by_name[key], min(group_names, key=_sort_key))
        for name in group_names:
            groups[name] = group
    return groups


def _xattrs(member: tarfile.TarInfo) -> dict[str, str]:
    return {k: v for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr.")}


def _canonical_entry(
    member: tarfile.TarInfo, hardlinks: dict[str, _LinkGroup], sde: int
) -> tuple[tarfile.TarInfo, tarfile.TarInfo | None]:
    """The rewritten header, and the member whose data follows it (None: no data)."""
    name = _clean(member.name)
    group = hardlinks.get(name)
    source = group.original if group is not None else member
    entry = tarfile.TarInfo(name)
    entry.mode = source.mode & 0o7777
    entry.uid, entry.gid = source.uid, source.gid
    entry.uname = entry.gname = ""
    entry.mtime = min(int(source.mtime), sde)
    entry.pax_headers = _xattrs(source)
    if group is not None:
        if name == group.leader:
            entry.type = tarfile.REGTYPE
            entry.size = source.size
            return entry, source
        entry.type = tarfile.LNKTYPE
        entry.linkname = group.leader
        return entry, None
    if member.isreg():
        entry.type = tarfile.REGTYPE  # AREGTYPE/CONTTYPE/sparse are all regular files here
        entry.size = member.size
        return entry, member
    entry.type = member.type
    entry.linkname = member.linkname
    entry.devmajor, entry.devminor = member.devmajor, member.devminor
    return entry, None


def _base_diff_ids(engine: ImageStore, base_image_id: str) -> tuple[str, ...]:
    attrs = engine.inspect(base_image_id)
    return tuple(str(d) for d in attrs.get("RootFS", {}).get("Layers") or ())


def normalize_image(
    engine: ImageStore,
    image_id: str,
    *,
    base_image_id: str | None,
    source_date_epoch: int,
    repo_tags: Sequence[str] = (),
) -> NormalizedImage:
    """Rewrite the layers `image_id` added on top of `base_image_id` and its config,
    load the result into the engine and return its identity."""
    base_ids = _base_diff_ids(engine, base_image_id) if base_image_id else ()
    # A graphdriver engine reuses a layer whose chain it has (the base's, here) without
    # reading its file (moby tarexport/load.go), so the base need not be copied again;
    # the containerd image store imports blobs and needs them all.
    include_base = engine.info().containerd_store
    with tempfile.TemporaryDirectory(prefix="reprobuild-normalize-") as tmp:
        bundle = Path(tmp) / "load.tar"
        with engine.save(image_id) as stream, _seekable(stream, Path(tmp)) as saved:
            result = _rewrite_saved(
                saved, bundle, base_ids, source_date_epoch, tuple(repo_tags),
                include_base=include_base, origin=image_id,
            )
        with bundle.open("rb") as loadable:
            loaded = engine.load(loadable)
    if _with_prefix(loaded) != result.image_id:
        raise NormalizeError(
            f"the engine loaded the normalized image as {loaded}, expected {result.image_id} "
            "(sha256 of the canonical config); the engine changed the config"
        )
    return result


@contextmanager
def _seekable(stream: IO[bytes], workdir: Path) -> Iterator[IO[bytes]]:
    """The saved tar with random access (spooled to disk unless it already is)."""
    if stream.seekable():
        yield stream
        return
    with (workdir / "saved.tar").open("w+b") as spool:
        shutil.copyfileobj(stream, spool, COPY_CHUNK)
        spool.seek(0)
        yield spool


def _with_prefix(image_id: str) -> str:
    return image_id if image_id.startswith("sha256:") else "sha256:" + image_id


def _rewrite_saved(
    saved: IO[bytes],
    bundle: Path,
    base_ids: tuple[str, ...],
    sde: int,
    repo_tags: tuple[str, ...],
    *,
    include_base: bool = True,
    origin: str,
) -> NormalizedImage:
    """Read `docker save` output, write a loadable archive; no engine involved."""
    with tarfile.open(fileobj=saved, mode="r:") as archive, tarfile.open(
        bundle, mode="w", format=tarfile.PAX_FORMAT
    ) as out:
        manifest = read_saved_manifest(archive, origin)
        config = json.loads(_read_member(archive, manifest.config_path, origin))
        old_ids = tuple(config.get("rootfs", {}).get("diff_ids") or ())
        if len(old_ids) != len(manifest.layer_paths):
            raise NormalizeError(
                f"{origin}: config lists {len(old_ids)} layers, "
                f"manifest.json {len(manifest.layer_paths)}"
            )
        if old_ids[: len(base_ids)] != base_ids:
            raise NormalizeError(
                f"{origin}: the image does not start with the base image's layers; "
                "was it built FROM that base?"
            )
        new_ids: list[str] = []
        written: set[str] = set()
        for index, (old_id, path) in enumerate(zip(old_ids, manifest.layer_paths, strict=True)):
            if index < len(base_ids):
                new_id = old_id
                if include_base:
                    _add_stream(out, _layer_name(new_id), _member_stream(archive, path, origin),
                                _member_size(archive, path, origin), written)
            else:
                new_id = _add_rewritten(out, archive, path, sde, written, origin)
            new_ids.append(new_id)
        config_bytes = encode_config(
            canonical_config(config, diff_ids=new_ids, source_date_epoch=sde)
        )
        image_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        config_name = image_id.removeprefix("sha256:") + ".json"
        _add_bytes(out, config_name, config_bytes)
        load_manifest = [
            {
                "Config": config_name,
                "RepoTags": list(repo_tags) or None,
                "Layers": [_layer_name(i) for i in new_ids],
            }
        ]
        _add_bytes(out, "manifest.json", json.dumps(load_manifest).encode())
    return NormalizedImage(image_id, tuple(new_ids), len(base_ids))


def _layer_name(diff_id: str) -> str:
    return diff_id.removeprefix("sha256:") + "/layer.tar"


def _member_stream(archive: tarfile.TarFile, path: str, origin: str) -> IO[bytes]:
    stream = archive.extractfile(path)
    if stream is None:
        raise NormalizeError(f"{origin}: layer {path} is missing from the saved image")
    return stream


def _member_size(archive: tarfile.TarFile, path: str, origin: str) -> int:
    try:
        return archive.getmember(path).size
    except KeyError:
        raise NormalizeError(f"{origin}: layer {path} is missing from the saved image") from None


def _add_rewritten(
    out: tarfile.TarFile,
    archive: tarfile.TarFile,
    path: str,
    sde: int,
    written: set[str],
    origin: str,
) -> str:
    with tempfile.TemporaryFile() as rewritten:
        with _member_stream(archive, path, origin) as source:
            if _is_compressed(source):
                raise NormalizeError(f"{origin}: layer {path} is compressed; expected a plain tar")
            new_id = rewrite_layer(source, rewritten, source_date_epoch=sde)
        size = rewritten.tell()
        rewritten.seek(0)
        _add_stream(out, _layer_name(new_id), rewritten, size, written)
    return new_id


def _is_compressed(stream: IO[bytes]) -> bool:
    head = stream.read(6)
    stream.seek(0)
    return head[:2] == b"\x1f\x8b" or head[:4] == b"\x28\xb5\x2f\xfd" or head[:3] == b"BZh"


def _add_stream(
    out: tarfile.TarFile, name: str, stream: IO[bytes], size: int, written: set[str]
) -> None:
    if name in written:  # the same layer twice in one image
        return
    written.add(name)
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    out.addfile(info, stream)


def _add_bytes(out: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    out.addfile(info, io.BytesIO(data))
