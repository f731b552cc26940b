"""rewrite_layer and the config rewrite on synthetic tars (no engine)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from reprobuild.image.normalize import (
    NormalizeError,
    _rewrite_saved,
    canonical_config,
    encode_config,
    rewrite_layer,
)

SDE = 1_700_000_000


def _entry(
    name: str, kind: bytes = tarfile.REGTYPE, **fields: object
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    data = bytes(fields.pop("data", b""))  # type: ignore[call-overload]
    for key, value in fields.items():
        setattr(info, key, value)
    if kind == tarfile.REGTYPE:
        info.size = len(data)
    return info, data


def _layer(entries: list[tuple[tarfile.TarInfo, bytes]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    buffer.seek(0)
    return buffer


def _rewrite(entries: list[tuple[tarfile.TarInfo, bytes]]) -> tuple[str, bytes]:
    out = io.BytesIO()
    diff_id = rewrite_layer(_layer(entries), out, source_date_epoch=SDE)
    return diff_id, out.getvalue()


def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def _sample(now: float, order: int) -> list[tuple[tarfile.TarInfo, bytes]]:
    entries = [
        _entry("usr", tarfile.DIRTYPE, mode=0o755, mtime=now),
        _entry("usr/a.txt", data=b"hello", mode=0o644, mtime=now, uname="root", gname="root"),
        _entry("usr/old.txt", data=b"old", mode=0o600, mtime=1_000, uid=1000, gid=1000),
        _entry("etc", tarfile.DIRTYPE, mode=0o755, mtime=now),
        _entry("etc/.wh.motd", data=b"", mode=0o600, mtime=now),
        _entry("etc/.wh..wh..opq", data=b"", mode=0o600, mtime=now),
        _entry("etc/0-first", data=b"x", mode=0o644, mtime=now),
        _entry("usr/link", tarfile.SYMTYPE, linkname="a.txt", mtime=now),
        _entry("dev", tarfile.DIRTYPE, mode=0o755, mtime=now),
        _entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666, mtime=now),
        _entry("usr/cap", data=b"bin", mode=0o755, mtime=now,
               pax_headers={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
                            "comment": "dropped"}),
    ]
    return entries if order == 0 else list(reversed(entries))


def test_rewrite_is_deterministic_across_order_and_time() -> None:
    a = _rewrite(_sample(1_800_000_000.25, 0))
    b = _rewrite(_sample(1_800_000_999.0, 1))
    assert a == b
    assert a[0] == "sha256:" + hashlib.sha256(a[1]).hexdigest()


def test_rewrite_sorts_clamps_clears_names_and_keeps_the_rest() -> None:
    _, data = _rewrite(_sample(1_800_000_000.5, 1))
    members = {m.name: m for m in _members(data)}
    assert [m.name for m in _members(data)] == [
        "dev", "dev/null",
        "etc", "etc/.wh..wh..opq", "etc/.wh.motd", "etc/0-first",  # opaque marker first
        "usr", "usr/a.txt", "usr/cap", "usr/link", "usr/old.txt",
    ]
    assert members["usr/a.txt"].mtime == SDE
    assert members["usr/old.txt"].mtime == 1_000  # older than SDE: kept
    assert (members["usr/old.txt"].uid, members["usr/old.txt"].gid) == (1000, 1000)
    assert members["usr/a.txt"].uname == "" and members["usr/a.txt"].gname == ""
    assert members["usr/old.txt"].mode == 0o600
    assert members["dev/null"].ischr() and members["dev/null"].devminor == 3
    assert members["usr/link"].issym() and members["usr/link"].linkname == "a.txt"
    assert members["usr/cap"].pax_headers == {
        "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"
    }
    assert b"mtime=" not in data and b"comment=" not in data


def test_hardlinks_follow_their_target_after_sorting() -> None:
    # moby writes the first inode it meets as the file; here that sorts *after* its links.
    entries = [
        _entry("z/file", data=b"shared", mode=0o640, mtime=10, uid=5),
        _entry("a/link", tarfile.LNKTYPE, linkname="z/file", mtime=10),
        _entry("m/link", tarfile.LNKTYPE, linkname="z/file", mtime=10),
    ]
    _, data = _rewrite(entries)
    members = {m.name: m for m in _members(data)}
    assert members["a/link"].isreg() and members["a/link"].size == 6
    assert members["a/link"].uid == 5 and members["a/link"].mode == 0o640
    assert members["m/link"].islnk() and members["m/link"].linkname == "a/link"
    assert members["z/file"].islnk() and members["z/file"].linkname == "a/link"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        extracted = tar.extractfile("z/file")
        assert extracted is not None and extracted.read() == b"shared"


def test_canonical_config_drops_build_traces() -> None:
    config = {
        "architecture": "amd64",
        "container": "abc",
        "container_config": {"Hostname": "abc"},
        "docker_version": "20.10.24",
        "created": "2026-11-26T12:00:00.123Z",
        "history": [{"created": "2026-11-26T12:00:00Z", "created_by": "RUN x"}],
        "config": {"Hostname": "abc", "Image": "sha256:parent", "Env": ["A=1"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:old"]},
    }
    result = canonical_config(config, diff_ids=["sha256:new"], source_date_epoch=SDE)
    assert result == {
        "architecture": "amd64",
        "created": "2023-11-14T22:13:20Z",
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "RUN x"}],
        "config": {"Hostname": "", "Env": ["A=1"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:new"]},
    }
    assert encode_config(result) == encode_config(dict(reversed(list(result.items()))))


def _saved_tar(path: Path, layers: list[bytes], config: Mapping[str, object]) -> None:
    with tarfile.open(path, "w") as tar:
        names = []
        for index, layer in enumerate(layers):
            names.append(f"l{index}/layer.tar")
            info = tarfile.TarInfo(names[-1])
            info.size = len(layer)
            tar.addfile(info, io.BytesIO(layer))
        for name, body in (
            ("cfg.json", json.dumps(config).encode()),
            ("manifest.json", json.dumps([{"Config": "cfg.json", "Layers": names}]).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


def test_saved_rewrite_keeps_base_layers_byte_for_byte(tmp_path: Path) -> None:
    base = _layer([_entry("base.txt", data=b"b", mtime=1_900_000_000, uname="root")]).getvalue()
    top = _layer([_entry("top.txt", data=b"t", mtime=1_900_000_000)]).getvalue()
    base_id = "sha256:" + hashlib.sha256(base).hexdigest()
    top_id = "sha256:" + hashlib.sha256(top).hexdigest()
    config = {"rootfs": {"type": "layers", "diff_ids": [base_id, top_id]}, "history": []}
    _saved_tar(tmp_path / "saved.tar", [base, top], config)
    with (tmp_path / "saved.tar").open("rb") as saved:
        result = _rewrite_saved(saved, tmp_path / "out.tar", (base_id,), SDE, ("x:y",), origin="t")
    assert result.diff_ids[0] == base_id and result.diff_ids[1] != top_id
    with tarfile.open(tmp_path / "out.tar") as out:
        manifest = json.loads(out.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config_bytes = out.extractfile(manifest[0]["Config"]).read()  # type: ignore[union-attr]
        base_copy = out.extractfile(manifest[0]["Layers"][0]).read()  # type: ignore[union-attr]
    assert manifest[0]["RepoTags"] == ["x:y"]
    assert result.image_id == "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    assert base_copy == base


def test_saved_rewrite_refuses_an_image_not_built_on_the_base(tmp_path: Path) -> None:
    layer = _layer([_entry("a", data=b"a")]).getvalue()
    layer_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    _saved_tar(tmp_path / "saved.tar", [layer], {"rootfs": {"diff_ids": [layer_id]}})
    with (tmp_path / "saved.tar").open("rb") as saved, pytest.raises(
        NormalizeError, match="base image's layers"
    ):
        _rewrite_saved(saved, tmp_path / "o.tar", ("sha256:other",), SDE, (), origin="t")
