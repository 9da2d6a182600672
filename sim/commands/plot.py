"""``trustladder plot DIR``: publication figures of a sweep, as PNG and SVG into DIR/figures/."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..community_params import COMMUNITY_VOCABULARY
from ..errors import UserError
from ._common import add_results_dir, open_results, parse_where, results_model


def add_parser(sub: argparse._SubParsersAction) -> None:
    # Lazy: the figure kinds' module imports scipy.stats; only building the parser needs it, not importing sim.
    from ..analysis.catalog import FIGURE_KINDS

    kinds = "; ".join(f"{k}: {v}" for k, v in FIGURE_KINDS.items())
    p = sub.add_parser(
        "plot",
        help="draw the figures of a sweep (trajectories, levels, survival, distributions, phase diagrams, "
             "sensitivity)",
        description=(
            "Draw figures of a sweep's results folder into DIR/figures/ (PNG and SVG). Without --figure, every "
            "figure the sweep supports. On a grid, factors not on a figure's axes or panels are fixed at their "
            "default (the parameter's default if in the grid, else the middle value) unless --where or --pool. "
            f"Figures: {kinds}."
        ),
    )
    add_results_dir(p)
    p.add_argument("--figure", action="append", choices=list(FIGURE_KINDS), metavar="NAME", default=None,
                   help="figure to draw; repeat for several (default: all that apply)")
    p.add_argument("--where", action="append", metavar="NAME=VALUE", default=[],
                   help="fix a parameter's value, e.g. --where initial_trust=0.3; repeat for several")
    p.add_argument("--pool", action="store_true", help="pool over factors not on the axes instead of fixing them")
    p.add_argument("--outcome", action="append", metavar="NAME", default=None,
                   help="outcome of the phase diagram, distribution and sensitivity figures; repeat for several")
    p.add_argument("--series", action="append", metavar="NAME", default=None,
                   help="series of the trajectories figure (default: every kept series but level)")
    p.add_argument("--x", help="phase diagram: factor on the x axis")
    p.add_argument("--y", help="phase diagram: factor on the y axis")
    p.add_argument("--facet", help="one panel per value of this factor (trajectories, survival, distributions)")
    p.add_argument("--window", type=int, default=24, help="months after grant_term (default: %(default)s)")
    p.add_argument("--format", action="append", choices=["png", "svg", "pdf"], default=None,
                   help="file format; repeat for several (default: png and svg)")
    p.add_argument("--out", type=Path, help="folder for the figures (default: DIR/figures)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if bool(args.x) != bool(args.y):
        raise UserError("--x and --y go together (the two factors of a phase diagram)")
    community = results_model(args.dir) == "community"
    where = parse_where(args.where, COMMUNITY_VOCABULARY if community else None)  # checked before anything is read
    results = open_results(args)
    # Lazy: drawing imports matplotlib; `trustladder --help` and `run` do not need it.
    from ..analysis.catalog import figure_specs
    from ..analysis.community import community_figure_specs
    from ..analysis.style import save_figure

    out = args.out or args.dir / "figures"
    if community:
        unused = [flag for flag, v in (("--figure", args.figure), ("--pool", args.pool), ("--x", args.x),
                                       ("--facet", args.facet)) if v]
        if unused:
            raise UserError(f"{', '.join(unused)}: not for a community sweep, whose figures are its series over "
                            "time, its outcomes per cell and, sampled with sobol or morris, its sensitivity "
                            "(choose them with --series, --outcome and --where)")
        specs = community_figure_specs(results, series=args.series, outcomes=args.outcome, where=where)
    else:
        specs = figure_specs(results, args.figure, where=where, pool=args.pool, series=args.series,
                             outcomes=args.outcome, x=args.x, y=args.y, facet=args.facet, window=args.window,
                             strict=args.figure is not None)
    if not specs:
        raise UserError("no figure applies to these results (see trustladder plot --help)")
    formats = args.format or ["png", "svg"]
    for spec in specs:
        fig = spec.make()
        paths = save_figure(fig, out / spec.stem, formats)
        print(f"{spec.kind:>21}: " + ", ".join(str(p) for p in paths))
    return 0
