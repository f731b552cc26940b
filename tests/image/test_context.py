"""The deterministic build context: same files -> same bytes, .dockerignore honoured."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from reprobuild.image.context import ContextError, build_context


def _make(root: Path, order: list[str], mtime: int) -> None:
    files = {
        "Dockerfile": b"FROM scratch\n",
        "src/pkg/__init__.py": b"",
        "src/pkg/mod.py": b"x = 1\n",
        "run.sh": b"#!/bin/sh\n",
        "notes.log": b"noise\n",
        ".git/HEAD": b"ref: refs/heads/main\n",
    }
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
        os.utime(path, (mtime, mtime))
    (root / "run.sh").chmod(0o775)
    (root / ".dockerignore").write_text("# logs\n*.log\n")


def _tar_bytes(root: Path, epoch: int = 1_700_000_000) -> tuple[bytes, str]:
    context = build_context(root, source_date_epoch=epoch)
    try:
        return context.file.read(), context.sha256
    finally:
        context.close()


NAMES = ["Dockerfile", "src/pkg/__init__.py", "src/pkg/mod.py", "run.sh", "notes.log", ".git/HEAD"]


def test_same_bytes_regardless_of_mtimes_and_creation_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _make(a, NAMES, mtime=1_000_000)
    _make(b, list(reversed(NAMES)), mtime=2_000_000)
    (b / "run.sh").chmod(0o700)  # another umask: only the executable bit counts
    data_a, sha_a = _tar_bytes(a)
    data_b, sha_b = _tar_bytes(b)
    assert data_a == data_b
    assert sha_a == sha_b


def test_entries_are_normalized_sorted_and_filtered(tmp_path: Path) -> None:
    _make(tmp_path, NAMES, mtime=1_234_567)
    context = build_context(tmp_path, source_date_epoch=42)
    with context.file, tarfile.open(fileobj=context.file) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == [
        ".dockerignore", "Dockerfile", "run.sh", "src", "src/pkg", "src/pkg/__init__.py",
        "src/pkg/mod.py",
    ]
    assert all(m.mtime == 42 and m.uid == 0 and m.gid == 0 for m in members)
    assert all(m.uname == "" and m.gname == "" for m in members)
    modes = {m.name: m.mode for m in members}
    assert modes["run.sh"] == 0o755 and modes["Dockerfile"] == 0o644 and modes["src"] == 0o755


def test_dockerignore_negation_and_dockerfile_always_sent(tmp_path: Path) -> None:
    _make(tmp_path, NAMES, mtime=0)
    (tmp_path / ".dockerignore").write_text("*\n!src/pkg/mod.py\n")
    context = build_context(tmp_path, source_date_epoch=0)
    with context.file, tarfile.open(fileobj=context.file) as tar:
        names = tar.getnames()
    assert "src/pkg/mod.py" in names and "Dockerfile" in names
    assert "run.sh" not in names and "src/pkg/__init__.py" not in names


def test_extra_files_overlay_without_touching_the_project(tmp_path: Path) -> None:
    _make(tmp_path, NAMES, mtime=0)
    wheel = tmp_path.parent / "w.whl"
    wheel.write_bytes(b"wheel")
    context = build_context(
        tmp_path,
        source_date_epoch=0,
        extra_files={".reprobuild/wheels/w.whl": wheel, "Dockerfile": b"FROM other\n"},
    )
    with context.file, tarfile.open(fileobj=context.file) as tar:
        dockerfile = tar.extractfile("Dockerfile")
        assert dockerfile is not None and dockerfile.read() == b"FROM other\n"
        assert ".reprobuild" in tar.getnames()
        assert ".reprobuild/wheels/w.whl" in tar.getnames()
    assert not (tmp_path / ".reprobuild").exists()


def test_symlinks_are_kept_as_links(tmp_path: Path) -> None:
    _make(tmp_path, NAMES, mtime=0)
    (tmp_path / "link").symlink_to("run.sh")
    context = build_context(tmp_path, source_date_epoch=0)
    with context.file, tarfile.open(fileobj=context.file) as tar:
        link = tar.getmember("link")
    assert link.issym() and link.linkname == "run.sh"


def test_escaping_extra_path_is_refused(tmp_path: Path) -> None:
    _make(tmp_path, NAMES, mtime=0)
    with pytest.raises(ContextError, match="inside the context"):
        build_context(tmp_path, source_date_epoch=0, extra_files={"../x": b""})
