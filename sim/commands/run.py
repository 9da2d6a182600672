"""``trustladder run``: one batch of runs, a per-run table, a manifest and a summary."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..params import PARAMETERS, coerce_value


def add_set_option(p: argparse.ArgumentParser) -> None:
    """``--set NAME=VALUE`` (repeatable): a parameter by its MODEL.md name, parsed by :func:`parse_sets`."""
    p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                   help="set a parameter by its MODEL.md name; repeat for several (e.g. --set initial_trust=0.5)")


def parse_sets(pairs: list[str] | None) -> dict[str, Any]:
    """``["name=value", ...]`` -> validated ``{name: value}``."""
    from ..cli import UserError

    out: dict[str, Any] = {}
    for item in pairs or []:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected name=value, e.g. --set initial_trust=0.5")
        name, text = item.split("=", 1)
        out[name.strip()] = coerce_value(name.strip(), text.strip())
    return out


def with_strategy(params: dict[str, Any], strategy: str | None) -> dict[str, Any]:
    """Add ``--strategy`` to the ``--set`` parameters; both may name it, if they agree."""
    from ..cli import UserError

    if strategy is not None:
        if "strategy" in params and params["strategy"] != strategy:
            raise UserError(f"--strategy {strategy} and --set strategy={params['strategy']} disagree")
        params["strategy"] = coerce_value("strategy", strategy)
    return params


def summary_table(summary: pd.DataFrame, n_steps: int) -> pd.DataFrame:
    """A short outcome table per strategy (mean over runs)."""
    g = summary.groupby("strategy", sort=False)
    return pd.DataFrame({
        "runs": g.size(),
        "dissolved": g["dissolved"].mean().round(3),
        "median dissolved step": g["dissolved_step"].median(),
        "reached collaboration": g["first_step_level_4"].apply(lambda s: s.notna().mean()).round(3),
        "mean peak level": g["peak_level"].mean().round(2),
        f"mean benefit ({n_steps} steps)": g["cumulative_benefit"].mean().round(1),
        "final trust (survivors)": g["final_trust"].mean().round(3),
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
    p.add_argument("--strategy", help=f"strategy name (default: {PARAMETERS['strategy'].default})")
    p.add_argument("--runs", type=int, default=1000, help="number of runs (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default: %(default)s)")
    add_set_option(p)
    p.add_argument("--out", type=Path, help="folder to write runs.parquet and manifest.json into")
    p.add_argument("--series", action="store_true", help="also write every per-step series to series.npz")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from .. import simulate
    from ..cli import UserError
    from ..manifest import now_iso, provenance, write_bytes_atomic, write_json_atomic

    params = with_strategy(parse_sets(args.set), args.strategy)
    if args.runs < 1:
        raise UserError(f"--runs {args.runs}: must be at least 1")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out}: exists and is not a folder")
    if args.out is not None and args.out.exists() and any(args.out.iterdir()) and not args.force:
        raise UserError(f"{args.out} exists and is not empty; pass --force to overwrite it")
    started = now_iso()
    t0 = time.perf_counter()
    res = simulate(n_runs=args.runs, seed=args.seed, **params)
    elapsed = time.perf_counter() - t0
    table = summary_table(res.summary, res.n_steps)
    print(f"{args.runs} runs x {res.n_steps} steps in {elapsed:.2f} s "
          f"({args.runs * res.n_steps / elapsed:,.0f} run-steps/s)")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.to_string())
    if args.out is not None:
        if args.out.exists() and args.force:
            shutil.rmtree(args.out)
        tmp = args.out.with_name(f".{args.out.name}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        res.summary.to_parquet(tmp / "runs.parquet", index=False)
        if args.series:
            import io

            buf = io.BytesIO()
            np.savez_compressed(buf, **{name: res.series(name) for name in res.series_names})
            write_bytes_atomic(tmp / "series.npz", buf.getvalue())
        write_json_atomic(tmp / "manifest.json", {
            "kind": "run",
            "root_seed": args.seed,
            "n_runs": args.runs,
            "parameters": {name: (params.get(name, spec.default)) for name, spec in PARAMETERS.items()},
            "seeds": [int(s) for s in res.seeds],
            "started": started,
            "finished": now_iso(),
            "elapsed_seconds": round(elapsed, 3),
            **provenance(),
        })
        tmp.rename(args.out)
        print(f"wrote {args.out}/runs.parquet{', series.npz' if args.series else ''} and manifest.json")
    return 0
