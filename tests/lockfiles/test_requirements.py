"""Requirements-file reader: real pip-compile/uv output, hand-written files, pip as the oracle."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from reprobuild.errors import LockParseError
from reprobuild.lockfiles import detect_format, requirements
from reprobuild.lockfiles._common import file_sha256
from reprobuild.models import Hash, Lock, LockedPackage, LockFormat, SourceKind

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lockfiles" / "requirements"
HANDWRITTEN = FIXTURES / "handwritten"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "lockfiles"
SHA_A = "a" * 64
SHA_B = "b" * 64


def _read(path: Path) -> Lock:
    return requirements.read(path, path.read_bytes())


def _read_text(tmp_path: Path, text: str, name: str = "requirements.txt") -> Lock:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return _read(path)


def _by_name(lock: Lock) -> dict[str, LockedPackage]:
    return {p.name: p for p in lock.packages if p.path is None}


def _fixture_files() -> list[Path]:
    return sorted(FIXTURES.rglob("*.txt"))


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        p
        for p in CORPUS.glob("*.txt")
        if detect_format(p, p.read_bytes()) is LockFormat.REQUIREMENTS
    )


# ---------------------------------------------------------------------------------------
# pip's own parser as the oracle


@dataclass(frozen=True, order=True)
class Entry:
    """What both parsers must agree on for one requirement."""

    file: str
    line: int
    name: str
    version: str | None
    hashes: frozenset[str]
    constraint: bool
    editable: bool


def _exact(specifiers: object) -> str | None:
    specs = list(specifiers)  # type: ignore[call-overload]
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return str(specs[0].version)
    return None


def _pip_entries(path: Path) -> list[tuple[Entry, bool]]:
    """(entry, pip knows the name) for each requirement pip's parser yields."""
    from pip._internal.network.session import PipSession
    from pip._internal.req.constructors import install_req_from_parsed_requirement
    from pip._internal.req.req_file import parse_requirements

    out = []
    for parsed in parse_requirements(str(path), session=PipSession()):
        ireq = install_req_from_parsed_requirement(parsed)
        assert parsed.line_source is not None
        _, number, _, filename = parsed.line_source.split(" ", 3)
        hashes = {
            f"{algorithm}:{digest.lower()}"
            for algorithm, digests in ((parsed.options or {}).get("hashes") or {}).items()
            for digest in digests
        }
        if ireq.link is not None and ireq.link.hash and ireq.link.hash_name:
            hashes.add(f"{ireq.link.hash_name}:{ireq.link.hash.lower()}")
        req = ireq.req
        entry = Entry(
            file=os.path.normpath(Path(filename).absolute()),
            line=int(number),
            name=canonicalize_name(req.name) if req else "",
            version=_exact(req.specifier) if req else None,
            hashes=frozenset(hashes),
            constraint=parsed.constraint,
            editable=parsed.is_editable,
        )
        out.append((entry, req is not None))
    return out


def _our_entries(lock: Lock) -> list[Entry]:
    return [
        Entry(
            file=os.path.normpath((p.path or lock.path).absolute()),
            line=p.line or 0,
            name=p.name,
            version=p.version,
            hashes=frozenset(str(h) for h in p.hashes),
            constraint=p.constraint_only,
            editable=p.source is SourceKind.EDITABLE,
        )
        for p in lock.packages
    ]


def _assert_agrees_with_pip(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pip resolves bare local paths against the working directory.
    monkeypatch.chdir(path.parent)
    local = Path(path.name)
    ours = _our_entries(_read(local))
    theirs = _pip_entries(local)
    assert len(ours) == len(theirs)
    for mine, (pip_entry, pip_named) in zip(ours, theirs, strict=True):
        if not pip_named:  # pip leaves a bare path/URL unnamed until it builds it
            pip_entry = Entry(**{**pip_entry.__dict__, "name": mine.name})
        assert mine == pip_entry


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_agrees_with_pip(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_agrees_with_pip(path, monkeypatch)


def test_handwritten_agrees_with_pip_with_env_vars_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPROBUILD_TEST_HOST", "files.example.com")
    monkeypatch.setenv("REPROBUILD_TEST_EXTRA_INDEX", "https://extra.example.com/simple")
    _assert_agrees_with_pip(HANDWRITTEN / "requirements.txt", monkeypatch)


@pytest.mark.parametrize(
    "path", _corpus_files() or [None], ids=lambda p: p.name if p else "no-corpus"
)
def test_corpus_agrees_with_pip(path: Path | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if path is None:
        pytest.skip(f"corpus not found at {CORPUS} (../shared is absent outside the workspace)")
    _assert_agrees_with_pip(path, monkeypatch)


def test_corpus_has_the_requirements_files_and_not_the_explicit_lock() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (../shared is absent outside the workspace)")
    names = {p.name for p in _corpus_files()}
    assert "pyca__cryptography__.github_requirements_build-requirements.txt" in names
    assert not any("conda" in name for name in names)
    assert len(names) >= 9


# ---------------------------------------------------------------------------------------
# Real tool output


def test_pip_compile_output() -> None:
    lock = _read(FIXTURES / "pip-compile-hashes.txt")
    assert lock.format is LockFormat.REQUIREMENTS
    assert lock.python == "==3.11.*"
    assert all(p.is_pinned and p.hashes and p.specifier == f"=={p.version}" for p in lock.packages)
    packages = _by_name(lock)
    assert packages["requests"].extras == ("socks",)
    assert len(packages["numpy"].hashes) > 10
    assert "colorama" not in packages  # its marker was false where pip-compile ran
    assert lock.indexes.extra_index_urls == (
        "file:///opt/pypi/simple",
        "file:///opt/pypi-more/simple",
    )
    assert lock.indexes.find_links == ("/opt/wheels",)
    assert ("--find-links /opt/wheels", 9) in lock.indexes.line_of
    first = lock.packages[0]
    assert (first.name, first.line) == ("attrs", 11)


def test_uv_output() -> None:
    lock = _read(FIXTURES / "uv-hashes.txt")
    assert all(p.is_pinned and p.hashes for p in lock.packages)
    assert {"attrs", "numpy", "requests", "pysocks", "urllib3"} <= set(_by_name(lock))
    assert lock.indexes == type(lock.indexes)()


def test_uv_universal_output_keeps_markers() -> None:
    lock = _read(FIXTURES / "uv-universal-hashes.txt")
    colorama = _by_name(lock)["colorama"]
    assert colorama.marker == "sys_platform == 'win32'"
    numpys = [p for p in lock.packages if p.name == "numpy"]
    assert len(numpys) == 2
    assert all(p.marker and "python_full_version" in p.marker for p in numpys)
    assert numpys[0].version != numpys[1].version


def test_sha256_is_of_the_bytes() -> None:
    path = FIXTURES / "uv-hashes.txt"
    assert _read(path).sha256 == file_sha256(path.read_bytes())


# ---------------------------------------------------------------------------------------
# The hand-written fixture, construct by construct


@pytest.fixture(scope="module")
def handwritten() -> Lock:
    return _read(HANDWRITTEN / "requirements.txt")


def test_pinned_hashed_continued_requirement(handwritten: Lock) -> None:
    requests_ = _by_name(handwritten)["requests"]
    assert (requests_.version, requests_.specifier, requests_.line) == ("2.31.0", "==2.31.0", 20)
    assert requests_.extras == ("security", "socks")
    assert requests_.marker == 'python_version >= "3.8"'
    assert len(requests_.hashes) == 2
    assert requests_.inline_ignores == frozenset({"RB109", "RB101"})


def test_hash_forms(handwritten: Lock) -> None:
    packages = _by_name(handwritten)
    assert [h.algorithm for h in packages["attrs"].hashes] == ["sha256", "sha384"]
    (certifi_hash,) = packages["certifi"].hashes
    assert certifi_hash.value == certifi_hash.value.lower()
    # A comment line inside a continuation belongs to the requirement's logical line.
    assert packages["certifi"].inline_ignores == frozenset({"RB110"})
    assert len(packages["idna"].hashes) == 1


@pytest.mark.parametrize(
    ("name", "version", "specifier"),
    [
        ("packaging", None, ">=23,<25"),
        ("django", None, "~= 4.2.0"),
        ("zope-interface", None, ">=6.0"),
        ("typing-extensions", None, "==4.*"),
        ("numpy", "1.26.4", "===1.26.4"),
        ("six", None, ""),
        ("indented-pkg", "1.0", "==1.0"),
        ("installer", "0.7.0", "==0.7.0"),
    ],
)
def test_specifiers_as_written(
    handwritten: Lock, name: str, version: str | None, specifier: str
) -> None:
    package = _by_name(handwritten)[name]
    assert (package.version, package.specifier) == (version, specifier)


def test_markers(handwritten: Lock) -> None:
    packages = _by_name(handwritten)
    assert packages["colorama"].marker == 'sys_platform == "win32"'
    assert packages["tomli"].marker == 'python_version<"3.11"'
    assert packages["six"].marker is None


def test_editables(handwritten: Lock) -> None:
    editables = [p for p in handwritten.packages if p.source is SourceKind.EDITABLE]
    assert [(p.name, p.url, p.vcs, p.vcs_ref, p.extras) for p in editables] == [
        ("local-pkg", "./pkg", None, None, ()),
        (
            "sampleproject",
            "git+https://github.com/pypa/sampleproject.git@v3.0.0#egg=sampleproject",
            "git",
            "v3.0.0",
            (),
        ),
        (
            "local-editable",
            "git+https://github.com/org/local-editable@main",
            "git",
            "main",
            ("test",),
        ),
    ]


def test_vcs_requirements(handwritten: Lock) -> None:
    vcs: dict[str, LockedPackage] = {
        p.name: p for p in handwritten.packages if p.source is SourceKind.VCS
    }
    assert {name: (p.vcs, p.vcs_ref) for name, p in vcs.items()} == {
        "click": ("git", "8.1.7"),
        "flask": ("git", "3.0.0"),
        "markupsafe": ("git", None),
    }
    assert vcs["flask"].url == "git+https://github.com/pallets/flask@3.0.0"


def test_direct_urls_and_paths(handwritten: Lock) -> None:
    packages = {(p.name, p.source) for p in handwritten.packages if p.path is None}
    assert {
        ("pip", SourceKind.URL),
        ("wheel", SourceKind.URL),
        ("local-pkg", SourceKind.DIRECTORY),
        ("local-pkg", SourceKind.PATH),
        ("localtar", SourceKind.PATH),
        ("mylib", SourceKind.URL),
    } <= packages
    by_name = _by_name(handwritten)
    # The URL fragment's hash is a hash; a bare wheel is pinned by its file name.
    assert [h.algorithm for h in by_name["pip"].hashes] == ["sha256"]
    assert (by_name["wheel"].version, len(by_name["wheel"].hashes)) == ("0.43.0", 1)
    assert by_name["pip"].version is None


def test_includes_and_constraints(handwritten: Lock) -> None:
    assert handwritten.includes == (
        HANDWRITTEN / "base.txt",
        HANDWRITTEN / "nested" / "more.txt",
        HANDWRITTEN / "constraints.txt",
        HANDWRITTEN / "nested" / "extra.txt",
    )
    from_base = [p for p in handwritten.packages if p.path == HANDWRITTEN / "base.txt"]
    assert [(p.name, p.line, p.constraint_only) for p in from_base] == [("urllib3", 3, False)]
    constrained = [p for p in handwritten.packages if p.constraint_only]
    # The constraints file is reached twice (-c from two files): not a cycle.
    assert [p.name for p in constrained] == ["urllib3", "setuptools"] * 2
    assert all(p.path == HANDWRITTEN / "constraints.txt" for p in constrained)
    assert not any(p.constraint_only for p in handwritten.installed())


def test_index_options(handwritten: Lock) -> None:
    indexes = handwritten.indexes
    assert indexes.index_url == "https://pypi.org/simple"
    assert indexes.extra_index_urls == (
        "https://download.pytorch.org/whl/cpu",
        "${REPROBUILD_TEST_EXTRA_INDEX}",  # unset variables stay as written, as in pip
        "https://nested.example.com/simple",
    )
    assert indexes.find_links == ("./wheels",)
    assert indexes.trusted_hosts == ("internal.example.com",)
    assert indexes.no_binary == ("sdist-only", "other-pkg")
    assert indexes.only_binary == (":all:",)
    assert not indexes.no_index
    assert indexes.line_of[:3] == (
        ("--index-url https://pypi.org/simple", 3),
        ("--extra-index-url https://download.pytorch.org/whl/cpu", 4),
        ("--extra-index-url ${REPROBUILD_TEST_EXTRA_INDEX}", 5),
    )
    assert ("--require-hashes", 12) in indexes.line_of
    # Options from included files count, but line_of only names the lock's own lines.
    assert all(
        not text.startswith("--extra-index-url https://nested") for text, _ in indexes.line_of
    )


def test_env_vars_expand_like_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPROBUILD_TEST_HOST", "files.example.com")
    monkeypatch.setenv("REPROBUILD_TEST_EXTRA_INDEX", "https://extra.example.com/simple")
    lock = _read(HANDWRITTEN / "requirements.txt")
    assert _by_name(lock)["mylib"].url == "https://files.example.com/mylib-1.0.tar.gz"
    assert "https://extra.example.com/simple" in lock.indexes.extra_index_urls


def test_env_var_set_to_empty_is_not_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPROBUILD_EMPTY", "")
    monkeypatch.setenv("REPROBUILD_VERSION", "1.2")
    lock = _read_text(tmp_path, "-i ${REPROBUILD_EMPTY}\nfoo==${REPROBUILD_VERSION}\n")
    assert lock.indexes.index_url == "${REPROBUILD_EMPTY}"
    assert lock.packages[0].version == "1.2"


# ---------------------------------------------------------------------------------------
# pip's line rules, in small files


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("foo==1.0 # comment\n", [("foo", 1)]),
        ("foo==1.0#not-a-comment-but-invalid\n", None),
        ("# only a comment \\\nfoo==1.0\n", [("foo", 2)]),
        ("foo==1.0 \\\n", [("foo", 1)]),  # a continuation at end of file
        ("\n\n  \t\nfoo==1.0\n", [("foo", 4)]),
        ("foo==1.0 \\\n  # comment inside\nbar==2\n", [("foo", 1), ("bar", 3)]),
        ("foo==1.0\rbar==2\r\n", [("foo", 1), ("bar", 2)]),
        ("foo==1.0 # trailing \\\nbar==2\n", [("foo", 1)]),  # pip joins, then cuts the comment
    ],
)
def test_lines_and_comments(
    tmp_path: Path, text: str, expected: list[tuple[str, int]] | None
) -> None:
    if expected is None:
        with pytest.raises(LockParseError):
            _read_text(tmp_path, text)
        return
    lock = _read_text(tmp_path, text)
    assert [(p.name, p.line) for p in lock.packages] == expected


def test_url_fragment_is_not_a_comment(tmp_path: Path) -> None:
    lock = _read_text(tmp_path, f"https://example.com/foo-1.0-py3-none-any.whl#sha256={SHA_A}\n")
    (package,) = lock.packages
    assert (package.name, package.version, package.source) == ("foo", "1.0", SourceKind.URL)
    assert package.hashes == (Hash("sha256", SHA_A),)


def test_option_spellings(tmp_path: Path) -> None:
    lock = _read_text(
        tmp_path,
        "-ihttps://a.example/simple\n"
        "--extra-index=https://b.example/simple\n"  # a unique prefix, as optparse allows
        "--find-links=./w1 -f ./w2\n"  # pip reads one --find-links per line
        "--trusted-host=h1 --trusted-host h2\n"
        "--pypi-url https://c.example/simple\n"
        "--no-index\n"
        "--only-binary=:none: --no-binary foo,Bar_Baz\n"
        "--use-feature truststore --all-releases :all: --only-final foo -- --ignored\n",
    )
    indexes = lock.indexes
    assert indexes.index_url == "https://c.example/simple"
    assert indexes.extra_index_urls == ("https://b.example/simple",)
    assert indexes.find_links == ("./w1",)
    assert indexes.trusted_hosts == ("h1", "h2")
    assert indexes.no_index
    assert indexes.only_binary == (":none:",)
    assert indexes.no_binary == ("foo", "bar-baz")
    assert ("--extra-index-url https://b.example/simple", 2) in indexes.line_of
    assert ("--no-index", 6) in indexes.line_of


def test_options_on_a_requirement_line_are_pips_per_requirement_options(tmp_path: Path) -> None:
    lock = _read_text(
        tmp_path,
        f"foo==1 --index-url https://ignored.example -r missing.txt --hash=sha256:{SHA_A}\n"
        f"--hash=sha256:{SHA_B}\n",  # a hash without a requirement: pip ignores it
    )
    (package,) = lock.packages
    assert package.hashes == (Hash("sha256", SHA_A),)
    assert lock.indexes.index_url is None
    assert lock.includes == ()


def test_duplicate_hashes_are_kept_once(tmp_path: Path) -> None:
    lock = _read_text(tmp_path, f"foo==1 --hash=sha256:{SHA_A} --hash=sha256:{SHA_A.upper()}\n")
    assert lock.packages[0].hashes == (Hash("sha256", SHA_A),)


_COMMIT = "1" * 40
SOURCE_CASES = {
    # line: (source, url, vcs, vcs_ref, name)
    "-e .": (SourceKind.EDITABLE, ".", None, None, "work"),
    "-e ./lib[dev]": (SourceKind.EDITABLE, "./lib", None, None, "lib"),
    "-e file:///src/proj#egg=proj": (
        SourceKind.EDITABLE, "file:///src/proj#egg=proj", None, None, "proj",
    ),
    "-e git://github.com/a/b.git@v1#egg=b": (
        SourceKind.EDITABLE, "git+git://github.com/a/b.git@v1#egg=b", "git", "v1", "b",
    ),
    "-e hg+https://hg.example/repo@abc#egg=repo": (
        SourceKind.EDITABLE, "hg+https://hg.example/repo@abc#egg=repo", "hg", "abc", "repo",
    ),
    f"git+ssh://git@github.com/a/b.git@{_COMMIT}#egg=b": (
        SourceKind.VCS, f"git+ssh://git@github.com/a/b.git@{_COMMIT}#egg=b", "git", _COMMIT, "b",
    ),
    "svn+https://svn.example/repo/trunk@1234#egg=repo": (
        SourceKind.VCS, "svn+https://svn.example/repo/trunk@1234#egg=repo", "svn", "1234", "repo",
    ),
    "git+https://github.com/a/b-c.git@main": (
        SourceKind.VCS, "git+https://github.com/a/b-c.git@main", "git", "main", "b-c",
    ),
    "foo @ file:///wheels/foo-1.0-py3-none-any.whl": (
        SourceKind.PATH, "file:///wheels/foo-1.0-py3-none-any.whl", None, None, "foo",
    ),
    "foo @ ./vendored/foo": (SourceKind.DIRECTORY, "./vendored/foo", None, None, "foo"),
    "../sibling": (SourceKind.DIRECTORY, "../sibling", None, None, "sibling"),
    "dist/bar-2.0.tar.gz": (SourceKind.PATH, "dist/bar-2.0.tar.gz", None, None, "bar"),
    "bar-2.0.zip": (SourceKind.PATH, "bar-2.0.zip", None, None, "bar"),
    "https://example.com/bar-2.0.tar.gz#egg=baz": (
        SourceKind.URL, "https://example.com/bar-2.0.tar.gz#egg=baz", None, None, "baz",
    ),
    "https://example.com/a.whl/x-1.0-py3-none-any.whl ; python_version >= '3'": (
        SourceKind.URL, "https://example.com/a.whl/x-1.0-py3-none-any.whl", None, None, "x",
    ),
}  # fmt: skip


@pytest.mark.parametrize("line", SOURCE_CASES)
def test_source_kinds(tmp_path: Path, line: str) -> None:
    directory = tmp_path / "work"
    directory.mkdir()
    (package,) = _read_text(directory, line + "\n").packages
    actual = (package.source, package.url, package.vcs, package.vcs_ref, package.name)
    assert actual == SOURCE_CASES[line]


def test_editable_path_takes_the_name_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "pyproject.toml").write_text('[project]\nname = "My_Project"\n')
    (package,) = _read_text(tmp_path, "-e ./src\n").packages
    assert package.name == "my-project"


def test_pip_compile_header_python(tmp_path: Path) -> None:
    lock = _read_text(tmp_path, "#\n# This file is autogenerated by pip-compile with Python 3.12\n")
    assert lock.python == "==3.12.*"
    lock = _read_text(
        tmp_path, "# autogenerated by uv\n#    uv pip compile --python-version 3.10 x.in\n"
    )
    assert lock.python == "==3.10.*"
    assert _read_text(tmp_path, "foo==1\n# with Python 3.12\n").python is None


@pytest.mark.parametrize(
    ("comment", "codes"),
    [
        ("# reprobuild: ignore=RB101", {"RB101"}),
        ("#reprobuild:ignore = rb101, RB104", {"RB101", "RB104"}),
        ("# note; reprobuild: ignore=RB102 (pinned upstream)", {"RB102"}),
        ("# reprobuild ignore RB101", set()),
    ],
)
def test_inline_ignores(tmp_path: Path, comment: str, codes: set[str]) -> None:
    (package,) = _read_text(tmp_path, f"foo==1  {comment}\n").packages
    assert package.inline_ignores == frozenset(codes)


# ---------------------------------------------------------------------------------------
# Decoding


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes("foo==1.0\r\nbar==2.0\r\n".encode("utf-16"))  # PowerShell's `>`
    assert [p.name for p in _read(path).packages] == ["foo", "bar"]


def test_pep263_coding_comment(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes("# -*- coding: latin-1 -*-\nfoo==1.0  # caf\xe9\n".encode("latin-1"))
    assert [p.name for p in _read(path).packages] == ["foo"]


def test_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"\xef\xbb\xbffoo==1.0\n")
    assert _read(path).packages[0].name == "foo"


# ---------------------------------------------------------------------------------------
# Includes


def test_include_chain_and_diamond(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("-c ../c.txt\na==1\n")
    (tmp_path / "b.txt").write_text("-c c.txt\nb==1\n")
    (tmp_path / "c.txt").write_text("-r sub/../d.txt\nc<2\n")
    (tmp_path / "d.txt").write_text("d==1\n")
    lock = _read_text(tmp_path, "-r sub/a.txt\n-r b.txt\ntop==1\n")
    assert lock.includes == (
        tmp_path / "sub" / "a.txt",
        tmp_path / "c.txt",
        tmp_path / "d.txt",
        tmp_path / "b.txt",
    )
    # Like pip: a -r inside a constraints file reads requirements, not constraints.
    assert [(p.name, p.constraint_only) for p in lock.packages] == [
        ("d", False),
        ("c", True),
        ("a", False),
        ("d", False),
        ("c", True),
        ("b", False),
        ("top", False),
    ]


def test_file_url_include(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("other==1\n")
    lock = _read_text(tmp_path, f"-r {(tmp_path / 'other.txt').as_uri()}\n")
    assert [p.name for p in lock.packages] == ["other"]
    assert lock.packages[0].path == tmp_path / "other.txt"


# ---------------------------------------------------------------------------------------
# Errors: LockParseError naming the file and the line


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("foo==1\nbar==\n", 2, "invalid requirement 'bar=='"),
        ("foo = 1\n", 1, "invalid requirement"),
        ("# c\nfoo==1 \\\n  --hash=sha256:xyz\n", 2, "not hexadecimal"),
        ("foo==1 --hash=sha256:\n", 1, "not hexadecimal"),
        ("foo==1 --hash=" + SHA_A + "\n", 1, "ALGORITHM:HEX"),
        ("foo==1 --hash=md5:" + "a" * 32 + "\n", 1, "not one of"),
        ("foo==1 --hash=SHA256:" + SHA_A + "\n", 1, "not one of"),
        ("\n\n--frobnicate\n", 3, "unknown pip option --frobnicate"),
        ("-x foo\n", 1, "unknown pip option -x"),
        ("--no\n", 1, "ambiguous option --no"),
        ("--index-url\n", 1, "requires a value"),
        ("-r\n", 1, "requires a value"),
        ("--pre=yes\n", 1, "does not take a value"),
        ('-e "unterminated\n', 1, "cannot split options"),
        ("--no-binary -x\n", 1, "needs a value"),
        ("foo==1 -C nokey\n", 1, "KEY=VALUE"),
        ('foo; python_version >> "3"\n', 1, "invalid marker"),
        ("; python_version > '3'\n", 1, "marker without a requirement"),
        ("git+https://github.com/a/b@#egg=b\n", 1, "empty revision"),
        ("https://example.com/x#egg=-bad-\n", 1, "not a valid project name"),
        ("https://example.com/not-a-wheel.whl\n", 1, "invalid wheel file name"),
        (f"https://example.com/x-1.0.tar.gz#sha256={'z' * 64}\n", 1, "not hexadecimal"),
        ("-e git+https://github.com/a/b\n", 1, "cannot tell the project name"),
        ("-e https://example.com/x-1.0.tar.gz\n", 1, "not a valid editable"),
        ("ok==1\n-r missing.txt\n", 2, "no such file"),
        ("-r https://example.com/reqs.txt\n", 1, "remote requirements file"),
        ("./dir[bad extra]\n", 1, "invalid extras"),
    ],
)
def test_malformed_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    with pytest.raises(LockParseError) as info:
        _read(path)
    assert info.value.line == line
    assert info.value.path == path
    assert fragment in info.value.reason


def test_error_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "inner.txt").write_text("good==1\n\nbad===\n")
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, "-r inner.txt\n")
    assert (info.value.path, info.value.line) == (tmp_path / "inner.txt", 3)


def test_include_cycle(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("b==1\n-c requirements.txt\n")
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, "a==1\n-r b.txt\n")
    assert (info.value.path, info.value.line) == (tmp_path / "b.txt", 2)
    assert "include cycle" in info.value.reason


def test_self_include(tmp_path: Path) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, "-r ./requirements.txt\n")
    assert info.value.line == 1


def test_include_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(LockParseError, match="not a regular file"):
        _read_text(tmp_path, "-r sub\n")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"foo==1\nbar==2 # \xff\n")
    with pytest.raises(LockParseError) as info:
        _read(path)
    assert info.value.line == 2


def test_unknown_coding_comment(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"# coding: no-such-codec\nfoo==1\n")
    with pytest.raises(LockParseError, match="no-such-codec"):
        _read(path)


def test_credentials_stay_out_of_messages(tmp_path: Path) -> None:
    with pytest.raises(LockParseError) as info:
        _read_text(tmp_path, "-e https://user:s3cret@example.com/x.tar.gz\n")
    assert "s3cret" not in str(info.value)


# ---------------------------------------------------------------------------------------
# Property tests: a Lock or a LockParseError, never another exception

_FUZZ_ROOT = Path(tempfile.gettempdir()) / f"reprobuild-req-fuzz-{os.getpid()}"


@pytest.fixture(scope="module", autouse=True)
def _fuzz_dir() -> Iterator[None]:
    # Files the fuzzed `-r`/`-c` lines can reach: an include cycle and a good file.
    _FUZZ_ROOT.mkdir(exist_ok=True)
    (_FUZZ_ROOT / "loop-a.txt").write_text("-r loop-b.txt\n")
    (_FUZZ_ROOT / "loop-b.txt").write_text("-c loop-a.txt\n")
    (_FUZZ_ROOT / "ok.txt").write_text("ok==1 --hash=sha256:" + SHA_A + "\n")
    (_FUZZ_ROOT / "sub").mkdir(exist_ok=True)
    yield
    shutil.rmtree(_FUZZ_ROOT, ignore_errors=True)


FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TOKENS = st.sampled_from(
    [
        "foo", "Foo_Bar", "numpy", "a.b-c", "==", "===", ">=", "~=", "!=", "1.0", "2.*", "1!2.0",
        "[", "]", "socks", ",", ";", " ", "  ", "\t", "\n", "\r\n", "\\\n", "\\", "#", " #",
        "# reprobuild: ignore=RB101", "--hash=", "--hash", "sha256:", "sha512:", SHA_A, "ZZ",
        "-r", "-c", "--requirement=", "ok.txt", "loop-a.txt", "sub", "missing.txt", "-e",
        "--editable", "--index-url", "-i", "https://x.example/simple", "--pre", "--no-index",
        "--only-binary", ":all:", "-f", "--trusted-host", "-C", "k=v", "@", "git+https://h/r",
        "@v1", "#egg=", "&subdirectory=s", "file:///tmp/x.whl", "./pkg", "x-1.0-py3-none-any.whl",
        "python_version", '"3.8"', "'3'", "<", "and", "or", "(", ")", "${HOME}", "${NOPE_X}",
        "'", '"', "--", "-", "--no", "--config-settings", "#sha256=", "\x0c", "\x1f", "\u2028",
    ]
)  # fmt: skip


def _read_or_parse_error(data: bytes) -> None:
    try:
        lock = requirements.read(_FUZZ_ROOT / "requirements.txt", data)
    except LockParseError as exc:
        assert exc.path is not None
        return
    assert lock.format is LockFormat.REQUIREMENTS
    for package in lock.packages:
        assert package.name == canonicalize_name(package.name)
        assert all(h.value == h.value.lower() for h in package.hashes)


@FUZZ_SETTINGS
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    _read_or_parse_error(text.encode("utf-8", "surrogatepass"))


@FUZZ_SETTINGS
@given(st.binary())
def test_arbitrary_bytes(data: bytes) -> None:
    _read_or_parse_error(data)


@FUZZ_SETTINGS
@given(st.lists(TOKENS, max_size=40))
def test_requirement_ish_tokens(tokens: list[str]) -> None:
    _read_or_parse_error("".join(tokens).encode("utf-8", "surrogatepass"))


@FUZZ_SETTINGS
@given(st.lists(st.lists(TOKENS, min_size=1, max_size=8).map(" ".join), max_size=12))
def test_requirement_ish_lines(lines: list[str]) -> None:
    _read_or_parse_error("\n".join(lines).encode("utf-8", "surrogatepass"))


# Well-formed files drawn from a grammar of what pip-compile, uv and people write: on
# these pip and the reader must agree on every entry (names, versions, hashes, lines,
# files, constraint and editable flags).

_HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
_NAMES = st.sampled_from(["foo", "Foo_Bar", "a.b-c", "numpy", "zope.interface"])
_EXTRAS = st.lists(st.sampled_from(["socks", "security", "Test_X"]), max_size=2).map(
    lambda extras: f"[{','.join(extras)}]" if extras else ""
)
_SPECIFIERS = st.sampled_from(["", "==1.0", "===1.0", ">=1,<2", "~=1.2", "==2.*", " == 1.0 "])
_MARKERS = st.sampled_from(["", ' ; python_version >= "3.8"', ";sys_platform=='win32'"])
_COMMENTS = st.sampled_from(["", "  # c", " # reprobuild: ignore=RB101", "\t#x"])
_SEPARATORS = st.sampled_from([" ", " \\\n    ", "  \\\n\\\n  "])


@st.composite
def _requirement_lines(draw: st.DrawFn) -> str:
    line = draw(_NAMES) + draw(_EXTRAS) + draw(_SPECIFIERS) + draw(_MARKERS)
    for digest in draw(st.lists(_HEX, max_size=3)):
        line += draw(_SEPARATORS) + "--hash=sha256:" + digest
    return line + draw(_COMMENTS)


_OTHER_LINES = st.sampled_from(
    [
        "",
        "# a comment",
        "   # indented comment \\",
        "--index-url https://x.example/simple",
        "-i https://y.example/simple",
        "--extra-index-url=https://z.example/simple",
        "--pre",
        "--no-index",
        "-r inc.txt",
        "-c cons.txt",
        "--requirement=sub/nested.txt",
        "-e ./proj",
        "--editable=./proj",
        "./proj",
        "git+https://github.com/a/b@v1#egg=bee",
        "bee @ git+https://github.com/a/b",
        f"foo @ https://h.example/foo-1.0.tar.gz#sha256={SHA_A}",
        "https://h.example/wh-1.0-py3-none-any.whl",
        "dist/local_thing-2.0-py3-none-any.whl",
    ]
)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    lines=st.lists(st.one_of(_requirement_lines(), _OTHER_LINES), max_size=12),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_well_formed_files_agree_with_pip(
    lines: list[str], newline: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _FUZZ_ROOT / "agree"
    (root / "proj").mkdir(parents=True, exist_ok=True)
    (root / "proj" / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    (root / "sub").mkdir(exist_ok=True)
    (root / "inc.txt").write_text(f"inc-pkg==1 --hash=sha256:{SHA_B}\n-c cons.txt\n")
    (root / "cons.txt").write_text("cons-pkg<3\n")
    (root / "sub" / "nested.txt").write_text("-r ../inc.txt\nnested==2\n")
    path = root / "requirements.txt"
    path.write_bytes(newline.join(lines).encode())
    _assert_agrees_with_pip(path, monkeypatch)
