"""RB105 local-or-editable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reprobuild.lint.rule import Finding, Severity, Violation
from reprobuild.models import Lock, LockedPackage, LockFormat, SourceKind

MakePackage = Callable[..., LockedPackage]
MakeLock = Callable[..., Lock]
Catches = Callable[[str, Lock], list[Violation]]
CatchesNot = Callable[[str, Lock], None]
LintLockfile = Callable[..., list[Finding]]

CODE = "RB105"


@pytest.mark.parametrize(
    ("source", "url", "words"),
    [
        (SourceKind.EDITABLE, "./libs/featurizer", "an editable install"),
        (SourceKind.DIRECTORY, "../shared", "a local directory"),
        (SourceKind.PATH, "./wheels/p-1.0-py3-none-any.whl", "a local path"),
    ],
)
def test_catches_local_sources(
    make_package: MakePackage,
    make_lock: MakeLock,
    lock_catches: Catches,
    source: SourceKind,
    url: str,
    words: str,
) -> None:
    package = make_package(name="p", version=None, hashes=(), source=source, url=url, line=5)
    [violation] = lock_catches(CODE, make_lock(package))
    assert words in violation.message and url in violation.message
    assert violation.line == 5 and violation.package == "p"


def test_catches_editable_dependency_in_uv_lock(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(
        name="lib", version="0.1", hashes=(), source=SourceKind.EDITABLE, url="packages/lib"
    )
    lock_catches(CODE, make_lock(package, format=LockFormat.UV, path=Path("uv.lock")))


def test_catches_editable_dot_in_requirements(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(name="app", version=None, source=SourceKind.EDITABLE, url=".")
    lock_catches(CODE, make_lock(package))


@pytest.mark.parametrize("fmt", [LockFormat.UV, LockFormat.POETRY, LockFormat.PYLOCK])
@pytest.mark.parametrize("source", [SourceKind.EDITABLE, SourceKind.DIRECTORY])
def test_catches_not_project_root(
    make_package: MakePackage,
    make_lock: MakeLock,
    lock_catches_not: CatchesNot,
    fmt: LockFormat,
    source: SourceKind,
) -> None:
    root = make_package(name="app", version="0.1.0", hashes=(), source=source, url=".")
    lock_catches_not(CODE, make_lock(root, format=fmt, path=Path("proj/uv.lock")))


def test_catches_not_registry_vcs_url(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    packages = [
        make_package(),
        make_package(name="v", version=None, source=SourceKind.VCS, vcs="git"),
        make_package(name="u", version=None, source=SourceKind.URL, url="https://x/u.whl"),
    ]
    lock_catches_not(CODE, make_lock(*packages))


def test_rule_is_a_warning() -> None:
    from reprobuild.lint.rules.rb105_local_or_editable import RULE

    assert RULE.code == CODE and RULE.severity is Severity.WARNING


def test_through_requirements_file(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("numpy==1.26.4\n-e ./libs/featurizer\n./vendor/private-1.0.tar.gz\n")
    findings = lint_lockfile(lock, CODE)
    assert [(f.line, f.severity) for f in findings] == [
        (2, Severity.WARNING),
        (3, Severity.WARNING),
    ]


def test_through_poetry_lock_develop_directory(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "poetry.lock"
    lock.write_text(
        '[[package]]\nname = "mylib"\nversion = "0.1.0"\ndescription = ""\noptional = false\n'
        'python-versions = "*"\nfiles = []\ndevelop = true\n\n'
        '[package.source]\ntype = "directory"\nurl = "libs/mylib"\n\n'
        '[metadata]\nlock-version = "2.0"\npython-versions = "^3.11"\n'
        'content-hash = "' + "0" * 64 + '"\n'
    )
    findings = lint_lockfile(lock, CODE)
    assert [(f.package, f.line) for f in findings] == [("mylib", 1)]
    assert "editable" in findings[0].message
