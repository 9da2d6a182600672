"""``trustladder animate``: an animated GIF of one run for slides."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import UserError
from ..params import PARAMETERS
from ._common import add_set_option, run_params


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "animate",
        help="write an animated GIF of one run (network, ladder, plots) for slides",
        description=(
            "Run one partnership with the Mesa model and write an animated GIF of it, month by month: the "
            "network of organizations, the ladder with the current rung and a trust gauge, and the mean "
            "trust, level and cumulative benefit so far, drawn as on the classroom page (trustladder demo)."
        ),
    )
    p.add_argument("--strategy", help=f"strategy name (default: {PARAMETERS['strategy'].default})")
    p.add_argument("--seed", required=True, help="the run's seed (a whole number), as shown on the page")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.gif", help="the GIF to write")
    add_set_option(p)
    p.add_argument("--steps", type=int, help="months to show (default: the run's n_steps; stops if it dissolves)")
    p.add_argument("--fps", type=float, default=4.0, help="months per second (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    params = run_params(args)
    if args.out.exists() and args.out.is_dir():
        raise UserError(f"--out {args.out}: is a folder; give a file name ending in .gif")
    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists; pass --force to overwrite it")
    # Lazy: the animation imports Mesa and matplotlib; other commands do not need them.
    from ..animate import animate_run

    t0 = time.perf_counter()
    frames = animate_run(args.out, seed=args.seed, steps=args.steps, fps=args.fps, **params)
    print(f"wrote {args.out}: {frames} frames in {time.perf_counter() - t0:.1f} s")
    return 0
