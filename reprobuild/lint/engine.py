"""Run the rules over files: collect inputs, read them, check, suppress, sort.

The engine is the only place that knows about configuration and suppression; rules
just yield violations and formatters just print findings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reprobuild.dockerfile.names import is_dockerfile_name
from reprobuild.errors import LockParseError, ReprobuildError, UnknownFormatError
from reprobuild.lint.config import LintConfig
from reprobuild.lint.rule import Finding, Rule, Severity, Target, Violation
from reprobuild.lockfiles import is_lockfile_name, read_lock
from reprobuild.models import LockFormat

__all__ = ["FileKind", "LintResult", "collect_inputs", "lint_paths"]

FileKind = LockFormat | str  # a LockFormat, or "dockerfile"
DOCKERFILE = "dockerfile"

_SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
     ".mypy_cache", ".ruff_cache", ".pytest_cache", "site-packages", "build", "dist"}
)
_PRAGMA = re.compile(r"#\s*reprobuild:\s*ignore\s*=\s*([A-Za-z0-9_,\s]+)", re.IGNORECASE)


@dataclass(slots=True)
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    errors: list[ReprobuildError] = field(default_factory=list)
    """Inputs that could not be read (exit code 2)."""
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """Walked files that looked like lockfiles by name but are not (with the reason)."""

    def counts(self) -> dict[str, int]:
        counts = {s.label: 0 for s in Severity}
        for finding in self.findings:
            counts[finding.severity.label] += 1
        return counts

    def fails(self, fail_on: Severity) -> bool:
        return any(f.severity >= fail_on for f in self.findings)


def collect_inputs(paths: Sequence[Path]) -> Iterator[tuple[Path, bool]]:
    """Yield (file, explicit): explicit arguments as given, directories walked by name."""
    for path in paths:
        if not path.is_dir():
            yield path, True
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
            for name in sorted(files):
                if is_dockerfile_name(name) or is_lockfile_name(name):
                    yield Path(root) / name, False


def _kind_of(path: Path, forced: FileKind | None) -> FileKind | None:
    if forced is not None:
        return forced
    if is_dockerfile_name(path.name):
        return DOCKERFILE
    return None  # a lockfile; read_lock detects which


def lint_paths(
    paths: Sequence[Path],
    *,
    config: LintConfig,
    rules: Iterable[Rule] | None = None,
    file_type: FileKind | None = None,
    build_args: Mapping[str, str] | None = None,
) -> LintResult:
    """Lint ``paths``. ``rules=None`` takes the registry's, imported per target on first
    need (linting only lockfiles never loads the Dockerfile rules)."""
    result = LintResult()
    given = None if rules is None else [r for r in rules if config.enabled(r.code)]

    def active(target: Target) -> list[Rule]:
        if given is not None:
            return [r for r in given if r.target is target]
        from reprobuild.lint.rules import rules_for

        return [r for r in rules_for(target) if config.enabled(r.code)]

    for path, explicit in collect_inputs(paths):
        try:
            violations = list(_check_file(path, _kind_of(path, file_type), active, build_args))
        except UnknownFormatError as exc:
            if explicit:
                result.errors.append(exc)
            else:
                result.skipped.append((path, exc.reason))
            continue
        except ReprobuildError as exc:
            result.errors.append(exc)
            continue
        result.files.append(path)
        result.findings.extend(_to_findings(path, violations, config))
    result.findings.sort(key=Finding.sort_key)
    return result


def _check_file(
    path: Path,
    kind: FileKind | None,
    rules: Callable[[Target], list[Rule]],
    build_args: Mapping[str, str] | None,
) -> Iterator[tuple[Rule, Violation]]:
    if kind == DOCKERFILE:
        from reprobuild.dockerfile import DockerfileContext, parse_dockerfile

        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LockParseError(path, f"cannot read Dockerfile: {exc}") from None
        dockerfile = parse_dockerfile(path, text)
        ctx = DockerfileContext(
            path=path, context_dir=path.parent, build_args=dict(build_args or {})
        )
        for rule in rules(Target.DOCKERFILE):
            for violation in rule.check(dockerfile, ctx):
                yield rule, violation
        return
    lock = read_lock(path, LockFormat(kind) if kind else None)
    for rule in rules(Target.LOCK):
        for violation in rule.check(lock):
            yield rule, violation


class _Pragmas:
    """``# reprobuild: ignore=RB101,RB109`` comments, read lazily per file."""

    def __init__(self) -> None:
        self._lines: dict[Path, list[str]] = {}

    def lines(self, path: Path) -> list[str]:
        if path not in self._lines:
            try:
                self._lines[path] = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                self._lines[path] = []
        return self._lines[path]

    def codes(self, path: Path, line: int | None, anchor: int | None) -> set[str]:
        lines = self.lines(path)
        found: set[str] = set()
        if line is not None and 0 < line <= len(lines):
            found |= _codes_in(lines[line - 1])
        # Comment lines directly above the anchor (a Dockerfile instruction's first line).
        above = (anchor or line or 0) - 1
        while 0 < above <= len(lines) and lines[above - 1].lstrip().startswith("#"):
            found |= _codes_in(lines[above - 1])
            above -= 1
        return found


def _codes_in(text: str) -> set[str]:
    match = _PRAGMA.search(text)
    if not match:
        return set()
    return {c.strip().upper() for c in match.group(1).split(",") if c.strip()}


def _to_findings(
    linted: Path, violations: Iterable[tuple[Rule, Violation]], config: LintConfig
) -> Iterator[Finding]:
    pragmas = _Pragmas()
    for rule, violation in violations:
        path = violation.path or linted
        if rule.code in violation.inline_ignores:
            continue
        if config.ignored_for_file(rule.code, path) or config.ignored_for_package(
            rule.code, violation.package
        ):
            continue
        if rule.code in pragmas.codes(path, violation.line, violation.anchor_line):
            continue
        severity = config.severity.get(rule.code) or violation.severity or rule.severity
        yield Finding(
            code=rule.code,
            name=rule.name,
            severity=severity,
            message=violation.message,
            path=path,
            line=violation.line,
            column=violation.column,
            package=violation.package,
            fix_title=rule.fix_title,
        )
