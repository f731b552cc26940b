"""Lockfile rules through the engine with ``[tool.reprobuild.lint]``: per-package and
per-file ignores, severity overrides, global ignores and inline pragmas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reprobuild.config import load_config
from reprobuild.lint.config import LintConfig, lint_config_from
from reprobuild.lint.rule import Finding, Severity
from reprobuild.lint.rules import RULE_MODULES

LintLockfile = Callable[..., list[Finding]]

SHA = "a" * 64
KNOWN = frozenset(module.split("_", 1)[0].upper() for module in RULE_MODULES)
LOCK_CODES = tuple(sorted(code for code in KNOWN if code.startswith("RB1")))


def _config(root: Path, lint_table: str) -> LintConfig:
    (root / "pyproject.toml").write_text(f"[tool.reprobuild.lint]\n{lint_table}\n")
    return lint_config_from(load_config(start=root), KNOWN)


def _codes_and_packages(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return [(f.code, f.package) for f in findings]


def test_per_package_ignores(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("NumPy==1.26.4\nsix==1.16.0\n")
    assert _codes_and_packages(lint_lockfile(lock, "RB101")) == [
        ("RB101", "numpy"),
        ("RB101", "six"),
    ]
    config = _config(tmp_path, 'per-package-ignores = { "numpy" = ["RB101"] }')
    assert _codes_and_packages(lint_lockfile(lock, "RB101", config=config)) == [("RB101", "six")]


def test_per_package_ignore_names_are_canonicalised(
    tmp_path: Path, lint_lockfile: LintLockfile
) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("typing_extensions>=4\n")
    config = _config(tmp_path, 'per-package-ignores = { "Typing.Extensions" = ["RB102"] }')
    assert lint_lockfile(lock, "RB102", config=config) == []


def test_per_file_ignores(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    (tmp_path / "legacy").mkdir()
    legacy = tmp_path / "legacy" / "requirements.txt"
    legacy.write_text("pandas>=2\n")
    current = tmp_path / "requirements.txt"
    current.write_text("pandas>=2\n")
    config = _config(tmp_path, 'per-file-ignores = { "legacy/*.txt" = ["RB102"] }')
    assert lint_lockfile(legacy, "RB102", config=config) == []
    assert _codes_and_packages(lint_lockfile(current, "RB102", config=config)) == [
        ("RB102", "pandas")
    ]


def test_per_file_ignores_apply_to_included_files(
    tmp_path: Path, lint_lockfile: LintLockfile
) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "common.txt").write_text("pandas>=2\n")
    lock = tmp_path / "requirements.txt"
    lock.write_text("-r base/common.txt\nnumpy>=1\n")
    [included, own] = lint_lockfile(lock, "RB102")
    assert (included.path, included.line) == (tmp_path / "base" / "common.txt", 1)
    assert (own.path, own.line) == (lock, 2)
    config = _config(tmp_path, 'per-file-ignores = { "base/*" = ["RB102"] }')
    assert _codes_and_packages(lint_lockfile(lock, "RB102", config=config)) == [("RB102", "numpy")]


def test_severity_overrides(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        "--extra-index-url https://download.pytorch.org/whl/cu121\n"
        f"six==1.16.0 --hash=sha256:{SHA}\n"
        "-e ./local\n"
    )
    default = lint_lockfile(lock, "RB105", "RB106")
    assert [(f.code, f.severity) for f in default] == [
        ("RB106", Severity.WARNING),
        ("RB105", Severity.WARNING),
    ]
    config = _config(tmp_path, 'severity = { RB106 = "error", RB105 = "info" }')
    overridden = lint_lockfile(lock, "RB105", "RB106", config=config)
    assert [(f.code, f.severity) for f in overridden] == [
        ("RB106", Severity.ERROR),
        ("RB105", Severity.INFO),
    ]


def test_global_ignore_and_select(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("pandas>=2\n")
    assert sorted(f.code for f in lint_lockfile(lock, *LOCK_CODES)) == ["RB101", "RB102"]
    ignored = lint_lockfile(lock, *LOCK_CODES, config=_config(tmp_path, 'ignore = ["RB101"]'))
    assert [f.code for f in ignored] == ["RB102"]
    selected = lint_lockfile(lock, *LOCK_CODES, config=_config(tmp_path, 'select = ["RB101"]'))
    assert [f.code for f in selected] == ["RB101"]


def test_inline_pragma_in_requirements(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        "numpy==1.26.4  # reprobuild: ignore=RB101\n"
        "six==1.16.0  # reprobuild: ignore=RB109\n"
        "pandas>=2  # reprobuild: ignore=RB101,RB102\n"
    )
    assert _codes_and_packages(lint_lockfile(lock, "RB101", "RB102")) == [("RB101", "six")]


SDIST_ONLY_POETRY_LOCK = """\
[[package]]{pragma}
name = "antlr4-python3-runtime"
version = "4.9.3"
description = ""
optional = false
python-versions = "*"
files = [
    {{file = "antlr4-python3-runtime-4.9.3.tar.gz", hash = "sha256:{sha}"}},
]

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "{sha}"
"""


def test_inline_rb109_pragma_on_the_package_line(
    tmp_path: Path, lint_lockfile: LintLockfile
) -> None:
    lock = tmp_path / "poetry.lock"
    lock.write_text(SDIST_ONLY_POETRY_LOCK.format(pragma="", sha=SHA))
    assert [f.code for f in lint_lockfile(lock, "RB109")] == ["RB109"]
    lock.write_text(SDIST_ONLY_POETRY_LOCK.format(pragma="  # reprobuild: ignore=RB109", sha=SHA))
    assert lint_lockfile(lock, "RB109") == []
    lock.write_text(SDIST_ONLY_POETRY_LOCK.format(pragma="  # reprobuild: ignore=RB101", sha=SHA))
    assert [f.code for f in lint_lockfile(lock, "RB109")] == ["RB109"]


def test_fail_on_from_config(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"-e ./local\nsix==1.16.0 --hash=sha256:{SHA}\n")
    config = _config(tmp_path, 'fail-on = "warning"')
    [finding] = lint_lockfile(lock, *LOCK_CODES, config=config)
    assert finding.code == "RB105" and finding.severity >= config.fail_on
