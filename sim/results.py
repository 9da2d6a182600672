"""``simulate``: the Python entry point, and the results object it returns.

A batch is validated once (:func:`sim.params.check_params`, keeping a value
shared by every run as one number), its memory estimated and refused above a
limit (:func:`memory_estimate`), then run chunk by chunk: only a chunk's
parameters are ever spread over its runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .engine import run_batch
from .errors import ParamError, did_you_mean
from .outputs import SERIES_DTYPES as SERIES
from .outputs import SUMMARY_OUTCOMES
from .params import PARAMETERS, check_params, check_seed, check_seeds, chunk_params
from .rng import run_seeds

__all__ = ["Results", "simulate", "memory_estimate", "memory_limit", "MemoryEstimate", "DEFAULT_CHUNK",
           "MAX_RUN_ID", "BatchRequest", "check_request", "one_n_steps"]

#: Runs advanced together; small enough that a chunk's (runs x orgs x orgs)
#: arrays stay in the CPU cache, large enough to amortize NumPy's call overhead.
DEFAULT_CHUNK = 1024
#: The largest run id: ids (``first_run`` .. ``first_run + n_runs - 1``) are signed 64-bit integers.
MAX_RUN_ID = 2**63 - 1

#: Bytes a run's working state takes per pair of organizations and per organization, in a chunk:
#: about 16 (orgs x orgs) float64 arrays (trust, pairs, the misjudging chances, the step's draws and
#: temporaries) and 64 per-organization ones; a chunk holds its kept series twice (its own, and the
#: values recorded into them), and a batch has a small fixed cost. An upper bound of what
#: ``tracemalloc`` measures, within a factor of 3 (tests/test_api_safety.py checks it).
_WORK_BYTES_PER_PAIR = 16 * 8
_WORK_BYTES_PER_ORG = 64 * 8
_WORK_SERIES_COPIES = 2
_WORK_FIXED = 2**20


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


@dataclass(frozen=True)
class MemoryEstimate:
    """What a batch of runs needs in memory, in bytes, by part (see :func:`memory_estimate`)."""

    series: int
    summary: int
    working: int

    @property
    def total(self) -> int:
        return self.series + self.summary + self.working

    def __str__(self) -> str:
        return (f"about {_bytes(self.total)} (kept series {_bytes(self.series)}, summary table "
                f"{_bytes(self.summary)}, working state of a chunk {_bytes(self.working)})")


def _bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def memory_estimate(n_runs: int, n_steps: int, keep: Iterable[str] = tuple(SERIES), n_orgs: int = 6,
                    chunk_size: int = DEFAULT_CHUNK) -> MemoryEstimate:
    """Estimate the memory :func:`simulate` needs, from sizes alone (nothing is allocated).

    Parameters
    ----------
    n_runs, n_steps : int
        Runs and steps of the batch.
    keep : iterable of str
        The series kept: each takes ``n_runs * n_steps`` values of its dtype
        (:data:`sim.outputs.SERIES`).
    n_orgs : int
        The largest ``n_orgs`` of the batch (a chunk is padded to it).
    chunk_size : int
        Runs advanced together.

    Returns
    -------
    MemoryEstimate
        ``series``: the kept series; ``summary``: the per-run table (its
        columns, counted twice: pandas copies them into the table);
        ``working``: one chunk's state, its own copies of the kept series and
        outcomes included, and a small fixed cost.
    """
    step_bytes = sum(SERIES[name].itemsize for name in keep)
    columns = 2 + len(PARAMETERS) + len(SUMMARY_OUTCOMES)  # run, seed, parameters, outcomes
    chunk = min(chunk_size, n_runs)
    per_chunk_run = (_WORK_BYTES_PER_PAIR * n_orgs * n_orgs + _WORK_BYTES_PER_ORG * n_orgs
                     + _WORK_SERIES_COPIES * n_steps * step_bytes + 8 * len(SUMMARY_OUTCOMES))
    return MemoryEstimate(series=n_runs * n_steps * step_bytes, summary=2 * 8 * columns * n_runs,
                          working=_WORK_FIXED + chunk * per_chunk_run)


def memory_limit() -> int:
    """The default ``max_memory`` of :func:`simulate`: half this machine's memory (4 GiB if unknown)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        total = 8 * 2**30
    return int(total) // 2 if total > 0 else 4 * 2**30


def _check_whole(name: str, value: Any, low: int, high: int | None = None, why: str = "") -> int:
    """``value`` as an int, if a whole number in ``low..high`` (no upper end if None)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        allowed = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ParamError(f"{name} = {value!r} must be a whole number {allowed}{why}")
    return int(value)


def _check_keep(keep: str | Iterable[str] | None, known: Sequence[str] = tuple(SERIES)) -> list[str]:
    """The series to keep: None for all, one name, or several (in order, once each), each one of ``known``."""
    if keep is None:
        return list(known)
    if isinstance(keep, str):
        keep = [keep]  # one series, not its letters
    try:
        names = list(keep)
    except TypeError:
        raise ParamError(f"keep = {keep!r} must be a series name or a list of them "
                         f"(known: {', '.join(known)})") from None
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise ParamError(f"unknown series {name!r} in keep{did_you_mean(name, known)} "
                             f"(known: {', '.join(known)})")
    return list(dict.fromkeys(names))


def _check_max_memory(max_memory: float | None) -> tuple[float, str]:
    if max_memory is None:
        return memory_limit(), "half this machine's memory"
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, float, np.integer, np.floating)) or not (
            max_memory > 0):
        raise ParamError(f"max_memory = {max_memory!r} must be a number of bytes > 0 (math.inf: no limit; "
                         "None: half this machine's memory)")
    return float(max_memory), "max_memory"


@dataclass(frozen=True)
class BatchRequest:
    """What :func:`check_request` made of the arguments every batch entry point shares (checked).

    Attributes
    ----------
    n_runs : int
        Runs of the batch.
    seeds : ndarray of uint64 or None
        Each run's own seed, when given; else ``root_seed`` numbers them (:meth:`run_seeds`).
    root_seed : int or None
        The root seed, when ``seeds`` was not given.
    first_run : int
        Id of the first run.
    chunk_size : int or None
        Runs advanced together (None: the entry point chooses).
    keep : list of str
        The series kept.
    limit : float
        The memory limit in bytes, and ``limit_name`` where it comes from.
    """

    n_runs: int
    seeds: np.ndarray | None
    root_seed: int | None
    first_run: int
    chunk_size: int | None
    keep: list[str]
    limit: float
    limit_name: str

    def run_seeds(self) -> np.ndarray:
        """Each run's seed: as given, or under the root seed from ``first_run`` on."""
        return self.seeds if self.seeds is not None else run_seeds(self.root_seed, self.n_runs, start=self.first_run)

    def check_memory(self, need: MemoryEstimate, n_steps: int, runs: str = "runs", example: str = "level") -> None:
        """Raise a ParamError if ``need`` is above the limit, with the estimate and what to do.

        ``runs`` names the runs in the message, ``example`` is a series to suggest keeping alone.
        """
        if need.total <= self.limit:
            return
        advice = [f"keep fewer series (keep={example!r}, or keep=[] for the summary only)"] if self.keep else []
        advice += ["run it in parts (first_run= numbers the runs on)",
                   "run it as a sweep (trustladder sweep writes its chunks to disk)"]
        raise ParamError(
            f"{self.n_runs:,} {runs} x {n_steps} steps with {len(self.keep)} series kept need {need}, above the limit "
            f"of {_bytes(self.limit)} ({self.limit_name}): {', '.join(advice)}; or raise the limit with "
            f"max_memory={math.ceil(need.total / 1e9)}e9")


def check_request(n_runs: int | None, seed: int | None, seeds: Sequence[int] | np.ndarray | None, first_run: Any,
                  chunk_size: Any, keep: str | Iterable[str] | None, max_memory: float | None,
                  known_series: Sequence[str] = tuple(SERIES)) -> BatchRequest:
    """Check the arguments :func:`simulate` and :func:`sim.simulate_community` share, before anything is allocated.

    ``n_runs`` with ``seed`` (the root seed, default 0), or ``seeds`` (each run's own, through
    :func:`sim.params.check_seeds`; giving ``seed`` too is an error); ``first_run`` keeps run ids below 2**63;
    ``chunk_size`` a whole number >= 1 (or None); ``keep`` names series of ``known_series``; ``max_memory`` a
    number of bytes > 0 (None: half this machine's memory). Raises a ParamError naming the field and the range.
    """
    root: int | None = None
    if seeds is not None:
        if seed is not None:
            raise ParamError("give seed (the root seed of n_runs runs) or seeds (each run's own seed), not both")
        seeds = check_seeds(seeds)
        if n_runs is not None and n_runs != len(seeds):
            raise ParamError(f"n_runs = {n_runs!r} but {len(seeds)} seeds were given")
        n_runs = len(seeds)
    else:
        if n_runs is None:
            raise ParamError("give n_runs (with seed) or seeds")
        n_runs = _check_whole("n_runs", n_runs, 1)
        root = check_seed(0 if seed is None else seed)
    first_run = _check_whole("first_run", first_run, 0, MAX_RUN_ID + 1 - n_runs,
                             f" for {n_runs:,} runs (run ids must stay below 2**63)")
    if chunk_size is not None:
        chunk_size = _check_whole("chunk_size", chunk_size, 1)
    keep = _check_keep(keep, known_series)
    limit, limit_name = _check_max_memory(max_memory)
    return BatchRequest(n_runs, seeds, root, first_run, chunk_size, keep, limit, limit_name)


def one_n_steps(p: dict[str, np.ndarray]) -> int:
    """The batch's ``n_steps`` (checked parameters): the same for every run, or a ParamError."""
    steps = np.unique(p["n_steps"])
    if len(steps) != 1:
        raise ParamError("n_steps must be the same for every run of a batch")
    return int(steps[0])


def simulate(
    n_runs: int | None = None,
    seed: int | None = None,
    *,
    seeds: Sequence[int] | np.ndarray | None = None,
    keep: str | Iterable[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    first_run: int = 0,
    max_memory: float | None = None,
    **params: Any,
) -> Results:
    """Run a batch of partnerships with the vectorized engine.

    Parameters
    ----------
    n_runs : int
        Number of runs (omit when ``seeds`` is given).
    seed : int
        Root seed, in 0..2**64-1 (default 0): run ``i`` gets seed
        ``sim.rng.run_seeds(seed, ...)[i]``, the same whatever ``n_runs``.
    seeds : sequence of int, optional
        Each run's own seed (Python or NumPy integers in 0..2**64-1, e.g.
        ``results.summary["seed"]`` to replay runs), instead of ``n_runs``
        and ``seed``: giving both ``seed`` and ``seeds`` is an error.
    keep : str or iterable of str, optional
        Series to keep: one name, or several (default: all of
        :data:`sim.outputs.SERIES`; ``[]`` keeps none, only the summary).
    chunk_size : int
        Runs advanced together; results do not depend on it.
    first_run : int
        Id of the first run (for chunked sweeps): runs are ``first_run`` ..
        ``first_run + n_runs - 1``, and under a root seed run ``i`` has the
        seed of index ``i``. Ids must stay below 2**63.
    max_memory : float, optional
        Refuse a batch whose estimated memory (:func:`memory_estimate`)
        exceeds this many bytes. Default: half this machine's memory;
        ``math.inf`` turns the check off.
    **params
        Parameters by name (``trustladder params`` lists them); each a scalar
        or one value per run.

    Returns
    -------
    Results

    Raises
    ------
    ParamError
        A bad parameter, seed, series name, run id or size, named with its
        allowed range; or a batch too large for the memory limit, with the
        estimate and what to do.

    Examples
    --------
    >>> r = simulate(n_runs=100, seed=1, strategy="funder_forced", initial_trust=0.85)
    >>> r.series("level").shape
    (100, 120)
    >>> again = simulate(seeds=r.summary["seed"], strategy="funder_forced", initial_trust=0.85, keep="level")
    >>> bool((again.series("level") == r.series("level")).all())
    True
    """
    req = check_request(n_runs, seed, seeds, first_run, chunk_size, keep, max_memory)
    n_runs, keep, first_run, chunk_size = req.n_runs, req.keep, req.first_run, req.chunk_size
    p = check_params(n_runs, params)
    n_steps = one_n_steps(p)
    req.check_memory(memory_estimate(n_runs, n_steps, keep, int(p["n_orgs"].max()), chunk_size), n_steps)
    seeds = req.run_seeds()

    series = {name: np.empty((n_runs, n_steps), dtype=SERIES[name]) for name in keep}
    outcomes: dict[str, np.ndarray] = {}
    for lo in range(0, n_runs, chunk_size):
        hi = min(lo + chunk_size, n_runs)
        chunk = run_batch(seeds[lo:hi], chunk_params(p, lo, hi), n_steps, keep)
        for name in keep:
            series[name][lo:hi] = chunk.series[name]
        for name, values in chunk.outcomes.items():
            if name not in outcomes:
                outcomes[name] = np.empty(n_runs, dtype=values.dtype)
            outcomes[name][lo:hi] = values

    table: dict[str, Any] = {"run": np.arange(n_runs, dtype=np.int64) + np.int64(first_run)}
    table["seed"] = seeds
    for name in PARAMETERS:
        table[name] = p[name] if p[name].ndim else np.broadcast_to(p[name], (n_runs,))
    for name in SUMMARY_OUTCOMES:
        table[name] = outcomes[name]
    return Results(pd.DataFrame(table), n_steps, series)
