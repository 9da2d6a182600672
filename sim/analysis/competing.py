"""Competing risks: time to each rung of the ladder, with dissolution as the competing event.

"How long until a partnership collaborates?" has no answer as a median over
the partnerships that survived: a partnership that dissolves first never
reaches the rung, and leaving it out (or censoring it, as if it could still
get there) overstates how fast and how often rungs are reached. The answer is
the **cumulative incidence function** (CIF) of reaching the rung, with
dissolution as a competing event: ``F(t)`` = the share of partnerships that
have reached the rung by month ``t``, dissolved ones counted as not having
reached it (and never able to).

Reaching rung ``k`` means first playing a level ``>= k`` (so a run that only
ever plays level 5 has reached level 4): the month is the smallest
``first_step_level_j`` over ``j >= k``. A run that dissolves before that has
the competing event at its ``dissolved_step``; a run that does neither is
censored at its horizon ``n_steps``. (The engine plays no level in the month
a partnership dissolves, so reaching and dissolving never share a month; were
they to, reaching would count.)

**Estimator** (Aalen-Johansen; for one event type among competing ones it is
the nonparametric CIF of Kalbfleisch & Prentice 1980). At the distinct times
``t_j`` with ``n_j`` runs at risk (no event yet, not censored before
``t_j``), ``d_j`` events of any kind and ``d_kj`` of the kind of interest,
with ``S`` the all-cause Kaplan-Meier survival::

    S(t)   = prod_{t_j <= t} (1 - d_j / n_j)
    F_k(t) = sum_{t_j <= t} S(t_{j-1}) d_kj / n_j

Ties are handled exactly (monthly time has many): every event of month ``t_j``
is counted together. **Variance** by the delta method (Dinse & Larson 1986;
Marubini & Valsecchi 1995, sec. 10.2; as Stata's ``stcompet`` and
:class:`statsmodels.duration.survfunc.CumIncidenceRight`, which the tests
check it against)::

    Var F_k(t) = sum_{t_j <= t} { [F_k(t) - F_k(t_j)]^2 d_j / (n_j (n_j - d_j))
                                 + S(t_{j-1})^2 d_kj (n_j - d_kj) / n_j^3
                                 - 2 [F_k(t) - F_k(t_j)] S(t_{j-1}) d_kj / n_j^2 }

(the first term is 0 where ``n_j = d_j``: no one is left after ``t_j``). The
pointwise interval is computed on the log(-log) scale, which keeps it inside
[0, 1] (as ``stcompet``): ``F^exp(+-z se / (F |log F|))``.

**Quantiles.** The month by which a share ``p`` has reached the rung is the
first month with ``F(t) >= p``; its interval inverts the pointwise band
(first month whose upper limit reaches ``p``, first month whose lower limit
does). When the CIF stays below ``p`` through the horizon the quantile is
*not reached*, stored as ``inf``: with competing dissolution it may never be
reached at all.

Why not lifelines' ``AalenJohansenFitter``: it breaks tied event times by
random jitter (seeded through NumPy's global state), which changes the
estimate of discrete monthly data at random, and it labels its lower and
upper interval columns the wrong way round (lifelines 0.30).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..levels import N_LEVELS
from .data import AnalysisError, as_results, horizon, select_runs, strategy_order
from .stats import cell_groups

__all__ = ["CumulativeIncidence", "Quantile", "REACHED", "DISSOLVED", "CENSORED", "aalen_johansen", "rung_data",
           "rung_incidence", "rung_table", "QUARTILES"]

#: Event codes of :func:`rung_data`.
CENSORED, REACHED, DISSOLVED = 0, 1, 2
#: The shares whose months :func:`rung_table` reports.
QUARTILES = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Quantile:
    """The month by which a share ``p`` has had the event, with its interval (``inf`` = not reached)."""

    p: float
    estimate: float
    low: float
    high: float

    @property
    def reached(self) -> bool:
        """Whether the cumulative incidence reaches ``p`` within the horizon."""
        return bool(np.isfinite(self.estimate))

    def __str__(self) -> str:
        def month(v: float) -> str:
            return f"{v:g}" if np.isfinite(v) else "not reached"

        if not self.reached:
            return f"not reached (lower limit month {month(self.low)})" if np.isfinite(self.low) else "not reached"
        return f"month {month(self.estimate)} ({month(self.low)} to {month(self.high)})"


@dataclass
class CumulativeIncidence:
    """A cumulative incidence function evaluated on whole months ``0 .. horizon``.

    Attributes
    ----------
    step : ndarray
        0, 1, ..., horizon.
    incidence, low, high, se : ndarray
        Share that has had the event of interest by the end of each month,
        its pointwise interval and standard error.
    competing : ndarray
        Cumulative incidence of the competing events (any other code > 0).
    at_risk : ndarray
        Runs with no event yet and still observed after each month.
    n, events, competing_events : int
        Runs, events of interest, competing events.
    confidence_level : float
    """

    step: np.ndarray
    incidence: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    competing: np.ndarray
    at_risk: np.ndarray
    n: int
    events: int
    competing_events: int
    confidence_level: float = 0.95
    attrs: dict[str, Any] = field(default_factory=dict)

    def at(self, step: float) -> float:
        """Cumulative incidence at the end of ``step`` (NaN outside 0..horizon)."""
        if step < 0 or step > self.step[-1]:
            return np.nan
        return float(self.incidence[int(np.floor(step))])

    def quantile(self, p: float) -> Quantile:
        """The first month by which a share ``p`` has had the event, with the band's inversion as its interval."""
        if not 0 < p < 1:
            raise AnalysisError(f"p = {p!r} is out of range (allowed: strictly between 0 and 1)")

        def first(curve: np.ndarray) -> float:
            hit = np.nonzero(curve >= p - 1e-12)[0]
            return float(self.step[hit[0]]) if hit.size else np.inf

        return Quantile(float(p), first(self.incidence), first(self.high), first(self.low))

    def quartiles(self) -> dict[float, Quantile]:
        return {p: self.quantile(p) for p in QUARTILES}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"step": self.step, "incidence": self.incidence, "low": self.low, "high": self.high,
                             "se": self.se, "competing": self.competing, "at_risk": self.at_risk})


def _log_log_band(f: np.ndarray, se: np.ndarray, confidence_level: float) -> tuple[np.ndarray, np.ndarray]:
    z = stats.norm.ppf(0.5 + confidence_level / 2)
    inside = (f > 0) & (f < 1) & (se > 0)
    low, high = f.copy(), f.copy()  # no event yet (F = 0), or no variance: a zero-width interval
    fi = f[inside]
    scale = z * se[inside] / (fi * np.abs(np.log(fi)))
    low[inside] = fi ** np.exp(scale)
    high[inside] = fi ** np.exp(-scale)
    return low, high


def aalen_johansen(time: Sequence[float] | np.ndarray, event: Sequence[int] | np.ndarray, *, cause: int = REACHED,
                   horizon: int | None = None, confidence_level: float = 0.95) -> CumulativeIncidence:
    """Aalen-Johansen cumulative incidence of one event type among competing ones (module docstring: formulas).

    Parameters
    ----------
    time : array_like
        Month of the event, or of censoring when ``event`` is 0.
    event : array_like of int
        0 = censored; ``cause`` = the event of interest; any other positive
        code = a competing event.
    cause : int
        The event of interest (> 0).
    horizon : int, optional
        Last month of the curve (default: the largest time).
    confidence_level : float

    Returns
    -------
    CumulativeIncidence
    """
    t = np.asarray(time, dtype=float).reshape(-1)
    c = np.asarray(event).reshape(-1)
    if t.shape != c.shape:
        raise AnalysisError(f"time and event must be of one length (got {t.size} and {c.size})")
    if t.size == 0:
        raise AnalysisError("aalen_johansen: no runs to estimate the cumulative incidence from")
    if np.isnan(t).any() or (t < 0).any():
        raise AnalysisError("aalen_johansen: times must be >= 0 and not NaN")
    if not np.issubdtype(c.dtype, np.integer):
        if np.isnan(c.astype(float)).any() or (c.astype(float) != np.round(c.astype(float))).any():
            raise AnalysisError("aalen_johansen: event codes must be whole numbers (0 = censored)")
        c = c.astype(np.int64)
    if (c < 0).any():
        raise AnalysisError("aalen_johansen: event codes must be >= 0 (0 = censored)")
    if isinstance(cause, bool) or int(cause) != cause or cause < 1:
        raise AnalysisError(f"cause = {cause!r} must be a whole number >= 1 (an event code)")
    if not 0 < confidence_level < 1:
        raise AnalysisError(f"confidence_level = {confidence_level!r} is out of range (allowed: between 0 and 1)")
    u, idx = np.unique(t, return_inverse=True)
    counts = np.bincount(idx, minlength=u.size)
    n = (t.size - np.r_[0, np.cumsum(counts)[:-1]]).astype(float)  # at risk at each distinct time
    d_all = np.bincount(idx, weights=(c > 0).astype(float), minlength=u.size)
    d_k = np.bincount(idx, weights=(c == cause).astype(float), minlength=u.size)
    surv = np.cumprod(1.0 - d_all / n)
    s_prev = np.r_[1.0, surv[:-1]]
    f = np.cumsum(s_prev * d_k / n)
    f_other = np.cumsum(s_prev * (d_all - d_k) / n)
    # Delta-method variance, in cumulative sums: sum_j (F(t) - F_j)^2 r_j = F^2 A - 2 F B + C, etc.
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(n > d_all, d_all / (n * (n - d_all)), 0.0)
    a_, b_, c_ = np.cumsum(r), np.cumsum(f * r), np.cumsum(f * f * r)
    term1 = f * f * a_ - 2 * f * b_ + c_
    term2 = np.cumsum(s_prev ** 2 * d_k * (n - d_k) / n ** 3)
    g = s_prev * d_k / n ** 2
    term3 = -2 * (f * np.cumsum(g) - np.cumsum(f * g))
    var = np.maximum(term1 + term2 + term3, 0.0)
    last = int(np.ceil(t.max())) if horizon is None else int(horizon)
    grid = np.arange(last + 1, dtype=float)
    pos = np.searchsorted(u, grid, side="right") - 1
    before = pos < 0
    pos = np.maximum(pos, 0)
    inc = np.where(before, 0.0, f[pos])
    se = np.where(before, 0.0, np.sqrt(var[pos]))
    other = np.where(before, 0.0, f_other[pos])
    # Round-off can leave F a hair above 1 (every run had the event); so can't the share.
    inc, other = np.clip(inc, 0.0, 1.0), np.clip(other, 0.0, 1.0)
    low, high = _log_log_band(inc, se, confidence_level)
    at_risk = (t[None, :] > grid[:, None]).sum(axis=1)
    return CumulativeIncidence(grid, inc, low, high, se, other, at_risk, int(t.size), int((c == cause).sum()),
                               int(((c > 0) & (c != cause)).sum()), float(confidence_level))


def _check_rung(rung: int) -> int:
    if isinstance(rung, bool) or not isinstance(rung, (int, np.integer)) or not 1 <= rung <= N_LEVELS:
        raise AnalysisError(f"rung = {rung!r} is out of range (allowed: whole numbers 1 to {N_LEVELS})")
    return int(rung)


def rung_data(runs: pd.DataFrame, rung: int, n_steps: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run: the month it first played a level ``>= rung`` (or dissolved, or was censored) and the event code.

    Returns
    -------
    time : ndarray
        Month of reaching the rung; else of dissolution; else the horizon.
    event : ndarray of int
        :data:`REACHED` (1), :data:`DISSOLVED` (2, the competing event) or
        :data:`CENSORED` (0).
    """
    rung = _check_rung(rung)
    cols = [f"first_step_level_{j}" for j in range(rung, N_LEVELS + 1)]
    missing = [c for c in cols if c not in runs.columns]
    if missing:
        raise AnalysisError(f"runs table lacks column(s) {', '.join(missing)}: time to a rung needs them")
    first = runs[cols].to_numpy(dtype=float)
    reached_at = np.where(np.isnan(first), np.inf, first).min(axis=1)
    dissolved = runs["dissolved"].to_numpy(dtype=bool)
    step = runs["dissolved_step"].to_numpy(dtype=float)
    if np.isnan(step[dissolved]).any():
        raise AnalysisError("runs table: a dissolved run has no dissolved_step")
    hz = np.broadcast_to(np.asarray(n_steps, dtype=float), reached_at.shape)
    dissolved_at = np.where(dissolved, step, np.inf)
    reached = np.isfinite(reached_at) & (reached_at <= dissolved_at)
    gone = ~reached & dissolved
    time = np.where(reached, reached_at, np.where(gone, dissolved_at, hz))
    event = np.where(reached, REACHED, np.where(gone, DISSOLVED, CENSORED)).astype(np.int64)
    return time, event


def _horizon_of(results: Any, runs: pd.DataFrame) -> np.ndarray:
    if "n_steps" in runs.columns:
        return runs["n_steps"].to_numpy(dtype=float)
    return np.full(len(runs), float(horizon(results)))


def _cells(results: Any, by: Sequence[str] | str | None, where: Mapping[str, Any] | None,
           strategies: Sequence[str] | None, pool: bool):
    runs = select_runs(results, where, strategies)
    by, cells = cell_groups(results, runs, by, pool=pool)
    order = strategy_order(results)
    for key, cell, pooled in cells:
        strat = cell["strategy"].astype(str)
        for s in order:
            sub = cell[strat == s]
            if len(sub):
                yield by, key, s, sub, pooled


def rung_incidence(results: Any, rung: int = 4, *, by: Sequence[str] | str | None = "factors",
                   where: Mapping[str, Any] | None = None, strategies: Sequence[str] | None = None,
                   pool: bool = False, confidence_level: float = 0.95) -> dict[tuple[Any, ...], CumulativeIncidence]:
    """Cumulative incidence of reaching ``rung`` (level >= rung), dissolution competing, per cell and strategy.

    Parameters
    ----------
    results
        What :func:`sim.load_results` returns (or a folder).
    rung : int
        1..5 (4 = collaboration).
    by : list of str, "factors" or None
        Cells; the default, every factor, never pools runs of different make-up.
    pool : bool
        Allow a ``by`` that pools runs differing in some factor (the curve's
        ``attrs["pooled_over"]`` names them); otherwise that is an error.
    where, strategies, confidence_level
        As elsewhere.

    Returns
    -------
    dict
        ``{(*cell values, strategy): CumulativeIncidence}``.
    """
    results = as_results(results)
    rung = _check_rung(rung)
    out = {}
    for by_, key, s, sub, pooled in _cells(results, by, where, strategies, pool):
        hz = _horizon_of(results, sub)
        t, e = rung_data(sub, rung, hz)
        curve = aalen_johansen(t, e, cause=REACHED, horizon=int(hz.max()), confidence_level=confidence_level)
        curve.attrs.update({"rung": rung, "by": by_, "pooled_over": pooled})
        out[(*key, s)] = curve
    return out


def rung_table(results: Any, rungs: Sequence[int] | int | None = None, *, by: Sequence[str] | str | None = "factors",
               where: Mapping[str, Any] | None = None, strategies: Sequence[str] | None = None, pool: bool = False,
               quantiles: Sequence[float] = QUARTILES, confidence_level: float = 0.95) -> pd.DataFrame:
    """Time to each rung as cumulative incidence, with dissolution competing: shares and quartile months.

    Parameters
    ----------
    rungs : int or list of int, optional
        Default: every level 1..5.
    quantiles : list of float
        Shares whose months are reported (default the quartiles 0.25, 0.5, 0.75).
    by, where, strategies, pool, confidence_level
        As for :func:`rung_incidence`.

    Returns
    -------
    pandas.DataFrame
        One row per cell, strategy and rung: ``*by, strategy, rung, n``,
        ``reached``, ``dissolved_first``, ``censored`` (runs), ``horizon``,
        ``incidence`` (share that reached the rung by the horizon, with
        ``incidence_low``, ``incidence_high``), ``dissolved_first_share``
        (CIF of dissolution before the rung), then for each quantile ``q``
        (as a percentage, e.g. ``q50``): ``q50``, ``q50_low``, ``q50_high``
        in months (``inf`` = not reached by the horizon), and
        ``pooled_over``.
    """
    results = as_results(results)
    rungs = list(range(1, N_LEVELS + 1)) if rungs is None else ([rungs] if isinstance(rungs, (int, np.integer))
                                                                  else list(rungs))
    for r in rungs:
        _check_rung(r)
    for p in quantiles:
        if not 0 < p < 1:
            raise AnalysisError(f"quantiles: {p!r} is out of range (allowed: strictly between 0 and 1)")
    rows = []
    for by_, key, s, sub, pooled in _cells(results, by, where, strategies, pool):
        hz = _horizon_of(results, sub)
        for rung in rungs:
            t, e = rung_data(sub, rung, hz)
            curve = aalen_johansen(t, e, cause=REACHED, horizon=int(hz.max()), confidence_level=confidence_level)
            end = len(curve.step) - 1
            row: dict[str, Any] = {**dict(zip(by_, key, strict=False)), "strategy": s, "rung": rung, "n": curve.n,
                                   "reached": curve.events, "dissolved_first": curve.competing_events,
                                   "censored": int((e == CENSORED).sum()), "horizon": int(curve.step[end]),
                                   "incidence": curve.incidence[end], "incidence_low": curve.low[end],
                                   "incidence_high": curve.high[end], "dissolved_first_share": curve.competing[end]}
            for p in quantiles:
                q = curve.quantile(p)
                name = f"q{100 * p:g}"
                row.update({name: q.estimate, f"{name}_low": q.low, f"{name}_high": q.high})
            row["pooled_over"] = ", ".join(pooled)
            rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs = {"estimator": "aalen-johansen", "competing_event": "dissolution", "confidence_level":
                   confidence_level, "quantiles": list(quantiles), "not_reached": "inf"}
    return table
