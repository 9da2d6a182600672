"""The standard set of figures of a sweep, as ``trustladder plot`` and ``trustladder report`` draw them.

A figure is drawn on a *slice* of a grid sweep: the factors that are not on
one of its axes or panels are fixed at a default value (the parameter's
MODEL.md default when the grid contains it, else the grid's middle value), so
that what differs between strategies is not hidden by pooling over, say,
three cultural distances. ``where`` overrides any of those values;
``pool=True`` pools over them instead. Sampled sweeps (LHS, Sobol, Morris)
have no repeated values, so their figures pool over the design.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..params import PARAMETERS
from .data import (
    OUTCOMES,
    AnalysisError,
    factor_names,
    format_value,
    model_of,
    outcomes_of,
    same_value,
    strategy_order,
)
from .sensitivity import sensitivity as sensitivity_analysis
from .survival import grant_ends_in_horizon

__all__ = ["FIGURE_KINDS", "FigureSpec", "default_where", "figure_specs", "is_grid", "sampling_method"]

#: Figure kinds (``trustladder plot --figure``) and what each shows.
FIGURE_KINDS: dict[str, str] = {
    "trajectories": "median and 50 %/90 % bands of a per-step series over time, per strategy",
    "occupancy": "share of runs at each level over time, per strategy",
    "survival": "Kaplan-Meier survival of the partnerships per strategy",
    "survival_after_grant": "survival in the 24 months after grant_term, of partnerships alive then",
    "benefit": "distribution of cumulative benefit (or --outcome) per strategy",
    "phase": "phase diagram: which strategy wins each cell of two factors, and by how much",
    "sensitivity": "Sobol indices or Morris screening of an outcome (sobol/morris sweeps)",
}
DEFAULT_PHASE_OUTCOMES = ("cumulative_benefit", "dissolved")
_MAX_FACET = 6


@dataclass
class FigureSpec:
    """One figure to draw: its kind, file stem, how to make it and a caption."""

    kind: str
    stem: str
    make: Callable[[], Any]
    caption: str


def sampling_method(results: Any) -> str:
    return str((results.manifest.get("sampling") or {}).get("method", "grid"))


def is_grid(results: Any) -> bool:
    return sampling_method(results) == "grid"


def _values(results: Any, factor: str) -> list[Any]:
    return sorted(pd.unique(results.runs[factor]))


def default_where(results: Any, free: Sequence[str] = (), where: Mapping[str, Any] | None = None,
                  pool: bool = False) -> dict[str, Any]:
    """``where`` completed with a default value for every grid factor not in ``free``.

    The default is the parameter's MODEL.md default when the grid contains
    it, else the middle of the grid's values. Sampled sweeps and ``pool=True``
    add nothing.
    """
    out = dict(where or {})
    if pool or not is_grid(results):
        return out
    for f in factor_names(results):
        if f in out or f in free or f not in results.runs.columns:
            continue
        vals = _values(results, f)
        if len(vals) < 2:
            continue
        default = PARAMETERS[f].default if f in PARAMETERS else None
        hit = [v for v in vals if default is not None and same_value(v, default)]
        out[f] = hit[0] if hit else vals[(len(vals) - 1) // 2]
    return out


def _facet(results: Any, where: Mapping[str, Any] | None) -> str | None:
    for f in factor_names(results):
        if f in (where or {}) or f not in results.runs.columns:
            continue
        n = results.runs[f].nunique()
        if is_grid(results) and 2 <= n <= _MAX_FACET:
            return f
    return None


def _where_text(where: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {format_value(v)}" for k, v in where.items())


def figure_specs(results: Any, kinds: Sequence[str] | None = None, *, where: Mapping[str, Any] | None = None,
                 pool: bool = False, series: Sequence[str] | None = None, outcomes: Sequence[str] | None = None,
                 x: str | None = None, y: str | None = None, facet: str | None = None,
                 window: int = 24, sensitivity: Any = None, n_resamples: int = 2000, seed: int = 0,
                 strict: bool = False) -> list[FigureSpec]:
    """The figures of ``kinds`` (default: every kind these results support) with their default slices.

    Kinds that the results cannot support (no bands, one factor, no
    sensitivity sampling ...) are skipped, or raise when ``strict`` (a kind
    the user asked for by name).
    """
    from . import figures as F  # matplotlib is imported only when figures are drawn

    kinds = list(kinds or FIGURE_KINDS)
    for k in kinds:
        if k not in FIGURE_KINDS:
            raise AnalysisError(f"unknown figure {k!r} (known: {', '.join(FIGURE_KINDS)})")
    factors = [f for f in factor_names(results) if f in results.runs.columns]
    n_strat = len(strategy_order(results))
    specs: list[FigureSpec] = []

    def skip(kind: str, why: str) -> None:
        if strict:
            raise AnalysisError(f"figure {kind!r}: {why}")

    for kind in kinds:
        if kind == "trajectories":
            bands = results.bands
            kept = [] if bands is None or not len(bands) else [s for s in pd.unique(bands["series"])
                                                               if s in F.SERIES_LABELS and s != "level"]
            chosen = list(series) if series else kept
            if not chosen:
                skip(kind, "the sweep kept no per-step series bands (keep_series)")
                continue
            fc = facet or _facet(results, where)
            w = default_where(results, [fc] if fc else [], where, pool)
            if not is_grid(results) and not where:
                skip(kind, "bands are per design point; a sampled sweep needs where= to pick points")
                continue
            for s in chosen:
                specs.append(FigureSpec(kind, f"trajectories-{s}",
                                        lambda s=s, w=w: F.plot_trajectories(results, s, where=w),
                                        f"{F.SERIES_LABELS.get(s, s).capitalize()} over time: median (line), middle "
                                        f"50 % and 90 % of runs (bands), per strategy"
                                        + (f"; {_where_text(w)}" if w else "") + "."))
        elif kind == "occupancy":
            w = default_where(results, [], where, pool)
            specs.append(FigureSpec(kind, "occupancy", lambda w=w: F.plot_level_occupancy(results, where=w),
                                    "Share of runs at each level of the ladder over time, per strategy"
                                    + (f"; {_where_text(w)}" if w else "") + "."))
        elif kind in ("survival", "survival_after_grant"):
            fc = facet or _facet(results, where)
            w = default_where(results, [fc] if fc else [], where, pool)
            if kind == "survival":
                specs.append(FigureSpec(kind, "survival", lambda w=w, fc=fc: F.plot_survival(results, where=w,
                                                                                            facet=fc),
                                        "Kaplan-Meier survival of the partnerships (share not dissolved), "
                                        "95 % pointwise confidence bands, censored at the horizon"
                                        + (f"; {_where_text(w)}" if w else "") + "."))
            elif grant_ends_in_horizon(results):
                specs.append(FigureSpec(kind, "survival-after-grant",
                                        lambda w=w, fc=fc: F.plot_survival_after_grant(results, window, where=w,
                                                                                       facet=fc),
                                        f"Survival in the {window} months after grant_term, among the "
                                        "partnerships still together when the grant ended"
                                        + (f"; {_where_text(w)}" if w else "") + "."))
        elif kind == "benefit":
            fc = facet or _facet(results, where)
            w = default_where(results, [fc] if fc else [], where, pool)
            for o in outcomes or ["cumulative_benefit"]:
                specs.append(FigureSpec(kind, f"distribution-{o}",
                                        lambda w=w, fc=fc, o=o: F.plot_benefit(results, o, where=w, facet=fc,
                                                                              seed=seed),
                                        f"Distribution of {OUTCOMES[o].label} over runs per strategy: violin, "
                                        "middle 50 %, median and mean with 95 % bootstrap CI"
                                        + (f"; {_where_text(w)}" if w else "") + "."))
        elif kind == "phase":
            axes_f = [f for f in factors if results.runs[f].nunique() > 1]
            if x and y:
                pair = (x, y)
            elif len(axes_f) >= 2:
                pair = (axes_f[0], axes_f[1])
            else:
                skip(kind, "a phase diagram needs two factors that vary (give x and y)")
                continue
            if n_strat < 2:
                skip(kind, "a phase diagram needs at least two strategies")
                continue
            w = default_where(results, list(pair), where, pool)
            for o in outcomes or DEFAULT_PHASE_OUTCOMES:
                specs.append(FigureSpec(kind, f"phase-{o}-{pair[0]}-{pair[1]}",
                                        lambda w=w, o=o, pair=pair: F.plot_phase_diagram(
                                            results, pair[0], pair[1], o, where=w, n_resamples=n_resamples,
                                            seed=seed),
                                        f"Strategy with the best mean {OUTCOMES[o].label} in each cell of "
                                        f"{pair[0]} x {pair[1]}; number = lead over the runner-up; hatched = "
                                        "lead not significant (95 % bootstrap CI of the difference includes 0)"
                                        + (f"; {_where_text(w)}" if w else "") + "."))
        elif kind == "sensitivity":
            method = sampling_method(results)
            if method not in ("sobol", "morris"):
                skip(kind, f"sensitivity needs a sweep sampled with sobol or morris (this one: {method})")
                continue
            specs += sensitivity_figure_specs(results, outcomes or DEFAULT_PHASE_OUTCOMES, sensitivity, seed=seed)
    return specs


def sensitivity_figure_specs(results: Any, outcomes: Sequence[str], sensitivity: Any = None, *,
                             seed: int = 0) -> list[FigureSpec]:
    """One Sobol or Morris figure per outcome of a sweep sampled that way, whatever its model.

    ``outcomes`` are names of the sweep's model (:func:`sim.analysis.data.outcomes_of`); ``sensitivity`` the
    precomputed indices (default: computed for ``outcomes``).
    """
    from . import figures as F  # matplotlib is imported only when figures are drawn

    method = sampling_method(results)
    known = outcomes_of(model_of(results))
    sens = sensitivity
    if sens is None:
        sens = sensitivity_analysis(results, outcomes=list(outcomes), seed=seed)
    what = "first-order and total Sobol indices" if method == "sobol" else "Morris mu* and sigma"
    return [FigureSpec("sensitivity", f"{method}-{o}",
                       lambda o=o: F.plot_sensitivity(results, o, sensitivity=sens),
                       f"{what.capitalize()} of {known[o].label}, per strategy, with 95 % "
                       "bootstrap confidence intervals (replicates averaged per point).")
            for o in outcomes]
