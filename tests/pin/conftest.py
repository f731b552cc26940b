"""Fixtures for the pin tests: the in-memory registry and ``multiarch_index`` live in
tests/registry."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "registry"))

from registry_helpers import multiarch_index

__all__ = ["multiarch_index"]
