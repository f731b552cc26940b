"""poetry.lock reader: hand-written lock-version 1.1/2.0/2.1 fixtures and the real corpus."""

from __future__ import annotations

import contextlib
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from reprobuild.errors import LockParseError
from reprobuild.lockfiles import poetry, read_lock
from reprobuild.models import (
    Artifact,
    ArtifactKind,
    Hash,
    IndexConfig,
    Lock,
    LockedPackage,
    LockFormat,
    SourceKind,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lockfiles" / "poetry"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "lockfiles"
CORPUS_FILES = [
    "python-poetry__poetry__tests_fixtures_old_lock_poetry.lock",
    "python-poetry__poetry__tests_fixtures_up_to_date_lock_poetry.lock",
    "python-poetry__poetry__tests_fixtures_old_lock_path_dependency_poetry.lock",
    "nix-community__poetry2nix__tests_filelock_poetry.lock",
]
BROKEN = "python-poetry__poetry__tests_fixtures_invalid_lock_poetry.lock"


def _read(path: Path) -> Lock:
    return poetry.read(path, path.read_bytes())


def _read_text(tmp_path: Path, text: str) -> Lock:
    path = tmp_path / "poetry.lock"
    path.write_text(text)
    return _read(path)


def _files(*names_and_hashes: tuple[str, str]) -> tuple[Artifact, ...]:
    return tuple(
        Artifact(
            ArtifactKind.WHEEL if name.endswith(".whl") else ArtifactKind.SDIST,
            filename=name,
            hashes=(Hash("sha256", digest),),
        )
        for name, digest in names_and_hashes
    )


def _hashes(artifacts: tuple[Artifact, ...]) -> tuple[Hash, ...]:
    return tuple(h for a in artifacts for h in a.hashes)


COLORAMA = _files(
    (
        "colorama-0.4.6-py2.py3-none-any.whl",
        "4f1d9991f5acc0ca119f9d443620b77f9d6b33703e51011c16baf57afb285fc6",
    ),
    ("colorama-0.4.6.tar.gz", "08695f5cb7ed6e0531a20572697297273c47b8cae5a63ffc6d6ed5c201be6e44"),
)
IDNA = _files(
    (
        "idna-3.20-py3-none-any.whl",
        "ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c",
    ),
    ("idna-3.20.tar.gz", "a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44"),
)
INICONFIG_WHEEL = _files(
    (
        "iniconfig-2.3.1-py3-none-any.whl",
        "9121e2c1fdb355232495be3194c8dfe87ccc2d5dee45947b78e68f499790d7a7",
    ),
)
INICONFIG = INICONFIG_WHEEL + _files(
    ("iniconfig-2.3.1.tar.gz", "67f4b9c50da0dedf52af349e7749a80a9057a5031199791b906c3bb3ae878960"),
)
SIX = _files(
    (
        "six-1.16.0-py2.py3-none-any.whl",
        "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254",
    ),
)
SIX_URL = (
    "https://files.pythonhosted.org/packages/d9/5a/e7c31adbe875f2abbb91bd84cf2dc52d792b5a01506781"
    "dbcf25c91daf11/six-1.16.0-py2.py3-none-any.whl"
)


def _pkg(name: str, version: str, artifacts: tuple[Artifact, ...] = (), **kw: Any) -> LockedPackage:
    return LockedPackage(
        name=canonicalize_name(name),
        version=version,
        artifacts=artifacts,
        hashes=_hashes(artifacts),
        **kw,
    )


def _expected(path: Path, packages: list[LockedPackage], **kw: Any) -> Lock:
    return Lock(
        format=LockFormat.POETRY,
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),  # type: ignore[arg-type]
        packages=tuple(packages),
        **kw,
    )


def test_lock_version_2_0_whole_lock() -> None:
    path = FIXTURES / "v2_0" / "poetry.lock"
    assert _read(path) == _expected(
        path,
        [
            _pkg("colorama", "0.4.6", COLORAMA, line=4, key="package[0]"),
            _pkg(
                "localpkg",
                "0.2.0",
                source=SourceKind.EDITABLE,
                url="packages/localpkg",
                line=15,
                key="package[1]",
            ),
            _pkg(
                "helper",
                "0.2.0",
                source=SourceKind.DIRECTORY,
                url="packages/helper",
                line=28,
                key="package[2]",
            ),
            _pkg(
                "iniconfig",
                "2.3.1",
                INICONFIG_WHEEL,
                source=SourceKind.PATH,
                url="dist/iniconfig-2.3.1-py3-none-any.whl",
                line=41,
                key="package[3]",
            ),
            _pkg(
                "six", "1.16.0", SIX, source=SourceKind.URL, url=SIX_URL, line=55, key="package[4]"
            ),
        ],
        python="^3.10",
        content_hash="c1a0e8f4d2b6a9c3e7f1b5d9a3c7e1f5b9d3a7c1e5f9b3d7a1c5e9f3b7d1a5c9",
        format_version="2.0",
    )


def test_lock_version_2_1_whole_lock() -> None:
    path = FIXTURES / "v2_1" / "poetry.lock"
    torch = _files(
        (
            "torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl",
            "7f91a2c615b0b5b1d6b9ee0d4d5e9fe1f2dc2a6ef1e4d0b0a3d1fd0a0f86a8c1",
        ),
    )
    assert _read(path) == _expected(
        path,
        [
            _pkg(
                "colorama",
                "0.4.6",
                COLORAMA,
                # Per-group markers: installed when any of its groups' markers holds.
                marker='(platform_system == "Windows") or (sys_platform == "win32")',
                groups=("main", "dev"),
                line=5,
                key="package[0]",
            ),
            _pkg(
                "idna",
                "3.20",
                IDNA,
                marker='python_version >= "3.10"',
                groups=("main",),
                line=18,
                key="package[1]",
            ),
            _pkg("iniconfig", "2.3.1", INICONFIG, groups=("dev",), line=31, key="package[2]"),
            _pkg(
                "mylib",
                "1.2.3",
                source=SourceKind.VCS,
                url="https://github.com/example/mylib.git",
                vcs="git",
                vcs_ref="89abcdef0123456789abcdef0123456789abcdef",  # resolved, not "v1.2.3"
                groups=("main",),
                line=43,
                key="package[3]",
            ),
            _pkg(
                "torch",
                "2.5.1+cpu",
                torch,
                url="https://download.pytorch.org/whl/cpu",
                marker='sys_platform == "linux"',
                groups=("main",),
                line=60,
                key="package[4]",
            ),
        ],
        python=">=3.10,<3.13",
        indexes=IndexConfig(sources=(("pytorch-cpu", "https://download.pytorch.org/whl/cpu"),)),
        content_hash="f3b7d1a5c9e3b7d1a5c9e3b7d1a5c9e3b7d1a5c9e3b7d1a5c9e3b7d1a5c9e3b7",
        format_version="2.1",
    )


def test_lock_version_1_1_whole_lock() -> None:
    path = FIXTURES / "v1_1" / "poetry.lock"
    urllib3_1 = _files(
        (
            "urllib3-1.26.20-py2.py3-none-any.whl",
            "0ed14ccfbf1c30a9072c7ca157e4319b70d65f623e91e7b32fadb2853431016e",
        ),
        (
            "urllib3-1.26.20.tar.gz",
            "40c2dc0c681e47eb8f90e7e27bf6ff7df2e677421fd46756da1161c39ca70d32",
        ),
    )
    urllib3_2 = _files(
        (
            "urllib3-2.8.0-py3-none-any.whl",
            "0cf3cae568d36aa9576b28dfb35f11328f1cb974ca7647d9475ebb86c75ac6e3",
        ),
        (
            "urllib3-2.8.0.tar.gz",
            "63bf2ead4c879426ebf22ef2a781eeb4aa3b4ae798a0435506f8687fd5bb9b63",
        ),
    )
    assert _read(path) == _expected(
        path,
        [
            _pkg("idna", "3.20", IDNA, groups=("main",), line=4, key="package[0]"),
            _pkg("iniconfig", "2.3.1", INICONFIG, groups=("dev",), line=12, key="package[1]"),
            _pkg(
                "internal-tools",
                "0.4.0",
                url="https://pypi.internal.example/simple",
                groups=("main",),
                line=20,
                key="package[2]",
            ),
            _pkg(
                "mylib",
                "1.2.3",
                source=SourceKind.VCS,
                url="https://github.com/example/mylib.git",
                vcs="git",
                vcs_ref="0123456789abcdef0123456789abcdef01234567",
                groups=("main",),
                line=33,
                key="package[3]",
            ),
            # [metadata.files] pools both versions' files under one name: each gets its own.
            _pkg("urllib3", "1.26.20", urllib3_1, groups=("main",), line=48, key="package[4]"),
            _pkg("urllib3", "2.8.0", urllib3_2, groups=("main",), line=56, key="package[5]"),
        ],
        python="^3.9",
        indexes=IndexConfig(sources=(("internal", "https://pypi.internal.example/simple"),)),
        content_hash="5d4e0fb2c3a8b1d7e9f6a0c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1",
        format_version="1.1",
    )


def test_read_lock_detects_poetry_by_name(tmp_path: Path) -> None:
    path = tmp_path / "poetry.lock"
    path.write_bytes((FIXTURES / "v2_0" / "poetry.lock").read_bytes())
    lock = read_lock(path)
    assert lock.format is LockFormat.POETRY
    assert [p.name for p in lock.packages] == ["colorama", "localpkg", "helper", "iniconfig", "six"]


def test_git_source_without_resolved_reference_keeps_the_reference(tmp_path: Path) -> None:
    lock = _read_text(
        tmp_path,
        '[[package]]\nname = "x"\nversion = "1"\nfiles = []\n\n[package.source]\n'
        'type = "git"\nurl = "https://github.com/o/x.git"\nreference = "main"\n',
    )
    assert lock.packages[0].vcs_ref == "main"


def test_extras_offered_are_not_extras_requested(tmp_path: Path) -> None:
    lock = _read_text(
        tmp_path,
        '[[package]]\nname = "x"\nversion = "1"\nfiles = []\n\n'
        '[package.extras]\nssh = ["paramiko (>=2.4.2)"]\n',
    )
    assert lock.packages[0].extras == ()


def test_marker_table_with_an_unconditional_group_means_no_marker(tmp_path: Path) -> None:
    lock = _read_text(
        tmp_path,
        '[[package]]\nname = "x"\nversion = "1"\nfiles = []\ngroups = ["main", "dev"]\n'
        "markers = {dev = 'sys_platform == \"win32\"'}\n",
    )
    assert lock.packages[0].marker is None


def test_lock_version_1_0_singular_marker(tmp_path: Path) -> None:
    lock = _read_text(
        tmp_path,
        '[[package]]\nname = "pywin32"\nversion = "227"\ncategory = "main"\n'
        'marker = \'sys_platform == "win32"\'\n\n[metadata]\nlock-version = "1.0"\n'
        "[metadata.files]\npywin32 = []\n",
    )
    assert lock.packages[0].marker == 'sys_platform == "win32"'
    assert lock.packages[0].groups == ("main",)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[[package]]\nversion = "1"\n', "package[0].name", "missing required key"),
        ('[[package]]\nname = 3\nversion = "1"\n', "package[0].name", "expected a string"),
        ('[[package]]\nname = "x"\n', "package[0].version", "missing required key"),
        (
            '[[package]]\nname = "x"\nversion = "1"\nfiles = "x.whl"\n',
            "package[0].files",
            "expected an array",
        ),
        (
            '[[package]]\nname = "x"\nversion = "1"\nfiles = ["x.whl"]\n',
            "package[0].files[0]",
            "expected a table",
        ),
        (
            '[[package]]\nname = "a"\nversion = "1"\nfiles = []\n\n'
            '[[package]]\nname = "x"\nversion = "1"\n'
            'files = [{file = "x-1.tar.gz", hash = "sha256:not-hex"}]\n',
            "package[1].files[0].hash",
            "malformed hash",
        ),
        (
            '[[package]]\nname = "x"\nversion = "1"\nfiles = [{hash = "sha256:ab"}]\n',
            "package[0].files[0].file",
            "missing required key",
        ),
        (
            '[[package]]\nname = "x"\nversion = "1"\n\n[package.source]\ntype = "svn"\nurl = "u"\n',
            "package[0].source.type",
            "unknown source type 'svn'",
        ),
        (
            '[[package]]\nname = "x"\nversion = "1"\n\n[package.source]\ntype = "git"\n',
            "package[0].source.url",
            "missing required key",
        ),
        ('[[package]]\nname = "x"\nversion = "1"\nmarkers = 3\n', "package[0].markers", "expected"),
        (
            '[[package]]\nname = "x"\nversion = "1"\nmarkers = {main = 3}\n',
            "package[0].markers.main",
            "expected a string",
        ),
        (
            '[[package]]\nname = "x"\nversion = "1"\ngroups = [1]\n',
            "package[0].groups[0]",
            "string",
        ),
        (
            '[[package]]\nname = "x"\nversion = "1"\ndevelop = "yes"\n\n'
            '[package.source]\ntype = "directory"\nurl = "x"\n',
            "package[0].develop",
            "expected true or false",
        ),
        ("package = 3\n", "package", "expected an array"),
        ("package = [3]\n", "package[0]", "expected a table"),
        ('metadata = "x"\n', "metadata", "expected a table"),
        (
            '[[package]]\nname = "x"\nversion = "1"\n\n[metadata]\n[metadata.files]\nx = "x.whl"\n',
            "metadata.files.x",
            "expected an array",
        ),
        (
            '[[package]]\nname = "Zope.Interface"\nversion = "1"\n\n[metadata]\n[metadata.files]\n'
            '"zope.interface" = [{file = "z-1.tar.gz", hash = "md5"}]\n',
            'metadata.files."zope.interface"[0].hash',
            "malformed hash",
        ),
    ],
)
def test_malformed_input_names_the_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, text)
    assert info.value.key == key
    assert message in info.value.reason


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, '[[package]]\nname = "x"\nversion = \n')
    assert info.value.line == 3


def _corpus(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus not available: {CORPUS} is missing (it lives beside the repo)")
    return path


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_matches_raw_toml(name: str) -> None:
    path = _corpus(name)
    lock = _read(path)
    raw = tomllib.loads(path.read_text())
    raw_packages: list[dict[str, Any]] = raw["package"]
    legacy_files: dict[str, list[dict[str, str]]] = raw["metadata"].get("files", {})
    assert len(lock.packages) == len(raw_packages)
    for package, entry in zip(lock.packages, raw_packages, strict=True):
        assert (package.name, package.version) == (
            canonicalize_name(entry["name"]),
            entry["version"],
        )
        files = entry["files"] if "files" in entry else legacy_files[entry["name"]]
        assert [str(h) for h in package.hashes] == [f["hash"] for f in files]
    assert lock.format_version == raw["metadata"]["lock-version"]
    assert lock.content_hash == raw["metadata"]["content-hash"]
    assert lock.python == raw["metadata"]["python-versions"]


def test_corpus_path_dependency_is_editable() -> None:
    lock = _read(
        _corpus("python-poetry__poetry__tests_fixtures_old_lock_path_dependency_poetry.lock")
    )
    (quix,) = lock.packages
    assert (quix.source, quix.url, quix.hashes) == (SourceKind.EDITABLE, "quix", ())


def test_corpus_old_lock_keeps_category_and_marker() -> None:
    lock = _read(_corpus("python-poetry__poetry__tests_fixtures_old_lock_poetry.lock"))
    pywin32 = next(p for p in lock.packages if p.name == "pywin32")
    assert pywin32.marker == 'sys_platform == "win32"'
    assert pywin32.groups == ("main",)
    assert len(pywin32.artifacts) == 12
    assert all(p.extras == () for p in lock.packages)  # [package.extras] is what it offers


def test_corpus_broken_lock_is_a_parse_error() -> None:
    path = _corpus(BROKEN)
    with pytest.raises(LockParseError) as info:
        _read(path)
    assert info.value.line == 1
    assert "invalid TOML" in str(info.value)


# Any scalar value in a real layout, swapped for a value of another type or shape.
_SCALAR = re.compile(r'(?<== )("[^"\n]*"|\d+|true|false)')
_REPLACEMENTS = ["3", '"x"', "[1, 2]", '["x"]', "{ a = 1 }", "true", '"sha256:zz"', "[]", "{}"]


@settings(deadline=None, max_examples=300)
@given(data=st.data())
def test_mutated_locks_raise_only_lock_parse_error(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["v1_1", "v2_0", "v2_1"]))
    text = (FIXTURES / name / "poetry.lock").read_text()
    match = data.draw(st.sampled_from(list(_SCALAR.finditer(text))))
    replacement = data.draw(st.sampled_from(_REPLACEMENTS))
    mutated = text[: match.start()] + replacement + text[match.end() :]
    with contextlib.suppress(LockParseError):
        poetry.read(Path("poetry.lock"), mutated.encode())


def test_errors_inside_a_package_name_its_line(tmp_path: Path) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(
            tmp_path,
            '[[package]]\nname = "a"\nversion = "1"\nfiles = []\n\n'
            '[[package]]\nname = "x"\nversion = "1"\n'
            'files = [{file = "x-1.tar.gz", hash = "md5"}]\n',
        )
    assert (info.value.line, info.value.key) == (6, "package[1].files[0].hash")
    assert str(info.value).startswith(f"{tmp_path / 'poetry.lock'}:6: package[1].files[0].hash: ")
