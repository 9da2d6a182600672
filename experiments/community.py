"""The community study (issue 16): mandate consortia now, fund what grew, stage the money, or do nothing?

``make run`` runs this script after the headline study. With a fixed budget over ten years (120 months), a
funder can mandate consortia (``mandate``: it assembles them from applicants, whether or not they know each
other, at collaboration from day one), fund partnerships that formed on their own (``patient``), stage its money
(``staged``: networking money first, collaboration money for those that climbed) or do nothing (``none``). The
script

1. runs the design of ``experiments/community.toml`` in process with :func:`sim.simulate_community`, in blocks
   of replicates (each block one memory-bounded batch) on a small process pool: every policy at every point of
   initial trust x prior networking (the region), every policy along three trust levels under one change at a
   time (cultural distance, gossip, budget, deadline, the organizations' capacity for partnerships), and two
   profile communities with every output kept and precision-driven replicates. Replicate r of every policy and
   point is the same community (common random numbers), so every comparison is paired;
2. computes paired differences with their intervals and tests, Holm-adjusted across the points, the region
   where mandating pays, the crossover of mandating along initial trust per setting, durable collaborations,
   the trust network left after the money stops, partnerships formed and died (competing risks), equity;
3. writes ``results/community/``: ``findings.md`` (each claim with its interval, test and a built-in or
   emergent tag), ``tables/*.csv``, ``figures/``, ``report.html`` and ``manifest.json``. The runs are cached in
   ``results/community/runs/`` (not committed) and reused while the design and the model are unchanged.

Usage, from the project's root: ``.venv/bin/python -m experiments.community [--workers N] [--replicates R]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import math
import os
import pickle
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim
from sim import analysis as A
from sim import community_rules
from sim.analysis.crossover import crossover, first_crossing
from sim.analysis.figures import draw_crossover
from sim.analysis.stats import cell_seed
from sim.analysis.style import LEVEL_COLORS, figure_bytes, figure_style, save_figure
from sim.community_params import CommunityParams, community_param_names, community_params
from sim.levels import LEVEL_NAMES, NEED, SECTORS
from sim.manifest import now_iso, provenance, write_bytes_atomic, write_json_atomic
from sim.palette import OKABE_ITO, SECTOR_COLOURS
from sim.rng import run_seeds

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "community.toml"
OUT = ROOT / "results" / "community"
ALPHA = 0.05
MANDATE = "mandate"
#: The HCAP-like arm: consortia required as under mandate, but the applicants choose their partners.
HCAP = "applicant_led"
POLICIES = ("none", "mandate", "patient", "staged", HCAP)
#: What mandating is compared with.
ALTERNATIVES = ("none", "patient", "staged")
POLICY_COLORS = {"none": OKABE_ITO["blue"], "mandate": OKABE_ITO["vermillion"], "patient": OKABE_ITO["bluish_green"],
                 "staged": OKABE_ITO["orange"], HCAP: OKABE_ITO["reddish_purple"]}
POLICY_LABELS = {"none": "none (no funder)", "mandate": "mandate (consortia now)",
                 "patient": "patient (fund what grew)", "staged": "staged (networking money first)",
                 HCAP: "applicant_led (consortia now, partners chosen)"}
#: What applicant_led is compared with (paired, across every point).
HCAP_AGAINST = ("mandate", "none", "patient", "staged")
OUTCOMES = {"cumulative_benefit": "ten-year benefit", "net_benefit": "ten-year net benefit"}
#: Per-run outcomes kept from every run.
SUMMARY = ("cumulative_benefit", "net_benefit", "durable", "n_formed", "n_ended", "n_awarded", "funder_spent",
           "final_mean_trust", "final_mean_trust_worked", *(f"final_ready_level_{k}" for k in range(1, 6)),
           "largest_component", "benefit_gini", "sector_benefit_min", "peak_partnerships", "full_months")
#: Series kept for the profile communities.
PROFILE_SERIES = ("cumulative_benefit", "partnerships", "partnerships_level_4", "partnerships_level_5",
                  "ready_level_4", "mean_trust_worked", "budget")
PARTNERSHIP_COLUMNS = ("seed", "partnership", "slot", "origin", "formed_step", "ended_step", "peak_level",
                       "final_level", "first_step_level_4", "awards", "grant_total", "cumulative_benefit")
ORG_COLUMNS = ("seed", "org", "sector", "payoff", "benefit_received", "memberships")
#: Parameters a policy does not read: its arms at points that differ only in these are one arm (run once).
#: ``tests/test_community_study.py`` checks each entry on real runs.
IGNORED = {"none": frozenset({"funder_budget", "grants_per_call", "deadline"}),
           "patient": frozenset({"deadline"}), "staged": frozenset({"deadline"}), "mandate": frozenset(),
           HCAP: frozenset()}

BUILT_IN = "built in"
EMERGENT = "emergent"


class DesignError(ValueError):
    """The study's TOML names an unknown field or a value out of range."""


# --- the design --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One change from the base community (empty: the base itself)."""

    name: str
    change: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Design:
    """The study's design, read from ``experiments/community.toml`` (see that file for the meaning of each field)."""

    name: str
    seed: int
    n_steps: int
    policies: tuple[str, ...]
    replicates: int
    block: int
    base: Mapping[str, Any]
    tie_trust_floor: float
    grid_trust: tuple[float, ...]
    grid_ties: tuple[float, ...]
    settings_trust: tuple[float, ...]
    settings: tuple[Setting, ...]
    profile_trust: tuple[float, ...]
    half_width: float
    max_replicates: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed, "n_steps": self.n_steps, "policies": list(self.policies),
                "replicates": self.replicates, "block": self.block, "base": dict(self.base),
                "tie_trust_floor": self.tie_trust_floor, "grid_trust": list(self.grid_trust),
                "grid_ties": list(self.grid_ties), "settings_trust": list(self.settings_trust),
                "settings": [{"name": s.name, **dict(s.change)} for s in self.settings],
                "profile_trust": list(self.profile_trust), "half_width": self.half_width,
                "max_replicates": self.max_replicates}


def _whole(v: Any, name: str, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise DesignError(f"{name} = {v!r} must be a whole number >= {low}")
    return v


def _levels(v: Any, name: str) -> tuple[float, ...]:
    if not isinstance(v, list) or not v or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
        raise DesignError(f"{name} = {v!r} must be a non-empty list of numbers")
    if any(not 0 <= x <= 1 for x in v):
        raise DesignError(f"{name} = {v!r}: every level must be in 0..1")
    return tuple(float(x) for x in v)


def load_design(path: str | Path = CONFIG, *, replicates: int | None = None) -> Design:
    """Read and check the study's TOML; ``replicates`` overrides its fixed replicates, the block size and the
    profile's cap (so there is no precision stage).

    Raises
    ------
    DesignError
        Naming the field and the allowed values.
    """
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    known = {"name", "seed", "n_steps", "policies", "replicates", "block", "base", "ties", "grid", "settings",
             "profile"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise DesignError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    policies = tuple(raw.get("policies", POLICIES))
    for p in policies:
        if p not in sim.policy_names():
            raise DesignError(f"policies: {p!r} is not a funding policy (known: {', '.join(sim.policy_names())})")
    if not set(POLICIES) <= set(policies):
        raise DesignError(f"policies must include {', '.join(POLICIES)}")
    reps = _whole(raw.get("replicates", 40) if replicates is None else replicates, "replicates", 2)
    block = _whole(raw.get("block", reps), "block", 2) if replicates is None else reps
    base = dict(raw.get("base", {}))
    names = set(community_param_names())
    settings = [Setting("base", {})]
    sraw = dict(raw.get("settings", {}))
    for ch in sraw.get("change", []):
        ch = dict(ch)
        name = ch.pop("name", None)
        if not isinstance(name, str) or not name:
            raise DesignError("settings.change: every change needs a name")
        settings.append(Setting(name, ch))
    for where, params in [("base", base)] + [(f"settings.change {s.name!r}", s.change) for s in settings]:
        for k in params:
            if k not in names:
                raise DesignError(f"{where}: {k!r} is not a parameter of the community model")
    grid = dict(raw.get("grid", {}))
    prof = dict(raw.get("profile", {}))
    ties = dict(raw.get("ties", {}))
    for table, allowed in ((grid, {"initial_trust", "prior_ties"}), (sraw, {"initial_trust", "change"}),
                           (prof, {"initial_trust", "half_width", "max_replicates"}), (ties, {"tie_trust_floor"})):
        name = {id(grid): "grid", id(sraw): "settings", id(prof): "profile", id(ties): "ties"}[id(table)]
        extra = sorted(set(table) - allowed)
        if extra:
            raise DesignError(f"{path}: unknown field {name}.{extra[0]!r} (known: {', '.join(sorted(allowed))})")
    floor = float(ties.get("tie_trust_floor", 0.5))
    if not 0 <= floor <= 1:
        raise DesignError(f"ties.tie_trust_floor = {floor!r} must be in 0..1")
    half = float(prof.get("half_width", 75.0))
    if not half > 0:
        raise DesignError(f"profile.half_width = {half!r} must be > 0")
    d = Design(name=str(raw.get("name", "community")), seed=_whole(raw.get("seed", 0), "seed", 0),
               n_steps=_whole(raw.get("n_steps", 120), "n_steps", 1), policies=policies, replicates=reps,
               block=block, base=base, tie_trust_floor=floor,
               grid_trust=_levels(grid.get("initial_trust"), "grid.initial_trust"),
               grid_ties=_levels(grid.get("prior_ties"), "grid.prior_ties"),
               settings_trust=_levels(sraw.get("initial_trust"), "settings.initial_trust"),
               settings=tuple(settings),
               profile_trust=_levels(prof.get("initial_trust"), "profile.initial_trust"),
               half_width=half,
               max_replicates=reps if replicates is not None else max(
                   reps, _whole(prof.get("max_replicates", reps), "profile.max_replicates", 2)))
    for p in design_points(d)[0]:  # every point's parameters pass the model's own checks
        community_params(1, point_params(d, p))
    return d


def point_params(d: Design, point: Mapping[str, Any]) -> dict[str, Any]:
    """The community parameters of a design point (its own values over the base), with the tie-trust rule."""
    p = {**dict(d.base), **dict(point)}
    p["tie_trust"] = max(d.tie_trust_floor, float(p.get("initial_trust", sim.Params().initial_trust)))
    p["n_steps"] = d.n_steps
    return p


def _key(point: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, float(v) if isinstance(v, (int, float)) else v) for k, v in point.items()))


def design_points(d: Design) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """The distinct points of the design and a table of the roles each plays.

    Returns
    -------
    points : list of dict
        Each point's own values (over the base), once.
    roles : pandas.DataFrame
        One row per (role, point): ``role`` (``grid``, ``setting`` or ``profile``), ``setting`` (the change's
        name; ``base`` for the grid and profile), ``initial_trust``, ``prior_ties`` and ``point`` (the index).
    """
    base_ties = float(d.base.get("prior_ties", CommunityParams().prior_ties))
    points: list[dict[str, Any]] = []
    index: dict[tuple, int] = {}
    rows = []

    def add(role: str, setting: str, values: dict[str, Any]) -> None:
        k = _key({**dict(d.base), **values})
        if k not in index:
            index[k] = len(points)
            points.append(values)
        rows.append({"role": role, "setting": setting, "initial_trust": float(values["initial_trust"]),
                     "prior_ties": float(values.get("prior_ties", base_ties)), "point": index[k]})

    for t in d.grid_trust:
        for ties in d.grid_ties:
            add("grid", "base", {"initial_trust": t, "prior_ties": ties})
    for s in d.settings:
        for t in d.settings_trust:
            add("setting", s.name, {"initial_trust": t, "prior_ties": base_ties, **dict(s.change)})
    for t in d.profile_trust:
        add("profile", "base", {"initial_trust": t, "prior_ties": base_ties})
    return points, pd.DataFrame(rows)


def _default(name: str) -> Any:
    """The model's default of a community or partnership parameter."""
    base = CommunityParams()
    return getattr(base, name) if hasattr(base, name) else sim.Params().to_dict()[name]


def arm_key(d: Design, point: Mapping[str, Any], policy: str) -> tuple:
    """The identity of an arm: the policy and the parameters it reads (see :data:`IGNORED`)."""
    p = point_params(d, point)
    ignored = IGNORED.get(policy, frozenset())
    base = CommunityParams()
    defaults = {**sim.Params().to_dict(), **{k: getattr(base, k) for k in community_param_names()
                                                if hasattr(base, k)}}
    kept = {k: v for k, v in p.items() if k not in ignored and defaults.get(k, object()) != v}
    return (policy, _key(kept))


# --- running ------------------------------------------------------------------------------------------------


#: Runs advanced together in one task (the engine's per-month cost is mostly per batch, so big batches are fast;
#: simulate_community splits a task into memory-bounded chunks itself).
TASK_RUNS = 600


def run_batch(task: tuple[list[dict[str, Any]], np.ndarray, bool]) -> dict[str, Any]:
    """One batch of runs, each with its own parameters and seed (any mix of arms; results do not depend on the mix:
    the engine is batch-invariant). ``profile``: every run is of one arm, and the series and tables are kept."""
    rows, seeds, profile = task
    names = sorted(set().union(*rows))
    fill = {k: _default(k) for k in names}
    params = {k: np.array([r.get(k, fill[k]) for r in rows], dtype=object if isinstance(fill[k], str) else None)
              for k in names}
    keep = list(PROFILE_SERIES) if profile else []
    r = sim.simulate_community(seeds=seeds, keep=keep, **params)
    out: dict[str, Any] = {"seed": r.summary["seed"].to_numpy(), "summary": {k: r.summary[k].to_numpy()
                                                                             for k in SUMMARY}}
    if profile:
        out["series"] = {k: r.series(k) for k in PROFILE_SERIES}
        out["partnerships"] = r.partnerships[list(PARTNERSHIP_COLUMNS)].copy()
        out["organizations"] = r.organizations[list(ORG_COLUMNS)].copy()
    return out


@dataclass
class RunData:
    """Everything the statistics read: one row per run of every arm, and the profile communities' extras."""

    runs: pd.DataFrame  # point, policy, replicate, seed, SUMMARY
    roles: pd.DataFrame
    points: list[dict[str, Any]]
    series: dict[tuple[int, str], dict[str, np.ndarray]]  # (point, policy) -> name -> (runs, months)
    partnerships: pd.DataFrame  # point, policy, replicate + PARTNERSHIP_COLUMNS
    organizations: pd.DataFrame
    n_runs_simulated: int
    stages: list[dict[str, Any]]
    seconds: float = math.nan  # how long simulating took when the runs were made
    load: str = ""  # the load average then


def _pool_map(fn: Any, tasks: list, workers: int) -> list:
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(fn, tasks))
    return [fn(t) for t in tasks]


def half_widths(runs: pd.DataFrame, point: int, outcome: str = "cumulative_benefit",
                policies: Sequence[str] | None = None) -> float:
    """The largest 95% half-width of a paired difference in ``outcome`` between two policies at ``point``
    (every policy present when ``policies`` is None)."""
    g = runs[runs["point"] == point].pivot(index="replicate", columns="policy", values=outcome)
    if policies is None:
        policies = [p for p in POLICIES if p in g.columns]
    worst = 0.0
    for i, a in enumerate(policies):
        for b in policies[i + 1:]:
            r = A.paired_difference(g[a].to_numpy(), g[b].to_numpy(), method="t")
            worst = max(worst, (r.high - r.low) / 2)
    return worst


@dataclass
class _Arm:
    params: dict[str, Any]
    uses: list[tuple[int, str]]  # (point, policy) pairs this arm answers for
    profile: bool
    replicates: int = 0
    summary: list[pd.DataFrame] = field(default_factory=list)
    series: list[dict[str, np.ndarray]] = field(default_factory=list)
    partnerships: list[pd.DataFrame] = field(default_factory=list)
    organizations: list[pd.DataFrame] = field(default_factory=list)


def _arms(d: Design, points: list[dict[str, Any]], profile_points: set[int]) -> dict[tuple, _Arm]:
    arms: dict[tuple, _Arm] = {}
    for i, pt in enumerate(points):
        for pol in d.policies:
            k = arm_key(d, pt, pol)
            if k not in arms:
                arms[k] = _Arm({**point_params(d, pt), "funder_policy": pol}, [], False)
            arms[k].uses.append((i, pol))
            arms[k].profile |= i in profile_points
    return arms


def _run_stage(d: Design, arms: dict[tuple, _Arm], upto: Mapping[tuple, int], workers: int) -> int:
    """Bring each arm of ``upto`` to that many replicates; returns the runs simulated."""
    tasks, owners = [], []
    plain = [(k, r) for k, n in upto.items() if not arms[k].profile for r in range(arms[k].replicates, n)]
    for lo in range(0, len(plain), TASK_RUNS):
        part = plain[lo:lo + TASK_RUNS]
        seeds = np.concatenate([run_seeds(d.seed, 1, start=r) for _, r in part])
        tasks.append(([arms[k].params for k, _ in part], seeds, False))
        owners.append(part)
    for k, n in upto.items():  # a profile arm's tables carry seeds only, so it runs in batches of its own
        if arms[k].profile and n > arms[k].replicates:
            part = [(k, r) for r in range(arms[k].replicates, n)]
            tasks.append(([arms[k].params] * len(part), run_seeds(d.seed, len(part), start=part[0][1]), True))
            owners.append(part)
    order = sorted(range(len(tasks)), key=lambda i: -len(owners[i]))  # longest first: the pool ends together
    outs = dict(zip(order, _pool_map(run_batch, [tasks[i] for i in order], workers), strict=True))
    n_sim = 0
    for i, part in enumerate(owners):
        o = outs[i]
        f = pd.DataFrame({"replicate": [r for _, r in part], "seed": o["seed"], **o["summary"]})
        keys = [k for k, _ in part]
        for k in dict.fromkeys(keys):
            mask = np.array([kk == k for kk in keys])
            arms[k].summary.append(f[mask])
            if "series" in o:
                reps = dict(zip(o["seed"].tolist(), f["replicate"].tolist(), strict=True))
                arms[k].series.append(o["series"])
                for frame, into in ((o["partnerships"], arms[k].partnerships),
                                    (o["organizations"], arms[k].organizations)):
                    into.append(frame.assign(replicate=frame["seed"].map(reps).astype(int)))
        n_sim += len(part)
    for k, n in upto.items():
        arms[k].replicates = max(arms[k].replicates, n)
    return n_sim


def _runs_frame(arms: dict[tuple, _Arm]) -> pd.DataFrame:
    frames = []
    for arm in arms.values():
        if not arm.summary:
            continue
        base = pd.concat(arm.summary, ignore_index=True)
        for i, pol in arm.uses:
            frames.append(base.assign(point=i, policy=pol))
    cols = ["point", "policy", "replicate", "seed", *SUMMARY]
    return pd.concat(frames, ignore_index=True)[cols].sort_values(["point", "policy", "replicate"], ignore_index=True)


def run_design(d: Design, workers: int, progress: bool = True) -> RunData:
    """Run every arm of the design: the fixed replicates, then the profile points' precision-driven blocks."""
    points, roles = design_points(d)
    profile_points = set(roles.loc[roles["role"] == "profile", "point"])
    arms = _arms(d, points, profile_points)
    t0 = time.perf_counter()
    n_sim = _run_stage(d, arms, dict.fromkeys(arms, d.replicates), workers)
    stages = [{"stage": 1, "arms": len(arms), "replicates": d.replicates, "runs": n_sim,
               "seconds": round(time.perf_counter() - t0, 1)}]
    if progress:
        print(f"    {len(arms)} arms x {d.replicates} replicates ({n_sim:,} runs) in {time.perf_counter() - t0:.0f} s",
              flush=True)
    while True:
        runs = _runs_frame(arms)
        grow = [j for j in sorted(profile_points) if half_widths(runs, j, policies=d.policies) > d.half_width
                and arms[arm_key(d, points[j], "none")].replicates < d.max_replicates]
        if not grow:
            break
        keys = list(dict.fromkeys(arm_key(d, points[j], pol) for j in grow for pol in d.policies))
        upto = {k: min(arms[k].replicates + d.block, d.max_replicates) for k in keys}
        ran = _run_stage(d, arms, upto, workers)
        n_sim += ran
        stages.append({"stage": len(stages) + 1, "arms": len(keys), "replicates": max(upto.values()), "runs": ran,
                       "seconds": round(time.perf_counter() - t0, 1)})
        if progress:
            print(f"    precision stage {len(stages)}: {len(grow)} profile point(s) to {max(upto.values())} "
                  f"replicates ({time.perf_counter() - t0:.0f} s)", flush=True)
    runs = _runs_frame(arms)
    series: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    parts, orgs = [], []
    for arm in arms.values():
        if not arm.profile:
            continue
        for i, pol in arm.uses:
            if i not in profile_points:
                continue
            series[i, pol] = {n: np.concatenate([s[n] for s in arm.series]) for n in PROFILE_SERIES}
            parts += [f.assign(point=i, policy=pol) for f in arm.partnerships]
            orgs += [f.assign(point=i, policy=pol) for f in arm.organizations]
    return RunData(runs, roles, points, series, pd.concat(parts, ignore_index=True),
                   pd.concat(orgs, ignore_index=True), n_sim, stages, round(time.perf_counter() - t0, 1),
                   ", ".join(f"{v:.1f}" for v in os.getloadavg()))


def cached_run(d: Design, workers: int) -> tuple[RunData, bool]:
    """:func:`run_design`, reused from ``runs/`` while the design, the model version and the defaults are unchanged."""
    key = hashlib.sha256(json.dumps({"design": d.to_dict(), "model": getattr(sim, "MODEL_VERSION", "?"),
                                     "params": sim.Params().to_dict(), "summary": SUMMARY,
                                     "series": PROFILE_SERIES, "ignored": {k: sorted(v) for k, v in IGNORED.items()}},
                                    sort_keys=True, default=str).encode()).hexdigest()
    path, stamp = OUT / "runs" / "runs.pkl", OUT / "runs" / "runs.key"
    if path.exists() and stamp.exists() and stamp.read_text() == key:
        with open(path, "rb") as f:
            return pickle.load(f), True
    data = run_design(d, workers)
    write_bytes_atomic(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    write_bytes_atomic(stamp, key.encode())
    return data, False


# --- statistics ---------------------------------------------------------------------------------------------


def paired(runs: pd.DataFrame, point: int, a: str, b: str, outcome: str) -> tuple[np.ndarray, np.ndarray]:
    """The values of ``outcome`` of policies ``a`` and ``b`` at ``point``, matched by replicate (same seed)."""
    g = runs[runs["point"] == point]
    x = g[g["policy"] == a][["replicate", "seed", outcome]]
    y = g[g["policy"] == b][["replicate", "seed", outcome]]
    m = x.merge(y, on="replicate", suffixes=("_a", "_b"), validate="one_to_one")
    if not (m["seed_a"] == m["seed_b"]).all():
        raise ValueError(f"point {point}: replicates of {a} and {b} do not share seeds (common random numbers broken)")
    return m[f"{outcome}_a"].to_numpy(dtype=float), m[f"{outcome}_b"].to_numpy(dtype=float)


def comparison_table(runs: pd.DataFrame, points: Sequence[int], pairs: Sequence[tuple[str, str]],
                     outcomes: Sequence[str], *, family: Sequence[str] = ("a", "b", "outcome"),
                     method: str = "holm") -> pd.DataFrame:
    """Paired t per point, pair of policies and outcome; p values adjusted across the points of each family."""
    rows = []
    for j in points:
        for a, b in pairs:
            for outcome in outcomes:
                x, y = paired(runs, j, a, b, outcome)
                r = A.paired_difference(x, y, method="t")
                rows.append({"point": j, "a": a, "b": b, "outcome": outcome, "n_pairs": r.n, "mean_a": r.mean_x,
                             "mean_b": r.mean_y, "difference": r.estimate, "low": r.low, "high": r.high,
                             "se": r.se, "se_unpaired": r.se_unpaired, "p_value": r.p_value})
    return A.adjust_table(pd.DataFrame(rows), method, family=list(family))


def region(table: pd.DataFrame, alternatives: Sequence[str] = ALTERNATIVES) -> pd.DataFrame:
    """Where mandating pays: per point and outcome, from the adjusted paired tests of mandate minus each alternative.

    ``pays``: mandating is significantly above every alternative; ``costs``: some alternative is significantly
    above it; ``undecided`` otherwise. ``best_alternative`` is the alternative with the highest mean.
    """
    rows = []
    t = table[(table["a"] == MANDATE) & table["b"].isin(alternatives)]
    for (j, outcome), g in t.groupby(["point", "outcome"], sort=True):
        if set(g["b"]) != set(alternatives):
            raise ValueError(f"point {j}, {outcome}: missing comparisons (have {sorted(g['b'])})")
        above = g["significant_adjusted"] & (g["difference"] > 0)
        below = g["significant_adjusted"] & (g["difference"] < 0)
        label = "pays" if above.all() else "costs" if below.any() else "undecided"
        worst = g.loc[g["difference"].idxmin()]
        rows.append({"point": j, "outcome": outcome, "label": label, "best_alternative": worst["b"],
                     "difference_to_best": worst["difference"], "low": worst["low"], "high": worst["high"],
                     "p_adjusted": worst["p_adjusted"]})
    return pd.DataFrame(rows)


def gini_per_run(table: pd.DataFrame, value: str, by: Sequence[str] = ("point", "policy", "replicate")) -> pd.Series:
    """Gini coefficient of ``value`` over the organizations of each run (``sim.community_rules.gini``)."""
    return table.groupby(list(by))[value].apply(lambda v: float(community_rules.gini(v.to_numpy(dtype=float))))


def mean_ci(x: np.ndarray, seed: Any = 0, n_resamples: int = 2000) -> tuple[float, float, float]:
    """Mean and its 95% bootstrap (BCa) interval; NaNs dropped."""
    ci = A.bootstrap_ci(np.asarray(x, dtype=float), "mean", n_resamples=n_resamples, seed=seed)
    return ci.estimate, ci.low, ci.high


def crossover_rows(runs: pd.DataFrame, roles: pd.DataFrame, seed: int, n_resamples: int = 1000) -> pd.DataFrame:
    """Per prior-ties row of the grid and per setting: the initial trust from which mandating beats each
    alternative (interpolated zero of the mean paired difference; replicates resampled jointly across levels)."""
    lines = []
    grid = roles[roles["role"] == "grid"]
    for ties, g in grid.groupby("prior_ties"):
        lines.append((f"prior ties {ties:g}", "grid", g))
    for name, g in roles[roles["role"] == "setting"].groupby("setting", sort=False):
        lines.append((name, "setting", g))
    rows = []
    for name, kind, g in lines:
        for b in ALTERNATIVES:
            for outcome in OUTCOMES:
                xs, ds, rs = [], [], []
                common = None
                per = {}
                for r in g.itertuples():
                    x, y = paired(runs, r.point, MANDATE, b, outcome)
                    per[r.initial_trust] = x - y
                    common = len(x) if common is None else min(common, len(x))
                for t, dd in per.items():  # the replicates every level has, so each resample keeps whole communities
                    xs.append(np.full(common, t))
                    ds.append(dd[:common])
                    rs.append(np.arange(common))
                c = crossover(np.concatenate(xs), np.concatenate(ds), replicate=np.concatenate(rs),
                                n_resamples=n_resamples, seed=cell_seed(seed, name, b, outcome))
                rows.append({"line": name, "kind": kind, "b": b, "outcome": outcome, "status": c.status,
                             "crossing": c.estimate, "low": c.low, "high": c.high, "levels": c.levels,
                             "x_min": c.x_min, "x_max": c.x_max, "replicates": common,
                             "share_never": c.share_never, "share_always": c.share_always})
    return pd.DataFrame(rows)


def _line_differences(runs: pd.DataFrame, g: pd.DataFrame, b: str, outcome: str) -> dict[float, np.ndarray]:
    """Per trust level of one line (a grid row or a setting): mandate minus ``b``, one value per replicate."""
    return {float(r.initial_trust): np.subtract(*paired(runs, r.point, MANDATE, b, outcome)) for r in g.itertuples()}


def shift_of_crossing(base: Mapping[float, np.ndarray], other: Mapping[float, np.ndarray], *,
                      n_resamples: int = 1000, seed: Any = 0) -> tuple[float, float, float, float]:
    """How far ``other``'s crossover lies from ``base``'s along x, with a paired bootstrap interval.

    Both map the same x levels to per-replicate differences of the same communities (common random numbers), so
    the replicates are resampled jointly across the levels and the two lines. A sample without a crossing is
    placed beyond the range (no positive level) or below it (positive everywhere); samples where both lines lie
    on the same side outside the range have no defined shift and are dropped (their share is returned).

    Returns
    -------
    estimate, low, high, p_value, share_undefined : float
        ``p_value``: twice the smaller bootstrap share on either side of 0 (at least ``1 / n_resamples``).
    """
    levels = np.array(sorted(base), dtype=float)
    if sorted(other) != list(levels):
        raise ValueError("the two lines must have the same levels")
    n = min(min(len(v) for v in base.values()), min(len(v) for v in other.values()))
    a = np.stack([np.asarray(base[x])[:n] for x in levels], axis=1)
    c = np.stack([np.asarray(other[x])[:n] for x in levels], axis=1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))

    def where(curves: np.ndarray) -> np.ndarray:
        x, _, _ = first_crossing(levels, curves)
        return np.where(np.isnan(x), np.where((curves > 0).all(axis=1), -np.inf, np.inf), x)

    est = float(where(c.mean(axis=0)[None])[0] - where(a.mean(axis=0)[None])[0])
    with np.errstate(invalid="ignore"):
        boot = where(c[idx].mean(axis=1)) - where(a[idx].mean(axis=1))
    ok = ~np.isnan(boot)
    if not ok.any():
        return est, np.nan, np.nan, np.nan, 1.0
    low, high = np.quantile(boot[ok], [0.025, 0.975], method="inverted_cdf")
    b = boot[ok]
    p = min(1.0, max(2 * min(float((b <= 0).mean()), float((b >= 0).mean())), 1 / n_resamples))
    return est, float(low), float(high), p, float(1 - ok.mean())


def crossover_shifts(runs: pd.DataFrame, roles: pd.DataFrame, seed: int, n_resamples: int = 10000) -> pd.DataFrame:
    """Per setting, alternative and outcome: its crossover minus the base's, on the same communities; the
    bootstrap p values Holm-adjusted across the settings and alternatives of each outcome."""
    sets = roles[roles["role"] == "setting"]
    base = sets[sets["setting"] == "base"]
    rows = []
    for name, g in sets.groupby("setting", sort=False):
        if name == "base":
            continue
        for b in ALTERNATIVES:
            for outcome in OUTCOMES:
                est, lo, hi, p, und = shift_of_crossing(_line_differences(runs, base, b, outcome),
                                                     _line_differences(runs, g, b, outcome),
                                                     n_resamples=n_resamples, seed=cell_seed(seed, "shift", name, b,
                                                                                             outcome))
                rows.append({"setting": name, "b": b, "outcome": outcome, "shift": est, "low": lo, "high": hi,
                             "p_value": p, "share_undefined": und})
    t = A.adjust_table(pd.DataFrame(rows), "holm", family="outcome")
    return t.assign(moves=t["significant_adjusted"])


def profile_table(runs: pd.DataFrame, point: int, outcomes: Sequence[str], seed: int) -> pd.DataFrame:
    """Per policy: the mean of each outcome with its bootstrap CI, and the paired difference from ``none``."""
    rows = []
    for outcome in outcomes:
        for pol in POLICIES:
            v = runs[(runs["point"] == point) & (runs["policy"] == pol)][outcome].to_numpy(dtype=float)
            m, lo, hi = mean_ci(v, seed=cell_seed(seed, point, pol, outcome))
            row = {"point": point, "outcome": outcome, "policy": pol, "n": int(np.isfinite(v).sum()), "mean": m,
                   "low": lo, "high": hi}
            if pol != "none":
                x, y = paired(runs, point, pol, "none", outcome)
                r = A.paired_difference(x, y, method="t")
                row.update({"vs_none": r.estimate, "vs_none_low": r.low, "vs_none_high": r.high,
                            "p_value": r.p_value})
            rows.append(row)
    t = pd.DataFrame(rows)
    tested = t[t["policy"] != "none"]
    adj = A.adjust_table(tested, "holm", family=None)
    return t.merge(adj[["outcome", "policy", "p_adjusted", "significant_adjusted", "n_tests"]],
                   on=["outcome", "policy"], how="left")


def return_on_money(runs: pd.DataFrame, point: int, seed: int, n_resamples: int = 2000) -> pd.DataFrame:
    """Benefit gained over ``none`` per unit the funder spent (ratio of means; paired bootstrap of communities)."""
    rows = []
    rng = cell_seed(seed, "return", point)
    for pol in POLICIES[1:]:
        x, y = paired(runs, point, pol, "none", "cumulative_benefit")
        s, _ = paired(runs, point, pol, "none", "funder_spent")
        xn, yn = paired(runs, point, pol, "none", "net_benefit")
        est = (x.mean() - y.mean()) / s.mean() if s.mean() > 0 else np.nan
        idx = rng.integers(0, len(x), size=(n_resamples, len(x)))
        sb = s[idx].mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (x[idx].mean(axis=1) - y[idx].mean(axis=1)) / sb
        lo, hi = np.nanquantile(boot, [0.025, 0.975]) if np.isfinite(boot).any() else (np.nan, np.nan)
        rows.append({"point": point, "policy": pol, "spent": s.mean(), "gain": x.mean() - y.mean(),
                     "net_gain": xn.mean() - yn.mean(), "per_unit": est, "low": lo, "high": hi})
    return pd.DataFrame(rows)


def _cvm(conv: pd.DataFrame, pt: int, pol: str) -> float:
    return float(conv[(conv["point"] == pt) & (conv["policy"] == pol)]["per_community"].iloc[0])


def self_formed(data: RunData, seed: int = 0) -> pd.DataFrame:
    """Partnerships the organizations convened themselves, per community, at the profile points (mean, BCa CI)."""
    parts = data.partnerships
    rows = []
    for (pt, pol), g in data.runs[data.runs["point"].isin(parts["point"].unique())].groupby(["point", "policy"]):
        own = parts[(parts["point"] == pt) & (parts["policy"] == pol) & (parts["origin"] == "convened")]
        per = own.groupby("replicate").size().reindex(g["replicate"], fill_value=0).to_numpy(dtype=float)
        m, lo, hi = mean_ci(per, seed=cell_seed(seed, "self", pt, pol))
        rows.append({"point": pt, "policy": pol, "per_community": m, "low": lo, "high": hi, "communities": len(per)})
    return pd.DataFrame(rows)


def partnership_events(parts: pd.DataFrame, n_steps: int, rung: int = 4) -> pd.DataFrame:
    """Per partnership: months from formation to its first step at ``rung`` (event 1) or to dissolution first
    (event 2), else censored (0) at the end of the run."""
    f = parts["formed_step"].to_numpy(dtype=float)
    reach = parts[f"first_step_level_{rung}"].to_numpy(dtype=float)
    end = parts["ended_step"].to_numpy(dtype=float)
    reached = ~np.isnan(reach) & (np.isnan(end) | (reach <= end))
    died = ~reached & ~np.isnan(end)
    time_ = np.where(reached, reach, np.where(died, end, n_steps)) - f
    event = np.where(reached, 1, np.where(died, 2, 0))
    return parts.assign(time=np.maximum(time_, 0.0), event=event)


def consortium_trust(d: Design, point: Mapping[str, Any], replicates: int,
                     policies: Sequence[str] = (MANDATE, HCAP)) -> pd.DataFrame:
    """Why partner choice does or does not help: at each award of a new consortium, the lead's trust in its
    partners and the share of member pairs (both directions) whose trust meets collaboration's need.

    Runs the point's first ``replicates`` communities again (the same seeds, so the same communities as the
    study's arms) under each policy wrapped in a recorder (registered for the run only). Returns one row per
    consortium: policy, step, lead_trust (mean T[lead, j]), pair_trust (mean over ordered pairs),
    ready (share of ordered pairs with T >= NEED[4]), worked (share of pairs who had worked together or
    networked before).
    """
    from sim import funder

    rows: list[dict[str, Any]] = []
    seeds = run_seeds(d.seed, replicates)
    for pol in policies:
        name = f"recorded_{pol}"
        rule = funder.get_policy(pol).rule

        def recorder(call: Any, rule: Any = rule, pol: str = pol) -> Any:
            awards = rule(call)
            for i, k in zip(*np.nonzero((awards.new_members >= 0).any(axis=-1)), strict=True):  # row, consortium
                m = awards.new_members[i, k]
                m = m[m >= 0]
                t = call.trust[i][np.ix_(m, m)]
                off = ~np.eye(len(m), dtype=bool)
                rows.append({"policy": pol, "step": call.step,
                             "lead_trust": float(t[0, 1:].mean()), "pair_trust": float(t[off].mean()),
                             "ready": float((t[off] >= NEED[4]).mean()),
                             "worked": float(call.acquainted[i][np.ix_(m, m)][off].mean())})
            return awards

        funder.register_policy(name)(recorder)
        try:
            sim.simulate_community(seeds=seeds, keep=[], **{**point_params(d, point), "funder_policy": name,
                                                            "n_steps": d.n_steps})
        finally:
            funder.unregister_policy(name)
    return pd.DataFrame(rows, columns=["policy", "step", "lead_trust", "pair_trust", "ready", "worked"])


# --- figures ------------------------------------------------------------------------------------------------


def _label(point: Mapping[str, Any]) -> str:
    return f"initial trust {point['initial_trust']:g}"


def network_state(parts: pd.DataFrame, members: pd.DataFrame, level: np.ndarray | None, month: int,
                  ) -> list[tuple[int, int, int]]:
    """Pairs sharing a partnership alive after ``month`` and the rung it played then: (i, j, level)."""
    alive = parts[(parts["formed_step"] <= month) & ~(parts["ended_step"] <= month)]
    edges: dict[tuple[int, int], int] = {}
    for p in alive.itertuples():
        m = members[(members["partnership"] == p.partnership) & (members["joined_step"] <= month)
                    & ~(members["left_step"] <= month)]["org"].to_numpy()
        lvl = int(level[p.slot, month - 1]) if level is not None and month >= 1 else int(p.peak_level)
        for a in range(len(m)):
            for b in range(a + 1, len(m)):
                k = (int(min(m[a], m[b])), int(max(m[a], m[b])))
                edges[k] = max(edges.get(k, 0), lvl)
    return [(i, j, lv) for (i, j), lv in sorted(edges.items())]


def worked_pairs(members: pd.DataFrame, n: int, month: int) -> np.ndarray:
    """(n, n) bool: pairs who were members of one partnership at the same time by ``month``."""
    out = np.zeros((n, n), dtype=bool)
    m = members[members["joined_step"] <= month]
    for _, g in m.groupby("partnership"):
        org = g["org"].to_numpy()
        start = g["joined_step"].to_numpy(dtype=float)
        end = np.minimum(g["left_step"].fillna(np.inf).to_numpy(dtype=float), month + 1)
        overlap = np.maximum.outer(start, start) < np.minimum.outer(end, end)
        np.fill_diagonal(overlap, False)
        a, b = np.nonzero(overlap)
        out[org[a], org[b]] = True
    return out


def typical_replicate(runs: pd.DataFrame, point: int) -> int:
    """The replicate whose benefit, averaged over the policies, is nearest the median of that average."""
    g = runs[runs["point"] == point].groupby("replicate")["cumulative_benefit"].mean()
    return int((g - g.median()).abs().idxmin())


def plot_network(params: Mapping[str, Any], seed: int, replicate: int, n_steps: int,
                 months: Sequence[int] = (0, 36, 120)) -> Any:
    """One community (the same seed) under each policy at ``months``: organizations by sector, partnership ties by
    the rung played, and the pairs who have worked together (or networked before) in grey."""
    import matplotlib.figure
    from matplotlib.lines import Line2D

    from sim.community import CommunityBatch

    run_seed = run_seeds(seed, 1, start=replicate)
    cb = CommunityBatch.start(run_seed, community_params(1, {**params, "n_steps": n_steps}))
    n = int(cb.params["n_community"][0])
    sector = cb.sector[0, :n]
    prior = cb.acquainted[0, :n, :n]
    order = np.lexsort((np.arange(n), sector))
    angle = np.empty(n)
    angle[order] = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pos = np.c_[np.cos(angle), np.sin(angle)]
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(11, 2.75 * len(POLICIES) + 3.2), layout="constrained")
        axes = fig.subplots(len(POLICIES), len(months), squeeze=False)
        for i, pol in enumerate(POLICIES):
            r = sim.simulate_community(seeds=run_seed, funder_policy=pol, keep=["ready_level_4"],
                                       keep_slot_series=True, **params)
            level = r.slot_series["level"][0]
            parts, mem = r.partnerships, r.memberships
            for j, month in enumerate(months):
                ax = axes[i][j]
                worked = prior | worked_pairs(mem, n, month)
                a_, b_ = np.nonzero(np.triu(worked, 1))
                for a, b in zip(a_, b_, strict=True):
                    ax.plot(pos[[a, b], 0], pos[[a, b], 1], color="0.82", lw=0.6, zorder=1)
                edges = network_state(parts, mem, level, month) if month >= 1 else []
                for a, b, lv in edges:
                    ax.plot(pos[[a, b], 0], pos[[a, b], 1], color=LEVEL_COLORS[max(lv, 0)], lw=2.0, zorder=2)
                ax.scatter(pos[:, 0], pos[:, 1], s=46, c=[SECTOR_COLOURS[SECTORS[s]] for s in sector],
                           edgecolors="0.2", linewidths=0.6, zorder=3)
                alive = parts[(parts["formed_step"] <= month) & ~(parts["ended_step"] <= month)]
                ax.set_title(f"{pol}, month {month}: {len(alive)} alive,\n"
                             f"{int((parts['ended_step'] <= month).sum())} ended so far", fontsize=9)
                ax.set_xlim(-1.15, 1.15)
                ax.set_ylim(-1.15, 1.15)
                ax.set_aspect("equal")
                ax.axis("off")
        handles = [Line2D([], [], marker="o", ls="", color=SECTOR_COLOURS[s], markeredgecolor="0.2", label=s)
                   for s in SECTORS]
        handles += [Line2D([], [], color=LEVEL_COLORS[k], lw=2.2, label=f"partners at {LEVEL_NAMES[k]}")
                    for k in range(1, 6)]
        handles += [Line2D([], [], color="0.8", lw=1, label="worked together before (or prior tie)")]
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False, fontsize=8.5)
        fig.suptitle(f"One community (the same seed) under each policy: {_label(params)}, prior ties "
                     f"{params['prior_ties']:g}\n(the replicate nearest the median benefit; "
                     "organizations grouped by sector around the circle)", fontsize=11)
    return fig


def _band(ax: Any, x: np.ndarray, y: np.ndarray, color: str, label: str) -> None:
    m = np.nanmean(y, axis=0)
    n = np.sum(np.isfinite(y), axis=0)
    se = np.nanstd(y, axis=0, ddof=1) / np.sqrt(np.maximum(n, 1))
    ax.fill_between(x, m - 1.96 * se, m + 1.96 * se, color=color, alpha=0.2, lw=0)
    ax.plot(x, m, color=color, lw=1.6, label=label)


def plot_curves(data: RunData, profile: Sequence[int]):
    """Community series over the ten years per policy at the profile points: mean and 95% band."""
    import matplotlib.figure

    rows = [("cumulative_benefit", "cumulative benefit\n(benefit units)"),
            ("collab", "partnerships at\ncollaboration or above"),
            ("ready_level_4", "collaborative capacity:\nshare of pairs ready for level 4"),
            ("mean_trust_worked", "mean trust among pairs\nwho have worked together")]
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(11, 11.5), layout="constrained")
        axes = fig.subplots(len(rows), len(profile), squeeze=False, sharex=True)
        for j, pt in enumerate(profile):
            for i, (name, ylabel) in enumerate(rows):
                ax = axes[i][j]
                for pol in POLICIES:
                    s = data.series[pt, pol]
                    y = s["partnerships_level_4"] + s["partnerships_level_5"] if name == "collab" else s[name]
                    x = np.arange(1, y.shape[1] + 1)
                    _band(ax, x, y.astype(float), POLICY_COLORS[pol], POLICY_LABELS[pol])
                ax.grid(alpha=0.3)
                if j == 0:
                    ax.set_ylabel(ylabel)
                if i == 0:
                    n = data.series[pt, "none"]["cumulative_benefit"].shape[0]
                    ax.set_title(f"{_label(data.points[pt])} ({n} communities a policy)", fontsize=10)
                if i == len(rows) - 1:
                    ax.set_xlabel("month")
                for m in (37, 61):
                    ax.axvline(m, color="0.6", lw=0.8, ls=":")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, fontsize=9)
        fig.suptitle("Ten years under each policy (mean, 95% band; dotted: months 37 and 61, when the first and "
                     "the last calls' 36-month grants end)", fontsize=11)
    return fig


def plot_region(table: pd.DataFrame, reg: pd.DataFrame, roles: pd.DataFrame, outcome: str = "cumulative_benefit"):
    """Mandate minus each alternative over initial trust x prior ties (paired means), with the region labels."""
    import matplotlib.figure
    from matplotlib.colors import TwoSlopeNorm

    grid = roles[roles["role"] == "grid"]
    trust = sorted(grid["initial_trust"].unique())
    ties = sorted(grid["prior_ties"].unique())
    t = table[(table["a"] == MANDATE) & (table["outcome"] == outcome)]
    lim = float(np.nanmax(np.abs(t[t["point"].isin(grid["point"])]["difference"])))
    norm = TwoSlopeNorm(vcenter=0, vmin=-lim, vmax=lim)
    lab = reg[reg["outcome"] == outcome].set_index("point")["label"]
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(13, 4.9), layout="constrained")
        axes = fig.subplots(1, len(ALTERNATIVES) + 1, squeeze=False)[0]
        for ax, b in zip(axes, ALTERNATIVES, strict=False):
            z = np.full((len(ties), len(trust)), np.nan)
            sig = np.zeros_like(z, dtype=bool)
            for r in grid.itertuples():
                row = t[(t["point"] == r.point) & (t["b"] == b)].iloc[0]
                z[ties.index(r.prior_ties), trust.index(r.initial_trust)] = row["difference"]
                sig[ties.index(r.prior_ties), trust.index(r.initial_trust)] = row["significant_adjusted"]
            im = ax.imshow(z, cmap="RdBu", norm=norm, origin="lower", aspect="auto")
            ax.grid(False)
            for yi in range(len(ties)):
                for xi in range(len(trust)):
                    ax.text(xi, yi, f"{z[yi, xi]:+.0f}" + ("" if sig[yi, xi] else "\n(n.s.)"), ha="center",
                            va="center", fontsize=7.5, color="black" if abs(z[yi, xi]) < 0.6 * lim else "white")
            ax.set_xticks(range(len(trust)), [f"{v:g}" for v in trust])
            ax.set_yticks(range(len(ties)), [f"{v:g}" for v in ties])
            ax.set_xlabel("initial trust")
            ax.set_title(f"mandate minus {b}", fontsize=10)
        axes[0].set_ylabel("prior ties (share of pairs)")
        ax = axes[-1]
        colors = {"pays": OKABE_ITO["bluish_green"], "costs": OKABE_ITO["vermillion"], "undecided": "0.85"}
        SHORT = {"pays": "pays", "costs": "costs", "undecided": "?"}  # noqa: N806
        for r in grid.itertuples():
            lv = lab.loc[r.point]
            ax.add_patch(__import__("matplotlib").patches.Rectangle(
                (trust.index(r.initial_trust) - 0.5, ties.index(r.prior_ties) - 0.5), 1, 1, color=colors[lv]))
            ax.text(trust.index(r.initial_trust), ties.index(r.prior_ties), SHORT[lv], ha="center", va="center",
                    fontsize=8)
        ax.grid(False)
        ax.set_xlim(-0.5, len(trust) - 0.5)
        ax.set_ylim(-0.5, len(ties) - 0.5)
        ax.set_xticks(range(len(trust)), [f"{v:g}" for v in trust])
        ax.set_yticks(range(len(ties)), [f"{v:g}" for v in ties])
        ax.set_xlabel("initial trust")
        ax.set_title("where mandating pays (above all\nthree, Holm); ? = undecided", fontsize=10)
        fig.colorbar(im, ax=axes[:-1].tolist(), shrink=0.85, label=f"paired difference, {OUTCOMES[outcome]}")
        fig.suptitle(f"Mandating consortia against the alternatives: {OUTCOMES[outcome]} (mean of paired "
                     "communities; n.s. = not significant after Holm across the points)", fontsize=11)
    return fig


def plot_crossovers(cross: pd.DataFrame, outcome: str = "cumulative_benefit"):
    """Forest plot: the initial trust from which mandating beats each alternative, per setting (95% CI)."""
    import matplotlib.figure

    c = cross[cross["outcome"] == outcome]
    names = list(dict.fromkeys(c["line"]))
    y = np.arange(len(names))[::-1]
    lo_x, hi_x = float(c["x_min"].min()), float(c["x_max"].max())
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(11, 0.34 * len(names) + 2.2), layout="constrained")
        ax = fig.subplots()
        for k, b in enumerate(ALTERNATIVES):
            off = 0.22 * (1 - k)
            g = c[c["b"] == b].set_index("line")
            for name, yy in zip(names, y, strict=True):
                draw_crossover(ax, g.loc[name], yy + off, lo_x, hi_x, POLICY_COLORS[b])
            ax.plot([], [], "o-", color=POLICY_COLORS[b], label=f"against {b}")
        ax.plot([], [], ">", color="0.3", label=f"never up to {hi_x:g}")
        ax.plot([], [], "<", color="0.3", label=f"already at {lo_x:g}")
        ax.set_yticks(y, names)
        ax.set_xlim(lo_x - 0.02, hi_x + 0.02)
        ax.set_xlabel("initial trust from which mandating gathers more (crossover, 95% CI)")
        ax.axvline(NEED[4], color="0.5", ls=":", lw=1)
        ax.text(NEED[4], y.max() + 0.7, " trust need of collaboration", fontsize=8, color="0.4", va="bottom")
        ax.grid(alpha=0.3, axis="x")
        ax.set_ylim(-0.6, y.max() + 1.3)
        fig.legend(loc="outside lower center", ncols=5, frameon=False, fontsize=9)
        fig.suptitle(f"Where mandating pays, per setting ({OUTCOMES[outcome]}; grid rows and one change at a time "
                     "from the base)", fontsize=11)
    return fig


def plot_capacity(prof: pd.DataFrame, points: list[dict[str, Any]]):
    """The trust network five years after the money stops: share of pairs ready for each rung, per policy."""
    import matplotlib.figure

    pts = list(dict.fromkeys(prof["point"]))
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(11, 4.4), layout="constrained")
        axes = fig.subplots(1, len(pts), squeeze=False, sharey=True)[0]
        for ax, pt in zip(axes, pts, strict=True):
            g = prof[prof["point"] == pt]
            for k in range(1, 6):
                for i, pol in enumerate(POLICIES):
                    r = g[(g["outcome"] == f"final_ready_level_{k}") & (g["policy"] == pol)].iloc[0]
                    x = k + (i - (len(POLICIES) - 1) / 2) * 0.16
                    ax.bar(x, r["mean"], width=0.15, color=POLICY_COLORS[pol], label=pol if k == 1 else None)
                    ax.errorbar(x, r["mean"], yerr=[[r["mean"] - r["low"]], [r["high"] - r["mean"]]], color="0.2",
                                lw=0.8, capsize=1.5)
            ax.set_xticks(range(1, 6), [f"{LEVEL_NAMES[k].replace(' ', chr(10))}\n(need {NEED[k]:g})"
                                        for k in range(1, 6)], fontsize=8)
            ax.set_title(_label(points[pt]), fontsize=10)
            ax.grid(alpha=0.3, axis="y")
        axes[0].set_ylabel("share of ordered pairs whose trust\nmeets the rung's need at month 120")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(POLICIES), frameon=False)
        fig.suptitle("Collaborative capacity after the money stops (month 120; mean, 95% CI)", fontsize=11)
    return fig


def plot_competing(events: pd.DataFrame, points: list[dict[str, Any]], n_steps: int):
    """Self-formed partnerships: reaching collaboration vs dissolving first (Aalen-Johansen), per policy."""
    import matplotlib.figure

    pts = list(dict.fromkeys(events["point"]))
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(11, 4.6), layout="constrained")
        axes = fig.subplots(1, len(pts), squeeze=False, sharey=True)[0]
        for ax, pt in zip(axes, pts, strict=True):
            for pol in POLICIES:
                e = events[(events["point"] == pt) & (events["policy"] == pol) & (events["origin"] == "convened")]
                c = A.aalen_johansen(e["time"], e["event"], cause=1, horizon=n_steps)
                ax.step(c.step, c.incidence, where="post", color=POLICY_COLORS[pol], label=f"{pol}: reached level 4")
                ax.fill_between(c.step, c.low, c.high, step="post", color=POLICY_COLORS[pol], alpha=0.15, lw=0)
                ax.step(c.step, c.competing, where="post", color=POLICY_COLORS[pol], ls=":",
                        label=f"{pol}: dissolved first")
            ax.set_title(f"{_label(points[pt])}: partnerships the organizations convened", fontsize=10)
            ax.set_xlabel("months since the partnership formed")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("cumulative incidence")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(POLICIES), frameon=False, fontsize=8)
        fig.suptitle("Time to collaboration with dissolution competing (Aalen-Johansen, 95% band)", fontsize=11)
    return fig


def plot_hcap(events: pd.DataFrame, points: list[dict[str, Any]], n_steps: int):
    """The HCAP test: survival of the consortia the funder required, assembled (mandate) or chosen
    (applicant_led), against HCAP's 68% sustained (Kaplan-Meier from forming, 95% band)."""
    import matplotlib.figure

    pts = list(dict.fromkeys(events["point"]))
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(11, 4.4), layout="constrained")
        axes = fig.subplots(1, len(pts), squeeze=False, sharey=True)[0]
        for ax, pt in zip(axes, pts, strict=True):
            for pol in (MANDATE, HCAP):
                e = events[(events["point"] == pt) & (events["policy"] == pol) & (events["origin"] == pol)]
                if len(e) < 5:
                    continue
                km = A.kaplan_meier(np.where(e["ended_step"].isna(), n_steps, e["ended_step"]) - e["formed_step"],
                                    e["ended_step"].notna().to_numpy(), horizon=n_steps)
                x = np.arange(len(km.survival))
                ax.step(x, km.survival, where="post", color=POLICY_COLORS[pol], lw=1.8,
                        label=f"{POLICY_LABELS[pol]}: its consortia")
                ax.fill_between(x, km.low, km.high, step="post", color=POLICY_COLORS[pol], alpha=0.18, lw=0)
            ax.plot([84], [0.68], "D", color="0.15", ms=7, label="HCAP: 68% sustained (plotted at 84 months)")
            ax.axvline(36, color="0.6", lw=0.8, ls=":")
            ax.set_title(_label(points[pt]), fontsize=10)
            ax.set_xlabel("months since the consortium formed (dotted: the grant's 36 months)")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("share of consortia alive")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, fontsize=9)
        fig.suptitle("Does letting the applicants choose their partners close the gap to HCAP? "
                     "(Kaplan-Meier, 95% band)", fontsize=11)
    return fig


def plot_equity(prof: pd.DataFrame, points: list[dict[str, Any]]):
    """Equity per policy: Gini of benefit over organizations, and the worst-off sector's benefit share."""
    import matplotlib.figure

    pts = list(dict.fromkeys(prof["point"]))
    rows = [("benefit_gini", "Gini of benefit received\nover organizations (lower: more equal)"),
            ("payoff_gini", "Gini of net payoff over\norganizations (payoff floored at 0)"),
            ("sector_benefit_min", "worst-off sector: its benefit share /\nits share of organizations")]
    with figure_style():
        fig = matplotlib.figure.Figure(figsize=(11, 3.9), layout="constrained")
        axes = fig.subplots(1, len(rows), squeeze=False)[0]
        for ax, (name, ylabel) in zip(axes, rows, strict=True):
            for k, pt in enumerate(pts):
                g = prof[(prof["point"] == pt) & (prof["outcome"] == name)]
                for i, pol in enumerate(POLICIES):
                    r = g[g["policy"] == pol].iloc[0]
                    x = k + (i - (len(POLICIES) - 1) / 2) * 0.16
                    ax.errorbar(x, r["mean"], yerr=[[r["mean"] - r["low"]], [r["high"] - r["mean"]]], fmt="o",
                                color=POLICY_COLORS[pol], capsize=2, label=pol if k == 0 else None)
            ax.set_xticks(range(len(pts)), [_label(points[p]) for p in pts], fontsize=8.5)
            ax.set_ylabel(ylabel, fontsize=9)
            ax.grid(alpha=0.3, axis="y")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(POLICIES), frameon=False)
        fig.suptitle("How benefit and payoff spread over organizations and sectors (mean over communities, 95% CI)",
                     fontsize=11)
    return fig


# --- findings -----------------------------------------------------------------------------------------------


def ci(est: float, low: float, high: float, digits: int = 0, pct: bool = False, sign: bool = True) -> str:
    """``est [low, high]`` (percentages when ``pct``)."""
    k = 100 if pct else 1
    u = "%" if pct else ""
    f = f"{'+' if sign else ''}.{digits}f"
    return f"{k * est:{f}}{u} [{k * low:{f}}, {k * high:{f}}]"


def p_text(p: float) -> str:
    return "< 1e-300" if p == 0 else f"{p:.2g}"


def crossing_text(r: Any) -> str:
    def b(v: float) -> str:
        return "beyond" if v == math.inf else "below" if v == -math.inf else f"{v:.2f}"
    if r["status"] == "crossing":
        return f"{r['crossing']:.2f} [{b(r['low'])}, {b(r['high'])}]"
    what = f"never up to {r['x_max']:g}" if r["status"] == "never" else f"already at {r['x_min']:g}"
    return f"{what} [{b(r['low'])}, {b(r['high'])}]"


def _pt(roles: pd.DataFrame, role: str, trust: float, ties: float | None = None, setting: str = "base") -> int:
    g = roles[(roles["role"] == role) & (roles["setting"] == setting) & np.isclose(roles["initial_trust"], trust)]
    if ties is not None:
        g = g[np.isclose(g["prior_ties"], ties)]
    return int(g["point"].iloc[0])


def findings_text(n: dict[str, Any]) -> str:  # noqa: C901 - one page, section by section
    d: Design = n["design"]
    data: RunData = n["data"]
    tab, reg, cross, prof = n["table"], n["region"], n["crossover"], n["profile"]
    roles = data.roles
    lo_pt, hi_pt = n["profile_points"]
    grid = roles[roles["role"] == "grid"]
    L = ["# Findings: the community study (mandate consortia now, or fund what grew?)", "",
         f"Written by `make run` (experiments/community.py, design experiments/community.toml) on {n['date']}, model "
         f"version {n['model_version']}. {data.n_runs_simulated:,} communities simulated "
         f"({len(data.points)} design points x {len(d.policies)} policies; arms that differ only in parameters a "
         "policy does not read are run once), 30 organizations each, 120 months, every other parameter at the "
         "calibrated defaults (docs/ODD.md section 10): up to 8 partnerships at once, 3 memberships an "
         "organization, a budget of 120 (three yearly calls from month 1, two grants of 20 each, 36-month grants).",
         "",
         f"**Design.** The region: every policy at initial trust {', '.join(f'{v:g}' for v in d.grid_trust)} x prior "
         f"ties (share of pairs who networked before) {', '.join(f'{v:g}' for v in d.grid_ties)}. One change at a "
         f"time from the base (prior ties {n['base_ties']:g}), each along initial trust "
         f"{', '.join(f'{v:g}' for v in d.settings_trust)}: " + ", ".join(s.name for s in d.settings[1:]) + ". A prior "
         f"tie starts at trust max({d.tie_trust_floor:g}, initial trust), so prior networking never lowers trust. "
         f"**Replicates**: a pilot-based fixed {d.replicates} per arm (pilot SD of a paired ten-year-benefit "
         "difference 320 to 410, so a 95% half-width of about 100 to 130 units); the two profile communities "
         f"(initial trust {', '.join(f'{v:g}' for v in d.profile_trust)}, prior ties {n['base_ties']:g}) are "
         f"precision-driven: blocks of {d.block} until every pairwise 95% half-width in ten-year benefit is at most "
         f"{d.half_width:g} units (cap {d.max_replicates}); they reached {n['profile_reps_text']} replicates. The rule "
         "reads widths only, not estimates.",
         "",
         "**Common random numbers**: replicate r of every policy at every point is the same community (the same "
         "seed: the same organizations, traits, prior ties and draws), so every difference is paired. Pairing cut "
         f"the standard error of mandate minus none (ten-year benefit) to {n['crn_ratio']:.2f} of the unpaired one "
         "(median over the points).",
         "",
         "**Statistics.** 95% intervals: paired t for mean differences; BCa bootstrap (2,000 resamples) for means "
         "of one arm; percentile bootstrap over whole communities (1,000 resamples, jointly across trust levels) for "
         "crossovers; Aalen-Johansen with log(-log) bands for time to collaboration with dissolution competing; "
         "Kaplan-Meier for survival. Families: paired t tests of mandate against each alternative are "
         f"Holm-adjusted across the {n['n_points']} points of each comparison and outcome (alpha {ALPHA}); the "
         "profile tables Holm-adjust across their policies and outcomes. Benjamini-Hochberg is reported beside "
         "Holm for the region. Tag **built in**: the result restates a rule or an input; **emergent**: it comes "
         "out of the interplay of the rules and is written into none of them.",
         "",
         "## The answer to the funder's question",
         "", n["answer"], "",
         "## 1. Where mandating pays: initial trust x prior networking",
         "",
         "Mandate minus each alternative, ten-year benefit and net benefit (mean of paired communities, 95% CI; "
         "`tables/comparisons.csv`, `figures/region.png`). *Pays*: above all three alternatives after Holm; "
         "*costs*: some alternative significantly above it. **Emergent** in where the boundary lies; the "
         "reason it exists is partly **built in**: a mandated consortium plays collaboration (trust need "
         f"{NEED[4]:g}) from day one, so it can only hold where its strangers' trust already meets that need.", "",
         "| initial trust | prior ties | vs none | vs patient | vs staged | benefit: region | net: region |",
         "|---|---|---|---|---|---|---|"]
    rl = reg.set_index(["point", "outcome"])
    for r in grid.sort_values(["initial_trust", "prior_ties"]).itertuples():
        cells = []
        for b in ALTERNATIVES:
            t = tab[(tab["point"] == r.point) & (tab["a"] == MANDATE) & (tab["b"] == b)
                    & (tab["outcome"] == "cumulative_benefit")].iloc[0]
            cells.append(ci(t.difference, t.low, t.high) + ("" if t.significant_adjusted else " (n.s.)"))
        L.append(f"| {r.initial_trust:g} | {r.prior_ties:g} | " + " | ".join(cells)
                 + f" | {rl.loc[(r.point, 'cumulative_benefit'), 'label']} | "
                 f"{rl.loc[(r.point, 'net_benefit'), 'label']} |")
    L += ["", n["bh_text"], ""]

    L += ["## 2. Where mandating pays, setting by setting",
          "",
          "The initial trust from which mandate's mean paired advantage turns positive against each alternative "
          "(interpolated between trust levels; bootstrap 95% CI; \"never\" = below every alternative's level up "
          "to the highest trust; `tables/crossover.csv`, `figures/crossover.png`). The grid rows use the six trust "
          f"levels; the settings use {', '.join(f'{v:g}' for v in d.settings_trust)}, so their crossovers are "
          "coarser. **Emergent** (which factors move the boundary and by how much).", "",
          "| setting | vs none | vs patient | vs staged | net vs staged |", "|---|---|---|---|---|"]
    for name in dict.fromkeys(cross["line"]):
        g = cross[cross["line"] == name]
        v = [crossing_text(g[(g["b"] == b) & (g["outcome"] == "cumulative_benefit")].iloc[0]) for b in ALTERNATIVES]
        v.append(crossing_text(g[(g["b"] == "staged") & (g["outcome"] == "net_benefit")].iloc[0]))
        L.append(f"| {name} | " + " | ".join(v) + " |")
    L += ["", n["settings_text"], ""]

    # 3. profile outcomes
    def prow(pt: int, outcome: str, pct: bool = False, digits: int = 0) -> str:
        g = prof[(prof["point"] == pt) & (prof["outcome"] == outcome)].set_index("policy")
        cells = [ci(g.loc[p, "mean"], g.loc[p, "low"], g.loc[p, "high"], digits, pct, sign=False) for p in POLICIES]
        diffs = []
        for p in POLICIES[1:]:
            r = g.loc[p]
            diffs.append(f"{p} {ci(r.vs_none, r.vs_none_low, r.vs_none_high, digits, pct)}"
                         + ("" if r.significant_adjusted else " n.s."))
        return " | ".join(cells) + " | " + "; ".join(diffs)

    outcomes3 = [("cumulative_benefit", "ten-year benefit", False, 0),
                 ("net_benefit", "ten-year net benefit", False, 0),
                 ("durable", "durable collaborations (alive at 120, level >= 4)", False, 2),
                 ("n_formed", "partnerships formed", False, 1), ("n_ended", "partnerships died", False, 1),
                 ("funder_spent", "funder's money spent", False, 0),
                 ("final_mean_trust_worked", "final trust among pairs who worked together", False, 3),
                 ("largest_component", "largest worked-together component (share of organizations)", False, 2)]
    L += ["## 3. The two profile communities: every outcome, ten years", "",
          f"Per policy, the mean over {n['profile_reps_text']} communities (95% bootstrap CI), and each funding policy "
          "minus none (paired t; n.s. = not significant after Holm over the table's tests; `tables/profile.csv`, "
          "`figures/curves.png`).", ""]
    for pt in (lo_pt, hi_pt):
        L += [f"**{_label(data.points[pt])}**, prior ties {n['base_ties']:g}:", "",
              "| outcome | " + " | ".join(POLICIES) + " | minus none |", "|---" * (len(POLICIES) + 2) + "|"]
        for name, label, pct, digits in outcomes3:
            L.append(f"| {label} | {prow(pt, name, pct, digits)} |")
        L.append("")
    L += [n["profile_text"], ""]
    L += ["**Money.** Benefit gained over no funder per unit the funder spent (ratio of paired means, bootstrap "
          "over communities; `tables/return.csv`): " + n["return_text"] + " **Emergent**: spending depends on "
          "how long funded partnerships live (an award is paid monthly and stops when the partnership dissolves; "
          "the rest returns to the budget).", ""]

    # 4. durable and capacity
    L += ["## 4. Durable collaborations and the trust network after the money stops", "",
          n["durable_text"], "",
          "Collaborative capacity at month 120, five years after the last grant ended: the share of ordered pairs "
          "whose trust meets each rung's need, per policy (`tables/profile.csv`, `figures/capacity.png`). "
          "**Emergent.**", "",
          "| initial trust | rung (need) | " + " | ".join(POLICIES) + " |", "|---" * (len(POLICIES) + 2) + "|"]
    for pt in (lo_pt, hi_pt):
        for k in range(1, 6):
            g = prof[(prof["point"] == pt) & (prof["outcome"] == f"final_ready_level_{k}")].set_index("policy")
            cells = []
            for p in POLICIES:
                c = ci(g.loc[p, "mean"], g.loc[p, "low"], g.loc[p, "high"], 1, True, sign=False)
                if p != "none":
                    c += f" ({100 * g.loc[p, 'vs_none']:+.1f}{'' if g.loc[p, 'significant_adjusted'] else ' n.s.'})"
                cells.append(c)
            L.append(f"| {data.points[pt]['initial_trust']:g} | {LEVEL_NAMES[k]} ({NEED[k]:g}) | " + " | ".join(cells)
                     + " |")
    L += ["", n["capacity_text"], ""]

    # 5. formed and died
    L += ["## 5. Partnerships formed and died (competing risks)", "", n["competing_text"], ""]

    # 6. equity
    L += ["## 6. Equity: how benefit and payoff spread", "", n["equity_text"], ""]

    # 7. the HCAP test
    L += hcap_lines(n)

    # 8. literature
    L += ["## 8. Against published results", "", *n["literature"], ""]

    # 9. built in vs emergent
    L += ["## 9. Built in or emergent", "", *n["tags"], ""]

    L += ["## What the model cannot say", "",
          "- **Magnitudes in the world.** Benefit is in model units; the partnership rules were calibrated to the "
          "survival of funded coalitions (docs/calibration.md), not to any community's benefit, and the community "
          "rules (formation, acceptance, gossip) are not calibrated at all (docs/ODD.md 10.7).",
          "- **Administrative capacity in Bitterman & Koliba's sense.** The model has no central actors who manage "
          "the money; its nearest analogue is the organizations' capacity for partnerships (memberships) and the "
          "partnership slots. A bottleneck of staff who administer grants is not modelled.",
          "- **What a mandate looks like in practice.** `mandate` assembles strangers by the funder's own ranking "
          "and `applicant_led` lets the lead choose by its trust; under both every invitee joins and the "
          "consortium collaborates from day one. Real applicants may decline, wait for a later call, invite only "
          "partners who already meet the rung's need (which at low trust would fund almost nothing), or be chosen "
          "by the funder for a track record the model does not give them.",
          "- **Results outside the design.** Factors were varied one at a time from the base, at three trust "
          "levels; interactions between them (e.g. budget x capacity) are not explored, and crossovers from three "
          "levels are coarse.",
          "- **Small differences.** With "
          f"{d.replicates} replicates a point, paired differences below about {n['mde']:.0f} benefit units are the "
          "smallest the Holm-adjusted tests detect reliably; an undecided point is not evidence of no difference.",
          "- **After month 120.** Durable collaborations and capacity are read at month 120; what they produce "
          "later is not simulated.",
          ""]
    if n["cached"]:
        L += [f"This run reused the cached runs and took {n['elapsed']:.0f} s (load average {n['load']}); simulating "
              f"them took {data.seconds:.0f} s when they were made (load average {data.load}), on this machine's 2 "
              f"cores shared with other work, {n['workers']} worker processes."]
    else:
        L += [f"The community study took {n['elapsed']:.0f} s ({n['sim_seconds']:.0f} s simulating) on this machine "
              f"(2 cores shared with other work; load average {n['load']}), {n['workers']} worker processes."]
    return "\n".join(L) + "\n"


# --- the texts computed from the tables --------------------------------------------------------------------


def _mt(tab: pd.DataFrame, pt: int, b: str, outcome: str = "cumulative_benefit") -> Any:
    return tab[(tab["point"] == pt) & (tab["a"] == MANDATE) & (tab["b"] == b) & (tab["outcome"] == outcome)].iloc[0]


def answer_text(n: dict[str, Any]) -> str:
    data, tab, reg, cross = n["data"], n["table"], n["region"], n["crossover"]
    roles = data.roles
    grid = roles[roles["role"] == "grid"].merge(reg[reg["outcome"] == "cumulative_benefit"], on="point")
    pays = grid[grid["label"] == "pays"]
    costs = grid[grid["label"] == "costs"]
    gn = roles[roles["role"] == "grid"].merge(reg[reg["outcome"] == "net_benefit"], on="point")
    pays_net = gn[gn["label"] == "pays"]
    lo_pt, hi_pt = n["profile_points"]
    prof = n["profile"]

    def best(pt: int) -> tuple[str, float]:
        g = prof[(prof["point"] == pt) & (prof["outcome"] == "cumulative_benefit")].set_index("policy")["mean"]
        return str(g.idxmax()), float(g.max())

    b_lo, _ = best(lo_pt)
    b_hi, _ = best(hi_pt)
    base = cross[(cross["line"] == f"prior ties {n['base_ties']:g}") & (cross["outcome"] == "cumulative_benefit")]
    cs = base.set_index("b")
    s_lo, s_hi = _mt(tab, lo_pt, "staged"), _mt(tab, hi_pt, "staged")
    m_lo = _mt(tab, lo_pt, "none")
    h_hi = tab[(tab["point"] == hi_pt) & (tab["a"] == HCAP) & (tab["b"] == MANDATE)
               & (tab["outcome"] == "cumulative_benefit")].iloc[0]
    trust_pays = sorted(pays["initial_trust"].unique())
    thr = crossing_text(cs.loc["staged"])
    require = (MANDATE, HCAP)
    if b_lo not in require and b_hi == MANDATE:
        head = (f"**Do not mandate consortia in a community that does not yet trust: {b_lo} is best at the default "
                f"trust, and mandating pays only from an initial trust of about {thr.split(' [')[0]}.** ")
    elif b_lo not in require and b_hi in require:
        head = (f"**Do not require consortia in a community that does not yet trust, whoever picks the partners: "
                f"{b_lo} is best at the default trust, mandating pays only from an initial trust of about "
                f"{thr.split(' [')[0]}, and at high trust the best is {b_hi}.** ")
    else:
        head = (f"**The best policy is {b_lo} at initial trust {data.points[lo_pt]['initial_trust']:g} and {b_hi} at "
                f"{data.points[hi_pt]['initial_trust']:g}.** ")
    parts = [
        head + f"Across the {len(grid)} points of initial trust x prior ties, mandating gathers significantly more "
        f"ten-year "
        f"benefit than every alternative (Holm) at {len(pays)} point(s)"
        + (f" (initial trust {', '.join(f'{v:g}' for v in trust_pays)})" if len(pays) else "")
        + f", less than some alternative at {len(costs)}, and is undecided at {len(grid) - len(pays) - len(costs)}; "
        f"on net benefit it pays at {len(pays_net)}. At the base (prior ties {n['base_ties']:g}) mandating beats "
        f"no funder from initial trust {crossing_text(cs.loc['none'])}, the patient grant from "
        f"{crossing_text(cs.loc['patient'])} and staged money from {crossing_text(cs.loc['staged'])}.",
        f"At the model's default trust ({data.points[lo_pt]['initial_trust']:g}) the best policy is {b_lo}: mandating "
        f"loses {ci(m_lo.difference, m_lo.low, m_lo.high)} benefit units against no funder and "
        f"{ci(s_lo.difference, s_lo.low, s_lo.high)} against staged money (paired, {int(s_lo.n_pairs)} communities). "
        f"At trust {data.points[hi_pt]['initial_trust']:g} the best is {b_hi}: "
        + (f"applicant_led minus mandate {ci(h_hi.difference, h_hi.low, h_hi.high)}, " if b_hi == HCAP else "")
        + f"mandate minus staged {ci(s_hi.difference, s_hi.low, s_hi.high)}.",
        n["settings_short"],
        f"{hcap_verdict(n)} (HCAP's design, `applicant_led`; section 7).",
    ]
    return " ".join(parts)


def settings_texts(shifts: pd.DataFrame, cross: pd.DataFrame) -> tuple[str, str]:
    """Which settings move mandate's crossover against each alternative (paired shift whose CI excludes 0)."""
    out_long, out_short = [], []
    c = cross[(cross["outcome"] == "cumulative_benefit") & (cross["line"] == "base")].set_index("b")
    for b in ALTERNATIVES:
        g = shifts[(shifts["b"] == b) & (shifts["outcome"] == "cumulative_benefit")]
        up = [f"{r.setting} ({r.shift:+.2f} [{r.low:+.2f}, {r.high:+.2f}])" for r in g.itertuples()
              if r.moves and r.shift > 0]
        down = [f"{r.setting} ({r.shift:+.2f} [{r.low:+.2f}, {r.high:+.2f}])" for r in g.itertuples()
                if r.moves and r.shift < 0]
        out_long.append(f"Against {b} (base crossover {crossing_text(c.loc[b])}): later (mandating needs more "
                        f"trust) under {', '.join(up) or 'no setting'}; earlier under "
                        f"{', '.join(down) or 'no setting'}.")
        if b == "staged":
            out_short.append(
                "Against staged money the threshold moves up under "
                + (", ".join(x.split(" (")[0] for x in up) or "no setting") + " and down under "
                + (", ".join(x.split(" (")[0] for x in down) or "no setting")
                + " (paired shifts of the crossover, Holm; section 2).")
    n_tests = int(shifts["n_tests"].iloc[0])
    head = ("Shift of each setting's crossover from the base's, on the same communities (paired bootstrap over "
            "replicates, jointly across the trust levels and the two lines, 10,000 resamples; a setting moves it "
            f"when the bootstrap test survives Holm's adjustment over the {n_tests} shifts of the outcome; "
            "`tables/crossover_shift.csv`; **emergent**): ")
    return head + " ".join(out_long), " ".join(out_short)


# --- the report -----------------------------------------------------------------------------------------------


def report_html(findings: str, figures: Sequence[tuple[str, Path, str]], manifest: Mapping[str, Any]) -> str:
    """A self-contained HTML page: the findings, every figure embedded, the manifest."""
    try:
        import markdown

        body = markdown.markdown(findings, extensions=["tables"])
    except ImportError:  # pragma: no cover - markdown comes with the classroom page's dependencies
        body = f"<pre>{html.escape(findings)}</pre>"
    figs = []
    for title, path, caption in figures:
        b64 = base64.b64encode(path.read_bytes()).decode()
        figs.append(f"<figure><img alt=\"{html.escape(title)}\" src=\"data:image/png;base64,{b64}\">"
                    f"<figcaption><b>{html.escape(title)}.</b> {html.escape(caption)}</figcaption></figure>")
    css = ("body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;max-width:1150px;"
           "padding:0 1.2em;line-height:1.45;color:#1a1a1a}table{border-collapse:collapse;font-size:.84em;"
           "margin:.6em 0 1.2em}th,td{border-bottom:1px solid #e3e3e3;padding:.25em .5em;text-align:left}"
           "th{background:#f4f4f4}figure{margin:1.2em 0 2em}img{max-width:100%;border:1px solid #eee}"
           "figcaption{font-size:.9em;color:#444}pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.8em}")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>TrustLadder: the community "
            f"study</title><style>{css}</style></head><body>{body}<h2>Figures</h2>{''.join(figs)}"
            f"<h2>Manifest</h2><pre>{html.escape(json.dumps(manifest, indent=2, default=str))}</pre></body></html>")


# --- main ----------------------------------------------------------------------------------------------------


def analyse(d: Design, data: RunData, cached: bool, t0: float, workers: int, started: str) -> dict[str, Any]:
    """Every table and text of the findings, from the runs."""
    runs, roles = data.runs, data.roles
    n: dict[str, Any] = {"design": d, "data": data, "cached": cached, "workers": workers, "date": started[:10],
                         "model_version": getattr(sim, "MODEL_VERSION", "?")}
    base_ties = float(d.base.get("prior_ties", CommunityParams().prior_ties))
    n["base_ties"] = base_ties
    analysed = sorted(set(roles.loc[roles["role"].isin(["grid", "setting"]), "point"]))
    n["n_points"] = len(analysed)
    pairs = [(MANDATE, b) for b in ALTERNATIVES]
    pairs += [(HCAP, b) for b in HCAP_AGAINST]
    tab = comparison_table(runs, analysed, pairs, [*OUTCOMES, "durable", "final_ready_level_4"])
    bh = comparison_table(runs, analysed, pairs[:len(ALTERNATIVES)], list(OUTCOMES), method="bh")
    n["table"], n["region"] = tab, region(tab)
    reg_bh = region(bh)
    g = roles[roles["role"] == "grid"]["point"]
    mine = n["region"][n["region"]["point"].isin(g) & n["region"]["outcome"].isin(list(OUTCOMES))]
    mine = mine.set_index(["point", "outcome"])["label"]
    same = mine == reg_bh.set_index(["point", "outcome"])["label"].reindex(mine.index)
    n["bh_text"] = (f"With Benjamini-Hochberg (false discovery rate) instead of Holm, {int(same.sum())} of "
                    f"{len(same)} grid labels (benefit and net) are the same.")
    t = tab[(tab["a"] == MANDATE) & (tab["b"] == "none") & (tab["outcome"] == "cumulative_benefit")]
    n["crn_ratio"] = float((t["se"] / t["se_unpaired"]).median())
    sd = tab[(tab["a"] == MANDATE) & (tab["outcome"] == "cumulative_benefit")]["se"].median()
    n["mde"] = float(sd * 4.0)  # Holm over the points at alpha 0.05 (z about 3.2) plus 80% power (0.84)
    n["crossover"] = crossover_rows(runs, roles, d.seed)
    n["shifts"] = crossover_shifts(runs, roles, d.seed)
    n["settings_text"], n["settings_short"] = settings_texts(n["shifts"], n["crossover"])
    lo_pt, hi_pt = (_pt(roles, "profile", t) for t in d.profile_trust[:2])
    n["profile_points"] = (lo_pt, hi_pt)
    n["profile_reps"] = int(runs[runs["point"] == lo_pt].groupby("policy").size().min())
    reps = {t: int(runs[runs["point"] == pt].groupby("policy").size().min())
            for t, pt in zip(d.profile_trust[:2], (lo_pt, hi_pt), strict=True)}
    n["profile_reps_text"] = (f"{n['profile_reps']}" if len(set(reps.values())) == 1 else
                              " and ".join(f"{v} (initial trust {t:g})" for t, v in reps.items()))

    # equity extras from the organization table
    orgs = data.organizations
    pay = orgs.assign(payoff_pos=orgs["payoff"].clip(lower=0.0))
    extra = pd.DataFrame({"payoff_gini": gini_per_run(pay, "payoff_pos"),
                          "loss_share": orgs.groupby(["point", "policy", "replicate"])["payoff"].apply(
                              lambda v: float((v < 0).mean())),
                          "benefit_gini_check": gini_per_run(orgs, "benefit_received")}).reset_index()
    runs2 = runs.merge(extra, on=["point", "policy", "replicate"], how="left")
    check = runs2.dropna(subset=["benefit_gini_check", "benefit_gini"])
    if not np.allclose(check["benefit_gini_check"], check["benefit_gini"], atol=1e-9):
        raise RuntimeError("the Gini of benefit recomputed from the organization table differs from the engine's")
    prof_outcomes = [*SUMMARY, "payoff_gini", "loss_share"]
    prof = pd.concat([profile_table(runs2, pt, prof_outcomes, d.seed) for pt in (lo_pt, hi_pt)], ignore_index=True)
    n["profile"] = prof
    n["return"] = pd.concat([return_on_money(runs, pt, d.seed) for pt in (lo_pt, hi_pt)], ignore_index=True)

    def pv(pt: int, outcome: str, pol: str, col: str = "mean") -> float:
        return float(prof[(prof["point"] == pt) & (prof["outcome"] == outcome) & (prof["policy"] == pol)][col].iloc[0])

    def dtxt(pt: int, outcome: str, pol: str, digits: int = 0, pct: bool = False) -> str:
        r = prof[(prof["point"] == pt) & (prof["outcome"] == outcome) & (prof["policy"] == pol)].iloc[0]
        return (ci(r.vs_none, r.vs_none_low, r.vs_none_high, digits, pct)
                + ("" if r.significant_adjusted else ", n.s."))

    pts = {lo_pt: data.points[lo_pt]["initial_trust"], hi_pt: data.points[hi_pt]["initial_trust"]}
    n["return_text"] = "; ".join(
        f"trust {pts[r.point]:g}, {r.policy}: spent {r.spent:.1f} of 120, "
        f"{r.per_unit:+.1f} [{r.low:+.1f}, {r.high:+.1f}]"
        f" benefit a unit" for r in n["return"].itertuples()) + "."
    conv = self_formed(data)

    def cv(pt: int, pol: str) -> str:
        r = conv[(conv["point"] == pt) & (conv["policy"] == pol)].iloc[0]
        return f"{r.per_community:.1f} [{r.low:.1f}, {r.high:.1f}]"

    n["self_formed"] = conv
    n["profile_text"] = (
        f"At trust {pts[lo_pt]:g}, mandating forms the most partnerships "
        f"({pv(lo_pt, 'n_formed', 'mandate'):.1f} against {pv(lo_pt, 'n_formed', 'none'):.1f} with no funder) and "
        f"loses the most ({pv(lo_pt, 'n_ended', 'mandate'):.1f} against {pv(lo_pt, 'n_ended', 'none'):.1f}): its "
        "consortia of strangers dissolve within months (section 5) and their members' trust falls (final trust "
        f"among pairs who worked together {pv(lo_pt, 'final_mean_trust_worked', 'mandate'):.2f} against "
        f"{pv(lo_pt, 'final_mean_trust_worked', 'none'):.2f}). Partnerships the organizations convened themselves, per "
        f"community (mean, bootstrap 95% CI; `tables/self_formed.csv`): none {cv(lo_pt, 'none')}, mandate "
        f"{cv(lo_pt, 'mandate')}, patient {cv(lo_pt, 'patient')}, staged {cv(lo_pt, 'staged')}: "
        + ("the short-lived mandated consortia barely displace them; " if abs(
            _cvm(conv, lo_pt, 'mandate') - _cvm(conv, lo_pt, 'none')) < 0.5 else
           "mandated consortia displace some of them; ")
        + f"staged consortia, which live, take the place of about "
        f"{_cvm(conv, lo_pt, 'none') - _cvm(conv, lo_pt, 'staged'):.1f} of them and still gather "
        f"{dtxt(lo_pt, 'cumulative_benefit', 'staged')} over no funder: networking asks the least trust, so they "
        "hold, climb, and work in the first two years, before any self-formed partnership has reached "
        f"collaboration (`figures/curves.png`). At trust {pts[hi_pt]:g}, most mandated consortia hold, and "
        f"mandating gathers {dtxt(hi_pt, 'cumulative_benefit', 'mandate')} over no funder, while it displaces "
        f"self-formed partnerships (none {cv(hi_pt, 'none')}, mandate {cv(hi_pt, 'mandate')}) and lowers final "
        f"trust among those who worked together ({pv(hi_pt, 'final_mean_trust_worked', 'mandate'):.2f} against "
        f"{pv(hi_pt, 'final_mean_trust_worked', 'none'):.2f}). **Emergent** (the benefit of each policy passes "
        "through formation, survival and trust); that mandate's consortia play collaboration from the first month "
        "and staged consortia start at networking is **built in**.")

    # durable by origin, from the partnership table
    parts = data.partnerships
    alive = parts[parts["ended_step"].isna() & (parts["final_level"] >= 4)]
    n_comm = runs[runs["point"].isin(list(pts))].groupby(["point", "policy"]).size().rename("communities")
    by = alive.groupby(["point", "policy", "origin"]).size().rename("durable").reset_index().merge(
        n_comm.reset_index(), on=["point", "policy"])
    n["durable_origin"] = by.assign(per_community=by["durable"] / by["communities"])
    dsh = []
    for pt in pts:
        for pol in POLICIES:
            v = n["durable_origin"][(n["durable_origin"]["point"] == pt) & (n["durable_origin"]["policy"] == pol)]
            share = v.set_index("origin")["per_community"]
            tot = float(share.sum())
            own = float(share.get("convened", 0.0))
            dsh.append(f"trust {pts[pt]:g}, {pol}: {tot:.2f} a community, {100 * own / tot if tot else 0:.0f}% of "
                       "them convened by the organizations")
    n["durable_text"] = (
        f"Durable collaborations (partnerships alive at month 120 that played level >= 4 in the last month), "
        f"mean a community, each policy minus none: trust {pts[lo_pt]:g}: mandate "
        f"{dtxt(lo_pt, 'durable', 'mandate', 2)}, patient {dtxt(lo_pt, 'durable', 'patient', 2)}, staged "
        f"{dtxt(lo_pt, 'durable', 'staged', 2)} (none {pv(lo_pt, 'durable', 'none'):.2f});"
        f" trust {pts[hi_pt]:g}: mandate "
        f"{dtxt(hi_pt, 'durable', 'mandate', 2)}, patient {dtxt(hi_pt, 'durable', 'patient', 2)}, staged "
        f"{dtxt(hi_pt, 'durable', 'staged', 2)} (none {pv(hi_pt, 'durable', 'none'):.2f}). Who they are "
        "(`tables/durable_origin.csv`): " + "; ".join(dsh) + ". **Emergent**; the ceiling (8 slots, 3 "
        "memberships an organization) is **built in**, and durable collaborations sit close to it under every "
        "policy, so the number of durable collaborations is a weak discriminator of the policies.")

    k4 = [(pt, pol, pv(pt, "final_ready_level_4", pol)) for pt in pts for pol in POLICIES]
    n["capacity_text"] = (
        "Mandating leaves the thinnest trust network where it fails: at trust "
        f"{pts[lo_pt]:g} the share of pairs ready for collaboration is "
        f"{100 * pv(lo_pt, 'final_ready_level_4', 'mandate'):.1f}% "
        f"against {100 * pv(lo_pt, 'final_ready_level_4', 'none'):.1f}% "
        f"with no funder ({dtxt(lo_pt, 'final_ready_level_4', 'mandate', 1, True)}) and "
        f"{100 * pv(lo_pt, 'final_ready_level_4', 'staged'):.1f}% with staged money: the failed consortia's "
        "setbacks cut trust between strangers, and gossip carries it to others. At trust "
        f"{pts[hi_pt]:g}: mandate {dtxt(hi_pt, 'final_ready_level_4', 'mandate', 1, True)}, staged "
        f"{dtxt(hi_pt, 'final_ready_level_4', 'staged', 1, True)} (differences from none in percentage points)."
        f" Largest component of organizations who have worked "
        f"together: trust {pts[lo_pt]:g} mandate {pv(lo_pt, 'largest_component', 'mandate'):.2f} vs none "
        f"{pv(lo_pt, 'largest_component', 'none'):.2f}. " + ("(All values: `tables/profile.csv`.)" if k4 else ""))

    # competing risks
    ev = partnership_events(parts, d.n_steps)
    n["events"] = ev
    rows, texts = [], []
    for pt in pts:
        for pol in POLICIES:
            for origin, e in ev[(ev["point"] == pt) & (ev["policy"] == pol)].groupby("origin"):
                if len(e) < 5:
                    continue
                c = A.aalen_johansen(e["time"], e["event"], cause=1, horizon=d.n_steps)
                km = A.kaplan_meier(np.where(e["ended_step"].isna(), d.n_steps, e["ended_step"]) - e["formed_step"],
                                    e["ended_step"].notna().to_numpy(), horizon=d.n_steps)
                r36 = float(km.survival[min(36, len(km.survival) - 1)])
                r84 = float(km.survival[min(84, len(km.survival) - 1)])
                rows.append({"point": pt, "initial_trust": pts[pt], "policy": pol, "origin": origin, "n": len(e),
                             "per_community": len(e) / len(runs[(runs["point"] == pt) & (runs["policy"] == pol)]),
                             "reached_4_by_60": c.at(60), "dissolved_first_by_60": float(c.competing[60]),
                             "reached_4_by_120": c.at(120), "dissolved_first_by_120": float(c.competing[120]),
                             "alive_36_months_after_forming": r36,
                             "alive_36_low": float(km.low[min(36, len(km.low) - 1)]),
                             "alive_36_high": float(km.high[min(36, len(km.high) - 1)]),
                             "alive_84_months_after_forming": r84,
                             "alive_84_low": float(km.low[min(84, len(km.low) - 1)]),
                             "alive_84_high": float(km.high[min(84, len(km.high) - 1)])})
    comp = pd.DataFrame(rows)
    n["competing"] = comp
    for pt in pts:
        c = comp[comp["point"] == pt]
        own = c[c["origin"] == "convened"].set_index("policy")
        texts.append(
            f"Trust {pts[pt]:g}, partnerships the organizations convened: by 60 months after forming, "
            + "; ".join(f"{p} {100 * own.loc[p, 'reached_4_by_60']:.0f}% reached collaboration, "
                        f"{100 * own.loc[p, 'dissolved_first_by_60']:.0f}% dissolved first" for p in POLICIES
                        if p in own.index) + ".")
        fund = c[c["origin"] != "convened"]
        if len(fund):
            texts.append(
                f"Consortia the funder created at trust {pts[pt]:g}: " + "; ".join(
                    f"{r.origin} {r.per_community:.1f} a community, "
                    f"{100 * r.alive_36_months_after_forming:.0f}% [{100 * r.alive_36_low:.0f}, "
                    f"{100 * r.alive_36_high:.0f}] alive 36 months after forming (the grant's term), "
                    f"{100 * r.alive_84_months_after_forming:.0f}% at 84" for r in fund.itertuples()) + ".")
    n["consortium_trust"] = pd.concat(
        [consortium_trust(d, data.points[pt], d.replicates).assign(point=pt, initial_trust=pts[pt]) for pt in pts],
        ignore_index=True)
    n["competing_text"] = (
        "Per partnership at the profile communities (`tables/competing.csv`, `figures/competing.png`): time from "
        "forming to its first month at collaboration (level 4) with dissolution as the competing event "
        "(Aalen-Johansen), and Kaplan-Meier survival from forming. Counts per community (paired against none) are "
        "in section 3. " + " ".join(texts) + " **Emergent**, except that a mandated consortium is at "
        "collaboration from its first month (**built in**), so it is not shown in the competing-risks curves.")

    eq = []
    for pt in pts:
        eq.append(
            f"Trust {pts[pt]:g}: Gini of benefit received over the 30 organizations, none "
            f"{ci(*(pv(pt, 'benefit_gini', 'none', c) for c in ('mean', 'low', 'high')), 3, sign=False)}"
            f"; minus none: mandate {dtxt(pt, 'benefit_gini', 'mandate', 3)},"
            f" patient {dtxt(pt, 'benefit_gini', 'patient', 3)}"
            f", staged {dtxt(pt, 'benefit_gini', 'staged', 3)}. Worst-off sector's benefit share relative to its share "
            f"of organizations: none {pv(pt, 'sector_benefit_min', 'none'):.2f}, mandate "
            f"{pv(pt, 'sector_benefit_min', 'mandate'):.2f}, patient {pv(pt, 'sector_benefit_min', 'patient'):.2f}, "
            f"staged {pv(pt, 'sector_benefit_min', 'staged'):.2f}. Share of organizations with a net loss over ten "
            f"years: none {100 * pv(pt, 'loss_share', 'none'):.1f}%, "
            f"mandate {100 * pv(pt, 'loss_share', 'mandate'):.1f}% "
            f"({dtxt(pt, 'loss_share', 'mandate', 1, True)}).")
    n["equity_text"] = (
        "Per community, the Gini coefficient of what each organization received (`sim.community_rules.gini`, "
        "recomputed from the organization table and checked against the engine's `benefit_gini`), the Gini of "
        "net payoff (floored at 0), the worst-off sector's benefit share, and the share of organizations who "
        "lost money; mean over communities with BCa 95% CI, paired against none (Holm; `tables/profile.csv`, "
        "`figures/equity.png`). " + " ".join(eq) + " **Emergent**: who gets into the partnerships that last "
        "passes through formation and acceptance; that `mandate` covers two sectors in each consortium is "
        "**built in** (call_sectors).")
    return n


def _km(comp: pd.DataFrame, pt: int, origin: str, months: int) -> str:
    r = comp[(comp["point"] == pt) & (comp["origin"] == origin)]
    if not len(r):
        return "n/a"
    r = r.iloc[0]
    c = f"alive_{months}"
    return f"{100 * r[f'{c}_months_after_forming']:.0f}% [{100 * r[f'{c}_low']:.0f}, {100 * r[f'{c}_high']:.0f}]"


def hcap_verdict(n: dict[str, Any]) -> str:
    """One sentence: does partner choice close the gap to HCAP's 68% sustained? (from the survival at 84 months)."""
    comp = n["competing"]
    lo_pt, hi_pt = n["profile_points"]
    tr = {pt: n["data"].points[pt]["initial_trust"] for pt in (lo_pt, hi_pt)}

    def s84(pt: int, origin: str) -> float:
        r = comp[(comp["point"] == pt) & (comp["origin"] == origin)]
        return float(r["alive_84_months_after_forming"].iloc[0]) if len(r) else math.nan

    lo, hi = s84(lo_pt, HCAP), s84(hi_pt, HCAP)
    if lo >= 0.5:
        head = "Letting the applicants choose their partners closes most of the gap to HCAP's 68% sustained"
    elif hi >= 0.6:
        head = ("Letting the applicants choose their partners does not close the gap to HCAP's 68% sustained where "
                "the community does not yet trust; it comes near HCAP only where trust is already high")
    else:
        head = ("Letting the applicants choose their partners does not close the gap to HCAP's 68% sustained, at "
                "low trust or at high")
    return (f"{head}: {100 * lo:.0f}% of `applicant_led` consortia are alive 84 months after forming at initial "
            f"trust {tr[lo_pt]:g} ({100 * s84(lo_pt, MANDATE):.0f}% of `mandate`'s), {100 * hi:.0f}% at "
            f"{tr[hi_pt]:g} ({100 * s84(hi_pt, MANDATE):.0f}% of `mandate`'s)")


def hcap_lines(n: dict[str, Any]) -> list[str]:
    """Section 7: applicant_led against mandate and the others, its consortia's survival, and the trust its leads
    find (the test of the conjecture that HCAP's consortia lasted because the providers chose their partners)."""
    tab, comp, data, ct = n["table"], n["competing"], n["data"], n["consortium_trust"]
    roles = data.roles
    grid = roles[roles["role"] == "grid"]
    lo_pt, hi_pt = n["profile_points"]
    pts = {lo_pt: data.points[lo_pt]["initial_trust"], hi_pt: data.points[hi_pt]["initial_trust"]}

    def h(pt: int, b: str, outcome: str = "cumulative_benefit") -> Any:
        return tab[(tab["point"] == pt) & (tab["a"] == HCAP) & (tab["b"] == b) & (tab["outcome"] == outcome)].iloc[0]

    def cell(r: Any) -> str:
        return ci(r.difference, r.low, r.high) + ("" if r.significant_adjusted else " (n.s.)")

    L = ["## 7. The HCAP test: does letting the applicants choose their partners close the gap?", "",
         "HCAP required consortia and 68% of its coalitions were sustained years after funding; the model's "
         "`mandate` consortia do not survive at low trust (section 5). The conjecture: HCAP's providers chose "
         "their partners, while `mandate` assembles strangers. The arm `applicant_led` (docs/ODD.md 10.3) differs "
         "from `mandate` in that one rule: the same call (rung, size, sectors, deadline review, grant), the same "
         "lead applicant, but the lead fills the seats with the organizations it trusts most (the convener's "
         "invitation rule) instead of the funder's ranking; it runs on the same communities (common random "
         "numbers). The guide's advice behind it: \"an organizational relationship is built on many one-to-one "
         "relationships\". The rule is **built in**; what it does is **emergent**.", "",
         "Ten-year benefit, `applicant_led` minus each policy (mean of paired communities, 95% CI; Holm across the "
         f"{n['n_points']} points of each comparison; `tables/comparisons.csv`):", "",
         "| initial trust | prior ties | vs mandate | vs none | vs patient | vs staged |", "|---|---|---|---|---|---|"]
    for r in grid.sort_values(["initial_trust", "prior_ties"]).itertuples():
        L.append(f"| {r.initial_trust:g} | {r.prior_ties:g} | " + " | ".join(cell(h(r.point, b)) for b in HCAP_AGAINST)
                 + " |")
    g = grid["point"]
    vs_m = tab[(tab["a"] == HCAP) & (tab["b"] == MANDATE) & (tab["outcome"] == "cumulative_benefit")
               & tab["point"].isin(g)]
    better = vs_m[vs_m["significant_adjusted"] & (vs_m["difference"] > 0)]
    worse = vs_m[vs_m["significant_adjusted"] & (vs_m["difference"] < 0)]
    best_alt = tab[(tab["a"] == HCAP) & tab["b"].isin(["none", "patient", "staged"])
                   & (tab["outcome"] == "cumulative_benefit") & tab["point"].isin(g)]
    beats_all = best_alt.groupby("point").apply(
        lambda x: bool((x["significant_adjusted"] & (x["difference"] > 0)).all()), include_groups=False)
    trust_of = grid.set_index("point")["initial_trust"]
    def where(points: Any) -> str:
        levels = sorted({float(trust_of[p]) for p in points})
        return f" (initial trust {', '.join(f'{v:g}' for v in levels)})" if levels else ""

    L += ["", f"Across the {len(g)} grid points, choosing partners gathers significantly more than `mandate` at "
          f"{len(better)}{where(better['point'])}, less at {len(worse)}{where(worse['point'])}, and beats none, "
          f"patient and staged at once at {int(beats_all.sum())}{where(beats_all[beats_all].index)}. **Emergent.**",
          ""]
    # survival and the trust the leads find
    surv = []
    for pt in (lo_pt, hi_pt):
        surv.append(f"at trust {pts[pt]:g}, `applicant_led` consortia {_km(comp, pt, HCAP, 36)} alive 36 months "
                    f"after forming (the grant's term) and {_km(comp, pt, HCAP, 84)} at 84, against `mandate` "
                    f"{_km(comp, pt, MANDATE, 36)} and {_km(comp, pt, MANDATE, 84)}")
    L += ["**Survival** (Kaplan-Meier from forming, 95% CI; `tables/competing.csv`, `figures/hcap.png`): "
          + "; ".join(surv) + ". HCAP: 68% sustained. **Emergent.**", "", f"**{hcap_verdict(n)}.**", ""]
    why = []
    for pt in (lo_pt, hi_pt):
        m = ct[ct["point"] == pt].groupby("policy")[["lead_trust", "pair_trust", "ready", "worked"]].mean()
        why.append(f"at trust {pts[pt]:g}, the lead's mean trust in its partners is {m.loc[HCAP, 'lead_trust']:.2f} "
                   f"when it chooses them and {m.loc[MANDATE, 'lead_trust']:.2f} when the funder does; "
                   f"{100 * m.loc[HCAP, 'ready']:.0f}% of the chosen consortia's member pairs (both directions) "
                   f"trust each other enough for collaboration (need {NEED[4]:g}) against "
                   f"{100 * m.loc[MANDATE, 'ready']:.0f}% of the assembled ones, and "
                   f"{100 * m.loc[HCAP, 'worked']:.0f}% against {100 * m.loc[MANDATE, 'worked']:.0f}% have worked "
                   "together or networked before")
    L += ["**Why** (every new consortium of the first "
          f"{n['design'].replicates} communities at each profile point, recorded at its award; "
          "`tables/consortium_trust.csv`): "
          + "; ".join(why) + ". Choosing raises the trust the partners start with, but a lead can only choose from "
          "the trust its community has: where that trust is below collaboration's need, its most trusted partners "
          "are still below it, and a consortium forced to collaborate from day one fails as the strangers' did. "
          "**Emergent** (the trust available to choose from); that the consortium must play collaboration from "
          "day one is **built in** (the call's rung).", ""]
    return L


def literature(n: dict[str, Any]) -> list[str]:
    """The comparison with published results, with the model's own numbers."""
    comp, tab, data = n["competing"], n["table"], n["data"]
    lo_pt, hi_pt = n["profile_points"]
    pts = {lo_pt: data.points[lo_pt]["initial_trust"], hi_pt: data.points[hi_pt]["initial_trust"]}

    def surv(pt: int, origin: str, col: str) -> str:
        r = comp[(comp["point"] == pt) & (comp["origin"] == origin)]
        if not len(r):
            return "n/a"
        r = r.iloc[0]
        return f"{100 * r[col]:.0f}%"

    m_hi = _mt(tab, _pt(data.roles, "grid", pts[hi_pt], n["base_ties"]), "none")
    sh = n["shifts"]
    sh = sh[(sh["b"] == "none") & (sh["outcome"] == "cumulative_benefit")].set_index("setting")
    cap_text = "; ".join(
        f"{name}: the crossover against no funder moves {sh.loc[name, 'shift']:+.2f} "
        f"[{sh.loc[name, 'low']:+.2f}, {sh.loc[name, 'high']:+.2f}]"
        + ("" if sh.loc[name, "moves"] else " (not significant after Holm)")
        for name in ("capacity 2 memberships", "capacity 5 memberships") if name in sh.index)
    tight = float(sh.loc["capacity 2 memberships", "shift"]) if "capacity 2 memberships" in sh.index else math.nan
    direction = ("fewer memberships make mandating need more trust, in the direction of a bottleneck"
                 if tight > 0 else "fewer memberships do not make mandating need more trust")
    verdict = hcap_verdict(n)
    verdict = verdict[0].lower() + verdict[1:]
    patient_hi = comp[(comp["point"] == hi_pt) & (comp["policy"] == "patient") & (comp["origin"] == "convened")]
    return [
        "- **Bitterman & Koliba (2020)**, an agent-based model of water governance in the Lake Champlain Basin "
        "(P. Bitterman and C. J. Koliba, \"Modeling Alternative Collaborative Governance Network Designs: An "
        "Agent-Based Model of Water Governance in the Lake Champlain Basin, Vermont\", *Journal of Public "
        "Administration Research and Theory* 30(4): 636-655, doi:10.1093/jopart/muaa013), find that \"externally "
        "mandated collaboration, as opposed to voluntary, self-initiated collaboration, can lead to better water "
        "quality outcomes\" and that without adequate administrative capacity in central network actors to "
        "manage project funds, administrative bottlenecks arise. **Agrees** where trust is high: at initial trust "
        f"{pts[hi_pt]:g} mandating gathers {ci(m_hi.difference, m_hi.low, m_hi.high)} over no funder. "
        "**Disagrees** at the model's default trust, where mandating costs. Why: in their model a mandate "
        "allocates funds to projects through a regional network, and outcomes are project throughput; here "
        "benefit flows only while a partnership holds, and a mandated consortium must hold at collaboration "
        "(trust need 0.65) among organizations that may be strangers. On the bottleneck, the model's analogue is "
        f"the organizations' capacity for partnerships ({cap_text}): {direction}. The model has no grant "
        "administrators, so their bottleneck is not reproduced as such.",
        "- **HCAP** (NORC at the University of Chicago for ASPE, *An Assessment of the Sustainability and Impact "
        "of Community Coalitions once Federal Funding has Expired*, U.S. Department of Health and Human Services, "
        "2012): grants were given only to consortia (\"requiring collaboration\"), and \"113 (68%) of the 163 "
        "responding coalitions were sustained\" years after funding ended. The model's mandated consortia: "
        f"{surv(lo_pt, 'mandate', 'alive_84_months_after_forming')} alive 84 months after forming at trust "
        f"{pts[lo_pt]:g}, {surv(hi_pt, 'mandate', 'alive_84_months_after_forming')} at trust {pts[hi_pt]:g}. "
        "**Disagrees** at low trust, **agrees in direction** only at high trust. The conjecture that the gap is "
        "who chose the partners (HCAP's providers formed their consortia; `mandate` assembles strangers) is "
        f"tested in section 7: {verdict}. So the disagreement is about the trust the community starts "
        "with more than about who picks: \"many grantees within the initial cohorts of the HCAP program had a "
        "track record of building partnerships\" (same report), which is the model's high-trust end, where "
        "chosen and assembled consortia alike mostly hold. The HCAP pattern "
        "is the one the partnership model was calibrated to (docs/calibration.md), for a patient grant to a "
        "partnership that chose its members; the community's `patient` policy is that case"
        + (f" (self-formed partnerships at trust {pts[hi_pt]:g}: "
           f"{100 * patient_hi.iloc[0]['alive_84_months_after_forming']:.0f}% alive 84 months after forming)"
           if len(patient_hi) else "") + ".",
        "- **Feinberg, Bontempo & Greenberg (2008)** (\"Predictors and Level of Sustainability of Community "
        "Prevention Coalitions\", *American Journal of Preventive Medicine* 34(6): 495-501, "
        "doi:10.1016/j.amepre.2008.01.030): of 110 Communities That Care coalitions, 90% continued after the "
        "3-year initial funding, 3-8% terminated each year thereafter, and about two thirds operated 4 years after "
        "the grant; board functioning predicted survival. Communities That Care coalitions are convened with "
        "training and technical assistance, not assembled from strangers: the model's nearest arm is `staged` "
        f"(consortia funded at networking, then for collaboration once they climbed): "
        f"{surv(lo_pt, 'staged', 'alive_36_months_after_forming')}"
        f" of staged consortia alive 36 months after forming and "
        f"{surv(lo_pt, 'staged', 'alive_84_months_after_forming')} at "
        f"84 at trust {pts[lo_pt]:g}. Greenberg, Feinberg et al. (2007, PROSPER, *Journal of Primary Prevention* "
        "28: 485-504, doi:10.1007/s10935-007-0116-6) found team members' previous collaborative experience "
        "predicted early team functioning; in the model prior networking (prior ties) barely moves the outcomes "
        "(section 1), because a prior tie raises trust to at most 0.5, below collaboration's need, and only "
        "feeds gossip. **Agrees** on the shape of survival for funded, convened coalitions (it is calibrated: "
        "**built in**); **no test** of the functioning predictor (the model's success rate is not a lasting "
        "trait, docs/calibration.md).",
    ]


def tags_text(n: dict[str, Any]) -> list[str]:
    c = n["crossover"]
    c = c[(c["line"] == f"prior ties {n['base_ties']:g}") & (c["outcome"] == "cumulative_benefit")].set_index("b")
    return [
        "- **Built in**: mandate's consortia play collaboration from day one (the policy's rule); a rung's trust "
        f"need ({NEED[4]:g} for collaboration) and the loss of trust on failure being faster than its gain; the "
        "slots (8) and memberships (3) that cap durable collaborations; one formation a month; gossip only between "
        f"strangers; mandate's sector coverage; `applicant_led`'s choice of partners by the lead's trust, with "
        "every invitee joining. That mandating beats no funder from about trust "
        f"{c.loc['none', 'crossing']:.2f}, next to collaboration's need of {NEED[4]:g}, is therefore largely built "
        "in: below the need a consortium of strangers at collaboration fails.",
        "- **Emergent**: how much each policy gathers over ten years, and the extra trust mandating needs to beat "
        f"staged money (crossover {c.loc['staged', 'crossing']:.2f}, not a constant of any rule); that failed "
        "mandated consortia thin the trust network of the whole community after the money stops; which funder "
        "consortia displace self-formed partnerships and which do not; how budget, capacity, gossip, cultural "
        "distance and the deadline move the crossover; who gets the benefit (equity); how long funded "
        "partnerships live and so how much of the budget is spent; whether letting the applicants choose their "
        "partners helps (section 7), which depends on the trust there is to choose from.",
    ]


def write_outputs(n: dict[str, Any], d: Design, data: RunData) -> list[tuple[str, Path, str]]:
    """Tables and figures; returns the figures (title, png path, caption) for the report."""
    tables, figs = OUT / "tables", OUT / "figures"
    pts = pd.DataFrame([{"point": i, **p} for i, p in enumerate(data.points)])
    meta = data.roles.merge(pts.drop(columns=["initial_trust", "prior_ties"], errors="ignore"), on="point")
    cmp = n["table"].merge(data.roles.drop_duplicates("point")[["point", "role", "setting", "initial_trust",
                                                                 "prior_ties"]], on="point")
    out = {"comparisons": cmp, "region": n["region"].merge(data.roles.drop_duplicates("point"), on="point"),
           "crossover": n["crossover"], "profile": n["profile"], "return": n["return"],
           "competing": n["competing"], "durable_origin": n["durable_origin"], "design_points": meta,
           "self_formed": n["self_formed"], "crossover_shift": n["shifts"],
           "consortium_trust": n["consortium_trust"],
           "stages": pd.DataFrame(data.stages)}
    for name, t in out.items():
        write_bytes_atomic(tables / f"{name}.csv", t.to_csv(index=False, float_format="%.6g").encode())
    lo_pt, hi_pt = n["profile_points"]
    made = []

    def save(fig: Any, stem: str, title: str, caption: str, dpi: float | None = None) -> None:
        if dpi is None:
            save_figure(fig, figs / stem)
        else:  # the network pictures: thousands of lines, so a lower resolution keeps the PNG small
            save_figure(fig, figs / stem, formats=("svg",))
            write_bytes_atomic(figs / f"{stem}.png", figure_bytes(fig, "png", dpi=dpi))
        made.append((title, figs / f"{stem}.png", caption))

    for pt in (lo_pt, hi_pt):
        rep = typical_replicate(data.runs, pt)
        tr = data.points[pt]["initial_trust"]
        save(plot_network(point_params(d, data.points[pt]), d.seed, rep, d.n_steps), f"network_trust_{tr:g}",
             f"A typical community at trust {tr:g}", "The same community (seed) under each policy at months 0, 36 "
             "and 120: organizations by sector, ties between partners coloured by the rung their partnership played.",
             dpi=110)
    save(plot_curves(data, [lo_pt, hi_pt]), "curves", "Outcome curves",
         "Mean and 95% band of the community series per policy at the two profile communities.")
    save(plot_region(n["table"], n["region"], data.roles), "region", "Where mandating pays",
         "Paired differences mandate minus each alternative over initial trust x prior ties, and the region.")
    save(plot_region(n["table"], n["region"], data.roles, "net_benefit"), "region_net", "Where mandating pays (net)",
         "As the region figure, on net benefit.")
    save(plot_crossovers(n["crossover"]), "crossover", "Crossovers per setting",
         "The initial trust from which mandating beats each alternative, per setting, with bootstrap 95% CI.")
    save(plot_capacity(n["profile"], data.points), "capacity", "Collaborative capacity after the money stops",
         "Share of pairs whose trust meets each rung's need at month 120.")
    save(plot_competing(n["events"], data.points, d.n_steps), "competing", "Formed and died",
         "Time to collaboration with dissolution competing, partnerships the organizations convened.")
    save(plot_hcap(n["events"], data.points, d.n_steps), "hcap", "The HCAP test",
         "Survival of the consortia the funder required: assembled by the funder (mandate) or chosen by the lead "
         "applicant (applicant_led), against HCAP's 68% sustained.")
    save(plot_equity(n["profile"], data.points), "equity", "Equity", "Gini of benefit and payoff; worst-off sector.")
    return made


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    ap.add_argument("--replicates", type=int, default=None,
                    help="override the fixed replicates; no precision stage (a quick look)")
    ap.add_argument("--config", type=Path, default=CONFIG, help="the design (default experiments/community.toml)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    started = now_iso()
    d = load_design(args.config, replicates=args.replicates)
    print("1/4 community runs (cached in results/community/runs/)", flush=True)
    data, cached = cached_run(d, args.workers)
    sim_seconds = time.perf_counter() - t0
    print(f"    done in {sim_seconds:.0f} s ({data.n_runs_simulated:,} communities{', cached' if cached else ''})",
          flush=True)
    print("2/4 statistics", flush=True)
    n = analyse(d, data, cached, t0, args.workers, started)
    n["sim_seconds"] = sim_seconds
    n["answer"] = answer_text(n)
    n["literature"] = literature(n)
    n["tags"] = tags_text(n)
    print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)
    print("3/4 tables and figures", flush=True)
    figures = write_outputs(n, d, data)
    print("4/4 findings and report", flush=True)
    n["elapsed"] = time.perf_counter() - t0
    n["load"] = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    text = findings_text(n)
    write_bytes_atomic(OUT / "findings.md", text.encode())
    manifest = {"study": "community", "started": started, "finished": now_iso(),
                "elapsed_seconds": round(time.perf_counter() - t0, 1), "simulation_seconds": data.seconds,
                "simulation_load_average": data.load,
                "cached": cached, "load_average": n["load"], "workers": args.workers, "design": d.to_dict(),
                "communities_simulated": data.n_runs_simulated, "stages": data.stages,
                "parameters": sim.Params().to_dict(), **provenance()}
    write_json_atomic(OUT / "manifest.json", manifest)
    write_bytes_atomic(OUT / "report.html", report_html(text, figures, manifest).encode())
    print(f"wrote {OUT}/findings.md, report.html, figures/, tables/ in {time.perf_counter() - t0:.0f} s "
          f"(load {n['load']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
