"""How big a design is, computed arithmetically from the spec before anything is allocated.

A spec can describe far more runs than a machine can hold (``replicates =
10**12``, an 8-factor grid of 10 values each, Sobol ``n = 2**40``). The size
is a product of a few integers, so it is known in microseconds; the sweep
refuses a design above :data:`DEFAULT_MAX_RUNS` runs or
:data:`DEFAULT_MAX_POINTS` points unless the limit is raised (``--max-runs``,
``--max-points``), before any array is made or any file written.

Points per sampling method (``k`` factors):

========  ===========================================================
grid      product of the factors' list lengths
lhs       ``n``
sobol     ``n (2k + 2)``, or ``n (k + 2)`` without second order (Saltelli)
morris    ``r (k + 1)``, ``r`` = ``optimal_trajectories`` or ``n``
========  ===========================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import Factor, Sampling, Spec

__all__ = ["DesignSize", "count_points", "design_size", "check_design_size", "DEFAULT_MAX_RUNS",
           "DEFAULT_MAX_POINTS"]

#: Runs a sweep may plan without ``--max-runs`` (its run ids alone take 8 bytes each per round).
DEFAULT_MAX_RUNS = 100_000_000
#: Design points a sweep may have without ``--max-points`` (the sample matrix and points table are in memory).
DEFAULT_MAX_POINTS = 1_000_000


def count_points(factors: Sequence[Factor], sampling: Sampling) -> int:
    """Points of a design, from the factors and the sampling settings alone (see the module's table)."""
    k = len(factors)
    if sampling.method == "grid":
        return math.prod(len(f.values) for f in factors)
    if sampling.method == "sobol":
        return sampling.n * (2 * k + 2 if sampling.calc_second_order else k + 2)
    if sampling.method == "morris":
        return (sampling.optimal_trajectories or sampling.n) * (k + 1)
    return sampling.n


@dataclass(frozen=True)
class DesignSize:
    """A spec's size: points, cells (points x strategies) and runs (cells x replicates; a range with precision)."""

    points: int
    cells: int
    min_runs: int
    max_runs: int


def design_size(spec: Spec) -> DesignSize:
    """The size of a checked spec's design (no sampling, no allocation)."""
    points = count_points(spec.factors, spec.sampling)
    cells = points * len(spec.strategies)
    if spec.precision is None:
        lo = hi = cells * spec.replicates
    else:
        lo, hi = cells * spec.precision.min_replicates, cells * spec.precision.max_replicates
    return DesignSize(points, cells, lo, hi)


def _n(x: int) -> str:
    return f"{x:,}" if x < 10**15 else f"{x:.3g}"


def check_design_size(spec: Spec, max_runs: int | None = None, max_points: int | None = None) -> DesignSize:
    """The design's size; raise :class:`~sim.sweep.spec.SpecError` if it is above the limits.

    Parameters
    ----------
    spec : Spec
        A checked spec.
    max_runs, max_points : int, optional
        The limits (default :data:`DEFAULT_MAX_RUNS`, :data:`DEFAULT_MAX_POINTS`).
    """
    from .spec import SpecError

    max_runs = DEFAULT_MAX_RUNS if max_runs is None else int(max_runs)
    max_points = DEFAULT_MAX_POINTS if max_points is None else int(max_points)
    size = design_size(spec)
    where = spec.path or "<spec>"
    problems = []
    if size.points > max_points:
        key = "factors" if spec.sampling.method == "grid" else "sampling.n"
        how = (" x ".join(str(len(f.values)) for f in spec.factors) + " values"
               if spec.sampling.method == "grid" else f"{spec.sampling.method} with n = {_n(spec.sampling.n)}")
        problems.append(f"{where}: {key}: the design has {_n(size.points)} points ({how}), above the limit of "
                        f"{_n(max_points)}: use fewer points, or raise the limit with --max-points {size.points}")
    if size.max_runs > max_runs:
        if spec.precision is None:
            key, what = "replicates", f"{_n(size.cells)} cells x {_n(spec.replicates)} replicates"
        else:
            key, what = ("precision.max_replicates",
                         f"{_n(size.cells)} cells x up to {_n(spec.precision.max_replicates)} replicates")
        problems.append(f"{where}: {key}: the design has {_n(size.max_runs)} runs ({what}), above the limit of "
                        f"{_n(max_runs)}: use fewer, or raise the limit with --max-runs {size.max_runs}")
    if problems:
        raise SpecError(problems)
    return size


