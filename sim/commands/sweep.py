"""``trustladder sweep SPEC``: run a parameter sweep (in-process, a local pool, or Dask) into a results folder."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a parameter sweep from an experiment spec (TOML)",
        description=(
            "Expand an experiment spec into runs (stable run_id and seed each), cut them into chunks, run the chunks "
            "with the vectorized engine and write a results folder: manifest.json, the per-run table "
            "(runs/*.parquet), per-cell quantile bands of the kept series (bands.parquet). Read it back with "
            "sim.load_results(DIR). Results are identical whatever the chunk size, executor or worker count."
        ),
        epilog="See docs/sweeps.md for the spec format, the results schema and how to start a Dask cluster.",
    )
    p.add_argument("spec", type=Path, help="experiment spec, e.g. experiments/example.toml")
    p.add_argument("--out", type=Path, help="results folder (default: results/<name>)")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int, metavar="N", help="run chunks in N local worker processes")
    ex.add_argument("--dask-local", type=int, metavar="N",
                    help="start a Dask LocalCluster of N worker processes on 127.0.0.1 and run there")
    ex.add_argument("--dask-scheduler", metavar="ADDRESS",
                    help="run on an existing Dask cluster (e.g. tcp://10.0.0.5:8786)")
    p.add_argument("--chunk-size", type=int, metavar="K",
                   help="runs per chunk (default: the spec's chunk_size, else 4096; resume keeps the original)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue an unfinished sweep in --out")
    mode.add_argument("--force", action="store_true",
                      help="start over: delete the files of the TrustLadder result in --out (refused if it holds "
                           "anything else; see docs/sweeps.md, 'What is safe')")
    p.add_argument("--dry-run", action="store_true",
                   help="print the number of runs and chunks and an estimated time; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    add_size_options(p)
    p.add_argument("--allow-version-change", action="store_true",
                   help="resume a sweep started with another trustladder version (same sim.MODEL_VERSION)")
    p.set_defaults(func=main)


def add_size_options(p: argparse.ArgumentParser) -> None:
    """``--max-runs`` and ``--max-points``: the design size limits (``sweep``, ``validate``)."""
    # Lazy: the sweep package imports scipy.stats; importing the commands (trustladder --help) need not.
    from ..sweep.size import DEFAULT_MAX_POINTS, DEFAULT_MAX_RUNS

    p.add_argument("--max-runs", type=int, metavar="N",
                   help=f"refuse a design of more than N runs (default {DEFAULT_MAX_RUNS:,})")
    p.add_argument("--max-points", type=int, metavar="N",
                   help=f"refuse a design of more than N points (default {DEFAULT_MAX_POINTS:,})")


@contextmanager
def sweep_notes(command: str) -> Iterator[None]:
    """Print the sweep's warnings (a chunk run again, a worker restarted, ...) as one line each."""
    # Lazy: the sweep package imports scipy.stats (see add_size_options).
    from ..sweep.store import SweepWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", SweepWarning)
        default = warnings.showwarning

        def show(message, category, *args, **kwargs):  # warnings.showwarning's signature
            if issubclass(category, SweepWarning):
                print(f"trustladder {command}: note: {message}", file=sys.stderr)
            else:
                default(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


def _fmt_seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def main(args: argparse.Namespace) -> int:
    # Lazy: the sweep package imports scipy.stats; `trustladder --help` and `run` do not need it.
    from ..sweep import SpecError, make_executor, plan_sweep, run_sweep
    from ..sweep.executors import WorkerLost
    from ..sweep.folder import FolderError
    from ..sweep.runner import probe_rate

    if args.chunk_size is not None and args.chunk_size < 1:
        raise UserError(f"--chunk-size {args.chunk_size}: must be at least 1")
    for flag, value in (("--max-runs", args.max_runs), ("--max-points", args.max_points)):
        if value is not None and value < 1:
            raise UserError(f"{flag} {value}: must be at least 1")
    try:
        plan = plan_sweep(args.spec, args.chunk_size, max_runs=args.max_runs, max_points=args.max_points)
    except SpecError as exc:
        for line in exc.problems:
            print(f"trustladder sweep: error: {line}", file=sys.stderr)
        return 2
    spec = plan.spec
    out = args.out or Path("results") / spec.name

    if args.dry_run:
        workers = args.workers or args.dask_local or 1
        rate = probe_rate(plan)
        lo, hi = plan.min_runs, plan.max_runs
        runs = f"{lo:,}" if lo == hi else f"{lo:,} (round 0) to {hi:,} (every cell at max_replicates)"
        chunks = f"{plan.n_chunks(lo):,}" if lo == hi else f"{plan.n_chunks(lo):,} to {plan.n_chunks(hi):,}"
        print(f"{spec.name}: {plan.design.n_points:,} points x {len(spec.strategies)} strategies = "
              f"{plan.n_cells:,} cells, {spec.n_steps} steps")
        print(f"runs:    {runs}")
        print(f"chunks:  {chunks} of {plan.chunk_size:,} runs")
        where = "per worker" if args.dask_scheduler else f"on {workers} worker{'s' if workers > 1 else ''}"
        est = lo / rate / (1 if args.dask_scheduler else workers)
        est_txt = _fmt_seconds(est) if lo == hi else f"{_fmt_seconds(est)} to {_fmt_seconds(est * hi / lo)}"
        print(f"time:    about {est_txt} {where} (probe: {rate:,.0f} runs/s, "
              f"{rate * spec.n_steps:,.0f} run-steps/s on one core)")
        print(f"out:     {out}" + (" (exists)" if out.exists() else ""))
        return 0

    from ..sweep.store import read_manifest

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    before = read_manifest(out) if args.resume and (out / "manifest.json").exists() else {}
    chunk_size = int(before.get("chunk_size") or plan.chunk_size)  # a resumed sweep keeps its chunks
    try:
        executor = make_executor(args.workers, args.dask_local, args.dask_scheduler)
    except (ValueError, ImportError) as exc:
        raise UserError(str(exc)) from None
    t0 = time.perf_counter()
    try:
        with executor, sweep_notes("sweep"):
            if not args.quiet:
                print(f"{spec.name}: {plan.n_cells:,} cells, {plan.min_runs:,}"
                      f"{'+' if spec.precision else ''} runs in chunks of {chunk_size:,} on {executor.label}"
                      + (" (resuming)" if before else ""),
                      file=sys.stderr)
            run_sweep(spec, out, executor=executor, chunk_size=args.chunk_size, resume=args.resume,
                      force=args.force, progress=False if args.quiet else None, max_runs=args.max_runs,
                      max_points=args.max_points, allow_version_change=args.allow_version_change)
    except FolderError as exc:
        raise UserError(str(exc)) from None
    except WorkerLost as exc:
        print(f"trustladder sweep: error: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - t0
    after = read_manifest(out)
    if not args.quiet and len(after.get("sessions", [])) == len(before.get("sessions", [])) and before:
        print(f"{out}: already complete, every chunk verified, nothing to do; "
              f"load it with sim.load_results({str(out)!r})")
    elif not args.quiet:
        n = after["n_runs"]
        print(f"wrote {out}: {n:,} runs in {_fmt_seconds(elapsed)} ({n / elapsed:,.0f} runs/s); "
              f"load it with sim.load_results({str(out)!r})")
    return 0
