"""Calibrate the exit rule's constants to the survival of funded community coalitions (issue 7).

Pattern-oriented modelling: the target is a pattern of partnership survival,
Feinberg, Bontempo & Greenberg (2008, Am J Prev Med 34(6):495-501): of 110
funded Communities That Care coalitions in Pennsylvania about 90% were still
operating at the end of their 3-year grant, 3-8% ended in each later year, and
about two thirds were still operating four years after the grant ended. The
model's setting is ``funder_patient`` with ``grant_term`` 36, monthly steps,
observed to step 84.

Stages (every number of docs/calibration.md is printed here):

1. The calibration sweep, experiments/calibration.toml: the same Latin
   hypercube points and run seeds as ``trustladder sweep`` (run in-process,
   or read from a finished sweep with ``--sweep-results``).
2. Refinement per quorum class (how many of the 6 founders must remain):
   Nelder-Mead over exit_base, exit_gap, identity_weight on common random
   numbers, and a one-parameter fit that scales the reference exit rule as a
   whole (keeping its proportions).
3. Round values: candidates with 1 or 2 significant digits, or the reference
   value; the fewest changed constants and the roundest values within one
   loss unit of the best candidate.
4. Verification on fresh seeds (8,000 runs): reference and calibrated model.
5. Robustness over initial_trust (0.15..0.5), n_orgs and leadership, and whether
   trust at the grant's end predicts survival after it.
6. The reference specification's qualitative results (docs/ODD.md, section 9) with the reference and calibrated
   constants.

Run from the project root::

    .venv/bin/python experiments/calibrate.py
    .venv/bin/python experiments/calibrate.py --json results/calibration/calibration.json
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from scipy.optimize import minimize

import sim
from sim.params import PARAMETERS
from sim.rules import quorum_size
from sim.sweep import SpecError, build_design, load_results, load_spec
from sim.sweep.plan import run_ids_for, seeds_for

SPEC_PATH = Path(__file__).with_name("calibration.toml")

# --- the target pattern (Feinberg, Bontempo & Greenberg 2008) -----------------------------------------------
N_SITES = 110  # coalitions followed: sets the targets' own sampling uncertainty
GRANT_TERM = 36
HORIZON = 84  # four years after the grant ended
S36_TARGET = 0.90  # share still operating at the end of the 3-year grant
S84_TARGET = 0.67  # "about two thirds" four years after the grant ended
HAZARD_BAND = (0.03, 0.08)  # share of those operating at the start of a later year that end during it
YEARS = ((36, 48), (48, 60), (60, 72), (72, 84))  # model years 4..7 as (start, end] steps
STRATEGY = "funder_patient"

#: The reference values of the constants calibrated here (passed explicitly, so the "reference" column
#: stays reproducible after the defaults change).
REFERENCE = {"exit_base": 0.007, "exit_gap": 0.3, "quorum": 0.5, "identity_weight": 0.005}
#: This script's result, to be applied in sim/params.py (the script re-derives it and says if it differs).
CALIBRATED = {"exit_base": 0.0012, "exit_gap": 0.05, "quorum": 0.9, "identity_weight": 0.0009}
#: Practice levers and study settings: never calibrated.
LEVERS = ("leadership", "communication", "ground_rules", "cultural_learning", "celebration", "initial_trust",
          "deadline", "identity", "individualism", "grant", "grant_term", "benefit_target", "n_orgs",
          "cultural_distance", "strategy", "n_steps", "forced_level", "fixed_level", "schedule_interval")

# --- seeds and sizes of the later stages (stage 1 takes its own from the TOML) -------------------------------
REFINE_SEED, REFINE_RUNS, REFINE_MAXFEV = 101, 1000, 40
SCALE_GRID = np.round(np.arange(0.06, 0.4001, 0.02), 3)  # multiples of the reference exit rule (coarse pass)
FINE_SEED, FINE_RUNS, FINE_STEP = 102, 4000, 0.005  # the chosen class: scale to +-0.02 of the coarse best
ROUND_SEED, ROUND_RUNS = 202, 4000
VERIFY_SEED, VERIFY_RUNS = 303, 8000
ROBUST_SEED, ROBUST_RUNS, ROBUST_TRUST = 404, 4000, (0.15, 0.3, 0.5)
ROBUST_ORGS = (4, 6, 10, 20)  # quorum's classes depend on n_orgs: how the pattern moves with size
ROBUST_LEADERSHIP = (0.2, 0.5, 0.8)  # a lever of "coalition functioning": does it still move survival?
PREDICT_SEED, PREDICT_RUNS = 606, 8000  # does trust at the grant's end predict survival after it?
QUAL_SEED, QUAL_RUNS = 505, 4000
LOSS_TOLERANCE = 1.0  # one loss unit = one target standard deviation squared: inside the data's own noise


class CalibrationError(ValueError):
    """A calibration spec that cannot be used for this calibration."""


# --- targets and loss ----------------------------------------------------------------------------------------


def target_survival(step: float) -> float:
    """The target's survival curve between the two anchors: constant hazard from S(36) to S(84)."""
    return S36_TARGET * (S84_TARGET / S36_TARGET) ** ((step - GRANT_TERM) / (HORIZON - GRANT_TERM))


def target_sds() -> tuple[float, float, np.ndarray]:
    """Sampling standard deviations of the targets, as estimated from 110 coalitions.

    S(36) and S(84): binomial with n = 110. A yearly hazard: binomial with the
    coalitions at risk at the start of the year (110 x the target survival
    then) and the middle of the 3-8% band. These are lower bounds (they leave
    out any censoring or measurement error in the study), so they weigh the
    terms against each other rather than set absolute limits.
    """
    sd36 = math.sqrt(S36_TARGET * (1 - S36_TARGET) / N_SITES)
    sd84 = math.sqrt(S84_TARGET * (1 - S84_TARGET) / N_SITES)
    mid = sum(HAZARD_BAND) / 2
    at_risk = np.array([N_SITES * target_survival(a) for a, _ in YEARS])
    return sd36, sd84, np.sqrt(mid * (1 - mid) / at_risk)


def survival_at(dissolved_step: np.ndarray, step: int) -> np.ndarray:
    """Share of runs (last axis) not dissolved by the end of ``step`` (NaN = never dissolved)."""
    return np.mean(~(dissolved_step <= step), axis=-1)


def yearly_hazards(dissolved_step: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditional yearly hazards of years 4..7: (hazard, deaths, at risk), each with a last axis of 4.

    Operationalized as: of the runs operating at the end of step ``a`` (not
    dissolved by then), the share that dissolve during steps ``a+1 .. a+12``;
    ``a`` = 36, 48, 60, 72. NaN when none is at risk.
    """
    ds = np.asarray(dissolved_step, dtype=float)
    at_risk = np.stack([np.sum(~(ds <= a), axis=-1) for a, _ in YEARS], axis=-1)
    deaths = np.stack([np.sum((ds > a) & (ds <= b), axis=-1) for a, b in YEARS], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        hazard = np.where(at_risk > 0, deaths / np.maximum(at_risk, 1), np.nan)
    return hazard, deaths, at_risk


def loss(s36: np.ndarray | float, s84: np.ndarray | float, hazards: np.ndarray) -> np.ndarray:
    """Squared distance to the pattern in target standard deviations (0 = on every target).

    Terms: S(36) - 0.90 and S(84) - 0.67, and for each of years 4..7 how far
    the hazard lies outside the 3-8% band (0 inside it). A year with nobody at
    risk counts as far outside (hazard 1).
    """
    sd36, sd84, sdh = target_sds()
    h = np.nan_to_num(np.asarray(hazards, dtype=float), nan=1.0)
    outside = h - np.clip(h, *HAZARD_BAND)
    return ((np.asarray(s36) - S36_TARGET) / sd36) ** 2 + ((np.asarray(s84) - S84_TARGET) / sd84) ** 2 + np.sum(
        (outside / sdh) ** 2, axis=-1)


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass
class Pattern:
    """The model's survival pattern from one batch of runs, with 95% Wilson intervals."""

    n: int
    s36: float
    s84: float
    s36_ci: tuple[float, float]
    s84_ci: tuple[float, float]
    hazards: np.ndarray
    hazard_ci: list[tuple[float, float]]
    at_risk: np.ndarray
    loss: float
    survival_by_year: dict[int, float] = field(default_factory=dict)

    @classmethod
    def from_dissolved(cls, ds: np.ndarray) -> Pattern:
        ds = np.asarray(ds, dtype=float)
        n = ds.size
        k36, k84 = int(np.sum(~(ds <= 36))), int(np.sum(~(ds <= 84)))
        h, deaths, at_risk = yearly_hazards(ds)
        hci = [wilson(d, r) if r > 0 else (math.nan, math.nan) for d, r in zip(deaths, at_risk, strict=True)]
        s36, s84 = k36 / n, k84 / n
        return cls(n, s36, s84, wilson(k36, n), wilson(k84, n), h, hci, at_risk, float(loss(s36, s84, h)),
                   {t: float(survival_at(ds, t)) for t in range(12, HORIZON + 1, 12)})

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "S36": self.s36, "S36_ci": self.s36_ci, "S84": self.s84, "S84_ci": self.s84_ci,
                "hazards": self.hazards.tolist(), "hazard_ci": self.hazard_ci, "at_risk": self.at_risk.tolist(),
                "loss": self.loss, "survival_by_year": self.survival_by_year}


# --- running the model ---------------------------------------------------------------------------------------


def load_calibration_spec(path: str | Path = SPEC_PATH):
    """Read the sweep spec (checked by :func:`sim.sweep.load_spec`) and check it fits this calibration."""
    try:
        spec = load_spec(path)
    except SpecError as exc:
        raise CalibrationError(str(exc)) from None
    problems = []
    if list(spec.strategies) != [STRATEGY]:
        problems.append(f"strategies = {list(spec.strategies)!r}: the target pattern is for [{STRATEGY!r}] only")
    if spec.n_steps < HORIZON:
        problems.append(f"n_steps = {spec.n_steps}: must be >= {HORIZON} (survival four years after the grant)")
    if spec.base.get("grant_term", PARAMETERS["grant_term"].default) != GRANT_TERM:
        problems.append(f"base.grant_term = {spec.base.get('grant_term')!r}: the target's grant lasts {GRANT_TERM}")
    if spec.sampling.method not in ("lhs", "sobol", "morris"):
        problems.append(f"sampling.method = {spec.sampling.method!r}: use a sampled method (lhs) with {{min, max}}")
    if spec.replicates is None:
        problems.append("replicates: give a fixed number of replicates (a [precision] table is not supported here)")
    for f in spec.factors:
        if f.name in LEVERS:
            problems.append(f"factors.{f.name}: a lever or study setting, not a rule constant; calibrate rule "
                            f"constants only (not: {', '.join(LEVERS)})")
    if "quorum" in spec.factor_names and "n_orgs" not in spec.base:
        problems.append("base.n_orgs: pin it when quorum is a factor (quorum's classes depend on n_orgs)")
    if problems:
        raise CalibrationError(f"{path}: " + "; ".join(problems))
    return spec


def setting(spec) -> dict[str, Any]:
    """The fixed parameters of every calibration run: the spec's base, strategy and horizon."""
    return {**spec.base, "strategy": STRATEGY, "n_steps": HORIZON}


def dissolved_steps(seeds: np.ndarray, params: Mapping[str, Any], base: Mapping[str, Any]) -> np.ndarray:
    r = sim.simulate(seeds=seeds, keep=[], **{**base, **params})
    return r.summary["dissolved_step"].to_numpy(dtype=float)


def run_stage1(spec, sweep_results: Path | None = None) -> tuple[Any, np.ndarray]:
    """The sweep's points and dissolved_step per (point, replicate), as ``trustladder sweep`` runs them."""
    design = build_design(spec)
    n_points, reps = design.n_points, int(spec.replicates)
    if sweep_results is not None:
        res = load_results(sweep_results)
        if res.manifest.get("spec_hash") != spec.hash():
            raise CalibrationError(f"{sweep_results}: its spec differs from {spec.path} (spec_hash mismatch)")
        if res.manifest.get("status") != "complete":
            raise CalibrationError(f"{sweep_results}: the sweep is not complete (resume it first)")
        runs = res.runs
        ds = np.full((n_points, reps), np.nan)
        dstep = runs["dissolved_step"].to_numpy(dtype=float)
        if spec.n_steps > HORIZON:
            dstep = np.where(dstep > HORIZON, np.nan, dstep)
        ds[runs["point_id"].to_numpy(), runs["replicate"].to_numpy()] = dstep
        return design, ds
    # run_id = replicate * n_points + point (one strategy): the sweep's own ids and seeds.
    run_ids = run_ids_for(n_points, np.zeros(n_points, dtype=np.int64), np.full(n_points, reps))
    seeds = seeds_for(spec.seed, run_ids)
    point = run_ids % n_points
    params = {name: design.points[name].to_numpy()[point] for name in design.factors}
    ds = dissolved_steps(seeds, params, setting(spec))
    return design, ds.reshape(reps, n_points).T


# --- stage 2: refinement -------------------------------------------------------------------------------------


def quorum_class(quorum: float | np.ndarray, n_orgs: int) -> np.ndarray:
    """Members that must remain (the engine's own rule, sim.rules.quorum_size)."""
    return quorum_size(np.asarray(quorum, dtype=float), n_orgs)


def quorum_representative(members: int, n_orgs: int, low: float, high: float) -> float:
    """The roundest quorum in [low, high] giving ``members``: the reference value if it does, else the
    value with fewest decimals, nearest the middle of the class."""
    if low <= REFERENCE["quorum"] <= high and quorum_class(REFERENCE["quorum"], n_orgs) == members:
        return REFERENCE["quorum"]
    for decimals in (1, 2, 3):
        grid = np.round(np.arange(0, 1 + 1e-9, 10.0 ** -decimals), decimals)
        ok = grid[(grid >= low) & (grid <= high) & (quorum_class(grid, n_orgs) == members)]
        if ok.size:
            mid = ok.mean()
            return float(ok[np.argmin(np.abs(ok - mid))])
    raise CalibrationError(f"no quorum in [{low}, {high}] keeps {members} of {n_orgs} members")


def evaluate(params: Mapping[str, float], seeds: np.ndarray, base: Mapping[str, Any]) -> Pattern:
    return Pattern.from_dissolved(dissolved_steps(seeds, params, base))


def refine_free(start: Mapping[str, float], quorum: float, bounds: Mapping[str, tuple[float, float]],
                seeds: np.ndarray, base: Mapping[str, Any]) -> tuple[dict[str, float], float, int]:
    """Nelder-Mead over the continuous factors (quorum held), on common random numbers, inside the bounds."""
    names = [n for n in bounds if n != "quorum"]
    lo = np.array([bounds[n][0] for n in names])
    hi = np.array([bounds[n][1] for n in names])

    def to_params(u: np.ndarray) -> dict[str, float]:
        x = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
        return {**dict(zip(names, x.tolist(), strict=True)), "quorum": quorum}

    def objective(u: np.ndarray) -> float:
        return evaluate(to_params(u), seeds, base).loss

    u0 = np.array([(start[n] - bounds[n][0]) / (bounds[n][1] - bounds[n][0]) for n in names])
    simplex = [u0] + [u0 + np.where(np.arange(len(names)) == i, 0.1 if u0[i] < 0.9 else -0.1, 0.0)
                      for i in range(len(names))]
    res = minimize(objective, u0, method="Nelder-Mead",
                   options={"initial_simplex": np.array(simplex), "maxfev": REFINE_MAXFEV, "xatol": 0.005,
                            "fatol": 0.05})
    return to_params(res.x), float(res.fun), int(res.nfev)


def refine_scale(quorum: float, seeds: np.ndarray, base: Mapping[str, Any],
                 grid: Sequence[float] = SCALE_GRID) -> tuple[float, dict[str, float], float]:
    """Best multiple c in ``grid`` of the reference exit rule (exit_base, exit_gap, identity_weight all times c)."""
    best = (math.nan, {}, math.inf)
    for c in grid:
        p = {**scaled_reference(float(c)), "quorum": quorum}
        value = evaluate(p, seeds, base).loss
        if value < best[2]:
            best = (float(c), p, value)
    return best


#: The exit rule's pressures, scaled together by refine_scale.
SCALED = ("exit_base", "exit_gap", "identity_weight")


def scaled_reference(c: float) -> dict[str, float]:
    return {n: REFERENCE[n] * c for n in SCALED}


# --- stage 3: round values -----------------------------------------------------------------------------------


def round_sig(x: float, digits: int) -> float:
    """``x`` to ``digits`` significant digits (0 stays 0)."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def significant_digits(x: float) -> int:
    if x == 0:
        return 1
    return len(f"{x:.10g}".lstrip("-0.").replace(".", "").rstrip("0")) or 1


def round_candidates(point: Mapping[str, float], quorum: float) -> list[dict[str, float]]:
    """Each continuous constant at 1 or 2 significant digits or at its reference value; quorum held."""
    names = [n for n in point if n != "quorum"]
    options = [sorted({round_sig(point[n], 1), round_sig(point[n], 2), reference_value(n)}) for n in names]
    return [{**dict(zip(names, combo, strict=True)), "quorum": quorum} for combo in itertools.product(*options)]


def reference_value(name: str) -> float:
    """The reference value of a rule constant (REFERENCE, else the vocabulary's default)."""
    return REFERENCE.get(name, PARAMETERS[name].default)


def changed(params: Mapping[str, float]) -> list[str]:
    return [n for n, v in params.items() if not math.isclose(v, reference_value(n), rel_tol=1e-12)]


def choose_round(scored: Sequence[tuple[dict[str, float], float]]) -> tuple[dict[str, float], float]:
    """Fewest changed constants, then fewest significant digits, then lowest loss, among the candidates
    within LOSS_TOLERANCE of the best."""
    best = min(v for _, v in scored)
    admissible = [(p, v) for p, v in scored if v <= best + LOSS_TOLERANCE]
    return min(admissible, key=lambda pv: (len(changed(pv[0])),
                                           sum(significant_digits(x) for x in pv[0].values()), pv[1]))


# --- stages 5-6: robustness and qualitative checks -----------------------------------------------------------


def robustness(params: Mapping[str, float], base: Mapping[str, Any], name: str = "initial_trust",
               values: Sequence[Any] = ROBUST_TRUST) -> dict[Any, Pattern]:
    """The pattern at each value of one setting (same seeds for every value)."""
    seeds = sim.rng.run_seeds(ROBUST_SEED, ROBUST_RUNS)
    return {v: evaluate(params, seeds, {**base, name: v}) for v in values}


def trust_predicts_survival(params: Mapping[str, float], base: Mapping[str, Any]) -> dict[str, float]:
    """Feinberg et al.'s predictor, in the model: among runs operating at step 36, does mean trust then
    (the model's "coalition functioning") predict operating at step 84? Spearman correlation, and the
    survival of the lowest and highest quartile of trust."""
    r = sim.simulate(n_runs=PREDICT_RUNS, seed=PREDICT_SEED, keep=["mean_trust"], **{**base, **params})
    ds = r.summary["dissolved_step"].to_numpy(dtype=float)
    alive = ~(ds <= GRANT_TERM)
    trust = r.series("mean_trust")[alive, GRANT_TERM - 1]
    survived = ~(ds[alive] <= HORIZON)
    lo, hi = np.quantile(trust, [0.25, 0.75])
    rho = stats.spearmanr(trust, survived)
    return {"n": int(alive.sum()), "spearman": float(rho.statistic), "p": float(rho.pvalue),
            "S84_low_trust_quartile": float(survived[trust <= lo].mean()),
            "S84_high_trust_quartile": float(survived[trust >= hi].mean())}


def qualitative(params: Mapping[str, float]) -> dict[str, Any]:
    """The reference specification's qualitative results (120 steps, every other parameter at its default)."""
    def batch(offset: int, strategy: str, trust: float):
        return sim.simulate(n_runs=QUAL_RUNS, seed=QUAL_SEED + offset, strategy=strategy, initial_trust=trust,
                            keep=["benefit"], **params)

    sw3, ff3 = batch(0, "stepwise", 0.3), batch(1, "funder_forced", 0.3)
    sw85, ff85 = batch(2, "stepwise", 0.85), batch(3, "funder_forced", 0.85)
    out: dict[str, Any] = {}
    for key, r in (("stepwise_0.3", sw3), ("funder_forced_0.3", ff3)):
        s = r.summary
        k120, k36 = int(s["dissolved"].sum()), int((s["dissolved_step"] <= 36).sum())
        out[f"{key}_dissolved_120"] = (k120 / len(s), wilson(k120, len(s)))
        out[f"{key}_dissolved_36"] = (k36 / len(s), wilson(k36, len(s)))
    test = stats.fisher_exact([[int(ff3.summary["dissolved"].sum()), QUAL_RUNS - int(ff3.summary["dissolved"].sum())],
                               [int(sw3.summary["dissolved"].sum()), QUAL_RUNS - int(sw3.summary["dissolved"].sum())]],
                              alternative="greater")
    out["forced_vs_stepwise_0.3_fisher_p"] = float(test.pvalue)
    b_ff = ff85.series("benefit")[:, :24].sum(axis=1)
    b_sw = sw85.series("benefit")[:, :24].sum(axis=1)
    out["benefit24_0.85_forced"] = float(b_ff.mean())
    out["benefit24_0.85_stepwise"] = float(b_sw.mean())
    out["benefit24_0.85_ratio"] = float(b_ff.mean() / b_sw.mean())
    out["benefit24_0.85_mannwhitney_p"] = float(stats.mannwhitneyu(b_ff, b_sw, alternative="greater").pvalue)
    s = sw3.summary
    reached = s["first_step_level_4"].notna().to_numpy()
    ds = s["dissolved_step"].to_numpy(dtype=float)
    first = s["first_step_level_4"].to_numpy(dtype=float)
    died_first = ~reached & ~np.isnan(ds)
    out["stepwise_0.3_reached_collaboration"] = (float(reached.mean()), wilson(int(reached.sum()), len(s)))
    out["stepwise_0.3_dissolved_before_collaboration"] = float(died_first.mean())
    out["stepwise_0.3_neither"] = float((~reached & np.isnan(ds)).mean())
    out["stepwise_0.3_median_step_collaboration"] = float(np.nanmedian(first))
    return out


# --- report --------------------------------------------------------------------------------------------------


def fmt_params(p: Mapping[str, float]) -> str:
    return ", ".join(f"{n}={v:.4g}" for n, v in p.items())


def fmt_pattern(p: Pattern) -> str:
    return (f"S36={p.s36:.3f} S84={p.s84:.3f} h4..7=" + " ".join(f"{h:.3f}" for h in p.hazards)
            + f" loss={p.loss:.2f}")


def print_pattern_table(rows: Sequence[tuple[str, Pattern]]) -> None:
    sd36, sd84, sdh = target_sds()
    head = f"  {'quantity':<26}{'target':>16}" + "".join(f"{name:>26}" for name, _ in rows)
    print(head)

    def line(label: str, target: str, cells: list[str]) -> None:
        print(f"  {label:<26}{target:>16}" + "".join(f"{c:>26}" for c in cells))

    line("S(36)", f"{S36_TARGET:.2f} +-{sd36:.3f}",
         [f"{p.s36:.3f} [{p.s36_ci[0]:.3f}, {p.s36_ci[1]:.3f}]" for _, p in rows])
    line("S(84)", f"{S84_TARGET:.2f} +-{sd84:.3f}",
         [f"{p.s84:.3f} [{p.s84_ci[0]:.3f}, {p.s84_ci[1]:.3f}]" for _, p in rows])
    for i, (a, b) in enumerate(YEARS):
        line(f"hazard year {a // 12 + 1} ({a + 1}-{b})", f"0.03-0.08 +-{sdh[i]:.3f}",
             [f"{p.hazards[i]:.3f} [{p.hazard_ci[i][0]:.3f}, {p.hazard_ci[i][1]:.3f}]" for _, p in rows])
    line("loss", "0", [f"{p.loss:.2f}" for _, p in rows])
    line("distance S(36) in SDs", "0", [f"{(p.s36 - S36_TARGET) / sd36:+.2f}" for _, p in rows])
    line("distance S(84) in SDs", "0", [f"{(p.s84 - S84_TARGET) / sd84:+.2f}" for _, p in rows])
    for name, p in rows:
        years = " ".join(f"{v:.3f}" for v in p.survival_by_year.values())
        print(f"  survival at the end of years 1..7, {name}: {years}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", type=Path, default=SPEC_PATH, help="calibration sweep spec (default: %(default)s)")
    ap.add_argument("--sweep-results", type=Path, help="read stage 1 from a finished `trustladder sweep` folder")
    ap.add_argument("--json", type=Path, help="also write every printed number to this JSON file (atomically)")
    args = ap.parse_args(argv)
    t_all = time.perf_counter()
    record: dict[str, Any] = {}
    spec = load_calibration_spec(args.spec)
    base = setting(spec)
    n_orgs = int(base.get("n_orgs", PARAMETERS["n_orgs"].default))
    bounds = {f.name: (f.low, f.high) for f in spec.factors}
    sd36, sd84, sdh = target_sds()
    print("Target (Feinberg, Bontempo & Greenberg 2008; 110 CTC coalitions), setting:", base)
    print(f"  S(36) = {S36_TARGET} (sd {sd36:.4f}), S(84) = {S84_TARGET} (sd {sd84:.4f}), conditional yearly "
          f"hazard in years 4..7 within {HAZARD_BAND} (sd {', '.join(f'{x:.4f}' for x in sdh)})")

    # Stage 1
    t = time.perf_counter()
    design, ds = run_stage1(spec, args.sweep_results)
    h, _, _ = yearly_hazards(ds)
    s36, s84 = survival_at(ds, 36), survival_at(ds, 84)
    L = loss(s36, s84, h)
    pts = design.points
    members = quorum_class(pts["quorum"].to_numpy(), n_orgs) if "quorum" in pts else np.full(len(pts), -1)
    print(f"\n[1] calibration sweep {spec.path}: {design.n_points} points x {spec.replicates} runs "
          f"({time.perf_counter() - t:.1f} s)")
    print("  best 10 points:")
    for i in np.argsort(L)[:10]:
        p = {n: float(pts[n].iloc[i]) for n in design.factors}
        print(f"    point {i:3d}: {fmt_params(p)} (keep {members[i]} of {n_orgs}) -> S36={s36[i]:.3f} "
              f"S84={s84[i]:.3f} h=" + " ".join(f"{x:.3f}" for x in h[i]) + f" loss={L[i]:.2f}")
    record["stage1"] = {"n_points": design.n_points, "replicates": spec.replicates,
                        "best": [{"point_id": int(i), **{n: float(pts[n].iloc[i]) for n in design.factors},
                                  "S36": float(s36[i]), "S84": float(s84[i]), "hazards": h[i].tolist(),
                                  "loss": float(L[i])} for i in np.argsort(L)[:10]]}

    # Stage 2
    t = time.perf_counter()
    seeds = sim.rng.run_seeds(REFINE_SEED, REFINE_RUNS)
    print(f"\n[2] refinement per quorum class on common random numbers ({REFINE_RUNS} runs a point)")
    if "exit_gap" in bounds:
        # Can trust gaps produce losses during the grant? The reference rule with exit_gap at the sweep's bound.
        gap = evaluate({**REFERENCE, "exit_gap": bounds["exit_gap"][1]}, seeds, base)
        print(f"  mechanism check: reference constants with exit_gap = {bounds['exit_gap'][1]:g}: "
              f"{fmt_pattern(gap)}")
        record["mechanism_check_exit_gap_max"] = gap.to_dict()
    classes = []
    qlo, qhi = bounds.get("quorum", (REFERENCE["quorum"], REFERENCE["quorum"]))
    for m in sorted(set(members.tolist())):
        idx = np.nonzero(members == m)[0]
        best_i = idx[np.argmin(L[idx])]
        q = quorum_representative(int(m), n_orgs, qlo, qhi) if "quorum" in bounds else REFERENCE["quorum"]
        start = {n: float(pts[n].iloc[best_i]) for n in design.factors}
        free, free_loss, nfev = refine_free(start, q, bounds, seeds, base)
        if set(bounds) - {"quorum"} == set(SCALED):
            c, scaled, scaled_loss = refine_scale(q, seeds, base)
        else:  # the one-parameter family only makes sense when the factors are exactly the exit rule's
            c, scaled, scaled_loss = math.nan, {}, math.inf
        classes.append({"members": int(m), "quorum": q, "lhs_points": int(len(idx)), "lhs_best_loss": float(L[best_i]),
                        "free": free, "free_loss": free_loss, "nfev": nfev, "scale": c, "scaled": scaled,
                        "scaled_loss": scaled_loss})
        print(f"  keep {m} of {n_orgs} (quorum {q}): {len(idx)} LHS points, best LHS loss {L[best_i]:.2f}")
        print(f"    free fit  ({nfev} evaluations): {fmt_params(free)} -> loss {free_loss:.2f}")
        print(f"    scaled reference rule, c = {c:.2f}: {fmt_params(scaled)} -> loss {scaled_loss:.2f}")
    best_class = min(classes, key=lambda k: min(k["free_loss"], k["scaled_loss"]))
    # Within the chosen class: a finer scale on more runs, and the free fit re-scored on the same runs.
    fine_seeds = sim.rng.run_seeds(FINE_SEED, FINE_RUNS)
    q = best_class["quorum"]
    free_fine = evaluate(best_class["free"], fine_seeds, base).loss
    if math.isfinite(best_class["scale"]):
        c0 = best_class["scale"]
        grid = np.round(np.arange(max(c0 - 0.02, FINE_STEP), c0 + 0.02 + 1e-9, FINE_STEP), 3)
        c, scaled, scaled_fine = refine_scale(q, fine_seeds, base, grid)
    else:
        c, scaled, scaled_fine = math.nan, {}, math.inf
    use_scaled = scaled_fine <= free_fine + LOSS_TOLERANCE
    point = scaled if use_scaled else best_class["free"]
    print(f"  chosen class: keep {best_class['members']} of {n_orgs}. On {FINE_RUNS} fresh common runs: free fit "
          f"loss {free_fine:.2f}; scaled reference rule, c = {c:.3f}: {fmt_params(scaled)} -> loss {scaled_fine:.2f}")
    why = f"scaled reference rule, within {LOSS_TOLERANCE} of the free fit" if use_scaled else "free fit"
    print(f"  continuous point ({why}): {fmt_params(point)}  ({time.perf_counter() - t:.1f} s)")
    record["stage2"] = {"classes": classes, "chosen_members": best_class["members"], "free_loss_fine": free_fine,
                        "scale_fine": c, "scaled_loss_fine": scaled_fine, "use_scaled": use_scaled, "point": point}

    # Stage 3
    t = time.perf_counter()
    seeds = sim.rng.run_seeds(ROUND_SEED, ROUND_RUNS)
    scored = [(p, evaluate(p, seeds, base).loss) for p in round_candidates(point, best_class["quorum"])]
    chosen, chosen_loss = choose_round(scored)
    print(f"\n[3] round values: {len(scored)} candidates on {ROUND_RUNS} common runs "
          f"({time.perf_counter() - t:.1f} s); best loss {min(v for _, v in scored):.2f}")
    for p, v in sorted(scored, key=lambda pv: pv[1])[:8]:
        print(f"    {fmt_params(p)} -> loss {v:.2f} (changed: {len(changed(p))})")
    for k in sorted({len(changed(p)) for p, _ in scored}):
        p, v = min(((p, v) for p, v in scored if len(changed(p)) == k), key=lambda pv: pv[1])
        print(f"    best with {k} constants changed: {fmt_params(p)} -> loss {v:.2f}")
    print(f"  chosen: {fmt_params(chosen)} (loss {chosen_loss:.2f}; changed: {', '.join(changed(chosen))})")
    same = all(math.isclose(chosen[n], CALIBRATED[n], rel_tol=1e-9) for n in CALIBRATED)
    if not same:
        print(f"  NOTE: differs from the documented CALIBRATED = {fmt_params(CALIBRATED)}; update the docs")
    record["stage3"] = {"candidates": [{**p, "loss": v} for p, v in scored], "chosen": chosen,
                        "chosen_loss": chosen_loss, "matches_documented": same}

    # Stage 4
    t = time.perf_counter()
    seeds = sim.rng.run_seeds(VERIFY_SEED, VERIFY_RUNS)
    ref, cal = evaluate(REFERENCE, seeds, base), evaluate(chosen, seeds, base)
    print(f"\n[4] verification on fresh seeds ({VERIFY_RUNS} runs each, 95% Wilson intervals; "
          f"{time.perf_counter() - t:.1f} s); target column: value +- its sd from 110 coalitions")
    print_pattern_table([("reference", ref), ("calibrated", cal)])
    current = {n: PARAMETERS[n].default for n in CALIBRATED}
    print(f"  sim.params defaults now: {fmt_params(current)} "
          f"({'= calibrated' if current == chosen else '= reference' if current == REFERENCE else 'other'})")
    record["verification"] = {"reference": ref.to_dict(), "calibrated": cal.to_dict(), "defaults_now": current}

    # Stage 5
    t = time.perf_counter()
    print(f"\n[5] robustness ({ROBUST_RUNS} runs each)")
    record["robustness"] = {}
    for setting_name, values in (("initial_trust", ROBUST_TRUST), ("n_orgs", ROBUST_ORGS),
                                 ("leadership", ROBUST_LEADERSHIP)):
        for name, p in (("reference", REFERENCE), ("calibrated", chosen)):
            for v, pat in robustness(p, base, setting_name, values).items():
                print(f"  {name:<10} {setting_name}={v:<4}: {fmt_pattern(pat)}")
                record["robustness"][f"{name}_{setting_name}_{v}"] = pat.to_dict()
    print(f"  trust at step {GRANT_TERM} as a predictor of operating at step {HORIZON} (runs operating at "
          f"{GRANT_TERM}; {PREDICT_RUNS} runs):")
    for name, p in (("reference", REFERENCE), ("calibrated", chosen)):
        tp = trust_predicts_survival(p, base)
        record["robustness"][f"{name}_trust_predicts_survival"] = tp
        print(f"  {name:<10} Spearman {tp['spearman']:+.3f} (p = {tp['p']:.1e}); S(84) lowest trust quartile "
              f"{tp['S84_low_trust_quartile']:.3f}, highest {tp['S84_high_trust_quartile']:.3f}")
    print(f"  ({time.perf_counter() - t:.1f} s)")

    # Stage 6
    t = time.perf_counter()
    print(f"\n[6] The reference specification's qualitative results (120 steps, {QUAL_RUNS} runs a cell, "
          "95% Wilson intervals)")
    record["qualitative"] = {}
    for name, p in (("reference", REFERENCE), ("calibrated", chosen)):
        q = qualitative(p)
        record["qualitative"][name] = q
        print(f"  {name}:")
        for key in ("stepwise_0.3", "funder_forced_0.3"):
            (d120, ci120), (d36, ci36) = q[f"{key}_dissolved_120"], q[f"{key}_dissolved_36"]
            print(f"    {key:<18} dissolved by 36: {d36:.3f} [{ci36[0]:.3f}, {ci36[1]:.3f}]  by 120: {d120:.3f} "
                  f"[{ci120[0]:.3f}, {ci120[1]:.3f}]")
        print(f"    forced dissolves more than stepwise at 0.3: Fisher one-sided p = "
              f"{q['forced_vs_stepwise_0.3_fisher_p']:.1e}")
        print(f"    benefit in first 24 steps at 0.85: funder_forced {q['benefit24_0.85_forced']:.1f}, stepwise "
              f"{q['benefit24_0.85_stepwise']:.1f}, ratio {q['benefit24_0.85_ratio']:.2f} (Mann-Whitney p = "
              f"{q['benefit24_0.85_mannwhitney_p']:.1e})")
        r, rci = q["stepwise_0.3_reached_collaboration"]
        print(f"    stepwise at 0.3 reached collaboration: {r:.3f} [{rci[0]:.3f}, {rci[1]:.3f}]; dissolved before "
              f"reaching it: {q['stepwise_0.3_dissolved_before_collaboration']:.3f}; neither: "
              f"{q['stepwise_0.3_neither']:.3f}; median first step at level 4: "
              f"{q['stepwise_0.3_median_step_collaboration']:.0f}")
    print(f"  ({time.perf_counter() - t:.1f} s)")

    total = time.perf_counter() - t_all
    record["runtime_seconds"] = total
    print(f"\ntotal runtime {total:.0f} s")
    if args.json:
        from sim.manifest import provenance, write_json_atomic

        write_json_atomic(args.json, {"provenance": provenance(), **record})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CalibrationError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        sys.exit(2)
