"""RB108 weak-hash-only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reprobuild.lint.rule import Finding, Violation
from reprobuild.models import Artifact, ArtifactKind, Hash, Lock, LockedPackage, LockFormat

MakePackage = Callable[..., LockedPackage]
MakeLock = Callable[..., Lock]
Catches = Callable[[str, Lock], list[Violation]]
CatchesNot = Callable[[str, Lock], None]
LintLockfile = Callable[..., list[Finding]]

CODE = "RB108"
MD5 = Hash("md5", "9653f1bf3766164d0e65fa723cabbc54")
SHA1 = Hash("sha1", "a" * 40)
SHA256 = Hash("sha256", "b" * 64)


def test_catches_md5_only_conda_entry(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(name="zlib", version="1.3.1", manager="conda", hashes=(MD5,), line=4)
    lock = make_lock(package, format=LockFormat.CONDA_EXPLICIT, path=Path("conda-linux-64.lock"))
    [violation] = lock_catches(CODE, lock)
    assert violation.line == 4 and violation.package == "zlib"
    assert "zlib 1.3.1" in violation.message and "md5" in violation.message
    assert "sha256" in violation.message


def test_catches_md5_and_sha1_pip_entry(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    [violation] = lock_catches(CODE, make_lock(make_package(hashes=(MD5, SHA1))))
    assert "md5/sha1" in violation.message


def test_catches_weak_artifact_hashes(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    artifact = Artifact(kind=ArtifactKind.WHEEL, filename="x.whl", hashes=(SHA1,))
    lock_catches(CODE, make_lock(make_package(hashes=(), artifacts=(artifact,))))


def test_catches_not_with_a_strong_hash(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(CODE, make_lock(make_package(hashes=(MD5, SHA256))))
    lock_catches_not(CODE, make_lock(make_package(hashes=(Hash("sha512", "c" * 128),))))


def test_catches_not_without_hashes_or_constraint(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(
        CODE,
        make_lock(make_package(hashes=()), make_package(hashes=(MD5,), constraint_only=True)),
    )


def test_through_conda_explicit_lock(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "conda-linux-64.lock"
    lock.write_text(
        "# platform: linux-64\n@EXPLICIT\n"
        "https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1-h4ab18f5_1.conda"
        "#9653f1bf3766164d0e65fa723cabbc54\n"
    )
    findings = lint_lockfile(lock, CODE)
    assert [(f.package, f.line) for f in findings] == [("zlib", 3)]


def test_through_requirements_file(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    # pip refuses --hash=md5:, but a URL's #md5= fragment is still accepted.
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        f"six @ https://files.example/six-1.16.0-py2.py3-none-any.whl#md5={MD5.value}\n"
        f"numpy==1.26.4 --hash=sha256:{SHA256.value}\n"
    )
    findings = lint_lockfile(lock, CODE)
    assert [(f.package, f.line) for f in findings] == [("six", 1)]
