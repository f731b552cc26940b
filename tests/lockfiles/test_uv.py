"""uv.lock reader: fixtures locked by the real uv, the corpus, and `uv export` as the oracle."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from reprobuild.errors import LockParseError
from reprobuild.lockfiles import read_lock, uv
from reprobuild.models import (
    Artifact,
    ArtifactKind,
    Hash,
    Lock,
    LockedPackage,
    LockFormat,
    SourceKind,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lockfiles" / "uv"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "lockfiles"
PYPI = "https://pypi.org/simple"
IDNA_SDIST = (
    "https://files.pythonhosted.org/packages/f5/08/8eea9d4b8302028f3abb2c0813953f7aec26d33b7a8960"
    "ed760e65ff29fa/idna-3.20.tar.gz"
)
IDNA_WHEEL = (
    "https://files.pythonhosted.org/packages/58/a2/bb081bab032533a855d44de1d56f8e8426114ff1ba5d1f"
    "07a438a0a654f8/idna-3.20-py3-none-any.whl"
)


def _read(path: Path) -> Lock:
    return uv.read(path, path.read_bytes())


def _read_text(tmp_path: Path, text: str) -> Lock:
    path = tmp_path / "uv.lock"
    path.write_text(text)
    return _read(path)


def _by_key(lock: Lock) -> dict[str, LockedPackage]:
    return {p.key or "": p for p in lock.packages}


# --- whole-lock checks on small fixtures ---------------------------------------------


def test_virtual_workspace_root_whole_lock() -> None:
    path = FIXTURES / "workspace" / "uv.lock"
    idna_sdist = Hash("sha256", "a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44")
    idna_wheel = Hash("sha256", "ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c")
    assert _read(path) == Lock(
        format=LockFormat.UV,
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),  # type: ignore[arg-type]
        packages=(
            LockedPackage(
                name=canonicalize_name("app"),
                version="1.0.0",
                source=SourceKind.EDITABLE,
                url="packages/app",
                line=11,
                key="package[0]",
            ),
            LockedPackage(
                name=canonicalize_name("idna"),
                version="3.20",
                hashes=(idna_sdist, idna_wheel),
                artifacts=(
                    Artifact(
                        ArtifactKind.SDIST,
                        filename="idna-3.20.tar.gz",
                        url=IDNA_SDIST,
                        hashes=(idna_sdist,),
                        size=216463,
                    ),
                    Artifact(
                        ArtifactKind.WHEEL,
                        filename="idna-3.20-py3-none-any.whl",
                        url=IDNA_WHEEL,
                        hashes=(idna_wheel,),
                        size=69583,
                    ),
                ),
                url=PYPI,
                groups=("main",),
                line=26,
                key="package[1]",
            ),
            LockedPackage(
                name=canonicalize_name("lib"),
                version="1.0.0",
                source=SourceKind.EDITABLE,
                url="packages/lib",
                groups=("main",),  # a dependency of the member `app`
                line=35,
                key="package[2]",
            ),
        ),
        python=">=3.11",
        format_version="1.5",
    )


def test_prerelease_distribution_schema_whole_lock() -> None:
    path = _corpus("astral-sh__uv__a_uv.lock")
    assert _read(path) == Lock(
        format=LockFormat.UV,
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),  # type: ignore[arg-type]
        packages=(
            LockedPackage(
                name=canonicalize_name("b"),
                version="0.1.0",
                source=SourceKind.DIRECTORY,
                url="/home/konsti/projects/uv/a",
                groups=("main",),
                line=4,
                key="distribution[0]",
            ),
            LockedPackage(
                name=canonicalize_name("black"),
                version="0.1.0",
                source=SourceKind.EDITABLE,
                url=".",
                line=10,
                key="distribution[1]",
            ),
        ),
        python=">=3.11, <3.13",
        format_version="1",
    )


# --- the forked fixture: forks, markers, extras, groups, local and URL sources --------


@pytest.fixture(scope="module")
def forked() -> Lock:
    return _read(FIXTURES / "forked" / "uv.lock")


def test_forked_resolution_keeps_every_fork(forked: Lock) -> None:
    numpys = [p for p in forked.packages if p.name == "numpy"]
    assert [(p.version, p.marker) for p in numpys] == [
        ("1.26.4", "python_full_version < '3.12'"),
        ("2.5.5", "python_full_version >= '3.12'"),
    ]
    assert all(p.hashes and p.groups == ("main",) for p in numpys)
    assert forked.python == ">=3.10"


def test_forked_markers_extras_and_groups(forked: Lock) -> None:
    by_name = {p.name: p for p in forked.packages if p.name != "numpy"}
    assert by_name[canonicalize_name("colorama")].marker == "sys_platform == 'win32'"
    assert by_name[canonicalize_name("requests")].extras == ("socks",)
    assert by_name[canonicalize_name("pysocks")].groups == ("main",)  # via requests[socks]
    assert by_name[canonicalize_name("pyyaml")].groups == ("yaml",)  # an extra of the root
    assert by_name[canonicalize_name("iniconfig")].groups == ("dev",)  # a dependency group
    assert all(p.extras == () for n, p in by_name.items() if n != "requests")


def test_forked_sources(forked: Lock) -> None:
    sources = {p.name: (p.source, p.url) for p in forked.packages if p.name != "numpy"}
    assert sources[canonicalize_name("forked-demo")] == (SourceKind.DIRECTORY, ".")  # virtual
    assert sources[canonicalize_name("localpkg")] == (SourceKind.EDITABLE, "packages/localpkg")
    assert sources[canonicalize_name("helper")] == (SourceKind.DIRECTORY, "packages/helper")
    assert sources[canonicalize_name("certifi")] == (SourceKind.REGISTRY, PYPI)
    six = next(p for p in forked.packages if p.name == "six")
    assert six.source is SourceKind.URL
    assert six.url is not None and six.url.endswith("/six-1.16.0-py2.py3-none-any.whl")
    assert [(a.kind, a.filename) for a in six.artifacts] == [
        (ArtifactKind.WHEEL, "six-1.16.0-py2.py3-none-any.whl")
    ]
    assert six.hashes == (
        Hash("sha256", "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"),
    )


def test_forked_hashes_match_raw_toml(forked: Lock) -> None:
    raw = tomllib.loads((FIXTURES / "forked" / "uv.lock").read_text())
    for package, entry in zip(forked.packages, raw["package"], strict=True):
        files = ([entry["sdist"]] if "sdist" in entry else []) + entry.get("wheels", [])
        assert [str(h) for h in package.hashes] == [f["hash"] for f in files if "hash" in f]
        assert package.line is not None and package.key is not None


def test_read_lock_detects_uv_and_script_locks(tmp_path: Path) -> None:
    data = (FIXTURES / "workspace" / "uv.lock").read_bytes()
    for name in ("uv.lock", "train.py.lock"):
        (tmp_path / name).write_bytes(data)
        assert read_lock(tmp_path / name).format is LockFormat.UV


# --- git sources ----------------------------------------------------------------------

COMMIT = "326b9431c761e1ef1e00b9f760d1f654c8db48c6"


@pytest.mark.parametrize(
    ("source", "ref"),
    [
        (f'{{ git = "https://github.com/encode/httpx?rev=main#{COMMIT}" }}', COMMIT),
        (f'{{ git = "https://github.com/encode/httpx?tag=0.27.0#{COMMIT}" }}', COMMIT),
        (f'"git+https://github.com/encode/httpx?rev=main#{COMMIT}"', COMMIT),  # pre-release
        ('{ git = "https://github.com/encode/httpx?branch=main" }', "main"),  # no commit: mutable
    ],
)
def test_git_source_commit_is_the_fragment(tmp_path: Path, source: str, ref: str) -> None:
    lock = _read_text(tmp_path, f'version = 1\n[[package]]\nname = "httpx"\nsource = {source}\n')
    (httpx,) = lock.packages
    assert (httpx.source, httpx.vcs, httpx.url, httpx.vcs_ref) == (
        SourceKind.VCS,
        "git",
        "https://github.com/encode/httpx",
        ref,
    )
    assert httpx.version is None  # dynamic versions are omitted by uv


def test_path_source_and_path_artifacts(tmp_path: Path) -> None:
    lock = _read_text(
        tmp_path,
        'version = 1\n[[package]]\nname = "foo"\nversion = "1.0"\n'
        'source = { path = "dist/foo-1.0-py3-none-any.whl" }\n'
        'wheels = [{ path = "dist/foo-1.0-py3-none-any.whl", hash = "sha256:00ff" }]\n',
    )
    (foo,) = lock.packages
    assert (foo.source, foo.url) == (SourceKind.PATH, "dist/foo-1.0-py3-none-any.whl")
    assert foo.artifacts == (
        Artifact(
            ArtifactKind.WHEEL,
            filename="foo-1.0-py3-none-any.whl",
            url="dist/foo-1.0-py3-none-any.whl",
            hashes=(Hash("sha256", "00ff"),),
        ),
    )


# --- malformed input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[[package]]\nversion = "1"\n', "package[0].name", "missing required key"),
        ('[[package]]\nname = ["x"]\n', "package[0].name", "expected a string"),
        ('[[package]]\nname = "x"\nsource = 3\n', "package[0].source", "expected a table"),
        ('[[package]]\nname = "x"\nsource = { cloud = "x" }\n', "package[0].source", "no source"),
        ('[[package]]\nname = "x"\nsource = "svn+x"\n', "package[0].source", "unknown source"),
        ('[[package]]\nname = "x"\nsource = { git = 3 }\n', "package[0].source.git", "string"),
        (
            '[[package]]\nname = "a"\n[[package]]\nname = "x"\n'
            'sdist = { url = "https://h/x-1.tar.gz", hash = "sha256:XYZ" }\n',
            "package[1].sdist.hash",
            "malformed hash",
        ),
        (
            '[[package]]\nname = "x"\nwheels = [{ url = "https://h/x.whl", hash = "nohash" }]\n',
            "package[0].wheels[0].hash",
            "malformed hash",
        ),
        ('[[package]]\nname = "x"\nwheels = 3\n', "package[0].wheels", "expected an array"),
        ('[[package]]\nname = "x"\nwheels = [3]\n', "package[0].wheels[0]", "expected a table"),
        (
            '[[package]]\nname = "x"\nsdist = { url = "u", size = "big" }\n',
            "package[0].sdist.size",
            "expected an integer",
        ),
        ('[[package]]\nname = "x"\ndependencies = ["y"]\n', "package[0].dependencies[0]", "table"),
        (
            '[[package]]\nname = "x"\ndependencies = [{ name = "y", extra = "z" }]\n',
            "package[0].dependencies[0].extra",
            "array",
        ),
        (
            '[[package]]\nname = "x"\n'
            '[package.optional-dependencies]\nfast = [{ version = "1" }]\n',
            "package[0].optional-dependencies.fast[0].name",
            "missing required key",
        ),
        (
            '[[package]]\nname = "x"\nresolution-markers = [1]\n',
            "package[0].resolution-markers[0]",
            "string",
        ),
        ('version = "one"\n', "version", "expected an integer"),
        ("requires-python = 3\n", "requires-python", "expected a string"),
        ("[manifest]\nmembers = [1]\n", "manifest.members[0]", "string"),
    ],
)
def test_malformed_input_names_the_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, text)
    assert info.value.key == key
    assert message in info.value.reason


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, 'version = 1\n\n[[package]]\nname = "x\n')
    assert info.value.line == 4


# --- package counts against the real `uv export` ---------------------------------------


def _uv() -> str:
    found = Path(sys.executable).with_name("uv")
    binary = str(found) if found.is_file() else shutil.which("uv")
    if binary is None:
        pytest.skip("uv is not installed (it is a dev dependency)")
    return binary


def _corpus(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus not available: {CORPUS} is missing (it lives beside the repo)")
    return path


def _export(project: Path, *args: str) -> list[dict[str, Any]]:
    """The packages `uv export --frozen` would install, as pylock.toml tables."""
    env = {**os.environ, "UV_OFFLINE": "1", "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
    result = subprocess.run(
        [_uv(), "export", "--frozen", "--format", "pylock.toml", "--no-header", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    packages: list[dict[str, Any]] = tomllib.loads(result.stdout)["packages"]
    return packages


def _assert_matches_export(lock: Lock, exported: list[dict[str, Any]], raw: dict[str, Any]) -> None:
    # uv exports everything it locked except virtual projects, which install nothing.
    virtual = Counter(
        canonicalize_name(p["name"])
        for p in raw["package"]
        if isinstance(p.get("source"), dict) and "virtual" in p["source"]
    )
    read_names = Counter(p.name for p in lock.packages) - virtual
    assert read_names == Counter(canonicalize_name(p["name"]) for p in exported)
    read_pins = {(p.name, p.version) for p in lock.packages}
    assert {(p["name"], p["version"]) for p in exported if "version" in p} <= read_pins


@pytest.mark.parametrize("fixture", ["forked", "workspace"])
def test_fixture_counts_match_uv_export(tmp_path: Path, fixture: str) -> None:
    project = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, project)
    lock = _read(project / "uv.lock")
    raw = tomllib.loads((project / "uv.lock").read_text())
    exported = _export(project, "--all-packages", "--all-extras", "--all-groups")
    _assert_matches_export(lock, exported, raw)


def test_corpus_project_lock_matches_uv_export(tmp_path: Path) -> None:
    source = _corpus("astral-sh__setup-uv____tests___fixtures_uv-project_uv.lock")
    shutil.copyfile(source, tmp_path / "uv.lock")
    # The lock's root project, as the lock itself records it (name, version, requires-dist).
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "uv-project"\nversion = "0.1.0"\nrequires-python = ">=3.12"\n'
        'dependencies = ["ruff"]\n'
    )
    lock = _read(source)
    _assert_matches_export(
        lock, _export(tmp_path, "--all-groups"), tomllib.loads(source.read_text())
    )
    ruff = lock.packages[0]
    assert (ruff.name, ruff.version, len(ruff.hashes), len(ruff.artifacts)) == (
        "ruff",
        "0.6.2",
        18,
        18,
    )
    assert lock.packages[1].source is SourceKind.EDITABLE
    assert lock.format_version == "1"


def test_corpus_script_lock_matches_uv_export(tmp_path: Path) -> None:
    source = _corpus("astral-sh__uv__agents_scripts_issue-triage-preview.py.lock")
    script = tmp_path / "issue-triage-preview.py"
    shutil.copyfile(source, tmp_path / "issue-triage-preview.py.lock")
    # A script whose inline metadata matches the lock's [manifest] requirements.
    script.write_text(
        '# /// script\n# requires-python = ">=3.12"\n# dependencies = ["httpx"]\n# ///\n'
    )
    lock = _read(source)
    _assert_matches_export(
        lock, _export(tmp_path, "--script", script.name), tomllib.loads(source.read_text())
    )
    assert lock.format_version == "1.3"
    assert all(p.groups == ("main",) for p in lock.packages)  # all reached from the manifest
    typing_extensions = next(p for p in lock.packages if p.name == "typing-extensions")
    assert typing_extensions.marker == "python_full_version < '3.13'"


def test_corpus_prerelease_lock_counts_with_tomllib() -> None:
    # uv itself no longer reads the pre-release [[distribution]] schema, so `uv export`
    # cannot be the oracle here: count the tables instead.
    source = _corpus("astral-sh__uv__a_uv.lock")
    raw = tomllib.loads(source.read_text())
    assert [p.name for p in _read(source).packages] == [d["name"] for d in raw["distribution"]]


# Any scalar value in a real layout, swapped for a value of another type or shape.
_SCALAR = re.compile(r'(?<== )("[^"\n]*"|\d+|true|false)')
_REPLACEMENTS = ["3", '"x"', "[1, 2]", '["x"]', "{ a = 1 }", "true", '"sha256:zz"', "[]", "{}"]
_GIT = (
    '\n[[package]]\nname = "httpx"\nversion = "0.27.0"\n'
    f'source = {{ git = "https://github.com/encode/httpx?rev=main#{COMMIT}" }}\n'
    'dependencies = [{ name = "idna", extra = ["x"], marker = "os_name == \'nt\'" }]\n'
    '[package.optional-dependencies]\nfast = [{ name = "lib" }]\n'
)


@settings(deadline=None, max_examples=300)
@given(data=st.data())
def test_mutated_locks_raise_only_lock_parse_error(data: st.DataObject) -> None:
    text = (FIXTURES / "workspace" / "uv.lock").read_text() + _GIT
    match = data.draw(st.sampled_from(list(_SCALAR.finditer(text))))
    replacement = data.draw(st.sampled_from(_REPLACEMENTS))
    mutated = text[: match.start()] + replacement + text[match.end() :]
    with contextlib.suppress(LockParseError):
        uv.read(Path("uv.lock"), mutated.encode())


def test_errors_inside_a_package_name_its_line(tmp_path: Path) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(
            tmp_path,
            'version = 1\n[[package]]\nname = "a"\n\n[[package]]\nname = "x"\n'
            'wheels = [{ url = "https://h/x-1-py3-none-any.whl", hash = "sha256:XYZ" }]\n',
        )
    assert (info.value.line, info.value.key) == (5, "package[1].wheels[0].hash")
