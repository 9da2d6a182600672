"""Calibrate Model 5's dissolution hazard against several patterns of coalition survival (issue 12).

Pattern-oriented modelling (Grimm et al. 2005, Science 310:987-991): the free
constants are fitted to several patterns at once, each from a published study
of funded community coalitions, and further patterns are kept aside as checks.
The patterns, their sources and tolerances are :data:`TARGETS` (docs/calibration.md
quotes the sources). The setting is ``experiments/calibration.toml``:
``funder_patient``, a 3-year grant, a new coalition of six, 102 months.

How an evaluation is made fast (and exact). Under ``dissolution = "decision"``
the partnership ends at step t when a uniform draw falls below the hazard
h_t = 1 - exp(-lambda_t), and nothing else in the model reads the hazard's
constants (``dissolve_*``). So each setting is run once with a recording rule
in place of the decision (registered with :func:`sim.register_variant`; it
records the hazard's inputs and never ends a run), and for any constants the
chance a run still operates after step t is exp(-sum of lambda up to t)
(zero once fewer than two members remain). Averaged over the runs this is the
survival curve, the engine's own expectation over its DISSOLVE draws on
common random numbers: smooth in the constants, so the optimiser sees no
Monte Carlo jitter. Stage 5 checks it against the engine: on the fit's runs,
the recorded inputs with the engine's own DISSOLVE draws give exactly the
engine's ``dissolved_step``; on fresh seeds the engine's runs give the
verified patterns.

Stages (every number of docs/calibration.md is printed here and written to
``results/calibration/``):

1. Record the runs of the five settings (the calibration setting; leadership
   0.1 and 0.9 for P5; n_orgs 4 and 12 for P7), then screen the TOML's Latin
   hypercube on them.
2. Fit: :func:`scipy.optimize.differential_evolution` over the free constants
   (``dissolve_base`` on a log scale), started from the best screened points.
3. Identification: a 1-D profile of the loss per free constant (the other two
   re-fitted at each grid point) and a slice (the other two held). Identified:
   the profile rises by more than one loss unit on both sides within the bounds.
4. Values: a constant that is not identified is held at the roundest value
   near the middle of its one-unit interval; the others are re-fitted with it
   held, then rounded (1 to 3 significant digits inside the one-unit interval:
   the roundest within 0.1 loss units of the best candidate).
5. Verification on fresh seeds: every pattern with a 95% interval (Wilson;
   Newcombe for differences; MOVER on the logit scale for P5), and the exact
   check of the re-weighting against the engine.
6. Sensitivity of the fixed constants at x0.5 and x2: loss and every pattern,
   at the calibrated values and re-fitted.
7. The reference specification's qualitative results (docs/ODD.md, section 9) and
   dissolution by n_orgs 3..20.

Run from the project root::

    .venv/bin/python experiments/calibrate.py            # full: writes results/calibration/
    .venv/bin/python experiments/calibrate.py --quick    # smaller batches: writes results/calibration/quick/
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import differential_evolution, minimize
from scipy.special import logit

import sim
from sim import rules
from sim.analysis.stats import risk_difference
from sim.levels import NEED
from sim.params import PARAMETERS
from sim.rng import Purpose, run_keys, run_seeds, uniforms
from sim.sweep import SpecError, build_design, load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = Path(__file__).with_name("calibration.toml")
OUT_DIR = ROOT / "results" / "calibration"

# --- the setting -------------------------------------------------------------------------------------------------
STRATEGY = "funder_patient"
GRANT_TERM = 36
HORIZON = 102  # 5.5 years after the grant: the midpoint of HCAP's 3 to 8 years
YEARS = ((36, 48), (48, 60), (60, 72), (72, 84))  # model years 4..7 as (start, end] steps
LATE = (25, 36)  # the grant's last year (steps, inclusive): where P6 and P9 read functioning
#: The steps at whose end the patterns read survival.
CHECKPOINTS = (GRANT_TERM, 48, 56, 60, 72, 84, HORIZON)
#: The settings of one evaluation: the calibration setting and the variations P5 and P7 compare.
COHORTS: dict[str, dict[str, Any]] = {
    "base": {},
    "leadership_0.1": {"leadership": 0.1},
    "leadership_0.9": {"leadership": 0.9},
    "n_orgs_4": {"n_orgs": 4},
    "n_orgs_12": {"n_orgs": 12},
}
#: The hazard's constants: nothing else reads them, so recorded runs can be re-weighted for any of their values.
HAZARD_CONSTANTS = ("dissolve_base", "dissolve_trust", "dissolve_fail", "dissolve_payoff", "dissolve_leadership")
LOG_SCALE = ("dissolve_base",)  # searched on a log scale (its bounds span 40x)
#: This script's result, applied in sim/params.py (the script re-derives it and says if it differs).
CALIBRATED = {"dissolve_base": 0.0045, "dissolve_fail": 2.0, "dissolve_leadership": 1.7}
#: Fixed constants whose sensitivity stage 6 reports (no pattern found identifies them). The hazard's own two
#: re-weight the recorded runs; the others change the runs, which are recorded again.
FIXED = ("dissolve_trust", "dissolve_payoff", "payoff_weight", "exit_payoff", "memory", "recruit_rate",
         "capacity_ceiling", "review_share", "exit_base", "exit_gap", "identity_weight")
#: Practice levers and study settings: never calibrated.
LEVERS = ("leadership", "communication", "ground_rules", "cultural_learning", "celebration", "initial_trust",
          "deadline", "identity", "individualism", "grant", "grant_term", "benefit_target", "n_orgs",
          "cultural_distance", "strategy", "n_steps", "forced_level", "fixed_level", "schedule_interval")
LOSS_TOLERANCE = 1.0  # one loss unit = one target sd squared: inside the data's own noise
DE_ATOL = 0.01  # differential evolution stops when its population's losses agree to 0.01 loss units (sd^2)
ROUND_TOLERANCE = 0.1  # rounding may cost at most this much loss (a 0.3-sd shift in one pattern): cosmetics only
FAR = 1000.0  # distance in sds of an undefined pattern value (finite, so the optimisers can still compare)


# --- sizes and seeds ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Batch sizes of one calibration (full or ``--quick``)."""

    fit_runs: Mapping[str, int]  # per cohort, on the fit's common random numbers
    de_popsize: int
    de_maxiter: int
    n_init: int  # best screened points in the initial population
    profile_points: int
    verify_runs: int  # per cohort, fresh seeds
    sensitivity: tuple[str, ...]
    qual_runs: int
    size_runs: int
    size_values: tuple[int, ...]


FULL = Sizes(fit_runs={"base": 4000, "leadership_0.1": 2000, "leadership_0.9": 2000, "n_orgs_4": 2000,
                       "n_orgs_12": 2000},
             de_popsize=10, de_maxiter=60, n_init=30, profile_points=9, verify_runs=8000, sensitivity=FIXED,
             qual_runs=4000, size_runs=2000, size_values=tuple(range(3, 21)))
QUICK = Sizes(fit_runs={"base": 1000, "leadership_0.1": 500, "leadership_0.9": 500, "n_orgs_4": 500,
                        "n_orgs_12": 500},
              de_popsize=5, de_maxiter=15, n_init=15, profile_points=5, verify_runs=1500,
              sensitivity=("dissolve_trust", "payoff_weight", "recruit_rate"), qual_runs=1000, size_runs=500,
              size_values=(3, 4, 6, 9, 12, 20))
FIT_SEED, VERIFY_SEED, QUAL_SEED, SIZE_SEED = 501, 8008, 505, 606


# --- targets ------------------------------------------------------------------------------------------------------

N_CTC = 110  # Feinberg et al. (2008): coalitions followed
N_HCAP = 165  # HCAP survey respondents
S36_TARGET, S84_TARGET = 0.90, 0.67
HAZARD_BAND = (0.03, 0.08)
FEINBERG = "Feinberg, Bontempo & Greenberg 2008 (110 CTC coalitions)"
HCAP = "NORC for ASPE 2012 (HCAP, 165 coalitions)"


def _binomial_sd(p: float, n: float) -> float:
    return math.sqrt(p * (1 - p) / n)


def target_survival(step: float) -> float:
    """Feinberg's survival curve between its two anchors: a constant hazard from S(36) to S(84)."""
    return S36_TARGET * (S84_TARGET / S36_TARGET) ** ((step - GRANT_TERM) / (84 - GRANT_TERM))


def target_sds() -> tuple[float, float, np.ndarray]:
    """Sampling sds of Feinberg's targets from 110 coalitions: S(36), S(84), and each yearly hazard (binomial
    with the coalitions at risk at the year's start and the middle of the 3-8% band)."""
    mid = sum(HAZARD_BAND) / 2
    at_risk = np.array([N_CTC * target_survival(a) for a, _ in YEARS])
    return _binomial_sd(S36_TARGET, N_CTC), _binomial_sd(S84_TARGET, N_CTC), np.sqrt(mid * (1 - mid) / at_risk)


@dataclass(frozen=True)
class Target:
    """One pattern: what is measured, the target and how far off it may be.

    ``kind``: ``"point"`` (distance from ``target`` in ``sd``; the test band is
    target +- sd), ``"band"`` (distance outside [low, high] in ``sd``), or a
    check: ``"above"`` (the value must exceed ``low``, and where ``alpha`` is
    given its one-sided test must reject "not above" at that level).
    """

    id: str
    statistic: str
    kind: str
    low: float
    high: float
    sd: float
    in_loss: bool
    source: str
    target: float = math.nan
    alpha: float | None = None

    def distance(self, value: float) -> float:
        """Signed distance in sds (0 inside a band); NaN for a check; an undefined value counts as
        :data:`FAR` sds off (for example P5 when every run of a setting dissolves)."""
        if self.kind == "above":
            return math.nan
        if not math.isfinite(value):
            return FAR
        ref = self.target if self.kind == "point" else min(max(value, self.low), self.high)
        return (value - ref) / self.sd

    def text(self) -> str:
        if self.kind == "point":
            return f"{self.target:.3g} +- {self.sd:.3g}"
        if self.kind == "band":
            return f"[{self.low:.3g}, {self.high:.3g}] (sd {self.sd:.3g})"
        return f"> {self.low:g}" + (f", p < {self.alpha:g}" if self.alpha else "")


def _targets() -> tuple[Target, ...]:
    sd36, sd84, sdh = target_sds()
    lead = float(logit(0.84) - logit(0.48))
    half = 2 * _binomial_sd(0.68, N_HCAP / 2) * math.sqrt(2)  # 2 SE of a difference between halves of 165
    out = [
        Target("P1", "S(36): share operating at the grant's end", "point", 0.90 - sd36, 0.90 + sd36, sd36, True,
               FEINBERG, target=0.90),
        Target("P2", "S(84): share operating 4 years after the grant", "point", 0.67 - sd84, 0.67 + sd84, sd84,
               True, FEINBERG, target=0.67),
    ]
    for i, (a, b) in enumerate(YEARS):
        out.append(Target(f"P3.{a // 12 + 1}", f"yearly hazard, year {a // 12 + 1} (steps {a + 1}-{b})", "band",
                          *HAZARD_BAND, float(sdh[i]), True, FEINBERG))
    out += [
        Target("P4", "S(102): share operating 5.5 years after the grant", "band", 0.60, 0.70,
               _binomial_sd(0.68, N_HCAP), True, f"{HCAP}; Johnson et al. 2017 (19 of 27)"),
        Target("P5", "logit S(102 | leadership 0.9) - logit S(102 | leadership 0.1)", "point", lead - 0.5, lead + 0.5,
               0.5, True, f"{HCAP}: leader experience, predicted 48% to 84%", target=lead),
        Target("P7", "S(102 | n_orgs 12) - S(102 | n_orgs 4)", "band", -half, half, half / 2, True,
               f"{HCAP}: no significant difference in size"),
        Target("P8", "S(102 | >= 1 departure in steps 1-36) - S(102 | none), operating at 36", "band", -half, half,
               half / 2, True, f"{HCAP}: high membership turnover, no association"),
        Target("P6", "S(84), top minus bottom half of success share in steps 25-36, operating at 36", "above",
               0.0, math.inf, math.nan, False, f"{FEINBERG}; Gomez et al. 2005: functioning predicts survival",
               alpha=0.01),
        Target("P9", "Spearman(mean contribution rate in steps 25-36, operating at 102), operating at 36", "above",
               0.0, math.inf, math.nan, False, f"{HCAP}: proportion of active members, positive association",
               alpha=0.01),
        Target("P10", "S(56): share operating 20 months after the grant", "above", 0.65, math.inf, math.nan, False,
               "Gloppen et al. 2012: 11 of 12 (Wilson lower bound 0.65)"),
    ]
    return tuple(out)


#: Every pattern, in report order; ``in_loss`` ones are fitted, the others are checks.
TARGETS: tuple[Target, ...] = _targets()
TARGET = {t.id: t for t in TARGETS}


class CalibrationError(ValueError):
    """A calibration spec or state that cannot be used for this calibration."""


# --- what the patterns read: runs of one setting -----------------------------------------------------------------


@dataclass
class Cohort:
    """The runs of one setting, as the patterns read them.

    ``alive[r, k]`` is the chance run ``r`` still operates at the end of step
    ``CHECKPOINTS[k]``: 0 or 1 for engine runs (``binary``), the engine's
    expectation over its DISSOLVE draws for re-weighted runs.
    """

    alive: np.ndarray  # (R, len(CHECKPOINTS))
    departures: np.ndarray  # (R,) members who left in steps 1..36
    success_late: np.ndarray  # (R,) share of successes in the LATE steps
    contribution_late: np.ndarray  # (R,) mean contribution rate in the LATE steps
    binary: bool

    @classmethod
    def from_results(cls, r: Any) -> Cohort:
        """Engine runs (dissolution as the engine decided it), with series left, success, contribution_rate."""
        c = cls.from_dissolved(r.summary["dissolved_step"].to_numpy(dtype=float))
        c.departures, c.success_late, c.contribution_late = _late_covariates(
            r.series("left"), r.series("success"), r.series("contribution_rate"))
        return c

    @classmethod
    def from_dissolved(cls, dissolved_step: np.ndarray) -> Cohort:
        """Survival only, from each run's dissolved_step (NaN: never dissolved); the covariates are NaN."""
        ds = np.asarray(dissolved_step, dtype=float)
        alive = (~(ds[:, None] <= np.array(CHECKPOINTS)[None, :])).astype(np.float64)
        nan = np.full(len(ds), np.nan)
        return cls(alive, nan, nan.copy(), nan.copy(), binary=True)

    def at(self, step: int) -> np.ndarray:
        """Each run's chance of operating at the end of ``step`` (one of CHECKPOINTS)."""
        return self.alive[:, CHECKPOINTS.index(step)]

    def survival(self, step: int) -> float:
        return float(self.at(step).mean())


def _late_covariates(left: np.ndarray, success: np.ndarray, contribution: np.ndarray) -> tuple[np.ndarray, ...]:
    """Departures in steps 1..36, and the share of successes and mean contribution rate in the LATE steps
    (NaN where a run had dissolved: those runs are not operating at 36 and no pattern reads them)."""
    a, b = LATE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows of dissolved runs
        late_contribution = np.nanmean(contribution[:, a - 1:b], axis=1)
    return (left[:, :GRANT_TERM].sum(axis=1).astype(np.float64), success[:, a - 1:b].mean(axis=1),
            late_contribution)


def median_split(x: np.ndarray) -> np.ndarray:
    """True for the top half of ``x`` (above the median; at or above it when nothing is above)."""
    med = np.median(x)
    top = x > med
    return top if top.any() else x >= med


# --- intervals -----------------------------------------------------------------------------------------------------


def wilson(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of k/n (scipy.stats.binomtest)."""
    ci = stats.binomtest(int(round(k)), int(round(n))).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def logit_difference(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> tuple[float, float, float]:
    """logit(k1/n1) - logit(k2/n2) with the MOVER interval built from the two Wilson intervals (Newcombe 1998's
    construction on the logit scale; Zou & Donner 2008): (estimate, low, high)."""
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson(k1, n1, level), wilson(k2, n2, level)
    f = logit
    d = float(f(p1) - f(p2))
    low = d - math.sqrt((f(p1) - f(l1)) ** 2 + (f(u2) - f(p2)) ** 2)
    high = d + math.sqrt((f(u1) - f(p1)) ** 2 + (f(p2) - f(l2)) ** 2)
    return d, float(low), float(high)


# --- the patterns --------------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """One pattern's simulated value, with an interval and a p-value where the runs are binary."""

    value: float
    low: float = math.nan
    high: float = math.nan
    p: float = math.nan


def hazards_of(c: Cohort) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditional yearly hazards of years 4..7: of the runs operating at the end of step a, the share ending in
    steps a+1..a+12 (a = 36, 48, 60, 72): (hazard, ended, at risk), NaN hazard where none is at risk."""
    at_risk = np.array([c.at(a).sum() for a, _ in YEARS])
    ended = at_risk - np.array([c.at(b).sum() for _, b in YEARS])
    with np.errstate(invalid="ignore", divide="ignore"):
        hazard = np.where(at_risk > 0, ended / np.maximum(at_risk, 1e-300), np.nan)
    return hazard, ended, at_risk


def yearly_hazards(dissolved_step: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`hazards_of` engine runs given by their dissolved_step (NaN: never dissolved)."""
    return hazards_of(Cohort.from_dissolved(dissolved_step))


def survival_at(dissolved_step: np.ndarray, step: int) -> float:
    """Share of runs not dissolved by the end of ``step`` (NaN = never dissolved)."""
    return float(np.mean(~(np.asarray(dissolved_step, dtype=float) <= step)))


def _conditional(c: Cohort, group: np.ndarray, step: int, level: float) -> Measured:
    """Among runs operating at 36: S(step | group) - S(step | not group), Newcombe interval, one-sided Fisher p."""
    w36, wt = c.at(GRANT_TERM), c.at(step)
    a36, at = float(w36[group].sum()), float(wt[group].sum())
    b36, bt = float(w36[~group].sum()), float(wt[~group].sum())
    if a36 == 0 or b36 == 0:
        return Measured(math.nan)
    d = at / a36 - bt / b36
    if not c.binary:
        return Measured(d)
    ka, kb, na, nb = int(at), int(bt), int(a36), int(b36)
    iv = risk_difference(ka, na, kb, nb, confidence_level=level)
    p = stats.fisher_exact([[ka, na - ka], [kb, nb - kb]], alternative="greater").pvalue
    return Measured(d, iv.low, iv.high, float(p))


def _survival(c: Cohort, step: int, level: float) -> Measured:
    s = c.survival(step)
    if not c.binary:
        return Measured(s)
    return Measured(s, *wilson(c.at(step).sum(), len(c.alive), level))


def measure(cohorts: Mapping[str, Cohort], level: float = 0.95) -> dict[str, Measured]:
    """Every pattern of :data:`TARGETS` from the runs of the :data:`COHORTS` (intervals where the runs are binary)."""
    base = cohorts["base"]
    out = {"P1": _survival(base, GRANT_TERM, level), "P2": _survival(base, 84, level)}
    hazard, ended, at_risk = hazards_of(base)
    for (a, _), h, k, n in zip(YEARS, hazard, ended, at_risk, strict=True):
        m = Measured(h if n > 0 else 1.0)  # nobody at risk: as far off as it gets
        if base.binary and n > 0:
            m.low, m.high = wilson(k, n, level)
        out[f"P3.{a // 12 + 1}"] = m
    out["P4"] = _survival(base, HORIZON, level)
    lo, hi = cohorts["leadership_0.1"], cohorts["leadership_0.9"]
    s_lo, s_hi = lo.survival(HORIZON), hi.survival(HORIZON)
    if lo.binary and 0 < s_lo < 1 and 0 < s_hi < 1:
        out["P5"] = Measured(*logit_difference(int(hi.at(HORIZON).sum()), len(hi.alive),
                                               int(lo.at(HORIZON).sum()), len(lo.alive), level))
    else:
        with np.errstate(divide="ignore"):
            out["P5"] = Measured(float(logit(s_hi) - logit(s_lo)))
    small, large = cohorts["n_orgs_4"], cohorts["n_orgs_12"]
    d = large.survival(HORIZON) - small.survival(HORIZON)
    if small.binary:
        iv = risk_difference(int(large.at(HORIZON).sum()), len(large.alive),
                             int(small.at(HORIZON).sum()), len(small.alive), confidence_level=level)
        out["P7"] = Measured(d, iv.low, iv.high)
    else:
        out["P7"] = Measured(d)
    operating = base.at(GRANT_TERM) > 0
    out["P8"] = _conditional(base, base.departures > 0, HORIZON, level)
    top = np.zeros(len(base.alive), dtype=bool)
    top[operating] = median_split(base.success_late[operating])
    out["P6"] = _conditional(base, top, 84, level)
    x = base.contribution_late[operating]
    y = base.at(HORIZON)[operating] / base.at(GRANT_TERM)[operating]
    if x.size > 2 and np.ptp(x) > 0 and np.ptp(y) > 0:
        rho = stats.spearmanr(x, y, alternative="greater")
        out["P9"] = Measured(float(rho.statistic), p=float(rho.pvalue) if base.binary else math.nan)
    else:
        out["P9"] = Measured(math.nan)
    out["P10"] = _survival(base, 56, level)
    return out


def loss(values: Mapping[str, Measured | float]) -> float:
    """Sum over the fitted patterns of the squared distance to the target (0 inside a band), in target sds."""
    total = 0.0
    for t in TARGETS:
        if t.in_loss:
            v = values[t.id]
            total += t.distance(v.value if isinstance(v, Measured) else float(v)) ** 2
    return total


def check_passes(t: Target, m: Measured) -> bool:
    """Whether a check (``kind == "above"``) holds: the value above its bound, and its test significant."""
    if not m.value > t.low:
        return False
    if t.alpha is not None and math.isfinite(m.p):
        return m.p < t.alpha
    return True


# --- recorded runs and their re-weighting ------------------------------------------------------------------------

RECORD_RULE = "calibration_record"
_TAG = 2.0 ** -20  # run i of a recorded batch carries dissolve_base = (i + 1) * _TAG, exact in float64
_RECORDING: list[_Recording] = []


@dataclass
class Trajectories:
    """The runs of one setting with the partnership's decision switched off, and the hazard's inputs each step."""

    cohort: str
    params: dict[str, Any]  # every parameter given to the runs (the setting and the cohort's own)
    seeds: np.ndarray
    gap: np.ndarray  # (R, T): NEED[level] - mean trust, at least 0
    fail_rate: np.ndarray  # (R, T)
    shortfall: np.ndarray  # (R, T)
    mean_leadership: np.ndarray  # (R, T)
    funded: np.ndarray  # (R, T) bool
    asked: np.ndarray  # (R, T) bool: the rule was consulted (the run still had two members or more)
    ended: np.ndarray  # (R,) step at which fewer than two members remained (inf: never)
    grant: np.ndarray  # (R,)
    departures: np.ndarray
    success_late: np.ndarray
    contribution_late: np.ndarray

    def hazard(self, constants: Mapping[str, float]) -> np.ndarray:
        """The monthly hazard of ending (R, T) for the hazard's constants (0 where the rule was not asked)."""
        kw = {name: constants[name] for name in HAZARD_CONSTANTS}
        h = rules.dissolution_hazard(self.gap, self.fail_rate, self.shortfall, self.mean_leadership, self.funded,
                                     grant=self.grant[:, None], **kw)
        return np.where(self.asked, h, 0.0)

    def cohort_for(self, constants: Mapping[str, float]) -> Cohort:
        """The runs re-weighted: chance of still operating after each step, exp(-sum of lambda) = prod (1 - h)."""
        cols = np.array(CHECKPOINTS) - 1
        with np.errstate(divide="ignore"):  # h = 1 (a huge rate): log 0 = -inf, survival 0, as it should be
            log_alive = np.cumsum(np.log1p(-self.hazard(constants)), axis=1)[:, cols]
        alive = np.where(cols[None, :] + 1 < self.ended[:, None], np.exp(log_alive), 0.0)
        return Cohort(alive, self.departures, self.success_late, self.contribution_late, binary=False)

    def realised_dissolution(self, constants: Mapping[str, float]) -> np.ndarray:
        """The step each run dissolves with the engine's own DISSOLVE draws (NaN: never): what the engine gives."""
        h = self.hazard(constants)
        keys = run_keys(self.seeds)
        zero = np.uint64(0)
        u = np.stack([uniforms(keys, t, Purpose.DISSOLVE, zero) for t in range(1, h.shape[1] + 1)], axis=1)
        hit = self.asked & (u < h)
        first = np.where(hit.any(axis=1), np.argmax(hit, axis=1) + 1.0, np.inf)
        step = np.minimum(first, self.ended)
        return np.where(np.isinf(step), np.nan, step)


class _Recording:
    """Fills a :class:`Trajectories`' hazard inputs from the recording rule's calls."""

    def __init__(self, n_runs: int, n_steps: int):
        shape = (n_runs, n_steps)
        self.gap, self.fail_rate, self.shortfall, self.mean_leadership = (np.zeros(shape) for _ in range(4))
        self.funded = np.zeros(shape, dtype=bool)
        self.asked = np.zeros(shape, dtype=bool)

    def __call__(self, s: Any) -> np.ndarray:
        # The engine asks every row of its working batch; the decision matters only for runs still playing (level
        # >= 1: a dissolved row not yet dropped plays level 0, and may even have been refilled by recruitment) with
        # two members or more (fewer ends a run whatever the rule says).
        n_rows = len(s.n_active)
        live = (np.asarray(s.n_active) >= 2) & (np.asarray(s.level) >= 1)
        tag = np.asarray(s.params["dissolve_base"], dtype=np.float64)[live]
        ids = np.rint(tag / _TAG).astype(np.int64) - 1
        col = int(s.step) - 1
        level = np.asarray(s.level, dtype=np.int64)[live]
        self.gap[ids, col] = np.maximum(0.0, NEED[level] - np.asarray(s.mean_trust, dtype=np.float64)[live])
        self.fail_rate[ids, col] = np.asarray(s.fail_rate)[live]
        self.shortfall[ids, col] = np.asarray(s.shortfall)[live]
        self.mean_leadership[ids, col] = np.asarray(s.mean_leadership)[live]
        self.funded[ids, col] = np.asarray(s.funded)[live]
        self.asked[ids, col] = True
        return np.zeros(n_rows, dtype=bool)


def _record_rule(s: Any) -> np.ndarray:
    """The recording rule (a dissolution variant): records the hazard's inputs and never ends a run."""
    if not _RECORDING:
        raise CalibrationError(f"dissolution = {RECORD_RULE!r} records runs for experiments/calibrate.py only")
    return _RECORDING[-1](s)


def setting(spec: Any) -> dict[str, Any]:
    """The fixed parameters of every calibration run: the spec's base, strategy and horizon."""
    return {**spec.base, "strategy": STRATEGY, "n_steps": HORIZON}


def record(cohort: str, seeds: np.ndarray, params: Mapping[str, Any]) -> Trajectories:
    """Run one setting with the recording rule in place of the partnership's decision."""
    if len(seeds) >= 2 ** 20 - 1:
        raise CalibrationError(f"{len(seeds)} runs: at most {2 ** 20 - 2} can be recorded in one batch")
    sim.register_variant("dissolution", RECORD_RULE, replace=True)(_record_rule)
    rec = _Recording(len(seeds), HORIZON)
    _RECORDING.append(rec)
    try:
        r = sim.simulate(seeds=seeds, keep=["left", "success", "contribution_rate"],
                         **{**params, "dissolution": RECORD_RULE,
                            "dissolve_base": (np.arange(len(seeds)) + 1.0) * _TAG})
    finally:
        _RECORDING.pop()
    ended = r.summary["dissolved_step"].to_numpy(dtype=float)
    ended = np.where(np.isnan(ended), np.inf, ended)
    steps = np.arange(1, HORIZON + 1)
    if not np.array_equal(rec.asked, steps[None, :] < ended[:, None]):
        raise CalibrationError("the recording rule was not consulted at every step of every run with two members "
                               "or more: the re-weighting would not be exact (see sim/variants.py)")
    grant = np.broadcast_to(np.asarray(params.get("grant", PARAMETERS["grant"].default), dtype=float), len(seeds))
    return Trajectories(cohort, dict(params), np.asarray(seeds), rec.gap, rec.fail_rate, rec.shortfall,
                        rec.mean_leadership, rec.funded, rec.asked, ended, grant.copy(),
                        *_late_covariates(r.series("left"), r.series("success"), r.series("contribution_rate")))


def record_all(base: Mapping[str, Any], runs: Mapping[str, int], changes: Mapping[str, Any] | None = None
               ) -> dict[str, Trajectories]:
    """Record every cohort on the fit's common random numbers (the same seeds for every cohort and call)."""
    seeds = run_seeds(FIT_SEED, max(runs.values()))
    return {name: record(name, seeds[:runs[name]], {**base, **(changes or {}), **cohort})
            for name, cohort in COHORTS.items()}


class Evaluator:
    """Patterns and loss of any values of the hazard's constants, on recorded runs."""

    def __init__(self, trajectories: Mapping[str, Trajectories], fixed: Mapping[str, float]):
        self.trajectories = dict(trajectories)
        self.fixed = dict(fixed)
        self.n_evaluations = 0

    def constants(self, free: Mapping[str, float]) -> dict[str, float]:
        return {**self.fixed, **free}

    def cohorts(self, free: Mapping[str, float]) -> dict[str, Cohort]:
        c = self.constants(free)
        return {name: tr.cohort_for(c) for name, tr in self.trajectories.items()}

    def measure(self, free: Mapping[str, float]) -> dict[str, Measured]:
        self.n_evaluations += 1
        return measure(self.cohorts(free))

    def loss(self, free: Mapping[str, float]) -> float:
        return loss(self.measure(free))


# --- the free constants' scale -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Space:
    """The free constants and their bounds; the optimiser works in x (log10 for :data:`LOG_SCALE`)."""

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def bounds(self) -> list[tuple[float, float]]:
        return [(self._x(n, lo), self._x(n, hi)) for n, lo, hi in zip(self.names, self.low, self.high, strict=True)]

    @staticmethod
    def _x(name: str, v: float) -> float:
        return math.log10(v) if name in LOG_SCALE else float(v)

    def to_x(self, values: Mapping[str, float]) -> np.ndarray:
        return np.array([self._x(n, values[n]) for n in self.names])

    def to_values(self, x: Sequence[float]) -> dict[str, float]:
        return {n: self.value(n, v) for n, v in zip(self.names, x, strict=True)}

    @staticmethod
    def value(name: str, x: float) -> float:
        """The constant's value at coordinate ``x``."""
        return float(10 ** x if name in LOG_SCALE else x)


def space_of(spec: Any) -> Space:
    return Space(tuple(f.name for f in spec.factors), tuple(float(f.low) for f in spec.factors),
                 tuple(float(f.high) for f in spec.factors))


def load_calibration_spec(path: str | Path = SPEC_PATH) -> Any:
    """Read the sweep spec (checked by :func:`sim.sweep.load_spec`) and check it fits this calibration."""
    try:
        spec = load_spec(path)
    except SpecError as exc:
        raise CalibrationError(str(exc)) from None
    problems = []
    if list(spec.strategies) != [STRATEGY]:
        problems.append(f"strategies = {list(spec.strategies)!r}: the patterns are for [{STRATEGY!r}] only")
    if spec.n_steps < HORIZON:
        problems.append(f"n_steps = {spec.n_steps}: must be >= {HORIZON} (survival 5.5 years after the grant)")
    if spec.base.get("grant_term", PARAMETERS["grant_term"].default) != GRANT_TERM:
        problems.append(f"base.grant_term = {spec.base.get('grant_term')!r}: the studies' grants last {GRANT_TERM}")
    if spec.sampling.method not in ("lhs", "sobol"):
        problems.append(f"sampling.method = {spec.sampling.method!r}: use lhs or sobol with {{min, max}}")
    for f in spec.factors:
        if f.name in LEVERS:
            problems.append(f"factors.{f.name}: a lever or study setting, not a rule constant; calibrate rule "
                            f"constants only (not: {', '.join(LEVERS)})")
        elif f.name not in HAZARD_CONSTANTS:
            problems.append(f"factors.{f.name}: only the dissolution hazard's constants ({', '.join(HAZARD_CONSTANTS)})"
                            " can be fitted here (the fit re-weights recorded runs, exact only for constants nothing "
                            "else reads); stage 6 reports the sensitivity of the others")
        elif f.name in LOG_SCALE and f.low <= 0:
            problems.append(f"factors.{f.name}: min must be > 0 (it is searched on a log scale)")
    if problems:
        raise CalibrationError(f"{path}: " + "; ".join(problems))
    return spec


# --- stages --------------------------------------------------------------------------------------------------------


def fit(ev: Evaluator, space: Space, init: np.ndarray, sizes: Sizes, seed: int = 1) -> tuple[dict[str, float], Any]:
    """Differential evolution over the free constants (scipy), started from ``init`` (points in x)."""
    def objective(x: np.ndarray) -> float:
        return ev.loss(space.to_values(x))

    res = differential_evolution(objective, space.bounds(), init=init, popsize=sizes.de_popsize,
                                 maxiter=sizes.de_maxiter, tol=1e-3, atol=DE_ATOL, polish=True, seed=seed,
                                 updating="deferred")
    return space.to_values(res.x), res


def refit(ev: Evaluator, space: Space, start: Mapping[str, float], hold: Mapping[str, float] | None = None
          ) -> tuple[dict[str, float], float]:
    """The best values of the free constants not in ``hold``, from ``start`` (bounded L-BFGS-B on the smooth loss)."""
    hold = dict(hold or {})
    names = [n for n in space.names if n not in hold]
    if not names:
        return dict(hold), ev.loss(hold)
    x0 = space.to_x(start)
    idx = [space.names.index(n) for n in names]
    bounds = [space.bounds()[i] for i in idx]

    def values(y: np.ndarray) -> dict[str, float]:
        x = x0.copy()
        x[idx] = y
        return {**space.to_values(x), **hold}

    res = minimize(lambda y: ev.loss(values(y)), x0[idx], method="L-BFGS-B", bounds=bounds)
    return values(res.x), float(res.fun)


def round_sig(x: float, digits: int) -> float:
    """``x`` to ``digits`` significant digits (0 stays 0)."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def significant_digits(x: float) -> int:
    if x == 0:
        return 1
    return len(f"{x:.10g}".lstrip("-0.").replace(".", "").rstrip("0")) or 1


def round_candidates(point: Mapping[str, float], space: Space, held: Mapping[str, float] | None = None,
                     intervals: Mapping[str, tuple[float, float]] | None = None) -> list[dict[str, float]]:
    """Each free constant not ``held`` at 1, 2 or 3 significant digits, inside its bounds and, where given, inside
    its 1-unit profile interval (rounding must not leave what the patterns allow); the held ones as given."""
    held = dict(held or {})
    options = []
    for n, lo, hi in zip(space.names, space.low, space.high, strict=True):
        if n in held:
            options.append([held[n]])
            continue
        ilo, ihi = (intervals or {}).get(n, (lo, hi))
        opts = {v for v in (round_sig(point[n], d) for d in (1, 2, 3)) if max(lo, ilo) <= v <= min(hi, ihi)}
        options.append(sorted(opts or {point[n]}))
    return [dict(zip(space.names, combo, strict=True)) for combo in itertools.product(*options)]


def choose_round(scored: Sequence[tuple[dict[str, float], float]]) -> tuple[dict[str, float], float]:
    """Fewest significant digits, then lowest loss, among the candidates within ROUND_TOLERANCE of the best."""
    best = min(v for _, v in scored)
    admissible = [(p, v) for p, v in scored if v <= best + ROUND_TOLERANCE]
    return min(admissible, key=lambda pv: (sum(significant_digits(x) for x in pv[0].values()), pv[1]))


def middle_value(name: str, interval: tuple[float, float]) -> float:
    """The roundest value near the middle of ``interval`` (on the constant's search scale): 1 significant digit,
    or 2 if that falls outside it."""
    lo, hi = interval
    mid = math.sqrt(lo * hi) if name in LOG_SCALE else (lo + hi) / 2
    for digits in (1, 2, 3):
        v = round_sig(mid, digits)
        if lo <= v <= hi:
            return v
    return mid


def choose(ev: Evaluator, space: Space, optimum: Mapping[str, float], prof: Mapping[str, Mapping[str, Any]]
           ) -> dict[str, Any]:
    """The values to apply: each constant the profiles do not identify held at the middle of its 1-unit interval
    (the patterns cannot choose it); the identified ones re-fitted with those held, then rounded."""
    held = {n: middle_value(n, p["interval"]) for n, p in prof.items() if not p["identified"]}
    refitted, refit_loss = refit(ev, space, optimum, hold=held)
    intervals = {n: p["interval"] for n, p in prof.items()}
    scored = [(p, ev.loss(p)) for p in round_candidates(refitted, space, held, intervals)]
    chosen, chosen_loss = choose_round(scored)
    return {"held": held, "refitted": refitted, "refitted_loss": refit_loss, "candidates": scored,
            "chosen": chosen, "loss": chosen_loss}


def profiles(ev: Evaluator, space: Space, optimum: Mapping[str, float], points: int) -> dict[str, dict[str, Any]]:
    """Per free constant: the loss on a grid over its bounds with the others re-fitted (profile) and held (slice).

    "Identified": the profile rises by more than LOSS_TOLERANCE above its minimum on both sides within the
    bounds. ``interval``: where the profile stays within LOSS_TOLERANCE of its minimum (linear interpolation).
    """
    out = {}
    bnds = space.bounds()
    for i, name in enumerate(space.names):
        grid_x = np.linspace(*bnds[i], points)
        grid_x = np.unique(np.append(grid_x, space.to_x(optimum)[i]))
        prof, slc, others = [], [], []
        for gx in grid_x:
            v = space.value(name, gx)
            slc.append(ev.loss({**optimum, name: v}))
            best, value = refit(ev, space, optimum, hold={name: v})
            prof.append(value)
            others.append({k: best[k] for k in space.names if k != name})
        prof_a = np.array(prof)
        k = int(np.argmin(prof_a))
        lo_rise, hi_rise = prof_a[:k + 1].max() - prof_a[k], prof_a[k:].max() - prof_a[k]
        values = [space.value(name, gx) for gx in grid_x]
        out[name] = {"grid": values, "profile": prof, "slice": slc, "others": others,
                     "identified": bool(lo_rise > LOSS_TOLERANCE and hi_rise > LOSS_TOLERANCE),
                     "rise_below": float(lo_rise), "rise_above": float(hi_rise),
                     "interval": _within(np.array(values), prof_a, prof_a[k] + LOSS_TOLERANCE)}
    return out


def _within(x: np.ndarray, y: np.ndarray, level: float) -> tuple[float, float]:
    """The range of x where y <= level around y's minimum, interpolated linearly between grid points."""
    k = int(np.argmin(y))
    lo = x[0]
    for j in range(k, 0, -1):
        if y[j - 1] > level:
            lo = x[j - 1] + (level - y[j - 1]) * (x[j] - x[j - 1]) / (y[j] - y[j - 1])
            break
    hi = x[-1]
    for j in range(k, len(x) - 1):
        if y[j + 1] > level:
            hi = x[j] + (level - y[j]) * (x[j + 1] - x[j]) / (y[j + 1] - y[j])
            break
    return float(lo), float(hi)


def scaled_value(name: str, factor: float) -> float | int:
    """The default of ``name`` times ``factor``, inside its range (whole for integer parameters)."""
    spec = PARAMETERS[name]
    v = min(max(spec.default * factor, spec.low), spec.high)
    return int(round(v)) if spec.kind is int else float(v)


def sensitivity(ev: Evaluator, space: Space, chosen: Mapping[str, float], base: Mapping[str, Any], sizes: Sizes,
                held: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Each fixed constant at x0.5 and x2 (one at a time): loss and patterns at the chosen values, and with the
    free constants re-fitted (those in ``held`` kept)."""
    rows = []
    for name in sizes.sensitivity:
        for factor in (0.5, 2.0):
            value = scaled_value(name, factor)
            if name in HAZARD_CONSTANTS:
                other = Evaluator(ev.trajectories, {**ev.fixed, name: value})
            else:
                other = Evaluator(record_all(base, sizes.fit_runs, {name: value}), ev.fixed)
            m = other.measure(chosen)
            best, best_loss = refit(other, space, chosen, hold=held)
            rows.append({"constant": name, "factor": factor, "value": value, "loss": loss(m),
                         **{t.id: m[t.id].value for t in TARGETS}, "refit_loss": best_loss,
                         **{f"refit_{k}": v for k, v in best.items()}})
    return rows


def exact_check(tr: Trajectories, constants: Mapping[str, float]) -> dict[str, Any]:
    """The re-weighting against the engine: the engine's dissolved_step on the recorded seeds equals the recorded
    inputs with the engine's DISSOLVE draws (mismatches counted), and the re-weighted S(t) sits inside the engine
    runs' Wilson intervals."""
    r = sim.simulate(seeds=tr.seeds, keep=[], **{**tr.params, **constants})
    engine = r.summary["dissolved_step"].to_numpy(dtype=float)
    mine = tr.realised_dissolution(constants)
    same = (engine == mine) | (np.isnan(engine) & np.isnan(mine))
    weighted = tr.cohort_for(constants)
    out = {"runs": len(engine), "mismatches": int((~same).sum())}
    for step in (GRANT_TERM, 84, HORIZON):
        k = int(np.sum(~(engine <= step)))
        out[f"S{step}_engine"] = k / len(engine)
        out[f"S{step}_engine_ci"] = wilson(k, len(engine))
        out[f"S{step}_reweighted"] = weighted.survival(step)
    return out


def verify(constants: Mapping[str, float], base: Mapping[str, Any], runs: int, seed: int = VERIFY_SEED
           ) -> tuple[dict[str, Measured], dict[str, float]]:
    """Every pattern from fresh engine runs (the same fresh seeds for every cohort), with 95% intervals, and how
    lasting a run's functioning is (:func:`persistence`, base setting)."""
    seeds = run_seeds(seed, runs)
    cohorts, lasting = {}, {}
    for name, cohort in COHORTS.items():
        r = sim.simulate(seeds=seeds, keep=["left", "success", "contribution_rate"], **{**base, **cohort, **constants})
        cohorts[name] = Cohort.from_results(r)
        if name == "base":
            lasting = persistence(r)
    return measure(cohorts), lasting


def persistence(r: Any) -> dict[str, float]:
    """Among runs operating at 84: does a run's success share in the LATE steps predict its share in steps 37-84
    (Spearman), and how wide is its spread across runs against binomial noise (what P6 can read)."""
    ds = r.summary["dissolved_step"].to_numpy(dtype=float)
    keep = ~(ds <= 84)
    s = r.series("success")[keep].astype(np.float64)
    a, b = LATE
    late, after = s[:, a - 1:b].mean(axis=1), s[:, GRANT_TERM:84].mean(axis=1)
    rho = stats.spearmanr(late, after)
    return {"runs": int(keep.sum()), "spearman_late_vs_after": float(rho.statistic), "p": float(rho.pvalue),
            "sd_late": float(late.std()), "binomial_sd_late": float(math.sqrt(late.mean() * (1 - late.mean())
                                                                              / (b - a + 1)))}


def qualitative(constants: Mapping[str, float], runs: int) -> dict[str, Any]:
    """The reference specification's qualitative results (docs/ODD.md, section 9; 120 steps, every other parameter
    at its default)."""
    def batch(offset: int, strategy: str, trust: float, keep=("benefit",)):
        return sim.simulate(n_runs=runs, seed=QUAL_SEED + offset, strategy=strategy, initial_trust=trust,
                            keep=list(keep), **constants)

    sw3, ff3 = batch(0, "stepwise", 0.3), batch(1, "funder_forced", 0.3)
    sw85, ff85 = batch(2, "stepwise", 0.85), batch(3, "funder_forced", 0.85)
    out: dict[str, Any] = {"runs": runs}
    for key, r in (("stepwise_0.3", sw3), ("funder_forced_0.3", ff3)):
        s = r.summary
        k120, k36 = int(s["dissolved"].sum()), int((s["dissolved_step"] <= 36).sum())
        out[f"{key}_dissolved_120"] = (k120 / len(s), wilson(k120, len(s)))
        out[f"{key}_dissolved_36"] = (k36 / len(s), wilson(k36, len(s)))
        out[f"{key}_turnover"] = float(s["turnover"].mean()) if "turnover" in s else math.nan
    kf, ks = int(ff3.summary["dissolved"].sum()), int(sw3.summary["dissolved"].sum())
    out["forced_vs_stepwise_0.3_fisher_p"] = float(
        stats.fisher_exact([[kf, runs - kf], [ks, runs - ks]], alternative="greater").pvalue)
    b_ff = ff85.series("benefit")[:, :24].sum(axis=1)
    b_sw = sw85.series("benefit")[:, :24].sum(axis=1)
    out["benefit24_0.85_forced"] = float(b_ff.mean())
    out["benefit24_0.85_stepwise"] = float(b_sw.mean())
    out["benefit24_0.85_ratio"] = float(b_ff.mean() / b_sw.mean())
    out["benefit24_0.85_mannwhitney_p"] = float(stats.mannwhitneyu(b_ff, b_sw, alternative="greater").pvalue)
    s = sw3.summary
    reached = s["first_step_level_4"].notna().to_numpy()
    ds = s["dissolved_step"].to_numpy(dtype=float)
    out["stepwise_0.3_reached_collaboration"] = (float(reached.mean()), wilson(int(reached.sum()), len(s)))
    out["stepwise_0.3_dissolved_before_collaboration"] = float((~reached & ~np.isnan(ds)).mean())
    out["stepwise_0.3_neither"] = float((~reached & np.isnan(ds)).mean())
    out["stepwise_0.3_median_step_collaboration"] = float(np.nanmedian(s["first_step_level_4"].to_numpy(float)))
    return out


def by_size(constants: Mapping[str, float], runs: int, sizes: Sequence[int]) -> pd.DataFrame:
    """Stepwise at trust 0.3, 120 steps: dissolved by 120, turnover and S(102) of the calibration setting, by n_orgs
    (root seed fixed), with the largest second difference against its noise bound 4 sqrt(6 p(1-p)/runs)."""
    rows = []
    for n in sizes:
        sw = sim.simulate(n_runs=runs, seed=SIZE_SEED, strategy="stepwise", n_orgs=n, keep=[], **constants).summary
        fp = sim.simulate(n_runs=runs, seed=SIZE_SEED + 1, strategy=STRATEGY, n_orgs=n, grant_term=GRANT_TERM,
                          n_steps=HORIZON, keep=[], **constants).summary
        rows.append({"n_orgs": n, "stepwise_dissolved_120": float(sw["dissolved"].mean()),
                     "stepwise_turnover": float(sw["turnover"].mean()) if "turnover" in sw else math.nan,
                     "patient_S102": float(np.mean(~(fp["dissolved_step"].to_numpy(float) <= HORIZON)))})
    return pd.DataFrame(rows)


def max_second_difference(n: np.ndarray, d: np.ndarray) -> float:
    """The largest |d(n+1) - 2 d(n) + d(n-1)| over consecutive values of n (NaN when there are none)."""
    pos = {int(k): i for i, k in enumerate(n)}
    diffs = [abs(d[pos[k + 1]] - 2 * d[pos[k]] + d[pos[k - 1]]) for k in pos if k - 1 in pos and k + 1 in pos]
    return float(max(diffs)) if diffs else math.nan


def hazard_inputs(tr: Trajectories) -> dict[str, float]:
    """Mean hazard inputs over the steps the rule was asked, during the grant and after it (what the terms act on)."""
    out = {}
    steps = np.arange(1, tr.asked.shape[1] + 1)
    for label, sel in (("grant", steps <= GRANT_TERM), ("after", steps > GRANT_TERM)):
        mask = tr.asked & sel[None, :]
        for name in ("gap", "fail_rate", "shortfall", "mean_leadership"):
            out[f"{name}_{label}"] = float(getattr(tr, name)[mask].mean())
        out[f"gap_positive_{label}"] = float((tr.gap[mask] > 0).mean())
    return out


# --- report --------------------------------------------------------------------------------------------------------


def fmt_params(p: Mapping[str, float]) -> str:
    return ", ".join(f"{n}={v:.4g}" for n, v in p.items())


def pattern_rows(fitted: Mapping[str, Measured], verified: Mapping[str, Measured]) -> pd.DataFrame:
    """A row per pattern: target, tolerance, simulated values, interval, distance and pass."""
    rows = []
    for t in TARGETS:
        f, v = fitted[t.id], verified[t.id]
        d = t.distance(v.value)
        rows.append({"id": t.id, "statistic": t.statistic, "in_loss": t.in_loss, "kind": t.kind,
                     "target": t.target, "low": t.low, "high": t.high, "sd": t.sd,
                     "fit_value": f.value, "value": v.value, "ci_low": v.low, "ci_high": v.high, "p": v.p,
                     "distance_sd": d, "loss_term": d * d if t.in_loss else math.nan,
                     "passes": bool(check_passes(t, v) if t.kind == "above" else v.high >= t.low and v.low <= t.high),
                     "source": t.source})
    return pd.DataFrame(rows)


def print_patterns(table: pd.DataFrame) -> None:
    print(f"  {'id':<6}{'target':>26}{'fit (re-weighted)':>19}{'verified [95% interval]':>30}{'distance':>10}  pass")
    for r in table.itertuples():
        t = TARGET[r.id]
        ci = f"[{r.ci_low:.3f}, {r.ci_high:.3f}]" if math.isfinite(r.ci_low) else (
            f"(p = {r.p:.1e})" if math.isfinite(r.p) else "")
        dist = f"{r.distance_sd:+.2f} sd" if math.isfinite(r.distance_sd) else ""
        print(f"  {r.id:<6}{t.text():>26}{r.fit_value:>19.3f}{f'{r.value:.3f} {ci}':>30}{dist:>10}  "
              f"{'yes' if r.passes else 'NO'}")


def _csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.6g")
    return buf.getvalue().encode()


def _timed(label: str, fn: Callable[[], Any], timings: dict[str, float]) -> Any:
    t = time.perf_counter()
    value = fn()
    timings[label] = time.perf_counter() - t
    return value


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches and searches (a smoke run)")
    ap.add_argument("--spec", type=Path, default=SPEC_PATH, help="calibration spec (default: %(default)s)")
    ap.add_argument("--out", type=Path, help="results folder (default: results/calibration, or its quick/ with "
                                             "--quick)")
    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out_dir = args.out or (OUT_DIR / "quick" if args.quick else OUT_DIR)
    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    spec = load_calibration_spec(args.spec)
    base = setting(spec)
    space = space_of(spec)
    fixed = {n: PARAMETERS[n].default for n in HAZARD_CONSTANTS if n not in space.names}
    record_json: dict[str, Any] = {"mode": "quick" if args.quick else "full", "setting": base, "fixed": fixed,
                                   "free_bounds": dict(zip(space.names, zip(space.low, space.high, strict=True),
                                                           strict=True))}
    print(f"Setting: {base}; free: {', '.join(space.names)}; fixed hazard constants: {fmt_params(fixed)}")

    # Stage 1: record, then screen.
    trajectories = _timed("record", lambda: record_all(base, sizes.fit_runs), timings)
    ev = Evaluator(trajectories, fixed)
    t = time.perf_counter()
    ev.loss(CALIBRATED)
    t_eval = time.perf_counter() - t
    design = build_design(spec)
    pts = design.points
    screen = [{n: float(pts[n].iloc[i]) for n in space.names} for i in range(design.n_points)]
    screen_loss = _timed("screen", lambda: np.array([ev.loss(p) for p in screen]), timings)
    order = np.argsort(screen_loss)
    print(f"\n[1] recorded {sum(sizes.fit_runs.values()):,} runs of {len(COHORTS)} settings in "
          f"{timings['record']:.1f} s (seed {FIT_SEED}); one evaluation "
          f"{1000 * t_eval:.0f} ms; screen of {design.n_points} points {timings['screen']:.1f} s")
    for name, tr in trajectories.items():
        hi = hazard_inputs(tr)
        print(f"  {name:<15} hazard inputs, grant / after: G {hi['gap_grant']:.4f} / {hi['gap_after']:.4f} "
              f"(G > 0 in {hi['gap_positive_grant']:.3f} / {hi['gap_positive_after']:.3f} of steps), "
              f"fail rate {hi['fail_rate_grant']:.3f} / {hi['fail_rate_after']:.3f}, "
              f"shortfall {hi['shortfall_grant']:.4f} / {hi['shortfall_after']:.4f}, "
              f"mean leadership {hi['mean_leadership_grant']:.3f} / {hi['mean_leadership_after']:.3f}")
    record_json["hazard_inputs"] = {name: hazard_inputs(tr) for name, tr in trajectories.items()}
    for i in order[:5]:
        print(f"    screen point {i:3d}: {fmt_params(screen[i])} -> loss {screen_loss[i]:.2f}")
    record_json["screen"] = {"n_points": design.n_points, "best": [{**screen[i], "loss": float(screen_loss[i])}
                                                                   for i in order[:10]]}

    # Stage 2: differential evolution.
    init = np.array([space.to_x(screen[i]) for i in order[:sizes.n_init]])
    n0 = ev.n_evaluations
    optimum, res = _timed("fit", lambda: fit(ev, space, init, sizes), timings)
    opt_m = ev.measure(optimum)
    print(f"\n[2] differential evolution ({ev.n_evaluations - n0} evaluations, {timings['fit']:.1f} s, "
          f"{res.message}): {fmt_params(optimum)} -> loss {res.fun:.3f}")
    record_json["fit"] = {"optimum": optimum, "loss": float(res.fun), "evaluations": ev.n_evaluations - n0,
                          "message": str(res.message), "patterns": {k: m.value for k, m in opt_m.items()}}

    # Stage 3: identification.
    prof = _timed("profiles", lambda: profiles(ev, space, optimum, sizes.profile_points), timings)
    print(f"\n[3] profiles ({timings['profiles']:.1f} s): loss with the other constants re-fitted (held at the "
          f"optimum)")
    for name, p in prof.items():
        cells = "  ".join(f"{g:.4g}: {v:.2f} ({s:.2f})" for g, v, s in zip(p["grid"], p["profile"], p["slice"],
                                                                          strict=True))
        verdict = "identified" if p["identified"] else "NOT identified"
        print(f"  {name}: {verdict}, within 1 loss unit for {p['interval'][0]:.4g}..{p['interval'][1]:.4g} "
              f"(rise below {p['rise_below']:.2f}, above {p['rise_above']:.2f})\n    {cells}")
    record_json["profiles"] = prof

    # Stage 4: the values to apply.
    pick = choose(ev, space, optimum, prof)
    chosen, chosen_loss = pick["chosen"], pick["loss"]
    print(f"\n[4] values: held (not identified) {fmt_params(pick['held']) or 'none'}; the others re-fitted "
          f"{fmt_params(pick['refitted'])} (loss {pick['refitted_loss']:.3f}); rounded from "
          f"{len(pick['candidates'])} candidates: {fmt_params(chosen)} (loss {chosen_loss:.3f})")
    same = all(math.isclose(chosen[n], CALIBRATED.get(n, math.nan), rel_tol=1e-9) for n in space.names)
    if not same:
        print(f"  NOTE: differs from the documented CALIBRATED = {fmt_params(CALIBRATED)}; update the docs")
    record_json["values"] = {**{k: v for k, v in pick.items() if k != "candidates"},
                             "candidates": [{**p, "loss": v} for p, v in pick["candidates"]],
                             "matches_documented": same}

    # Stage 5: verification.
    constants = {**fixed, **chosen}
    check = _timed("exact_check", lambda: exact_check(trajectories["base"], constants), timings)
    verified, lasting = _timed("verify", lambda: verify(constants, base, sizes.verify_runs), timings)
    fitted = ev.measure(chosen)
    table = pattern_rows(fitted, verified)
    print(f"\n[5] exact check on the fit's {check['runs']} base runs: {check['mismatches']} mismatches between the "
          f"engine's dissolved_step and the re-weighted runs' own draws; S(36), S(84), S(102) engine "
          f"{check['S36_engine']:.3f}, {check['S84_engine']:.3f}, {check['S102_engine']:.3f} / re-weighted "
          f"{check['S36_reweighted']:.3f}, {check['S84_reweighted']:.3f}, {check['S102_reweighted']:.3f}")
    print(f"  verification on fresh seeds ({sizes.verify_runs} runs a setting, seed {VERIFY_SEED}, "
          f"{timings['verify']:.1f} s); loss {loss(verified):.3f}")
    print_patterns(table)
    print(f"  functioning as a lasting trait (P6 reads it): among {lasting['runs']} runs operating at 84, success "
          f"share in steps {LATE[0]}-{LATE[1]} vs 37-84: Spearman {lasting['spearman_late_vs_after']:+.3f} "
          f"(p = {lasting['p']:.1e}); its spread {lasting['sd_late']:.3f} against binomial noise "
          f"{lasting['binomial_sd_late']:.3f}")
    record_json["exact_check"] = check
    record_json["persistence"] = lasting
    record_json["verification"] = {"runs": sizes.verify_runs, "seed": VERIFY_SEED, "loss": loss(verified),
                                   "patterns": table.to_dict(orient="records")}
    current = {n: PARAMETERS[n].default for n in space.names}
    print(f"  sim.params defaults now: {fmt_params(current)} ({'= chosen' if current == chosen else 'differ'})")

    # Stage 6: sensitivity.
    sens = _timed("sensitivity", lambda: sensitivity(ev, space, chosen, base, sizes, pick["held"]), timings)
    print(f"\n[6] sensitivity of the fixed constants ({timings['sensitivity']:.1f} s): loss at the chosen values "
          f"({chosen_loss:.2f} at the defaults), loss re-fitted, and the patterns that move")
    for row in sens:
        moved = ", ".join(f"{t.id} {row[t.id]:.3f}" for t in TARGETS
                          if t.in_loss and abs(t.distance(row[t.id]) - t.distance(fitted[t.id].value)) > 0.5)
        print(f"  {row['constant']:<17} x{row['factor']:<4g}({row['value']:<7g}): loss {row['loss']:7.2f}, "
              f"re-fitted {row['refit_loss']:6.2f}" + (f"; moved > 0.5 sd: {moved}" if moved else ""))
    record_json["sensitivity"] = sens

    # Stage 7: qualitative results and size.
    qual = _timed("qualitative", lambda: qualitative(constants, sizes.qual_runs), timings)
    size = _timed("by_size", lambda: by_size(constants, sizes.size_runs, sizes.size_values), timings)
    print(f"\n[7] qualitative ({sizes.qual_runs} runs a cell, 120 steps; {timings['qualitative']:.1f} s)")
    for key in ("stepwise_0.3", "funder_forced_0.3"):
        (d120, ci120), (d36, ci36) = qual[f"{key}_dissolved_120"], qual[f"{key}_dissolved_36"]
        print(f"  {key:<18} dissolved by 36: {d36:.3f} [{ci36[0]:.3f}, {ci36[1]:.3f}]  by 120: {d120:.3f} "
              f"[{ci120[0]:.3f}, {ci120[1]:.3f}]; turnover {qual[f'{key}_turnover']:.2f}")
    print(f"  forced dissolves more than stepwise at 0.3: Fisher one-sided p = "
          f"{qual['forced_vs_stepwise_0.3_fisher_p']:.1e}")
    print(f"  benefit in the first 24 steps at 0.85: funder_forced {qual['benefit24_0.85_forced']:.1f}, stepwise "
          f"{qual['benefit24_0.85_stepwise']:.1f} (x{qual['benefit24_0.85_ratio']:.2f}, Mann-Whitney p = "
          f"{qual['benefit24_0.85_mannwhitney_p']:.1e})")
    r, rci = qual["stepwise_0.3_reached_collaboration"]
    print(f"  stepwise at 0.3 reached collaboration: {r:.3f} [{rci[0]:.3f}, {rci[1]:.3f}]; dissolved before: "
          f"{qual['stepwise_0.3_dissolved_before_collaboration']:.3f}; neither: {qual['stepwise_0.3_neither']:.3f}")
    second = max_second_difference(size["n_orgs"].to_numpy(), size["stepwise_dissolved_120"].to_numpy())
    bound = 4 * math.sqrt(6 * 0.25 / sizes.size_runs)
    print(f"  by n_orgs ({sizes.size_runs} runs each; {timings['by_size']:.1f} s); largest second difference of "
          f"stepwise dissolved by 120: {second:.3f} (noise bound {bound:.3f})")
    print("    " + size.to_string(index=False, float_format=lambda x: f"{x:.3f}").replace("\n", "\n    "))
    record_json["qualitative"] = qual
    record_json["by_size"] = {"table": size.to_dict(orient="records"), "max_second_difference": second,
                              "noise_bound": bound}

    total = time.perf_counter() - t_all
    record_json["timings_seconds"] = {**timings, "total": total}
    from sim.manifest import provenance, write_bytes_atomic, write_json_atomic

    write_json_atomic(out_dir / "calibration.json", {"provenance": provenance(), **record_json})
    write_bytes_atomic(out_dir / "patterns.csv", _csv_bytes(table))
    write_bytes_atomic(out_dir / "sensitivity.csv", _csv_bytes(pd.DataFrame(sens)))
    write_bytes_atomic(out_dir / "profiles.csv", _csv_bytes(pd.DataFrame(
        [{"constant": n, "value": g, "profile_loss": v, "slice_loss": s}
         for n, p in prof.items() for g, v, s in zip(p["grid"], p["profile"], p["slice"], strict=True)])))
    print(f"\ntotal runtime {total:.0f} s; wrote {out_dir}/calibration.json, patterns.csv, profiles.csv, "
          f"sensitivity.csv")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CalibrationError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        sys.exit(2)
