"""``trustladder bench``: engine throughput (run-steps per second) and peak memory."""

from __future__ import annotations

import argparse
import json
import os

from ..bench import Workload, community_benchmark, run_benchmark
from ..errors import UserError
from ..params import Params


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark the engine (run-steps per second, peak memory)",
        description=(
            "Time the vectorized engine on a stated workload (default: 10,000 runs x 6 organizations x 120 "
            "steps, stepwise) and measure its peak memory at two batch sizes, extrapolated linearly."
        ),
    )
    p.add_argument("--runs", type=int, default=Workload.runs, help="runs in the timed batch (default: %(default)s)")
    p.add_argument("--orgs", type=int, default=Workload.n_orgs, help="organizations per run (default: %(default)s)")
    p.add_argument("--steps", type=int, default=Workload.n_steps, help="steps per run (default: %(default)s)")
    p.add_argument("--strategy", default=Workload.strategy, help="strategy (default: %(default)s)")
    p.add_argument("--chunk-size", type=int, default=Workload.chunk_size, help="runs advanced together")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats; the best is reported (default: 3)")
    p.add_argument("--memory-runs", type=int, nargs="+", default=[5_000, 20_000], metavar="N",
                   help="batch sizes at which peak memory is measured (default: 5000 20000)")
    p.add_argument("--mesa-runs", type=int, default=None, metavar="N",
                   help="also time the Mesa twin on the workload's first N runs and report the engine/Mesa "
                        "ratio; 0 skips it (default: 30; 5 communities with --community)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--community", action="store_true",
                   help="time the community engine instead: --runs communities (default 1,000 here) of 30 "
                        "organizations, up to 8 partnerships, --steps months, mandate funding")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.community:
        return _community(args)

    Params(n_orgs=args.orgs, n_steps=args.steps, strategy=args.strategy)  # validates before timing
    w = Workload(runs=args.runs, n_orgs=args.orgs, n_steps=args.steps, strategy=args.strategy,
                 chunk_size=args.chunk_size)
    mesa_runs = _mesa_runs(args, 30)
    out = run_benchmark(w, memory_runs=tuple(args.memory_runs), repeats=args.repeats, mesa_runs=mesa_runs)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    e = out["engine"]
    print(f"workload: {w.runs:,} runs x {w.n_orgs} organizations x {w.n_steps} steps, {w.strategy}, "
          f"chunks of {w.chunk_size}")
    print(f"engine:   {e['run_steps_per_second']:,.0f} run-steps/s ({e['seconds']:.2f} s, best of {e['repeats']}; "
          "Model 5's rules)")
    if "engine_reference_variants" in out:
        r = out["engine_reference_variants"]
        print(f"          {r['run_steps_per_second']:,.0f} run-steps/s ({r['seconds']:.2f} s) under "
              "sim.REFERENCE_VARIANTS (MODEL.md's rules, Model 4's trajectories)")
    if "mesa" in out:
        m = out["mesa"]
        print(f"mesa:     {m['run_steps_per_second']:,.0f} run-steps/s (Mesa twin, first {m['runs']} runs, model and "
              f"agent reporters collected every step; {m['seconds']:.2f} s, best of {m['repeats']})")
        print(f"          engine / mesa: {out['engine_over_mesa']:,.0f}x")
    g = out["rng"]
    print(f"streams:  {g['streams_ms']:.1f} ms a step for {g['runs']:,} runs x {g['draws']} draws "
          f"(NumPy's Philox-4x32-10, sequential: {g['philox_ms']:.1f} ms)")
    for m in out["memory"]:
        print(f"memory:   {m['runs']:,} runs, every series kept: peak {m['peak_mib']:,.1f} MiB "
              f"({m['bytes_per_run'] / 1024:.1f} KiB per run)")
    if "memory_model" in out:
        mm = out["memory_model"]
        pred = next(v for k, v in mm.items() if k.startswith("predicted"))
        print(f"          linear: {mm['mib_per_1000_runs']:.1f} MiB per 1,000 runs + {mm['fixed_mib']:.1f} MiB; "
              f"100,000 runs -> {pred:,.0f} MiB")
    return 0


def _mesa_runs(args: argparse.Namespace, default: int) -> int:
    if args.mesa_runs is None:
        return default
    if args.mesa_runs < 0:
        raise UserError(f"--mesa-runs {args.mesa_runs}: must be 0 (skip) or more")
    return args.mesa_runs


def _community(args: argparse.Namespace) -> int:
    runs = 1_000 if args.runs == Workload.runs else args.runs
    mesa_runs = _mesa_runs(args, 5)
    out = community_benchmark(runs=runs, n_steps=args.steps, funder_policy="mandate", mesa_runs=mesa_runs)
    load = os.getloadavg()
    out["load"] = load
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    w = out["workload"]
    print(f"community workload: {w['runs']:,} communities x {w['n_community']} organizations x up to "
          f"{w['max_partnerships']} partnerships x {w['n_steps']} months, mandate funding, one process")
    print(f"community engine:   {out['seconds']:.1f} s wall, {out['cpu_seconds']:.1f} s CPU "
          f"({out['ms_per_run']:.1f} ms a community; "
          f"{out['mean_partnerships']:.1f} partnerships alive on average, {out['formed_per_run']:.1f} formed a run)")
    peaks = ", ".join(f"{m['peak_mib']:.1f} MiB at {m['runs']:,}" for m in out["memory"])
    fixed = f" + {out['fixed_mib']:.1f} MiB" if out["fixed_mib"] is not None else ""
    print(f"memory:             {out['kib_per_run']:.0f} KiB per community{fixed} (traced peaks: {peaks})")
    if "mesa" in out:
        m = out["mesa"]
        print(f"mesa twin:          {m['ms_per_run']:,.0f} ms a community wall, {m['cpu_ms_per_run']:,.0f} ms CPU "
              f"(first {m['runs']} communities, DataCollector every month)")
        print(f"                    mesa / engine: {out['mesa_over_engine']:,.0f}x wall, "
              f"{out['mesa_over_engine_cpu']:,.0f}x CPU, measured in this run")
    print(f"load average:       {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0
