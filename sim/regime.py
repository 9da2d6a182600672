"""The reference regime: the engine, with the reference constants, against the reference table.

An independent implementation of the reference equations and defaults
(docs/ODD.md, section 9; 5,000 runs a row, ``n_orgs`` 6, its own random
numbers) gave :data:`TABLE`: per strategy and initial trust, the shares of
partnerships dissolved by months 36 and 120, the share that reached
collaboration (level 4 at some step), and the mean benefit in the first 24
and over 120 months. A faithful engine agrees within sampling noise; a larger
difference is a bug, or a rule change that the docs must explain.

:func:`compare_regime` runs the engine on the table's rows and returns a
:class:`RegimeComparison`; ``trustladder regime [--all] [--runs N]`` prints it
(``make regime`` runs every row). The rule constants are passed explicitly
(:data:`REFERENCE_CONSTANTS`), so the comparison stays valid after the
defaults are calibrated, and the package's ``sim.REFERENCE_VARIANTS`` (the
rule-variant choices that reproduce the reference rules) is added when the
package defines it.

Tolerance (about four standard errors): a share from ``n`` engine runs passes
when ``|got - ref| <= 4 (sqrt(v / n) + sqrt(v / 5000)) + 0.005`` with
``v = max(ref (1 - ref), 0.5 / n)`` (the engine's and the reference's
sampling errors; the floor keeps a share of 0 or 1 from demanding an exact
match); a mean benefit passes when ``|got - ref| <= 0.08 |ref| + 1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import sim

from .params import ParamError

__all__ = [
    "MEASURES",
    "QUICK",
    "REFERENCE_CONSTANTS",
    "REFERENCE_RUNS",
    "REFERENCE_SEED",
    "TABLE",
    "RegimeComparison",
    "compare_regime",
    "mean_ok",
    "share_ok",
]

#: The reference values of every rule constant (the defaults of the reference specification).
REFERENCE_CONSTANTS: dict[str, Any] = dict(
    n_orgs=6, n_steps=120, trust_noise=0.05, cultural_distance=0.5, prejudice=0.3,
    cultural_learning=0.01, communication=0.5, ground_rules=0.0, leadership=0.5,
    individualism=0.3, identity=0.5, gain_rate=0.10, loss_rate=0.25, free_rider_penalty=0.05,
    celebration=0.2, capacity_growth=0.02, climb_margin=0.05, climb_patience=6,
    retreat_after=3, fixed_level=4, forced_level=4, grant=0.5, deadline=24,
    benefit_target=10.0, schedule_interval=6, grant_term=36, quorum=0.5, trait_spread=0.1,
    miscommunication=0.01, misperception=0.15, contribution_bias=2.0, success_bias=1.5,
    success_slope=8.0, exit_base=0.007, exit_gap=0.3, identity_weight=0.005,
)

#: The measures of a row: (name, heading, kind), kind "share" or "mean".
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("dissolved_by_36", "dissolved by 36", "share"),
    ("dissolved_by_120", "dissolved by 120", "share"),
    ("reached_collaboration", "reached 4", "share"),
    ("benefit_24", "benefit 24", "mean"),
    ("benefit_120", "benefit 120", "mean"),
)

#: (strategy, initial_trust) -> the reference values of :data:`MEASURES`, in order.
TABLE: dict[tuple[str, float], tuple[float, float, float, float, float]] = {
    ("stepwise", 0.15): (0.01, 0.39, 0.98, 18.2, 341), ("stepwise", 0.3): (0.01, 0.39, 0.99, 28.2, 398),
    ("stepwise", 0.5): (0.01, 0.41, 1.00, 43.6, 458), ("stepwise", 0.7): (0.01, 0.42, 1.00, 52.7, 505),
    ("stepwise", 0.85): (0.01, 0.42, 1.00, 56.8, 527),
    ("funder_forced", 0.15): (0.91, 0.98, 1.00, 0.2, 8), ("funder_forced", 0.3): (0.89, 0.97, 1.00, 0.5, 11),
    ("funder_forced", 0.5): (0.85, 0.96, 1.00, 5.1, 23), ("funder_forced", 0.7): (0.60, 0.80, 1.00, 48.2, 224),
    ("funder_forced", 0.85): (0.30, 0.60, 1.00, 93.7, 492),
    ("funder_schedule", 0.15): (0.62, 0.89, 0.99, 16.4, 51), ("funder_schedule", 0.3): (0.52, 0.86, 1.00, 31.9, 87),
    ("funder_schedule", 0.5): (0.32, 0.75, 1.00, 47.3, 180), ("funder_schedule", 0.7): (0.19, 0.65, 1.00, 55.4, 271),
    ("funder_schedule", 0.85): (0.13, 0.60, 1.00, 58.9, 331),
    ("fixed", 0.15): (1.00, 1.00, 1.00, 0.1, 0), ("fixed", 0.3): (1.00, 1.00, 1.00, 0.4, 0),
    ("fixed", 0.5): (0.99, 1.00, 1.00, 4.9, 9), ("fixed", 0.7): (0.75, 0.94, 1.00, 46.6, 165),
    ("fixed", 0.85): (0.42, 0.87, 1.00, 91.4, 362),
    ("funder_patient", 0.15): (0.00, 0.30, 0.99, 18.8, 371), ("funder_patient", 0.3): (0.00, 0.31, 1.00, 29.0, 430),
    ("funder_patient", 0.5): (0.00, 0.32, 1.00, 44.9, 497), ("funder_patient", 0.7): (0.00, 0.32, 1.00, 54.2, 550),
    ("funder_patient", 0.85): (0.00, 0.33, 1.00, 58.6, 575),
}
#: The ten quick rows: every strategy at initial trust 0.3 and 0.85.
QUICK: tuple[tuple[str, float], ...] = tuple(k for k in TABLE if k[1] in (0.3, 0.85))
#: Runs a row of the reference implementation.
REFERENCE_RUNS = 5000
#: The engine's root seed for every row.
REFERENCE_SEED = 20261125


def share_ok(got: float, ref: float, n: int) -> bool:
    """Whether a share from ``n`` engine runs agrees with the reference share (about four standard errors)."""
    var = max(ref * (1 - ref), 0.5 / n)
    se = math.sqrt(var / n) + math.sqrt(var / REFERENCE_RUNS)
    return abs(got - ref) <= 4 * se + 0.005


def mean_ok(got: float, ref: float) -> bool:
    """Whether a mean benefit agrees with the reference mean (8% of it, plus 1)."""
    return abs(got - ref) <= 0.08 * abs(ref) + 1.0


@dataclass
class RegimeComparison:
    """The engine against the reference table, row by row.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (strategy, initial_trust): for each measure of
        :data:`MEASURES`, the engine's value (``<measure>``), the reference
        (``<measure>_ref``) and whether it is within tolerance
        (``<measure>_ok``); ``ok`` when every measure is.
    runs : int
        Engine runs a row.
    seed : int
        The engine's root seed.
    variants : dict
        The ``sim.REFERENCE_VARIANTS`` passed with the constants (empty when the
        package defines none).
    """

    table: pd.DataFrame
    runs: int
    seed: int = REFERENCE_SEED
    variants: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every row agrees with the reference regime."""
        return bool(self.table["ok"].all())

    @property
    def n_differ(self) -> int:
        """Rows with at least one measure outside its tolerance."""
        return int((~self.table["ok"]).sum())

    def format(self) -> str:
        """The comparison as text: ``engine/reference`` per cell, ``X`` outside tolerance, and a verdict."""
        heads = [h for _, h, _ in MEASURES]
        widths = [max(len(h), 12) for h in heads]
        lines = [f"{'strategy':16} trust  " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))]
        for row in self.table.itertuples(index=False):
            r = row._asdict()
            cells = []
            for (name, _, kind), w in zip(MEASURES, widths, strict=True):
                digits = 2 if kind == "share" else 1
                cell = f"{r[name]:.{digits}f}/{r[name + '_ref']:.{digits}f}{'' if r[name + '_ok'] else ' X'}"
                cells.append(f"{cell:>{w}}")
            lines.append(f"{r['strategy']:16} {r['initial_trust']:<5}  " + " ".join(cells))
        verdict = ("All rows agree with the reference regime." if self.ok else
                   f"{self.n_differ} row(s) differ: a bug, or a rule change the docs must explain.")
        lines.append(f"engine/reference, {self.runs:,} runs a row; X = outside tolerance. {verdict}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _measures(strategy: str, trust: float, runs: int, seed: int, variants: dict[str, Any]) -> tuple[float, ...]:
    params = dict(REFERENCE_CONSTANTS, **variants, strategy=strategy, initial_trust=trust)
    r = sim.simulate(n_runs=runs, seed=seed, keep=("level", "benefit"), **params)
    level = np.asarray(r.series("level"))
    benefit = np.asarray(r.series("benefit"), dtype=float)
    return (float((level[:, 35] == 0).mean()), float((level[:, -1] == 0).mean()),
            float((level >= 4).any(axis=1).mean()), float(benefit[:, :24].sum(axis=1).mean()),
            float(np.mean(r.summary["cumulative_benefit"])))


def compare_regime(rows: Iterable[tuple[str, float]] | str = "quick", *, runs: int = 2000,
                   seed: int = REFERENCE_SEED) -> RegimeComparison:
    """Run the engine on reference rows and compare each measure with the table.

    Parameters
    ----------
    rows : "quick", "all" or iterable of (strategy, initial_trust)
        The ten :data:`QUICK` rows, all 25 rows of :data:`TABLE`, or the rows named.
    runs : int
        Engine runs a row (the tolerance widens as it falls).
    seed : int
        The engine's root seed.

    Returns
    -------
    RegimeComparison
    """
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or runs < 1:
        raise ParamError(f"runs = {runs!r} must be a whole number >= 1")
    if isinstance(rows, str):
        if rows not in ("quick", "all"):
            raise ParamError(f"rows = {rows!r} is not allowed (allowed: quick, all, or (strategy, trust) pairs)")
        keys = list(QUICK if rows == "quick" else TABLE)
    else:
        keys = [(str(s), float(t)) for s, t in rows]
        unknown = [k for k in keys if k not in TABLE]
        if unknown:
            raise ParamError(f"{unknown[0]!r} is not a row of the reference table (rows: strategies "
                             f"{', '.join(dict.fromkeys(s for s, _ in TABLE))} at initial trust 0.15, 0.3, 0.5, "
                             "0.7, 0.85)")
    # From Model 5 on, the package names the rule variants that reproduce the reference rules
    # (e.g. {"dissolution": "quorum", "membership": "closed"}) in sim.REFERENCE_VARIANTS.
    variants = dict(getattr(sim, "REFERENCE_VARIANTS", {}))
    out = []
    for strategy, trust in keys:
        got = _measures(strategy, trust, int(runs), seed, variants)
        row: dict[str, Any] = {"strategy": strategy, "initial_trust": trust}
        for (name, _, kind), g, ref in zip(MEASURES, got, TABLE[(strategy, trust)], strict=True):
            row[name] = g
            row[name + "_ref"] = float(ref)
            row[name + "_ok"] = share_ok(g, ref, int(runs)) if kind == "share" else mean_ok(g, ref)
        row["ok"] = all(row[name + "_ok"] for name, _, _ in MEASURES)
        out.append(row)
    return RegimeComparison(pd.DataFrame(out), int(runs), seed, variants)
