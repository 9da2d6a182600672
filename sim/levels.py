"""The relationship ladder (after Himmelman): what each rung needs, costs and pays.

Row 0 is "dissolved"; rows 1..5 are MODEL.md's level table. Columns are plain
NumPy arrays so the engine can index them with a whole batch's levels at once
(``NEED[level]``); the Mesa model reads the same arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LEVEL_NAMES", "NEED", "COST", "MULT", "STAKES", "N_LEVELS", "MIN_SECTORS_LEVEL_5", "SECTORS"]

#: Level names, index = level (0 = dissolved).
LEVEL_NAMES = ("dissolved", "networking", "coordination", "cooperation", "collaboration", "multisector collaboration")
N_LEVELS = 5

#: Trust needed at each level (mean trust the level "needs").
NEED = np.array([np.inf, 0.10, 0.25, 0.45, 0.65, 0.80])
#: Cost of contributing, as a share of the contributor's capacity.
COST = np.array([0.0, 0.02, 0.05, 0.10, 0.20, 0.30])
#: Benefit multiplier of a joint success.
MULT = np.array([0.0, 1.0, 2.0, 3.5, 6.0, 10.0])
#: Stakes: how much a success or failure at this level moves trust.
STAKES = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
#: Need of the next level up (inf above the top rung: nothing to climb to).
NEXT_NEED = np.append(NEED[1:], np.inf)

#: Level 5 needs active members from at least this many sectors.
MIN_SECTORS_LEVEL_5 = 3

#: Sectors an organization can belong to (index = sector code).
SECTORS = ("nonprofit", "public", "private", "community")
