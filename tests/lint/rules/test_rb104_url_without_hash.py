"""RB104 url-without-hash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from reprobuild.lint.rule import Finding, Violation
from reprobuild.models import Artifact, ArtifactKind, Hash, Lock, LockedPackage, SourceKind

MakePackage = Callable[..., LockedPackage]
MakeLock = Callable[..., Lock]
Catches = Callable[[str, Lock], list[Violation]]
CatchesNot = Callable[[str, Lock], None]
LintLockfile = Callable[..., list[Finding]]

CODE = "RB104"
URL = "https://download.example/whl/torch-2.3.1-cp311-cp311-linux_x86_64.whl"


def _url_package(make_package: MakePackage, **fields: Any) -> LockedPackage:
    fields.setdefault("hashes", ())
    return make_package(name="torch", version=None, source=SourceKind.URL, url=URL, **fields)


def test_catches_url_without_hash(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    [violation] = lock_catches(CODE, make_lock(_url_package(make_package, line=9)))
    assert violation.line == 9 and violation.package == "torch"
    assert URL in violation.message and "--hash=sha256" in violation.message


def test_message_redacts_credentials(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(
        name="x",
        version=None,
        hashes=(),
        source=SourceKind.URL,
        url="https://token:hunter2@files.example/x-1.0.tar.gz",
    )
    [violation] = lock_catches(CODE, make_lock(package))
    assert "hunter2" not in violation.message


def test_catches_not_url_with_hash(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(
        CODE, make_lock(_url_package(make_package, hashes=(Hash("sha256", "c" * 64),)))
    )


def test_catches_not_url_with_artifact_hash(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    artifact = Artifact(kind=ArtifactKind.WHEEL, url=URL, hashes=(Hash("sha256", "c" * 64),))
    lock_catches_not(CODE, make_lock(_url_package(make_package, artifacts=(artifact,))))


def test_catches_not_registry_or_constraint(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(
        CODE,
        make_lock(make_package(hashes=()), _url_package(make_package, constraint_only=True)),
    )


def test_through_requirements_file(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        f"torch @ {URL}\n"
        f"six @ https://files.example/six-1.16.0-py2.py3-none-any.whl#sha256={'d' * 64}\n"
    )
    findings = lint_lockfile(lock, CODE)
    assert [(f.package, f.line) for f in findings] == [("torch", 1)]
