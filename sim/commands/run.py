"""``trustladder run``: one batch of runs, a per-run table, a manifest and a summary.

``--model community`` runs communities (:func:`sim.simulate_community`) instead of partnerships: the per-run
table is the community summary, and the partnership, organization and membership tables are written beside it.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..community_params import COMMUNITY_VOCABULARY
from ..community_results import simulate_community
from ..errors import UserError
from ..manifest import now_iso, provenance, write_bytes_atomic, write_frame_atomic, write_json_atomic
from ..params import PARAMETERS
from ..results import simulate
from ..variants import KINDS
from ._common import add_set_option, run_params

#: The models ``--model`` may name.
MODELS = ("partnership", "community")
#: The tables a community run writes beside runs.parquet (``CommunityResults`` attributes).
COMMUNITY_TABLES = ("partnerships", "organizations", "memberships")


def summary_table(summary: pd.DataFrame, n_steps: int) -> pd.DataFrame:
    """A short outcome table per strategy, and per rule variant where the runs differ in it (mean over runs)."""
    by = ["strategy", *(k for k in KINDS if k in summary and summary[k].nunique() > 1)]
    g = summary.groupby(by if len(by) > 1 else "strategy", sort=False)
    return pd.DataFrame({
        "runs": g.size(),
        "dissolved": g["dissolved"].mean().round(3),
        "median dissolved step": g["dissolved_step"].median(),
        "reached collaboration": g["first_step_level_4"].apply(lambda s: s.notna().mean()).round(3),
        "mean peak level": g["peak_level"].mean().round(2),
        f"mean benefit ({n_steps} steps)": g["cumulative_benefit"].mean().round(1),
        "mean net benefit": g["net_benefit"].mean().round(1),
        "mean departures": g["n_left"].mean().round(2),
        "final trust (survivors)": g["final_trust"].mean().round(3),
    })


def community_summary_table(summary: pd.DataFrame, n_steps: int) -> pd.DataFrame:
    """A short outcome table of a batch of communities per funding policy and strategy (mean over runs)."""
    by = [k for k in ("funder_policy", "strategy") if summary[k].nunique() > 1] or ["funder_policy"]
    g = summary.groupby(by, sort=False)
    return pd.DataFrame({
        "runs": g.size(),
        f"mean benefit ({n_steps} months)": g["cumulative_benefit"].mean().round(1),
        "mean net benefit": g["net_benefit"].mean().round(1),
        "partnerships formed": g["n_formed"].mean().round(2),
        "ended": g["n_ended"].mean().round(2),
        "awards": g["n_awarded"].mean().round(2),
        "funder spent": g["funder_spent"].mean().round(1),
        "durable (level >= 4 at the end)": g["durable"].mean().round(2),
        "final trust (all pairs)": g["final_mean_trust"].mean().round(3),
        "final trust (acquainted)": g["final_mean_trust_worked"].mean().round(3),
    })


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a batch of partnerships and summarize them",
        description=(
            "Run a batch with the vectorized engine. Writes runs.parquet (one row per run: seed, parameters, "
            "outcomes), optionally series.npz, and manifest.json (parameters, seeds, versions, git commit) into "
            "--out, and prints a summary table."
        ),
    )
    p.add_argument("--model", choices=MODELS, default="partnership",
                   help="partnership (default) or community: communities of organizations forming partnerships "
                        "(sim.simulate_community); --set then takes the community's parameters too")
    p.add_argument("--strategy", help=f"strategy name (default: {PARAMETERS['strategy'].default})")
    p.add_argument("--runs", type=int, default=1000, help="number of runs (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default: %(default)s)")
    add_set_option(p)
    p.add_argument("--out", type=Path, help="folder to write runs.parquet and manifest.json into")
    p.add_argument("--series", action="store_true", help="also write every per-step series to series.npz")
    p.add_argument("--force", action="store_true",
                   help="replace the TrustLadder result in an existing --out folder (refused if it holds anything "
                        "else, or is ., an ancestor of it, your home folder or a filesystem root)")
    p.set_defaults(func=main)


def _check_out(out: Path, force: bool) -> None:
    """Refuse an --out that may not be written (before anything runs)."""
    # Lazy: the sweep package imports scipy.stats; a run without --out does not need it.
    from ..sweep.folder import ForceRefused, is_empty, removable_files

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if is_empty(out):
        return
    if not force:
        raise UserError(f"{out} exists and is not empty; pass --force to replace the TrustLadder result in it "
                        "(only a folder whose manifest.json says it is one, holding nothing else)")
    try:
        removable_files(out)
    except ForceRefused as exc:
        raise UserError(str(exc)) from None


def write_run_folder(out: Path, res: Any, manifest: dict[str, Any], series: bool, force: bool) -> None:
    """Write a batch into ``out`` under its lock: manifest (status running), runs.parquet, series.npz, manifest.

    The manifest goes first, so even an interrupted folder is provably a TrustLadder result (``--force``
    may replace it); it says ``"status": "complete"`` once every file is in place.
    """
    # Lazy: the sweep package imports scipy.stats (see _check_out).
    from ..sweep.folder import FolderError, FolderLock, clear_folder, is_empty, removable_files

    try:
        with FolderLock(out):
            if not is_empty(out):
                if not force:
                    raise UserError(f"{out} was written by another process meanwhile; pass --force to replace it")
                clear_folder(out, removable_files(out))
            manifest = {**manifest, "status": "running"}
            write_json_atomic(out / "manifest.json", manifest)
            write_frame_atomic(out / "runs.parquet", res.summary)
            for name in COMMUNITY_TABLES if hasattr(res, "memberships") else ():
                write_frame_atomic(out / f"{name}.parquet", getattr(res, name))
            if series:
                buf = io.BytesIO()
                np.savez_compressed(buf, **{name: res.series(name) for name in res.series_names})
                write_bytes_atomic(out / "series.npz", buf.getvalue())
            write_json_atomic(out / "manifest.json", {**manifest, "status": "complete", "finished": now_iso()})
    except FolderError as exc:
        raise UserError(str(exc)) from None


def main(args: argparse.Namespace) -> int:
    community = getattr(args, "model", "partnership") == "community"
    specs, run = (COMMUNITY_VOCABULARY, simulate_community) if community else (PARAMETERS, simulate)
    params = run_params(args, specs)
    if args.runs < 1:
        raise UserError(f"--runs {args.runs}: must be at least 1")
    if args.out is not None:
        _check_out(args.out, args.force)
    started = now_iso()
    t0 = time.perf_counter()
    res = run(n_runs=args.runs, seed=args.seed, **params)
    elapsed = time.perf_counter() - t0
    table = (community_summary_table if community else summary_table)(res.summary, res.n_steps)
    what = "communities" if community else "runs"
    print(f"{args.runs} {what} x {res.n_steps} steps in {elapsed:.2f} s "
          f"({args.runs * res.n_steps / elapsed:,.0f} run-steps/s)")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.to_string())
    if args.out is not None:
        write_run_folder(args.out, res, {
            "kind": "run",
            "model": "community" if community else "partnership",
            "root_seed": args.seed,
            "n_runs": args.runs,
            "parameters": {name: (params.get(name, spec.default)) for name, spec in specs.items()},
            "seeds": [int(s) for s in res.seeds],
            "started": started,
            "elapsed_seconds": round(elapsed, 3),
            **provenance(),
        }, args.series, args.force)
        tables = "".join(f", {name}.parquet" for name in COMMUNITY_TABLES) if community else ""
        print(f"wrote {args.out}/runs.parquet{tables}{', series.npz' if args.series else ''} and manifest.json")
    return 0
