"""Promotion policy, kpromo-style: which repositories may be promoted from and to, which
tags may be written and which are immutable, and whether a ``reprobuild image`` record
with a passing lint is required.

Read from ``promotion.toml`` (top level is the policy; next to the project config, or
given with ``--policy``) or from ``[tool.reprobuild.promotion]`` — not both::

    sources = ["registry.lan/staging/*"]        # globs on registry/repository
    destinations = ["registry.lan/prod/*", "mirror.lan:5000/*"]
    require-record = true
    tag-patterns = ["v[0-9]*", "latest"]          # globs; default: any tag
    immutable-tags = ["v*"]                       # default: every tag ("*")
    audit-log = ".reprobuild/promotions.jsonl"    # relative to the policy's directory
    mirror-registry = "mirror.lan:5000"           # for `reprobuild mirror`

No policy at all allows every promotion, with every tag immutable.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprobuild.config import ProjectConfig
from reprobuild.errors import ConfigError
from reprobuild.promote.plan import Destination, Plan, TagAction
from reprobuild.promote.source import PromotionSource

__all__ = ["POLICY_FILE", "PromotionPolicy", "load_policy"]

POLICY_FILE = "promotion.toml"
DEFAULT_AUDIT_LOG = ".reprobuild/promotions.jsonl"
_KEYS = frozenset(
    {
        "sources",
        "destinations",
        "require-record",
        "tag-patterns",
        "immutable-tags",
        "audit-log",
        "mirror-registry",
    }
)


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    where: str
    """Where the policy came from, for messages."""
    sources: tuple[str, ...] | None = None
    destinations: tuple[str, ...] | None = None
    require_record: bool = False
    tag_patterns: tuple[str, ...] | None = None
    immutable_tags: tuple[str, ...] = ("*",)
    audit_log: Path = Path(DEFAULT_AUDIT_LOG)
    mirror_registry: str | None = None

    def check_request(
        self, source: PromotionSource, destinations: Sequence[Destination]
    ) -> list[str]:
        """Reasons to refuse, from the request alone (no registry access)."""
        reasons: list[str] = []
        name = source.ref.name
        if self.sources is not None and not _matches(name, self.sources):
            reasons.append(f"source {name} is not in {self.where}sources")
        for dest in destinations:
            if self.destinations is not None and not _matches(dest.repo.name, self.destinations):
                reasons.append(f"destination {dest.repo.name} is not in {self.where}destinations")
            if (
                dest.tag is not None
                and self.tag_patterns is not None
                and not _matches(dest.tag, self.tag_patterns)
            ):
                reasons.append(f"tag {dest.tag!r} matches no {self.where}tag-patterns")
        if self.require_record:
            record = source.record
            if record is None:
                reasons.append(
                    f"{self.where}require-record: promote a `reprobuild image` record file, "
                    "not a bare digest"
                )
            elif record.lint_counts is None:
                reasons.append(f"{record.path}: the record has no lint result")
            elif not record.lint_passed:
                reasons.append(
                    f"{record.path}: lint did not pass "
                    f"({record.lint_counts.get('error', 0)} errors)"
                )
        return reasons

    def check_plan(self, plan: Plan, *, allow_retag: bool) -> list[str]:
        """Reasons to refuse that need the destination's state: re-pointed tags."""
        if allow_retag:
            return []
        return [
            f"{dest.repo.name}:{tag.tag} points at {tag.current}; it is immutable "
            f"({self.where}immutable-tags); use --allow-retag to re-point it"
            for dest in plan.destinations
            for tag in dest.tags
            if tag.action is TagAction.RETAG and _matches(tag.tag, self.immutable_tags)
        ]


def load_policy(project: ProjectConfig, policy_file: Path | None = None) -> PromotionPolicy:
    """``policy_file``, else ``promotion.toml`` in the project directory, else the
    ``promotion`` table of the project config, else the permissive default."""
    table_present = isinstance(project.table.get("promotion"), dict)
    if policy_file is None:
        candidate = project.root / POLICY_FILE
        if candidate.is_file():
            if table_present:
                raise ConfigError(
                    f"{candidate} and {project.where('promotion')} both define the promotion "
                    "policy; keep one"
                )
            policy_file = candidate
    if policy_file is not None:
        table = _read_toml(policy_file)
        return _from_table(table, where=f"{policy_file}: ", root=policy_file.parent)
    return _from_table(
        project.section("promotion"), where=project.where("promotion") + ".", root=project.root
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the policy: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _from_table(table: dict[str, Any], *, where: str, root: Path) -> PromotionPolicy:
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}{unknown[0]}: unknown key; expected one of {', '.join(sorted(_KEYS))}"
        )
    require = table.get("require-record", False)
    if not isinstance(require, bool):
        raise ConfigError(f"{where}require-record must be true or false")
    audit = table.get("audit-log", DEFAULT_AUDIT_LOG)
    if not isinstance(audit, str) or not audit:
        raise ConfigError(f"{where}audit-log must be a path")
    mirror = table.get("mirror-registry")
    if mirror is not None and (not isinstance(mirror, str) or not mirror):
        raise ConfigError(f"{where}mirror-registry must be a registry host[/prefix]")
    immutable = _globs(table, "immutable-tags", where)
    return PromotionPolicy(
        where=where,
        sources=_globs(table, "sources", where),
        destinations=_globs(table, "destinations", where),
        require_record=require,
        tag_patterns=_globs(table, "tag-patterns", where),
        immutable_tags=("*",) if immutable is None else immutable,
        audit_log=root / audit,
        mirror_registry=mirror,
    )


def _globs(table: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}{key} must be a list of glob patterns (strings)")
    return tuple(value)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
