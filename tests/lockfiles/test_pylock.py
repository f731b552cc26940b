"""pylock.toml reader: fixtures exported by the real uv, the corpus, packaging.pylock as oracle."""

from __future__ import annotations

import contextlib
import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.pylock import PackageArchive, PackageSdist, PackageWheel, Pylock
from packaging.utils import canonicalize_name

from reprobuild.errors import LockParseError
from reprobuild.lockfiles import pylock, read_lock
from reprobuild.models import (
    Artifact,
    ArtifactKind,
    Hash,
    Lock,
    LockedPackage,
    LockFormat,
    SourceKind,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lockfiles" / "pylock"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "lockfiles"
PYPI = "https://pypi.org/simple"
HEADER = 'lock-version = "1.0"\ncreated-by = "test"\n'
WHEEL_HASH = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"


def _read(path: Path) -> Lock:
    return pylock.read(path, path.read_bytes())


def _read_text(tmp_path: Path, text: str) -> Lock:
    path = tmp_path / "pylock.toml"
    path.write_text(text)
    return _read(path)


def test_workspace_export_whole_lock() -> None:
    path = FIXTURES / "pylock.workspace.toml"
    sdist = Hash("sha256", "a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44")
    wheel = Hash("sha256", "ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c")
    files = "https://files.pythonhosted.org/packages"
    assert _read(path) == Lock(
        format=LockFormat.PYLOCK,
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),  # type: ignore[arg-type]
        packages=(
            LockedPackage(
                name=canonicalize_name("app"),
                version=None,
                source=SourceKind.EDITABLE,
                url="../uv/workspace/packages/app",
                line=7,
                key="packages[0]",
            ),
            LockedPackage(
                name=canonicalize_name("idna"),
                version="3.20",
                hashes=(sdist, wheel),
                artifacts=(
                    Artifact(
                        ArtifactKind.SDIST,
                        filename="idna-3.20.tar.gz",
                        url=f"{files}/f5/08/8eea9d4b8302028f3abb2c0813953f7aec26d33b7a8960ed760e65ff29fa/idna-3.20.tar.gz",
                        hashes=(sdist,),
                        size=216463,
                    ),
                    Artifact(
                        ArtifactKind.WHEEL,
                        filename="idna-3.20-py3-none-any.whl",
                        url=f"{files}/58/a2/bb081bab032533a855d44de1d56f8e8426114ff1ba5d1f07a438a0a654f8/idna-3.20-py3-none-any.whl",
                        hashes=(wheel,),
                        size=69583,
                    ),
                ),
                url=PYPI,
                line=11,
                key="packages[1]",
            ),
            LockedPackage(
                name=canonicalize_name("lib"),
                version=None,
                source=SourceKind.EDITABLE,
                url="../uv/workspace/packages/lib",
                line=18,
                key="packages[2]",
            ),
        ),
        python=">=3.11",
        format_version="1.0",
    )


def _assert_matches_packaging(path: Path) -> Lock:
    """Compare the reader with packaging.pylock reading the same file on its own."""
    lock = _read(path)
    raw = tomllib.loads(path.read_text())
    oracle = Pylock.from_dict(raw)
    assert len(lock.packages) == len(oracle.packages)
    for package, expected, table in zip(
        lock.packages, oracle.packages, raw["packages"], strict=True
    ):
        assert package.name == expected.name
        assert package.version == (str(expected.version) if expected.version else None)
        assert package.marker == table.get("marker")  # as written, not re-quoted
        archives: list[PackageArchive] = [expected.archive] if expected.archive else []
        distributions: list[PackageSdist | PackageWheel] = [
            *([expected.sdist] if expected.sdist else []),
            *(expected.wheels or []),
        ]
        hashes = [*(a.hashes for a in archives), *(d.hashes for d in distributions)]
        assert [str(h) for h in package.hashes] == [
            f"{alg}:{value}" for mapping in hashes for alg, value in mapping.items()
        ]
        assert [a.filename for a in package.artifacts[1 if expected.archive else 0 :]] == [
            d.filename for d in distributions
        ]
        if expected.index:
            assert (package.source, package.url) == (SourceKind.REGISTRY, expected.index)
    assert lock.python == raw.get("requires-python")
    assert lock.format_version == str(oracle.lock_version)
    return lock


def test_forked_export_matches_packaging() -> None:
    lock = _assert_matches_packaging(FIXTURES / "pylock.toml")
    numpys = [p for p in lock.packages if p.name == "numpy"]
    assert [(p.version, p.marker) for p in numpys] == [
        ("1.26.4", "python_full_version < '3.12'"),
        ("2.5.5", "python_full_version >= '3.12'"),
    ]
    by_name = {p.name: p for p in lock.packages if p.name != "numpy"}
    six = by_name[canonicalize_name("six")]
    assert (six.source, six.hashes) == (SourceKind.URL, (Hash("sha256", WHEEL_HASH),))
    assert six.artifacts[0].kind is ArtifactKind.WHEEL
    helper = by_name[canonicalize_name("helper")]
    assert (helper.source, helper.url) == (SourceKind.DIRECTORY, "../uv/forked/packages/helper")
    assert by_name[canonicalize_name("localpkg")].source is SourceKind.EDITABLE


def test_corpus_pylock_matches_packaging() -> None:
    path = CORPUS / "EmDash00__ArduinoSliderMouse__pylock.toml"
    if not path.is_file():
        pytest.skip(f"corpus not available: {CORPUS} is missing (it lives beside the repo)")
    lock = _assert_matches_packaging(path)
    evdev = lock.packages[0]
    assert (evdev.name, evdev.marker, evdev.line) == ("evdev", "'linux' in sys_platform", 7)
    assert [a.kind for a in evdev.artifacts] == [ArtifactKind.SDIST]


def test_read_lock_detects_named_pylock(tmp_path: Path) -> None:
    path = tmp_path / "pylock.gpu.toml"
    path.write_bytes((FIXTURES / "pylock.workspace.toml").read_bytes())
    assert read_lock(path).format is LockFormat.PYLOCK


def test_vcs_archive_path_and_lock_level_keys(tmp_path: Path) -> None:
    commit = "326b9431c761e1ef1e00b9f760d1f654c8db48c6"
    lock = _read_text(
        tmp_path,
        HEADER + 'requires-python = ">=3.11"\n'
        "environments = [\"sys_platform == 'linux'\"]\n"
        'extras = ["gpu"]\ndependency-groups = ["dev"]\ndefault-groups = ["dev"]\n'
        '[[packages]]\nname = "httpx"\n'
        'vcs = { type = "git", url = "https://github.com/encode/httpx", '
        f'requested-revision = "main", commit-id = "{commit}" }}\n'
        '[[packages]]\nname = "six"\nversion = "1.16.0"\n'
        'archive = { path = "dist/six-1.16.0-py2.py3-none-any.whl", '
        f'hashes = {{ sha256 = "{WHEEL_HASH}" }} }}\n',
    )
    httpx, six = lock.packages
    assert (httpx.source, httpx.vcs, httpx.url, httpx.vcs_ref) == (
        SourceKind.VCS,
        "git",
        "https://github.com/encode/httpx",
        commit,
    )
    assert (six.source, six.url) == (SourceKind.PATH, "dist/six-1.16.0-py2.py3-none-any.whl")
    assert six.artifacts == (
        Artifact(
            ArtifactKind.WHEEL,
            filename="six-1.16.0-py2.py3-none-any.whl",
            url="dist/six-1.16.0-py2.py3-none-any.whl",
            hashes=(Hash("sha256", WHEEL_HASH),),
        ),
    )
    assert lock.python == ">=3.11"
    assert lock.platforms == ("sys_platform == 'linux'",)


def test_upper_case_hex_is_normalized(tmp_path: Path) -> None:
    lock = _read_text(
        tmp_path,
        HEADER + '[[packages]]\nname = "six"\n'
        'archive = { url = "https://h/six-1.16.0.tar.gz", '
        f'hashes = {{ sha256 = "{WHEEL_HASH.upper()}" }} }}\n',
    )
    assert lock.packages[0].hashes == (Hash("sha256", WHEEL_HASH),)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('created-by = "x"\npackages = []\n', "lock-version", "Missing required value"),
        ('lock-version = "2.0"\ncreated-by = "x"\npackages = []\n', None, "not supported"),
        (HEADER, "packages", "Missing required value"),
        (HEADER + '[[packages]]\nname = "Six"\n', "packages[0].name", "not normalized"),
        (HEADER + '[[packages]]\nname = "six"\nversion = 1\n', "packages[0].version", "Unexpected"),
        (
            HEADER + '[[packages]]\nname = "six"\n',
            "packages[0]",
            "Exactly one of vcs, directory, archive",
        ),
        (
            HEADER + '[[packages]]\nname = "a"\ndirectory = { path = "." }\n'
            '[[packages]]\nname = "six"\nwheels = [{ url = "https://h/other-1.0-py3-none-any.whl", '
            'hashes = { sha256 = "00" } }]\n',
            "packages[1].wheels[0]",
            "not consistent with package name",
        ),
        (
            HEADER + '[[packages]]\nname = "six"\n'
            'wheels = [{ url = "https://h/six-1.0-py3-none-any.whl", hashes = {} }]\n',
            "packages[0].wheels[0].hashes",
            "At least one hash",
        ),
        (
            HEADER + '[[packages]]\nname = "six"\n'
            'wheels = [{ url = "https://h/six-1.0-py3-none-any.whl", '
            'hashes = { sha256 = "xyz" } }]\n',
            "packages[0].wheels[0].hashes.sha256",
            "malformed sha256 hash",
        ),
        (
            HEADER + '[[packages]]\nname = "six"\n'
            'sdist = { url = "https://h/six-1.0.tar.gz", hashes = { sha256 = "zz" } }\n',
            "packages[0].sdist.hashes.sha256",
            "malformed sha256 hash",
        ),
        (
            HEADER + '[[packages]]\nname = "six"\nvcs = { type = "git", url = "u" }\n',
            "packages[0].vcs.commit-id",
            "Missing required value",
        ),
    ],
)
def test_malformed_input_names_the_key(
    tmp_path: Path, text: str, key: str | None, message: str
) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, text)
    assert info.value.key == key
    assert message in info.value.reason


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, HEADER + "[[packages]\n")
    assert info.value.line == 3


# Any scalar value in a real layout, swapped for a value of another type or shape.
_SCALAR = re.compile(r'(?<== )("[^"\n]*"|\d+|true|false)')
_REPLACEMENTS = ["3", '"x"', "[1, 2]", '["x"]', "{ a = 1 }", "true", '"zz"', "[]", "{}"]
_MORE = (
    "environments = [\"sys_platform == 'linux'\"]\n"
    '[[packages]]\nname = "httpx"\n'
    'vcs = { type = "git", url = "https://github.com/encode/httpx", commit-id = "abc" }\n'
    '[[packages]]\nname = "six"\nversion = "1.16.0"\n'
    'archive = { path = "six-1.16.0.tar.gz", size = 3, hashes = { sha256 = "00ff" } }\n'
)


@settings(deadline=None, max_examples=300)
@given(data=st.data())
def test_mutated_locks_raise_only_lock_parse_error(data: st.DataObject) -> None:
    text = (FIXTURES / "pylock.workspace.toml").read_text()
    text = text.replace("\n[[packages]]", _MORE + "\n[[packages]]", 1)
    match = data.draw(st.sampled_from(list(_SCALAR.finditer(text))))
    replacement = data.draw(st.sampled_from(_REPLACEMENTS))
    mutated = text[: match.start()] + replacement + text[match.end() :]
    with contextlib.suppress(LockParseError):
        pylock.read(Path("pylock.toml"), mutated.encode())


def test_errors_inside_a_package_name_its_line(tmp_path: Path) -> None:
    two_packages = HEADER + '[[packages]]\nname = "a"\ndirectory = { path = "." }\n[[packages]]\n'
    with pytest.raises(LockParseError) as info:  # found by packaging.pylock
        _read_text(tmp_path, two_packages + 'name = "Six"\n')
    assert (info.value.line, info.value.key) == (6, "packages[1].name")
    with pytest.raises(LockParseError) as info:  # found by the reader
        _read_text(
            tmp_path,
            two_packages + 'name = "six"\n'
            'sdist = { url = "https://h/six-1.0.tar.gz", hashes = { sha256 = "zz" } }\n',
        )
    assert (info.value.line, info.value.key) == (6, "packages[1].sdist.hashes.sha256")
