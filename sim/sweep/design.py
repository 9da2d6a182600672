"""The design: a spec's points, as the sample matrix that SALib or scipy.stats.qmc returns.

``point_id`` is the row of the sample matrix, so SALib's analysis can be fed
outputs ordered by ``point_id``. Grid points are the Cartesian product of the
factors' lists in spec order (last factor fastest).

Integer parameters sampled from a range are rounded by equal bins: [min, max]
is cut into ``max - min + 1`` equal parts, one per whole number, so each is
equally likely (plain rounding would give the two ends half the weight). The
sample matrix keeps the unrounded values; the runs use the rounded ones.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .spec import Spec

__all__ = ["Design", "build_design", "round_integer"]


@dataclass
class Design:
    """A spec's points.

    Attributes
    ----------
    factors : list of str
        Factor names, the columns of ``sample``.
    sample : ndarray, shape (n_points, n_factors)
        The sample matrix as the sampler returned it.
    points : pandas.DataFrame
        ``point_id`` and each factor's value as run (integers rounded).
    sampling : dict
        What the manifest records under ``"sampling"`` (method, n, seed, problem, ...).
    """

    factors: list[str]
    sample: np.ndarray
    points: pd.DataFrame
    sampling: dict[str, Any]

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def problem(self) -> dict[str, Any]:
        return self.sampling["problem"]


def round_integer(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map values in [low, high] to whole numbers low..high, each taking an equal share of the range."""
    x = np.asarray(x, dtype=np.float64)
    k = low + np.floor((x - low) / (high - low) * (high - low + 1))
    return np.clip(k, low, high).astype(np.int64)


def build_design(spec: Spec) -> Design:
    """Sample the spec's points (grid, LHS, Saltelli/Sobol or Morris)."""
    names = spec.factor_names
    s = spec.sampling
    problem = {"num_vars": len(names), "names": names, "bounds": [f.bounds for f in spec.factors]}
    record: dict[str, Any] = {"method": s.method}
    if s.method == "grid":
        rows = list(itertools.product(*(f.values for f in spec.factors)))
        sample = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
        values = {f.name: np.array([r[i] for r in rows], dtype=np.int64 if f.is_int else np.float64)
                  for i, f in enumerate(spec.factors)}
        record.update(n=len(rows), seed=None)
    else:
        lows = np.array([f.low for f in spec.factors], dtype=np.float64)
        highs = np.array([f.high for f in spec.factors], dtype=np.float64)
        if s.method == "lhs":
            from scipy.stats import qmc

            engine = qmc.LatinHypercube(d=len(names), optimization=s.optimization, rng=np.random.default_rng(s.seed))
            sample = qmc.scale(engine.random(s.n), lows, highs)
            record.update(n=s.n, seed=s.seed, optimization=s.optimization)
        elif s.method == "sobol":
            from SALib.sample import sobol

            # SALib adds keys to the problem it is given: hand it a copy.
            sample = sobol.sample(dict(problem), s.n, calc_second_order=s.calc_second_order, scramble=s.scramble,
                                  seed=s.seed)
            record.update(n=s.n, seed=s.seed, calc_second_order=s.calc_second_order, scramble=s.scramble)
        else:
            from SALib.sample import morris

            sample = morris.sample(dict(problem), s.n, num_levels=s.num_levels,
                                   optimal_trajectories=s.optimal_trajectories, seed=s.seed)
            record.update(n=s.n, seed=s.seed, num_levels=s.num_levels,
                          optimal_trajectories=s.optimal_trajectories)
        sample = np.asarray(sample, dtype=np.float64)
        values = {}
        for i, f in enumerate(spec.factors):
            col = np.clip(sample[:, i], f.low, f.high)
            values[f.name] = round_integer(col, f.low, f.high) if f.is_int else col
    record["problem"] = problem
    n_points = sample.shape[0]
    points = pd.DataFrame({"point_id": np.arange(n_points, dtype=np.int64), **values})
    return Design(names, sample, points, record)
