"""RB201 from-not-pinned, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding, FixAvailability
from reprobuild.lint.rules.rb201_from_not_pinned import RULE

DIGEST = "@sha256:" + "a" * 64


def lint(tmp_path: Path, text: str, build_args: dict[str, str] | None = None) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths(
        [path], config=LintConfig(root=tmp_path), rules=[RULE], build_args=build_args
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("FROM python:3.11-slim\n", [1]),
        ("FROM ubuntu\n", [1]),
        ("FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM build\n", [1]),
        ("ARG BASE=python:3.11\nFROM ${BASE}\n", [2]),
        ("FROM python:3.11@sha256:abc\n", [1]),  # not a full digest
        ("FROM python:3.11@sha512:" + "a" * 128 + "\n", [1]),  # reprobuild pins sha256
        ("FROM \\\n    python:3.11\n", [2]),  # the physical line of the image
        ("FROM a:1" + DIGEST + " AS one\nFROM one\nFROM two:2\n", [3]),
        ("FROM localhost:5000/team/img:1.0\n", [1]),
    ],
)
def test_catches(tmp_path: Path, text: str, lines: list[int]) -> None:
    findings = lint(tmp_path, text)
    assert [f.line for f in findings] == lines
    assert all(f.code == "RB201" and f.fix_title for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        "FROM python:3.11-slim" + DIGEST + "\n",
        "FROM python" + DIGEST + "\n",  # no tag is RB203's business
        "FROM scratch\n",
        "FROM SCRATCH\n",
        "FROM python:3.11" + DIGEST + " AS Builder\nFROM builder\nFROM BUILDER AS again\n",
        "ARG BASE=python:3.11" + DIGEST + "\nFROM $BASE\n",
        "ARG TAG\nFROM python:$TAG\n",  # unresolvable: RB202
        "# reprobuild: ignore=RB201\nFROM python:3.11\n",
    ],
)
def test_catches_not(tmp_path: Path, text: str) -> None:
    assert lint(tmp_path, text) == []


def test_build_args_win_over_defaults(tmp_path: Path) -> None:
    text = "ARG BASE=python:3.11" + DIGEST + "\nFROM ${BASE}\n"
    [finding] = lint(tmp_path, text, build_args={"BASE": "python:3.12"})
    assert "python:3.12 (from ${BASE})" in finding.message
    assert lint(tmp_path, "ARG TAG\nFROM python:$TAG\n", build_args={"TAG": "3.12" + DIGEST}) == []


def test_suppression_above_a_continued_from(tmp_path: Path) -> None:
    text = "# reprobuild: ignore=RB201\nFROM \\\n  python:3.11\n"
    assert lint(tmp_path, text) == []


def test_metadata() -> None:
    assert RULE.fix is FixAvailability.SOMETIMES
    assert RULE.fix_title == "run `reprobuild pin` (or `reprobuild lint --fix`)"
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
        assert heading in RULE.doc
