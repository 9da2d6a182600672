"""Run a sweep: expand a spec into chunks, execute them, write the results store.

:func:`run_sweep` is the Python entry point (``trustladder sweep`` calls it).
It holds the folder's lock (:class:`~sim.sweep.folder.FolderLock`) from start
to end, and is resumable: each chunk's table is written atomically, and the
band accumulator and the manifest (with each finished chunk's row count and
SHA-256) are checkpointed every :data:`CHECKPOINT_SECONDS`. ``resume=True``
verifies every stored chunk against the manifest and runs only what is
missing, unrecorded or damaged. A chunk that is on disk but not yet in the
band checkpoint is simply run again for its bands (its numbers are the same),
so no run is ever lost or counted twice.
"""

from __future__ import annotations

import io
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..manifest import (
    frame_bytes,
    is_temp_name,
    now_iso,
    package_versions,
    provenance,
    sha256_bytes,
    sha256_file,
    write_bytes_atomic,
    write_json_atomic,
)
from ..params import ParamError
from ..results import memory_limit
from ..version import MODEL_VERSION
from .bands import BandAccumulator, binning
from .chunk import ChunkResult, run_chunk
from .design import Design, build_design
from .executors import Executor, InProcessExecutor
from .folder import FolderError, FolderLock, check_unlocked, clear_folder, is_empty, removable_files
from .models import DEFAULT_MODEL, get_model
from .plan import make_tasks, run_ids_for
from .precision import cell_half_widths, next_targets
from .size import check_design_size
from .spec import Spec, SpecError, load_spec
from .store import (
    BANDS,
    INTEGRITY_VERSION,
    MANIFEST,
    POINTS,
    SAMPLE,
    STATE,
    NotASweepError,
    SweepWarning,
    check_chunk,
    check_file,
    chunk_path,
    read_manifest,
    series_path,
    stored_tables,
    stray_files,
    table_path,
)

__all__ = ["run_sweep", "plan_sweep", "SweepPlan", "ResumeError", "CHECKPOINT_SECONDS"]

#: Seconds between checkpoints of the band accumulator and the manifest: the most work a killed sweep
#: runs again. ``TRUSTLADDER_CHECKPOINT_SECONDS`` overrides it.
CHECKPOINT_SECONDS = float(os.environ.get("TRUSTLADDER_CHECKPOINT_SECONDS", 60.0))


class ResumeError(FolderError):
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


def plan_sweep(spec: Spec | str | Path, chunk_size: int | None = None, *, max_runs: int | None = None,
               max_points: int | None = None) -> SweepPlan:
    """Check a spec, its size (before any allocation) and expand its design (no runs).

    Parameters
    ----------
    spec : Spec or path
        The spec.
    chunk_size : int, optional
        Runs per chunk (default: the spec's, else 4096).
    max_runs, max_points : int, optional
        Size limits (:data:`sim.sweep.size.DEFAULT_MAX_RUNS`, ``DEFAULT_MAX_POINTS``): a bigger
        design is a :class:`~sim.sweep.spec.SpecError` that gives its size.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    model = spec.sweep_model()
    k = chunk_size or spec.chunk_size or model.chunk_size
    if k < 1:
        raise ValueError(f"chunk_size = {k!r} must be at least 1")
    check_design_size(spec, max_runs=max_runs, max_points=max_points)
    plan = SweepPlan(spec, build_design(spec), int(k))
    _check_points(plan)
    _check_chunk_memory(plan)
    return plan


def _check_chunk_memory(plan: SweepPlan) -> None:
    """Refuse a chunk size whose chunks would not fit in memory (half this machine's) before anything runs."""
    spec = plan.spec
    model = spec.sweep_model()
    if model.memory is None:
        return
    factors = {f.name: f for f in spec.factors}

    def largest(name: str) -> int:
        if name in spec.base:
            return int(spec.base[name])
        if name in factors:
            f = factors[name]
            return int(max(f.values) if f.values is not None else f.high)
        return int(model.specs[name].default)

    k = min(plan.chunk_size, plan.max_runs)
    need = model.memory(k, spec.n_steps, spec.keep_series, largest)
    limit = memory_limit()
    if need.total > limit:
        fits = max(1, int(k * limit / need.total))
        raise SpecError([f"{spec.path or '<spec>'}: chunk_size: a chunk of {k:,} runs of {model.label()} needs "
                         f"{need}, above half this machine's memory ({limit / 2**30:.1f} GiB): use --chunk-size "
                         f"{fits:,} or less (results do not depend on it)"])

def _check_points(plan: SweepPlan) -> None:
    """Every design point's parameters together (the model's cross-field rules, e.g. a community smaller than a
    partnership), before anything runs: a :class:`~sim.sweep.spec.SpecError` naming the point and the rule."""
    model = plan.spec.sweep_model()
    if model.check_points is None:
        return
    points = plan.design.points
    params = {**plan.spec.base, "n_steps": plan.spec.n_steps,
              **{name: points[name].to_numpy() for name in plan.design.factors}}
    try:
        model.check_points(max(len(points), 1), params)
    except ParamError as exc:
        text = str(exc).replace(" (run ", " (point_id ")
        raise SpecError([f"{plan.spec.path or '<spec>'}: {text}"]) from None


def probe_rate(plan: SweepPlan, n: int | None = None) -> float:
    """Runs per second of one core on the first ``n`` runs of the sweep (a tiny timing probe).

    The first runs in ``run_id`` order cover every cell evenly; a batch the size of a
    chunk is what the engine needs to reach its vectorized speed.
    """
    start, stop = plan.first_round()
    n = plan.spec.sweep_model().probe_runs if n is None else n
    ids = run_ids_for(plan.n_cells, start, stop)[:min(n, plan.chunk_size)]
    task = make_tasks(plan.spec, plan.design, ids, len(ids))[0]
    run_chunk(make_tasks(plan.spec, plan.design, ids[:8], 8)[0])  # warm caches and imports
    t0 = time.perf_counter()
    run_chunk(task)
    return len(ids) / (time.perf_counter() - t0)


def _note(message: str) -> None:
    warnings.warn(message, SweepWarning, stacklevel=3)


def _session() -> dict[str, Any]:
    """What one run of the driver records about itself (each session records its own provenance)."""
    return {"started": now_iso(), **provenance(), "chunks_run": 0, "finished": None}


def _base_manifest(plan: SweepPlan, out: Path) -> dict[str, Any]:
    spec, design = plan.spec, plan.design
    m: dict[str, Any] = {
        "kind": "sweep",
        "model": spec.model,
        "tables": list(get_model(spec.model).tables),  # the extra tables stored per chunk (store.stored_tables)
        "name": spec.name,
        "status": "running",
        "spec": spec.to_dict(),
        "spec_path": spec.path,
        "spec_hash": spec.hash(),
        **provenance(),
        "root_seed": spec.seed,
        "crn": spec.crn,
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
            "bins": {s: {"kind": b.kind, "n_bins": b.n_bins, "hi": b.hi}
                     for s in spec.keep_series for b in [binning(s, spec.model)]},
        },
        "integrity": INTEGRITY_VERSION,
        "files": {},
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


def _check_target(out: Path, resume: bool, force: bool) -> None:
    """Refuse what cannot be done to ``out`` before anything is written (read-only)."""
    if resume and force:
        raise ResumeError("choose --resume (continue) or --force (start over), not both")
    if out.exists() and not out.is_dir():
        raise ResumeError(f"{out} exists and is not a folder")
    check_unlocked(out)  # a folder being written is reported as such, whatever it holds so far
    if is_empty(out):
        return
    if force:
        removable_files(out)  # raises ForceRefused naming what is there
        return
    has_manifest = (out / MANIFEST).exists()
    if resume and not has_manifest:
        raise ResumeError(f"{out} has no {MANIFEST}: not a sweep folder, refusing to resume into it")
    if not resume:
        hint = ("pass --resume to continue that sweep or --force to delete it and start over" if has_manifest
                else "it is not a TrustLadder results folder: choose another --out")
        raise ResumeError(f"{out} exists and is not empty: {hint}")


def _check_resumable(plan: SweepPlan, out: Path, manifest: dict[str, Any], allow_version_change: bool) -> None:
    if manifest.get("kind") != "sweep":
        raise ResumeError(f"{out}/{MANIFEST} is not a sweep manifest (kind {manifest.get('kind')!r})")
    if manifest.get("spec_hash") != plan.spec.hash():
        raise ResumeError(f"refusing to resume {out}: the spec changed since it was started "
                          f"(spec hash {str(manifest.get('spec_hash', '?'))[:12]} in the manifest, "
                          f"{plan.spec.hash()[:12]} now); use --force to start over or another --out")
    if manifest.get("model_version") != MODEL_VERSION:
        raise ResumeError(f"refusing to resume {out}: it was run with sim.MODEL_VERSION "
                          f"{manifest.get('model_version')!r}, this is {MODEL_VERSION!r} (the model's numbers "
                          "changed); use --force to start over or another --out")
    theirs = (manifest.get("versions") or {}).get("trustladder")
    ours = package_versions().get("trustladder")
    if theirs != ours and not allow_version_change:
        raise ResumeError(f"refusing to resume {out}: it was started with trustladder {theirs}, this is {ours}. "
                          "sim.MODEL_VERSION is the same, so the runs' numbers should be too: pass "
                          "--allow-version-change (allow_version_change=True) to continue it anyway (the manifest "
                          "records each session's versions), or --force to start over")
    if plan.chunk_size != manifest.get("chunk_size"):
        raise ResumeError(f"{out} was cut into chunks of {manifest.get('chunk_size')} runs; resume with that "
                          f"chunk size (got {plan.chunk_size})")


def _design_bytes(plan: SweepPlan) -> dict[str, bytes]:
    buf = io.BytesIO()
    np.save(buf, plan.design.sample)
    return {POINTS: frame_bytes(plan.design.points, "parquet"), SAMPLE: buf.getvalue()}


def _write_design(plan: SweepPlan, out: Path, manifest: dict[str, Any], names: tuple[str, ...]) -> None:
    data = _design_bytes(plan)
    for name in names:
        write_bytes_atomic(out / name, data[name])
        manifest.setdefault("files", {})[name] = sha256_bytes(data[name])


def _check_design(plan: SweepPlan, out: Path, manifest: dict[str, Any]) -> None:
    """On resume: the stored points and sample must be the plan's (rewritten if missing or unreadable)."""
    files = manifest.setdefault("files", {})
    rewrite = []
    for name, stored, planned in ((POINTS, lambda: pd.read_parquet(out / POINTS), plan.design.points),
                                  (SAMPLE, lambda: np.load(out / SAMPLE), plan.design.sample)):
        if check_file(out, name, files.get(name)) is None and name in files:
            continue
        try:
            value = stored()
        except Exception:  # missing or unreadable: it is a function of the spec, write it again
            rewrite.append(name)
            continue
        same = value.equals(planned) if isinstance(planned, pd.DataFrame) else np.array_equal(value, planned)
        if not same:
            raise ResumeError(f"refusing to resume {out}: its {name} differs from the design the spec gives now "
                              "(edited by hand, or sampled differently by another SALib/scipy version); use "
                              "--force to start over or another --out")
        files[name] = sha256_file(out / name)
    if rewrite:
        _note(f"{out}: {', '.join(rewrite)} missing or unreadable: written again from the spec")
        _write_design(plan, out, manifest, tuple(rewrite))


def _prepare_folder(plan: SweepPlan, out: Path, resume: bool, force: bool,
                    allow_version_change: bool = False) -> dict[str, Any]:
    """Create, clear or reopen the results folder (its lock held); return the manifest to continue."""
    if resume and not is_empty(out):
        try:
            manifest = read_manifest(out)
        except NotASweepError as exc:
            raise ResumeError(f"{exc}; refusing to resume into it") from None
        _check_resumable(plan, out, manifest, allow_version_change)
        for d in (out, out / "runs", out / "series", out / "state"):
            for p in d.glob(".*"):
                if is_temp_name(p.name) and p.is_file():
                    p.unlink(missing_ok=True)  # leftovers of writes interrupted before their rename
        stray = stray_files(out, manifest)
        if stray:
            shown = ", ".join(stray[:10]) + (f" and {len(stray) - 10} more" if len(stray) > 10 else "")
            raise ResumeError(f"refusing to resume {out}: it holds files that are not chunks of this sweep: {shown}. "
                              "Move them out of the folder and resume again")
        _check_design(plan, out, manifest)
        return manifest
    if force:
        clear_folder(out, removable_files(out))
    elif not is_empty(out):
        raise ResumeError(f"{out} exists and is not empty: pass --resume to continue that sweep "
                          "or --force to delete it and start over")
    manifest = _base_manifest(plan, out)
    write_json_atomic(out / MANIFEST, manifest)  # first: from here on the folder is provably a TrustLadder result
    _write_design(plan, out, manifest, (POINTS, SAMPLE))
    write_json_atomic(out / MANIFEST, manifest)
    return manifest


def _verified_chunks(out: Path, manifest: dict[str, Any]) -> set[int]:
    """Indices of the recorded chunks whose files match the manifest; each other stored one gets a note.

    A folder written before integrity records (no ``manifest["integrity"]``) has its chunks adopted
    when their row counts are right: their hashes are recorded from the files as they are.
    """
    series = "hash" if manifest.get("save_series") else None
    legacy = "integrity" not in manifest
    good = set()
    for entry in manifest.get("chunks", []):
        if legacy and "sha256" not in entry and chunk_path(out, entry["index"]).exists() and check_chunk(
                out, entry, "exists" if series else None) is None:
            entry["rows"] = entry["n_runs"]
            entry["sha256"] = sha256_file(chunk_path(out, entry["index"]))
            if series:
                entry["series_sha256"] = sha256_file(series_path(out, entry["index"]))
        if "sha256" not in entry:  # not finished, or finished after the last checkpoint: run it (again)
            continue
        problem = check_chunk(out, entry, series, manifest.get("model", DEFAULT_MODEL), stored_tables(manifest))
        if problem is None:
            good.add(int(entry["index"]))
        else:
            _note(f"chunk {entry['index']}: {problem}: running it again")
            for key in ("sha256", "series_sha256", "rows", "tables"):
                entry.pop(key, None)
    manifest["integrity"] = INTEGRITY_VERSION
    return good


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
    max_runs: int | None = None,
    max_points: int | None = None,
    allow_version_change: bool = False,
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
        Continue an unfinished sweep in ``out`` (refused if its spec,
        ``sim.MODEL_VERSION`` or trustladder's version changed). Every stored
        chunk is verified against the manifest; missing or damaged ones run
        again. Without ``resume`` or ``force`` an existing, non-empty ``out``
        is an error.
    force : bool
        Start over: delete the files of the TrustLadder result in ``out``.
        Refused (:class:`~sim.sweep.folder.ForceRefused`) if ``out`` is not
        provably one, holds anything else, or is ``.``, an ancestor of it, the
        home folder or a filesystem root.
    progress : bool, optional
        Show a progress bar (default: when stderr and stdout are terminals).
    on_chunk : callable, optional
        Called as ``on_chunk(result, runs_done)`` after each chunk is stored.
    max_runs, max_points : int, optional
        Size limits of the design (see :func:`plan_sweep`).
    allow_version_change : bool
        Resume a sweep started with another trustladder version (same
        ``sim.MODEL_VERSION``); the manifest records each session's versions.

    Returns
    -------
    Path
        The results folder; read it with :func:`sim.load_results`.

    Raises
    ------
    ResumeError, ForceRefused, FolderLocked
        The folder cannot be written as asked (another process holds its lock,
        it is not ours to delete, its spec changed, ...).
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    out = Path(out) if out is not None else Path("results") / spec.name
    if resume and (out / MANIFEST).exists() and chunk_size is None:
        try:
            chunk_size = int(read_manifest(out)["chunk_size"])
        except (KeyError, ValueError, TypeError, OSError):
            pass  # reported by _prepare_folder
    plan = plan_sweep(spec, chunk_size, max_runs=max_runs, max_points=max_points)
    _check_target(out, resume, force)
    with FolderLock(out):
        manifest = _prepare_folder(plan, out, resume, force, allow_version_change)
        done = _verified_chunks(out, manifest)
        complete = manifest.get("status") == "complete"
        bands_ok = complete and check_file(out, BANDS, manifest.get("files", {}).get(BANDS)) is None and (
            out / BANDS).exists()
        if complete and bands_ok and all(c["index"] in done for c in manifest["chunks"]):
            if manifest != read_manifest(out):  # records adopted from an older folder, a design file rewritten
                write_json_atomic(out / MANIFEST, manifest)
            return out
        if complete:
            _note(f"{out}: the sweep was complete, but "
                  + ("its bands.parquet is missing or damaged: running every chunk again for its bands"
                     if not bands_ok else "some chunks are missing or damaged: running them again"))
            manifest["status"] = "running"
        if progress is None:
            progress = sys.stdout.isatty() and sys.stderr.isatty()
        own_executor = executor is None
        executor = executor or InProcessExecutor()
        session = {**_session(), "executor": executor.label}
        manifest.setdefault("sessions", []).append(session)
        try:
            _execute(plan, out, manifest, executor, session, done, bands_ok, progress, on_chunk)
        finally:
            if own_executor:
                executor.close()
    return out


def _load_state(acc: BandAccumulator, state: Path) -> set[int]:
    """Fill ``acc`` from the checkpoint; the indices of the chunks it holds (empty if it is unreadable)."""
    try:
        acc.load(state)
        with np.load(state) as z:
            return {int(i) for i in z["merged"]}
    except Exception as exc:  # a damaged checkpoint: zipfile, KeyError, shape mismatch, ...
        _note(f"{state} is unreadable ({type(exc).__name__}: {exc}): ignoring it; the bands are rebuilt by "
              "running the stored chunks again (their tables are kept)")
        acc.clear()
        return set()


def _execute(plan: SweepPlan, out: Path, manifest: dict[str, Any], executor: Executor, session: dict[str, Any],
             done: set[int], bands_ok: bool, progress: bool, on_chunk: Callable | None) -> None:
    spec = plan.spec
    n_cells = plan.n_cells
    acc = (BandAccumulator(n_cells, spec.n_steps, spec.keep_series, spec.model) if spec.keep_series and not bands_ok
           else None)
    merged: set[int] = set()
    state = out / STATE
    if acc is not None and state.exists():
        merged = _load_state(acc, state)
    recorded = {c["index"]: c for c in manifest.get("chunks", [])}
    rounds = manifest.setdefault("rounds", [])
    last_save = time.monotonic()
    bar: _Progress | None = None
    runs_done = 0

    def checkpoint() -> None:
        if acc is not None:
            acc.save(state, merged=np.array(sorted(merged), dtype=np.int64))
        write_json_atomic(out / MANIFEST, manifest)

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
                if t.index in recorded and {k: recorded[t.index].get(k) for k in entry} != entry:
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
                    entry = recorded[res.index]
                    if res.series_npz is not None:
                        write_bytes_atomic(series_path(out, res.index), res.series_npz)
                        entry["series_sha256"] = sha256_bytes(res.series_npz)
                    kept = stored_tables(manifest)  # a folder from before a table was kept goes on without it
                    for name, data in ((n, d) for n, d in res.tables.items() if n in kept):
                        write_bytes_atomic(table_path(out, name, res.index), data)
                        entry.setdefault("tables", {})[name] = {"rows": res.table_rows[name],
                                                                "sha256": sha256_bytes(data)}
                    write_bytes_atomic(chunk_path(out, res.index), res.runs_parquet)
                    entry["rows"] = len(res.run_ids)
                    entry["sha256"] = sha256_bytes(res.runs_parquet)
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
                if time.monotonic() - last_save > CHECKPOINT_SECONDS:
                    checkpoint()
                    last_save = time.monotonic()

            if spec.precision is None:
                break
            targets = _precision_targets(plan, out, stop, [c for c in manifest["chunks"] if c["round"] <= r])
            if np.array_equal(targets, stop):
                break
            start, stop = stop, targets
            r += 1
    except BaseException as exc:
        if bar is not None:
            bar.close()
        session["finished"] = now_iso()
        session["interrupted"] = f"{type(exc).__name__}: {exc}"
        if consistent:
            checkpoint()
        else:
            write_json_atomic(out / MANIFEST, manifest)
        raise
    if bar is not None:
        bar.close()

    if not bands_ok:
        table = (acc or BandAccumulator(n_cells, spec.n_steps, [], spec.model)).table(spec.strategies,
                                                                                       plan.design.points)
        data = frame_bytes(table, "parquet")  # no series kept: an empty table keeps the schema for readers
        write_bytes_atomic(out / BANDS, data)
        manifest.setdefault("files", {})[BANDS] = sha256_bytes(data)
    session["finished"] = now_iso()
    manifest["status"] = "complete"
    manifest["finished"] = session["finished"]
    if spec.precision is not None:
        manifest["replicates_per_cell"] = stop.tolist() if n_cells <= 100_000 else None
    write_json_atomic(out / MANIFEST, manifest)
    state.unlink(missing_ok=True)
    if state.parent.is_dir() and not any(state.parent.iterdir()):
        state.parent.rmdir()


def _precision_targets(plan: SweepPlan, out: Path, counts: np.ndarray, chunks: list[dict[str, Any]]) -> np.ndarray:
    """The next round's replicates per cell, from the finished rounds' runs (in run_id order)."""
    outcome = plan.spec.precision.outcome
    df = pd.concat([pd.read_parquet(chunk_path(out, c["index"]), columns=["run_id", outcome]) for c in chunks],
                   ignore_index=True)
    df = df.sort_values("run_id", kind="stable")
    run_id = df["run_id"].to_numpy()
    cell = run_id % plan.n_cells
    # A resumed sweep may already hold later rounds' chunks: decide from this round's replicates only.
    mine = run_id // plan.n_cells < counts[cell]
    df, cell = df[mine], cell[mine]
    hw = cell_half_widths(cell, df[outcome].to_numpy(), plan.n_cells, plan.spec.precision)
    return next_targets(counts, hw, plan.spec.precision)
