"""The model's version: bumped whenever a change alters any run's numbers.

Sweeps record it in their manifest and refuse to resume a folder written under
another one; ``sim.MODEL_VERSION`` re-exports it. This module imports nothing,
so the sweep and the manifest can read it without importing the package front.
"""

from __future__ import annotations

__all__ = ["MODEL_VERSION"]

#: Bumped whenever a change alters any run's numbers (sweeps record it to refuse a stale resume).
MODEL_VERSION = "5"
