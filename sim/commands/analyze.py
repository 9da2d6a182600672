"""``trustladder analyze DIR``: statistics tables (and sensitivity indices) of a sweep, printed and saved."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from ..community_params import COMMUNITY_VOCABULARY
from ..errors import UserError
from ..manifest import now_iso, write_bytes_atomic, write_json_atomic
from ._common import add_results_dir, open_results, parse_where, results_model

_METHODS = ("auto", "summary", "sobol", "morris")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="statistics of a sweep: outcomes with CIs, effect sizes, survival, Sobol/Morris sensitivity",
        description=(
            "Analyse a sweep's results folder. 'summary' gives per-strategy means and medians with bootstrap "
            "CIs, differences to a reference strategy with effect sizes, Kaplan-Meier survival, log-rank tests "
            "and survival in the months after grant_term; 'sobol'/'morris' gives sensitivity indices with CIs "
            "(for sweeps sampled that way). Tables are printed and saved as CSV and JSON into DIR/analysis/."
        ),
    )
    add_results_dir(p)
    p.add_argument("--method", choices=_METHODS, default="auto",
                   help="what to compute (default auto: summary, plus sobol/morris when the sweep was sampled so)")
    p.add_argument("--outcome", action="append", metavar="NAME", default=None,
                   help="outcome to analyse; repeat for several (default: a standard set; see docs/analysis.md)")
    p.add_argument("--by", default="none", metavar="FACTORS",
                   help="summary per cell: 'factors' (every factor), comma-separated factor names, or 'none' "
                        "(pool over the design; default)")
    p.add_argument("--where", action="append", metavar="NAME=VALUE", default=[],
                   help="keep runs with this parameter value; repeat for several")
    p.add_argument("--reference", help="strategy the others are compared with (default stepwise, else the first)")
    p.add_argument("--window", type=int, default=24, help="months after grant_term for survival after the grant "
                                                          "(default: %(default)s)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="do not print the tables")
    p.set_defaults(func=main)


def parse_by(text: str, results: Any) -> list[str] | None:
    """``--by``: None (pool), every factor of the design, or the named ones."""
    # Lazy: analysis imports scipy.stats and matplotlib (see open_results).
    from ..analysis.data import factor_names

    if text in ("", "none"):
        return None
    if text == "factors":
        return factor_names(results)
    return [t.strip() for t in text.split(",") if t.strip()]


def write_table(df: pd.DataFrame, folder: Path, stem: str) -> list[Path]:
    """``stem.csv`` and ``stem.json`` (records) in ``folder``, atomically."""
    csv = folder / f"{stem}.csv"
    js = folder / f"{stem}.json"
    write_bytes_atomic(csv, df.to_csv(index=False).encode())
    write_bytes_atomic(js, (df.to_json(orient="records", indent=1, double_precision=10) + "\n").encode())
    return [csv, js]


def _show(title: str, df: pd.DataFrame, quiet: bool) -> None:
    if quiet:
        return
    print(f"\n== {title} ==")
    if df.empty:
        print("(no rows)")
        return
    with pd.option_context("display.width", 200, "display.max_columns", 40, "display.max_rows", 200,
                           "display.float_format", lambda v: f"{v:.4g}"):
        print(df.to_string(index=False))


def _methods(args: argparse.Namespace, results: Any) -> set[str]:
    """What ``--method`` asks for: ``summary`` and/or the sweep's sensitivity design."""
    sampling = (results.manifest.get("sampling") or {}).get("method", "grid")
    method = args.method
    todo = {"summary"} if method in ("auto", "summary") else set()
    if method == "auto" and sampling in ("sobol", "morris"):
        todo.add(sampling)
    if method in ("sobol", "morris"):
        todo.add(method)
    return todo


def _sensitivity(args: argparse.Namespace, results: Any, methods: set[str], where: dict[str, Any], out: Path,
                 record: dict[str, Any]) -> list[Path]:
    """The Sobol/Morris tables of either model (sim.analysis.sensitivity), printed and written; their names go
    into ``record``."""
    from ..analysis.sensitivity import sensitivity

    written: list[Path] = []
    for sm in sorted(methods - {"summary"}):
        if where:
            raise UserError("--where cannot be combined with sobol/morris: SALib needs the whole design")
        res = sensitivity(results, sm, outcomes=args.outcome, num_resamples=max(args.resamples, 100),
                          confidence_level=args.confidence, seed=args.seed)
        _show(f"{sm} indices", res.indices, args.quiet)
        written += write_table(res.indices, out, sm)
        record["tables"][sm] = f"{sm}.csv"
        if res.second_order is not None:
            _show("second-order Sobol indices", res.second_order, args.quiet)
            written += write_table(res.second_order, out, f"{sm}_second_order")
            record["tables"][f"{sm}_second_order"] = f"{sm}_second_order.csv"
        _show(f"{sm}: share of variance that is replicate noise (near 1: add replicates)", res.noise, args.quiet)
        written += write_table(res.noise, out, f"{sm}_noise")
        record["tables"][f"{sm}_noise"] = f"{sm}_noise.csv"
        if not res.floor.empty:
            _show(f"{sm}: each factor against the noise floor (the do-nothing dummy)", res.floor, args.quiet)
            written += write_table(res.floor, out, f"{sm}_floor")
            record["tables"][f"{sm}_floor"] = f"{sm}_floor.csv"
            record[f"{sm}_above_floor"] = res.statements()
            if not args.quiet:
                print("\n".join(res.statements()))
        for note in res.notes:
            print(f"note: {note}")
        record[f"{sm}_problem"] = res.problem
        record[f"{sm}_notes"] = res.notes
    return written


def _community(args: argparse.Namespace, results: Any, where: dict[str, Any]) -> int:
    """``analyze`` of a community sweep: outcomes per cell with bootstrap intervals, what became of the
    partnerships, and the Sobol/Morris indices of a sweep sampled so."""
    # Lazy: analysis imports scipy.stats and matplotlib (see open_results).
    from ..analysis.community import community_outcome_table, partnership_summary

    if args.reference:
        raise UserError("--reference: not for a community sweep (its tables are per cell: point or --by factors, "
                        "and strategy)")
    out = args.dir / "analysis"
    by = parse_by(args.by, results)
    methods = _methods(args, results)
    boot = {"n_resamples": args.resamples, "seed": args.seed, "confidence_level": args.confidence}
    record: dict[str, Any] = {"results": str(args.dir), "made": now_iso(), "model": "community",
                              "method": sorted(methods), "where": where, "by": by, "bootstrap": boot, "tables": {}}
    written: list[Path] = []
    if "summary" in methods:
        tables = {"community_outcomes": community_outcome_table(results, args.outcome, by=by, where=where,
                                                                confidence_level=args.confidence,
                                                                n_resamples=args.resamples, seed=args.seed),
                  "partnerships": partnership_summary(results, by=by, where=where)}
        written += _write_tables(tables, out, record, args.quiet, hide=("point_id", "strategy"))
    written += _sensitivity(args, results, methods, where, out, record)
    return _finish(written, out, record)


def _write_tables(tables: dict[str, Any], out: Path, record: dict[str, Any], quiet: bool,
                  hide: tuple[str, ...] = ()) -> list[Path]:
    """Print each table (without the ``hide`` columns) and write it into ``out``, naming it in ``record``."""
    written: list[Path] = []
    for stem, df in tables.items():
        _show(stem.replace("_", " "), df.drop(columns=[c for c in hide if c in df]), quiet)
        written += write_table(df, out, stem)
        record["tables"][stem] = f"{stem}.csv"
    return written


def _finish(written: list[Path], out: Path, record: dict[str, Any]) -> int:
    """Write ``analysis.json`` (the record of what was analysed and written) and say what was written."""
    write_json_atomic(out / "analysis.json", record)
    print(f"\nwrote {len(written) + 1} files into {out}/ (CSV and JSON per table, analysis.json)")
    return 0


def main(args: argparse.Namespace) -> int:
    community = results_model(args.dir) == "community"
    where = parse_where(args.where, COMMUNITY_VOCABULARY if community else None)  # checked before anything is read
    results = open_results(args)
    if community:
        return _community(args, results, where)
    # Lazy: analysis imports scipy.stats and matplotlib; `trustladder --help` and `run` do not need them.
    from ..analysis.data import strategy_order
    from ..analysis.stats import compare_strategies, outcome_table
    from ..analysis.survival import logrank_tests, survival_after_grant, survival_summary

    out = args.dir / "analysis"
    by = parse_by(args.by, results)
    todo = _methods(args, results)
    boot = {"n_resamples": args.resamples, "seed": args.seed, "confidence_level": args.confidence}
    written: list[Path] = []
    record: dict[str, Any] = {"results": str(args.dir), "made": now_iso(), "method": sorted(todo),
                              "where": where, "by": by, "bootstrap": boot, "tables": {}}
    if "summary" in todo:
        multi = len(strategy_order(results)) > 1
        tables = {
            "outcomes": outcome_table(results, args.outcome, by=by, where=where, **boot),
            "survival": survival_summary(results, by=by, where=where, confidence_level=args.confidence),
            "survival_after_grant": survival_after_grant(results, args.window, by=by, where=where,
                                                         confidence_level=args.confidence),
        }
        if multi:
            tables["comparisons"] = compare_strategies(results, args.outcome, reference=args.reference, by=by,
                                                       where=where, **boot)
            tables["logrank"] = logrank_tests(results, reference=args.reference, by=by, where=where)
            tables["logrank_after_grant"] = logrank_tests(results, reference=args.reference, by=by, where=where,
                                                          after_grant=True, window=args.window)
        written += _write_tables(tables, out, record, args.quiet)
    written += _sensitivity(args, results, todo, where, out, record)
    return _finish(written, out, record)
