"""Global sensitivity of the outcomes to the sampled factors (SALib).

SALib's analysers read the outputs ``Y`` in the order of the rows of the
sample matrix it generated and never look at the inputs (Sobol) or only at
the direction of each step (Morris). The sweep records the row of each point
as ``point_id``; here every replicate of a point is averaged, the points are
put in ``point_id`` order, and the design is checked to be complete before
anything reaches SALib. Indices are computed separately for each strategy.

Sobol indices (Saltelli 2002; Saltelli et al. 2010) need a sweep sampled with
``sobol`` (Saltelli/Sobol' sequence design); Morris screening (mu*, sigma;
Campolongo et al. 2007) a sweep sampled with ``morris``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .data import AnalysisError, as_results, check_outcome, outcome_values, strategy_order

__all__ = ["SensitivityResult", "point_outcomes", "noise_share", "sobol_indices", "morris_indices", "sensitivity",
           "DEFAULT_SENSITIVITY_OUTCOMES", "sampling_info"]

#: Outcomes analysed when none are named (each is defined for every run).
DEFAULT_SENSITIVITY_OUTCOMES = ("cumulative_benefit", "dissolved", "survival_time", "peak_level")


@dataclass
class SensitivityResult:
    """Indices of one method for several outcomes and strategies.

    Attributes
    ----------
    method : str
        "sobol" or "morris".
    indices : pandas.DataFrame
        Sobol: ``outcome, strategy, factor, S1, S1_conf, ST, ST_conf``;
        Morris: ``outcome, strategy, factor, mu, mu_star, mu_star_conf,
        sigma``. ``*_conf`` is the half-width of the ``confidence_level``
        bootstrap interval.
    second_order : pandas.DataFrame or None
        Sobol with second-order sampling: ``outcome, strategy, factor_a,
        factor_b, S2, S2_conf``.
    notes : list of str
        Outcomes skipped and why (e.g. constant output).
    noise : pandas.DataFrame
        ``outcome, strategy, replicates, noise_share``: how much of the
        variance SALib decomposes is run-to-run noise (see :func:`noise_share`).
    """

    method: str
    indices: pd.DataFrame
    second_order: pd.DataFrame | None = None
    problem: dict[str, Any] = field(default_factory=dict)
    confidence_level: float = 0.95
    notes: list[str] = field(default_factory=list)
    noise: pd.DataFrame = field(default_factory=pd.DataFrame)


def sampling_info(results: Any) -> dict[str, Any]:
    """The manifest's ``sampling`` section (method, problem ...), checked for what SALib needs."""
    sampling = results.manifest.get("sampling") or {}
    if "method" not in sampling:
        raise AnalysisError("the manifest has no sampling method (see docs/sweeps.md)")
    return sampling


def _problem(results: Any, sampling: dict[str, Any]) -> dict[str, Any]:
    problem = sampling.get("problem")
    if not problem or "names" not in problem or "bounds" not in problem:
        raise AnalysisError("the manifest's sampling has no SALib problem (num_vars, names, bounds)")
    names = [str(n) for n in problem["names"]]
    missing = [n for n in names if n not in results.runs.columns]
    if missing:
        raise AnalysisError(f"factor(s) {', '.join(missing)} of the sampling problem are not columns of the runs table")
    return {"num_vars": len(names), "names": names, "bounds": [list(map(float, b)) for b in problem["bounds"]]}


def _design(results: Any, method: str, what: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The results, their sampling section and SALib problem, checked to come from ``method``'s sampler."""
    results = as_results(results)
    sampling = sampling_info(results)
    if sampling["method"] != method:
        raise AnalysisError(f"{what} a sweep sampled with method {method!r} (this one: {sampling['method']!r})")
    return results, sampling, _problem(results, sampling)


def point_outcomes(results: Any, outcome: str, strategy: str) -> pd.DataFrame:
    """Per point (in ``point_id`` order): the outcome averaged over replicates, their variance and count.

    Columns: ``outcome`` (the mean), ``var`` (sample variance of the
    replicates, NaN with one), ``n`` (replicates with a value).

    Raises
    ------
    AnalysisError
        When point ids are not exactly 0..P-1 (an unfinished or filtered
        sweep) or an outcome is undefined at some point.
    """
    check_outcome(outcome)
    runs = results.runs[results.runs["strategy"].astype(str) == strategy]
    if runs.empty:
        raise AnalysisError(f"strategy {strategy!r} is not in these results "
                            f"(present: {', '.join(strategy_order(results))})")
    values = outcome_values(runs, outcome)
    grouped = values.groupby(runs["point_id"].to_numpy())
    per_point = grouped.mean().sort_index()
    ids = per_point.index.to_numpy()
    if ids.size == 0 or ids[0] != 0 or ids[-1] != ids.size - 1 or not np.all(np.diff(ids) == 1):
        expected = int(ids.max()) + 1 if ids.size else 0
        raise AnalysisError(f"strategy {strategy!r}: point ids are not 0..P-1 ({ids.size} points present, "
                            f"{expected - ids.size} missing); is the sweep complete?")
    if per_point.isna().any():
        bad = int(per_point.isna().sum())
        raise AnalysisError(f"outcome {outcome!r} is undefined at {bad} of {ids.size} points for {strategy!r} "
                            "(e.g. final_trust when every replicate dissolved); choose another outcome")
    return pd.DataFrame({outcome: per_point, "var": grouped.var(ddof=1).sort_index(),
                         "n": grouped.count().sort_index()})


def noise_share(points: pd.DataFrame, outcome: str) -> float:
    """Share of the variance of the point means that is replicate noise: mean(var / n) / var(means).

    Near 0: the indices describe the factors; near 1: the averages are
    mostly run-to-run noise (add replicates), and indices mean little.
    """
    total = float(points[outcome].var(ddof=1))
    noise = float((points["var"] / points["n"]).mean())
    if not np.isfinite(noise) or total <= 0:
        return np.nan
    return noise / total


def _point_inputs(results: Any, names: list[str]) -> np.ndarray:
    sample = getattr(results, "sample", None)
    factors = list(results.manifest.get("factors") or [])
    if sample is not None and factors and all(n in factors for n in names):
        # The sampler's own matrix: integer factors there are not yet rounded, so no step can vanish.
        return np.asarray(sample, dtype=float)[:, [factors.index(n) for n in names]]
    first = results.runs.groupby("point_id", sort=True)[names].first()
    return first.to_numpy(dtype=float)


def _outcomes(outcomes: Sequence[str] | str | None) -> list[str]:
    if outcomes is None:
        return list(DEFAULT_SENSITIVITY_OUTCOMES)
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    for o in outcomes:
        check_outcome(o)
    return outcomes


def _salib_seed(seed: int) -> int:
    # SALib's sobol.analyze treats a falsy seed (0) as "unseeded"; derive a nonzero one from any seed.
    return int(np.random.SeedSequence(int(seed)).generate_state(1)[0]) or 1


def sobol_indices(results: Any, outcomes: Sequence[str] | str | None = None, *,
                  strategies: Sequence[str] | None = None, num_resamples: int = 1000,
                  confidence_level: float = 0.95, seed: int = 0) -> SensitivityResult:
    """First-order and total Sobol indices of each outcome, per strategy (SALib.analyze.sobol).

    Parameters
    ----------
    results
        A sweep sampled with ``method: sobol``.
    outcomes : str or list of str, optional
        Default :data:`DEFAULT_SENSITIVITY_OUTCOMES`.
    strategies : list of str, optional
        Default: every strategy of the sweep.
    num_resamples, confidence_level, seed
        Bootstrap of the confidence intervals (SALib's ``*_conf``).

    Returns
    -------
    SensitivityResult
    """
    from SALib.analyze import sobol

    results, sampling, problem = _design(results, "sobol", "Sobol indices need")
    second = bool(sampling.get("calc_second_order", True))
    d = problem["num_vars"]
    rows, rows2, notes, noise = [], [], [], []
    for strategy in strategies or strategy_order(results):
        for outcome in _outcomes(outcomes):
            pts = point_outcomes(results, outcome, strategy)
            noise.append(_noise_row(pts, outcome, strategy))
            y = pts[outcome].to_numpy(dtype=float)
            per = 2 * d + 2 if second else d + 2
            if y.size % per:
                raise AnalysisError(f"{y.size} points is not a Sobol design for {d} factors "
                                    f"(needs a multiple of {per} with calc_second_order={second})")
            if np.ptp(y) == 0:
                notes.append(f"{strategy}/{outcome}: constant over the sample ({y[0]:g}); indices undefined")
                rows.extend({"outcome": outcome, "strategy": strategy, "factor": f, "S1": np.nan,
                             "S1_conf": np.nan, "ST": np.nan, "ST_conf": np.nan} for f in problem["names"])
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                si = sobol.analyze(problem, y, calc_second_order=second, num_resamples=num_resamples,
                                   conf_level=confidence_level, seed=_salib_seed(seed))
            for i, f in enumerate(problem["names"]):
                rows.append({"outcome": outcome, "strategy": strategy, "factor": f, "S1": float(si["S1"][i]),
                             "S1_conf": float(si["S1_conf"][i]), "ST": float(si["ST"][i]),
                             "ST_conf": float(si["ST_conf"][i])})
            if second:
                for i in range(d):
                    for j in range(i + 1, d):
                        rows2.append({"outcome": outcome, "strategy": strategy, "factor_a": problem["names"][i],
                                      "factor_b": problem["names"][j], "S2": float(si["S2"][i, j]),
                                      "S2_conf": float(si["S2_conf"][i, j])})
    return SensitivityResult("sobol", pd.DataFrame(rows), pd.DataFrame(rows2) if second else None, problem,
                             confidence_level, notes, pd.DataFrame(noise))


def morris_indices(results: Any, outcomes: Sequence[str] | str | None = None, *,
                   strategies: Sequence[str] | None = None, num_resamples: int = 1000,
                   confidence_level: float = 0.95, seed: int = 0) -> SensitivityResult:
    """Morris screening (mu, mu*, sigma) of each outcome, per strategy (SALib.analyze.morris).

    The inputs passed to SALib are the factor values each point was run
    with (first run of each point, in ``point_id`` order); each step of a
    trajectory must change exactly one factor.
    """
    from SALib.analyze import morris

    results, sampling, problem = _design(results, "morris", "Morris screening needs")
    d = problem["num_vars"]
    num_levels = int(sampling.get("num_levels", 4))
    x = _point_inputs(results, problem["names"])
    if x.shape[0] % (d + 1):
        raise AnalysisError(f"{x.shape[0]} points is not a Morris design for {d} factors (needs a multiple of {d + 1})")
    steps = np.diff(x.reshape(-1, d + 1, d), axis=1)
    changed = (steps != 0).sum(axis=2)
    if (changed != 1).any():
        raise AnalysisError("the points are not Morris trajectories in point_id order: some step changes "
                            f"{int(changed[changed != 1][0])} factors instead of one")
    rows, notes, noise = [], [], []
    for strategy in strategies or strategy_order(results):
        for outcome in _outcomes(outcomes):
            pts = point_outcomes(results, outcome, strategy)
            noise.append(_noise_row(pts, outcome, strategy))
            y = pts[outcome].to_numpy(dtype=float)
            if np.ptp(y) == 0:
                notes.append(f"{strategy}/{outcome}: constant over the sample ({y[0]:g}); every effect is 0")
            si = morris.analyze(problem, x, y, num_resamples=num_resamples, conf_level=confidence_level,
                                num_levels=num_levels, seed=int(seed))
            for i, f in enumerate(problem["names"]):
                rows.append({"outcome": outcome, "strategy": strategy, "factor": f, "mu": float(si["mu"][i]),
                             "mu_star": float(si["mu_star"][i]), "mu_star_conf": float(si["mu_star_conf"][i]),
                             "sigma": float(si["sigma"][i])})
    return SensitivityResult("morris", pd.DataFrame(rows), None, problem, confidence_level, notes,
                             pd.DataFrame(noise))


def _noise_row(points: pd.DataFrame, outcome: str, strategy: str) -> dict[str, Any]:
    return {"outcome": outcome, "strategy": strategy, "replicates": int(points["n"].min()),
            "noise_share": noise_share(points, outcome)}


def sensitivity(results: Any, method: str | None = None, **kwargs: Any) -> SensitivityResult:
    """Sobol or Morris indices, whichever the sweep's sampling supports (or ``method``)."""
    results = as_results(results)
    method = method or sampling_info(results)["method"]
    if method == "sobol":
        return sobol_indices(results, **kwargs)
    if method == "morris":
        return morris_indices(results, **kwargs)
    raise AnalysisError(f"method = {method!r} is not allowed (allowed: sobol, morris)")
