"""Partnership survival: Kaplan-Meier curves, log-rank tests, survival after the grant ends.

A run *survives* step ``t`` when it has not dissolved by the end of step
``t``. A run dissolved on step ``k`` (``dissolved_step``, MODEL.md phase 7)
is an event at time ``k``; a run that never dissolved is right-censored at
its horizon ``n_steps``. Curves come from :func:`scipy.stats.ecdf` on
:class:`scipy.stats.CensoredData` (the Kaplan-Meier estimator), their
pointwise intervals from ``sf.confidence_interval`` (Greenwood's variance on
the log-log scale by default, which keeps the interval inside [0, 1]), and
the tests from :func:`scipy.stats.logrank`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..params import PARAMETERS
from .data import AnalysisError, as_results, cell_columns, horizon, select_runs, strategy_order, survival_data
from .stats import cell_groups

__all__ = [
    "SurvivalCurve",
    "kaplan_meier",
    "survival_curves",
    "survival_table",
    "survival_summary",
    "logrank_tests",
    "after_grant_data",
    "survival_after_grant",
    "DEFAULT_WINDOW",
]

#: Months after grant_term over which "survival after the money stops" is measured.
DEFAULT_WINDOW = 24


@dataclass
class SurvivalCurve:
    """A Kaplan-Meier curve evaluated on whole steps ``0 .. horizon``.

    Attributes
    ----------
    step : ndarray
        0, 1, ..., horizon.
    survival, low, high : ndarray
        Estimated share still together at the end of each step, and its
        pointwise confidence interval.
    at_risk : ndarray
        Runs still together and observed after each step.
    n, events : int
        Runs in the curve, and how many of them dissolved.
    """

    step: np.ndarray
    survival: np.ndarray
    low: np.ndarray
    high: np.ndarray
    at_risk: np.ndarray
    n: int
    events: int

    def at(self, step: float) -> float:
        """Survival at the end of ``step`` (NaN beyond the horizon)."""
        if step < 0 or step > self.step[-1]:
            return np.nan
        return float(self.survival[int(np.floor(step))])

    def median(self) -> float:
        """First step at which survival is 0.5 or less (NaN if it never falls that low)."""
        below = np.nonzero(self.survival <= 0.5)[0]
        return float(self.step[below[0]]) if below.size else np.nan

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"step": self.step, "survival": self.survival, "low": self.low, "high": self.high,
                             "at_risk": self.at_risk})


def kaplan_meier(time: Sequence[float] | np.ndarray, event: Sequence[bool] | np.ndarray, *,
                 horizon: int | None = None, confidence_level: float = 0.95,
                 ci_method: str = "log-log") -> SurvivalCurve:
    """Kaplan-Meier survival of ``time`` (event or censoring step) and ``event`` (True = dissolved).

    Parameters
    ----------
    time : array_like
        Step of the event, or of censoring when ``event`` is False.
    event : array_like of bool
    horizon : int, optional
        Last step of the curve (default: the largest time).
    confidence_level : float
        Level of the pointwise interval.
    ci_method : {"log-log", "linear"}
        Interval method of :meth:`scipy.stats._survival.EmpiricalDistributionFunction.confidence_interval`.

    Returns
    -------
    SurvivalCurve
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=bool)
    if t.shape != e.shape or t.ndim != 1:
        raise AnalysisError(f"time and event must be 1-D and of one length (got {t.shape} and {e.shape})")
    if t.size == 0:
        raise AnalysisError("kaplan_meier: no runs to estimate survival from")
    if np.isnan(t).any() or (t < 0).any():
        raise AnalysisError("kaplan_meier: times must be >= 0 and not NaN")
    if not 0 < confidence_level < 1:
        raise AnalysisError(f"confidence_level = {confidence_level!r} is out of range (allowed: between 0 and 1)")
    if ci_method not in ("log-log", "linear"):
        raise AnalysisError(f"ci_method = {ci_method!r} is not allowed (allowed: log-log, linear)")
    last = int(np.ceil(t.max())) if horizon is None else int(horizon)
    grid = np.arange(last + 1, dtype=float)
    at_risk = (t[None, :] > grid[:, None]).sum(axis=1)
    if not e.any():
        # No event: the estimate is 1 throughout and Greenwood's variance is 0.
        ones = np.ones_like(grid)
        return SurvivalCurve(grid, ones, ones.copy(), ones.copy(), at_risk, int(t.size), 0)
    data = stats.CensoredData(uncensored=t[e], right=t[~e])
    res = stats.ecdf(data)
    surv = res.sf.evaluate(grid)
    with warnings.catch_warnings():
        # Where survival reaches 0 the log-log interval is undefined; scipy warns and returns NaN there.
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = res.sf.confidence_interval(confidence_level=confidence_level, method=ci_method)
        low = ci.low.evaluate(grid)
        high = ci.high.evaluate(grid)
    # Before the first event the estimate is exactly 1 with no variance.
    low = np.where(surv >= 1, 1.0, low)
    high = np.where(surv >= 1, 1.0, high)
    low = np.where(np.isnan(low) & (surv <= 0), 0.0, low)
    high = np.where(np.isnan(high) & (surv <= 0), 0.0, high)
    return SurvivalCurve(grid, surv, low, high, at_risk, int(t.size), int(e.sum()))


def _groups(runs: pd.DataFrame, by: list[str], order: list[str]):
    keys = [((), runs)] if not by else [(k if isinstance(k, tuple) else (k,), g)
                                        for k, g in runs.groupby(by, sort=True)]
    for key, cell in keys:
        strat = cell["strategy"].astype(str)
        for s in order:
            sub = cell[strat == s]
            if len(sub):
                yield key, s, sub


def _horizon_of(results: Any, runs: pd.DataFrame) -> np.ndarray:
    if "n_steps" in runs.columns:
        return runs["n_steps"].to_numpy(dtype=float)
    return np.full(len(runs), float(horizon(results)))


def survival_curves(results: Any, *, by: Sequence[str] | str | None = None, where: Mapping[str, Any] | None = None,
                    strategies: Sequence[str] | None = None, confidence_level: float = 0.95,
                    ci_method: str = "log-log") -> dict[tuple[Any, ...], SurvivalCurve]:
    """Kaplan-Meier curve per cell and strategy: ``{(*cell values, strategy): SurvivalCurve}``."""
    results = as_results(results)
    by = cell_columns(results, by)
    runs = select_runs(results, where, strategies)
    order = strategy_order(results)
    out = {}
    for key, s, sub in _groups(runs, by, order):
        hz = _horizon_of(results, sub)
        t, e = survival_data(sub, hz)
        out[(*key, s)] = kaplan_meier(t, e, horizon=int(hz.max()), confidence_level=confidence_level,
                                      ci_method=ci_method)
    return out


def survival_table(results: Any, *, by: Sequence[str] | str | None = None, where: Mapping[str, Any] | None = None,
                   strategies: Sequence[str] | None = None, confidence_level: float = 0.95,
                   ci_method: str = "log-log") -> pd.DataFrame:
    """Long table of the curves: ``*by, strategy, step, survival, low, high, at_risk``."""
    results = as_results(results)
    by = cell_columns(results, by)
    frames = []
    for key, curve in survival_curves(results, by=by, where=where, strategies=strategies,
                                      confidence_level=confidence_level, ci_method=ci_method).items():
        f = curve.to_frame()
        for name, value in zip([*by, "strategy"], key, strict=False):
            f.insert(len(f.columns) - 5, name, value)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def _base_value(results: Any, name: str) -> float | None:
    runs = results.runs
    if name in runs.columns:
        vals = pd.unique(runs[name])
        return float(vals[0]) if len(vals) == 1 else None
    base = (results.manifest.get("spec") or {}).get("base") or {}
    return float(base.get(name, PARAMETERS[name].default))


def survival_summary(results: Any, steps: Sequence[int] | None = None, *, by: Sequence[str] | str | None = None,
                     where: Mapping[str, Any] | None = None, strategies: Sequence[str] | None = None,
                     confidence_level: float = 0.95, ci_method: str = "log-log") -> pd.DataFrame:
    """Survival at chosen steps (default: deadline, grant_term and the horizon), with intervals.

    Returns
    -------
    pandas.DataFrame
        One row per cell, strategy and step: ``n``, ``dissolved`` (events),
        ``median_survival`` (step, NaN if survival never falls to 0.5),
        ``step``, ``survival``, ``low``, ``high``.
    """
    results = as_results(results)
    by = cell_columns(results, by)
    if steps is None:
        hz = horizon(results)
        steps = sorted({int(v) for v in (_base_value(results, "deadline"), _base_value(results, "grant_term"), hz)
                        if v is not None and v <= hz})
    rows = []
    for key, curve in survival_curves(results, by=by, where=where, strategies=strategies,
                                      confidence_level=confidence_level, ci_method=ci_method).items():
        for st in steps:
            i = int(st)
            inside = 0 <= i < len(curve.step)
            rows.append({**dict(zip([*by, "strategy"], key, strict=False)), "n": curve.n, "dissolved": curve.events,
                         "median_survival": curve.median(), "step": i,
                         "survival": curve.survival[i] if inside else np.nan,
                         "low": curve.low[i] if inside else np.nan, "high": curve.high[i] if inside else np.nan})
    return pd.DataFrame(rows)


def logrank_tests(results: Any, *, reference: str | None = None, by: Sequence[str] | str | None = None,
                  where: Mapping[str, Any] | None = None, strategies: Sequence[str] | None = None,
                  after_grant: bool = False, window: int = DEFAULT_WINDOW) -> pd.DataFrame:
    """Log-rank tests of equal survival between strategies, per cell.

    Parameters
    ----------
    reference : str, optional
        Compare every strategy with this one; default: every pair.
    after_grant : bool
        Test survival in the ``window`` months after grant_term instead (runs
        alive at grant_term only).

    Returns
    -------
    pandas.DataFrame
        ``*by, strategy_a, strategy_b, n_a, n_b, events_a, events_b,
        statistic`` (scipy's z statistic: positive when ``strategy_a`` dissolves
        more than expected), ``p_value``, and ``p_adjusted``
        (Benjamini-Hochberg within each cell).
    """
    results = as_results(results)
    by = cell_columns(results, by)
    runs = select_runs(results, where, strategies)
    order = [s for s in strategy_order(results) if s in set(runs["strategy"].astype(str))]
    if reference is not None and reference not in order:
        raise AnalysisError(f"reference = {reference!r} is not among the selected strategies ({', '.join(order)})")
    pairs = ([(s, reference) for s in order if s != reference] if reference else list(itertools.combinations(order, 2)))
    if not pairs:
        raise AnalysisError("log-rank tests need at least two strategies in the selection")
    cells = [((), runs)] if not by else [(k if isinstance(k, tuple) else (k,), g)
                                         for k, g in runs.groupby(by, sort=True)]
    rows = []
    for key, cell in cells:
        data = {}
        for s in order:
            sub = cell[cell["strategy"].astype(str) == s]
            if not len(sub):
                continue
            if after_grant:
                t, e, _ = after_grant_data(results, sub, window)
            else:
                t, e = survival_data(sub, _horizon_of(results, sub))
            if len(t):
                data[s] = (t, e)
        cell_rows = []
        for a, b in pairs:
            if a not in data or b not in data:
                continue
            (ta, ea), (tb, eb) = data[a], data[b]
            if not (ea.any() or eb.any()):
                stat, p = 0.0, 1.0  # no dissolution in either group: no evidence of a difference
            else:
                res = stats.logrank(stats.CensoredData(uncensored=ta[ea], right=ta[~ea]),
                                    stats.CensoredData(uncensored=tb[eb], right=tb[~eb]))
                stat, p = float(res.statistic), float(res.pvalue)
            cell_rows.append({**dict(zip(by, key, strict=False)), "strategy_a": a, "strategy_b": b, "n_a": len(ta),
                              "n_b": len(tb), "events_a": int(ea.sum()), "events_b": int(eb.sum()),
                              "statistic": stat, "p_value": p})
        if cell_rows:
            adj = stats.false_discovery_control([r["p_value"] for r in cell_rows], method="bh")
            for r, q in zip(cell_rows, np.atleast_1d(adj), strict=False):
                r["p_adjusted"] = float(q)
            rows.extend(cell_rows)
    return pd.DataFrame(rows)


def _grant_term_of(results: Any, runs: pd.DataFrame) -> np.ndarray:
    if "grant_term" in runs.columns:
        return runs["grant_term"].to_numpy(dtype=float)
    return np.full(len(runs), _base_value(results, "grant_term"))


def grant_ends_in_horizon(results: Any, runs: pd.DataFrame | None = None) -> bool:
    """Whether any run's grant_term ends before its horizon (else there is no "after the grant" to measure)."""
    results = as_results(results)
    runs = results.runs if runs is None else runs
    return bool(np.any(_grant_term_of(results, runs) < _horizon_of(results, runs)))


def after_grant_data(results: Any, runs: pd.DataFrame, window: int = DEFAULT_WINDOW
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time since grant_term, event and per-run observed window, for runs alive at grant_term.

    A run is alive at grant_term ``g`` when it had not dissolved by the end of
    step ``g`` (``dissolved_step > g``, or never). Its time is counted from
    ``g``; it is censored at ``min(window, n_steps - g)``, so a dissolution
    after the window does not count.
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise AnalysisError(f"window = {window!r} must be a whole number of months >= 1")
    hz = _horizon_of(results, runs)
    t, e = survival_data(runs, hz)
    g = _grant_term_of(results, runs)
    alive = (t > g) & (g < hz)
    w = np.minimum(float(window), hz - g)[alive]
    rel = (t - g)[alive]
    ev = e[alive] & (rel <= w)
    return np.minimum(rel, w), ev, w


def survival_after_grant(results: Any, window: int = DEFAULT_WINDOW, *, by: Sequence[str] | str | None = None,
                         where: Mapping[str, Any] | None = None, strategies: Sequence[str] | None = None,
                         confidence_level: float = 0.95, ci_method: str = "log-log",
                         return_curves: bool = False, pool: bool = True) -> pd.DataFrame | tuple[pd.DataFrame, dict]:
    """Survival in the ``window`` months after grant_term, among partnerships alive at grant_term.

    "Does the partnership outlast the money?" For each cell and strategy: of
    the runs still together at the end of step ``grant_term``, the
    Kaplan-Meier share still together ``window`` months later. Strategies
    without a grant (stepwise, fixed) are measured over the same months, as
    the comparison. Funder-forced and funder-schedule runs that failed the
    deadline review lost their grant earlier; they are included (the
    question is about the partnerships the programme funded).

    Parameters
    ----------
    window : int
        Months after grant_term.
    by : list of str or "factors", optional
        Cells. ``by="factors"`` gives one row per design point and strategy:
        survival after the grant per initial-trust level (and every other
        factor), never pooling runs of different make-up.
    pool : bool
        Whether a row may pool runs that differ in a factor not in ``by``
        (the ``pooled_over`` column names those factors). ``pool=False``
        makes such a ``by`` an error, naming the factor.
    where, strategies, confidence_level, ci_method
        As for :func:`survival_curves`.

    Returns
    -------
    pandas.DataFrame
        ``*by, strategy, n`` (runs), ``alive_at_grant_term``,
        ``share_alive_at_grant_term``, ``window`` (asked), ``window_observed``
        (shorter when the horizon ends first), ``dissolved_in_window``,
        ``survival``, ``low``, ``high`` at ``window_observed`` months,
        ``survival_unconditional`` (share alive at grant_term x survival) and
        ``pooled_over`` (the factors whose values the row pools, "" if none).
        With ``return_curves=True`` also ``{(*cell, strategy): SurvivalCurve}``
        on months since grant_term.
    """
    results = as_results(results)
    runs = select_runs(results, where, strategies)
    by, cells = cell_groups(results, runs, by, pool=pool)
    order = strategy_order(results)
    pooled_of = {key: ", ".join(pooled) for key, _, pooled in cells}
    rows, curves = [], {}
    for key, s, sub in _groups(runs, by, order):
        t, e, w = after_grant_data(results, sub, window)
        # Runs whose grant_term is at or past their horizon say nothing about life after the grant.
        observable = int(np.sum(_grant_term_of(results, sub) < _horizon_of(results, sub)))
        row = {**dict(zip(by, key, strict=False)), "strategy": s, "n": len(sub), "alive_at_grant_term": int(len(t)),
               "share_alive_at_grant_term": len(t) / observable if observable else np.nan, "window": int(window)}
        if len(t) == 0:
            row.update({"window_observed": np.nan, "dissolved_in_window": 0, "survival": np.nan, "low": np.nan,
                        "high": np.nan, "survival_unconditional": 0.0 if observable else np.nan})
        else:
            observed = int(w.min())
            curve = kaplan_meier(t, e, horizon=int(w.max()), confidence_level=confidence_level, ci_method=ci_method)
            curves[(*key, s)] = curve
            row.update({"window_observed": observed, "dissolved_in_window": int(e.sum()),
                        "survival": curve.survival[observed], "low": curve.low[observed],
                        "high": curve.high[observed],
                        "survival_unconditional": len(t) / observable * curve.survival[observed]})
        row["pooled_over"] = pooled_of[key]
        rows.append(row)
    if not rows:
        raise AnalysisError("survival_after_grant: no runs in the selection")
    table = pd.DataFrame(rows)
    return (table, curves) if return_curves else table
