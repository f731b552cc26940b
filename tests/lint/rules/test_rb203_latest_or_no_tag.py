"""RB203 latest-or-no-tag, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding, Severity
from reprobuild.lint.rules.rb203_latest_or_no_tag import RULE

DIGEST = "@sha256:" + "b" * 64


def lint(tmp_path: Path, text: str, build_args: dict[str, str] | None = None) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths(
        [path], config=LintConfig(root=tmp_path), rules=[RULE], build_args=build_args
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("FROM ubuntu\n", "has no tag"),
        ("FROM node:latest\n", "`latest`"),
        ("FROM node:latest" + DIGEST + "\n", "`latest`"),
        ("FROM gcr.io/distroless/static" + DIGEST + "\n", "has no tag"),
        ("FROM localhost:5000/img\n", "has no tag"),  # the port is not a tag
        ("ARG IMG=ubuntu\nFROM $IMG AS x\n", "has no tag"),
    ],
)
def test_catches(tmp_path: Path, text: str, problem: str) -> None:
    [finding] = lint(tmp_path, text)
    assert finding.code == "RB203" and finding.severity is Severity.WARNING
    assert problem in finding.message


@pytest.mark.parametrize(
    "text",
    [
        "FROM ubuntu:24.04\n",
        "FROM ubuntu:24.04" + DIGEST + "\n",
        "FROM localhost:5000/img:1.0\n",
        "FROM scratch\n",
        "FROM ubuntu:24.04 AS base\nFROM base\n",
        "ARG TAG\nFROM ubuntu:$TAG\n",
    ],
)
def test_catches_not(tmp_path: Path, text: str) -> None:
    assert lint(tmp_path, text) == []
