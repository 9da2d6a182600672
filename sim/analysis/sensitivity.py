"""Global sensitivity of the outcomes to the sampled factors (SALib).

SALib's analysers read the outputs ``Y`` in the order of the rows of the
sample matrix it generated and never look at the inputs (Sobol) or only at
the direction of each step (Morris). The sweep records the row of each point
as ``point_id``; here every replicate of a point is averaged, the points are
put in ``point_id`` order, and the design is checked to be complete before
anything reaches SALib. Indices are computed separately for each strategy.

Sobol indices (Saltelli 2002; Saltelli et al. 2010) need a sweep sampled with
``sobol`` (Saltelli/Sobol' sequence design); Morris screening (mu*, sigma;
Campolongo et al. 2007) a sweep sampled with ``morris``. Each design's call
into SALib is part of its registered unit (:mod:`sim.sweep.design`); what is
common to every analysis (checking the design, averaging replicates, the
noise share, the tables) is here, so a design a researcher registers with an
``analyze`` method is analysed the same way (:func:`design_indices`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..params import did_you_mean
from ..sweep.design import DesignError, SamplingDesign, analysis_methods, get_design, salib_seed
from .data import AnalysisError, as_results, check_outcome, outcome_values, strategy_order

__all__ = ["SensitivityResult", "point_outcomes", "noise_share", "sobol_indices", "morris_indices", "sensitivity",
           "design_indices", "DEFAULT_SENSITIVITY_OUTCOMES", "sampling_info"]

#: Outcomes analysed when none are named (each is defined for every run).
DEFAULT_SENSITIVITY_OUTCOMES = ("cumulative_benefit", "dissolved", "survival_time", "peak_level")


@dataclass
class SensitivityResult:
    """Indices of one method for several outcomes and strategies.

    Attributes
    ----------
    method : str
        The design whose analysis made it: "sobol", "morris" or a registered one.
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


def _analysis_design(method: object) -> SamplingDesign:
    """The registered design ``method``, if it comes with a sensitivity analysis."""
    allowed = analysis_methods()
    if not isinstance(method, str) or method not in allowed:
        hint = did_you_mean(method, allowed) if isinstance(method, str) else ""
        raise AnalysisError(f"method = {method!r} is not allowed{hint} (allowed: {', '.join(allowed)})")
    return get_design(method)


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


#: The old private name of :func:`sim.sweep.design.salib_seed`.
_salib_seed = salib_seed


def design_indices(results: Any, method: str, outcomes: Sequence[str] | str | None = None, *,
                   strategies: Sequence[str] | None = None, num_resamples: int = 1000,
                   confidence_level: float = 0.95, seed: int = 0) -> SensitivityResult:
    """The sensitivity analysis of the registered design ``method``, per outcome and strategy.

    Checks that the sweep was sampled with ``method`` and that its points are
    that design's; then, for each strategy and outcome, averages the
    replicates of each point (:func:`point_outcomes`), in ``point_id`` order,
    and hands them to the design's :meth:`~sim.sweep.design.SamplingDesign.analyze`.

    Parameters
    ----------
    results
        A sweep sampled with ``method``.
    method : str
        A registered design with an analysis (``sobol``, ``morris`` or one a
        researcher registered).
    outcomes, strategies, num_resamples, confidence_level, seed
        As for :func:`sobol_indices`.

    Returns
    -------
    SensitivityResult
    """
    design = _analysis_design(method)
    results = as_results(results)
    sampling = sampling_info(results)
    if sampling["method"] != method:
        raise AnalysisError(f"{design.analysis}: needs a sweep sampled with method {method!r} "
                            f"(this one: {sampling['method']!r})")
    problem = _problem(results, sampling)
    names = problem["names"]
    x = _point_inputs(results, names) if design.reads_inputs else None
    pair_columns = design.pair_columns(sampling)
    rows, rows2, notes, noise = [], [], [], []
    try:
        design.check_inputs(problem, sampling, x)
        for strategy in strategies or strategy_order(results):
            for outcome in _outcomes(outcomes):
                pts = point_outcomes(results, outcome, strategy)
                noise.append(_noise_row(pts, outcome, strategy))
                y = pts[outcome].to_numpy(dtype=float)
                found = design.analyze(problem, sampling, x, y, num_resamples=num_resamples,
                                       confidence_level=confidence_level, seed=seed)
                if found.note:
                    notes.append(f"{strategy}/{outcome}: {found.note}")
                for i, f in enumerate(names):
                    rows.append({"outcome": outcome, "strategy": strategy, "factor": f,
                                 **{c: float(v[i]) for c, v in found.factors.items()}})
                if found.pairs is not None:
                    rows2.extend({"outcome": outcome, "strategy": strategy, "factor_a": names[i], "factor_b": names[j],
                                  **{c: float(v[i, j]) for c, v in found.pairs.items()}}
                                 for i in range(len(names)) for j in range(i + 1, len(names)))
    except DesignError as exc:
        raise AnalysisError(str(exc)) from None
    return SensitivityResult(method, pd.DataFrame(rows), pd.DataFrame(rows2) if pair_columns else None, problem,
                             confidence_level, notes, pd.DataFrame(noise))


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
    return design_indices(results, "sobol", outcomes, strategies=strategies, num_resamples=num_resamples,
                          confidence_level=confidence_level, seed=seed)


def morris_indices(results: Any, outcomes: Sequence[str] | str | None = None, *,
                   strategies: Sequence[str] | None = None, num_resamples: int = 1000,
                   confidence_level: float = 0.95, seed: int = 0) -> SensitivityResult:
    """Morris screening (mu, mu*, sigma) of each outcome, per strategy (SALib.analyze.morris).

    The inputs passed to SALib are the factor values each point was run
    with (first run of each point, in ``point_id`` order); each step of a
    trajectory must change exactly one factor.
    """
    return design_indices(results, "morris", outcomes, strategies=strategies, num_resamples=num_resamples,
                          confidence_level=confidence_level, seed=seed)


def _noise_row(points: pd.DataFrame, outcome: str, strategy: str) -> dict[str, Any]:
    return {"outcome": outcome, "strategy": strategy, "replicates": int(points["n"].min()),
            "noise_share": noise_share(points, outcome)}


def sensitivity(results: Any, method: str | None = None, **kwargs: Any) -> SensitivityResult:
    """The indices of the sweep's design (Sobol, Morris or a registered one), or of ``method``."""
    results = as_results(results)
    method = method or sampling_info(results)["method"]
    _analysis_design(method)
    return design_indices(results, method, **kwargs)
