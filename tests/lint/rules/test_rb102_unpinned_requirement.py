"""RB102 unpinned-requirement."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reprobuild.lint.rule import Finding, Violation
from reprobuild.models import Lock, LockedPackage, SourceKind

MakePackage = Callable[..., LockedPackage]
MakeLock = Callable[..., Lock]
Catches = Callable[[str, Lock], list[Violation]]
CatchesNot = Callable[[str, Lock], None]
LintLockfile = Callable[..., list[Finding]]

CODE = "RB102"


def test_catches_range(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(name="torch", version=None, specifier=">=2.1", line=4)
    [violation] = lock_catches(CODE, make_lock(package))
    assert violation.line == 4 and violation.package == "torch"
    assert "'>=2.1'" in violation.message and "==" in violation.message


def test_catches_bare_name(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    [violation] = lock_catches(CODE, make_lock(make_package(name="requests", version=None)))
    assert "no version at all" in violation.message


def test_catches_not_exact_pin(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(CODE, make_lock(make_package(version="2.3.1")))


def test_catches_not_constraint(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    package = make_package(version=None, specifier="<3", constraint_only=True)
    lock_catches_not(CODE, make_lock(package))


def test_catches_not_non_registry_sources(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    packages = [
        make_package(name="a", version=None, source=SourceKind.URL, url="https://x/a.tar.gz"),
        make_package(name="b", version=None, source=SourceKind.VCS, vcs="git", vcs_ref="c" * 40),
        make_package(name="c", version=None, source=SourceKind.EDITABLE, url="./c"),
    ]
    lock_catches_not(CODE, make_lock(*packages))


def test_through_requirements_file(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("numpy==1.26.4\npandas>=2\nscipy == 1.13.0\nrequests\nfoo==1.*\n")
    findings = lint_lockfile(lock, CODE)
    assert [(f.package, f.line) for f in findings] == [("pandas", 2), ("requests", 4), ("foo", 5)]


def test_input_of_a_compiled_lock_is_not_judged(
    tmp_path: Path, lint_lockfile: LintLockfile
) -> None:
    source = tmp_path / "requirements.in"
    source.write_text("pandas>=2\n")
    # Alone, a loose .in is what gets installed: judged like any requirements file.
    assert sorted(f.code for f in lint_lockfile(source, CODE, "RB101")) == ["RB101", CODE]
    (tmp_path / "requirements.txt").write_text("pandas==2.2.2\n")
    assert lint_lockfile(source, CODE, "RB101") == []
