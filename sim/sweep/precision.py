"""Replicates by precision: add runs cell by cell until each cell's interval is narrow enough.

A ``[precision]`` spec names an ``outcome`` (one of
:data:`sim.engine.SUMMARY_OUTCOMES`), a target ``half_width`` of its
``confidence`` interval and a ``max_replicates`` cap. Round 0 runs
``min_replicates`` per cell. After each round every cell whose half-width is
still too wide (and below the cap) gets more replicates: the count the
current spread says it needs (``n (h / target)^2``, plus 10 %), at least a
quarter more and at most four times as many, never above the cap.

Intervals: Wilson's score interval for a boolean outcome (``dissolved``), which
stays honest near 0 and 1 where the normal interval collapses to zero width;
Student's t for the others. NaN outcomes (``final_trust`` of a dissolved run,
``first_step_level_k`` never reached) are left out, so a cell with fewer than
two values is never "precise".

Everything is computed from the finished rounds' run tables sorted by
``run_id``, so the decision (and hence every round) is the same however the
rounds were chunked, executed or resumed; and a cell's ``k``-th replicate has
the same ``run_id`` and seed in any round.

Stopping when an interval first looks narrow makes it slightly optimistic
(optional stopping); ``min_replicates`` of 20 or more keeps that small.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .spec import Precision

__all__ = ["cell_half_widths", "next_targets"]


def cell_half_widths(cell: np.ndarray, values: np.ndarray, n_cells: int, precision: Precision) -> np.ndarray:
    """Half-width of each cell's ``precision.confidence`` interval for the mean of ``values``.

    ``cell`` and ``values`` are per run, in ``run_id`` order. Cells with fewer
    than two values get ``inf``.
    """
    values = np.asarray(values)
    boolean = values.dtype == bool
    v = values.astype(np.float64)
    ok = ~np.isnan(v)
    n = np.bincount(cell[ok], minlength=n_cells).astype(np.float64)
    s1 = np.bincount(cell[ok], weights=v[ok], minlength=n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        if boolean:
            z = stats.norm.ppf(0.5 + precision.confidence / 2)
            hw = z / (1 + z * z / n) * np.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n))
        else:
            dev = v[ok] - mean[cell[ok]]
            ss = np.bincount(cell[ok], weights=dev * dev, minlength=n_cells)
            sd = np.sqrt(ss / (n - 1))
            hw = stats.t.ppf(0.5 + precision.confidence / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    return np.where(n >= 2, hw, np.inf)


def next_targets(counts: np.ndarray, half_width: np.ndarray, precision: Precision) -> np.ndarray:
    """Replicates each cell should have after the next round (equal to ``counts`` when it is done)."""
    counts = np.asarray(counts, dtype=np.int64)
    cap = precision.max_replicates
    done = (half_width <= precision.half_width) | (counts >= cap)
    with np.errstate(invalid="ignore", over="ignore"):
        need = np.ceil(counts * (half_width / precision.half_width) ** 2 * 1.1)
    need = np.where(np.isfinite(need), need, 4 * counts)
    grow = np.clip(need, counts + np.maximum(1, counts // 4), 4 * counts)
    target = np.minimum(grow, cap).astype(np.int64)
    return np.where(done, counts, target)
