"""RB103 vcs-not-pinned-to-commit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reprobuild.lint.rule import Finding, Violation
from reprobuild.models import Lock, LockedPackage, SourceKind

MakePackage = Callable[..., LockedPackage]
MakeLock = Callable[..., Lock]
Catches = Callable[[str, Lock], list[Violation]]
CatchesNot = Callable[[str, Lock], None]
LintLockfile = Callable[..., list[Finding]]

CODE = "RB103"
GIT_URL = "https://github.com/org/mylib"


def _vcs(
    make_package: MakePackage, ref: str | None, vcs: str = "git", url: str = GIT_URL
) -> LockedPackage:
    return make_package(
        name="mylib",
        version=None,
        hashes=(),
        source=SourceKind.VCS,
        vcs=vcs,
        url=url,
        vcs_ref=ref,
        line=2,
    )


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("main", "'main', a branch or tag"),
        ("v1.2.0", "'v1.2.0', a branch or tag"),
        ("3f1e2d0", "abbreviated commit '3f1e2d0'"),
        (None, "names no revision"),
        ("", "names no revision"),
    ],
)
def test_catches_mutable_or_short_refs(
    make_package: MakePackage,
    make_lock: MakeLock,
    lock_catches: Catches,
    ref: str | None,
    expected: str,
) -> None:
    [violation] = lock_catches(CODE, make_lock(_vcs(make_package, ref)))
    assert expected in violation.message
    assert violation.package == "mylib" and violation.line == 2


def test_message_never_shows_credentials(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = _vcs(make_package, "main", url="https://user:s3cret@git.example/mylib")
    [violation] = lock_catches(CODE, make_lock(package))
    assert "s3cret" not in violation.message and "git.example" in violation.message


@pytest.mark.parametrize(
    ("vcs", "ref"),
    [
        ("git", "3f1e2d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"),
        ("git", "3F1E2D0C9B8A7F6E5D4C3B2A1F0E9D8C7B6A5F4E"),
        ("git", "a" * 64),
        ("hg", "b" * 40),
        ("svn", "1234"),
        ("svn", "r1234"),
    ],
)
def test_catches_not_full_commit(
    make_package: MakePackage,
    make_lock: MakeLock,
    lock_catches_not: CatchesNot,
    vcs: str,
    ref: str | None,
) -> None:
    lock_catches_not(CODE, make_lock(_vcs(make_package, ref, vcs=vcs)))


def test_catches_not_41_hex(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    lock_catches(CODE, make_lock(_vcs(make_package, "a" * 41)))


def test_catches_not_non_vcs(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(CODE, make_lock(make_package(vcs_ref="main")))


def test_through_requirements_file(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    sha = "3f1e2d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"
    lock.write_text(
        f"pinned @ git+https://github.com/org/pinned@{sha}\n"
        "floating @ git+https://github.com/org/floating@main\n"
        "bare @ git+https://github.com/org/bare\n"
    )
    findings = lint_lockfile(lock, CODE)
    assert [(f.package, f.line) for f in findings] == [("floating", 2), ("bare", 3)]


def test_through_uv_lock(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    sha = "3f1e2d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\nrequires-python = ">=3.11"\n\n'
        '[[package]]\nname = "mylib"\nversion = "0.1.0"\n'
        f'source = {{ git = "https://github.com/org/mylib?rev=main#{sha}" }}\n'
    )
    assert lint_lockfile(lock, CODE) == []
