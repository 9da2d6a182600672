"""The crossover as a region with uncertainty: where a difference between two arms changes sign along x.

"Forcing pays from initial trust 0.85" is a statement about the zero of a
curve: the mean of forced-minus-counterfactual benefit as a function of
initial trust. Here that zero is estimated by linear interpolation between
the two design levels where the mean difference changes sign, and its
uncertainty by a bootstrap over replicates:

- the **estimate** is the first sign change of the mean-difference curve
  along ``x`` (``status = "crossing"``, with its ``direction``: "up" when
  the difference turns positive as x grows); when the curve does not change
  sign within the range, ``status`` is ``"always"`` (positive at every
  level) or ``"never"`` (at no level positive);
- each **bootstrap** sample resamples the replicates (the pairs) of every
  level, and recomputes the curve and its first crossing. When the runs are
  paired across the x levels as well (common random numbers: replicate r of
  every level ran with one seed), the replicates are resampled jointly, the
  same draw for every level, which keeps the correlation between levels;
  otherwise each level is resampled on its own;
- the **interval** is the percentile interval of the crossings, where a
  sample with no crossing counts as beyond the end of the range on the side
  that its status implies (for an upward crossing "always" lies below the
  range, "never" above): a bound of ``-inf`` / ``+inf`` says that "no
  crossing in the range" is within the interval. ``share_never`` and
  ``share_always`` report how often the bootstrap found no crossing.

The crossing of a curve with several sign changes is its first; such a curve
is reported with ``n_sign_changes > 1`` and should be read as a picture, not a
threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .data import AnalysisError, as_results, check_outcome, factor_names
from .paired import pair_runs
from .stats import _check_level, _check_resamples, cell_groups, cell_seed

__all__ = ["Crossover", "crossover", "crossover_table", "first_crossing"]

# Bootstrap memory: resamples x observations per batch.
_MAX_BATCH_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Crossover:
    """Where a difference curve changes sign along x, with a bootstrap interval.

    Attributes
    ----------
    status : str
        ``"crossing"``, ``"always"`` (positive at every level) or ``"never"``
        (positive at none).
    estimate : float
        The interpolated zero (NaN unless ``status == "crossing"``).
    low, high : float
        Percentile interval of the bootstrap crossings; ``-inf``/``+inf``
        where "below the range"/"beyond the range" (no crossing) is inside it.
    direction : str
        ``"up"`` (the difference turns positive as x grows) or ``"down"``.
    n_sign_changes : int
        Sign changes of the estimated curve.
    share_never, share_always : float
        Shares of bootstrap samples whose curve is positive nowhere / everywhere.
    x_min, x_max : float
        The range of x.
    levels : int
        Distinct x values.
    n : int
        Observations (pairs).
    joint : bool
        Whether replicates were resampled jointly across the levels (paired across x).
    n_resamples : int
    confidence_level : float
    """

    status: str
    estimate: float
    low: float
    high: float
    direction: str
    n_sign_changes: int
    share_never: float
    share_always: float
    x_min: float
    x_max: float
    levels: int
    n: int
    joint: bool
    n_resamples: int
    confidence_level: float

    @property
    def share_no_crossing(self) -> float:
        return self.share_never + self.share_always

    def __str__(self) -> str:
        def bound(v: float) -> str:
            if v == -np.inf:
                return f"below {self.x_min:g}"
            if v == np.inf:
                return f"beyond {self.x_max:g}"
            return f"{v:.3g}"

        pct = f"{100 * self.confidence_level:g} %"
        if self.status == "crossing":
            head = f"{self.estimate:.3g} ({direction_text(self.direction)})"
        else:
            head = f"{self.status} in {self.x_min:g}..{self.x_max:g}"
        return (f"{head}, {pct} interval {bound(self.low)} to {bound(self.high)}; "
                f"no crossing in {100 * self.share_no_crossing:.0f} % of bootstrap samples")


def direction_text(direction: str) -> str:
    return "positive above" if direction == "up" else "positive below"


def first_crossing(x: np.ndarray, curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First sign change of each curve (rows of ``curves``, values at sorted ``x``).

    "Positive" is ``> 0``; a change is between a positive level and a
    non-positive one, and the zero is interpolated linearly between them (a
    level exactly at 0 is the crossing itself).

    Returns
    -------
    crossing : ndarray
        The interpolated zero (NaN where the curve has no sign change).
    direction : ndarray of int
        +1 (turns positive as x grows), -1, or 0 (no sign change).
    changes : ndarray of int
        Number of sign changes of each curve.
    """
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    pos = curves > 0
    change = pos[:, 1:] != pos[:, :-1]
    has = change.any(axis=1)
    j = np.argmax(change, axis=1)  # first change is between levels j and j + 1
    rows = np.arange(curves.shape[0])
    y0, y1 = curves[rows, j], curves[rows, j + 1]
    x0, x1 = x[j], x[j + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(y1 != y0, (0.0 - y0) / (y1 - y0), 0.0)
    crossing = np.where(has, x0 + np.clip(frac, 0.0, 1.0) * (x1 - x0), np.nan)
    direction = np.where(has, np.where(pos[rows, j + 1], 1, -1), 0)
    return crossing, direction, change.sum(axis=1)


def _check_direction(direction: str) -> None:
    if direction not in ("up", "down"):
        raise AnalysisError(f"direction = {direction!r} is not allowed (allowed: up, down)")


def crossover(x: Sequence[float] | np.ndarray, difference: Sequence[float] | np.ndarray, *,
              replicate: Sequence[Any] | np.ndarray | None = None, direction: str = "up",
              confidence_level: float = 0.95, n_resamples: int = 2000,
              seed: int | np.random.Generator = 0) -> Crossover:
    """Interpolated zero of the mean of ``difference`` along ``x``, with a bootstrap interval.

    Parameters
    ----------
    x : array_like
        The level of each observation (e.g. initial trust); at least two distinct values.
    difference : array_like
        One value per observation: a paired difference (forced minus
        counterfactual for one replicate), or any per-run value whose mean
        curve's zero is wanted. NaN observations are dropped.
    replicate : array_like, optional
        Replicate of each observation. Given, the replicates are resampled
        jointly across the levels (observations of one replicate stay
        together: runs paired across x by common random numbers). Omitted,
        each level's observations are resampled on their own.
    direction : {"up", "down"}
        Which side of the range a sample without a crossing lies on when the
        estimate itself has none: "up" (the default) reads the difference as
        turning positive as x grows, so "always" is below the range and
        "never" beyond it. With a crossing, its own direction is used.
    confidence_level, n_resamples, seed
        Of the percentile bootstrap.

    Returns
    -------
    Crossover
    """
    _check_level(confidence_level)
    _check_resamples(n_resamples)
    _check_direction(direction)
    xs = np.asarray(x, dtype=float).reshape(-1)
    d = np.asarray(difference, dtype=float).reshape(-1)
    if xs.shape != d.shape:
        raise AnalysisError(f"x and difference must be of one length (got {xs.size} and {d.size})")
    reps = None if replicate is None else np.asarray(replicate).reshape(-1)
    if reps is not None and reps.shape != xs.shape:
        raise AnalysisError(f"replicate must be of the length of x (got {reps.size} and {xs.size})")
    ok = ~(np.isnan(xs) | np.isnan(d))
    xs, d = xs[ok], d[ok]
    reps = None if reps is None else reps[ok]
    levels, li = np.unique(xs, return_inverse=True)
    if levels.size < 2:
        raise AnalysisError(f"a crossover needs at least two distinct x values (got {levels.size})")
    counts = np.bincount(li, minlength=levels.size)
    curve = np.bincount(li, weights=d, minlength=levels.size) / counts
    est, est_dir, est_changes = first_crossing(levels, curve[None, :])
    status = "crossing" if est_dir[0] != 0 else ("always" if (curve > 0).all() else "never")
    dir_sign = int(est_dir[0]) if est_dir[0] != 0 else (1 if direction == "up" else -1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    boot = _bootstrap_curves(li, d, levels.size, counts, reps, n_resamples, rng)
    cross, _, _ = first_crossing(levels, boot)
    always = (boot > 0).all(axis=1)
    never = ~(boot > 0).any(axis=1)
    # No crossing: "always" positive lies on the side where x is not yet positive for an upward curve.
    ext = cross.copy()
    ext[always] = -np.inf if dir_sign > 0 else np.inf
    ext[never] = np.inf if dir_sign > 0 else -np.inf
    alpha = 1 - confidence_level
    low, high = np.quantile(ext, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return Crossover(status, float(est[0]), float(low), float(high), "up" if dir_sign > 0 else "down",
                     int(est_changes[0]), float(never.mean()), float(always.mean()), float(levels[0]),
                     float(levels[-1]), int(levels.size), int(d.size), reps is not None, int(n_resamples),
                     float(confidence_level))


def _bootstrap_curves(li: np.ndarray, d: np.ndarray, n_levels: int, counts: np.ndarray, reps: np.ndarray | None,
                      n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Mean-difference curves of ``n_resamples`` bootstrap samples, shape (n_resamples, n_levels)."""
    out = np.empty((n_resamples, n_levels))
    if reps is None:
        # Each level on its own: draw its observations with replacement.
        order = np.argsort(li, kind="stable")
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        sorted_d = d[order]
        for lvl in range(n_levels):
            vals = sorted_d[starts[lvl]:starts[lvl] + counts[lvl]]
            batch = max(1, _MAX_BATCH_ELEMENTS // max(vals.size, 1))
            for lo in range(0, n_resamples, batch):
                hi = min(n_resamples, lo + batch)
                out[lo:hi, lvl] = vals[rng.integers(0, vals.size, (hi - lo, vals.size))].mean(axis=1)
        return out
    # Jointly: one draw of replicate ids applies to every level.
    ids, ri = np.unique(reps, return_inverse=True)
    sums = np.zeros((n_levels, ids.size))
    have = np.zeros((n_levels, ids.size))
    np.add.at(sums, (li, ri), d)
    np.add.at(have, (li, ri), 1.0)
    batch = max(1, _MAX_BATCH_ELEMENTS // max(ids.size * n_levels, 1))
    for lo in range(0, n_resamples, batch):
        hi = min(n_resamples, lo + batch)
        # How often each replicate is drawn in each sample: R draws with replacement from R replicates.
        weight = rng.multinomial(ids.size, np.full(ids.size, 1.0 / ids.size), size=hi - lo).astype(float)
        tot = weight @ sums.T
        num = weight @ have.T
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lo:hi] = tot / num
    if np.isnan(out).any():
        # A level whose replicates were all left out of a draw (possible only with very few of them).
        raise AnalysisError("crossover: some bootstrap sample left a level without observations; the levels need "
                            "more replicates in common")
    return out


def crossover_table(results: Any, x: str, a: str, b: str, outcome: str = "cumulative_benefit", *,
                    by: Sequence[str] | str | None = "factors", where: Mapping[str, Any] | None = None,
                    pool: bool = False, paired: bool | None = None, direction: str = "up",
                    confidence_level: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The crossover of strategy ``a`` minus strategy ``b`` along factor ``x``, per cell of the other factors.

    Runs of ``a`` and ``b`` are paired by point and replicate
    (:func:`~sim.analysis.pair_runs`); the difference of each pair is one
    observation at its x level. Under common random numbers the pairs share
    seeds, and the same replicate shares them across x too: the bootstrap
    then resamples replicates jointly across x (``paired``).

    Parameters
    ----------
    x : str
        The factor along which the crossover is sought (e.g. ``"initial_trust"``).
    a, b : str
        The strategy and its counterfactual (e.g. ``"funder_forced"`` and
        ``"stepwise"`` or ``"funder_patient"``).
    outcome : str
        Default ``cumulative_benefit``.
    by : list of str, "factors" or None
        Cells: by default every factor except ``x``, so no cell pools runs of
        different make-up.
    pool : bool
        Allow pooling over factors missing from ``by`` (``pooled_over`` names them).
    paired : bool, optional
        Resample replicates jointly across the x levels. Default: when the
        runs of every replicate share one seed across the levels (CRN).
    direction, confidence_level, n_resamples, seed
        See :func:`crossover`.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``*by, a, b, outcome, status, crossing, low,
        high, direction, n_sign_changes, share_never, share_always, x_min,
        x_max, levels, n_pairs, joint, common_seeds, pooled_over`` and
        ``summary`` (the sentence of :class:`Crossover`).
    """
    results = as_results(results)
    check_outcome(outcome)
    if x not in factor_names(results):
        raise AnalysisError(f"x = {x!r} is not a factor of these results (factors: "
                            f"{', '.join(factor_names(results)) or 'none'})")
    pairs = pair_runs(results, a, b, outcome, where=where)
    by, cells = cell_groups(results, pairs, by, pool=pool, exclude=[x])
    rows = []
    for key, cell, pooled in cells:
        common = bool(np.all(cell["seed_a"].to_numpy() == cell["seed_b"].to_numpy()))
        # Paired across x: every replicate ran with one seed at every level.
        across = bool(cell.groupby("replicate")["seed_a"].nunique().max() == 1) if len(cell) else False
        joint = across if paired is None else bool(paired)
        diff = cell[f"{outcome}_a"].to_numpy(dtype=float) - cell[f"{outcome}_b"].to_numpy(dtype=float)
        res = crossover(cell[x].to_numpy(dtype=float), diff,
                        replicate=cell["replicate"].to_numpy() if joint else None, direction=direction,
                        confidence_level=confidence_level, n_resamples=n_resamples,
                        seed=cell_seed(seed, *key, a, b, outcome, x))
        rows.append({**dict(zip(by, key, strict=False)), "a": a, "b": b, "outcome": outcome, "status": res.status,
                     "crossing": res.estimate, "low": res.low, "high": res.high, "direction": res.direction,
                     "n_sign_changes": res.n_sign_changes, "share_never": res.share_never,
                     "share_always": res.share_always, "x_min": res.x_min, "x_max": res.x_max, "levels": res.levels,
                     "n_pairs": res.n, "joint": res.joint, "common_seeds": common, "pooled_over": ", ".join(pooled),
                     "summary": str(res)})
    table = pd.DataFrame(rows)
    table.attrs = {"x": x, "a": a, "b": b, "outcome": outcome, "confidence_level": confidence_level,
                   "n_resamples": n_resamples, "interval": "percentile bootstrap over replicates; -inf/inf = "
                   "no crossing in the range is inside the interval"}
    return table
