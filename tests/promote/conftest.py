"""Fixtures for the promotion tests: ``multiarch_index`` lives in tests/registry; the
helpers in promote_helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "registry"))
sys.path.insert(0, str(Path(__file__).parent))

from registry_helpers import multiarch_index

__all__ = ["multiarch_index"]
