"""Promotion errors. Exit code 1 means "refused" (policy) or "verification mismatch";
everything else a user can cause is exit code 2 ("could not run")."""

from __future__ import annotations

from reprobuild.errors import ReprobuildError

__all__ = ["PromotionRefused", "VerificationError"]


class PromotionRefused(ReprobuildError):
    """The promotion policy forbids this promotion; nothing was written."""

    exit_code = 1

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("promotion refused by policy: " + "; ".join(reasons))


class VerificationError(ReprobuildError):
    """Content read back from a registry is not what was promoted (or the source served
    bytes that do not match their digest). No tag was created or moved."""

    exit_code = 1
