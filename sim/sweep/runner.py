"""Run a sweep: expand a spec into chunks, execute them, write the results store.

:func:`run_sweep` is the Python entry point (``trustladder sweep`` calls it).
It is resumable: each chunk's table is written atomically, the band
accumulator is checkpointed every minute, and ``resume=True`` runs only what is
missing. A chunk that is on disk but not yet in the band checkpoint is simply
run again for its bands (its numbers are the same), so no run is ever lost or
counted twice.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..manifest import now_iso, provenance, write_bytes_atomic, write_json_atomic
from .bands import BandAccumulator, binning
from .chunk import ChunkResult, run_chunk
from .design import Design, build_design
from .executors import Executor, InProcessExecutor
from .plan import DEFAULT_CHUNK_SIZE, make_tasks, run_ids_for
from .precision import cell_half_widths, next_targets
from .spec import Spec, load_spec
from .store import BANDS, MANIFEST, POINTS, SAMPLE, STATE, chunk_path, done_chunks, read_manifest, series_path

__all__ = ["run_sweep", "plan_sweep", "SweepPlan", "ResumeError", "CHECKPOINT_SECONDS"]

#: Seconds between band-accumulator checkpoints (the most work a killed sweep re-runs for its bands).
CHECKPOINT_SECONDS = 60.0


class ResumeError(ValueError):
    """The results folder cannot be written or resumed as asked."""


@dataclass
class SweepPlan:
    """What a spec expands to (before running anything)."""

    spec: Spec
    design: Design
    chunk_size: int

    @property
    def n_cells(self) -> int:
        return self.design.n_points * len(self.spec.strategies)

    @property
    def min_runs(self) -> int:
        reps = self.spec.replicates if self.spec.precision is None else self.spec.precision.min_replicates
        return self.n_cells * reps

    @property
    def max_runs(self) -> int:
        reps = self.spec.replicates if self.spec.precision is None else self.spec.precision.max_replicates
        return self.n_cells * reps

    def n_chunks(self, n_runs: int) -> int:
        return -(-n_runs // self.chunk_size)

    def first_round(self) -> tuple[np.ndarray, np.ndarray]:
        reps = self.spec.replicates if self.spec.precision is None else self.spec.precision.min_replicates
        return np.zeros(self.n_cells, dtype=np.int64), np.full(self.n_cells, reps, dtype=np.int64)


def plan_sweep(spec: Spec | str | Path, chunk_size: int | None = None) -> SweepPlan:
    """Check a spec and expand its design (no runs)."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    k = chunk_size or spec.chunk_size or DEFAULT_CHUNK_SIZE
    if k < 1:
        raise ValueError(f"chunk_size = {k!r} must be at least 1")
    return SweepPlan(spec, build_design(spec), int(k))


def probe_rate(plan: SweepPlan, n: int = 4096) -> float:
    """Runs per second of one core on the first ``n`` runs of the sweep (a tiny timing probe).

    The first runs in ``run_id`` order cover every cell evenly; a batch the size of a
    chunk is what the engine needs to reach its vectorized speed.
    """
    start, stop = plan.first_round()
    ids = run_ids_for(plan.n_cells, start, stop)[:min(n, plan.chunk_size)]
    task = make_tasks(plan.spec, plan.design, ids, len(ids))[0]
    run_chunk(make_tasks(plan.spec, plan.design, ids[:8], 8)[0])  # warm caches and imports
    t0 = time.perf_counter()
    run_chunk(task)
    return len(ids) / (time.perf_counter() - t0)


def _base_manifest(plan: SweepPlan, out: Path) -> dict[str, Any]:
    spec, design = plan.spec, plan.design
    m: dict[str, Any] = {
        "kind": "sweep",
        "name": spec.name,
        "status": "running",
        "spec": spec.to_dict(),
        "spec_path": spec.path,
        "spec_hash": spec.hash(),
        **provenance(),
        "root_seed": spec.seed,
        "strategies": list(spec.strategies),
        "factors": design.factors,
        "sampling": design.sampling,
        "n_points": design.n_points,
        "n_cells": plan.n_cells,
        "n_steps": spec.n_steps,
        "keep_series": list(spec.keep_series),
        "save_series": spec.save_series,
        "chunk_size": plan.chunk_size,
        "run_order": "run_id = replicate * n_cells + point_id * n_strategies + strategy_index",
        "bands": {
            "quantiles": "inverted CDF from fixed-bin histograms",
            "bins": {s: {"kind": binning(s).kind, "n_bins": binning(s).n_bins, "hi": binning(s).hi}
                     for s in spec.keep_series},
        },
        "started": now_iso(),
        "finished": None,
        "n_runs": 0,
        "rounds": [],
        "chunks": [],
        "sessions": [],
    }
    if spec.precision is not None:
        m["precision"] = spec.precision.to_dict()
    else:
        m["replicates"] = spec.replicates
    return m


def _prepare_folder(plan: SweepPlan, out: Path, resume: bool, force: bool) -> dict[str, Any]:
    """Create, wipe or reopen the results folder; return the manifest to continue."""
    from .. import MODEL_VERSION

    if resume and force:
        raise ResumeError("choose --resume (continue) or --force (start over), not both")
    exists = out.exists() and any(out.iterdir())
    if exists and not resume and not force:
        raise ResumeError(f"{out} exists and is not empty: pass --resume to continue that sweep "
                          "or --force to delete it and start over")
    if exists and resume:
        try:
            manifest = read_manifest(out)
        except FileNotFoundError:
            raise ResumeError(f"{out} has no {MANIFEST}: not a sweep folder, refusing to resume into it") from None
        if manifest.get("kind") != "sweep":
            raise ResumeError(f"{out}/{MANIFEST} is not a sweep manifest (kind {manifest.get('kind')!r})")
        if manifest.get("spec_hash") != plan.spec.hash():
            raise ResumeError(f"refusing to resume {out}: the spec changed since it was started "
                              f"(spec hash {manifest.get('spec_hash', '?')[:12]} in the manifest, "
                              f"{plan.spec.hash()[:12]} now); use --force to start over or another --out")
        if manifest.get("model_version") != MODEL_VERSION:
            raise ResumeError(f"refusing to resume {out}: it was run with sim.MODEL_VERSION "
                              f"{manifest.get('model_version')!r}, this is {MODEL_VERSION!r} (the model's numbers "
                              "changed); use --force to start over or another --out")
        if plan.chunk_size != manifest["chunk_size"]:
            raise ResumeError(f"{out} was cut into chunks of {manifest['chunk_size']} runs; resume with that "
                              f"chunk size (got {plan.chunk_size})")
        for p in out.rglob(".*.tmp"):
            p.unlink(missing_ok=True)  # leftovers of writes interrupted before their rename
        return manifest
    if exists and force:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = _base_manifest(plan, out)
    plan.design.points.to_parquet(out / POINTS, index=False)
    import io

    buf = io.BytesIO()
    np.save(buf, plan.design.sample)
    write_bytes_atomic(out / SAMPLE, buf.getvalue())
    write_json_atomic(out / MANIFEST, manifest)
    return manifest


class _Progress:
    def __init__(self, enabled: bool, total: int, initial: int):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="run", unit_scale=True, smoothing=0.1,
                            dynamic_ncols=True, file=sys.stderr)

    def add_total(self, n: int) -> None:
        if self.bar is not None:
            self.bar.total += n
            self.bar.refresh()

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_sweep(
    spec: Spec | str | Path,
    out: str | Path | None = None,
    *,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
    on_chunk: Callable[[ChunkResult, int], None] | None = None,
) -> Path:
    """Run (or resume) a sweep and write its results store.

    Parameters
    ----------
    spec : Spec or path
        The experiment spec (a checked :class:`~sim.sweep.spec.Spec` or a TOML file).
    out : path, optional
        Results folder (default ``results/<name>``).
    executor : Executor, optional
        Where chunks run (default: in this process). Not closed here.
    chunk_size : int, optional
        Runs per chunk (default: the spec's ``chunk_size``, else 4096; a resumed
        sweep keeps its own). Results do not depend on it.
    resume : bool
        Continue an unfinished sweep in ``out`` (refused if its spec or
        ``sim.MODEL_VERSION`` changed). Without ``resume`` or ``force`` an
        existing, non-empty ``out`` is an error.
    force : bool
        Delete ``out`` and start over.
    progress : bool, optional
        Show a progress bar (default: when stderr and stdout are terminals).
    on_chunk : callable, optional
        Called as ``on_chunk(result, runs_done)`` after each chunk is stored.

    Returns
    -------
    Path
        The results folder; read it with :func:`sim.load_results`.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    out = Path(out) if out is not None else Path("results") / spec.name
    if resume and (out / MANIFEST).exists() and chunk_size is None:
        try:
            chunk_size = int(read_manifest(out)["chunk_size"])
        except (KeyError, ValueError, TypeError):
            pass
    plan = plan_sweep(spec, chunk_size)
    manifest = _prepare_folder(plan, out, resume, force)
    if manifest.get("status") == "complete" and (out / BANDS).exists():
        return out
    if progress is None:
        progress = sys.stdout.isatty() and sys.stderr.isatty()
    own_executor = executor is None
    executor = executor or InProcessExecutor()
    session = {"started": now_iso(), "executor": executor.label, "chunks_run": 0, "finished": None}
    manifest.setdefault("sessions", []).append(session)
    try:
        _execute(plan, out, manifest, executor, session, progress, on_chunk)
    finally:
        if own_executor:
            executor.close()
    return out


def _execute(plan: SweepPlan, out: Path, manifest: dict[str, Any], executor: Executor, session: dict[str, Any],
             progress: bool, on_chunk: Callable | None) -> None:
    spec = plan.spec
    n_cells = plan.n_cells
    acc = BandAccumulator(n_cells, spec.n_steps, spec.keep_series) if spec.keep_series else None
    merged: set[int] = set()
    state = out / STATE
    if acc is not None and state.exists():
        acc.load(state)
        with np.load(state) as z:
            merged = set(z["merged"].tolist())
    done = done_chunks(out)
    recorded = {c["index"]: c for c in manifest.get("chunks", [])}
    rounds = manifest.setdefault("rounds", [])
    last_save = time.monotonic()
    bar: _Progress | None = None
    runs_done = 0

    def checkpoint() -> None:
        if acc is not None:
            acc.save(state, merged=np.array(sorted(merged), dtype=np.int64))

    start = np.zeros(n_cells, dtype=np.int64)
    stop = plan.first_round()[1]
    next_index = 0
    r = 0
    consistent = True
    try:
        while True:
            ids = run_ids_for(n_cells, start, stop)
            tasks = make_tasks(spec, plan.design, ids, plan.chunk_size, first_index=next_index)
            next_index += len(tasks)
            for t in tasks:
                entry = {"index": t.index, "round": r, "n_runs": t.n_runs,
                         "first_run_id": int(t.run_ids[0]), "last_run_id": int(t.run_ids[-1])}
                if t.index in recorded and recorded[t.index] != entry:
                    raise ResumeError(f"{out}: chunk {t.index} in the manifest ({recorded[t.index]}) differs from "
                                      f"the plan ({entry}); the folder was changed by hand? use --force")
                if t.index not in recorded:
                    manifest["chunks"].append(entry)
                    recorded[t.index] = entry
            if len(rounds) <= r:
                rounds.append({"round": r, "n_runs": int(len(ids)), "replicates_min": int(stop.min()),
                               "replicates_max": int(stop.max())})
            manifest["n_runs"] = int(sum(c["n_runs"] for c in manifest["chunks"]))
            write_json_atomic(out / MANIFEST, manifest)

            todo = [t for t in tasks if t.index not in done or (acc is not None and t.index not in merged)]
            already = sum(t.n_runs for t in tasks if t.index in done)
            if bar is None:
                bar = _Progress(progress, len(ids), already)
            else:
                bar.add_total(len(ids))
                bar.update(already)
            runs_done += already
            for res in executor.map(todo):
                if res.model_version != manifest["model_version"]:
                    # A cluster worker with another installed version would silently mix two models.
                    raise ResumeError(f"chunk {res.index} ran on a worker with sim.MODEL_VERSION "
                                      f"{res.model_version!r}, this sweep is {manifest['model_version']!r}: "
                                      "install the same trustladder version on every worker")
                if res.index not in done:
                    if res.series_npz is not None:
                        write_bytes_atomic(series_path(out, res.index), res.series_npz)
                    write_bytes_atomic(chunk_path(out, res.index), res.runs_parquet)
                    done.add(res.index)
                    runs_done += len(res.run_ids)
                    bar.update(len(res.run_ids))
                if acc is not None and res.index not in merged:
                    consistent = False
                    acc.add(res.cell, res.parts)
                    merged.add(res.index)
                    consistent = True
                session["chunks_run"] += 1
                if on_chunk is not None:
                    on_chunk(res, runs_done)
                if acc is not None and time.monotonic() - last_save > CHECKPOINT_SECONDS:
                    checkpoint()
                    last_save = time.monotonic()

            if spec.precision is None:
                break
            targets = _precision_targets(plan, out, stop)
            if np.array_equal(targets, stop):
                break
            start, stop = stop, targets
            r += 1
    except BaseException as exc:
        if bar is not None:
            bar.close()
        if acc is not None and consistent:
            checkpoint()
        session["finished"] = now_iso()
        session["interrupted"] = f"{type(exc).__name__}: {exc}"
        write_json_atomic(out / MANIFEST, manifest)
        raise
    if bar is not None:
        bar.close()

    if acc is not None:
        acc.table(spec.strategies, plan.design.points).to_parquet(out / BANDS, index=False)
    else:
        # No series kept: an empty table keeps the schema for readers.
        acc_empty = BandAccumulator(n_cells, spec.n_steps, [])
        acc_empty.table(spec.strategies, plan.design.points).to_parquet(out / BANDS, index=False)
    session["finished"] = now_iso()
    manifest["status"] = "complete"
    manifest["finished"] = session["finished"]
    if spec.precision is not None:
        manifest["replicates_per_cell"] = stop.tolist() if n_cells <= 100_000 else None
    write_json_atomic(out / MANIFEST, manifest)
    shutil.rmtree(out / "state", ignore_errors=True)


def _precision_targets(plan: SweepPlan, out: Path, counts: np.ndarray) -> np.ndarray:
    """The next round's replicates per cell, from every finished run's outcome (in run_id order)."""
    outcome = plan.spec.precision.outcome
    files = sorted((out / "runs").glob("chunk-*.parquet"))
    df = pd.concat([pd.read_parquet(f, columns=["run_id", outcome]) for f in files], ignore_index=True)
    df = df.sort_values("run_id", kind="stable")
    run_id = df["run_id"].to_numpy()
    cell = run_id % plan.n_cells
    # A resumed sweep may already hold later rounds' chunks: decide from this round's replicates only.
    mine = run_id // plan.n_cells < counts[cell]
    df, cell = df[mine], cell[mine]
    hw = cell_half_widths(cell, df[outcome].to_numpy(), plan.n_cells, plan.spec.precision)
    return next_targets(counts, hw, plan.spec.precision)
