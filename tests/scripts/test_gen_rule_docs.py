"""scripts/gen_rule_docs.py and the rule docstrings it publishes."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from reprobuild.lint.rule import Rule, Target
from reprobuild.lint.rules import RULE_MODULES

ROOT = Path(__file__).resolve().parents[2]
HEADINGS = ["## What it does", "## Why is this bad?", "## Example", "## Fix"]
LOCK_MODULES = [m for m in RULE_MODULES if m.startswith("rb1")]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_rule_docs", ROOT / "scripts" / "gen_rule_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rule(module: str) -> Rule:
    rule = importlib.import_module(f"reprobuild.lint.rules.{module}").RULE
    assert isinstance(rule, Rule)
    return rule


@pytest.mark.parametrize("module", LOCK_MODULES)
def test_lock_rule_docstring_has_the_headings_in_order(module: str) -> None:
    rule = _rule(module)
    positions = [
        rule.doc.find(f"\n{h}\n") if i else rule.doc.find(f"{h}\n") for i, h in enumerate(HEADINGS)
    ]
    assert all(p >= 0 for p in positions), (module, positions)
    assert positions == sorted(positions)
    assert rule.code == module.split("_", 1)[0].upper()
    assert (
        rule.target is Target.LOCK
        and rule.doc == importlib.import_module(f"reprobuild.lint.rules.{module}").__doc__
    )
    assert rule.name == module.split("_", 1)[1].replace("_", "-")


def test_demote_headings_leaves_code_blocks_alone() -> None:
    text = "## What it does\nx\n```text\n# requirements.in\n## not a heading\n```\n## Fix\n"
    assert _script().demote_headings(text).splitlines() == [
        "### What it does",
        "x",
        "```text",
        "# requirements.in",
        "## not a heading",
        "```",
        "### Fix",
    ]


def test_render_lists_each_rule_with_its_doc() -> None:
    script = _script()
    rules = [_rule(m) for m in LOCK_MODULES]
    text = script.render(rules)
    for rule in rules:
        assert f"\n## {rule.code} {rule.name}\n" in text
        assert f"| [{rule.code}](#{rule.code.lower()}-{rule.name}) |" in text
    assert len(re.findall(r"^### What it does$", text, re.MULTILINE)) == len(rules)


def test_docs_rules_md_is_up_to_date(tmp_path: Path) -> None:
    script = _script()
    docs = ROOT / "docs" / "rules.md"
    assert docs.is_file(), "docs/rules.md is missing: run python scripts/gen_rule_docs.py"
    assert script.main(["--check", "--output", str(docs)]) == 0, (
        "docs/rules.md is out of date: run python scripts/gen_rule_docs.py"
    )
    stale = tmp_path / "rules.md"
    stale.write_text("old\n")
    assert script.main(["--check", "--output", str(stale)]) == 1
