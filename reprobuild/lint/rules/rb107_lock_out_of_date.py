"""## What it does
Flags a lock that no longer matches the file it was generated from, where that can be
checked from the files beside it:

- `poetry.lock`: its `content-hash` differs from the hash of the `pyproject.toml`
  in the same directory, computed the way Poetry computes it (Poetry 1.x from the
  `[tool.poetry]` dependencies, dev-dependencies, groups, extras and sources; Poetry
  2.x also from `[project]` requires-python, dependencies and optional-dependencies,
  and `[dependency-groups]`). A hash from any of these Poetry generations is accepted.
- a compiled requirements lock (`requirements.txt`) with a `requirements.in` beside
  it (same stem): a requirement of the `.in` file is missing from the lock, or its
  pinned version is outside the specifier the `.in` file gives. An input requirement
  with an environment marker is only compared with lock entries carrying the same
  marker, and its absence is not flagged: the lock may have been compiled for an
  environment where the marker is false.

uv, pylock and conda-lock inputs are not checked.

## Why is this bad?
The image gets built from the lock, so it does not contain what the project declares:
a dependency that was added, removed or re-constrained in `pyproject.toml` or
`requirements.in` is silently ignored, and the next person to re-lock gets a different
environment from the one that was tested. The rule is an **error**, not a warning:
Poetry 2 itself refuses to install from a lock whose content-hash is stale (Poetry 1.x
only warned), and a requirements lock that contradicts its input is just as wrong, only
without any tool noticing.

## Example
```text
# requirements.in
torch>=2.3
pandas

# requirements.txt (compiled before the .in changed)
torch==2.1.0 --hash=sha256:…
```

## Fix
Re-lock: `poetry lock` (`poetry lock --no-update` with Poetry 1.x to keep the other
pins), or `pip-compile requirements.in` / `uv pip compile requirements.in -o
requirements.txt`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from reprobuild.errors import ReprobuildError
from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import violation_at
from reprobuild.lockfiles import read_lock
from reprobuild.models import Lock, LockedPackage, LockFormat, SourceKind

__all__ = ["RULE", "check", "poetry_content_hashes"]

# The pyproject keys Poetry hashes into poetry.lock's content-hash.
_POETRY_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_POETRY_KEYS = (*_POETRY_LEGACY_KEYS, "group")
_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")


def _digest(content: dict[str, Any]) -> str:
    # Poetry hashes json.dumps(sort_keys=True) with the default separators and ASCII
    # escaping; the bytes must match exactly.
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _relevant_content(pyproject: dict[str, Any], *, project: bool, groups: bool) -> dict[str, Any]:
    tool = pyproject.get("tool")
    poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
    poetry = poetry if isinstance(poetry, dict) else {}
    project_table = pyproject.get("project", {}) if project else {}
    project_table = project_table if isinstance(project_table, dict) else {}
    project_content = {
        k: project_table[k] for k in _PROJECT_KEYS if project_table.get(k) is not None
    }
    group_content = (pyproject.get("dependency-groups") or {}) if groups else {}
    modern = bool(project_content or group_content)
    # Without [project] content, Poetry keeps the 1.x shape: the legacy keys always
    # appear (null when absent) and the whole dict sits at top level.
    poetry_content = {
        key: poetry.get(key)
        for key in _POETRY_KEYS
        if poetry.get(key) is not None or (key in _POETRY_LEGACY_KEYS and not modern)
    }
    if not modern:
        return poetry_content
    content: dict[str, Any] = {"tool": {"poetry": poetry_content}}
    if project_content:
        content["project"] = project_content
    if group_content:
        content["dependency-groups"] = group_content
    return content


def poetry_content_hashes(pyproject: dict[str, Any]) -> frozenset[str]:
    """Every content-hash a Poetry release would write for this pyproject.toml.

    Poetry 2.x (with and without `[dependency-groups]`, which it started hashing in
    2.3) and Poetry 1.x (`[tool.poetry]` only).
    """
    return frozenset(
        _digest(_relevant_content(pyproject, project=project, groups=groups))
        for project, groups in ((True, True), (True, False), (False, False))
    )


def _check_poetry(lock: Lock) -> Iterator[Violation]:
    pyproject_path = lock.path.parent / "pyproject.toml"
    if lock.content_hash is None or not pyproject_path.is_file():
        return
    import tomllib  # only poetry locks need it; keeps `lint requirements.txt` start-up light

    try:
        pyproject = tomllib.loads(pyproject_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # not this rule's business: Poetry itself reports a broken pyproject
    if lock.content_hash.lower() in poetry_content_hashes(pyproject):
        return
    yield Violation(
        message=f"content-hash {lock.content_hash[:12]}… does not match {pyproject_path.name}: "
        "the dependencies declared there changed after the lock was made; run `poetry lock`",
    )


def _marker(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(Marker(text))
    except InvalidMarker:
        return text.strip()


def _outside(entry: LockedPackage, specifier: str) -> bool:
    try:
        return not SpecifierSet(specifier).contains(Version(entry.version or ""), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False  # not judgeable; other rules report malformed pins


def _check_input(lock: Lock, source: Path, wanted: LockedPackage) -> Iterator[Violation]:
    input_where = f"{(wanted.path or source).name}"
    if wanted.line:
        input_where += f":{wanted.line}"
    marker = _marker(wanted.marker)
    entries = [
        p
        for p in lock.installed()
        if p.name == wanted.name and (marker is None or _marker(p.marker) == marker)
    ]
    if not entries:
        if marker is None:
            yield Violation(
                message=f"{wanted.name} is required by {input_where} but missing from "
                f"{lock.path.name}; re-compile the lock (pip-compile {source.name})",
                line=wanted.line,
                path=wanted.path or source,
                package=wanted.name,
                inline_ignores=wanted.inline_ignores,
            )
        return
    for entry in entries:
        if entry.version is not None and wanted.specifier and _outside(entry, wanted.specifier):
            yield violation_at(
                entry,
                f"{entry.name} {entry.version} is outside {wanted.name}{wanted.specifier} "
                f"required by {input_where}; re-compile the lock (pip-compile {source.name})",
            )


def _check_requirements_in(lock: Lock) -> Iterator[Violation]:
    if lock.path.suffix.lower() == ".in":
        return
    source = lock.path.with_suffix(".in")
    if not source.is_file():
        return
    try:
        inputs = read_lock(source, LockFormat.REQUIREMENTS)
    except ReprobuildError as exc:
        yield Violation(
            message=f"cannot compare with {source.name}: {exc}",
            path=source,
            severity=Severity.WARNING,
        )
        return
    for wanted in inputs.installed():
        if wanted.source is SourceKind.REGISTRY:
            yield from _check_input(lock, source, wanted)


def check(lock: Lock) -> Iterator[Violation]:
    if lock.format is LockFormat.POETRY:
        yield from _check_poetry(lock)
    elif lock.format is LockFormat.REQUIREMENTS:
        yield from _check_requirements_in(lock)


RULE = Rule(
    code="RB107",
    name="lock-out-of-date",
    severity=Severity.ERROR,
    summary="Lock out of date with its pyproject.toml or requirements.in",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Re-lock from the current inputs",
)
