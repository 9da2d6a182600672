"""``trustladder report DIR``: one self-contained HTML file with the statistics, figures and manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_results_dir, open_results


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a sweep (tables, figures, manifest)",
        description=(
            "Write DIR/report.html: the sweep's design, outcome statistics with bootstrap CIs, effect sizes, "
            "survival and log-rank tests, survival after grant_term, sensitivity indices (sobol/morris sweeps), "
            "every standard figure (embedded) and the manifest. One file, nothing else needed to open it."
        ),
    )
    add_results_dir(p)
    p.add_argument("--out", type=Path, help="HTML file to write (default: DIR/report.html)")
    p.add_argument("--title", help="title of the report")
    p.add_argument("--reference", help="strategy the others are compared with (default stepwise, else the first)")
    p.add_argument("--window", type=int, default=24, help="months after grant_term (default: %(default)s)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default: %(default)s)")
    p.add_argument("--no-cells", action="store_true", help="leave out the per-cell tables")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    results = open_results(args)
    # Lazy: the report draws with matplotlib; `trustladder --help` and `run` do not need it.
    from ..analysis.community import is_community, write_community_report
    from ..analysis.report import write_report

    if is_community(results):
        path = write_community_report(results, args.out or args.dir / "report.html", title=args.title,
                                      n_resamples=args.resamples, seed=args.seed)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return 0
    path = write_report(results, args.out or args.dir / "report.html", title=args.title, reference=args.reference,
                        window=args.window, n_resamples=args.resamples, seed=args.seed, cells=not args.no_cells)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
