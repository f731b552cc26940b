"""RB101 missing-hash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reprobuild.lint.rule import Finding, Violation
from reprobuild.models import (
    Artifact,
    ArtifactKind,
    Hash,
    Lock,
    LockedPackage,
    LockFormat,
    SourceKind,
)

MakePackage = Callable[..., LockedPackage]
MakeLock = Callable[..., Lock]
Catches = Callable[[str, Lock], list[Violation]]
CatchesNot = Callable[[str, Lock], None]
LintLockfile = Callable[..., list[Finding]]

CODE = "RB101"
SHA = "b" * 64


def test_catches_registry_package_without_hash(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(name="NumPy", version="1.26.4", hashes=(), line=7)
    [violation] = lock_catches(CODE, make_lock(package))
    assert violation.line == 7
    assert violation.package == "numpy"
    assert "numpy 1.26.4" in violation.message
    assert "cannot verify the file it downloads" in violation.message
    assert "--generate-hashes" in violation.message


def test_catches_conda_package_without_hash(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(name="zlib", version="1.3.1", manager="conda", hashes=())
    [violation] = lock_catches(CODE, make_lock(package, format=LockFormat.CONDA_EXPLICIT))
    assert "zlib 1.3.1" in violation.message


def test_catches_local_archive_without_hash(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(
        name="private",
        version=None,
        source=SourceKind.PATH,
        url="./wheels/private-1.0.tar.gz",
        hashes=(),
    )
    lock_catches(CODE, make_lock(package))


def test_violation_carries_include_path_and_inline_ignores(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    package = make_package(
        hashes=(), path=Path("base.txt"), inline_ignores=frozenset({"RB109"}), line=3
    )
    [violation] = lock_catches(CODE, make_lock(package))
    assert violation.path == Path("base.txt")
    assert violation.inline_ignores == frozenset({"RB109"})


def test_catches_not_hashed_package(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(CODE, make_lock(make_package()))


def test_catches_not_hash_only_on_artifacts(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    artifact = Artifact(kind=ArtifactKind.WHEEL, filename="x.whl", hashes=(Hash("sha256", SHA),))
    lock_catches_not(CODE, make_lock(make_package(hashes=(), artifacts=(artifact,))))


def test_catches_not_sources_other_rules_judge(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    packages = [
        make_package(name="a", version=None, hashes=(), source=SourceKind.EDITABLE, url="./a"),
        make_package(name="b", version=None, hashes=(), source=SourceKind.DIRECTORY, url="./b"),
        make_package(name="c", version=None, hashes=(), source=SourceKind.PATH, url="../c"),
        make_package(name="d", version=None, hashes=(), source=SourceKind.VCS, vcs="git"),
        make_package(
            name="e", version=None, hashes=(), source=SourceKind.URL, url="https://x/e.whl"
        ),
    ]
    lock_catches_not(CODE, make_lock(*packages))


def test_catches_not_constraint_only(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(CODE, make_lock(make_package(hashes=(), constraint_only=True)))


def test_catches_not_uv_root_project(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    root = make_package(name="app", version="0.1.0", hashes=(), source=SourceKind.EDITABLE, url=".")
    lock_catches_not(CODE, make_lock(root, format=LockFormat.UV, path=Path("uv.lock")))


def test_through_requirements_file(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"six==1.16.0 --hash=sha256:{SHA}\nnumpy==1.26.4\n-e ./local\n")
    findings = lint_lockfile(lock, CODE)
    assert [(f.code, f.line, f.package) for f in findings] == [(CODE, 2, "numpy")]
    assert "pip will refuse to install the file" in findings[0].message


def test_through_uv_lock_root_project_not_flagged(
    tmp_path: Path, lint_lockfile: LintLockfile
) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\nrequires-python = ">=3.11"\n\n'
        '[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { editable = "." }\n'
        'dependencies = [{ name = "six" }]\n\n'
        '[[package]]\nname = "six"\nversion = "1.16.0"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        'sdist = { url = "https://files.example/six-1.16.0.tar.gz" }\n'
    )
    findings = lint_lockfile(lock, CODE)
    assert [(f.package, f.line) for f in findings] == [("six", 10)]
