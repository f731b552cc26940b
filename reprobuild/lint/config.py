"""``[tool.reprobuild.lint]``: which rules run, at which severity, and what is ignored.

```toml
[tool.reprobuild.lint]
fail-on = "error"                       # info | warning | error
ignore = ["RB230"]                      # rules switched off everywhere
severity = { RB109 = "error" }          # per-rule severity
per-file-ignores = { "tools/*.txt" = ["RB102"] }   # glob (relative to the config) -> codes
per-package-ignores = { torch = ["RB109"] }        # package name -> codes (survives relocking)
```
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobuild.config import ProjectConfig
from reprobuild.errors import ConfigError
from reprobuild.lint.rule import Severity

__all__ = ["LintConfig", "lint_config_from"]

_KEYS = {"fail-on", "ignore", "select", "severity", "per-file-ignores", "per-package-ignores"}


@dataclass(frozen=True, slots=True)
class LintConfig:
    root: Path = field(default_factory=Path.cwd)
    fail_on: Severity = Severity.ERROR
    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    severity: dict[str, Severity] = field(default_factory=dict)
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()
    per_package_ignores: dict[str, frozenset[str]] = field(default_factory=dict)

    def enabled(self, code: str) -> bool:
        if code in self.ignore:
            return False
        return self.select is None or code in self.select

    def ignored_for_file(self, code: str, path: Path) -> bool:
        if not self.per_file_ignores or not any(code in c for _, c in self.per_file_ignores):
            return False  # the common case: no path resolution per finding
        try:
            relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            relative = path.as_posix()
        for pattern, codes in self.per_file_ignores:
            if code in codes and (
                fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(path.name, pattern)
            ):
                return True
        return False

    def ignored_for_package(self, code: str, package: str | None) -> bool:
        if package is None or not self.per_package_ignores:
            return False
        from packaging.utils import canonicalize_name

        return code in self.per_package_ignores.get(canonicalize_name(package), frozenset())


def lint_config_from(project: ProjectConfig, known_codes: frozenset[str]) -> LintConfig:
    table = project.section("lint")
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(
            f"{project.where('lint')}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"expected one of {', '.join(sorted(_KEYS))}"
        )

    def codes(value: Any, key: str) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{project.where(key)} must be a list of rule codes")
        result = frozenset(v.strip().upper() for v in value)
        bad = result - known_codes
        if bad:
            raise ConfigError(
                f"{project.where(key)}: unknown rule code(s) {', '.join(sorted(bad))}; "
                "`reprobuild rules` lists them"
            )
        return result

    def severity(value: Any, key: str) -> Severity:
        if not isinstance(value, str):
            raise ConfigError(f"{project.where(key)} must be a string")
        try:
            return Severity.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{project.where(key)}: {exc}") from None

    def table_of(key: str) -> dict[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{project.where('lint.' + key)} must be a table")
        return value

    severities = {}
    for code, level in table_of("severity").items():
        codes([code], "lint.severity")
        severities[code.upper()] = severity(level, f"lint.severity.{code}")
    from packaging.utils import canonicalize_name

    return LintConfig(
        root=project.root,
        fail_on=severity(table.get("fail-on", "error"), "lint.fail-on"),
        select=codes(table["select"], "lint.select") if "select" in table else None,
        ignore=codes(table.get("ignore", []), "lint.ignore"),
        severity=severities,
        per_file_ignores=tuple(
            (pattern, codes(value, f"lint.per-file-ignores.{pattern}"))
            for pattern, value in table_of("per-file-ignores").items()
        ),
        per_package_ignores={
            canonicalize_name(name): codes(value, f"lint.per-package-ignores.{name}")
            for name, value in table_of("per-package-ignores").items()
        },
    )
