"""``trustladder export DIR --csv``: a sweep's results as plain CSV for spreadsheet users."""

from __future__ import annotations

import argparse
from pathlib import Path

from .sweep import sweep_notes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a sweep's results folder as CSV",
        description=(
            "Write runs.csv (one row per run), bands.csv (quantile bands per cell and step), points.csv (the "
            "design) and, if the sweep saved them, series_<name>.csv, into DIR/csv (or --to). Every chunk is "
            "checked against the manifest first; a damaged folder is refused with what to do."
        ),
    )
    p.add_argument("results", type=Path, metavar="DIR", help="a sweep's results folder (with manifest.json)")
    p.add_argument("--csv", action="store_true", required=True, help="write CSV (the only format for now)")
    p.add_argument("--to", type=Path, help="folder for the CSV files (default: RESULTS/csv)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    # Lazy: the sweep package imports scipy.stats; `trustladder --help` and `run` do not need it.
    from ..sweep import export_csv

    with sweep_notes("export"):
        files = export_csv(args.results, args.to)
    for f in files:
        print(f"wrote {f}")
    return 0
