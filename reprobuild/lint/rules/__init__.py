"""The registry of lint rules: one module per rule code, listed here explicitly.

Modules are imported on first use (``all_rules()``), so CLI start-up stays light.
"""

from __future__ import annotations

import importlib
from functools import cache

from reprobuild.lint.rule import Rule, Target

__all__ = ["KNOWN_CODES", "RULE_MODULES", "all_rules", "get_rule", "rules_for"]

LOCK_RULE_MODULES: tuple[str, ...] = (
    "rb101_missing_hash",
    "rb102_unpinned_requirement",
    "rb103_vcs_not_pinned_to_commit",
    "rb104_url_without_hash",
    "rb105_local_or_editable",
    "rb106_unsafe_index",
    "rb107_lock_out_of_date",
    "rb108_weak_hash_only",
    "rb109_sdist_only",
)
DOCKERFILE_RULE_MODULES: tuple[str, ...] = (
    "rb201_from_not_pinned",
    "rb202_from_unresolvable",
    "rb203_latest_or_no_tag",
    "rb204_external_image_not_pinned",
    "rb210_pip_install_bypasses_lock",
    "rb211_lock_install_not_frozen",
    "rb212_conda_install_unlocked",
    "rb220_add_url_unverified",
    "rb221_download_unverified",
    "rb222_git_clone_unpinned",
    "rb230_os_package_unpinned",
    "rb240_secret_in_arg_env",
)


RULE_MODULES: tuple[str, ...] = LOCK_RULE_MODULES + DOCKERFILE_RULE_MODULES
_MODULES_BY_TARGET = {Target.LOCK: LOCK_RULE_MODULES, Target.DOCKERFILE: DOCKERFILE_RULE_MODULES}


def code_of(module: str) -> str:
    """``rb101_missing_hash`` -> ``RB101`` (a test checks every RULE.code agrees)."""
    return module.split("_", 1)[0].upper()


KNOWN_CODES: frozenset[str] = frozenset(code_of(m) for m in RULE_MODULES)
"""Every rule code, known without importing a rule (config validation stays cheap)."""


@cache
def rules_for(target: Target) -> tuple[Rule, ...]:
    """The rules of one target; linting only lockfiles never imports the Dockerfile rules."""
    rules: list[Rule] = []
    for name in _MODULES_BY_TARGET[target]:
        module = importlib.import_module(f"{__name__}.{name}")
        rule = module.RULE
        if not isinstance(rule, Rule) or rule.target is not target:
            raise TypeError(f"{name}.RULE is not a {target.value} Rule")
        rules.append(rule)
    return tuple(rules)


def all_rules() -> tuple[Rule, ...]:
    return rules_for(Target.LOCK) + rules_for(Target.DOCKERFILE)


def get_rule(code: str) -> Rule | None:
    code = code.strip().upper()
    return next((r for r in all_rules() if r.code == code), None)
