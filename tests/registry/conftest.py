"""Fixtures for the registry tests: ``multiarch_index`` (see registry_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from registry_helpers import multiarch_index

__all__ = ["multiarch_index"]
