"""The headline study: funder-forced collaboration against its two counterfactuals, robustly.

``make run`` runs this script from a fresh clone. It

1. runs the headline sweep (``experiments/headline.toml``: stepwise, funder_forced
   and funder_patient across initial trust x the funder's deadline x cultural
   distance, on common random numbers, its fixed replicate count checked against a
   pilot made of its own first replicates, :func:`pilot_check`) and the companion
   sensitivity sweep (``experiments/practices-sobol.toml``, independent seeds, with a
   dummy and a placebo factor as the noise floor), both resumable, into
   ``results/headline/sweeps/`` (not committed);
2. runs the robustness study here: the same three strategies across initial trust
   under each structural variant of Model 5 (one at a time, and all reference
   variants together) and under other n_orgs, gain and loss rates, forced levels and
   capacity growth, every arm of a setting on the same seeds (common random numbers:
   replicate r of every strategy and trust level is the same partnership), with as
   many replicates per setting as its paired differences need
   (:func:`precise_robustness`);
3. writes the tables (``tables/*.csv``), the figures (``figures/``), the HTML
   report and ``findings.md`` into ``results/headline/``; every number in the
   findings is computed here, each claim with its interval, its test and a tag
   saying whether it is built into the rules or emerges from them.

Usage, from the project's root: ``.venv/bin/python -m experiments.headline
[--workers N] [--replicates R]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

import sim
from sim import analysis as A
from sim.analysis.crossover import crossover
from sim.analysis.figures import draw_crossover
from sim.analysis.sensitivity import noise_floor
from sim.analysis.stats import cell_seed
from sim.analysis.style import STRATEGY_COLORS, figure_style, save_figure, strategy_label
from sim.manifest import now_iso, provenance, write_bytes_atomic, write_json_atomic
from sim.palette import OKABE_ITO
from sim.rng import run_seeds
from sim.sweep import PoolExecutor, ResumeError, run_sweep
from sim.sweep.precision import next_targets
from sim.sweep.spec import Precision

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
OUT = ROOT / "results" / "headline"
SWEEPS = OUT / "sweeps"
ALPHA = 0.05
SEED = 20261125
FORCED = "funder_forced"
#: The two counterfactuals of forcing: no grant at all, and the same grant spent patiently (no forcing).
COUNTERFACTUALS = ("stepwise", "funder_patient")
STRATEGIES = ("stepwise", FORCED, "funder_patient")
OUTCOMES = {"cumulative_benefit": "gross benefit", "net_benefit": "net benefit"}
TRUST = (0.15, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95)
#: The slice where the robustness settings and the one-cell statements live.
BASE_CELL = {"deadline": 24, "cultural_distance": 0.5}
#: Root seed of the robustness runs: replicate r of every setting, strategy and trust level uses its r-th seed.
ROBUST_SEED = SEED + 7
#: What the replicates must buy: a 95% half-width of at most this many benefit units for the paired
#: difference forced minus either counterfactual (gross benefit), at every trust level of the design.
PRECISION_OUTCOME = "cumulative_benefit"
HALF_WIDTH = 30.0
PILOT = 50
#: The robustness study's replicates, per setting, by the precision of its paired differences.
ROBUST_PRECISION = Precision(outcome=PRECISION_OUTCOME, half_width=HALF_WIDTH, min_replicates=PILOT,
                             max_replicates=1500)

BUILT_IN = "built in"
EMERGENT = "emergent"


# --- the robustness design ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One row of the robustness table: a change from the Model 5 defaults (empty: the defaults)."""

    name: str
    group: str
    change: Mapping[str, Any] = field(default_factory=dict)


def robustness_settings() -> list[Setting]:
    """The settings of the robustness study: each structural variant and constant changed one at a time.

    The structural kinds come from ``sim.REFERENCE_VARIANTS`` (each kind set to
    its reference variant alone, and all of them together, which is the model of
    MODEL.md); the constants are those a referee found the crossover sensitive to.
    """
    defaults = sim.Params()
    out = [Setting("Model 5 defaults", "baseline")]
    out.append(Setting("all reference variants", "structure", dict(sim.REFERENCE_VARIANTS)))
    for kind, variant in sim.REFERENCE_VARIANTS.items():
        if getattr(defaults, kind) != variant:
            out.append(Setting(f"{kind} = {variant}", "structure", {kind: variant}))
    for n in (3, 12, 20):
        out.append(Setting(f"n_orgs = {n}", "size", {"n_orgs": n}))
    for name, values in (("gain_rate", (0.05, 0.2)), ("loss_rate", (0.15, 0.35)), ("forced_level", (3, 5)),
                         ("capacity_growth", (0.0,))):
        for v in values:
            if v != getattr(defaults, name):
                out.append(Setting(f"{name} = {v:g}", "constants", {name: v}))
    return out


def arm_task(task: tuple[dict[str, Any], str, tuple[float, ...], int, int, int]) -> dict[str, np.ndarray]:
    """The arms of one strategy in a setting: replicates ``start .. stop - 1`` at every trust level, common seeds.

    One :func:`sim.simulate` call for all the trust levels (one initial trust per run): a run's numbers depend
    only on its parameters and seed, so this is the same as one call per level, and several times faster.
    """
    change, strategy, trust, root, start, stop = task
    seeds = run_seeds(root, stop - start, start=start)
    r = sim.simulate(seeds=np.tile(seeds, len(trust)), strategy=strategy,
                     initial_trust=np.repeat(np.asarray(trust, dtype=float), seeds.size), n_steps=120, keep=[],
                     **BASE_CELL, **change)
    s = r.summary
    out = {k: s[k].to_numpy(dtype=float) for k in ("cumulative_benefit", "net_benefit", "dissolved")}
    out["initial_trust"] = np.repeat(np.asarray(trust, dtype=float), seeds.size)
    out["seed"] = s["seed"].to_numpy()
    out["replicate"] = np.tile(np.arange(start, stop), len(trust))
    return out


def run_robustness(settings: Sequence[Setting], replicates: int | Mapping[str, int], workers: int,
                   trust: Sequence[float] = TRUST, start: int | Mapping[str, int] = 0,
                   pool: ProcessPoolExecutor | None = None) -> pd.DataFrame:
    """Every setting x strategy x trust level on the same seeds; one row per run (``replicate`` is the pair key).

    Replicate r of every arm of every setting runs with seed ``run_seeds(ROBUST_SEED, ...)[r]`` (common
    random numbers), so the runs of a setting pair across strategies and trust levels. ``replicates`` and
    ``start`` (one number, or one per setting name) run replicates ``start .. replicates - 1``: a later round
    adds replicates to a setting without changing the ones it has. ``pool``: an executor to reuse (else one
    of ``workers`` processes is made when ``workers > 1``).
    """
    def per(v: int | Mapping[str, int], name: str) -> int:
        return int(v[name]) if isinstance(v, Mapping) else int(v)

    tasks = []
    for s in settings:
        lo, hi = per(start, s.name), per(replicates, s.name)
        if hi <= lo:
            continue
        for strategy in STRATEGIES:
            tasks.append(((dict(s.change), strategy, tuple(map(float, trust)), ROBUST_SEED, lo, hi),
                          (s.name, strategy)))
    if pool is not None and len(tasks) > 1:
        outs = list(pool.map(arm_task, [t for t, _ in tasks]))
    elif workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(workers) as own:
            outs = list(own.map(arm_task, [t for t, _ in tasks]))
    else:
        outs = [arm_task(t) for t, _ in tasks]
    frames = [pd.DataFrame({"setting": name, "strategy": strategy, **o})
              for (_, (name, strategy)), o in zip(tasks, outs, strict=True)]
    cols = ["setting", "strategy", "initial_trust", "cumulative_benefit", "net_benefit", "dissolved", "seed",
            "replicate"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def paired_half_widths(runs: pd.DataFrame, outcome: str = PRECISION_OUTCOME,
                       confidence: float = 0.95) -> pd.DataFrame:
    """Per setting: the widest paired-difference interval (forced minus either counterfactual, any trust level).

    Columns ``setting, replicates, sd, half_width, where``: the largest standard deviation of the paired
    differences over the trust levels and both counterfactuals, the t interval's half-width it gives with
    the setting's replicates, and the arm where it is.
    """
    rows = []
    for cf in COUNTERFACTUALS:
        m = paired_arms(runs, FORCED, cf, outcome)
        for (name, trust), g in m.groupby(["setting", "initial_trust"], sort=False):
            rows.append({"setting": name, "counterfactual": cf, "initial_trust": trust, "n": len(g),
                         "sd": float(g["diff"].std(ddof=1))})
    t = pd.DataFrame(rows).sort_values("sd", ascending=False).drop_duplicates("setting")
    t["half_width"] = stats.t.ppf(0.5 + confidence / 2, t["n"] - 1) * t["sd"] / np.sqrt(t["n"])
    t["where"] = [f"vs {r.counterfactual} at trust {r.initial_trust:g}" for r in t.itertuples()]
    names = list(dict.fromkeys(runs["setting"]))
    return (t.rename(columns={"n": "replicates"}).set_index("setting").loc[names].reset_index()
            [["setting", "replicates", "sd", "half_width", "where"]])


def precise_robustness(settings: Sequence[Setting], workers: int, precision: Precision,
                       trust: Sequence[float] = TRUST) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The robustness runs, replicates chosen per setting by the precision of its paired differences.

    Round 0 runs ``precision.min_replicates`` (the pilot) in every arm of every setting; then every setting
    whose widest paired-difference interval (:func:`paired_half_widths`, gross benefit) is wider than
    ``precision.half_width`` gets more replicates in all its arms at once, by the sweep layer's rule
    (:func:`sim.sweep.precision.next_targets`: what the spread says it needs plus 10 %, capped), until none
    does. Adding replicates to all arms of a setting together keeps every run paired. Returns the runs and
    the rounds (``round, setting, replicates, sd, half_width, where``).
    """
    names = [s.name for s in settings]
    have = dict.fromkeys(names, 0)
    want = dict.fromkeys(names, precision.min_replicates)
    parts, log = [], []
    pool = ProcessPoolExecutor(workers) if workers > 1 else None  # one pool for every round
    try:
        for rnd in range(12):
            parts.append(run_robustness(settings, want, workers, trust=trust, start=have, pool=pool))
            have = dict(want)
            runs = pd.concat(parts, ignore_index=True)
            hw = paired_half_widths(runs, precision.outcome, precision.confidence)
            log.append(hw.assign(round=rnd))
            counts = np.array([have[n] for n in hw["setting"]])
            target = next_targets(counts, hw["half_width"].to_numpy(), precision)
            if (target == counts).all():
                break
            want = {n: int(v) for n, v in zip(hw["setting"], target, strict=True)}
    finally:
        if pool is not None:
            pool.shutdown()
    order = {n: i for i, n in enumerate(names)}  # settings in their design order, then by arm and replicate
    runs = runs.assign(_order=runs["setting"].map(order), _strategy=runs["strategy"].map(STRATEGIES.index))
    runs = runs.sort_values(["_order", "_strategy", "initial_trust", "replicate"], kind="stable")
    return runs.drop(columns=["_order", "_strategy"]).reset_index(drop=True), pd.concat(log, ignore_index=True)


def cached_robustness(settings: Sequence[Setting], workers: int,
                      precision: Precision = ROBUST_PRECISION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`precise_robustness`, reused from ``sweeps/robustness*.parquet`` if design and model are unchanged."""
    import hashlib
    import json

    design = {"settings": [(s.name, dict(s.change)) for s in settings], "precision": precision.to_dict(),
              "trust": TRUST, "seed": ROBUST_SEED, "model": getattr(sim, "MODEL_VERSION", "?"),
              "params": sim.Params().to_dict()}
    key = hashlib.sha256(json.dumps(design, sort_keys=True, default=str).encode()).hexdigest()
    path, rounds_path, stamp = SWEEPS / "robustness.parquet", SWEEPS / "robustness_rounds.parquet", \
        SWEEPS / "robustness.key"
    if path.exists() and rounds_path.exists() and stamp.exists() and stamp.read_text() == key:
        return pd.read_parquet(path), pd.read_parquet(rounds_path)
    runs, rounds = precise_robustness(settings, workers, precision)
    SWEEPS.mkdir(parents=True, exist_ok=True)
    for frame, target in ((runs, path), (rounds, rounds_path)):
        tmp = target.with_suffix(".tmp")
        frame.to_parquet(tmp)
        tmp.replace(target)
    write_bytes_atomic(stamp, key.encode())
    return runs, rounds


def paired_arms(runs: pd.DataFrame, a: str, b: str, outcome: str) -> pd.DataFrame:
    """Runs of strategies ``a`` and ``b`` matched by setting, trust level and replicate; column ``diff`` = a - b."""
    keys = ["setting", "initial_trust", "replicate"]
    x = runs[runs["strategy"] == a][[*keys, outcome]]
    y = runs[runs["strategy"] == b][[*keys, outcome]]
    m = x.merge(y, on=keys, suffixes=("_a", "_b"), validate="one_to_one")
    if len(m) != len(x) or len(m) != len(y):
        raise ValueError(f"unmatched runs pairing {a} with {b} on {outcome}")
    m["diff"] = m[f"{outcome}_a"] - m[f"{outcome}_b"]
    return m


def robustness_table(runs: pd.DataFrame, settings: Sequence[Setting], n_resamples: int = 1000) -> pd.DataFrame:
    """Per setting, counterfactual and outcome: the crossover of forced minus counterfactual along trust.

    Replicates are resampled jointly across the trust levels (the arms share seeds),
    so the interval is the paired one.
    """
    groups = {s.name: s.group for s in settings}
    rows = []
    for cf in COUNTERFACTUALS:
        for outcome in OUTCOMES:
            m = paired_arms(runs, FORCED, cf, outcome)
            for name, g in m.groupby("setting", sort=False):
                c = crossover(g["initial_trust"].to_numpy(), g["diff"].to_numpy(),
                                replicate=g["replicate"].to_numpy(), n_resamples=n_resamples,
                                seed=cell_seed(SEED, name, cf, outcome))
                top = g[g["initial_trust"] == g["initial_trust"].max()]["diff"]
                d = A.paired_difference(top.to_numpy(), np.zeros(len(top)), method="t")
                rows.append({"setting": name, "group": groups[name], "counterfactual": cf, "outcome": outcome,
                             "status": c.status, "crossing": c.estimate, "low": c.low, "high": c.high,
                             "share_never": c.share_never, "share_always": c.share_always,
                             "difference_at_top": d.estimate, "difference_at_top_low": d.low,
                             "difference_at_top_high": d.high, "p_at_top": d.p_value, "n_pairs": c.n})
    # the test at the top trust level: Holm across the settings and counterfactuals of each outcome
    return A.adjust_table(pd.DataFrame(rows), "holm", p_column="p_at_top", family="outcome")


def pays_where(table: pd.DataFrame) -> str:
    """One sentence per counterfactual and outcome: where forcing pays across the settings, and where it never does."""
    out = []
    for (cf, outcome), g in table.groupby(["counterfactual", "outcome"], sort=False):
        crossing = g[g["status"] == "crossing"].sort_values("crossing")
        never = g[g["status"] == "never"]["setting"].tolist()
        always = g[g["status"] == "always"]["setting"].tolist()
        parts = []
        if len(crossing):
            lo, hi = crossing.iloc[0], crossing.iloc[-1]
            parts.append(f"above a crossover trust of {lo.crossing:.2f} ({lo.setting}) to {hi.crossing:.2f} "
                         f"({hi.setting}) in {len(crossing)} of {len(g)} settings")
        if never:
            parts.append(f"nowhere up to trust {max(TRUST):g} under {', '.join(never)}")
        if always:
            parts.append(f"at every trust level under {', '.join(always)}")
        out.append(f"Against {cf}, on {OUTCOMES[outcome]}, forcing pays " + "; ".join(parts) + ".")
    return " ".join(out)


# --- running the sweeps ----------------------------------------------------------------------------------------


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


# --- the statistics on the headline sweep -----------------------------------------------------------------------


def crossovers(res: Any, n_resamples: int = 1000) -> pd.DataFrame:
    """Per (deadline, distance): the crossover of forced minus each counterfactual, gross and net, with its CI."""
    frames = []
    for cf in COUNTERFACTUALS:
        for outcome in OUTCOMES:
            frames.append(A.crossover_table(res, "initial_trust", FORCED, cf, outcome, n_resamples=n_resamples,
                                            seed=SEED))
    return pd.concat(frames, ignore_index=True)


def cell_tests(res: Any) -> pd.DataFrame:
    """Per cell (trust x deadline x distance): forced against each counterfactual, paired, Holm across the cells.

    Mean differences by the paired t test; dissolution by McNemar's exact (binomial) test of the discordant
    pairs, with Newcombe's paired interval.
    """
    frames = []
    for cf in COUNTERFACTUALS:
        t = A.compare_paired(res, FORCED, cf, [*OUTCOMES, "dissolved"], adjust="holm", seed=SEED, exact=True)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def same_runs(res: Any) -> dict[str, Any]:
    """What common seeds show exactly: deadlines that give funder_forced the same runs, and trust-free dissolution.

    Returns ``deadline_groups`` (lists of deadlines under which every forced run, at every trust level and
    distance, has the same benefit and dissolution month: the deadline does nothing between them) and
    ``trust_free`` (per non-forced strategy, the share of replicates of the base cell that dissolve in the
    same month, or never, at every initial-trust level).
    """
    runs = res.runs
    forced = runs[runs["strategy"] == FORCED]
    wide = {v: forced.pivot_table(index=["initial_trust", "cultural_distance", "replicate"], columns="deadline",
                                  values=v, aggfunc="first", dropna=False)
            for v in ("cumulative_benefit", "dissolved_step")}
    groups: list[list[int]] = []
    for d in sorted(forced["deadline"].unique()):
        if groups and all(np.array_equal(w[groups[-1][0]].to_numpy(), w[d].to_numpy(), equal_nan=True)
                          for w in wide.values()):
            groups[-1].append(int(d))
        else:
            groups.append([int(d)])
    base = select(runs, BASE_CELL)
    free = {}
    for strategy in COUNTERFACTUALS:
        w = base[base["strategy"] == strategy].pivot_table(index="replicate", columns="initial_trust",
                                                            values="dissolved_step", aggfunc="first",
                                                            dropna=False).fillna(-1.0)
        free[strategy] = float((w.nunique(axis=1) == 1).mean())
    return {"deadline_groups": groups, "trust_free": free}


def select(runs: pd.DataFrame, where: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of ``runs`` with these values."""
    mask = np.ones(len(runs), dtype=bool)
    for k, v in where.items():
        mask &= (runs[k] == v).to_numpy()
    return runs[mask]


def replicates_needed(sd: np.ndarray | float, n: np.ndarray | int, half_width: float = HALF_WIDTH,
                      confidence: float = 0.95) -> np.ndarray:
    """Replicates that give a t interval of ``half_width`` to a paired difference of SD ``sd`` (from ``n`` pairs)."""
    t = stats.t.ppf(0.5 + confidence / 2, np.asarray(n) - 1)
    return np.ceil((t * np.asarray(sd, dtype=float) / half_width) ** 2).astype(int)


def pilot_check(res: Any, pilot: int = PILOT, half_width: float = HALF_WIDTH) -> dict[str, Any]:
    """What the sweep's first ``pilot`` replicates say its fixed replicate count must be.

    Under common random numbers replicate r has the same seed whatever the sweep's size, so the first
    ``pilot`` replicates of every cell are exactly a separate ``pilot``-replicate sweep. Per point and
    counterfactual, the SD of the paired gross-benefit differences of those replicates gives the replicates
    a ``half_width`` interval needs (:func:`replicates_needed`); the sweep's count is justified when it is at
    least the largest of them.
    """
    rows = []
    for cf in COUNTERFACTUALS:
        pairs = A.pair_runs(res, FORCED, cf, PRECISION_OUTCOME)
        pairs = pairs[pairs["replicate"] < pilot]
        d = pairs[f"{PRECISION_OUTCOME}_a"] - pairs[f"{PRECISION_OUTCOME}_b"]
        factors = ["initial_trust", "deadline", "cultural_distance"]
        g = pairs.assign(diff=d).groupby(factors)["diff"]
        sd, n = g.std(ddof=1), g.count()
        rows.append(sd.rename("sd").reset_index().assign(counterfactual=cf, n=n.to_numpy(),
                                                          needed=replicates_needed(sd.to_numpy(), n.to_numpy(),
                                                                                   half_width)))
    t = pd.concat(rows, ignore_index=True)
    worst = t.loc[t["needed"].idxmax()]
    cell = ", ".join(f"{f} {worst[f]:g}" for f in ("initial_trust", "deadline", "cultural_distance"))
    return {"pilot": pilot, "half_width": half_width, "max_sd": float(worst["sd"]), "max_needed": int(worst["needed"]),
            "median_needed": float(t["needed"].median()), "worst": f"{cell}, vs {worst['counterfactual']}",
            "replicates": int(res.manifest["replicates"]), "table": t}


def pairing_gain(cells: pd.DataFrame, robust: pd.DataFrame) -> pd.DataFrame:
    """How much the common seeds narrowed the intervals: paired over unpaired SE, on the same runs.

    For every cell of the headline sweep (``cells``, from :func:`cell_tests`) and every setting x trust level
    of the robustness runs, the paired standard error of the mean difference over the one the same runs would
    give as independent samples. Per study, counterfactual and outcome: the median ratio over all cells and
    over the cells at trust >= 0.7 (where the crossovers are), and the run multiplier that the same interval
    would cost without pairing (1 / ratio^2 at the median).
    """
    rows = [cells.assign(study="headline sweep", counterfactual=cells["b"])[
        ["study", "counterfactual", "outcome", "initial_trust", "se", "se_unpaired"]]]
    for cf in COUNTERFACTUALS:
        for outcome in [*OUTCOMES, "dissolved"]:
            m = paired_arms(robust, FORCED, cf, outcome)
            for (_, trust), g in m.groupby(["setting", "initial_trust"], sort=False):
                d = A.paired_difference(g[f"{outcome}_a"].to_numpy(), g[f"{outcome}_b"].to_numpy(), method="t")
                rows.append(pd.DataFrame([{"study": "robustness", "counterfactual": cf, "outcome": outcome,
                                           "initial_trust": trust, "se": d.se, "se_unpaired": d.se_unpaired}]))
    t = pd.concat(rows, ignore_index=True)
    t = t[(t["se_unpaired"] > 0) & t["se"].notna()]
    t["ratio"] = t["se"] / t["se_unpaired"]
    out = []
    for (study, cf, outcome), g in t.groupby(["study", "counterfactual", "outcome"], sort=False):
        high = g[g["initial_trust"] >= 0.7]["ratio"]
        out.append({"study": study, "counterfactual": cf, "outcome": outcome, "cells": len(g),
                    "median_ratio": float(g["ratio"].median()), "median_ratio_trust_0.7_up": float(high.median()),
                    "min_ratio": float(g["ratio"].min()), "max_ratio": float(g["ratio"].max()),
                    "run_multiplier_trust_0.7_up": float(1 / high.median() ** 2)})
    return pd.DataFrame(out)


def rungs(res: Any) -> pd.DataFrame:
    """Time to collaboration (level >= 4) and to level >= 3, cumulative incidence with dissolution competing."""
    return A.rung_table(res, [3, 4], where=BASE_CELL)


def after_grant(res: Any) -> pd.DataFrame:
    """Survival in the 24 months after grant_term, per initial-trust level (deadline 24, distance 0.5)."""
    return A.survival_after_grant(res, window=24, by="factors", where=BASE_CELL)


def early_benefit(runs: int = 2000) -> pd.DataFrame:
    """Benefit in the first 24 months (the funder's horizon): forced against each counterfactual, paired runs."""
    seeds = run_seeds(SEED + 3, runs)
    b = {}
    for trust in TRUST:
        for strategy in STRATEGIES:
            r = sim.simulate(seeds=seeds, strategy=strategy, initial_trust=trust, n_steps=24, keep=["benefit"],
                             **BASE_CELL)
            b[strategy, trust] = r.series("benefit").sum(axis=1)
    rows = []
    for trust in TRUST:
        for cf in COUNTERFACTUALS:
            d = A.paired_difference(b[FORCED, trust], b[cf, trust], method="t")
            rows.append({"initial_trust": trust, "counterfactual": cf, "runs": runs,
                         "forced": float(b[FORCED, trust].mean()), "counterfactual_mean": float(b[cf, trust].mean()),
                         "difference": d.estimate, "low": d.low, "high": d.high, "p_value": d.p_value})
    t = pd.DataFrame(rows)
    return A.adjust_table(t, "holm", family=None)


def dissolution_paired(runs: pd.DataFrame, setting: str = "Model 5 defaults") -> pd.DataFrame:
    """Dissolution by month 120, forced against each counterfactual per trust level: McNemar exact, Holm across them."""
    rows = []
    sel = runs[runs["setting"] == setting]
    for cf in COUNTERFACTUALS:
        m = paired_arms(sel, FORCED, cf, "dissolved")
        for trust, g in m.groupby("initial_trust"):
            t = A.mcnemar_test(g["dissolved_a"].to_numpy(), g["dissolved_b"].to_numpy(), exact=True)
            rows.append({"initial_trust": trust, "counterfactual": cf, "n_pairs": len(g),
                         "forced": g["dissolved_a"].mean(), "counterfactual_share": g["dissolved_b"].mean(),
                         "difference": t.difference, "low": t.low, "high": t.high, "p_value": t.p_value})
    return A.adjust_table(pd.DataFrame(rows), "holm", family=None)


def calibration(runs: int = 6000) -> dict[str, Any]:
    """The survival pattern of funded coalitions: funder_patient at trust 0.3, grant 36 months.

    Targets (docs/calibration.md): Feinberg, Bontempo & Greenberg (2008) about 90% operating at the end of
    the 3-year grant and about two thirds 4 years later; HCAP (NORC 2012) 68% 5.5 years after the grant.
    """
    r = sim.simulate(n_runs=runs, seed=SEED + 1, strategy="funder_patient", initial_trust=0.3, grant_term=36,
                     n_steps=102, keep=[])
    ds = r.summary["dissolved_step"].to_numpy(dtype=float)
    out: dict[str, Any] = {"runs": runs}
    for step, target in ((36, "0.90"), (84, "0.67"), (102, "0.60 to 0.70")):
        alive = int(np.sum(~(ds <= step)))
        low, high = proportion_confint(alive, runs, method="wilson")
        out[step] = {"share": alive / runs, "low": float(low), "high": float(high), "target": target}
    return out


def qualitative(runs: int = 3000) -> pd.DataFrame:
    """The practice levers and rules, on paired fresh runs (same seeds in both arms): McNemar on dissolution."""
    claims = [
        ("a higher loss/gain ratio raises dissolution", "stepwise", 0.3, ("loss_rate", 0.35, 0.15), BUILT_IN,
         "trust falls faster than it rises by assumption (loss_rate > gain_rate)"),
        ("a higher loss/gain ratio raises dissolution", FORCED, 0.7, ("loss_rate", 0.35, 0.15), BUILT_IN,
         "as above"),
        ("weaker leadership raises dissolution", "stepwise", 0.3, ("leadership", 0.1, 0.9), BUILT_IN,
         "leadership enters the dissolution hazard and the exit rule directly"),
        ("weaker leadership raises dissolution", FORCED, 0.7, ("leadership", 0.1, 0.9), BUILT_IN, "as above"),
        ("poorer communication raises dissolution", "stepwise", 0.3, ("communication", 0.1, 0.9), EMERGENT,
         "communication acts only on misperception; its effect on survival passes through the dynamics"),
    ]
    seeds = run_seeds(SEED + 11, runs)
    rows = []
    for claim, strategy, trust, (name, worse, better), tag, why in claims:
        d = {v: sim.simulate(seeds=seeds, strategy=strategy, initial_trust=trust, keep=[], **{name: v})
             .summary["dissolved"].to_numpy() for v in (worse, better)}
        t = A.mcnemar_test(d[worse], d[better], exact=True)
        rows.append({"claim": f"{claim} under {strategy}", "strategy": strategy, "initial_trust": trust,
                     "parameter": name, "worse": worse, "better": better, "dissolved_worse": d[worse].mean(),
                     "dissolved_better": d[better].mean(), "difference": t.difference, "low": t.low, "high": t.high,
                     "p_value": t.p_value, "tag": tag, "why": why})
    t = A.adjust_table(pd.DataFrame(rows), "holm", family=None)
    t["holds"] = t["significant_adjusted"] & (t["difference"] > 0)
    return t


def sensitivity(sob: Any) -> tuple[Any, pd.DataFrame]:
    """Sobol indices and, per outcome and strategy, which levers stand above the noise floor.

    The floor is the highest interval of two do-nothing factors: the design's ``dummy`` and the placebo
    ``fixed_level`` (read only by the ``fixed`` strategy), on the raw total index ``ST`` and on
    ``ST_denoised`` (the replicate noise's bias removed; :meth:`sim.sweep.design.Sobol.denoise`).
    """
    sens = A.sobol_indices(sob, ["dissolved", "cumulative_benefit"], seed=SEED)
    noise = [f for f in ("dummy", "fixed_level") if f in set(sens.indices["factor"])]
    return sens, noise_floor(sens.indices, noise, ["ST"])


# --- figures -------------------------------------------------------------------------------------------------


def _colors(n: int) -> list[str]:
    names = ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue")
    return [OKABE_ITO[c] for c in names[:n]]


def plot_differences(res: Any, deadline_groups: Sequence[Sequence[int]] | None = None):
    """Forced minus each counterfactual along initial trust (paired means, 95% CI), gross and net, by deadline.

    Deadlines in one of ``deadline_groups`` give the same runs (:func:`same_runs`): one curve is drawn for them.
    """
    import matplotlib.figure

    groups = [list(g) for g in (deadline_groups or [[d] for d in sorted(res.runs["deadline"].unique())])]
    deadlines = [g[0] for g in groups]
    names = {g[0]: (f"deadline {g[0]} months" if len(g) == 1 else
                    f"deadlines {', '.join(map(str, g))} months (the same runs)") for g in groups}
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(11.5, 7.6), layout="constrained")
        axes = fig.subplots(2, 2, sharex=True, squeeze=False)
        for i, cf in enumerate(COUNTERFACTUALS):
            for j, outcome in enumerate(OUTCOMES):
                ax = axes[i][j]
                ax.axhline(0, color="0.3", lw=1)
                t = A.compare_paired(res, FORCED, cf, outcome, by=["initial_trust", "deadline"],
                                     where={"cultural_distance": 0.5}, adjust=None)
                for color, dl in zip(_colors(len(deadlines)), deadlines, strict=True):
                    g = t[t["deadline"] == dl].sort_values("initial_trust")
                    ax.fill_between(g["initial_trust"], g["difference_low"], g["difference_high"], color=color,
                                    alpha=0.18, lw=0)
                    ax.plot(g["initial_trust"], g["difference"], color=color, marker="o", ms=3.5,
                            label=names[dl])
                ax.set_title(f"{OUTCOMES[outcome]}: funder_forced minus {cf}", fontsize=10)
                ax.grid(alpha=0.3)
                if i == 1:
                    ax.set_xlabel("initial trust")
                if j == 0:
                    ax.set_ylabel("difference over 120 months\n(benefit units)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(deadlines), frameon=False)
        fig.suptitle("Forcing against no grant (top) and the same grant spent patiently (bottom); cultural "
                     "distance 0.5.\nMean paired difference per trust level with 95% CI "
                     "(the crossovers' intervals: tables/crossover.csv)")
    return fig


def plot_robustness(table: pd.DataFrame):
    """Forest plot: the crossover trust (95% CI) per setting, against each counterfactual, gross and net."""
    import matplotlib.figure

    names = list(dict.fromkeys(table["setting"]))
    y = np.arange(len(names))[::-1]
    lo_x, hi_x = 0.4, 1.0
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(12, 0.36 * len(names) + 2.4), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True, squeeze=False)[0]
        colors = dict(zip(OUTCOMES, _colors(2), strict=True))
        for ax, cf in zip(axes, COUNTERFACTUALS, strict=True):
            for k, outcome in enumerate(OUTCOMES):
                off = 0.15 if k == 0 else -0.15
                g = table[(table["counterfactual"] == cf) & (table["outcome"] == outcome)].set_index("setting")
                for name, yy in zip(names, y, strict=True):
                    draw_crossover(ax, g.loc[name], yy + off, lo_x, hi_x, colors[outcome])
                ax.plot([], [], "o-", color=colors[outcome], label=OUTCOMES[outcome])
            ax.set_xlim(lo_x - 0.03, hi_x + 0.03)
            ax.axvspan(max(TRUST), hi_x + 0.03, color="0.9", lw=0)
            group = table.drop_duplicates("setting").set_index("setting")["group"]
            for k in range(1, len(names)):  # a line between the groups: baseline, structure, size, constants
                if group[names[k]] != group[names[k - 1]]:
                    ax.axhline((y[k] + y[k - 1]) / 2, color="0.55", lw=0.8, ls="--")
            ax.set_title(f"funder_forced against {cf}", fontsize=10)
            ax.set_xlabel("initial trust from which forcing pays (crossover, 95% CI)")
            ax.grid(alpha=0.3, axis="x")
        axes[0].set_yticks(y, names)
        handles, labels = axes[0].get_legend_handles_labels()
        handles += [axes[0].plot([], [], ">", color="0.3")[0]]
        labels += [f"never up to trust {max(TRUST):g} (grey: beyond the range)"]
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle("Robustness of the crossover: one change at a time from the Model 5 defaults "
                     "(deadline 24, cultural distance 0.5)")
    return fig


def plot_sensitivity_floor(sob: Any, outcome: str, sens: Any, floor: pd.DataFrame):
    """The Sobol indices of ``outcome`` (:func:`sim.analysis.plot_sensitivity`) with the raw ST noise floor shaded."""
    fig = A.plot_sensitivity(sob, outcome, sensitivity=sens)
    f = floor[(floor["outcome"] == outcome) & (floor["index"] == "ST")]
    top = f.groupby("strategy")["floor_high"].first()
    for ax in fig.axes:
        strategy = next((k for k in top.index if strategy_label(k) == ax.get_title()), None)
        if strategy is None:
            continue
        ax.axvspan(0, top[strategy], color="0.85", zorder=0, lw=0)
    if fig.legends:  # the floor joins the figure's legend
        from matplotlib.patches import Patch

        old = fig.legends[0]
        handles, labels = list(old.legend_handles), [t.get_text() for t in old.get_texts()]
        old.remove()
        fig.legend(handles + [Patch(color="0.85")], labels + ["noise floor of ST (do-nothing factors' upper limit)"],
                   loc="outside lower center", ncols=2, frameon=False)
    return fig


def plot_rungs(res: Any):
    """Cumulative incidence of reaching collaboration (level >= 4), dissolution competing, at two trust levels."""
    import matplotlib.figure

    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(10.5, 4.4), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True, squeeze=False)[0]
        for ax, trust in zip(axes, (0.3, 0.85), strict=True):
            curves = A.rung_incidence(res, 4, where={**BASE_CELL, "initial_trust": trust})
            for key, c in curves.items():
                strategy = key[-1]
                ax.step(c.step, c.incidence, where="post",
                        color=STRATEGY_COLORS[strategy], label=f"{strategy_label(strategy)}: reached level >= 4")
                ax.step(c.step, c.competing, where="post",
                        color=STRATEGY_COLORS[strategy], ls=":", label=f"{strategy_label(strategy)}: dissolved first")
            ax.set_title(f"initial trust {trust:g}")
            ax.set_xlabel("month")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("cumulative incidence")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, fontsize=8)
        fig.suptitle("Time to collaboration with dissolution competing (Aalen-Johansen; deadline 24, distance 0.5)")
    return fig


def plot_after_grant(table: pd.DataFrame):
    """Survival in the 24 months after the grant, per initial-trust level, with 95% CI."""
    import matplotlib.figure

    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(6.6, 4.4), layout="constrained")
        ax = fig.subplots()
        for k, (strategy, g) in enumerate(table.groupby("strategy", sort=False)):
            g = g.sort_values("initial_trust")
            ok = g["alive_at_grant_term"] >= 10
            ax.errorbar(g["initial_trust"][ok] + 0.006 * (k - 1), g["survival"][ok],
                        yerr=[(g["survival"] - g["low"])[ok], (g["high"] - g["survival"])[ok]],
                        color=STRATEGY_COLORS[strategy], marker="o", ms=4, capsize=2,
                        label=strategy_label(strategy))
        ax.set_xlabel("initial trust")
        ax.set_ylabel("share still together 24 months\nafter the grant ends")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, loc="lower right")
        ax.set_title("After the money stops (of those together at month 36; cells with\nfewer than 10 such "
                     "partnerships not drawn)", fontsize=10)
    return fig


def plot_early(table: pd.DataFrame):
    """Benefit in the first 24 months: forced minus each counterfactual, paired, across initial trust."""
    import matplotlib.figure

    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(6.6, 4.4), layout="constrained")
        ax = fig.subplots()
        ax.axhline(0, color="0.3", lw=1)
        for cf, g in table.groupby("counterfactual", sort=False):
            ax.errorbar(g["initial_trust"], g["difference"], yerr=[g["difference"] - g["low"], g["high"] -
                        g["difference"]], color=STRATEGY_COLORS[cf], marker="o", ms=4, capsize=2,
                        label=f"funder_forced minus {cf}")
        ax.set_xlabel("initial trust")
        ax.set_ylabel("difference in benefit,\nfirst 24 months")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        ax.set_title("On the funder's horizon (24 months; paired runs, 95% CI)", fontsize=10)
    return fig


# --- findings ------------------------------------------------------------------------------------------------


def ci(est: float, low: float, high: float, digits: int = 0, pct: bool = False) -> str:
    """``est [low, high]`` (percentages when ``pct``)."""
    k = 100 if pct else 1
    unit = "%" if pct else ""
    return f"{k * est:+.{digits}f}{unit} [{k * low:+.{digits}f}, {k * high:+.{digits}f}]"


def crossing_text(status: str, est: float, low: float, high: float) -> str:
    """A crossover for a table: the estimate and its CI, "never"/"always" with the share of the bootstrap."""
    def b(v: float) -> str:
        return "beyond" if v == math.inf else "below" if v == -math.inf else f"{v:.2f}"
    if status == "crossing":
        return f"{est:.2f} [{b(low)}, {b(high)}]"
    return f"{status} [{b(low)}, {b(high)}]"


def p_text(p: float) -> str:
    return "< 1e-300" if p == 0 else f"{p:.2g}"


def findings_text(n: dict[str, Any]) -> str:
    """The findings, every number from ``n``."""
    cross, cells, rb, early = n["crossover"], n["cells"], n["robustness"], n["early"]
    rt, grant, diss, qual, floor, cal = (n["rungs"], n["after_grant"], n["dissolution"], n["qualitative"],
                                        n["floor"], n["calibration"])
    holm_cells = cells["n_tests"].iloc[0] if "n_tests" in cells else len(cells)
    L = [
        "# Findings: funder-forced collaboration against its two counterfactuals",
        "",
        f"Written by `make run` (experiments/headline.py) on {n['date']}, model version {n['model_version']}, "
        "with the calibrated Model 5 defaults (docs/calibration.md).",
        "",
        f"- **Headline sweep** ({n['headline_runs']:,} runs): 3 strategies (stepwise: no grant; funder_forced: "
        "the grant, forced to collaboration; funder_patient: the same grant, no forcing) x 8 initial-trust levels "
        f"({', '.join(f'{t:g}' for t in n['levels']['initial_trust'])}) x {len(n['levels']['deadline'])} deadlines "
        f"({', '.join(f'{t:g}' for t in n['levels']['deadline'])}) x {len(n['levels']['cultural_distance'])} cultural "
        f"distances ({', '.join(f'{t:g}' for t in n['levels']['cultural_distance'])}), {n['replicates']} replicates a "
        f"cell, 120 months. {n['crn_text']}",
        f"- **Robustness study** ({n['robust_runs']:,} runs): the same 3 strategies x 8 trust levels at deadline "
        f"24 and cultural distance 0.5, under {n['n_settings']} settings (the Model 5 defaults, each structural "
        "kind set to its reference variant alone and all together, and one constant changed at a time), "
        f"{n['robust_replicates_text']} replicates a setting (chosen by precision, below). Every arm of a "
        "setting runs on the same seeds (common random numbers), so each difference is paired, across "
        "strategies and across trust levels.",
        f"- **Sensitivity sweep** ({n['sobol_runs']:,} runs): Sobol design over five practice levers plus two "
        "do-nothing factors, the noise floor (section 6). Its replicates do *not* share seeds, on purpose: under "
        "common random numbers a do-nothing factor's runs are identical and its indices exactly 0, so it would "
        "no longer measure the noise, and the removal of the noise's bias (section 6) assumes independent noise.",
        "",
        "**The design is paired.** In the headline sweep and the robustness study replicate r of every "
        "strategy, trust level, deadline, distance and setting is the same partnership (one seed), so every "
        "comparison of forcing with a counterfactual is a paired difference: paired t intervals and tests for "
        "benefit, McNemar's exact test with Newcombe's paired interval for dissolution, and crossover "
        "bootstraps that resample replicates jointly across trust levels. " + n["pairing_text"],
        "",
        "**Replicates.** " + n["replicates_text"],
        "",
        "Intervals are 95%: paired t for mean differences, Newcombe's paired interval with McNemar's exact test "
        "for dissolution, percentile bootstrap over replicates (1,000 resamples, replicates kept together across "
        "trust levels where they share seeds) for crossovers, Aalen-Johansen log(-log) for cumulative "
        f"incidence, Kaplan-Meier log(-log) for survival. Families of tests are Holm-adjusted (alpha {ALPHA}), "
        "the family stated each time. Tag **built in**: the result restates a rule or an input; **emergent**: "
        "it comes out of the interplay of the rules and is not written into any one of them.",
        "",
        "## 1. Forcing against no grant and against the same grant spent patiently",
        "",
        "The crossover: the initial trust at which the mean paired difference funder_forced minus the "
        "counterfactual turns positive (interpolated between levels), with its bootstrap 95% CI (replicates "
        "resampled jointly across the trust levels, whose runs share seeds); \"never\" = "
        "negative at every trust level up to 0.95, \"beyond\" = no crossing in the range is inside the CI. "
        "Per cell of deadline x cultural distance, nothing pooled (table `tables/crossover.csv`, figure "
        "`figures/crossover.png`). **Emergent.** " + n["deadline_text"],
        "",
        "| deadline | distance | vs stepwise, gross | vs stepwise, net | vs funder_patient, gross | "
        "vs funder_patient, net |",
        "|---|---|---|---|---|---|",
    ]
    key = ["deadline", "cultural_distance"]
    for (dl, dist), g in cross.groupby(key):
        cellv = []
        for cf in COUNTERFACTUALS:
            for outcome in OUTCOMES:
                r = g[(g["b"] == cf) & (g["outcome"] == outcome)].iloc[0]
                cellv.append(crossing_text(r.status, r.crossing, r.low, r.high))
        L.append(f"| {dl} | {dist:g} | " + " | ".join(cellv) + " |")
    L += ["", "Per cell (trust x deadline x distance), paired t tests of the difference (McNemar's exact test "
          "for dissolution), Holm-adjusted across the "
          f"{holm_cells} cells of each counterfactual and outcome (table `tables/cells.csv`):", ""]
    for cf in COUNTERFACTUALS:
        for outcome in [*OUTCOMES, "dissolved"]:
            g = cells[(cells["b"] == cf) & (cells["outcome"] == outcome)]
            pos = int((g["significant_adjusted"] & (g["difference"] > 0)).sum())
            neg = int((g["significant_adjusted"] & (g["difference"] < 0)).sum())
            what = "dissolves more" if outcome == "dissolved" else "gathers more"
            less = "dissolves less" if outcome == "dissolved" else "gathers less"
            name = "dissolution (McNemar)" if outcome == "dissolved" else OUTCOMES[outcome]
            L.append(f"- against {cf}, {name}: forcing {what} in {pos}, {less} in {neg}, no adjusted "
                     f"difference in {len(g) - pos - neg} of {len(g)} cells.")
    e24 = early[early["initial_trust"].isin([0.3, 0.85, 0.95])]
    L += ["", f"On the funder's own horizon, the first 24 months (fresh paired runs, {int(early['runs'].iloc[0]):,} "
          "a strategy and level, deadline 24, distance 0.5; Holm over the 16 tests; `tables/early.csv`, "
          "`figures/early_benefit.png`), funder_forced minus the counterfactual: "
          + "; ".join(f"trust {r.initial_trust:g} vs {r.counterfactual} {ci(r.difference, r.low, r.high, 1)}"
                      for r in e24.itertuples()) + ". **Built in** in its sign at high trust: forcing starts at "
          "level 4, whose multiplier the counterfactuals take months to reach.", ""]

    # 2. robustness
    L += ["## 2. Robustness: where forcing pays, and on what it is conditional", "",
          "Crossover trust (95% CI) per setting, deadline 24, distance 0.5, paired replicates as many as each "
          "setting's precision needed (last column; table `tables/robustness.csv`, figure "
          "`figures/robustness.png`). **Emergent** (the "
          "n_orgs rows are partly built in: each member's share of the benefit scales as 1/n_orgs and "
          "derailment grows with the number of pairs).", "",
          "| setting | vs stepwise, gross | vs stepwise, net | vs funder_patient, gross | vs funder_patient, net | "
          "gross difference at trust 0.95 vs funder_patient | replicates |",
          "|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(rb["setting"]):
        g = rb[rb["setting"] == name]
        v = []
        for cf in COUNTERFACTUALS:
            for outcome in OUTCOMES:
                r = g[(g["counterfactual"] == cf) & (g["outcome"] == outcome)].iloc[0]
                v.append(crossing_text(r.status, r.crossing, r.low, r.high))
        r = g[(g["counterfactual"] == "funder_patient") & (g["outcome"] == "cumulative_benefit")].iloc[0]
        v.append(ci(r.difference_at_top, r.difference_at_top_low, r.difference_at_top_high))
        v.append(f"{int(r.n_pairs) // len(TRUST):,}")
        L.append(f"| {name} | " + " | ".join(v) + " |")
    L += ["", "**Forcing pays where:** " + pays_where(rb), "", n["conditional_text"], ""]

    # 3. dissolution
    L += ["## 3. Dissolution, paired", "",
          "Dissolved by month 120, funder_forced against each counterfactual on the same seeds (Model 5 defaults, "
          "deadline 24, distance 0.5; McNemar's exact test with Newcombe's paired interval; Holm over the "
          f"{len(diss)} tests; `tables/dissolution.csv`). **Emergent** (forcing makes no rule about exit; it "
          "puts partnerships on a rung whose trust need they do not meet).", "",
          "| initial trust | forced | stepwise | difference vs stepwise | funder_patient | "
          "difference vs funder_patient | Holm p (vs stepwise / vs patient) |",
          "|---|---|---|---|---|---|---|"]
    for trust, g in diss.groupby("initial_trust"):
        s = g[g["counterfactual"] == "stepwise"].iloc[0]
        p = g[g["counterfactual"] == "funder_patient"].iloc[0]
        L.append(f"| {trust:g} | {100 * s.forced:.1f}% | {100 * s.counterfactual_share:.1f}% | "
                 f"{ci(s.difference, s.low, s.high, 1, pct=True)} | {100 * p.counterfactual_share:.1f}% | "
                 f"{ci(p.difference, p.low, p.high, 1, pct=True)} | {p_text(s.p_adjusted)} / "
                 f"{p_text(p.p_adjusted)} |")
    L.append("")

    # 4. rungs
    patience = int(sim.Params().climb_patience)
    floor4 = 1 + 3 * patience
    L += ["## 4. Time to each rung, with dissolution competing", "",
          "Cumulative incidence of first playing a level >= 4 (collaboration; a run that only ever plays level 5 "
          "counts) and >= 3, with dissolution as the competing event (Aalen-Johansen), deadline 24, distance "
          "0.5; months by which 25/50/75% of all partnerships had got there (\"not reached\" = the share never "
          "gets there within 120 months; the median with its 95% CI) (`tables/rungs.csv`, `figures/rungs.png`). "
          "Under funder_forced collaboration from month 1 is **built in** (the strategy starts at the forced "
          f"level). Under the others no partnership can get there before month {floor4} (one climb per "
          f"climb_patience = {patience} months from level 1, so 1 + 3 x {patience}): a month marked * is that "
          "floor, a parameter and not a finding; only the shares and the months above the floor are "
          "**emergent**.", "",
          "| initial trust | strategy | reached >= 4 by 120 | dissolved first | q25 | q50 [95% CI] | q75 | "
          "reached >= 3 by 120 |", "|---|---|---|---|---|---|---|---|"]

    def q(v: float, strategy: str) -> str:
        if not np.isfinite(v):
            return "not reached"
        return f"{v:.0f}*" if strategy != FORCED and v <= floor4 else f"{v:.0f}"

    def qci(v: float) -> str:
        return "beyond 120" if not np.isfinite(v) else f"{v:.0f}"
    for (trust, strategy), g in rt.groupby(["initial_trust", "strategy"], sort=False):
        r4 = g[g["rung"] == 4].iloc[0]
        r3 = g[g["rung"] == 3].iloc[0]
        if trust not in (0.15, 0.3, 0.5, 0.7, 0.85, 0.95):
            continue
        L.append(f"| {trust:g} | {strategy} | {100 * r4.incidence:.0f}% [{100 * r4.incidence_low:.0f}, "
                 f"{100 * r4.incidence_high:.0f}] | {100 * r4.dissolved_first_share:.0f}% | {q(r4.q25, strategy)} | "
                 f"{q(r4.q50, strategy)} [{qci(r4.q50_low)}, {qci(r4.q50_high)}] | {q(r4.q75, strategy)} | "
                 f"{100 * r3.incidence:.0f}% |")
    L.append("")

    # 5. after the grant
    L += ["## 5. Survival after the money stops, per initial-trust level", "",
          "Of the partnerships still together when the grant ends (month 36), the Kaplan-Meier share still "
          "together 24 months later, per trust level (deadline 24, distance 0.5; not pooled; "
          "`tables/after_grant.csv`, `figures/survival_after_grant.png`). Stepwise has no grant: its row is the "
          "same months for comparison. **Emergent** for funder_forced; " + n["trust_free_text"], "",
          "| initial trust | " + " | ".join(f"{s}: alive at 36 / survival 24 months on" for s in STRATEGIES) + " |",
          "|---|---|---|---|"]
    for trust, g in grant.groupby("initial_trust"):
        v = []
        for s in STRATEGIES:
            r = g[g["strategy"] == s].iloc[0]
            if r.alive_at_grant_term == 0:
                v.append(f"{100 * r.share_alive_at_grant_term:.0f}% / (none alive)")
            else:
                v.append(f"{100 * r.share_alive_at_grant_term:.0f}% / {100 * r.survival:.0f}% "
                         f"[{100 * r.low:.0f}, {100 * r.high:.0f}] (n {int(r.alive_at_grant_term)})")
        L.append(f"| {trust:g} | " + " | ".join(v) + " |")
    L.append("")

    # 6. sensitivity
    L += ["## 6. Which practices stand above the noise floor", "",
          "Total-order Sobol indices (ST, 95% CI) of dissolution and of gross benefit over five practice levers "
          "(leadership, communication, ground rules 0..1; cultural learning 0..0.1; celebration 0..1) at initial "
          f"trust 0.5, {n['sobol_replicates']} independent replicates a point averaged before SALib. "
          f"{n['floor_text']} A lever stands above the floor when the lower end of its interval exceeds the upper "
          "end of the floor's (two disjoint 95% intervals: conservative). Two versions of the index: SALib's raw "
          "ST, which counts the replicate noise left in the point means as variance and so inflates every index "
          "alike, and ST_denoised, the same estimator with that noise's expected contribution (each point's "
          "replicate variance / replicates) removed from the numerator and the total variance (Jansen's "
          "estimator as in Saltelli et al. 2010; derivation in docs/analysis.md). The replicate-noise share is "
          "the part of the variance of the point means that is run-to-run noise (`tables/sobol.csv`, "
          "`tables/sobol_floor.csv`, `figures/sensitivity_*.png`).", "",
          "| outcome | strategy | index | replicate-noise share | noise floor (its upper limit) | above the floor | "
          "not above |", "|---|---|---|---|---|---|---|"]
    for (outcome, strategy, index), g in floor.groupby(["outcome", "strategy", "index"], sort=False):
        above = ", ".join(f"{r.factor} {r.value:.2f} [{r.low:.2f}, {r.high:.2f}]"
                          for r in g[g["above_floor"]].sort_values("value", ascending=False).itertuples()) or "none"
        rest = ", ".join(f"{r.factor} {r.value:.2f}" for r in g[~g["above_floor"]].itertuples()) or "none"
        share = n["noise"].get((outcome, strategy), math.nan)
        fl = f"{g['floor'].iloc[0]:.2f} ({g['floor_high'].iloc[0]:.2f})"
        L.append(f"| {outcome} | {strategy} | {index} | {share:.2f} | {fl} | {above} | {rest} |")
    L += ["", n["sobol_text"] + " Leadership's place at the top is largely **built in** (mean leadership divides "
          "the dissolution hazard and softens exit); the others' effects pass through the dynamics (**emergent**) "
          "but, where they are not above the floor, the design cannot tell them from replicate noise: no claim is "
          "made about their interactions.", ""]

    # 7. calibration
    L += ["## 7. Calibration check (fresh runs)", "",
          f"funder_patient, initial trust 0.3, grant 36 months, {cal['runs']:,} runs; share not dissolved, Wilson "
          "95% CI, against the published pattern (Feinberg et al. 2008: ~0.90 at the grant's end, ~0.67 four "
          "years later; HCAP 2012: 68% some 5.5 years after, Johnson et al. 2017: 70%): "
          + "; ".join(f"month {k}: {v['share']:.3f} [{v['low']:.3f}, {v['high']:.3f}] (target {v['target']})"
                      for k, v in cal.items() if k != "runs") + ". **Built in** (fitted).", ""]

    # 8. qualitative
    L += ["## 8. Practice levers and rules (fresh paired runs)", "",
          f"Same seeds in both arms, {int(n['qual_runs']):,} runs; McNemar's exact test, Holm over the {len(qual)} "
          "tests.", "",
          "| claim | dissolved (worse / better) | difference | Holm p | holds | tag | why |",
          "|---|---|---|---|---|---|---|"]
    for r in qual.itertuples():
        L.append(f"| {r.claim} (trust {r.initial_trust:g}) | {100 * r.dissolved_worse:.1f}% / "
                 f"{100 * r.dissolved_better:.1f}% | {ci(r.difference, r.low, r.high, 1, pct=True)} | "
                 f"{p_text(r.p_adjusted)} | {'yes' if r.holds else 'no'} | {r.tag} | {r.why} |")
    no = [r.claim for r in qual.itertuples() if not r.holds]
    if no:
        L += ["", "Not shown by the model (reported as it gives them, not tuned away): " + "; ".join(no) + "."]
    L += ["", "Miscommunication growing with group size is a formula of the rules (the chance of derailment "
          "rises with the number of pairs), not a finding, and is not re-tested here.", ""]

    # 9. cannot say
    L += ["## What the model cannot say", "",
          "- **Magnitudes in the world.** Benefit is in model units; only the survival pattern of funded "
          "coalitions was fitted (section 7), with three free constants. Crossover trust levels are positions on "
          "the model's trust scale, not a survey measure.",
          "- **Why leadership matters.** It is an input to the dissolution hazard, fitted to one published "
          "association (HCAP's leader experience); that it tops the sensitivity ranking restates that input.",
          "- **Whether functioning predicts survival.** The calibration could not reproduce it (docs/calibration.md): "
          "in the model a partnership's success rate is not a lasting trait.",
          "- **The effect of rules it does not have.** Other funder contracts (milestones, technical assistance), "
          "members' outside options and the community around a partnership are not modelled.",
          "- **Results outside the varied settings.** Section 2 varies one thing at a time from the defaults; "
          "interactions between those changes are not explored.",
          "- **Small differences in the cells.** With "
          f"{n['replicates']} replicates a cell, differences of about {n['mde']:.0f} benefit units (gross) are the "
          "smallest the paired tests detect reliably; a cell without an adjusted difference is not evidence of "
          "no difference.",
          ""]
    L += [f"`make run` took {n['elapsed']:.0f} s on this machine (2 cores shared with other work; load average "
          f"{n['load']}){n['reuse_text']}."]
    return "\n".join(L) + "\n"


def pairing_text(pairing: pd.DataFrame, crn: bool) -> str:
    """How much the pairing narrowed the intervals, in one paragraph (from :func:`pairing_gain`)."""
    def part(study: str) -> str:
        g = pairing[pairing["study"] == study]
        bits = []
        for outcome, name in (("cumulative_benefit", "gross benefit"), ("net_benefit", "net benefit"),
                              ("dissolved", "dissolution")):
            h = g[g["outcome"] == outcome]
            lo, hi = h["median_ratio_trust_0.7_up"].min(), h["median_ratio_trust_0.7_up"].max()
            if len(h):
                bits.append(f"{name} {lo:.2f}" + (f" to {hi:.2f}" if f"{hi:.2f}" != f"{lo:.2f}" else ""))
        return "; ".join(bits)
    head = "" if crn else "(The headline sweep ran without common seeds: its ratios are about 1.) "
    cells = int(pairing[pairing["study"] == "headline sweep"]["cells"].iloc[0])
    sw = pairing[(pairing["study"] == "headline sweep") & (pairing["outcome"] == "cumulative_benefit")]
    mult = float(sw["run_multiplier_trust_0.7_up"].min())
    return (head + "How much that bought, measured on the same runs: the paired standard error of each mean "
            "difference over the one the runs would give as independent samples (`tables/pairing.csv`; median over "
            f"the cells at initial trust >= 0.7, where the crossovers are, both counterfactuals). Headline sweep "
            f"({cells} cells a counterfactual and outcome): {part('headline sweep')}. Robustness study: "
            f"{part('robustness')}. Paired intervals are these fractions of the unpaired ones; unpaired arms "
            "would need about "
            f"{mult:.1f} times the runs for the same gross-benefit intervals. At low trust, where almost every "
            "forced partnership dissolves within months, the arms share little and the ratio is about 1.")


def deadline_text(groups: Sequence[Sequence[int]]) -> str:
    """The deadlines that give the same runs, said (empty when every deadline matters)."""
    same = [g for g in groups if len(g) > 1]
    if not same:
        return ""
    term = int(sim.Params().grant_term)
    said = "; ".join(" and ".join(map(str, g)) for g in same)
    return (f"Deadlines {said} give funder_forced exactly the same runs (checked run by run on the common seeds): "
            f"every grant ends at grant_term = {term} months anyway, so a review at or after it changes nothing "
            "(**built in**); their rows agree by construction, and differences between them in an unpaired "
            "design would be noise alone.")


def replicates_text(pilot: Mapping[str, Any], rounds: pd.DataFrame, robust_runs: int, n_settings: int,
                    precision: Precision = ROBUST_PRECISION) -> str:
    """Why the replicate counts are what they are: the headline sweep's pilot check, the robustness rounds."""
    last = rounds[rounds["round"] == rounds["round"].max()]
    fixed = int(pilot["max_needed"])
    ok = pilot["replicates"] >= pilot["max_needed"]
    verdict = ("so the fixed count is enough everywhere" if ok else
               f"so the fixed count falls short there (half-widths up to "
               f"{pilot['max_sd'] * stats.t.ppf(0.975, pilot['replicates'] - 1) / math.sqrt(pilot['replicates']):.0f})")
    worst = last.sort_values("replicates").iloc[-1]
    least = last.sort_values("replicates").iloc[0]
    return (f"Every comparison is sized for a 95% half-width of at most {pilot['half_width']:g} benefit units for "
            "the paired gross-benefit difference, forced minus either counterfactual, at every trust level (about 7% "
            "of a high-trust partnership's ten-year benefit). *Headline sweep*: a fixed "
            f"{pilot['replicates']} replicates a cell, justified by a pilot: the first {pilot['pilot']} replicates "
            f"of every cell (under common seeds exactly a separate {pilot['pilot']}-replicate sweep) give paired "
            f"differences with an SD of at most {pilot['max_sd']:.0f} ({pilot['worst']}), which needs {fixed} "
            f"replicates (median over the cells {pilot['median_needed']:.0f}; `tables/pilot.csv`), {verdict}. "
            "The sweep layer's `[precision]` option was not used here: it stops each cell (point x strategy) on its "
            "own mean's interval, which under common seeds is not the interval that matters (the paired "
            "difference), and cells stopping at different counts would leave runs without a partner. "
            f"*Robustness study*: precision-driven per setting: a pilot of {precision.min_replicates} replicates in "
            "every arm, then "
            "rounds that add replicates to all arms of a setting together (so every run stays paired), by the "
            "sweep layer's rule (`sim.sweep.precision.next_targets`), until the widest paired interval of the "
            f"setting is within {precision.half_width:g} (cap {precision.max_replicates}): "
            f"{int(rounds['round'].max()) + 1} rounds, {least.setting} needed {int(least.replicates)}, "
            f"{worst.setting} {int(worst.replicates)} (`tables/robustness_rounds.csv`): {robust_runs:,} runs, where "
            f"one fixed count meeting the target in every setting ({int(last['replicates'].max())}) would have "
            f"taken {int(last['replicates'].max()) * n_settings * len(STRATEGIES) * len(TRUST):,}.")


def sobol_text(floor: pd.DataFrame) -> str:
    """Which levers stand above the floor, per index, in every outcome x strategy or only in some."""
    out = []
    for index, g in floor.groupby("index", sort=False):
        per = g.groupby("factor", sort=False)["above_floor"]
        every = [f for f, v in per if v.all()]
        some = [f for f, v in per if v.any() and not v.all()]
        out.append(f"On {index}: above the floor in all four outcome x strategy rows, "
                   f"{', '.join(every) or 'none'}; in some, {', '.join(some) or 'none'}.")
    return " ".join(out)


def conditional_text(rb: pd.DataFrame, outcome: str = "cumulative_benefit") -> str:
    """"Conditional on ...": per counterfactual, the settings where forcing pays, costs or is undetermined at the top.

    "Pays" means the paired difference at the highest trust level is above 0 after Holm's adjustment across
    the settings and counterfactuals; "costs", below 0; the rest cannot be told apart from no difference.
    Crossovers whose intervals are disjoint from the defaults' are named as moved.
    """
    top = f"{max(TRUST):g}"
    out = []
    for cf in COUNTERFACTUALS:
        g = rb[(rb["counterfactual"] == cf) & (rb["outcome"] == outcome)].set_index("setting")
        base = g.iloc[0]
        sig = g["significant_adjusted"].astype(bool)
        pays = g[sig & (g["difference_at_top"] > 0)].index.tolist()
        costs = g[sig & (g["difference_at_top"] < 0)].index.tolist()
        unsure = g[~sig].index.tolist()
        moved = [f"{name} ({crossing_text(r['status'], r['crossing'], r['low'], r['high'])})"
                 for name, r in g.iloc[1:].iterrows() if r["high"] < base["low"] or r["low"] > base["high"]]
        out.append(
            f"Against {cf} ({OUTCOMES[outcome]}, at trust {top}, Holm over {int(g['n_tests'].iloc[0])} tests): "
            f"forcing pays under {', '.join(pays) or 'no setting'}; costs under {', '.join(costs) or 'no setting'}; "
            f"cannot be told from no difference under {', '.join(unsure) or 'no setting'}. The crossover at the "
            f"defaults is {crossing_text(base['status'], base['crossing'], base['low'], base['high'])}; intervals "
            f"disjoint from it: {', '.join(moved) or 'none'}.")
    return "**Conditional on:** " + " ".join(out)


# --- main ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    started = now_iso()
    print("1/5 sweeps (resumable; results/headline/sweeps/)", flush=True)
    res = sweep("headline", args.workers)
    sob = sweep("practices-sobol", args.workers)
    print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)

    print("2/5 robustness (paired runs on common seeds)", flush=True)
    settings = robustness_settings()
    robust_stamp = (SWEEPS / "robustness.key").read_text() if (SWEEPS / "robustness.key").exists() else None
    robust_runs, robust_rounds = cached_robustness(settings, args.workers)
    fresh = robust_stamp is None or robust_stamp != (SWEEPS / "robustness.key").read_text()
    # fresh: every sweep was started by this run (its first session began after this run did)
    fresh = fresh and all(r.manifest["sessions"][0]["started"] >= started for r in (res, sob))
    print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)
    timings = {"sweeps and robustness": time.perf_counter() - t0}

    print("3/5 statistics", flush=True)
    crn = bool(res.manifest.get("crn", False))
    n: dict[str, Any] = {
        "date": started[:10], "model_version": getattr(sim, "MODEL_VERSION", "?"),
        "headline_runs": len(res.runs), "sobol_runs": len(sob.runs),
        "replicates": int(res.manifest["replicates"]), "robust_runs": len(robust_runs),
        "n_settings": len(settings),
        "levels": {f: sorted(res.runs[f].unique()) for f in ("initial_trust", "deadline", "cultural_distance")},
        "sobol_replicates": int(sob.manifest["replicates"]),
        "crn_text": ("Common random numbers (`crn = true`): replicate r of every strategy and point runs with "
                     "one seed." if crn else
                     "The sweep's arms are matched by replicate but do not share seeds (independent pairs: the "
                     "paired statistics are valid and as precise as unpaired ones)."),
    }
    n["crossover"] = crossovers(res)
    n["cells"] = cell_tests(res)
    n["pilot"] = pilot_check(res)
    n["same"] = same_runs(res)
    n["deadline_text"] = deadline_text(n["same"]["deadline_groups"])
    free = n["same"]["trust_free"]
    n["trust_free_text"] = (
        "for the counterfactuals the rows barely move with trust, and common seeds show why: "
        + " and ".join(f"{100 * v:.0f}% of {k} partnerships" for k, v in free.items())
        + " dissolve in the same month (or never) at every initial-trust level (base cell). Climbing only when "
        "trust has held above the next rung's need keeps the trust gap in the dissolution hazard (need minus "
        "mean trust on the rung played) at 0, so the hazard reads failures, payoffs and leadership, whatever the "
        "initial trust: **built in**. Forcing puts partnerships on a rung whose need their trust does not meet, "
        "which is what makes their survival depend on trust.")
    n["pairing"] = pairing_gain(n["cells"], robust_runs)
    last = robust_rounds[robust_rounds["round"] == robust_rounds["round"].max()]
    n["robust_final"] = last
    n["robust_replicates_text"] = (f"{int(last['replicates'].min()):,} to {int(last['replicates'].max()):,} "
                                   f"(median {int(last['replicates'].median()):,})")
    n["pairing_text"] = pairing_text(n["pairing"], crn)
    n["replicates_text"] = replicates_text(n["pilot"], robust_rounds, len(robust_runs), len(settings))
    n["robustness"] = robustness_table(robust_runs, settings)
    n["conditional_text"] = conditional_text(n["robustness"])
    n["early"] = early_benefit()
    n["dissolution"] = dissolution_paired(robust_runs)
    n["rungs"] = rungs(res)
    n["after_grant"] = after_grant(res)
    n["calibration"] = calibration()
    n["qualitative"] = qualitative()
    n["qual_runs"] = 3000
    sens, n["floor"] = sensitivity(sob)
    n["noise"] = {(r.outcome, r.strategy): r.noise_share for r in sens.noise.itertuples()}
    has_dummy = "dummy" in set(sens.indices["factor"])
    n["floor_text"] = ("The noise floor is the higher of the intervals of two do-nothing factors: the sweep's "
                       "`dummy` and the placebo `fixed_level` (read only by the `fixed` strategy)." if has_dummy else
                       "The noise floor is the index of a placebo factor, `fixed_level`, which only the `fixed` "
                       "strategy reads (the sweep layer's own `dummy` factor is not in this version).")
    g = n["cells"]
    g = g[(g["outcome"] == "cumulative_benefit") & (g["b"] == "funder_patient")]
    n["mde"] = float(2.8 * g["se"].median())
    n["sobol_text"] = sobol_text(n["floor"])
    print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)
    timings["statistics"] = time.perf_counter() - t0 - sum(timings.values())

    print("4/5 tables and figures", flush=True)
    tables = OUT / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for name in ("crossover", "cells", "robustness", "early", "dissolution", "rungs", "after_grant",
                 "qualitative", "pairing"):
        write_bytes_atomic(tables / f"{name}.csv", n[name].to_csv(index=False).encode())
    write_bytes_atomic(tables / "pilot.csv", n["pilot"]["table"].to_csv(index=False).encode())
    write_bytes_atomic(tables / "robustness_rounds.csv", robust_rounds.to_csv(index=False).encode())
    write_bytes_atomic(tables / "sobol.csv", sens.indices.to_csv(index=False).encode())
    write_bytes_atomic(tables / "sobol_floor.csv", n["floor"].to_csv(index=False).encode())
    figs = OUT / "figures"
    # the README shows it under this name
    save_figure(plot_differences(res, n["same"]["deadline_groups"]), figs / "crossover")
    save_figure(plot_robustness(n["robustness"]), figs / "robustness")
    save_figure(plot_early(n["early"]), figs / "early_benefit")
    save_figure(plot_rungs(res), figs / "rungs")
    save_figure(plot_after_grant(n["after_grant"]), figs / "survival_after_grant")
    for trust in (0.3, 0.85):
        where = {"initial_trust": trust, **BASE_CELL}
        save_figure(A.plot_survival(res, where=where), figs / f"survival_trust_{trust:g}")
        save_figure(A.plot_level_occupancy(res, where=where), figs / f"occupancy_trust_{trust:g}")
        save_figure(A.plot_trajectories(res, "mean_trust", where=where), figs / f"trust_trust_{trust:g}")
    for outcome in ("dissolved", "cumulative_benefit"):
        save_figure(plot_sensitivity_floor(sob, outcome, sens, n["floor"]), figs / f"sensitivity_{outcome}")

    timings["tables and figures"] = time.perf_counter() - t0 - sum(timings.values())
    print("5/5 report and findings", flush=True)
    A.write_report(res, OUT / "report.html", n_resamples=1000, sensitivity=None)
    timings["report"] = time.perf_counter() - t0 - sum(timings.values())
    n["elapsed"] = time.perf_counter() - t0
    n["reuse_text"] = "" if fresh else ", reusing some of the runs of an earlier run (a fresh run takes longer)"
    n["load"] = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    write_bytes_atomic(OUT / "findings.md", findings_text(n).encode())
    write_json_atomic(OUT / "manifest.json", {
        "study": "headline",
        "started": started,
        "finished": now_iso(),
        "elapsed_seconds": round(time.perf_counter() - t0, 1),
        "load_average": n["load"],
        "sweeps": {name: {k: r.manifest.get(k) for k in ("spec_hash", "root_seed", "n_runs", "model_version", "crn")}
                   for name, r in (("headline", res), ("practices-sobol", sob))},
        "robustness": {"settings": [{"name": s.name, "change": dict(s.change)} for s in settings],
                       "precision": ROBUST_PRECISION.to_dict(), "root_seed": ROBUST_SEED, "runs": len(robust_runs),
                       "replicates": {r.setting: int(r.replicates) for r in last.itertuples()},
                       "rounds": int(robust_rounds["round"].max()) + 1},
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "parameters": sim.Params().to_dict(),
        **provenance(),
    })
    print(f"wrote {OUT}/findings.md, report.html, figures/, tables/ "
          f"in {time.perf_counter() - t0:.0f} s (load {n['load']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
