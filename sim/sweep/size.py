"""The size guard: refuse a design too big to run before anything is sampled, allocated or written.

A spec can describe far more runs than a machine can hold (``replicates =
10**12``, an 8-factor grid of 10 values each, Sobol ``n = 2**40``). Its size
is arithmetic (:attr:`sim.sweep.spec.Spec.size`, from each registered
design's :meth:`~sim.sweep.design.SamplingDesign.size`: grid the product of
the lists' lengths, lhs ``n``, sobol ``n (2k + 2)`` or ``n (k + 2)``, morris
``r (k + 1)``; times strategies and replicates), so it is known in
microseconds. :func:`check_design_size` refuses a design above
:data:`DEFAULT_MAX_RUNS` runs or :data:`DEFAULT_MAX_POINTS` points unless the
limit is raised (``--max-runs``, ``--max-points``); ``validate``, ``sweep
--dry-run`` and ``sweep`` call it (through :func:`~sim.sweep.runner.plan_sweep`)
before the design is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .design import get_design
from .spec import SpecError

if TYPE_CHECKING:
    from .spec import DesignSize, Spec

__all__ = ["check_design_size", "DEFAULT_MAX_RUNS", "DEFAULT_MAX_POINTS"]

#: Runs a sweep may plan without ``--max-runs`` (a round's run ids alone take 8 bytes each, several times over).
DEFAULT_MAX_RUNS = 100_000_000
#: Design points a sweep may have without ``--max-points`` (the sample matrix and points table are in memory).
DEFAULT_MAX_POINTS = 1_000_000


def _n(x: int) -> str:
    return f"{x:,}" if x < 10**15 else f"{x:.3g}"


def check_design_size(spec: Spec, max_runs: int | None = None, max_points: int | None = None) -> DesignSize:
    """The design's size (:attr:`Spec.size`); raise :class:`~sim.sweep.spec.SpecError` above the limits.

    Parameters
    ----------
    spec : Spec
        A checked spec.
    max_runs, max_points : int, optional
        The limits (default :data:`DEFAULT_MAX_RUNS`, :data:`DEFAULT_MAX_POINTS`). For a
        ``[precision]`` spec the runs are the most it can make (every cell at ``max_replicates``).
    """
    max_runs = DEFAULT_MAX_RUNS if max_runs is None else int(max_runs)
    max_points = DEFAULT_MAX_POINTS if max_points is None else int(max_points)
    size = spec.size
    where = spec.path or "<spec>"
    problems = []
    if size.points > max_points:
        grid = get_design(spec.sampling.method).takes == "values"
        key = "factors" if grid else "sampling.n"
        how = (" x ".join(str(len(f.values)) for f in spec.factors) + " values" if grid
               else f"{spec.sampling.method} with n = {_n(spec.sampling.n or 0)}")
        problems.append(f"{where}: {key}: the design has {_n(size.points)} points ({how}), above the limit of "
                        f"{_n(max_points)}: use fewer points, or raise the limit with --max-points {size.points}")
    if size.runs > max_runs:
        if spec.precision is None:
            key, what = "replicates", f"{_n(size.cells)} cells x {_n(spec.replicates)} replicates"
        else:
            key, what = ("precision.max_replicates",
                         f"{_n(size.cells)} cells x up to {_n(spec.precision.max_replicates)} replicates")
        problems.append(f"{where}: {key}: the design has {_n(size.runs)} runs ({what}), above the limit of "
                        f"{_n(max_runs)}: use fewer, or raise the limit with --max-runs {size.runs}")
    if problems:
        raise SpecError(problems)
    return size
