"""conda-lock.yml reader: corpus files, hand-written fixtures, error locations."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from reprobuild.errors import LockParseError
from reprobuild.lockfiles import conda_lock
from reprobuild.models import ArtifactKind, Hash, Lock, LockedPackage, LockFormat, SourceKind

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / ".." / "shared" / "corpus" / "lockfiles"
FIXTURES = REPO / "tests" / "fixtures" / "lockfiles" / "conda"


def _corpus_files(pattern: str) -> list[Any]:
    files = sorted(CORPUS.glob(pattern))
    if files:
        return files
    reason = f"corpus not found at {CORPUS} (../shared is absent in a plain clone)"
    return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]


def _read(path: Path) -> Lock:
    return conda_lock.read(path, path.read_bytes())


def _parse_text(text: str, name: str = "conda-lock.yml") -> Lock:
    return conda_lock.read(Path(name), text.encode())


@pytest.mark.parametrize("path", _corpus_files("*conda-lock.yml"), ids=lambda p: p and p.name)
def test_corpus_file_counts_match_the_raw_yaml(path: Path) -> None:
    lock = _read(path)
    # Independent count: PyYAML's pure-Python loader over the raw structure.
    raw = yaml.load(path.read_text(), Loader=yaml.SafeLoader)
    expected = Counter((entry["platform"], entry["manager"]) for entry in raw["package"])
    assert Counter((p.platform, p.manager) for p in lock.packages) == expected
    assert lock.format is LockFormat.CONDA_LOCK
    assert lock.platforms == tuple(raw["metadata"]["platforms"])
    assert lock.format_version == "1"
    assert lock.content_hash == ",".join(
        f"{platform}:{value}" for platform, value in sorted(raw["metadata"]["content_hash"].items())
    )


@pytest.mark.parametrize("path", _corpus_files("*conda-lock.yml"), ids=lambda p: p and p.name)
def test_corpus_lines_point_at_each_list_item(path: Path) -> None:
    lines = path.read_text().split("\n")
    lock = _read(path)
    for index, package in enumerate(lock.packages):
        assert package.key == f"package[{index}]"
        assert package.line is not None
        assert lines[package.line - 1].startswith("- ")
    # The entries are in file order and each appears once.
    numbers = [p.line for p in lock.packages if p.line is not None]
    assert numbers == sorted(set(numbers))


@pytest.mark.parametrize("path", _corpus_files("*conda-lock.yml"), ids=lambda p: p and p.name)
def test_corpus_pip_entries_hash_their_single_artifact(path: Path) -> None:
    for package in _read(path).packages:
        if package.manager == "pip":
            assert [h.algorithm for h in package.hashes] == ["sha256"]
            assert package.artifacts[0].kind in (ArtifactKind.WHEEL, ArtifactKind.SDIST)
        else:
            assert package.artifacts[0].kind is ArtifactKind.CONDA
            assert package.build and package.subdir and package.channel


def test_earliest_dialect_reads_a_bare_md5_string() -> None:
    lock = _read(FIXTURES / "md5-only.conda-lock.yml")
    first = lock.packages[0]
    assert first.hashes == (Hash("md5", "d7c89558ba9fa0495403155b64376d81"),)
    assert first.name == "_libgcc_mutex"  # conda names are kept as written
    assert (first.version, first.build, first.subdir) == ("0.1", "conda_forge", "linux-64")
    assert first.channel == "https://conda.anaconda.org/conda-forge"
    assert first.source is SourceKind.REGISTRY
    assert first.line == 11 and first.key == "package[0]"
    assert first.artifacts[0].filename == "_libgcc_mutex-0.1-conda_forge.tar.bz2"
    assert lock.indexes.channels == ("conda-forge",)
    assert lock.content_hash == "linux-64:" + "c1c2c3c4c5c6c7c8c9c0" * 3 + "c1c2"
    assert lock.platforms == ("linux-64",)


def test_categories_become_groups() -> None:
    lock = _read(FIXTURES / "md5-only.conda-lock.yml")
    assert {p.name: p.groups for p in lock.packages} == {
        "_libgcc_mutex": ("main",),
        "libgomp": ("main",),
        "tzdata": ("dev",),
    }
    multi = _read(FIXTURES / "multi-platform.conda-lock.yml")
    assert multi.packages[-1].groups == ("dev", "test")


def test_noarch_package_has_noarch_subdir_and_its_platform() -> None:
    tzdata = _read(FIXTURES / "md5-only.conda-lock.yml").packages[2]
    assert (tzdata.subdir, tzdata.platform) == ("noarch", "linux-64")


def test_multi_platform_metadata() -> None:
    lock = _read(FIXTURES / "multi-platform.conda-lock.yml")
    assert lock.platforms == ("linux-64", "osx-arm64")
    assert lock.indexes.channels == ("conda-forge", "https://repo.example.org/private")
    # Sorted by platform, whatever order the file uses.
    assert lock.content_hash == f"linux-64:{'a' * 64},osx-arm64:{'b' * 64}"
    assert [p.platform for p in lock.packages if p.name == "python_abi"] == [
        "linux-64",
        "osx-arm64",
    ]
    private = lock.packages[2]
    assert (private.channel, private.subdir) == ("https://repo.example.org/private", "noarch")


def test_md5_and_sha256_mapping() -> None:
    first = _read(FIXTURES / "multi-platform.conda-lock.yml").packages[0]
    assert [h.algorithm for h in first.hashes] == ["md5", "sha256"]
    assert first.artifacts[0].hashes == first.hashes
    assert first.strong_hashes == (first.hashes[1],)


def test_pip_entries() -> None:
    lock = _read(FIXTURES / "multi-platform.conda-lock.yml")
    packages: dict[str, LockedPackage] = {p.name: p for p in lock.packages}
    wheel = packages["typing-extensions"]  # pip names are PEP 503-normalised
    assert wheel.manager == "pip"
    assert wheel.source is SourceKind.URL
    assert wheel.url is not None and wheel.url.endswith("typing_extensions-4.12.2-py3-none-any.whl")
    assert wheel.artifacts[0].kind is ArtifactKind.WHEEL
    assert wheel.channel is None and wheel.build is None
    sdist = packages["numpy"]
    assert sdist.artifacts[0].kind is ArtifactKind.SDIST
    assert sdist.artifacts[0].filename == "numpy-1.22.2.zip"
    assert sdist.platform == "osx-arm64"


def test_pip_vcs_entry() -> None:
    lock = _parse_text(
        _document(
            "  manager: pip\n  url: git+https://github.com/org/tool.git@0123abcd\n  hash: {}\n"
        )
    )
    package = lock.packages[0]
    assert (package.source, package.vcs, package.vcs_ref) == (SourceKind.VCS, "git", "0123abcd")


def _document(package_body: str, *, name: str = "demo", version: str = "'1.0'") -> str:
    return (
        "version: 1\n"
        "metadata:\n"
        "  channels: [conda-forge]\n"
        "  platforms: [linux-64]\n"
        "package:\n"
        f"- name: {name}\n"
        f"  version: {version}\n"
        "  platform: linux-64\n" + package_body
    )


_CONDA_URL = "  url: https://conda.anaconda.org/conda-forge/linux-64/demo-1.0-h1_0.conda\n"


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        (_document("  manager: conda\n" + _CONDA_URL + "  hash: 42\n"), "package[0].hash", 6),
        (
            _document("  manager: conda\n" + _CONDA_URL + "  hash: {md5: xyz}\n"),
            "package[0].hash.md5",
            6,
        ),
        (_document("  manager: npm\n" + _CONDA_URL), "package[0].manager", 6),
        (_document("  manager: conda\n  url: [1]\n"), "package[0].url", 6),
        (_document("  manager: conda\n"), "package[0].url", 6),
        (
            _document("  manager: conda\n  url: https://u:s3cret@[x/linux-64/a-1-0.conda\n"),
            "package[0].url",
            6,
        ),
        (_document("  manager: conda\n" + _CONDA_URL, version="1.10"), "package[0].version", 6),
        (
            _document("  manager: conda\n" + _CONDA_URL + "  categories: [main, 3]\n"),
            "package[0].categories[1]",
            6,
        ),
        (
            _document("  manager: conda\n" + _CONDA_URL).replace(
                "[conda-forge]", "[conda-forge, 3]"
            ),
            "metadata.channels[1]",
            None,
        ),
        (
            _document("  manager: conda\n" + _CONDA_URL).replace("version: 1\n", "version: 3\n"),
            "version",
            None,
        ),
        (
            _document("  manager: conda\n" + _CONDA_URL).replace("version: 1\n", ""),
            "version",
            None,
        ),
        ("version: 1\nmetadata: {}\npackage:\n- 7\n", "package[0]", 4),
        ("version: 1\nmetadata: []\npackage: []\n", "metadata", None),
    ],
    ids=[
        "hash-int",
        "hash-not-hex",
        "manager",
        "url-type",
        "url-missing",
        "url-malformed",
        "version-float",
        "categories-item",
        "channel-item",
        "unknown-version",
        "missing-version",
        "entry-not-mapping",
        "metadata-type",
    ],
)
def test_type_errors_name_the_key_path(text: str, key: str, line: int | None) -> None:
    with pytest.raises(LockParseError) as caught:
        _parse_text(text)
    assert caught.value.key == key
    assert caught.value.line == line
    assert key in str(caught.value)
    assert str(caught.value).startswith("conda-lock.yml")
    assert "s3cret" not in str(caught.value)


def test_yaml_syntax_error_names_the_line() -> None:
    text = "version: 1\nmetadata: {}\npackage:\n- name: x\n  version: [unclosed\n"
    with pytest.raises(LockParseError) as caught:
        _parse_text(text)
    assert caught.value.line is not None and caught.value.line >= 5
    assert "invalid YAML" in str(caught.value)


@pytest.mark.parametrize(
    "text", ["- just\n- a list\n", "plain scalar", "", "a: 2001-13-45\n", "[" * 5000]
)
def test_documents_that_are_not_conda_locks_are_parse_errors(text: str) -> None:
    with pytest.raises(LockParseError):
        _parse_text(text)


def test_not_utf8_is_a_parse_error() -> None:
    with pytest.raises(LockParseError, match="not UTF-8"):
        conda_lock.read(Path("conda-lock.yml"), b"version: 1\n\xff\xfe")


def test_flow_style_package_list_has_no_lines_rather_than_wrong_ones() -> None:
    text = (
        "version: 1\nmetadata: {platforms: [linux-64]}\n"
        "package: [{name: a, version: '1', manager: conda, platform: linux-64,"
        " url: 'https://c.example/ch/linux-64/a-1-0.conda'}]\n"
    )
    package = _parse_text(text).packages[0]
    assert (package.line, package.key, package.build) == (None, "package[0]", "0")


def test_platforms_fall_back_to_the_entries_when_metadata_lists_none() -> None:
    text = _document("  manager: conda\n" + _CONDA_URL).replace("  platforms: [linux-64]\n", "")
    assert _parse_text(text).platforms == ("linux-64",)


def test_module_import_does_not_load_yaml() -> None:
    # `reprobuild lint` must stay light: PyYAML is imported inside read() only.
    code = "import sys, reprobuild.lockfiles.conda_lock; print('yaml' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_crlf_and_bom_keep_lines() -> None:
    text = (FIXTURES / "md5-only.conda-lock.yml").read_text()
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    lock = conda_lock.read(Path("conda-lock.yml"), data)
    assert [p.line for p in lock.packages] == [11, 19, 29]
