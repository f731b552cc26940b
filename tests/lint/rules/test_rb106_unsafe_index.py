"""RB106 unsafe-index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reprobuild.lint.rule import Finding, Severity, Violation
from reprobuild.models import IndexConfig, Lock, LockedPackage, LockFormat

MakePackage = Callable[..., LockedPackage]
MakeLock = Callable[..., Lock]
Catches = Callable[[str, Lock], list[Violation]]
CatchesNot = Callable[[str, Lock], None]
LintLockfile = Callable[..., list[Finding]]

CODE = "RB106"


def _severities(violations: list[Violation]) -> list[Severity | None]:
    return [v.severity for v in violations]


def test_catches_plain_http_index_with_line(make_lock: MakeLock, lock_catches: Catches) -> None:
    indexes = IndexConfig(
        index_url="http://pypi.internal/simple",
        line_of=(("--index-url http://pypi.internal/simple", 3),),
    )
    [violation] = lock_catches(CODE, make_lock(indexes=indexes))
    assert violation.severity is Severity.ERROR and violation.line == 3
    assert "plain HTTP" in violation.message and "https://" in violation.message


def test_catches_trusted_host(make_lock: MakeLock, lock_catches: Catches) -> None:
    indexes = IndexConfig(
        trusted_hosts=("pypi.internal",), line_of=(("--trusted-host pypi.internal", 1),)
    )
    [violation] = lock_catches(CODE, make_lock(indexes=indexes))
    assert violation.severity is Severity.ERROR and violation.line == 1
    assert "certificate" in violation.message


def test_extra_index_is_a_warning(make_lock: MakeLock, lock_catches: Catches) -> None:
    url = "https://download.pytorch.org/whl/cu121"
    indexes = IndexConfig(extra_index_urls=(url,), line_of=((f"--extra-index-url {url}", 2),))
    [violation] = lock_catches(CODE, make_lock(indexes=indexes))
    assert violation.severity is Severity.WARNING and violation.line == 2
    assert "dependency confusion" in violation.message


def test_plain_http_extra_index_is_an_error(make_lock: MakeLock, lock_catches: Catches) -> None:
    indexes = IndexConfig(extra_index_urls=("http://mirror.example/simple",))
    assert _severities(lock_catches(CODE, make_lock(indexes=indexes))) == [Severity.ERROR]


def test_catches_http_find_links_source_and_channel(
    make_lock: MakeLock, lock_catches: Catches
) -> None:
    indexes = IndexConfig(
        find_links=("http://wheels.example/",),
        sources=(("internal", "http://pypi.internal/simple"),),
        channels=("http://conda.example/main", "conda-forge"),
    )
    violations = lock_catches(CODE, make_lock(indexes=indexes))
    assert _severities(violations) == [Severity.ERROR] * 3


def test_several_sources_is_a_warning(make_lock: MakeLock, lock_catches: Catches) -> None:
    indexes = IndexConfig(
        sources=(("pypi", "https://pypi.org/simple"), ("torch", "https://download.pytorch.org/whl"))
    )
    lock = make_lock(indexes=indexes, format=LockFormat.POETRY, path=Path("poetry.lock"))
    [violation] = lock_catches(CODE, lock)
    assert violation.severity is Severity.WARNING and "2 indexes (pypi, torch)" in violation.message


def test_poetry_private_source_next_to_pypi_is_a_warning(
    make_package: MakePackage, make_lock: MakeLock, lock_catches: Catches
) -> None:
    private = make_package(name="ours", url="https://pypi.internal/simple")
    public = make_package(name="six")  # no [package.source]: PyPI
    lock = make_lock(
        private,
        public,
        format=LockFormat.POETRY,
        path=Path("poetry.lock"),
        indexes=IndexConfig(sources=(("internal", "https://pypi.internal/simple/"),)),
    )
    [violation] = lock_catches(CODE, lock)
    assert "2 indexes (https://pypi.org/simple, internal)" in violation.message


def test_catches_not_uv_lock_from_one_index(
    make_package: MakePackage, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    packages = [make_package(name=n, url="https://pypi.org/simple") for n in ("six", "numpy")]
    lock_catches_not(CODE, make_lock(*packages, format=LockFormat.UV, path=Path("uv.lock")))


def test_messages_never_show_credentials(make_lock: MakeLock, lock_catches: Catches) -> None:
    indexes = IndexConfig(
        index_url="http://user:pa55word@pypi.internal/simple",
        extra_index_urls=("https://__token__:tok3n@extra.example/simple",),
    )
    for violation in lock_catches(CODE, make_lock(indexes=indexes)):
        assert "pa55word" not in violation.message and "tok3n" not in violation.message


def test_catches_not_https_single_index(make_lock: MakeLock, lock_catches_not: CatchesNot) -> None:
    indexes = IndexConfig(
        index_url="https://pypi.internal/simple",
        find_links=("https://wheels.example/",),
        sources=(("internal", "https://pypi.internal/simple"),),
        channels=("https://conda.anaconda.org/conda-forge", "conda-forge", "defaults"),
    )
    lock_catches_not(CODE, make_lock(indexes=indexes))


def test_catches_not_default_config(make_lock: MakeLock, lock_catches_not: CatchesNot) -> None:
    lock_catches_not(CODE, make_lock())


def test_through_requirements_file(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        "--index-url http://pypi.internal/simple\n"
        "--extra-index-url https://download.pytorch.org/whl/cu121\n"
        "--trusted-host pypi.internal\n"
        f"numpy==1.26.4 --hash=sha256:{'a' * 64}\n"
    )
    findings = lint_lockfile(lock, CODE)
    assert [(f.line, f.severity) for f in findings] == [
        (1, Severity.ERROR),
        (2, Severity.WARNING),
        (3, Severity.ERROR),
    ]
    assert all(f.package is None for f in findings)
