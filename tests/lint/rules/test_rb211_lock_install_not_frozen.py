"""RB211 lock-install-not-frozen, through the engine (suppressions and severities apply)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding, Severity
from reprobuild.lint.rules.rb211_lock_install_not_frozen import RULE

CODE = "RB211"


def lint(root: Path, dockerfile: str) -> list[Finding]:
    path = root / "Dockerfile"
    path.write_text(textwrap.dedent(dockerfile))
    result = lint_paths([path], config=LintConfig(root=root), rules=[RULE])
    assert not result.errors, [str(e) for e in result.errors]
    assert all(f.code == CODE for f in result.findings)
    return result.findings


def with_header(*runs: str) -> str:
    return "FROM python:3.11\nCOPY . /app\nWORKDIR /app\n" + "".join(f"{r}\n" for r in runs)


# Each case: a Dockerfile and the physical lines RB211 must flag as errors.
CATCHES = {
    "uv-sync": (with_header("RUN uv sync"), [4]),
    "uv-sync-options": (with_header("RUN uv sync --no-dev --no-install-project"), [4]),
    "uv-sync-python-m": (with_header("RUN python -m uv sync"), [4]),
    "uv-lock": (with_header("RUN uv lock"), [4]),
    "uv-export-no-hashes": (with_header("RUN uv export --frozen --no-hashes -o r.txt"), [4]),
    "poetry-install": (with_header("RUN poetry install --no-root"), [4]),
    "poetry-sync": (with_header("RUN poetry sync"), [4]),
    "poetry-check-after": (with_header("RUN poetry install && poetry check --lock"), [4]),
    "poetry-export-without-hashes": (
        with_header("RUN poetry export --without-hashes -f requirements.txt -o r.txt"), [4]),
    "poetry-lock": (with_header("RUN poetry lock"), [4]),
    "poetry-update": (with_header("RUN poetry -C /app update"), [4]),
    "pipenv-install": (with_header("RUN pipenv install --system"), [4]),
    "pipenv-lock": (with_header("RUN pipenv lock"), [4]),
    "pdm-install": (with_header("RUN pdm install --prod"), [4]),
    "pdm-frozen-lockfile": (with_header("RUN pdm install --frozen-lockfile"), [4]),
    "pdm-lock": (with_header("RUN pdm lock"), [4]),
    "json-form": (with_header('RUN ["uv", "sync", "--no-dev"]'), [4]),
    "sudo-env": (with_header("RUN sudo env UV_COMPILE_BYTECODE=1 uv sync"), [4]),
    "and-chain-second": (
        with_header("RUN pip install --require-hashes --no-deps -r r.txt && uv sync"), [4]),
    "continuation": (
        with_header("RUN --mount=type=cache,target=/root/.cache/uv \\", "    uv sync \\",
                    "      --no-dev"),
        [5],
    ),
    "heredoc": (with_header("RUN <<EOF", "set -e", "uv sync --no-dev", "EOF"), [6]),
    "env-false": (with_header("ENV UV_FROZEN=0", "RUN uv sync"), [5]),
}

CATCHES_NOT = {
    "uv-sync-locked": with_header("RUN uv sync --locked --no-dev"),
    "uv-sync-frozen": with_header("RUN uv sync --frozen"),
    "uv-env-locked": with_header("ENV UV_LOCKED=1", "RUN uv sync"),
    "uv-inline-frozen": with_header("RUN UV_FROZEN=true uv sync"),
    "uv-parent-stage-env": (
        "FROM python:3.11 AS base\nENV UV_FROZEN=1\nFROM base\nRUN uv sync\n"),
    "uv-lock-check": with_header("RUN uv lock --check"),
    "uv-export-hashes": with_header("RUN uv export --frozen -o r.txt"),
    "uv-run-frozen": with_header("RUN uv run --frozen python -c 'import app'"),
    "uv-run-no-sync": with_header("RUN uv run --no-sync manage.py collectstatic"),
    "poetry-check-first": with_header("RUN poetry check --lock && poetry install --no-root"),
    "poetry-check-earlier-run": with_header("RUN poetry check --lock", "RUN poetry install"),
    "poetry-lock-check-old": with_header("RUN poetry lock --check && poetry install"),
    "poetry-export-hashes": with_header("RUN poetry export -f requirements.txt -o r.txt"),
    "pipenv-deploy": with_header("RUN pipenv install --system --deploy"),
    "pipenv-ignore-pipfile": with_header("RUN pipenv install --ignore-pipfile"),
    "pipenv-sync": with_header("RUN pipenv sync"),
    "pipenv-named-is-rb210": with_header("RUN pipenv install requests"),
    "pdm-check": with_header("RUN pdm install --check --prod"),
    "pdm-sync": with_header("RUN pdm sync --prod"),
    "suppressed": with_header("# reprobuild: ignore=RB211", "RUN uv sync"),
    "not-a-call": with_header("RUN echo uv sync && pip install -r r.txt"),
}


@pytest.mark.parametrize("name", sorted(CATCHES))
def test_catches(tmp_path: Path, name: str) -> None:
    dockerfile, lines = CATCHES[name]
    found = lint(tmp_path, dockerfile)
    assert [(f.line, f.severity) for f in found] == [(n, Severity.ERROR) for n in lines], [
        f.message for f in found
    ]


@pytest.mark.parametrize("name", sorted(CATCHES_NOT))
def test_catches_not(tmp_path: Path, name: str) -> None:
    found = lint(tmp_path, CATCHES_NOT[name])
    assert found == [], [f.message for f in found]


def test_uv_run_without_frozen_is_a_warning(tmp_path: Path) -> None:
    [finding] = lint(tmp_path, with_header("RUN uv run python -m compileall ."))
    assert finding.severity is Severity.WARNING
    assert finding.line == 4


def test_poetry_check_in_another_stage_does_not_count(tmp_path: Path) -> None:
    found = lint(
        tmp_path,
        "FROM python:3.11 AS a\nRUN poetry check --lock\nFROM python:3.11\nRUN poetry install\n",
    )
    assert [f.line for f in found] == [4]


def test_pdm_frozen_lockfile_message_explains(tmp_path: Path) -> None:
    [finding] = lint(tmp_path, with_header("RUN pdm install --frozen-lockfile"))
    assert "--frozen-lockfile" in finding.message and "pdm sync" in finding.message


def test_docstring_has_the_documentation_sections() -> None:
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
        assert heading in RULE.doc
