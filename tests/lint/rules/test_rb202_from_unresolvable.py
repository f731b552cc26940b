"""RB202 from-unresolvable, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding
from reprobuild.lint.rules.rb202_from_unresolvable import RULE


def lint(tmp_path: Path, text: str, build_args: dict[str, str] | None = None) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths(
        [path], config=LintConfig(root=tmp_path), rules=[RULE], build_args=build_args
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("ARG TAG\nFROM python:${TAG}\n", ["TAG"]),
        ("FROM $IMAGE\n", ["IMAGE"]),  # never declared
        ("FROM python:3.11\nARG LATE=3.12\nFROM python:$LATE\n", ["LATE"]),  # stage ARG
        ("ARG A\nARG B\nFROM $A/$B:1\n", ["A", "B"]),
        ("ARG V\nFROM img:${V:+x}${W}\n", ["W"]),
    ],
)
def test_catches(tmp_path: Path, text: str, names: list[str]) -> None:
    [finding] = lint(tmp_path, text)
    assert finding.code == "RB202"
    assert finding.line == text.count("\n")
    assert ", ".join(names) + " has no default" in finding.message


@pytest.mark.parametrize(
    "text",
    [
        "FROM python:3.11\n",
        "ARG TAG=3.11\nFROM python:${TAG}\n",
        "ARG TAG\nFROM python:${TAG:-3.11}\n",
        "ARG TAG=\nFROM python:3${TAG}\n",
        "FROM scratch\n",
    ],
)
def test_catches_not(tmp_path: Path, text: str) -> None:
    assert lint(tmp_path, text) == []


def test_build_arg_resolves_it(tmp_path: Path) -> None:
    assert lint(tmp_path, "ARG TAG\nFROM python:$TAG\n", build_args={"TAG": "3.11"}) == []
