"""Explicit (@EXPLICIT) conda lock reader: corpus files, fixtures, error lines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reprobuild.errors import LockParseError
from reprobuild.lockfiles import conda_explicit
from reprobuild.lockfiles.conda_explicit import CondaArchive, parse_conda_url
from reprobuild.models import ArtifactKind, Hash, Lock, LockFormat, SourceKind

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / ".." / "shared" / "corpus" / "lockfiles"
FIXTURES = REPO / "tests" / "fixtures" / "lockfiles" / "conda"
EXPLICIT_CORPUS = (
    "Cecca__repro-course-ci__conda-linux-64.lock",
    "mamba-org__micromamba-docker__examples_new_lock_env.lock",
)


def _corpus_files() -> list[Any]:
    if CORPUS.is_dir():
        return [CORPUS / name for name in EXPLICIT_CORPUS]
    reason = f"corpus not found at {CORPUS} (../shared is absent in a plain clone)"
    return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]


def _read(path: Path) -> Lock:
    return conda_explicit.read(path, path.read_bytes())


def _parse_text(text: str) -> Lock:
    return conda_explicit.read(Path("explicit.txt"), text.encode())


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p and p.name)
def test_corpus_file_counts_match_the_raw_text(path: Path) -> None:
    lock = _read(path)
    # Independent count over the raw lines: URLs after @EXPLICIT, and '# pip' comments.
    lines = path.read_text().splitlines()
    body = lines[lines.index("@EXPLICIT") + 1 :]
    expected = Counter(
        "pip" if line.startswith("# pip ") else "conda"
        for line in body
        if line.startswith("# pip ") or line.startswith("https://")
    )
    assert Counter(p.manager for p in lock.packages) == expected
    assert lock.format is LockFormat.CONDA_EXPLICIT
    assert lock.platforms == ("linux-64",)
    for package in lock.packages:
        assert package.line is not None
        filename = package.artifacts[0].filename
        assert filename and filename in lines[package.line - 1]


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p and p.name)
def test_corpus_conda_entries_carry_md5_and_build(path: Path) -> None:
    for package in _read(path).installed():
        if package.manager == "conda":
            assert [h.algorithm for h in package.hashes] == ["md5"]
            assert package.channel == "https://conda.anaconda.org/conda-forge"
            assert package.build and package.subdir in ("linux-64", "noarch")


def test_conda_lock_render_header_gives_content_hash() -> None:
    path = CORPUS / EXPLICIT_CORPUS[0]
    if not path.is_file():
        pytest.skip(f"corpus not found at {CORPUS}")
    lock = _read(path)
    assert lock.content_hash == "09bbbf5511f447fb4d49239fcf44986ad96c5258f55cb6c3d02b10c4dffcaab6"
    pip = [p for p in lock.packages if p.manager == "pip"]
    assert [(p.name, p.version, p.line) for p in pip] == [("pyattimo", "0.6.0", 47)]


def test_fixture_hash_forms() -> None:
    lock = _read(FIXTURES / "rendered-linux-64.lock")
    mutex, ld_impl, tzdata, python = lock.packages[:4]
    assert mutex.hashes == (Hash("md5", "d7c89558ba9fa0495403155b64376d81"),)
    assert [h.algorithm for h in ld_impl.hashes] == ["sha256"]
    assert tzdata.hashes == () and tzdata.artifacts[0].hashes == ()
    # Upper-case hex is normalised, not rejected.
    assert python.hashes == (Hash("md5", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),)


def test_fixture_names_versions_builds_and_channels() -> None:
    lock = _read(FIXTURES / "rendered-linux-64.lock")
    ld_impl = lock.packages[1]
    assert (ld_impl.name, ld_impl.version, ld_impl.build) == (
        "ld_impl_linux-64",
        "2.40",
        "hf3520f5_7",
    )
    assert ld_impl.artifacts[0].kind is ArtifactKind.CONDA
    assert ld_impl.artifacts[0].url == (
        "https://conda.anaconda.org/conda-forge/linux-64/ld_impl_linux-64-2.40-hf3520f5_7.conda"
    )
    python = lock.packages[3]
    assert python.channel == "https://conda.anaconda.org/conda-forge/label/rc"
    assert (python.version, python.build) == ("3.13.0rc2", "h9ebbce0_100_cp313")
    assert python.line == 9  # the blank line before it still counts
    assert lock.packages[2].subdir == "noarch"
    assert all(p.platform == "linux-64" for p in lock.packages)
    assert lock.indexes.channels == (
        "https://conda.anaconda.org/conda-forge",
        "https://conda.anaconda.org/conda-forge/label/rc",
    )


def test_fixture_pip_comment_lines() -> None:
    lock = _read(FIXTURES / "rendered-linux-64.lock")
    pyattimo, tool = lock.packages[4:]
    assert pyattimo.manager == "pip"
    assert pyattimo.source is SourceKind.URL
    assert pyattimo.url is not None and "#" not in pyattimo.url
    assert pyattimo.artifacts[0].kind is ArtifactKind.WHEEL
    assert pyattimo.hashes[0].algorithm == "sha256"
    assert (tool.name, tool.version) == ("some-tool", "1.0")
    assert tool.artifacts[0].kind is ArtifactKind.SDIST


def test_plain_comments_after_explicit_are_ignored() -> None:
    text = (
        "@EXPLICIT\n# just a note\n# pip install -r requirements.txt\n# pip requests==2.0\n"
        "https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2\n"
    )
    lock = _parse_text(text)
    assert [p.name for p in lock.packages] == ["six"]
    assert lock.platforms == () and lock.content_hash is None


def test_local_package_path_is_a_path_source() -> None:
    lock = _parse_text("@EXPLICIT\nfile:///opt/pkgs/linux-64/mylib-2.0-h0_1.conda\n")
    package = lock.packages[0]
    assert package.source is SourceKind.PATH
    assert package.url == "file:///opt/pkgs/linux-64/mylib-2.0-h0_1.conda"
    assert (package.channel, package.subdir) == ("file:///opt/pkgs", "linux-64")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "# platform: linux-64\nhttps://x/linux-64/a-1-0.conda\n@EXPLICIT\n",
            2,
            "before @EXPLICIT",
        ),
        ("@EXPLICIT\nhttps://x/linux-64/a-1-0.conda#nothex\n", 2, "hash fragment"),
        ("@EXPLICIT\nhttps://x/linux-64/a-1-0.conda#sha1:abcd\n", 2, "hash fragment"),
        ("@EXPLICIT\n\n\nhttps://x/linux-64/a-1-0.whl\n", 4, ".conda or .tar.bz2"),
        ("@EXPLICIT\nhttps://x/linux-64/nobuild-1.conda\n", 2, ".conda or .tar.bz2"),
        ("@EXPLICIT\n# pip !!! @ https://x/y.whl\n", 2, "invalid '# pip' line"),
    ],
    ids=[
        "before-explicit",
        "bad-md5",
        "unknown-algorithm",
        "not-conda",
        "no-build",
        "pip",
    ],
)
def test_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(LockParseError) as caught:
        _parse_text(text)
    assert caught.value.line == line
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(f"explicit.txt:{line}:")


@pytest.mark.parametrize("text", ["", "# platform: linux-64\n", "# only comments\n\n"])
def test_missing_explicit_marker_is_an_error(text: str) -> None:
    with pytest.raises(LockParseError, match="no @EXPLICIT"):
        _parse_text(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://conda.anaconda.org/conda-forge/linux-64/libgcc-ng-14.1.0-h69a702a_1.conda",
            CondaArchive(
                "https://conda.anaconda.org/conda-forge",
                "linux-64",
                "libgcc-ng-14.1.0-h69a702a_1.conda",
                "libgcc-ng",
                "14.1.0",
                "h69a702a_1",
            ),
        ),
        (
            "https://host.example/osx-arm64/a-1-0.tar.bz2",
            CondaArchive("https://host.example", "osx-arm64", "a-1-0.tar.bz2", "a", "1", "0"),
        ),
        ("a-1-0.conda", CondaArchive(None, None, "a-1-0.conda", "a", "1", "0")),
        (
            "https://host.example/a-1-0.conda",
            CondaArchive("https://host.example", None, "a-1-0.conda", "a", "1", "0"),
        ),
        ("https://host.example/linux-64/a-1.conda", None),
        ("https://host.example/linux-64/a-1-0.whl", None),
    ],
)
def test_parse_conda_url(url: str, expected: CondaArchive | None) -> None:
    assert parse_conda_url(url) == expected


@pytest.mark.parametrize(
    "line",
    [
        "https://user:s3cret@conda.example/t/tk-s3cret/ch/linux-64/a-1.whl",
        "https://user:s3cret@[conda.example/ch/linux-64/a-1-0.conda",
    ],
)
def test_error_messages_do_not_quote_credentials(line: str) -> None:
    with pytest.raises(LockParseError) as caught:
        _parse_text(f"@EXPLICIT\n{line}\n")
    assert "s3cret" not in str(caught.value)
    with pytest.raises(LockParseError) as before:
        _parse_text(f"{line}\n@EXPLICIT\n")
    assert "s3cret" not in str(before.value)


def test_crlf_line_endings() -> None:
    text = (FIXTURES / "rendered-linux-64.lock").read_text().replace("\n", "\r\n")
    lock = conda_explicit.read(Path("explicit.txt"), text.encode())
    assert [p.line for p in lock.packages] == [5, 6, 7, 9, 10, 11]
    assert lock.platforms == ("linux-64",)
