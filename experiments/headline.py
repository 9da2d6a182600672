"""The headline study: stepwise building against funder-forced collaboration.

``make run`` runs this script from a fresh clone. It

1. runs the headline sweep (``experiments/headline.toml``: five strategies x
   initial trust x the funder's deadline x cultural distance, 1,000 replicates a
   cell) and the companion sensitivity sweep (``experiments/practices-sobol.toml``),
   both resumable, into ``results/headline/sweeps/`` (not committed);
2. measures the calibration pattern (Feinberg et al. 2008) and the qualitative
   claims on fresh runs;
3. writes the tables (``tables/*.csv``), the figures (``figures/``), the HTML
   report and ``findings.md`` into ``results/headline/``, every number in the
   findings computed here.

Usage, from the project's root: ``.venv/bin/python -m experiments.headline
[--workers N]``. It imports the installed ``sim`` package and, as a module of
the ``experiments`` package, its sibling ``experiments/calibrate.py`` (the
calibration's own measures).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import sim
from sim import analysis as A
from sim.analysis.style import STRATEGY_COLORS, figure_style, save_figure, strategy_label
from sim.manifest import now_iso, provenance, write_bytes_atomic, write_json_atomic
from sim.palette import OKABE_ITO
from sim.sweep import PoolExecutor, ResumeError, run_sweep

from . import calibrate

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
OUT = ROOT / "results" / "headline"
SWEEPS = OUT / "sweeps"
ALPHA = 0.05
SEED = 20261125

# --- running ---------------------------------------------------------------------------------------------------


def sweep(name: str, workers: int) -> Any:
    """Run (or resume, or reuse) the sweep of ``experiments/<name>.toml``; return its loaded results."""
    out = SWEEPS / name
    executor = PoolExecutor(workers) if workers > 1 else None
    try:
        try:
            run_sweep(EXPERIMENTS / f"{name}.toml", out, executor=executor, resume=True, progress=sys.stdout.isatty())
        except ResumeError as err:  # a changed spec or model version: start this sweep again
            print(f"  {name}: {err}; running it again")
            run_sweep(EXPERIMENTS / f"{name}.toml", out, executor=executor, force=True, progress=sys.stdout.isatty())
    finally:
        if executor is not None:
            executor.close()
    return sim.load_results(out)


# --- the numbers ---------------------------------------------------------------------------------------------


def crossover(res: Any) -> pd.DataFrame:
    """funder_forced minus stepwise, mean benefit over the horizon, per (trust, deadline, distance), with 95% CI."""
    t = A.compare_strategies(res, "cumulative_benefit", reference="stepwise",
                             by=["initial_trust", "deadline", "cultural_distance"],
                             strategies=["stepwise", "funder_forced"], seed=SEED)
    t = t[t["strategy"] == "funder_forced"].reset_index(drop=True)
    t["forcing_pays"] = t["difference_low"] > 0
    t["forcing_costs"] = t["difference_high"] < 0
    return t


def crossover_trust(table: pd.DataFrame) -> pd.DataFrame:
    """Per deadline and distance: the lowest initial trust from which forcing pays (CI above 0) at every level up."""
    rows = []
    for (deadline, distance), g in table.groupby(["deadline", "cultural_distance"]):
        g = g.sort_values("initial_trust")
        pays = g["forcing_pays"].to_numpy()
        trust = g["initial_trust"].to_numpy()
        # the smallest trust level above which every level pays
        start = next((trust[i] for i in range(len(trust)) if pays[i:].all()), math.nan)
        # linear interpolation of the zero crossing of the mean difference
        d = g["difference"].to_numpy()
        cross = math.nan
        for i in range(len(d) - 1):
            if d[i] < 0 <= d[i + 1]:
                cross = trust[i] + (trust[i + 1] - trust[i]) * (-d[i]) / (d[i + 1] - d[i])
        rows.append({"deadline": deadline, "cultural_distance": distance, "forcing_pays_from_trust": start,
                     "zero_crossing_trust": cross})
    return pd.DataFrame(rows)


def dissolution(res: Any) -> pd.DataFrame:
    """Risk difference of dissolving by the horizon, funder_forced minus stepwise, per initial trust and deadline."""
    t = A.compare_strategies(res, "dissolved", reference="stepwise", by=["initial_trust", "deadline"],
                             strategies=["stepwise", "funder_forced"], seed=SEED)
    return t[t["strategy"] == "funder_forced"].reset_index(drop=True)


def collaboration_timing(res: Any) -> pd.DataFrame:
    """First month at collaboration (level 4) per strategy and initial trust, runs that reach it."""
    runs = res.runs
    rows = []
    for (strategy, trust), g in runs.groupby(["strategy", "initial_trust"], sort=False):
        first = g["first_step_level_4"].dropna().to_numpy()
        ci = A.bootstrap_ci(first, "median", seed=SEED) if len(first) > 1 else None
        rows.append({"strategy": strategy, "initial_trust": trust, "runs": len(g), "reached": len(first) / len(g),
                     "median_first_month": float(np.median(first)) if len(first) else math.nan,
                     "low": getattr(ci, "low", math.nan), "high": getattr(ci, "high", math.nan)})
    return pd.DataFrame(rows)


def early_benefit(res: Any, runs: int = 4000) -> pd.DataFrame:
    """Benefit in the first 24 months (the funder's horizon), funder_forced vs stepwise, per initial trust.

    Fresh runs of 24 months (the sweep's table keeps whole-run outcomes), at the design's trust levels and
    the default deadline and cultural distance.
    """
    rows = []
    for i, trust in enumerate(sorted(res.runs["initial_trust"].unique())):
        b = {}
        for k, strategy in enumerate(("stepwise", "funder_forced")):
            r = sim.simulate(n_runs=runs, seed=SEED + 10 * i + k, strategy=strategy, initial_trust=trust,
                             n_steps=24, keep=["benefit"])
            b[strategy] = r.series("benefit").sum(axis=1)
        diff = A.bootstrap_difference(b["funder_forced"], b["stepwise"], seed=SEED)
        rows.append({"initial_trust": trust, "runs": runs, "stepwise": b["stepwise"].mean(),
                     "funder_forced": b["funder_forced"].mean(), "difference": diff.estimate,
                     "low": diff.low, "high": diff.high,
                     "p_value": stats.mannwhitneyu(b["funder_forced"], b["stepwise"]).pvalue})
    return pd.DataFrame(rows)


def plot_early_benefit(table: pd.DataFrame):
    """Benefit in the first 24 months: funder_forced against stepwise across initial trust."""
    import matplotlib.figure

    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(6.4, 4.4), layout="constrained")
        ax = fig.subplots()
        for strategy in ("stepwise", "funder_forced"):
            ax.plot(table["initial_trust"], table[strategy], marker="o", color=STRATEGY_COLORS[strategy],
                    label=strategy_label(strategy))
        ax.set_xlabel("initial trust")
        ax.set_ylabel("mean benefit in the first 24 months")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        ax.set_title("On the funder's horizon (24 months), forcing pays at high trust")
    return fig


def after_grant(res: Any) -> pd.DataFrame:
    """Survival in the 24 months after grant_term, per strategy (pooled over the design) and per initial trust."""
    pooled = A.survival_after_grant(res, window=24)
    pooled.insert(0, "initial_trust", "all")
    by_trust = A.survival_after_grant(res, window=24, by=["initial_trust"])
    return pd.concat([pooled, by_trust], ignore_index=True)


def calibration(runs: int = 8000) -> dict[str, Any]:
    """The Feinberg et al. (2008) pattern: funder_patient survival at 36 and 84 months, yearly hazards."""
    r = sim.simulate(n_runs=runs, seed=SEED + 1, strategy="funder_patient", n_steps=calibrate.HORIZON,
                     keep=["level"])
    ds = r.summary["dissolved_step"].to_numpy(dtype=float)
    out: dict[str, Any] = {"runs": runs}
    for step in (36, 84):
        alive = int(np.sum(~(ds <= step)))  # not dissolved by the end of `step` (NaN: never dissolved)
        low, high = calibrate.wilson(alive, runs)
        out[f"S{step}"] = alive / runs
        out[f"S{step}_ci"] = (low, high)
    hazards = calibrate.yearly_hazards(ds)[0]
    out["hazards"] = [float(h) for h in hazards]
    return out


def qualitative(runs: int = 4000) -> pd.DataFrame:
    """The practice levers and rules, on fresh runs: each a one-sided Fisher test of dissolution."""
    claims = [
        ("a higher loss/gain ratio raises dissolution under stepwise", "stepwise", 0.3, ("loss_rate", 0.4, 0.15)),
        ("a higher loss/gain ratio raises dissolution under funder_forced", "funder_forced", 0.7,
         ("loss_rate", 0.4, 0.15)),
        ("weaker leadership raises dissolution under stepwise", "stepwise", 0.3, ("leadership", 0.1, 0.9)),
        ("weaker leadership raises dissolution under funder_forced", "funder_forced", 0.7, ("leadership", 0.1, 0.9)),
        ("poorer communication raises dissolution under stepwise", "stepwise", 0.3, ("communication", 0.1, 0.9)),
    ]
    rows = []
    for i, (claim, strategy, trust, (name, worse, better)) in enumerate(claims):
        d = {}
        for j, value in enumerate((worse, better)):
            r = sim.simulate(n_runs=runs, seed=SEED + 100 * i + j, strategy=strategy, initial_trust=trust,
                             keep=["level"], **{name: value})
            d[value] = r.summary["dissolved"].to_numpy()
        a, b = d[worse], d[better]
        p = stats.fisher_exact([[a.sum(), len(a) - a.sum()], [b.sum(), len(b) - b.sum()]],
                               alternative="greater").pvalue
        rd = A.risk_difference(int(a.sum()), len(a), int(b.sum()), len(b))
        rows.append({"claim": claim, "strategy": strategy, "initial_trust": trust, "parameter": name,
                     "worse": worse, "better": better, "dissolved_worse": a.mean(), "dissolved_better": b.mean(),
                     "difference": rd.estimate, "low": rd.low, "high": rd.high, "p_value": p,
                     "holds": bool(p < ALPHA)})
    # miscommunication grows with the number of pairs: first-month failure at equal trust and level
    fail = {}
    for j, n in enumerate((4, 20)):
        r = sim.simulate(n_runs=runs * 3, seed=SEED + 900 + j, n_orgs=n, strategy="fixed", fixed_level=2,
                         initial_trust=0.6, trust_noise=0.0, cultural_distance=0.0, trait_spread=0.0,
                         miscommunication=0.02, n_steps=1, keep=["success"])
        fail[n] = r.series("success")[:, 0] == 0
    a, b = fail[20], fail[4]
    p = stats.fisher_exact([[a.sum(), len(a) - a.sum()], [b.sum(), len(b) - b.sum()]], alternative="greater").pvalue
    rd = A.risk_difference(int(a.sum()), len(a), int(b.sum()), len(b))
    rows.append({"claim": "more organizations mean more miscommunication failures at equal trust (20 vs 4)",
                 "strategy": "fixed", "initial_trust": 0.6, "parameter": "n_orgs", "worse": 20, "better": 4,
                 "dissolved_worse": a.mean(), "dissolved_better": b.mean(), "difference": rd.estimate,
                 "low": rd.low, "high": rd.high, "p_value": p, "holds": bool(p < ALPHA)})
    return pd.DataFrame(rows)


# --- figures -------------------------------------------------------------------------------------------------


def plot_crossover(table: pd.DataFrame):
    """The headline figure: forcing's benefit advantage over stepwise across initial trust, per deadline."""
    import matplotlib.figure

    deadlines = sorted(table["deadline"].unique())
    distances = sorted(table["cultural_distance"].unique())
    colors = [OKABE_ITO[c] for c in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue")]
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(4.2 * len(distances), 4.4), layout="constrained")
        axes = fig.subplots(1, len(distances), sharey=True, squeeze=False)[0]
        for ax, distance in zip(axes, distances, strict=True):
            ax.axhline(0, color="0.3", lw=1)
            for color, deadline in zip(colors[:len(deadlines)], deadlines, strict=True):
                g = table[(table["deadline"] == deadline) & (table["cultural_distance"] == distance)]
                g = g.sort_values("initial_trust")
                ax.fill_between(g["initial_trust"], g["difference_low"], g["difference_high"], color=color,
                                alpha=0.2, lw=0)
                ax.plot(g["initial_trust"], g["difference"], color=color, marker="o", ms=4,
                        label=f"deadline {deadline} months")
            ax.set_title(f"cultural distance {distance:g}")
            ax.set_xlabel("initial trust")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("benefit over 120 months:\nfunder_forced minus stepwise")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(deadlines), frameon=False)
        fig.suptitle("Where forcing pays off: above 0, funder-forced collaboration gathers more benefit "
                     "(mean, 95% CI)")
    return fig


def plot_practices(sens: Any):
    return A.plot_sensitivity(sens.results if hasattr(sens, "results") else sens, "dissolved")


# --- findings ------------------------------------------------------------------------------------------------


def fmt_ci(est: float, low: float, high: float, digits: int = 1, pct: bool = False) -> str:
    if pct:
        return f"{100 * est:.{digits}f}% (95% CI {100 * low:.{digits}f} to {100 * high:.{digits}f})"
    return f"{est:.{digits}f} (95% CI {low:.{digits}f} to {high:.{digits}f})"


def findings_text(n: dict[str, Any]) -> str:
    cross, xt, diss, timing = n["crossover"], n["crossover_trust"], n["dissolution"], n["timing"]
    early, grant, cal, qual, sobol = n["early"], n["after_grant"], n["calibration"], n["qualitative"], n["sobol"]
    lines = [
        "# Findings: stepwise building against funder-forced collaboration",
        "",
        f"Written by `make run` (experiments/headline.py) on {n['date']} from the headline sweep "
        f"({n['headline_runs']:,} runs: 5 strategies x 5 initial-trust levels x 4 deadlines x 3 cultural distances, "
        f"{n['replicates']:,} replicates a cell, 120 months) and the companion sensitivity sweep "
        f"({n['sobol_runs']:,} runs). Defaults are the calibrated ones (docs/calibration.md). "
        "Intervals are 95% bootstrap (means, medians) or Newcombe (risk differences); tests are two-sided "
        f"at alpha = {ALPHA} unless said otherwise. Every number here is recomputed by `make run`.",
        "",
        "## 1. When forcing pays off, and when it fails",
        "",
        "Mean community benefit over 120 months, funder_forced minus stepwise (figure `figures/crossover.png`, "
        "table `tables/crossover.csv`):",
        "",
    ]
    mid = cross[cross["cultural_distance"] == 0.5]
    for trust in sorted(mid["initial_trust"].unique()):
        g = mid[mid["initial_trust"] == trust].sort_values("deadline")
        cells = "; ".join(f"deadline {int(r.deadline)}: {r.difference:+.0f} [{r.difference_low:+.0f}, "
                          f"{r.difference_high:+.0f}]" for r in g.itertuples())
        lines.append(f"- initial trust {trust:g} (cultural distance 0.5): {cells}")
    n_pays = int(cross["forcing_pays"].sum())
    n_costs = int(cross["forcing_costs"].sum())
    lines += [
        "",
        f"Of the {len(cross)} cells (trust x deadline x distance), forcing gathers significantly more benefit in "
        f"{n_pays}, significantly less in {n_costs}, and neither in {len(cross) - n_pays - n_costs}.",
        "",
        "The crossover (lowest initial trust from which forcing pays at every higher level; the interpolated "
        "zero of the mean difference):",
        "",
        "| deadline | cultural distance | forcing pays from trust | zero crossing |",
        "|---|---|---|---|",
    ]
    for r in xt.itertuples():
        pays = "never" if math.isnan(r.forcing_pays_from_trust) else f"{r.forcing_pays_from_trust:g}"
        zero = "none" if math.isnan(r.zero_crossing_trust) else f"{r.zero_crossing_trust:.2f}"
        lines.append(f"| {int(r.deadline)} | {r.cultural_distance:g} | {pays} | {zero} |")
    early_pays = early[early["low"] > 0]["initial_trust"]
    lines += [
        "",
        "On the funder's own horizon, the first 24 months (fresh runs, "
        f"{int(early['runs'].iloc[0]):,} a strategy, figure `figures/early_benefit.png`, table `tables/early.csv`), "
        "mean benefit funder_forced against stepwise:",
        "",
    ]
    for r in early.itertuples():
        lines.append(f"- initial trust {r.initial_trust:g}: {r.funder_forced:.1f} against {r.stepwise:.1f}, "
                     f"difference {fmt_ci(r.difference, r.low, r.high)} (Mann-Whitney p = {r.p_value:.1g})")
    lines += [
        "",
        "So forcing pays on the funder's 24-month horizon from initial trust "
        + (f"{early_pays.min():g}" if len(early_pays) else "(never)")
        + " up, while over ten years it pays only where the table above says: the early lead is bought with "
        "dissolutions (section 2).",
        "",
        "## 2. Forced partnerships reach collaboration at once, and many more of them dissolve",
        "",
    ]
    for trust in sorted(timing["initial_trust"].unique()):
        s = timing[(timing["strategy"] == "stepwise") & (timing["initial_trust"] == trust)].iloc[0]
        f = timing[(timing["strategy"] == "funder_forced") & (timing["initial_trust"] == trust)].iloc[0]
        d = diss[(diss["initial_trust"] == trust) & (diss["deadline"] == 24)].iloc[0]
        lines.append(
            f"- initial trust {trust:g}: stepwise reaches collaboration in {100 * s.reached:.0f}% of runs, median "
            f"month {s.median_first_month:.0f} ({s.low:.0f} to {s.high:.0f}); funder_forced starts there (month "
            f"{f.median_first_month:.0f}), so about {s.median_first_month - f.median_first_month:.0f} months "
            f"earlier. Dissolved by month 120 (deadline 24): funder_forced {100 * d['mean']:.1f}% vs stepwise "
            f"{100 * d.mean_reference:.1f}%, risk difference "
            f"{fmt_ci(d.difference, d.difference_low, d.difference_high, pct=True)}."
        )
    lines += [
        "",
        "## 3. Which practices matter most",
        "",
        "Total-order Sobol indices (ST, with 95% CI) of dissolution and of benefit over 120 months with respect to "
        "five practice levers varied together (leadership, communication, ground rules 0..1; cultural learning "
        "0..0.1; celebration 0..1), initial trust 0.5 (table `tables/sobol.csv`, figure "
        "`figures/sensitivity_dissolved.png`):",
        "",
        "| outcome | strategy | ranking by ST | replicate-noise share |",
        "|---|---|---|---|",
    ]
    for (outcome, strategy), g in sobol.groupby(["outcome", "strategy"], sort=False):
        g = g.sort_values("ST", ascending=False)
        rank = ", ".join(f"{r.factor} {r.ST:.2f}±{r.ST_conf:.2f}" for r in g.itertuples())
        noise = n["noise"].get((outcome, strategy), math.nan)
        lines.append(f"| {outcome} | {strategy} | {rank} | {noise:.2f} |")
    top = {s: g.sort_values("ST", ascending=False).iloc[0] for s, g in
           sobol[sobol["outcome"] == "dissolved"].groupby("strategy", sort=False)}
    s1 = sobol.groupby(["outcome", "strategy"], sort=False)["S1"].sum()
    lines += [
        "",
        "The practice that matters most for survival: "
        + "; ".join(f"{s}: {r.factor} (ST {r.ST:.2f}±{r.ST_conf:.2f})" for s, r in top.items()) + ". "
        "Sums of first-order indices: "
        + ", ".join(f"{o} under {s} {v:.2f}" for (o, s), v in s1.items()) + ". "
        "Where the sum falls short of 1 and the total indices exceed the first-order ones, the rest is "
        "interaction between the levers (plus replicate noise, its share in the table; noise also lets a sum "
        "exceed 1): the levers act together, as the network-governance meta-analyses suggest.",
        "",
        "## 4. Survival after the money stops",
        "",
        "Of the partnerships still together when the grant term ends (month 36), the share still together 24 "
        "months later (Kaplan-Meier, pooled over the design; table `tables/after_grant.csv`):",
        "",
    ]
    pooled = grant[grant["initial_trust"] == "all"]
    for r in pooled.itertuples():
        lines.append(f"- {r.strategy}: {100 * r.share_alive_at_grant_term:.1f}% alive at month 36; of those, "
                     f"{fmt_ci(r.survival, r.low, r.high, pct=True)} still together at month 60.")
    lines += [
        "",
        "## 5. Calibration against funded coalitions",
        "",
        "Target (Feinberg, Bontempo & Greenberg 2008, 110 Communities That Care coalitions): about 90% operating "
        "at the end of the 3-year grant, about two thirds four years later, 3-8% ending each later year. "
        f"Model (funder_patient, grant_term 36, calibrated defaults, {cal['runs']:,} runs): "
        f"S(36) = {cal['S36']:.3f} (95% CI {cal['S36_ci'][0]:.3f} to {cal['S36_ci'][1]:.3f}), "
        f"S(84) = {cal['S84']:.3f} ({cal['S84_ci'][0]:.3f} to {cal['S84_ci'][1]:.3f}); yearly share ending in "
        f"years 4-7: {', '.join(f'{100 * h:.1f}%' for h in cal['hazards'])}. Remaining distance: "
        f"S(36) {cal['S36'] - calibrate.S36_TARGET:+.3f}, S(84) {cal['S84'] - calibrate.S84_TARGET:+.3f}; "
        f"years inside the 3-8% band: {sum(0.03 <= h <= 0.08 for h in cal['hazards'])} of 4. "
        "The reference constants gave "
        "S(36) = 1.00 and S(84) = 0.90 (docs/calibration.md).",
        "",
        "## 6. The model's qualitative behaviour (fresh runs, one-sided Fisher tests)",
        "",
        "| claim | dissolved, or failed (worse / better) | difference | p | holds |",
        "|---|---|---|---|---|",
    ]
    for r in qual.itertuples():
        lines.append(f"| {r.claim} | {100 * r.dissolved_worse:.1f}% / {100 * r.dissolved_better:.1f}% | "
                     f"{fmt_ci(r.difference, r.low, r.high, pct=True)} | {r.p_value:.1g} | "
                     f"{'yes' if r.holds else 'no'} |")
    not_holding = [r.claim for r in qual.itertuples() if not r.holds]
    if not_holding:
        lines += ["", "Not shown by the model: " + "; ".join(not_holding) + ". These are reported as the model "
                  "gives them, not tuned away. Under stepwise the retreat rule steps the partnership down before "
                  "setbacks can empty it, so the loss/gain asymmetry costs benefit (tests/test_qualitative.py) "
                  "rather than survival; and what speeds the climb (better communication) also brings the "
                  "partnership sooner to the rungs above cooperation, where identity threat adds exit pressure."]
    lines += [
        "",
        "## Caveats",
        "",
        "- Calibration fixes quorum at 0.9: a partnership of six dissolves when its first member leaves, and "
        "survival then depends on size (docs/calibration.md). The headline sweep keeps six organizations.",
        "- The reference specification's claim that stepwise reaches collaboration in nearly all runs holds "
        "only for the runs that survive the climb after calibration (section 2 gives the shares).",
        "- Deadline matters only to the funder strategies with a review (funder_forced, funder_schedule); "
        "the other strategies' cells differ only by sampling noise across deadlines.",
    ]
    return "\n".join(lines) + "\n"


# --- main ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="local worker processes for the sweeps (default 2)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    started = now_iso()
    print("1/4 sweeps (resumable; results/headline/sweeps/)")
    res = sweep("headline", args.workers)
    sob = sweep("practices-sobol", args.workers)
    print(f"    done in {time.perf_counter() - t0:.0f} s")

    print("2/4 statistics")
    numbers: dict[str, Any] = {"date": started[:10], "headline_runs": len(res.runs), "sobol_runs": len(sob.runs),
                               "replicates": int(res.manifest["replicates"])}
    numbers["crossover"] = crossover(res)
    numbers["crossover_trust"] = crossover_trust(numbers["crossover"])
    numbers["dissolution"] = dissolution(res)
    numbers["timing"] = collaboration_timing(res)
    numbers["early"] = early_benefit(res)
    numbers["after_grant"] = after_grant(res)
    numbers["calibration"] = calibration()
    numbers["qualitative"] = qualitative()
    sens = A.sobol_indices(sob, ["dissolved", "cumulative_benefit"], seed=SEED)
    numbers["sobol"] = sens.indices if hasattr(sens, "indices") else sens
    noise = getattr(sens, "noise", None)
    numbers["noise"] = ({(r.outcome, r.strategy): r.noise_share for r in noise.itertuples()}
                        if noise is not None else {})

    print("3/4 tables and figures")
    tables = OUT / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for name in ("crossover", "crossover_trust", "dissolution", "timing", "early", "after_grant", "qualitative",
                 "sobol"):
        write_bytes_atomic(tables / f"{name}.csv", numbers[name].to_csv(index=False).encode())
    figs = OUT / "figures"
    save_figure(plot_crossover(numbers["crossover"]), figs / "crossover")
    save_figure(plot_early_benefit(numbers["early"]), figs / "early_benefit")
    save_figure(A.plot_phase_diagram(res, "initial_trust", "deadline", "cumulative_benefit",
                                     where={"cultural_distance": 0.5}), figs / "phase_benefit")
    save_figure(A.plot_phase_diagram(res, "initial_trust", "deadline", "dissolved",
                                     where={"cultural_distance": 0.5}), figs / "phase_dissolved")
    for trust in (0.3, 0.85):
        where = {"initial_trust": trust, "deadline": 24, "cultural_distance": 0.5}
        save_figure(A.plot_survival(res, where=where), figs / f"survival_trust_{trust:g}")
        save_figure(A.plot_level_occupancy(res, where=where), figs / f"occupancy_trust_{trust:g}")
        save_figure(A.plot_trajectories(res, "mean_trust", where=where), figs / f"trust_trust_{trust:g}")
    save_figure(A.plot_survival_after_grant(res, 24, where={"deadline": 24, "cultural_distance": 0.5}),
                figs / "survival_after_grant")
    save_figure(A.plot_benefit(res, where={"deadline": 24, "cultural_distance": 0.5, "initial_trust": 0.5}),
                figs / "benefit_trust_0.5")
    for outcome in ("dissolved", "cumulative_benefit"):
        save_figure(A.plot_sensitivity(sob, outcome, sensitivity=sens), figs / f"sensitivity_{outcome}")

    print("4/4 report and findings")
    A.write_report(res, OUT / "report.html", n_resamples=1000, sensitivity=None)
    write_bytes_atomic(OUT / "findings.md", findings_text(numbers).encode())
    write_json_atomic(OUT / "manifest.json", {
        "study": "headline",
        "started": started,
        "finished": now_iso(),
        "elapsed_seconds": round(time.perf_counter() - t0, 1),
        "sweeps": {name: {k: r.manifest.get(k) for k in ("spec_hash", "root_seed", "n_runs", "model_version")}
                   for name, r in (("headline", res), ("practices-sobol", sob))},
        "parameters": sim.Params().to_dict(),
        **provenance(),
    })
    print()
    print(comparison(res, numbers["early"]).to_string())
    print()
    print(f"wrote {OUT.relative_to(ROOT)}/findings.md, report.html, figures/, tables/ "
          f"in {time.perf_counter() - t0:.0f} s")
    return 0


def comparison(res: Any, early: pd.DataFrame) -> pd.DataFrame:
    """Stepwise against funder_forced at low and high trust (deadline 24, cultural distance 0.5): the console view."""
    runs = res.runs
    runs = runs[(runs["deadline"] == 24) & (runs["cultural_distance"] == 0.5)
                & runs["strategy"].isin(["stepwise", "funder_forced"]) & runs["initial_trust"].isin([0.3, 0.85])]
    g = runs.groupby(["initial_trust", "strategy"], sort=False)
    table = pd.DataFrame({
        "runs": g.size(),
        "dissolved by month 120": g["dissolved"].mean().round(3),
        "reached collaboration": g["first_step_level_4"].apply(lambda s: s.notna().mean()).round(3),
        "mean benefit, 120 months": g["cumulative_benefit"].mean().round(1),
    })
    e = early.set_index("initial_trust")
    table["mean benefit, first 24 months"] = [
        round(float(e.loc[t, s]), 1) for t, s in table.index]
    return table


if __name__ == "__main__":
    sys.exit(main())
