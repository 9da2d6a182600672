"""Run ids, seeds and chunks: how a design becomes runs.

A cell is one (point, strategy): ``cell = point_id * n_strategies + s`` with
``s`` the strategy's position in the spec. A cell's ``k``-th replicate is
``run_id = k * n_cells + cell`` and its seed is
``sim.rng.run_seeds(root_seed, ...)[run_id]``; with common random numbers
(``crn = true`` in the spec) it is ``run_seeds(root_seed, ...)[k]``, the same
for every cell, so replicate ``k`` of every point and strategy draws the same
random numbers (the engine's counter-based streams depend on the seed, the
step, the purpose and the index of a draw only). Both depend on nothing else:
not on the chunking, the executor, the worker count or, with ``[precision]``,
the round in which the replicate was added. Runs execute in ``run_id`` order
(replicate-major), so every cell gets replicate 0 before any gets replicate 1
and a half-finished sweep is still a balanced sample of the design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..rng import run_seeds
from .design import Design
from .spec import Spec

__all__ = ["ChunkTask", "run_ids_for", "seeds_for", "make_tasks", "DEFAULT_CHUNK_SIZE"]

#: Runs per chunk of the partnership model (a unit of work and of resumption): about two seconds of one core at
#: 120 steps. Each model has its own (:attr:`sim.sweep.models.SweepModel.chunk_size`).
DEFAULT_CHUNK_SIZE = 4096


def run_ids_for(n_cells: int, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Sorted run ids of replicates ``start[c] <= k < stop[c]`` of every cell ``c``."""
    start = np.asarray(start, dtype=np.int64)
    stop = np.maximum(np.asarray(stop, dtype=np.int64), start)
    counts = stop - start
    cell = np.repeat(np.arange(n_cells, dtype=np.int64), counts)
    offset = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    rep = np.repeat(start, counts) + offset
    return np.sort(rep * n_cells + cell)


def seeds_for(root_seed: int, run_ids: np.ndarray, crn_cells: int | None = None) -> np.ndarray:
    """Each run's seed: ``run_seeds(root_seed, ...)[run_id]``.

    With ``crn_cells`` (common random numbers over that many cells) the seed
    of ``run_id`` is that of its replicate, ``run_seeds(root_seed, ...)[run_id // crn_cells]``.
    """
    run_ids = np.asarray(run_ids, dtype=np.int64)
    if crn_cells is not None:
        run_ids = run_ids // int(crn_cells)
    if run_ids.size == 0:
        return np.zeros(0, dtype=np.uint64)
    lo, hi = int(run_ids.min()), int(run_ids.max())
    return run_seeds(root_seed, hi - lo + 1, start=lo)[run_ids - lo]


@dataclass
class ChunkTask:
    """Everything a worker needs to run one chunk (small and picklable).

    ``params`` holds one array per swept parameter (per run) and the scalars of
    ``[base]``; ``strategy`` is per run.
    """

    index: int
    run_ids: np.ndarray
    seeds: np.ndarray
    n_cells: int
    n_strategies: int
    params: dict[str, Any]
    n_steps: int
    keep: tuple[str, ...]
    save_series: bool
    #: The model run (:mod:`sim.sweep.models`).
    model: str = "partnership"

    @property
    def n_runs(self) -> int:
        return len(self.run_ids)


def make_tasks(
    spec: Spec, design: Design, run_ids: np.ndarray, chunk_size: int, first_index: int = 0
) -> list[ChunkTask]:
    """Cut sorted ``run_ids`` into chunks of ``chunk_size`` (the last may be shorter)."""
    n_strat = len(spec.strategies)
    n_cells = design.n_points * n_strat
    strategies = np.asarray(spec.strategies, dtype=object)
    tasks = []
    for j, lo in enumerate(range(0, len(run_ids), chunk_size)):
        ids = run_ids[lo:lo + chunk_size]
        cell = ids % n_cells
        point = cell // n_strat
        params: dict[str, Any] = dict(spec.base)
        for name in design.factors:
            params[name] = design.points[name].to_numpy()[point]
        params["strategy"] = strategies[cell % n_strat]
        params["n_steps"] = spec.n_steps
        seeds = seeds_for(spec.seed, ids, n_cells if spec.crn else None)
        tasks.append(ChunkTask(first_index + j, ids, seeds, n_cells, n_strat, params,
                               spec.n_steps, tuple(spec.keep_series), spec.save_series, spec.model))
    return tasks
