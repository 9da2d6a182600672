"""Statistics per strategy and cell: estimates with bootstrap intervals, effect sizes, phase tables.

A *cell* is one combination of the grouping columns (``by``: usually the
sweep's factors); within a cell every replicate of every point is pooled.
Confidence intervals of means and medians come from
:func:`scipy.stats.bootstrap` (BCa by default, percentile where BCa is
undefined), seeded so a table is reproducible: each cell draws from its own
stream derived from ``seed`` and the cell's key, so a cell's interval does
not depend on which other cells are in the table.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .data import (
    AnalysisError,
    as_results,
    cell_columns,
    check_outcome,
    factor_names,
    format_value,
    outcome_values,
    select_runs,
    strategy_order,
)
from .multitest import _check_alpha, _check_method, adjust_table

__all__ = [
    "Interval",
    "DEFAULT_OUTCOMES",
    "bootstrap_ci",
    "bootstrap_difference",
    "risk_difference",
    "cohens_d",
    "cliffs_delta",
    "outcome_table",
    "compare_strategies",
    "phase_table",
    "cell_seed",
    "cell_groups",
    "pooled_factors",
]

#: Outcomes summarised when none are named.
DEFAULT_OUTCOMES = ("cumulative_benefit", "dissolved", "survival_time", "peak_level", "reached_collaboration",
                    "final_trust")

_STATISTICS: dict[str, Callable[..., Any]] = {"mean": np.mean, "median": np.median}
#: Above this many values BCa becomes percentile: BCa's jackknife costs O(n^2), and its
#: bias and skewness corrections vanish as n grows.
BCA_MAX_N = 5000
# Bootstrap memory: resamples x sample size floats per batch.
_MAX_BATCH_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Interval:
    """An estimate with a confidence interval."""

    estimate: float
    low: float
    high: float
    method: str = ""

    def __iter__(self):
        return iter((self.estimate, self.low, self.high))


def cell_seed(seed: int, *key: Any) -> np.random.Generator:
    """A generator for one cell: the same ``seed`` and key always give the same stream."""
    digest = zlib.crc32(repr(tuple(str(k) for k in key)).encode())
    return np.random.default_rng(np.random.SeedSequence([int(seed), digest]))


def _statistic(statistic: str | Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    if callable(statistic):
        return getattr(statistic, "__name__", "statistic"), statistic
    try:
        return statistic, _STATISTICS[statistic]
    except KeyError:
        raise AnalysisError(f"statistic = {statistic!r} is not known (allowed: {', '.join(_STATISTICS)})") from None


def _check_level(confidence_level: float) -> None:
    if not 0 < confidence_level < 1:
        raise AnalysisError(f"confidence_level = {confidence_level!r} is out of range (allowed: strictly between 0 "
                            "and 1)")


def _check_resamples(n_resamples: int) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
        raise AnalysisError(f"n_resamples = {n_resamples!r} must be a whole number >= 100")


def _run_bootstrap(samples: tuple[np.ndarray, ...], fn: Callable[..., Any], *, confidence_level: float,
                   n_resamples: int, rng: np.random.Generator, method: str) -> tuple[float, float, str]:
    size = max(len(s) for s in samples)
    if method == "BCa" and sum(len(s) for s in samples) > BCA_MAX_N:
        method = "percentile"
    batch = max(1, min(n_resamples, _MAX_BATCH_ELEMENTS // max(size, 1)))
    state = rng.bit_generator.state
    for m in (method, "percentile") if method != "percentile" else ("percentile",):
        rng.bit_generator.state = state  # the fallback reuses the same resamples
        with warnings.catch_warnings():
            # BCa is undefined on degenerate resamples (e.g. a median of ties): scipy warns and returns NaN.
            warnings.simplefilter("ignore", category=stats.DegenerateDataWarning)
            warnings.simplefilter("ignore", category=RuntimeWarning)
            res = stats.bootstrap(samples, fn, n_resamples=n_resamples, confidence_level=confidence_level,
                                  method=m, vectorized=True, axis=-1, batch=batch, rng=rng)
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return low, high, m
    return low, high, m


def bootstrap_ci(data: Sequence[float] | np.ndarray, statistic: str | Callable[..., Any] = "mean", *,
                 confidence_level: float = 0.95, n_resamples: int = 2000, seed: int | np.random.Generator = 0,
                 method: str = "BCa") -> Interval:
    """Estimate and bootstrap confidence interval of ``statistic`` of ``data``.

    Parameters
    ----------
    data : array_like
        One value per run; NaN values are dropped.
    statistic : {"mean", "median"} or callable
        A callable must accept ``axis`` (it is applied to many resamples at once).
    confidence_level : float
        Two-sided level, e.g. 0.95.
    n_resamples : int
        Bootstrap resamples (>= 100).
    seed : int or numpy.random.Generator
        Seed of the resampling (the same seed gives the same interval).
    method : {"BCa", "percentile", "basic"}
        Interval method (see :func:`scipy.stats.bootstrap`). Where BCa is
        undefined (degenerate resamples) or the sample has more than
        :data:`BCA_MAX_N` values, the percentile interval of the same
        resamples is returned and ``Interval.method`` says so.

    Returns
    -------
    Interval
        ``estimate`` (the statistic of ``data``), ``low``, ``high``, ``method``.
        A constant sample gives a zero-width interval; an empty one NaN.
    """
    name, fn = _statistic(statistic)
    _check_level(confidence_level)
    _check_resamples(n_resamples)
    x = np.asarray(data, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return Interval(np.nan, np.nan, np.nan, "empty")
    est = float(fn(x, axis=-1))
    if x.size == 1 or np.all(x == x[0]):
        return Interval(est, est, est, "constant")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    low, high, used = _run_bootstrap((x,), fn, confidence_level=confidence_level, n_resamples=n_resamples,
                                     rng=rng, method=method)
    return Interval(est, low, high, used)


def bootstrap_difference(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                         statistic: str | Callable[..., Any] = "mean", *, confidence_level: float = 0.95,
                         n_resamples: int = 2000, seed: int | np.random.Generator = 0,
                         method: str = "BCa") -> Interval:
    """``statistic(x) - statistic(y)`` for two independent samples, with a bootstrap interval.

    Each sample is resampled separately (``paired=False``). NaN values are dropped.
    """
    name, fn = _statistic(statistic)
    _check_level(confidence_level)
    _check_resamples(n_resamples)
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return Interval(np.nan, np.nan, np.nan, "empty")
    est = float(fn(a, axis=-1) - fn(b, axis=-1))
    if np.all(a == a[0]) and np.all(b == b[0]):
        return Interval(est, est, est, "constant")
    if a.size < 2 or b.size < 2:
        return Interval(est, np.nan, np.nan, "too few")

    def diff(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return fn(u, axis=axis) - fn(v, axis=axis)

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    low, high, used = _run_bootstrap((a, b), diff, confidence_level=confidence_level, n_resamples=n_resamples,
                                     rng=rng, method=method)
    return Interval(est, low, high, used)


def risk_difference(events_a: int, n_a: int, events_b: int, n_b: int, *,
                    confidence_level: float = 0.95) -> Interval:
    """Difference of two proportions ``events_a/n_a - events_b/n_b`` with Newcombe's hybrid score interval.

    Newcombe (1998, Stat. Med. 17:873, method 10) combines the two Wilson
    score intervals (from :meth:`scipy.stats.binomtest`); unlike the Wald
    interval it stays inside [-1, 1] and keeps its coverage near 0 and 1.
    """
    _check_level(confidence_level)
    for name, k, n in (("events_a", events_a, n_a), ("events_b", events_b, n_b)):
        if n < 0 or not 0 <= k <= max(n, 0):
            raise AnalysisError(f"{name} = {k} must be in 0..{n} (the group size)")
    if n_a == 0 or n_b == 0:
        return Interval(np.nan, np.nan, np.nan, "empty")
    p1, p2 = events_a / n_a, events_b / n_b
    ci1 = stats.binomtest(int(events_a), int(n_a)).proportion_ci(confidence_level, method="wilson")
    ci2 = stats.binomtest(int(events_b), int(n_b)).proportion_ci(confidence_level, method="wilson")
    d = p1 - p2
    low = d - np.sqrt((p1 - ci1.low) ** 2 + (ci2.high - p2) ** 2)
    high = d + np.sqrt((ci1.high - p1) ** 2 + (p2 - ci2.low) ** 2)
    return Interval(float(d), float(low), float(high), "newcombe")


def cohens_d(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Standardised mean difference ``(mean x - mean y) / pooled sd`` (NaN if the pooled sd is 0)."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size < 2 or b.size < 2:
        return np.nan
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    if pooled <= 0:
        return np.nan
    return float((a.mean() - b.mean()) / np.sqrt(pooled))


def cliffs_delta(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Cliff's delta ``P(X > Y) - P(X < Y)`` over all pairs, from the Mann-Whitney U statistic."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return np.nan
    # U1 counts pairs with x > y plus half the ties, so 2 U1 / (n m) - 1 = P(X>Y) - P(X<Y).
    u1 = stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic").statistic
    return float(2.0 * u1 / (a.size * b.size) - 1.0)


def _groups(runs: pd.DataFrame, by: list[str]) -> list[tuple[tuple[Any, ...], pd.DataFrame]]:
    if not by:
        return [((), runs)]
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in runs.groupby(by, sort=True)]


def pooled_factors(results: Any, runs: pd.DataFrame, by: Sequence[str], exclude: Sequence[str] = ()) -> list[str]:
    """The factors that take more than one value among ``runs`` and are not in ``by`` (or ``exclude``).

    These are what a row computed from ``runs`` pools over: runs of different
    make-up (e.g. different initial trust) counted as one sample.
    """
    skip = set(by) | set(exclude)
    return [f for f in factor_names(results)
            if f not in skip and f in runs.columns and runs[f].nunique(dropna=False) > 1]


def cell_groups(results: Any, runs: pd.DataFrame, by: Sequence[str] | str | None, *, pool: bool = False,
                exclude: Sequence[str] = ()) -> tuple[list[str], list[tuple[tuple[Any, ...], pd.DataFrame, list[str]]]]:
    """Validated grouping columns and the cells of ``runs``, refusing to pool runs of different make-up.

    Parameters
    ----------
    results
        What :func:`sim.load_results` returns.
    runs : pandas.DataFrame
        The selected runs (or pairs of runs) to group.
    by : list of str, "factors" or None
        Grouping columns; ``"factors"`` is every factor not in ``exclude``.
    pool : bool
        Whether a cell may pool runs that differ in a factor not in ``by``.
        When False (the default) such a request is an error naming the
        factor, its values, and the remedies (add it to ``by``, fix it with
        ``where``, or pass ``pool=True``).
    exclude : list of str
        Factors that are not grouped on and not counted as pooled (e.g. the
        x axis of a crossover, or the factor a paired comparison contrasts).

    Returns
    -------
    by : list of str
    cells : list of (key, runs, pooled_over)
        ``pooled_over`` lists the factors the cell pools (empty unless ``pool``).
    """
    if isinstance(by, str) and by == "factors":
        by = [f for f in factor_names(results) if f not in set(exclude)]
    by = cell_columns(results, by)
    cells = []
    for key, cell in _groups(runs, by):
        pooled = pooled_factors(results, cell, by, exclude)
        if pooled and not pool:
            f = pooled[0]
            values = sorted(pd.unique(cell[f]).tolist())
            shown = ", ".join(map(format_value, values[:8]))
            raise AnalysisError(f"by = {by} would pool runs of different make-up: {f} takes {len(values)} values "
                                f"({shown}{' ...' if len(values) > 8 else ''}) within a cell; add {f!r} to by, fix "
                                f"it with where={{{f!r}: ...}}, or pass pool=True to pool on purpose")
        cells.append((key, cell, pooled))
    return by, cells


def _outcome_list(outcomes: Sequence[str] | str | None) -> list[str]:
    if outcomes is None:
        return list(DEFAULT_OUTCOMES)
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    for o in outcomes:
        check_outcome(o)
    return list(outcomes)


def outcome_table(results: Any, outcomes: Sequence[str] | str | None = None, *,
                  by: Sequence[str] | str | None = None, where: Mapping[str, Any] | None = None,
                  strategies: Sequence[str] | None = None, statistics: Sequence[str] = ("mean", "median"),
                  confidence_level: float = 0.95, n_resamples: int = 2000, seed: int = 0,
                  method: str = "BCa") -> pd.DataFrame:
    """Mean and median of each outcome per strategy (and cell), with bootstrap intervals.

    Parameters
    ----------
    results
        What :func:`sim.load_results` returns (or a folder).
    outcomes : str or list of str, optional
        Names from :data:`sim.analysis.OUTCOMES` (default :data:`DEFAULT_OUTCOMES`).
    by : list of str or "factors", optional
        Grouping columns; ``"factors"`` groups by every sampled factor.
        Default: pool every run of a strategy.
    where : dict, optional
        Keep only runs with these parameter values (``{"initial_trust": 0.3}``).
    strategies : list of str, optional
        Keep only these strategies.
    statistics : sequence of {"mean", "median"}
        Which estimates to compute (each costs one bootstrap per row).
    confidence_level, n_resamples, seed, method
        See :func:`bootstrap_ci`.

    Returns
    -------
    pandas.DataFrame
        One row per cell, strategy and outcome: ``*by, strategy, outcome, n``
        (runs with a defined value), ``n_missing``, then for each statistic
        ``mean``, ``mean_low``, ``mean_high`` (and ``median``, ``median_low``,
        ``median_high``), ``sd``, ``ci_method``. Medians of binary outcomes
        (shares) get no interval.
    """
    for name in statistics:
        _statistic(name)
    results = as_results(results)
    by = cell_columns(results, by)
    outcomes = _outcome_list(outcomes)
    runs = select_runs(results, where, strategies)
    order = strategy_order(results)
    rows = []
    for key, cell in _groups(runs, by):
        for strategy in [s for s in order if s in set(cell["strategy"].astype(str))]:
            sub = cell[cell["strategy"].astype(str) == strategy]
            for outcome in outcomes:
                v = outcome_values(sub, outcome).to_numpy()
                ok = v[~np.isnan(v)]
                row = {**dict(zip(by, key, strict=False)), "strategy": strategy, "outcome": outcome, "n": int(ok.size),
                       "n_missing": int(v.size - ok.size)}
                methods = []
                binary = check_outcome(outcome).binary
                for name in statistics:
                    if binary and name == "median":
                        # A 0/1 median only says whether the share is above one half; not worth a bootstrap.
                        row.update({"median": float(np.median(ok)) if ok.size else np.nan, "median_low": np.nan,
                                    "median_high": np.nan})
                        continue
                    ci = bootstrap_ci(ok, name, confidence_level=confidence_level, n_resamples=n_resamples,
                                      seed=cell_seed(seed, *key, strategy, outcome, name), method=method)
                    row.update({name: ci.estimate, f"{name}_low": ci.low, f"{name}_high": ci.high})
                    methods.append(ci.method)
                row["sd"] = float(ok.std(ddof=1)) if ok.size > 1 else np.nan
                row["ci_method"] = "/".join(dict.fromkeys(methods))
                rows.append(row)
    return pd.DataFrame(rows)


def compare_strategies(results: Any, outcomes: Sequence[str] | str | None = None, *, reference: str | None = None,
                       by: Sequence[str] | str | None = None, where: Mapping[str, Any] | None = None,
                       strategies: Sequence[str] | None = None, confidence_level: float = 0.95,
                       n_resamples: int = 2000, seed: int = 0, method: str = "BCa", adjust: str | None = None,
                       alpha: float = 0.05,
                       family: Sequence[str] | str | None = ("outcome", "strategy")) -> pd.DataFrame:
    """Effect of each strategy against a reference strategy, per cell.

    The runs of the two strategies are treated as independent samples; for
    runs paired by replicate (common random numbers) use
    :func:`~sim.analysis.compare_paired`.

    Parameters
    ----------
    reference : str, optional
        The strategy compared against (default ``stepwise`` if present, else
        the first strategy).
    adjust : {"holm", "bh"}, optional
        Adjust the p values for multiple comparisons
        (:func:`~sim.analysis.adjust_table`): adds ``p_adjusted``,
        ``significant_adjusted``, ``adjustment`` (the method and the family
        size, stated) and ``n_tests``. Default: no adjustment.
    alpha : float
        Level of ``significant_adjusted``.
    family : str or list of str, optional
        Columns whose values define one family of tests: by default each
        strategy and outcome is adjusted across the cells; None makes the
        whole table one family.
    Other parameters as in :func:`outcome_table`.

    Returns
    -------
    pandas.DataFrame
        One row per cell, outcome and strategy other than the reference:
        ``n``, ``n_reference``, ``mean``, ``mean_reference``, ``difference``
        (mean minus the reference's) with ``difference_low/high`` (Newcombe
        score interval for binary outcomes, i.e. the risk difference; a
        bootstrap interval otherwise), ``ci_method``, ``cohens_d``,
        ``cliffs_delta``, ``p_value`` and ``test`` (Welch's t test; Fisher's
        exact test for binary outcomes). P values are adjusted for multiple
        comparisons only with ``adjust``.
    """
    if adjust is not None:

        _check_method(adjust)
        _check_alpha(alpha)
    results = as_results(results)
    by = cell_columns(results, by)
    outcomes = _outcome_list(outcomes)
    runs = select_runs(results, where, strategies)
    order = [s for s in strategy_order(results) if s in set(runs["strategy"].astype(str))]
    if reference is None:
        reference = "stepwise" if "stepwise" in order else order[0]
    if reference not in order:
        raise AnalysisError(f"reference = {reference!r} is not among the selected strategies ({', '.join(order)})")
    if len(order) < 2:
        raise AnalysisError("comparing strategies needs at least two strategies in the selection")
    rows = []
    for key, cell in _groups(runs, by):
        strat = cell["strategy"].astype(str)
        for outcome in outcomes:
            info = check_outcome(outcome)
            ref = outcome_values(cell[strat == reference], outcome).dropna().to_numpy()
            for strategy in order:
                if strategy == reference:
                    continue
                x = outcome_values(cell[strat == strategy], outcome).dropna().to_numpy()
                row = {**dict(zip(by, key, strict=False)), "outcome": outcome, "strategy": strategy,
                       "reference": reference, "n": int(x.size), "n_reference": int(ref.size),
                       "mean": float(x.mean()) if x.size else np.nan,
                       "mean_reference": float(ref.mean()) if ref.size else np.nan}
                if info.binary:
                    ci = risk_difference(int(x.sum()), x.size, int(ref.sum()), ref.size,
                                         confidence_level=confidence_level)
                    if x.size and ref.size:
                        table = [[int(x.sum()), x.size - int(x.sum())], [int(ref.sum()), ref.size - int(ref.sum())]]
                        p = float(stats.fisher_exact(table).pvalue)
                    else:
                        p = np.nan
                    test = "fisher exact"
                else:
                    ci = bootstrap_difference(x, ref, "mean", confidence_level=confidence_level,
                                              n_resamples=n_resamples,
                                              seed=cell_seed(seed, *key, strategy, reference, outcome),
                                              method=method)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        p = float(stats.ttest_ind(x, ref, equal_var=False).pvalue) if min(x.size, ref.size) > 1 \
                            else np.nan
                    test = "welch t"
                row.update({"difference": ci.estimate, "difference_low": ci.low, "difference_high": ci.high,
                            "ci_method": ci.method, "cohens_d": cohens_d(x, ref), "cliffs_delta": cliffs_delta(x, ref),
                            "p_value": p, "test": test})
                rows.append(row)
    table = pd.DataFrame(rows)
    if adjust is not None:

        table = adjust_table(table, adjust, family=family, alpha=alpha)
    return table


def _bin_factor(values: pd.Series, bins: int) -> tuple[pd.Series, np.ndarray | None]:
    """Cell value of each run along one phase-diagram axis, and the bin edges (None for a grid).

    A factor with at most ``bins`` distinct values (a grid) keeps them; a
    continuous one (LHS/Sobol samples) is cut into ``bins`` equal-width bins
    labelled by their centres. A text-valued factor (a rule variant such as
    ``dissolution``) keeps its values, whatever their number.
    """
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.astype(str), None
    uniq = np.unique(values.to_numpy(dtype=float))
    if uniq.size <= bins:
        return values.astype(float), None
    edges = np.linspace(uniq[0], uniq[-1], bins + 1)
    idx = np.clip(np.searchsorted(edges, values.to_numpy(dtype=float), side="right") - 1, 0, bins - 1)
    centres = (edges[:-1] + edges[1:]) / 2
    return pd.Series(centres[idx], index=values.index), edges


def _axis_value(v: Any) -> Any:
    """A phase-diagram cell's value on one axis: a float for a number, the text of a text-valued factor."""
    return v if isinstance(v, str) else float(v)


def phase_table(results: Any, x: str, y: str, outcome: str = "cumulative_benefit", *,
                where: Mapping[str, Any] | None = None, strategies: Sequence[str] | None = None,
                better: str | None = None, test: str = "bootstrap", alpha: float = 0.05, bins: int = 8,
                n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Which strategy wins each cell of two factors, by how much, and whether the lead is significant.

    In each (``x``, ``y``) cell the strategies are ranked by the mean of
    ``outcome`` over every run in the cell (other factors pooled unless fixed
    by ``where``). The winner has the best mean (highest, or lowest where
    ``better="lower"``); the *margin* is its lead over the runner-up. The
    lead is significant when the ``1 - alpha`` interval of the difference
    winner minus runner-up excludes 0 (``test="bootstrap"``; Newcombe's
    interval for binary outcomes) or Welch's test gives p < ``alpha``
    (``test="welch"``).

    Parameters
    ----------
    x, y : str
        Factor (parameter) names for the two axes; continuous factors are
        binned into ``bins`` equal-width bins.
    better : {"higher", "lower"}, optional
        Direction in which the outcome is better (default: the outcome's, see
        :data:`sim.analysis.OUTCOMES`).

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``x``'s and ``y``'s values, ``winner``,
        ``runner_up``, ``winner_mean``, ``runner_up_mean``, ``margin`` (>= 0,
        in the outcome's units), ``margin_low``, ``margin_high``,
        ``p_value`` (Welch only), ``significant``, ``n_runs`` and one
        ``mean_<strategy>`` column per strategy. ``attrs`` records the
        settings and, for binned factors, the bin edges (``x_edges``,
        ``y_edges``).
    """
    results = as_results(results)
    info = check_outcome(outcome)
    better = better or info.better or "higher"
    if better not in ("higher", "lower"):
        raise AnalysisError(f"better = {better!r} is not allowed (allowed: higher, lower)")
    if test not in ("bootstrap", "welch"):
        raise AnalysisError(f"test = {test!r} is not allowed (allowed: bootstrap, welch)")
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha = {alpha!r} is out of range (allowed: strictly between 0 and 1)")
    if x == y:
        raise AnalysisError(f"x and y must be two different factors (both are {x!r})")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise AnalysisError(f"bins = {bins!r} must be a whole number >= 2")
    cell_columns(results, [x, y])
    runs = select_runs(results, where, strategies).copy()
    order = [s for s in strategy_order(results) if s in set(runs["strategy"].astype(str))]
    if len(order) < 2:
        raise AnalysisError("a phase diagram needs at least two strategies in the selection")
    runs["_x"], x_edges = _bin_factor(runs[x], bins)
    runs["_y"], y_edges = _bin_factor(runs[y], bins)
    runs["_v"] = outcome_values(runs, outcome)
    sign = 1.0 if better == "higher" else -1.0
    level = 1 - alpha
    rows = []
    for (xv, yv), cell in runs.groupby(["_x", "_y"], sort=True):
        samples = {s: cell.loc[cell["strategy"].astype(str) == s, "_v"].dropna().to_numpy() for s in order}
        means = {s: (float(v.mean()) if v.size else np.nan) for s, v in samples.items()}
        ranked = sorted((s for s in order if samples[s].size), key=lambda s: -sign * means[s])
        row: dict[str, Any] = {x: _axis_value(xv), y: _axis_value(yv), "n_runs": int(len(cell))}
        if len(ranked) < 2:
            row.update({"winner": ranked[0] if ranked else None, "runner_up": None, "margin": np.nan,
                        "significant": False})
        else:
            w, r = ranked[0], ranked[1]
            p = np.nan
            if test == "welch":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    p = float(stats.ttest_ind(samples[w], samples[r], equal_var=False).pvalue)
                d = sign * (means[w] - means[r])
                ci = Interval(d, np.nan, np.nan, "welch")
                significant = bool(p < alpha)
            else:
                if info.binary:
                    ci = risk_difference(int(samples[w].sum()), samples[w].size, int(samples[r].sum()),
                                         samples[r].size, confidence_level=level)
                else:
                    ci = bootstrap_difference(samples[w], samples[r], "mean", confidence_level=level,
                                              n_resamples=n_resamples, seed=cell_seed(seed, xv, yv, outcome))
                lo, hi = sign * ci.low, sign * ci.high
                ci = Interval(sign * ci.estimate, min(lo, hi), max(lo, hi), ci.method)
                significant = bool(ci.low > 0)
            row.update({"winner": w, "runner_up": r, "winner_mean": means[w], "runner_up_mean": means[r],
                        "margin": ci.estimate, "margin_low": ci.low, "margin_high": ci.high, "p_value": p,
                        "significant": significant})
        row.update({f"mean_{s}": means[s] for s in order})
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs.update({"x": x, "y": y, "outcome": outcome, "better": better, "test": test, "alpha": alpha,
                        "strategies": order,
                        "x_edges": None if x_edges is None else x_edges.tolist(),
                        "y_edges": None if y_edges is None else y_edges.tolist()})
    return table
