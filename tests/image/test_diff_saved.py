"""diff_saved_images on synthetic `docker save` archives (no engine)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from reprobuild.image.diff import diff_saved_images
from reprobuild.image.normalize import NormalizeError

File = tuple[str, bytes, dict[str, Any]]  # name, data, TarInfo fields


def layer_tar(files: list[File]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, fields in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            for key, value in fields.items():
                setattr(info, key, value)
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def saved_tar(
    path: Path, layers: list[bytes], config: dict[str, Any], *, oci: bool = False
) -> Path:
    """A `docker save` archive: legacy layout, or OCI layout (blobs/) with manifest.json."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    full = {**config, "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_bytes = json.dumps(full, sort_keys=True).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    members: list[tuple[str, bytes]] = []
    names = []
    for diff_id, layer in zip(diff_ids, layers, strict=True):
        hex_id = diff_id.removeprefix("sha256:")
        names.append(f"blobs/sha256/{hex_id}" if oci else f"{hex_id}/layer.tar")
        members.append((names[-1], layer))
    config_name = f"blobs/sha256/{config_hex}" if oci else f"{config_hex}.json"
    members.append((config_name, config_bytes))
    manifest = [{"Config": config_name, "RepoTags": None, "Layers": names}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    if oci:
        members.append(("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


BASE = layer_tar([("etc", b"", {"type": tarfile.DIRTYPE}), ("etc/os", b"debian\n", {})])
CONFIG: dict[str, Any] = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2023-11-14T22:13:20Z",
    "config": {"Env": ["PATH=/usr/bin"], "Labels": {"a": "1"}},
    "history": [{"created_by": "base"}, {"created_by": "RUN date > /stamp"}],
}


def _top(stamp: bytes, **overrides: dict[str, Any]) -> bytes:
    files: list[File] = [
        ("app", b"", {"type": tarfile.DIRTYPE}),
        ("app/same.txt", b"same", {}),
        ("app/mode.sh", b"#!/bin/sh\n", overrides.get("mode", {"mode": 0o644})),
        ("app/owner.txt", b"x", overrides.get("owner", {"uid": 0})),
        ("app/time.txt", b"t", overrides.get("mtime", {})),
        ("stamp", stamp, {}),
    ]
    files += [(name, b"extra", {}) for name in overrides.get("extra", {})]
    return layer_tar(files)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    a = saved_tar(tmp_path / "a.tar", [BASE, _top(b"Thu Nov 26 12:00:01 UTC 2026\n")], CONFIG)
    top_b = _top(
        b"Thu Nov 26 12:00:09 UTC 2026\n",
        mode={"mode": 0o755},
        owner={"uid": 1000, "gid": 1000},
        mtime={"mtime": 1_700_000_001},
        extra={"app/new.txt": {}},
    )
    config_b = {**CONFIG, "config": {**CONFIG["config"], "Labels": {"a": "2"}}}
    b = saved_tar(tmp_path / "b.tar", [BASE, top_b], config_b, oci=True)
    return a, b


def test_identical_archives_have_no_differences(tmp_path: Path) -> None:
    a = saved_tar(tmp_path / "a.tar", [BASE, _top(b"1")], CONFIG)
    b = saved_tar(tmp_path / "b.tar", [BASE, _top(b"1")], CONFIG, oci=True)
    result = diff_saved_images(a, b)
    assert result.identical
    assert result.layers == () and result.config == ()
    assert result.render().startswith("identical: sha256:")


def test_names_the_layer_and_each_path_with_what_differs(pair: tuple[Path, Path]) -> None:
    result = diff_saved_images(*pair)
    assert not result.identical
    assert result.identical_layers == 1  # the base layer
    (layer,) = result.layers
    assert layer.index == 1
    aspects = {p.path: p.aspects for p in layer.paths}
    assert aspects == {
        "stamp": ("content",),
        "app/mode.sh": ("mode",),
        "app/owner.txt": ("owner",),
        "app/time.txt": ("mtime",),
        "app/new.txt": ("added",),
    }
    stamp = next(p for p in layer.paths if p.path == "stamp")
    assert "29 bytes" in stamp.a and stamp.a != stamp.b


def test_names_config_fields(pair: tuple[Path, Path]) -> None:
    result = diff_saved_images(*pair)
    assert [(c.field, c.a, c.b) for c in result.config] == [("config.Labels.a", "1", "2")]


def test_render_and_json_name_the_same_paths(pair: tuple[Path, Path]) -> None:
    result = diff_saved_images(*pair)
    text = result.render()
    assert "layer 1:" in text and "/stamp: content" in text and "config config.Labels.a" in text
    data = json.loads(json.dumps(result.to_dict()))
    paths = [p["path"] for layer in data["layers"] for p in layer["paths"]]
    assert sorted(paths) == sorted(result.differing_paths())
    assert data["identical"] is False


def test_layer_count_difference_is_reported(tmp_path: Path) -> None:
    a = saved_tar(tmp_path / "a.tar", [BASE], CONFIG)
    b = saved_tar(tmp_path / "b.tar", [BASE, _top(b"1")], CONFIG)
    result = diff_saved_images(a, b)
    assert result.notes == ("layer counts differ: 1 != 2",)
    (layer,) = result.layers
    assert layer.diff_id_a is None and "stamp" in layer.paths[-1].path
    assert all(p.aspects == ("added",) for p in layer.paths)


def test_same_entries_in_another_order_is_named_as_such(tmp_path: Path) -> None:
    files: list[File] = [("a", b"1", {}), ("b", b"2", {})]
    a = saved_tar(tmp_path / "a.tar", [layer_tar(files)], CONFIG)
    b = saved_tar(tmp_path / "b.tar", [layer_tar(files[::-1])], CONFIG)
    (layer,) = diff_saved_images(a, b).layers
    assert layer.order_only and layer.paths == ()


def test_not_a_saved_image_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar"
    bogus.write_bytes(b"not a tar")
    with pytest.raises(NormalizeError, match=r"bogus\.tar"):
        diff_saved_images(bogus, bogus)
