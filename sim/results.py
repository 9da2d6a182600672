"""``simulate``: the Python entry point, and the results object it returns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .engine import SERIES, SUMMARY_OUTCOMES, run_batch
from .params import PARAMETERS, ParamError, batch_params
from .rng import run_seeds

__all__ = ["Results", "simulate", "DEFAULT_CHUNK"]

#: Runs advanced together; small enough that a chunk's (runs x orgs x orgs)
#: arrays stay in the CPU cache, large enough to amortize NumPy's call overhead.
DEFAULT_CHUNK = 1024


@dataclass
class Results:
    """Outcomes of a batch of runs.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per run: ``run``, ``seed``, every parameter, and the outcomes
        (``dissolved``, ``dissolved_step``, ``final_level``, ``peak_level``,
        ``final_trust``, ``cumulative_benefit``, ``first_step_level_1`` ..
        ``first_step_level_5``).
    n_steps : int
        Steps simulated.
    """

    summary: pd.DataFrame
    n_steps: int
    _series: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def series(self, name: str) -> np.ndarray:
        """The per-step series ``name`` as an array runs x steps (step 1 in column 0)."""
        if name not in SERIES:
            raise KeyError(f"unknown series {name!r} (known: {', '.join(SERIES)})")
        if name not in self._series:
            raise KeyError(f"series {name!r} was not kept (kept: {', '.join(self._series) or 'none'})")
        return self._series[name]

    @property
    def series_names(self) -> list[str]:
        return list(self._series)

    @property
    def seeds(self) -> np.ndarray:
        return self.summary["seed"].to_numpy(dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.summary)


def simulate(
    n_runs: int | None = None,
    seed: int = 0,
    *,
    seeds: Sequence[int] | np.ndarray | None = None,
    keep: Iterable[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    first_run: int = 0,
    **params: Any,
) -> Results:
    """Run a batch of partnerships with the vectorized engine.

    Parameters
    ----------
    n_runs : int
        Number of runs (omit when ``seeds`` is given).
    seed : int
        Root seed: run ``i`` gets seed ``sim.rng.run_seeds(seed, ...)[i]``,
        the same whatever ``n_runs``.
    seeds : sequence of int, optional
        Each run's own seed, instead of ``n_runs`` and ``seed``.
    keep : iterable of str, optional
        Series to keep (default: all of :data:`sim.engine.SERIES`).
    chunk_size : int
        Runs advanced together; results do not depend on it.
    first_run : int
        Index of the first run under the root seed (for chunked sweeps).
    **params
        Parameters by their MODEL.md names; each a scalar or one value per run.

    Returns
    -------
    Results

    Examples
    --------
    >>> r = simulate(n_runs=100, seed=1, strategy="funder_forced", initial_trust=0.85)
    >>> r.series("level").shape
    (100, 120)
    """
    if seeds is not None:
        seeds = np.asarray(seeds)
        if seeds.ndim != 1 or seeds.size == 0:
            raise ParamError("seeds must be a non-empty 1-D sequence of integers")
        if seeds.dtype.kind not in "iu" or (seeds.dtype.kind == "i" and (seeds < 0).any()):
            raise ParamError("seeds must be integers in 0..2**64-1")
        if n_runs is not None and n_runs != len(seeds):
            raise ParamError(f"n_runs = {n_runs} but {len(seeds)} seeds were given")
        seeds = seeds.astype(np.uint64)
        n_runs = len(seeds)
    else:
        if n_runs is None:
            raise ParamError("give n_runs (with seed) or seeds")
        if isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
            raise ParamError(f"n_runs = {n_runs!r} must be a whole number >= 1")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise ParamError(f"seed = {seed!r} must be a whole number in 0..2**64-1")
        seeds = run_seeds(int(seed), int(n_runs), start=first_run)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ParamError(f"chunk_size = {chunk_size!r} must be a whole number >= 1")
    keep = list(SERIES) if keep is None else list(keep)
    for name in keep:
        if name not in SERIES:
            raise ParamError(f"unknown series {name!r} in keep (known: {', '.join(SERIES)})")
    p = batch_params(int(n_runs), params)
    steps = np.unique(p["n_steps"])
    if len(steps) != 1:
        raise ParamError("n_steps must be the same for every run of a batch")
    n_steps = int(steps[0])

    series = {name: np.empty((n_runs, n_steps), dtype=SERIES[name]) for name in keep}
    outcomes: dict[str, np.ndarray] = {}
    for lo in range(0, n_runs, chunk_size):
        hi = min(lo + chunk_size, n_runs)
        chunk = run_batch(seeds[lo:hi], {k: v[lo:hi] for k, v in p.items()}, n_steps, keep)
        for name in keep:
            series[name][lo:hi] = chunk.series[name]
        for name, values in chunk.outcomes.items():
            if name not in outcomes:
                outcomes[name] = np.empty(n_runs, dtype=values.dtype)
            outcomes[name][lo:hi] = values

    table: dict[str, Any] = {"run": np.arange(first_run, first_run + n_runs)}
    table["seed"] = seeds
    for name in PARAMETERS:
        table[name] = p[name]
    for name in SUMMARY_OUTCOMES:
        table[name] = outcomes[name]
    return Results(pd.DataFrame(table), n_steps, series)
