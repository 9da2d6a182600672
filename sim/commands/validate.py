"""``trustladder validate SPEC``: check an experiment spec and report every problem before anything runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .sweep import add_size_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check an experiment spec (TOML) and list every problem",
        description=(
            "Check an experiment spec: keys, parameter names and ranges (MODEL.md's vocabulary), strategies, "
            "series, sampling method and its settings, and the design's size (computed, not sampled: a design "
            "above --max-runs or --max-points is refused in milliseconds). Every problem is listed with the file, "
            "the key and the allowed values; exit status 2 if there is any. Nothing is run."
        ),
    )
    p.add_argument("spec", type=Path, nargs="+", help="spec file(s), e.g. experiments/example.toml")
    add_size_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    # Lazy: the sweep package imports scipy.stats; `trustladder --help` and `run` do not need it.
    from ..sweep import SpecError, plan_sweep

    status = 0
    for path in args.spec:
        try:
            plan = plan_sweep(path, max_runs=args.max_runs, max_points=args.max_points)
        except SpecError as exc:
            for line in exc.problems:
                print(f"error: {line}", file=sys.stderr)
            status = 2
            continue
        spec = plan.spec
        if spec.precision is None:
            runs = f"{plan.min_runs:,} runs ({spec.replicates} replicates per cell)"
        else:
            runs = (f"{plan.min_runs:,} to {plan.max_runs:,} runs ({spec.precision.min_replicates} to "
                    f"{spec.precision.max_replicates} replicates per cell, until the {spec.precision.confidence:.0%} "
                    f"interval of {spec.precision.outcome} is within +-{spec.precision.half_width:g})")
        model = f" ({spec.model} model)" if spec.model != "partnership" else ""
        print(f"{path}: ok: {spec.name!r}{model}: {plan.design.n_points:,} points ({spec.sampling.method}) x "
              f"{len(spec.strategies)} strategies = {plan.n_cells:,} cells; {runs} of {spec.n_steps} steps")
    return status
