"""Paired designs: runs matched by replicate, paired differences, McNemar's test.

Under common random numbers (a spec with ``crn = true``) replicate ``r`` of
every design point and strategy runs with the same seed, so the runs of two
strategies at one point, or of two points for one strategy, that share a
replicate share their random draws: much of their run-to-run noise cancels in
the difference, and the comparison needs fewer runs for the same precision.
The statistics must then be paired: the difference of each matched pair is
one observation (an independent-samples interval would ignore the
correlation and be too wide; it stays *valid*, only wasteful).

Without common random numbers, matching by replicate is still valid (pairs of
independent runs are independent pairs), and the paired statistics are then
as precise as unpaired ones. :func:`pair_runs` says which case a table is
(``attrs["common_seeds"]``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .data import AnalysisError, as_results, check_outcome, factor_names, outcome_values, select_runs
from .multitest import adjust_table
from .stats import Interval, _check_level, _check_resamples, bootstrap_ci, cell_groups, cell_seed

__all__ = ["PairedDifference", "McNemarResult", "pair_runs", "paired_difference", "mcnemar_test",
           "paired_risk_difference", "compare_paired", "MCNEMAR_EXACT_BELOW"]

#: McNemar's test is exact (binomial) when fewer than this many pairs are discordant.
MCNEMAR_EXACT_BELOW = 25


def pair_runs(results: Any, a: Any, b: Any, outcomes: Sequence[str] | str | None = None, *,
              column: str = "strategy", where: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Match the runs of two arms of a sweep by replicate.

    The arms differ in one ``column``: two strategies (``column="strategy"``,
    the default: runs at the same point and replicate are paired), or two
    values of a factor (runs of the same strategy, the same values of every
    other factor, and the same replicate are paired).

    Parameters
    ----------
    results
        What :func:`sim.load_results` returns (or a folder).
    a, b : str or float
        The two strategies (or the two values of ``column``); differences are ``a - b``.
    outcomes : str or list of str, optional
        Outcomes to carry for each arm (names from :data:`sim.analysis.OUTCOMES`).
    column : str
        ``"strategy"`` or a factor of the sweep.
    where : dict, optional
        Keep only runs with these parameter values.

    Returns
    -------
    pandas.DataFrame
        One row per pair: the matching keys (``point_id`` for strategies; the
        other factors and ``strategy`` for a factor), every factor value,
        ``replicate``, ``run_id_a``, ``run_id_b``, ``seed_a``, ``seed_b``
        and ``<outcome>_a``, ``<outcome>_b`` per outcome. ``attrs`` has
        ``column``, ``a``, ``b``, ``keys``, ``n_pairs``, ``unmatched_a``,
        ``unmatched_b`` (runs of either arm with no partner, e.g. with
        precision-driven replicates) and ``common_seeds`` (every pair ran
        with one seed: common random numbers).
    """
    results = as_results(results)
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes or [])
    for o in outcomes:
        check_outcome(o)
    if "replicate" not in results.runs.columns:
        raise AnalysisError("runs table lacks column 'replicate' (see docs/sweeps.md): runs cannot be paired")
    factors = factor_names(results)
    if column == "strategy":
        keys = ["point_id"]
    elif column in factors:
        keys = [f for f in factors if f != column] + ["strategy"]
    else:
        raise AnalysisError(f"column = {column!r} is neither 'strategy' nor a factor of these results "
                            f"(factors: {', '.join(factors) or 'none'})")
    keys = keys + ["replicate"]
    if isinstance(a, str) == isinstance(b, str) and str(a) == str(b):
        raise AnalysisError(f"a and b must be two different values of {column} (both are {a!r})")
    info = [f for f in factors if f not in keys and f != column]
    frames, sizes = [], []
    for tag, value in (("a", a), ("b", b)):
        runs = select_runs(results, {**(where or {}), column: value})
        if runs.duplicated(keys).any():
            raise AnalysisError(f"arm {tag} ({column} = {value!r}) has several runs per {', '.join(keys)}: "
                                "they cannot be paired by replicate")
        cols: dict[str, Any] = {k: runs[k].to_numpy() for k in keys}
        if tag == "a":
            cols.update({f: runs[f].to_numpy() for f in info if f in runs.columns})
        cols[f"run_id_{tag}"] = runs["run_id"].to_numpy()
        cols[f"seed_{tag}"] = runs["seed"].to_numpy() if "seed" in runs.columns else np.full(len(runs), np.nan)
        for o in outcomes:
            cols[f"{o}_{tag}"] = outcome_values(runs, o).to_numpy()
        frames.append(pd.DataFrame(cols))
        sizes.append(len(runs))
    pairs = frames[0].merge(frames[1], on=keys, how="inner", validate="one_to_one")
    pairs = pairs.sort_values(keys, kind="stable").reset_index(drop=True)
    common = bool(len(pairs)) and bool(np.all(pairs["seed_a"].to_numpy() == pairs["seed_b"].to_numpy()))
    pairs.attrs = {"column": column, "a": a, "b": b, "keys": keys, "outcomes": outcomes, "n_pairs": int(len(pairs)),
                   "unmatched_a": int(sizes[0] - len(pairs)), "unmatched_b": int(sizes[1] - len(pairs)),
                   "common_seeds": common}
    if pairs.empty:
        raise AnalysisError(f"no run of {column} = {a!r} has a partner with {column} = {b!r} "
                            f"(matched on {', '.join(keys)})")
    return pairs


@dataclass(frozen=True)
class PairedDifference:
    """A paired difference ``x - y`` with its interval and test.

    Attributes
    ----------
    estimate, low, high : float
        The statistic of the pairwise differences (the mean difference, or
        the median of the differences) and its confidence interval.
    method : str
        How the interval was made ("t", or the bootstrap method used).
    n : int
        Pairs (both values defined).
    mean_x, mean_y : float
        Means of each arm over the pairs.
    sd_difference : float
        Sample standard deviation of the differences.
    se, se_unpaired : float
        Standard error of the mean difference from the pairs, and what it
        would be if the two arms were independent samples of the same size
        (``sqrt(var x / n + var y / n)``). Their ratio is the precision that
        pairing (common random numbers) bought.
    correlation : float
        Pearson correlation of ``x`` and ``y`` over the pairs (NaN if either is constant).
    p_value : float
        Paired t test of a zero mean difference (:func:`scipy.stats.ttest_rel`);
        a constant nonzero difference gets 0, all-zero differences 1.
    test : str
    """

    estimate: float
    low: float
    high: float
    method: str
    n: int
    mean_x: float
    mean_y: float
    sd_difference: float
    se: float
    se_unpaired: float
    correlation: float
    p_value: float
    test: str = "paired t"

    @property
    def interval(self) -> Interval:
        return Interval(self.estimate, self.low, self.high, self.method)


def _pair_arrays(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(x, dtype=float).reshape(-1)
    b = np.asarray(y, dtype=float).reshape(-1)
    if a.shape != b.shape:
        raise AnalysisError(f"paired samples must have one length (got {a.size} and {b.size})")
    ok = ~(np.isnan(a) | np.isnan(b))
    return a[ok], b[ok]


def paired_difference(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *,
                      statistic: str = "mean", method: str = "bootstrap", confidence_level: float = 0.95,
                      n_resamples: int = 2000, seed: int | np.random.Generator = 0,
                      bootstrap_method: str = "BCa") -> PairedDifference:
    """Mean (or median) of the paired differences ``x[i] - y[i]``, with a confidence interval.

    Parameters
    ----------
    x, y : array_like
        Values of the two arms, ``x[i]`` paired with ``y[i]`` (e.g. the
        columns ``<outcome>_a`` and ``<outcome>_b`` of :func:`pair_runs`).
        Pairs with a NaN are dropped.
    statistic : {"mean", "median"}
        Of the differences. The median of the differences is not the
        difference of the medians; only the bootstrap gives its interval.
    method : {"bootstrap", "t"}
        ``"bootstrap"``: :func:`~sim.analysis.bootstrap_ci` of the
        differences (resampling pairs); ``"t"``: the paired t interval
        (:meth:`scipy.stats.ttest_rel` ``.confidence_interval``).
    confidence_level, n_resamples, seed, bootstrap_method
        See :func:`~sim.analysis.bootstrap_ci`.

    Returns
    -------
    PairedDifference
    """
    _check_level(confidence_level)
    if method not in ("bootstrap", "t"):
        raise AnalysisError(f"method = {method!r} is not allowed (allowed: bootstrap, t)")
    if statistic not in ("mean", "median"):
        raise AnalysisError(f"statistic = {statistic!r} is not allowed (allowed: mean, median)")
    if method == "t" and statistic != "mean":
        raise AnalysisError("method = 't' gives an interval of the mean only; use method = 'bootstrap' for the median")
    if method == "bootstrap":
        _check_resamples(n_resamples)
    a, b = _pair_arrays(x, y)
    n = int(a.size)
    if n == 0:
        return PairedDifference(np.nan, np.nan, np.nan, "empty", 0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan,
                                np.nan)
    d = a - b
    sd = float(d.std(ddof=1)) if n > 1 else np.nan
    se = sd / np.sqrt(n) if n > 1 else np.nan
    se_unpaired = float(np.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n)) if n > 1 else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(a, b)[0, 1]) if n > 1 and np.ptp(a) > 0 and np.ptp(b) > 0 else np.nan
    constant = bool(np.all(d == d[0]))
    if constant:
        p = 1.0 if d[0] == 0 else 0.0
    elif n > 1:
        p = float(stats.ttest_rel(a, b).pvalue)
    else:
        p = np.nan
    if method == "t":
        est = float(d.mean())
        if constant:
            low = high = est
            used = "constant"
        elif n < 2:
            low = high = np.nan
            used = "too few"
        else:
            ci = stats.ttest_rel(a, b).confidence_interval(confidence_level)
            low, high, used = float(ci.low), float(ci.high), "t"
    else:
        ci = bootstrap_ci(d, statistic, confidence_level=confidence_level, n_resamples=n_resamples, seed=seed,
                          method=bootstrap_method)
        est, low, high, used = ci.estimate, ci.low, ci.high, ci.method
    return PairedDifference(est, low, high, used, n, float(a.mean()), float(b.mean()), sd, se, se_unpaired, corr, p)


def _wilson(k: int, n: int, confidence_level: float) -> tuple[float, float]:
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level, method="wilson")
    return float(ci.low), float(ci.high)


def paired_risk_difference(both: int, x_only: int, y_only: int, neither: int, *,
                           confidence_level: float = 0.95) -> Interval:
    """Difference of two paired proportions, ``(x_only - y_only) / n``, with Newcombe's interval.

    Newcombe's square-and-add (hybrid score) interval for paired data
    (Newcombe 1998, Stat. Med. 17:2635, method 10; Fagerland, Lydersen & Laake
    2017, *Statistical Analysis of Contingency Tables*, section 8.5): the
    Wilson intervals of the two marginal proportions combined with their
    estimated correlation (the phi coefficient of the 2x2 table, corrected
    towards 0 by ``n / 2`` as in the paper).

    Parameters
    ----------
    both, x_only, y_only, neither : int
        The paired 2x2 table: pairs with the event in both arms, only in x,
        only in y, in neither.
    """
    _check_level(confidence_level)
    cells = (both, x_only, y_only, neither)
    if any(isinstance(c, bool) or int(c) != c or c < 0 for c in cells):
        raise AnalysisError(f"paired table counts must be whole numbers >= 0 (got {cells})")
    a, b, c, d = (int(v) for v in cells)
    n = a + b + c + d
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, "empty")
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _wilson(a + b, n, confidence_level)
    l2, u2 = _wilson(a + c, n, confidence_level)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if margins > 0:
        cross = a * d - b * c
        if cross > n / 2:
            phi = (cross - n / 2) / np.sqrt(margins)
        elif cross < 0:
            phi = cross / np.sqrt(margins)
    est = p1 - p2
    low = est - np.sqrt(max((p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2), 0.0))
    high = est + np.sqrt(max((p2 - l2) ** 2 + (u1 - p1) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1), 0.0))
    return Interval(float(est), float(max(low, -1.0)), float(min(high, 1.0)), "newcombe paired")


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test of paired binary outcomes, with the paired risk difference.

    Attributes
    ----------
    n : int
        Pairs.
    both, x_only, y_only, neither : int
        The paired 2x2 table (``x_only`` and ``y_only`` are the discordant pairs).
    share_x, share_y : float
        The event's share in each arm.
    difference, low, high : float
        ``share_x - share_y`` with Newcombe's paired interval
        (:func:`paired_risk_difference`).
    statistic, p_value : float
        From :func:`statsmodels.stats.contingency_tables.mcnemar`: the
        smaller discordant count and the two-sided binomial p value when
        ``exact``; else the chi-square statistic without continuity correction.
    exact : bool
    test : str
    """

    n: int
    both: int
    x_only: int
    y_only: int
    neither: int
    share_x: float
    share_y: float
    difference: float
    low: float
    high: float
    statistic: float
    p_value: float
    exact: bool
    test: str

    @property
    def interval(self) -> Interval:
        return Interval(self.difference, self.low, self.high, "newcombe paired")


def _binary(v: np.ndarray, name: str) -> np.ndarray:
    if not np.isin(v, (0.0, 1.0)).all():
        bad = float(v[~np.isin(v, (0.0, 1.0))][0])
        raise AnalysisError(f"{name} must hold 0/1 (or True/False) values (found {bad!r})")
    return v.astype(bool)


def mcnemar_test(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *, exact: bool | str = "auto",
                 confidence_level: float = 0.95) -> McNemarResult:
    """McNemar's test that two paired binary outcomes (e.g. dissolution) have the same share.

    Only the discordant pairs carry information: under the null hypothesis a
    pair with the event in exactly one arm is as likely to have it in ``x``
    as in ``y``. The exact test is the binomial test of ``x_only`` out of the
    discordant pairs with probability 1/2; the asymptotic test McNemar's
    chi-square, here without continuity correction (Fagerland, Lydersen &
    Laake 2013, BMC Med. Res. Methodol. 13:91, recommend it over the corrected
    one, which is conservative). Both come from
    :func:`statsmodels.stats.contingency_tables.mcnemar`.

    Parameters
    ----------
    x, y : array_like of bool or 0/1
        Paired outcomes; pairs with a NaN are dropped.
    exact : bool or "auto"
        ``"auto"``: exact when fewer than :data:`MCNEMAR_EXACT_BELOW` (25)
        pairs are discordant.
    confidence_level : float
        Of the interval of the difference in shares.

    Returns
    -------
    McNemarResult
    """
    # Lazy: statsmodels takes seconds to import; only the McNemar test needs it.
    from statsmodels.stats.contingency_tables import mcnemar

    _check_level(confidence_level)
    if exact not in ("auto", True, False):
        raise AnalysisError(f"exact = {exact!r} is not allowed (allowed: 'auto', True, False)")
    a, b = _pair_arrays(x, y)
    a, b = _binary(a, "x"), _binary(b, "y")
    both, x_only = int(np.sum(a & b)), int(np.sum(a & ~b))
    y_only, neither = int(np.sum(~a & b)), int(np.sum(~a & ~b))
    n = int(a.size)
    discordant = x_only + y_only
    use_exact = discordant < MCNEMAR_EXACT_BELOW if exact == "auto" else bool(exact)
    if discordant == 0:
        statistic, p = 0.0, 1.0  # no discordant pair: no evidence of a difference
    else:
        res = mcnemar([[both, x_only], [y_only, neither]], exact=use_exact, correction=False)
        statistic, p = float(res.statistic), float(res.pvalue)
    ci = paired_risk_difference(both, x_only, y_only, neither, confidence_level=confidence_level)
    test = "mcnemar exact" if use_exact else "mcnemar chi-square"
    return McNemarResult(n, both, x_only, y_only, neither, (both + x_only) / n if n else np.nan,
                         (both + y_only) / n if n else np.nan, ci.estimate, ci.low, ci.high, statistic, p, use_exact,
                         test)


def compare_paired(results: Any, a: Any, b: Any, outcomes: Sequence[str] | str | None = None, *,
                   column: str = "strategy", by: Sequence[str] | str | None = "factors",
                   where: Mapping[str, Any] | None = None, pool: bool = False, method: str = "t",
                   adjust: str | None = "holm", alpha: float = 0.05,
                   family: Sequence[str] | str | None = "outcome", confidence_level: float = 0.95,
                   n_resamples: int = 2000, seed: int = 0, exact: bool | str = "auto") -> pd.DataFrame:
    """Paired comparison of two arms per cell: paired differences, McNemar for binary outcomes, adjusted p values.

    Parameters
    ----------
    results
        What :func:`sim.load_results` returns (or a folder).
    a, b : str or float
        The two strategies (or values of ``column``): differences are ``a - b``.
    outcomes : str or list of str, optional
        Default ``cumulative_benefit`` and ``dissolved``.
    column : str
        ``"strategy"`` or a factor (see :func:`pair_runs`).
    by : list of str, "factors" or None
        Cells. ``"factors"`` (the default): every factor except ``column``
        (and ``strategy`` when ``column`` is a factor), so no cell pools
        runs of different make-up.
    pool : bool
        Allow a ``by`` that pools runs differing in some factor; the
        ``pooled_over`` column then says which.
    method : {"t", "bootstrap"}
        Interval of a mean difference (see :func:`paired_difference`). The
        default, the paired t interval, inverts the paired t test, so the
        interval excludes 0 exactly when ``p_value < 1 - confidence_level``;
        a bootstrap interval may disagree with the t test's p value.
    adjust : {"holm", "bh"} or None
        Multiple-comparison adjustment across the table's tests (see
        :func:`~sim.analysis.adjust_table`); ``family`` (default: each
        outcome) says which rows form one family.
    alpha, confidence_level, n_resamples, seed
        As elsewhere; each cell's bootstrap has its own stream from ``seed``.
    exact : bool or "auto"
        McNemar's test of a binary outcome: exact (binomial) or not; ``"auto"``
        (the default) is exact below :data:`MCNEMAR_EXACT_BELOW` discordant
        pairs (see :func:`mcnemar_test`).

    Returns
    -------
    pandas.DataFrame
        One row per cell and outcome: ``*by, outcome, a, b, n_pairs,
        mean_a, mean_b, difference, difference_low, difference_high,
        ci_method, test, p_value, correlation, se, se_unpaired,
        common_seeds, pooled_over`` (and, for binary outcomes,
        ``discordant_a``, ``discordant_b``), then the adjustment's columns
        ``p_adjusted, significant_adjusted, adjustment, n_tests``.
    """
    outcomes = ["cumulative_benefit", "dissolved"] if outcomes is None else (
        [outcomes] if isinstance(outcomes, str) else list(outcomes))
    results = as_results(results)
    pairs = pair_runs(results, a, b, outcomes, column=column, where=where)
    exclude = [column] + (["strategy"] if column != "strategy" else [])
    if isinstance(by, str) and by == "factors" and column != "strategy":
        by = [f for f in factor_names(results) if f != column] + ["strategy"]
    by, cells = cell_groups(results, pairs, by, pool=pool, exclude=exclude)
    rows = []
    for key, cell, pooled in cells:
        common = bool(np.all(cell["seed_a"].to_numpy() == cell["seed_b"].to_numpy()))
        for outcome in outcomes:
            info = check_outcome(outcome)
            x, y = cell[f"{outcome}_a"].to_numpy(dtype=float), cell[f"{outcome}_b"].to_numpy(dtype=float)
            row: dict[str, Any] = {**dict(zip(by, key, strict=False)), "outcome": outcome, "a": a, "b": b}
            if info.binary:
                m = mcnemar_test(x, y, exact=exact, confidence_level=confidence_level)
                pd_ = paired_difference(x, y, method="t", confidence_level=confidence_level)
                row.update({"n_pairs": m.n, "mean_a": m.share_x, "mean_b": m.share_y, "difference": m.difference,
                            "difference_low": m.low, "difference_high": m.high, "ci_method": "newcombe paired",
                            "test": m.test, "p_value": m.p_value, "discordant_a": m.x_only,
                            "discordant_b": m.y_only})
            else:
                pd_ = paired_difference(x, y, method=method, confidence_level=confidence_level,
                                        n_resamples=n_resamples, seed=cell_seed(seed, *key, a, b, outcome))
                row.update({"n_pairs": pd_.n, "mean_a": pd_.mean_x, "mean_b": pd_.mean_y,
                            "difference": pd_.estimate, "difference_low": pd_.low, "difference_high": pd_.high,
                            "ci_method": pd_.method, "test": pd_.test, "p_value": pd_.p_value})
            row.update({"correlation": pd_.correlation, "se": pd_.se, "se_unpaired": pd_.se_unpaired,
                        "common_seeds": common, "pooled_over": ", ".join(pooled)})
            rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs = {"a": a, "b": b, "column": column, "by": by, "unmatched_a": pairs.attrs["unmatched_a"],
                   "unmatched_b": pairs.attrs["unmatched_b"], "common_seeds": pairs.attrs["common_seeds"]}
    if adjust is not None:

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            table = adjust_table(table, adjust, family=family, alpha=alpha)
    return table
