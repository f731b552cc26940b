"""``promote``: resolve the source, check the policy, plan, copy, verify, tag, audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reprobuild.errors import ReprobuildError
from reprobuild.promote.audit import AuditEntry, append_entry
from reprobuild.promote.copy import DEFAULT_WORKERS, PromotionResult, execute
from reprobuild.promote.errors import PromotionRefused, VerificationError
from reprobuild.promote.plan import Plan, make_plan, parse_destinations
from reprobuild.promote.policy import PromotionPolicy
from reprobuild.promote.source import PromotionSource, resolve_source
from reprobuild.registry.errors import DigestMismatchError

if TYPE_CHECKING:
    from reprobuild.registry.client import RegistryClient

__all__ = ["PromoteOptions", "promote"]


@dataclass(frozen=True, slots=True)
class PromoteOptions:
    dry_run: bool = False
    allow_retag: bool = False
    resolve_tag: bool = False
    workers: int = DEFAULT_WORKERS
    audit: bool = True


def promote(
    source_text: str,
    destination_texts: Sequence[str],
    *,
    policy: PromotionPolicy,
    source_client: RegistryClient,
    dest_client: RegistryClient | None = None,
    options: PromoteOptions = PromoteOptions(),
) -> Plan | PromotionResult:
    """The plan under ``dry_run``, else the result. Every real attempt (done, refused or
    failed) is appended to the policy's audit log."""
    dest_client = dest_client or source_client
    destinations = parse_destinations(destination_texts)
    source = resolve_source(source_text, source_client, resolve_tag=options.resolve_tag)
    names = tuple(d.text for d in destinations)

    def audit(result: str, detail: str = "", changes: dict[str, int] | None = None) -> None:
        if options.audit and not options.dry_run:
            append_entry(policy.audit_log, _entry(source, names, result, detail, changes or {}))

    try:
        reasons = policy.check_request(source, destinations)
        if reasons:
            raise PromotionRefused(reasons)
        plan = make_plan(source, destinations, source_client=source_client, dest_client=dest_client)
        reasons = policy.check_plan(plan, allow_retag=options.allow_retag)
        if reasons:
            raise PromotionRefused(reasons)
        if options.dry_run:
            return plan
        result = execute(
            plan, source_client=source_client, dest_client=dest_client, workers=options.workers
        )
    except PromotionRefused as exc:
        audit("refused", str(exc))
        raise
    except VerificationError as exc:
        audit("failed", f"verification: {exc}")
        raise
    except DigestMismatchError as exc:  # the source served bytes that are not its digest
        audit("failed", f"verification: {exc}")
        raise VerificationError(str(exc)) from None
    except ReprobuildError as exc:
        audit("failed", str(exc))
        raise
    audit(
        "promoted" if result.changed else "unchanged",
        changes={
            "blobs_copied": result.blobs_copied,
            "blobs_mounted": result.blobs_mounted,
            "bytes_copied": result.bytes_copied,
            "manifests_put": result.manifests_put,
            "tags_applied": len(result.tags_applied),
        },
    )
    return result


def _entry(
    source: PromotionSource,
    destinations: tuple[str, ...],
    result: str,
    detail: str,
    changes: dict[str, int],
) -> AuditEntry:
    return AuditEntry(
        source=source.ref.canonical,
        destinations=destinations,
        digest=source.digest,
        result=result,
        detail=detail,
        record=str(source.record.path) if source.record else None,
        resolved_from=source.resolved_from,
        changes=changes,
    )
