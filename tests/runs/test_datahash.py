"""Tree hashes and data versions (DVC .dvc / dvc.lock, Delta)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprobuild.errors import ReprobuildError
from reprobuild.runs.datahash import TREE_FORMAT, DataVersion, data_version, tree_hash


def _make(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_tree_hash_is_the_documented_format(tmp_path: Path) -> None:
    tree = _make(tmp_path / "t", {"b.txt": b"bee", "a/x.bin": b"\x00\x01"})
    lines = "".join(
        f"100644 {hashlib.sha256(data).hexdigest()} {name}\n"
        for name, data in [("a/x.bin", b"\x00\x01"), ("b.txt", b"bee")]
    )
    expected = hashlib.sha256(f"{TREE_FORMAT}\n{lines}".encode()).hexdigest()
    result = tree_hash(tree)
    assert result.sha256 == f"sha256:{expected}"
    assert (result.files, result.bytes) == (2, 5)


def test_content_mode_and_names_count_but_times_and_empty_dirs_do_not(tmp_path: Path) -> None:
    tree = _make(tmp_path / "t", {"a.csv": b"1,2\n", "sub/b.csv": b"3,4\n"})
    before = tree_hash(tree).sha256
    os.utime(tree / "a.csv", (0, 0))
    (tree / "empty").mkdir()
    assert tree_hash(tree).sha256 == before
    (tree / "a.csv").chmod(0o755)
    assert tree_hash(tree).sha256 != before
    (tree / "a.csv").chmod(0o644)
    (tree / "a.csv").rename(tree / "c.csv")
    assert tree_hash(tree).sha256 != before


@settings(deadline=None, max_examples=25)
@given(st.dictionaries(st.from_regex(r"[a-z]{1,6}(/[a-z]{1,6})?", fullmatch=True),
                       st.binary(max_size=64), min_size=1, max_size=6))
def test_same_files_written_in_any_order_hash_the_same(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, bytes]
) -> None:
    names = sorted(files)
    # a name cannot be both a file and a directory prefix
    if any(other.startswith(name + "/") for name in names for other in names):
        return
    first = _make(tmp_path_factory.mktemp("a"), files)
    second = _make(tmp_path_factory.mktemp("b"), dict(reversed(list(files.items()))))
    assert tree_hash(first) == tree_hash(second)


def test_a_file_hashes_as_a_one_entry_tree(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_bytes(b"x")
    (tmp_path / "two.csv").write_bytes(b"x")
    assert tree_hash(tmp_path / "one.csv") == tree_hash(tmp_path / "two.csv")


def test_missing_path_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ReprobuildError, match="no such file or directory"):
        tree_hash(tmp_path / "absent")


def test_dvc_file_version(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.csv").write_text("a\n")
    (tmp_path / "data" / "raw.csv.dvc").write_text(
        "outs:\n- md5: 60b725f10c9c85c70d97880dfe8191b3\n  size: 2\n  hash: md5\n"
        "  path: raw.csv\n"
    )
    assert data_version(tmp_path / "data" / "raw.csv", tmp_path) == DataVersion(
        "dvc", "60b725f10c9c85c70d97880dfe8191b3", "data/raw.csv.dvc"
    )


def test_dvc_lock_version(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  featurize:\n    cmd: x\n    outs:\n"
        "    - path: features\n      hash: md5\n      md5: 0123456789abcdef0123456789abcdef.dir\n"
        "      size: 10\n      nfiles: 4\n"
    )
    assert data_version(tmp_path / "features", tmp_path) == DataVersion(
        "dvc", "0123456789abcdef0123456789abcdef.dir", "dvc.lock:featurize"
    )
    assert data_version(tmp_path / "dvc.lock", tmp_path) is None


def test_delta_table_version(tmp_path: Path) -> None:
    log = tmp_path / "table" / "_delta_log"
    log.mkdir(parents=True)
    for n in (0, 1, 12):
        (log / f"{n:020d}.json").write_text("{}\n")
    assert data_version(tmp_path / "table", tmp_path) == DataVersion("delta", "12", "_delta_log")
