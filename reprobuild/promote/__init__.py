"""Registry promotion strictly by digest (``reprobuild promote``) and base-image
mirroring (``reprobuild mirror``).

Modules: :mod:`.source` (what to promote: a digest reference or a ``reprobuild image``
record), :mod:`.plan` (what must move, read-only), :mod:`.copy` (moves it, verifies, tags),
:mod:`.policy` (``promotion.toml`` / ``[tool.reprobuild.promotion]``), :mod:`.audit`
(the JSON-lines log) and :mod:`.mirror`. They import httpx through the registry client,
so nothing on the ``reprobuild lint`` path imports this package.
"""

from __future__ import annotations

from reprobuild.promote.errors import PromotionRefused, VerificationError

__all__ = ["PromotionRefused", "VerificationError"]
