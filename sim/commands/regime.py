"""``trustladder regime``: the engine, with the reference constants, against the reference regime table."""

from __future__ import annotations

import argparse

from ..regime import compare_regime


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "regime",
        help="compare the engine with the reference regime table (docs/ODD.md)",
        description=(
            "Run the engine with the reference constants on the rows of the reference regime table "
            "(docs/ODD.md, section 9: dissolved by months 36 and 120, reached collaboration, benefit in the "
            "first 24 and over 120 months, per strategy and initial trust) and print engine/reference for each "
            "measure, X where it lies outside its tolerance (about four standard errors). Exit status 1 when "
            "a row differs."
        ),
    )
    p.add_argument("--all", action="store_true", help="all 25 rows, not the 10 quick ones (initial trust 0.3, 0.85)")
    p.add_argument("--runs", type=int, default=2000, help="engine runs a row (default: %(default)s)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    result = compare_regime("all" if args.all else "quick", runs=args.runs)
    print(result.format())
    return 0 if result.ok else 1
