"""Shared helpers for the rule tests in this folder.

Lockfile rules (RB1xx), hadolint-style ``catches`` / ``catches_not``::

    def test_flags_unhashed(make_package, make_lock, lock_catches):
        lock_catches("RB101", make_lock(make_package(name="numpy", hashes=())))

Rules are loaded by code from their own module, so one rule's tests do not depend on
every other rule module importing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding, Rule, Violation
from reprobuild.lint.rules import RULE_MODULES
from reprobuild.models import Hash, Lock, LockedPackage, LockFormat, Sha256

SHA256 = Hash("sha256", "a" * 64)


def load_rule(code: str) -> Rule:
    """The ``RULE`` of the module named after ``code`` (``rb101_…``)."""
    prefix = code.lower() + "_"
    module = next(m for m in RULE_MODULES if m.startswith(prefix))
    rule = importlib.import_module(f"reprobuild.lint.rules.{module}").RULE
    assert isinstance(rule, Rule) and rule.code == code
    return rule


def _package(name: str = "numpy", version: str | None = "1.26.4", **fields: Any) -> LockedPackage:
    fields.setdefault("hashes", (SHA256,))
    fields.setdefault("specifier", f"=={version}" if version else "")
    return LockedPackage(name=canonicalize_name(name), version=version, **fields)


def _lock(
    *packages: LockedPackage,
    format: LockFormat = LockFormat.REQUIREMENTS,
    path: Path = Path("requirements.txt"),
    **fields: Any,
) -> Lock:
    return Lock(format=format, path=path, sha256=Sha256("0" * 64), packages=packages, **fields)


def _lock_violations(code: str, lock: Lock) -> list[Violation]:
    return list(load_rule(code).check(lock))


def _lock_catches(code: str, lock: Lock) -> list[Violation]:
    found = _lock_violations(code, lock)
    assert found, f"{code} should flag this lock but found nothing"
    return found


def _lock_catches_not(code: str, lock: Lock) -> None:
    found = _lock_violations(code, lock)
    assert not found, f"{code} should not flag this lock: {[v.message for v in found]}"


@pytest.fixture
def make_package() -> Callable[..., LockedPackage]:
    """``make_package(name=, version=, **LockedPackage fields)``; one sha256 hash by default."""
    return _package


@pytest.fixture
def make_lock() -> Callable[..., Lock]:
    """``make_lock(*packages, format=, path=, **Lock fields)`` (requirements.txt by default)."""
    return _lock


@pytest.fixture
def lock_catches() -> Callable[[str, Lock], list[Violation]]:
    """Assert the rule flags the lock; returns the violations for further checks."""
    return _lock_catches


@pytest.fixture
def lock_catches_not() -> Callable[[str, Lock], None]:
    return _lock_catches_not


def _lint_lockfile(path: Path, *codes: str, config: LintConfig | None = None) -> list[Finding]:
    result = lint_paths(
        [path],
        config=config or LintConfig(root=path.parent),
        rules=[load_rule(code) for code in codes],
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.fixture
def lint_lockfile() -> Callable[..., list[Finding]]:
    """``lint_lockfile(path, "RB101", ..., config=)``: findings of those rules via the engine
    (the real reader for the file's format, suppressions and severities applied)."""
    return _lint_lockfile
