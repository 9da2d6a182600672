"""The unit of work: run one chunk with the vectorized engine and package its results.

:func:`run_chunk` is a plain importable function of a picklable
:class:`~sim.sweep.plan.ChunkTask`, so it runs the same in-process, in a
spawned process pool and on a Dask worker. It returns the chunk's per-run table
as Parquet bytes (compressed on the worker), its band parts and, when asked,
its full series; the driver writes them.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..outputs import SUMMARY_OUTCOMES
from ..params import PARAMETERS
from ..results import simulate
from ..version import MODEL_VERSION
from .bands import BandPart, band_part
from .plan import ChunkTask

__all__ = ["ChunkResult", "run_chunk", "RUN_COLUMNS_HEAD", "run_columns"]

RUN_COLUMNS_HEAD = ("run_id", "point_id", "strategy", "replicate", "seed")


def run_columns() -> list[str]:
    """The per-run table's columns, in order (the schema contract)."""
    return [*RUN_COLUMNS_HEAD, *(p for p in PARAMETERS if p != "strategy"), *SUMMARY_OUTCOMES]


@dataclass
class ChunkResult:
    """What a worker sends back for one chunk."""

    index: int
    run_ids: np.ndarray
    cell: np.ndarray
    runs_parquet: bytes
    parts: dict[str, BandPart]
    series_npz: bytes | None
    seconds: float
    model_version: str


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Simulate one chunk and return its results (see :class:`ChunkResult`)."""
    t0 = time.perf_counter()
    n = task.n_runs
    params = {k: (np.asarray(v) if np.ndim(v) else v) for k, v in task.params.items()}
    # Grouping runs of one strategy and size together keeps the engine's batches uniform (faster);
    # a run's numbers do not depend on its batch, so the order is free.
    strat = np.asarray(params["strategy"]).astype(str)
    if np.ndim(params.get("n_orgs", 0)):
        order = np.lexsort((params["n_orgs"], strat))
    else:
        order = np.argsort(strat, kind="stable")
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    sorted_params = {k: (v[order] if np.ndim(v) else v) for k, v in params.items()}
    res = simulate(seeds=task.seeds[order], keep=task.keep, **sorted_params)
    summary = res.summary.iloc[inverse].reset_index(drop=True)

    cell = task.run_ids % task.n_cells
    columns: dict[str, np.ndarray] = {
        "run_id": task.run_ids.astype(np.int64),
        "point_id": (cell // task.n_strategies).astype(np.int64),
        "strategy": summary["strategy"].to_numpy().astype(str),
        "replicate": (task.run_ids // task.n_cells).astype(np.int64),
        "seed": task.seeds.astype(np.uint64),
    }
    for name in run_columns()[len(RUN_COLUMNS_HEAD):]:
        columns[name] = summary[name].to_numpy()
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf, compression="zstd")

    parts = {}
    series = {}
    for name in task.keep:
        values = res.series(name)[inverse]
        parts[name] = band_part(values, cell, name)
        if task.save_series:
            series[name] = values
    series_npz = None
    if task.save_series:
        sbuf = io.BytesIO()
        np.savez_compressed(sbuf, run_id=task.run_ids, **series)
        series_npz = sbuf.getvalue()
    return ChunkResult(task.index, task.run_ids, cell, buf.getvalue(), parts, series_npz, time.perf_counter() - t0,
                       MODEL_VERSION)
