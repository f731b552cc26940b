"""RB230 os-package-unpinned, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding, Severity
from reprobuild.lint.rules.rb230_os_package_unpinned import RULE

BASE = "FROM debian:12\n"


def lint(tmp_path: Path, text: str, build_args: dict[str, str] | None = None) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths(
        [path], config=LintConfig(root=tmp_path), rules=[RULE], build_args=build_args
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("RUN apt-get install -y curl\n", [(2, "curl")]),
        ("RUN apt install -y curl git=1:2.39.5-0+deb12u1\n", [(2, "curl")]),
        ("RUN apt-get -o Dpkg::Options::=--force-confnew -qq install -y curl\n", [(2, "curl")]),
        ("RUN apt-get install -y -t bookworm-backports curl/bookworm-backports\n",
         [(2, "curl/bookworm-backports")]),
        ("RUN apt-get update && apt-get install -y --no-install-recommends \\\n"
         "      ca-certificates=20230311 \\\n      libcurl4 \\\n      curl \\\n"
         " && rm -rf /var/lib/apt/lists/*\n", [(4, "libcurl4"), (5, "curl")]),
        ("RUN apk add --no-cache --virtual .deps gcc musl-dev=1.2.5-r0\n", [(2, "gcc")]),
        ("RUN dnf install -y python3 python3-3.12.4-1.fc40\n", [(2, "python3")]),
        ("RUN yum -y install gcc-c++ && yum clean all\n", [(2, "gcc-c++")]),
        ("RUN microdnf install -y shadow-utils\n", [(2, "shadow-utils")]),
        ('RUN ["apt-get", "install", "-y", "curl"]\n', [(2, "curl")]),
        ("RUN <<EOF\napt-get update\napt-get install -y \\\n  curl\nEOF\n", [(5, "curl")]),
        ("ARG PKGS=\"curl wget=1.21\"\nRUN apt-get install -y $PKGS\n", [(3, "curl")]),
        ("RUN sudo DEBIAN_FRONTEND=noninteractive apt-get install -y tzdata\n", [(2, "tzdata")]),
    ],
)
def test_catches(tmp_path: Path, run: str, expected: list[tuple[int, str]]) -> None:
    findings = lint(tmp_path, BASE + run)
    assert all(f.code == "RB230" and f.severity is Severity.WARNING for f in findings)
    assert [(f.line, f.message.split(" installs ")[1].split(" ")[0]) for f in findings] == expected


@pytest.mark.parametrize(
    "run",
    [
        "RUN apt-get update && apt-get install -y curl=7.88.1-10+deb12u7\n",
        "RUN apt-get install -y ./local.deb /tmp/other.deb\n",
        "RUN apt-get install -y $UNDECLARED_PACKAGES\n",
        "RUN apt-get remove -y curl && apt-get purge x && apt-get autoremove\n",
        "RUN apk add --no-cache bash=5.2.26-r0\n",
        "RUN apk update && apk upgrade\n",
        "RUN dnf install -y git-core-2.45.2-3.fc40 @development-tools\n",
        "RUN dnf clean all && yum makecache\n",
        "RUN echo apt-get install curl\n",
        "RUN pip install curl\n",
        "# reprobuild: ignore=RB230\nRUN apt-get install -y curl\n",
    ],
)
def test_catches_not(tmp_path: Path, run: str) -> None:
    assert lint(tmp_path, BASE + run) == []
