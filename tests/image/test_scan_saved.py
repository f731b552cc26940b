"""scan_for_build_time on synthetic saved archives (no engine)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reprobuild.image.scan import scan_for_build_time

CONFIG: dict[str, Any] = {"architecture": "amd64", "os": "linux",
                          "created": "2023-11-14T22:13:20Z"}


def layer_tar(files: list[tuple[str, bytes, dict[str, Any]]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, fields in files:
            info = tarfile.TarInfo(name)
            for key, value in fields.items():
                setattr(info, key, value)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def saved_tar(path: Path, layers: list[bytes], config: dict[str, Any]) -> Path:
    """A legacy `docker save` archive (test_diff_saved covers the OCI layout too)."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    body = json.dumps({**config, "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": "c.json", "RepoTags": None, "Layers": names}]).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in [*zip(names, layers, strict=True), ("c.json", body),
                           ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


WHEN = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
DAY = int(WHEN.timestamp()) // 86400  # 20418
OLD_DAY = 19675  # 2023-11-14, the base image's day


def _gzip(mtime: int) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=mtime) as out:
        out.write(b"x")
    return buffer.getvalue()


def _pyc(flags: int, mtime: int) -> bytes:
    return b"\xa7\r\r\n" + struct.pack("<III", flags, mtime, 10) + b"\xe3" * 8


def test_finds_each_form_of_the_build_time(tmp_path: Path) -> None:
    now = int(WHEN.timestamp())
    base = layer_tar([("etc/shadow", f"root:*:{OLD_DAY}:0:99999:7:::\n".encode(), {})])
    top = layer_tar(
        [
            ("etc/shadow", f"root:*:{OLD_DAY}:0:99999:7:::\napp:!:{DAY}:0:99999:7:::\n".encode(),
             {}),
            ("etc/shadow-", f"root:*:{OLD_DAY}:0:99999:7:::\n".encode(), {}),
            ("stamp", b"Thu Nov 26 12:00:03 UTC 2026\n", {}),
            ("build.json", b'{"built": %d}' % (now + 5), {}),
            ("app/m.cpython-311.pyc", _pyc(0, now + 2), {}),
            ("app/h.cpython-311.pyc", _pyc(3, now + 2), {}),  # checked-hash: no time
            ("docs/a.gz", _gzip(now + 1), {}),
            ("docs/b.gz", _gzip(0), {}),
            ("clean.txt", b"nothing to see, 1700000000\n", {}),
        ]
    )
    saved = saved_tar(tmp_path / "s.tar", [base, top], CONFIG)
    findings = scan_for_build_time(saved, WHEN, skip_layers=1)
    found = {(f.path, f.kind) for f in findings}
    assert ("/etc/shadow", "day-count") in found
    assert ("/stamp", "date") in found
    assert ("/build.json", "unix-seconds") in found
    assert ("/app/m.cpython-311.pyc", "pyc-timestamp") in found
    assert ("/docs/a.gz", "gzip-mtime") in found
    paths = {f.path for f in findings}
    assert paths.isdisjoint({"/etc/shadow-", "/app/h.cpython-311.pyc", "/docs/b.gz",
                             "/clean.txt"})
    assert all(f.layer == 1 for f in findings)
    shadow = next(f for f in findings if f.kind == "day-count")
    assert f":{DAY}:" in shadow.excerpt and "layer 1: /etc/shadow: day-count" in shadow.render()


def test_base_layers_can_be_skipped_and_other_days_are_quiet(tmp_path: Path) -> None:
    shadow = layer_tar([("etc/shadow", f"root:*:{DAY}:0:99999:7:::\n".encode(), {})])
    saved = saved_tar(tmp_path / "s.tar", [shadow], CONFIG)
    assert [f.layer for f in scan_for_build_time(saved, WHEN)] == [0]
    assert scan_for_build_time(saved, WHEN, skip_layers=1) == []
    assert scan_for_build_time(saved, WHEN + timedelta(days=3)) == []


def test_config_dates_are_found(tmp_path: Path) -> None:
    config = {**CONFIG, "config": {"Labels": {"org.opencontainers.image.created":
                                              "2026-11-26T12:00:00Z"}}}
    saved = saved_tar(tmp_path / "s.tar", [layer_tar([("a", b"", {})])], config)
    (finding,) = scan_for_build_time(saved, WHEN)
    assert (finding.layer, finding.path, finding.kind) == (None, "config", "date")


def test_whiteout_markers_are_not_read(tmp_path: Path) -> None:
    saved = saved_tar(
        tmp_path / "s.tar",
        [layer_tar([("etc/.wh.shadow", b"", {"type": tarfile.REGTYPE})])],
        CONFIG,
    )
    assert scan_for_build_time(saved, WHEN) == []
