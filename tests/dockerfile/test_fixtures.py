"""Every fixture Dockerfile gets exactly the dockerfile-core findings it announces.

A ``# expect: RB201 RB203`` comment directly above an instruction lists the codes that
instruction must get (on any of its lines); instructions without one must get none.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reprobuild.dockerfile import parse_dockerfile
from reprobuild.dockerfile.names import is_dockerfile_name
from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rules import all_rules

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dockerfiles"
CORE = {"RB201", "RB202", "RB203", "RB204", "RB220", "RB221", "RB222", "RB230", "RB240"}
_EXPECT = re.compile(r"#\s*expect:\s*(.*)$")


def _expected(path: Path) -> set[tuple[int, str]]:
    dockerfile = parse_dockerfile(path, path.read_text())
    expected: set[tuple[int, str]] = set()
    for instruction in dockerfile.instructions:
        above = dockerfile.lines[instruction.start_line - 2] if instruction.start_line > 1 else ""
        match = _EXPECT.search(above)
        if match:
            expected |= {(instruction.start_line, code) for code in match.group(1).split()}
    return expected


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.Dockerfile")), ids=lambda p: p.name)
def test_fixture_findings(path: Path) -> None:
    rules = [r for r in all_rules() if r.code in CORE]
    result = lint_paths([path], config=LintConfig(root=path.parent), rules=rules)
    assert not result.errors, [str(e) for e in result.errors]
    dockerfile = parse_dockerfile(path, path.read_text())
    got: set[tuple[int, str]] = set()
    for finding in result.findings:
        assert finding.line is not None
        [instruction] = [
            i for i in dockerfile.instructions if i.start_line <= finding.line <= i.end_line
        ]
        got.add((instruction.start_line, finding.code))
    assert got == _expected(path)


def test_every_core_rule_has_a_fixture_case() -> None:
    announced = set().union(
        *({code for _, code in _expected(p)} for p in FIXTURES.glob("*.Dockerfile"))
    )
    assert announced == CORE


@pytest.mark.parametrize(
    "path",
    sorted(p for p in FIXTURES.rglob("*") if is_dockerfile_name(p.name)),
    ids=lambda p: p.relative_to(FIXTURES).as_posix(),
)
def test_every_fixture_parses_with_lines_in_range(path: Path) -> None:
    text = path.read_text()
    dockerfile = parse_dockerfile(path, text)
    assert dockerfile.instructions
    for instruction in dockerfile.instructions:
        assert 1 <= instruction.start_line <= instruction.end_line <= len(dockerfile.lines)
        for command in instruction.shell_commands():
            assert instruction.start_line <= instruction.line_in(command) <= instruction.end_line
