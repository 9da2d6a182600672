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
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..outputs import community_outputs
from ..version import MODEL_VERSION
from .bands import BandPart, band_part
from .models import DEFAULT_MODEL, get_model
from .plan import ChunkTask

__all__ = ["ChunkResult", "run_chunk", "RUN_COLUMNS_HEAD", "run_columns", "table_columns"]

RUN_COLUMNS_HEAD = ("run_id", "point_id", "strategy", "replicate", "seed")


def run_columns(model: str = DEFAULT_MODEL) -> list[str]:
    """The per-run table's columns of a sweep of ``model``, in order (the schema contract)."""
    m = get_model(model)
    return [*RUN_COLUMNS_HEAD, *(p for p in m.specs if p != "strategy"), *m.outcomes]


def table_columns(model: str, table: str) -> list[str]:
    """The columns of one of ``model``'s extra per-chunk tables (``run_id``, then the model's own columns)."""
    if table not in get_model(model).tables:
        raise KeyError(f"{get_model(model).label()} has no {table} table (tables: "
                       f"{', '.join(get_model(model).tables) or 'none'})")
    return ["run_id", *community_outputs(table.removesuffix("s"))]


@dataclass
class ChunkResult:
    """What a worker sends back for one chunk.

    ``tables`` holds the model's extra tables as Parquet bytes, and ``table_rows`` their row counts.
    """

    index: int
    run_ids: np.ndarray
    cell: np.ndarray
    runs_parquet: bytes
    parts: dict[str, BandPart]
    series_npz: bytes | None
    seconds: float
    model_version: str
    tables: dict[str, bytes] = field(default_factory=dict)
    table_rows: dict[str, int] = field(default_factory=dict)


def _parquet(columns: dict[str, np.ndarray] | pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(columns if isinstance(columns, pa.Table) else pa.table(columns), buf, compression="zstd")
    return buf.getvalue()


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Simulate one chunk and return its results (see :class:`ChunkResult`)."""
    t0 = time.perf_counter()
    n = task.n_runs
    model = get_model(task.model)
    params = {k: (np.asarray(v) if np.ndim(v) else v) for k, v in task.params.items()}
    # Grouping runs of one strategy and size together keeps the engine's batches uniform (faster);
    # a run's numbers do not depend on its batch, so the order is free.
    strat = np.asarray(params["strategy"]).astype(str)
    sizes = [params[k] for k in ("n_community", "n_orgs") if np.ndim(params.get(k, 0))]
    order = np.lexsort((*sizes[::-1], strat)) if sizes else np.argsort(strat, kind="stable")
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    sorted_params = {k: (v[order] if np.ndim(v) else v) for k, v in params.items()}
    res = model.run(task.seeds[order], task.keep, sorted_params)
    summary = res.summary.iloc[inverse].reset_index(drop=True)

    cell = task.run_ids % task.n_cells
    columns: dict[str, np.ndarray] = {
        "run_id": task.run_ids.astype(np.int64),
        "point_id": (cell // task.n_strategies).astype(np.int64),
        "strategy": summary["strategy"].to_numpy().astype(str),
        "replicate": (task.run_ids // task.n_cells).astype(np.int64),
        "seed": task.seeds.astype(np.uint64),
    }
    for name in run_columns(task.model)[len(RUN_COLUMNS_HEAD):]:
        columns[name] = summary[name].to_numpy()
    runs_parquet = _parquet(columns)

    tables, table_rows = {}, {}
    sorted_ids = task.run_ids[order].astype(np.int64)
    for name in model.tables:
        df = res.tables[name]
        run_id = sorted_ids[df["run"].to_numpy()]
        keep = np.argsort(run_id, kind="stable")  # run_id order; within a run, the engine's own order
        cols = {"run_id": run_id[keep], **{c: df[c].to_numpy()[keep] for c in table_columns(task.model, name)[1:]}}
        tables[name] = _parquet(cols)
        table_rows[name] = len(df)

    parts = {}
    series = {}
    for name in task.keep:
        values = res.series(name)[inverse]
        parts[name] = band_part(values, cell, name, task.model)
        if task.save_series:
            series[name] = values
    series_npz = None
    if task.save_series:
        sbuf = io.BytesIO()
        np.savez_compressed(sbuf, run_id=task.run_ids, **series)
        series_npz = sbuf.getvalue()
    return ChunkResult(task.index, task.run_ids, cell, runs_parquet, parts, series_npz, time.perf_counter() - t0,
                       MODEL_VERSION, tables, table_rows)
