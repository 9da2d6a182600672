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

**Signal or noise.** A stochastic model's replicate means still carry
run-to-run noise, which the estimators count as variance and which inflates
every total index alike. Sobol and Morris designs therefore add, by default,
a do-nothing factor ``dummy`` (``[sampling] dummy = true``; the model never
sees it). Its indices are the *noise floor*: :attr:`SensitivityResult.floor`
compares each factor's interval with the dummy's, and a factor *stands
above the floor* when the lower end of its interval exceeds the upper end of
the dummy's (a conservative rule: two non-overlapping 95 % intervals).
:meth:`SensitivityResult.statements` says which factors do. Sobol designs
also report indices of the mean model, with the noise's bias removed from
SALib's estimators (``*_denoised``; :meth:`sim.sweep.design.Sobol.denoise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..params import did_you_mean
from ..sweep.design import DesignError, SamplingDesign, analysis_methods, get_design, salib_seed
from .data import COMMUNITY_OUTCOMES, AnalysisError, as_results, check_outcome, model_of, outcome_values, strategy_order

__all__ = ["SensitivityResult", "point_outcomes", "noise_share", "sobol_indices", "morris_indices", "sensitivity",
           "design_indices", "noise_floor", "DEFAULT_SENSITIVITY_OUTCOMES", "sampling_info"]

#: Outcomes analysed when none are named (each is defined for every run); a community sweep's default is
#: :data:`sim.analysis.data.COMMUNITY_OUTCOMES`.
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
    floor : pandas.DataFrame
        The noise floor, when the design has noise factors (the ``dummy``):
        ``outcome, strategy, index, factor, value, low, high, floor,
        floor_high, above_floor`` for every real factor and each of the
        design's floor indices (Sobol: ST, S1 and their ``_denoised``
        versions; Morris: mu_star). ``floor`` and ``floor_high`` are the
        dummy's value and upper limit; ``above_floor`` is ``low >
        floor_high``. Empty without a noise factor.
    noise_factors : list of str
        The design's do-nothing factors (rows of ``indices``, not of ``floor``).
    """

    method: str
    indices: pd.DataFrame
    second_order: pd.DataFrame | None = None
    problem: dict[str, Any] = field(default_factory=dict)
    confidence_level: float = 0.95
    notes: list[str] = field(default_factory=list)
    noise: pd.DataFrame = field(default_factory=pd.DataFrame)
    floor: pd.DataFrame = field(default_factory=pd.DataFrame)
    noise_factors: list[str] = field(default_factory=list)

    def above_floor(self, outcome: str, strategy: str, index: str | None = None) -> list[str]:
        """The factors whose ``index`` (default: the first floor index, ST or mu_star) stands above the floor."""
        if self.floor.empty:
            raise AnalysisError("this design has no noise factor (sample with [sampling] dummy = true)")
        f = self.floor
        index = index or str(f["index"].iloc[0])
        sel = f[(f["outcome"] == outcome) & (f["strategy"] == strategy) & (f["index"] == index)]
        if sel.empty:
            raise AnalysisError(f"no floor for outcome {outcome!r}, strategy {strategy!r}, index {index!r} "
                                f"(indices: {', '.join(pd.unique(f['index']))})")
        return sel.loc[sel["above_floor"], "factor"].tolist()

    def statements(self) -> list[str]:
        """One sentence per outcome, strategy and floor index: which factors stand above the noise floor."""
        out = []
        if self.floor.empty:
            return out
        for (outcome, strategy, index), g in self.floor.groupby(["outcome", "strategy", "index"], sort=False):
            above = g.loc[g["above_floor"], "factor"].tolist()
            rest = g.loc[~g["above_floor"], "factor"].tolist()
            floor, top = float(g["floor"].iloc[0]), float(g["floor_high"].iloc[0])
            head = f"{strategy} / {outcome}, {index}: noise floor (dummy) {floor:.3g}, upper limit {top:.3g}"
            out.append(f"{head}; above it: {', '.join(above) or 'none'}; not above: {', '.join(rest) or 'none'}")
        return out


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
    noise = set(sampling.get("noise_factors") or [])
    missing = [n for n in names if n not in results.runs.columns and n not in noise]
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
    model = model_of(results)
    check_outcome(outcome, model)
    runs = results.runs[results.runs["strategy"].astype(str) == strategy]
    if runs.empty:
        raise AnalysisError(f"strategy {strategy!r} is not in these results "
                            f"(present: {', '.join(strategy_order(results))})")
    values = outcome_values(runs, outcome, model)
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
    # The sample matrix's columns: the factors, then the design's noise factors (run by no one).
    columns = list(results.manifest.get("factors") or []) + list(
        (results.manifest.get("sampling") or {}).get("noise_factors") or [])
    if sample is not None and columns and all(n in columns for n in names) and \
            np.ndim(sample) == 2 and np.shape(sample)[1] == len(columns):
        # The sampler's own matrix: integer factors there are not yet rounded, so no step can vanish.
        return np.asarray(sample, dtype=float)[:, [columns.index(n) for n in names]]
    missing = [n for n in names if n not in results.runs.columns]
    if missing:
        raise AnalysisError(f"the inputs of factor(s) {', '.join(missing)} are in the sample matrix only, and "
                            "these results have none (load them with sim.load_results)")
    first = results.runs.groupby("point_id", sort=True)[names].first()
    return first.to_numpy(dtype=float)


def _outcomes(outcomes: Sequence[str] | str | None, model: str = "partnership") -> list[str]:
    if outcomes is None:
        return list(COMMUNITY_OUTCOMES if model == "community" else DEFAULT_SENSITIVITY_OUTCOMES)
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    for o in outcomes:
        check_outcome(o, model)
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
            for outcome in _outcomes(outcomes, model_of(results)):
                pts = point_outcomes(results, outcome, strategy)
                noise.append(_noise_row(pts, outcome, strategy))
                y = pts[outcome].to_numpy(dtype=float)
                found = design.analyze(problem, sampling, x, y, num_resamples=num_resamples,
                                       confidence_level=confidence_level, seed=seed)
                clean = design.denoise(problem, sampling, y, (pts["var"] / pts["n"]).to_numpy(dtype=float), found)
                for part in (found, clean):
                    if part is not None and part.note:
                        notes.append(f"{strategy}/{outcome}: {part.note}")
                factor_cols = {**found.factors, **(clean.factors if clean is not None else {})}
                for i, f in enumerate(names):
                    rows.append({"outcome": outcome, "strategy": strategy, "factor": f,
                                 **{c: float(v[i]) for c, v in factor_cols.items()}})
                pair_cols = {**(found.pairs or {}), **((clean.pairs or {}) if clean is not None else {})}
                if found.pairs is not None:
                    rows2.extend({"outcome": outcome, "strategy": strategy, "factor_a": names[i], "factor_b": names[j],
                                  **{c: float(v[i, j]) for c, v in pair_cols.items()}}
                                 for i in range(len(names)) for j in range(i + 1, len(names)))
    except DesignError as exc:
        raise AnalysisError(str(exc)) from None
    indices = pd.DataFrame(rows)
    noise_factors = [n for n in (sampling.get("noise_factors") or []) if n in names]
    floor = noise_floor(indices, noise_factors, design.floor_indices)
    return SensitivityResult(method, indices, pd.DataFrame(rows2) if pair_columns else None, problem,
                             confidence_level, notes, pd.DataFrame(noise), floor, noise_factors)


def noise_floor(indices: pd.DataFrame, noise_factors: Sequence[str], floor_indices: Sequence[str]) -> pd.DataFrame:
    """Each real factor's interval against the noise factors' (the floor), per outcome, strategy and index.

    For each index ``c`` in ``floor_indices`` (and ``c + "_denoised"`` when
    the table has it) the interval is ``c +- c_conf``; the floor is the
    highest of the noise factors' values and upper limits. A factor stands
    above the floor when its lower limit exceeds the floor's upper limit.
    Returns an empty table when there is no noise factor.
    """
    columns = ["outcome", "strategy", "index", "factor", "value", "low", "high", "floor", "floor_high",
               "above_floor"]
    if not noise_factors or indices.empty:
        return pd.DataFrame(columns=columns)
    which = [c for base in floor_indices for c in (base, f"{base}_denoised") if c in indices.columns]
    is_noise = indices["factor"].isin(list(noise_factors))
    rows = []
    for (outcome, strategy), g in indices.groupby(["outcome", "strategy"], sort=False):
        noise, real = g[is_noise.loc[g.index]], g[~is_noise.loc[g.index]]
        for c in which:
            conf = f"{c}_conf"
            floor = float(noise[c].max())
            floor_high = float((noise[c] + noise[conf]).max())
            for _, r in real.iterrows():
                low, high = float(r[c] - r[conf]), float(r[c] + r[conf])
                rows.append({"outcome": outcome, "strategy": strategy, "index": c, "factor": r["factor"],
                             "value": float(r[c]), "low": low, "high": high, "floor": floor,
                             "floor_high": floor_high, "above_floor": bool(low > floor_high)})
    return pd.DataFrame(rows, columns=columns)


def sobol_indices(results: Any, outcomes: Sequence[str] | str | None = None, *,
                  strategies: Sequence[str] | None = None, num_resamples: int = 1000,
                  confidence_level: float = 0.95, seed: int = 0) -> SensitivityResult:
    """First-order and total Sobol indices of each outcome, per strategy (SALib.analyze.sobol).

    Parameters
    ----------
    results
        A sweep sampled with ``method: sobol``.
    outcomes : str or list of str, optional
        Default :data:`DEFAULT_SENSITIVITY_OUTCOMES` (a community sweep: :data:`sim.analysis.data.COMMUNITY_OUTCOMES`).
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
