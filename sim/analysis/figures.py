"""Publication figures of a sweep, one function per figure, each returning a matplotlib Figure.

Every function takes the loaded results (what :func:`sim.load_results`
returns, or a folder) and options, draws in the house style of
:mod:`sim.analysis.style` (Okabe-Ito colours, one fixed colour and line style
per strategy in every figure) and returns a :class:`matplotlib.figure.Figure`
that is not registered with pyplot: it displays in a notebook, and
:func:`sim.analysis.style.save_figure` writes it as PNG and SVG.

Slices: ``where={"initial_trust": 0.3}`` keeps the runs with those values;
factors not fixed by ``where`` are pooled (survival, distributions, phase
diagrams) or drawn as one panel per point (trajectories, which come from the
per-point bands). The figure's title says which.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..levels import LEVEL_NAMES, N_LEVELS
from ..outputs import SERIES
from ..palette import OKABE_ITO
from .data import (
    AnalysisError,
    as_results,
    check_outcome,
    factor_names,
    format_value,
    horizon,
    match_value,
    model_of,
    outcome_values,
    param_label,
    select_bands,
    select_runs,
    strategy_order,
)
from .sensitivity import sensitivity as sensitivity_analysis
from .stats import bootstrap_ci, cell_seed, phase_table
from .style import (
    LEVEL_COLORS,
    NOT_SIGNIFICANT_HATCH,
    figure_style,
    strategy_color,
    strategy_label,
    strategy_linestyle,
    text_color_on,
)
from .survival import DEFAULT_WINDOW, survival_after_grant, survival_curves

__all__ = [
    "plot_trajectories",
    "plot_level_occupancy",
    "plot_survival",
    "plot_survival_after_grant",
    "plot_benefit",
    "plot_phase_diagram",
    "plot_sensitivity",
    "level_shares",
    "draw_crossover",
    "SERIES_LABELS",
]

def draw_crossover(ax: Any, row: Any, y: float, lo_x: float, hi_x: float, color: str) -> None:
    """One crossover estimate (a row of :func:`sim.analysis.crossover.crossover`'s table) at height ``y``: its
    interval clipped to [lo_x, hi_x], and a dot at the crossing, or an arrow at the edge when the difference
    never turns positive up to ``hi_x`` (right) or is positive already at ``lo_x`` (left)."""
    low, high = (float(np.clip(row[k], lo_x, hi_x)) for k in ("low", "high"))
    ax.plot([low, high], [y, y], color=color, lw=2)
    if row["status"] == "crossing":
        ax.plot(row["crossing"], y, "o", color=color, ms=5)
    elif row["status"] == "never":
        ax.plot(hi_x, y, ">", color=color, ms=7)
    else:
        ax.plot(lo_x, y, "<", color=color, ms=7)


#: Axis labels of the per-step series (read from the output vocabulary, :data:`sim.outputs.SERIES`).
SERIES_LABELS = {name: spec.axis_label() for name, spec in SERIES.items()}
_TRUST_SERIES = ("mean_trust", "min_trust", "sd_trust", "contribution_rate")
_PANEL_W, _PANEL_H = 3.4, 2.7
_MONTH_LABEL = "month (step)"
#: Survival axes run to _Y_TOP so event labels fit above the curves (which end at 1).
_Y_TOP, _LABEL_Y = 1.14, 1.075


def _fmt(v: Any) -> str:
    return format_value(v, 3)


def _axis_position(ticks: np.ndarray, value: Any) -> int:
    """Where ``value`` sits on a phase diagram's axis: the nearest tick of a number, the equal tick of a text."""
    if isinstance(value, str):
        return int(np.flatnonzero(ticks == value)[0])
    return int(np.argmin(np.abs(ticks.astype(float) - float(value))))


def _figure(n_panels: int, *, max_cols: int = 3, width: float | None = None, height: float | None = None,
            sharex: bool = True, sharey: bool = True) -> tuple[Figure, list[Any]]:
    ncols = min(max_cols, max(1, n_panels))
    nrows = math.ceil(n_panels / ncols)
    w = width or max(5.2, min(10.5, _PANEL_W * ncols))
    h = height or (_PANEL_H * nrows + 1.2)
    fig = Figure(figsize=(w, h), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes[:n_panels])


def _axis_labels(fig: Figure, axes: list[Any], xlabel: str, ylabel: str) -> None:
    """Label the bottom panel of each column and the first panel of each row.

    A panel above an empty slot of the grid is the bottom of its column, so
    it gets back the tick labels that sharing the x axis took away.
    """
    ncols = axes[0].get_subplotspec().get_gridspec().ncols
    n = len(axes)
    if n > ncols and "\n" not in ylabel:
        ylabel = textwrap.fill(ylabel, 30)  # one row's height is too short for a long label
    for i, ax in enumerate(axes):
        if i + ncols >= n:
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel(xlabel)
        if i % ncols == 0:
            ax.set_ylabel(ylabel)


def _title(fig: Figure, title: str, note: str = "") -> None:
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=11.5 if not note else 11)


def _selection_note(results: Any, runs: pd.DataFrame, where: Mapping[str, Any] | None,
                    panels_by: Sequence[str] = ()) -> str:
    """"initial_trust = 0.3; pooled over deadline (4 values)" for the figure's title."""
    parts = []
    if where:
        parts.append(", ".join(f"{k} = {_fmt(v) if not isinstance(v, (list, tuple)) else v}"
                               for k, v in where.items()))
    pooled = [f for f in factor_names(results)
              if f in runs.columns and f not in (where or {}) and f not in panels_by and runs[f].nunique() > 1]
    if pooled:
        parts.append("pooled over " + ", ".join(f"{f} ({runs[f].nunique()} values)" for f in pooled))
    return "; ".join(parts)


def _strategy_handles(strategies: Sequence[str], *, patches: bool = False,
                      counts: Mapping[str, int] | None = None) -> tuple[list[Any], list[str]]:
    handles, labels = [], []
    for s in strategies:
        c = strategy_color(s, strategies)
        if patches:
            handles.append(Patch(facecolor=c, edgecolor="none"))
        else:
            handles.append(Line2D([], [], color=c, linestyle=strategy_linestyle(s, strategies), linewidth=2))
        labels.append(strategy_label(s) + (f" (n = {counts[s]:,})" if counts and s in counts else ""))
    return handles, labels


def _bottom_legend(fig: Figure, handles: list[Any], labels: list[str], *, title: str | None = None,
                   max_cols: int = 5, rows: list[int] | None = None) -> None:
    """A legend below the panels, filled row by row (``rows``: items per row, e.g. strategies then a key)."""
    if rows is None:
        ncols = min(max_cols, len(labels))
        rows = [ncols] * (len(labels) // ncols) + ([len(labels) % ncols] if len(labels) % ncols else [])
    ncols = max(rows)
    grid: list[list[tuple[Any, str]]] = []
    i = 0
    for n in rows:
        row = list(zip(handles[i:i + n], labels[i:i + n], strict=False))
        row += [(Line2D([], [], linestyle="none"), "")] * (ncols - n)
        grid.append(row)
        i += n
    # matplotlib fills legend columns first: transpose so each row of the grid reads left to right.
    ordered = [grid[r][c] for c in range(ncols) for r in range(len(grid))]
    fig.legend([h for h, _ in ordered], [lab for _, lab in ordered], loc="outside lower center", ncols=ncols,
               title=title, handlelength=2.6, columnspacing=1.4)


def _points_in(bands: pd.DataFrame) -> list[int]:
    return sorted(int(p) for p in pd.unique(bands["point_id"]))


def _point_title(results: Any, bands: pd.DataFrame, point: int, varying: list[str]) -> str:
    row = bands[bands["point_id"] == point].iloc[0]
    return ", ".join(f"{f} = {_fmt(row[f])}" for f in varying) if varying else ""


def _varying(results: Any, table: pd.DataFrame) -> list[str]:
    return [f for f in factor_names(results) if f in table.columns and table[f].nunique() > 1]


def plot_trajectories(results: Any, series: str = "mean_trust", *, where: Mapping[str, Any] | None = None,
                      strategies: Sequence[str] | None = None, max_panels: int = 6, min_runs: int = 10,
                      bands: Sequence[int] | None = None) -> Figure:
    """Median trajectory of a series per strategy with its 50 % and 90 % bands.

    Drawn from the bands table (per point): one panel per point of the
    selection. Trust series are defined for partnerships still together, so
    their bands describe the survivors at each step.

    Parameters
    ----------
    series : str
        A kept series (``mean_trust``, ``level`` ...; see the sweep's ``keep_series``).
    where : dict, optional
        Fix factor values, e.g. ``{"initial_trust": 0.3}``.
    max_panels : int
        Refuse selections with more points than this (narrow them with ``where``).
    min_runs : int
        Leave out steps at which fewer runs have a value (for trust series:
        fewer partnerships still together), where quantiles are mostly noise.
    bands : sequence of {50, 90}, optional
        Which central bands to draw (default: both for up to three
        strategies, only the 50 % band for more, which would overlap).
    """
    results = as_results(results)
    bands_arg = bands
    bands = select_bands(results, series, where, strategies)
    points = _points_in(bands)
    if len(points) > max_panels:
        varying = _varying(results, bands)
        values = "; ".join(f"{f}: {', '.join(_fmt(v) for v in sorted(bands[f].unique())[:8])}" for f in varying)
        raise AnalysisError(f"trajectories: the selection spans {len(points)} points (more than max_panels = "
                            f"{max_panels}); fix some factors with where (values: {values})")
    order = [s for s in strategy_order(results) if s in set(bands["strategy"].astype(str))]
    varying = _varying(results, bands)
    shown = tuple(bands_arg) if bands_arg is not None else ((50, 90) if len(order) <= 3 else (50,))
    if not set(shown) <= {50, 90}:
        raise AnalysisError(f"bands = {bands_arg!r} is not allowed (allowed: 50 and/or 90)")
    with figure_style():
        fig, axes = _figure(len(points))
        for ax, point in zip(axes, points, strict=False):
            sub = bands[bands["point_id"] == point]
            for s in order:
                b = sub[sub["strategy"].astype(str) == s].sort_values("step")
                b = b.where(b["n"] >= min_runs)
                c = strategy_color(s, order)
                x = b["step"].to_numpy()
                if 90 in shown:
                    ax.fill_between(x, b["q05"], b["q95"], color=c, alpha=0.10, linewidth=0)
                if 50 in shown:
                    ax.fill_between(x, b["q25"], b["q75"], color=c, alpha=0.25, linewidth=0)
                ax.plot(x, b["q50"], color=c, linestyle=strategy_linestyle(s, order), linewidth=1.8,
                        path_effects=[patheffects.withStroke(linewidth=3.2, foreground="white")])
            ax.set_title(_point_title(results, bands, point, varying), fontsize=10)
            ax.set_xlim(1, horizon(results))
            if series in ("mean_trust", "min_trust", "contribution_rate"):
                ax.set_ylim(0, 1)
            if series == "level":
                ax.set_ylim(-0.2, N_LEVELS + 0.2)
        _axis_labels(fig, axes, _MONTH_LABEL, SERIES_LABELS.get(series, series))
        handles, labels = _strategy_handles(order)
        grey = "#555555"
        key = [(Line2D([], [], color=grey, linewidth=1.8), "median")]
        if 50 in shown:
            key.append((Patch(facecolor=grey, alpha=0.45, linewidth=0), "middle 50 % of runs"))
        if 90 in shown:
            key.append((Patch(facecolor=grey, alpha=0.15, linewidth=0), "middle 90 % of runs"))
        handles += [h for h, _ in key]
        labels += [lab for _, lab in key]
        _bottom_legend(fig, handles, labels, rows=[len(order), len(key)])
        runs = select_runs(results, where, strategies)
        survivors = " (partnerships still together)" if series in _TRUST_SERIES else ""
        _title(fig, f"{SERIES_LABELS.get(series, series).split(' (')[0].capitalize()} over time{survivors}",
               _selection_note(results, runs, where, panels_by=varying))
    return fig


def level_shares(results: Any, *, where: Mapping[str, Any] | None = None,
                 strategies: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], str]:
    """Share of runs at each level (0 = dissolved .. 5) per step, per strategy.

    Returns ``({strategy: array (n_steps, 6)}, source)``. Sources, best first:
    ``"bands"`` (series ``level_share_0`` .. ``level_share_5`` in the bands
    table: mean = share), ``"series"`` (saved per-run ``level`` series),
    ``"peak"`` (from the runs table only: the *highest level reached so
    far* and dissolution, since the current level is not stored).
    """
    results = as_results(results)
    runs = select_runs(results, where, strategies)
    order = [s for s in strategy_order(results) if s in set(runs["strategy"].astype(str))]
    n_steps = horizon(results)
    bands = results.bands
    share_series = [f"level_share_{k}" for k in range(N_LEVELS + 1)]
    out: dict[str, np.ndarray] = {}
    if bands is not None and len(bands) and set(share_series) <= set(pd.unique(bands["series"])):
        for k, name in enumerate(share_series):
            b = select_bands(results, name, where, strategies)
            b = b.assign(w=b["n"] * b["mean"])
            g = b.groupby(["strategy", "step"])[["w", "n"]].sum()
            for s in order:
                arr = out.setdefault(s, np.zeros((n_steps, N_LEVELS + 1)))
                gs = g.loc[s]
                arr[gs.index.to_numpy() - 1, k] = (gs["w"] / gs["n"]).to_numpy()
        return out, "bands"
    level = None
    if hasattr(results, "series"):
        try:
            level = results.series("level")
        except (KeyError, FileNotFoundError, AttributeError, ValueError, AnalysisError):
            level = None
    if level is not None and level.shape[0] == len(results.runs):
        pos = np.flatnonzero(results.runs.index.isin(runs.index))
        strat = results.runs["strategy"].astype(str).to_numpy()[pos]
        for s in order:
            lv = np.asarray(level[pos[strat == s]])
            out[s] = np.stack([(lv == k).mean(axis=0) for k in range(N_LEVELS + 1)], axis=1)
        return out, "series"
    steps = np.arange(1, n_steps + 1, dtype=float)
    for s in order:
        sub = runs[runs["strategy"].astype(str) == s]
        peak = np.zeros((len(sub), n_steps), dtype=np.int8)
        for k in range(1, N_LEVELS + 1):
            first = sub[f"first_step_level_{k}"].to_numpy(dtype=float)
            peak = np.where(first[:, None] <= steps[None, :], np.int8(k), peak)
        gone = sub["dissolved_step"].to_numpy(dtype=float)[:, None] <= steps[None, :]
        peak = np.where(gone, np.int8(0), peak)
        out[s] = np.stack([(peak == k).mean(axis=0) for k in range(N_LEVELS + 1)], axis=1)
    return out, "peak"


def plot_level_occupancy(results: Any, *, where: Mapping[str, Any] | None = None,
                         strategies: Sequence[str] | None = None) -> Figure:
    """Stacked shares of runs at each level over time, one panel per strategy.

    Shows the current level when the sweep stored it (per-level share bands
    or saved level series); otherwise the highest level each run has reached
    so far (which the runs table determines exactly), and the title says so.
    """
    results = as_results(results)
    shares, source = level_shares(results, where=where, strategies=strategies)
    order = list(shares)
    steps = np.arange(1, horizon(results) + 1)
    with figure_style():
        fig, axes = _figure(len(order), sharey=True)
        for ax, s in zip(axes, order, strict=False):
            ax.stackplot(steps, shares[s].T, colors=LEVEL_COLORS, linewidth=0)
            ax.set_title(strategy_label(s), fontsize=10, color=strategy_color(s, order))
            ax.set_xlim(1, steps[-1])
            ax.set_ylim(0, 1)
            ax.grid(False)
        _axis_labels(fig, axes, _MONTH_LABEL, "share of runs")
        handles = [Patch(facecolor=LEVEL_COLORS[k]) for k in range(N_LEVELS + 1)]
        labels = [f"{k} {LEVEL_NAMES[k]}" if k else "dissolved" for k in range(N_LEVELS + 1)]
        _bottom_legend(fig, handles, labels, max_cols=6,
                       title="highest level reached so far" if source == "peak" else "level")
        runs = select_runs(results, where, strategies)
        what = ("Highest level reached so far (current level not stored by this sweep)" if source == "peak"
                else "Level occupancy over time")
        _title(fig, what, _selection_note(results, runs, where))
    fig.trustladder_source = source  # which data the shares came from (see level_shares)
    return fig


def _facet_values(runs: pd.DataFrame, facet: str | None) -> list[Any]:
    if facet is None:
        return [None]
    if facet not in runs.columns:
        raise AnalysisError(f"facet: {facet!r} is not a column of the runs table")
    vals = sorted(pd.unique(runs[facet]))
    if len(vals) > 9:
        raise AnalysisError(f"facet: {facet!r} has {len(vals)} values (at most 9 panels); fix it with where")
    return vals


def _event_lines(ax: Any, runs: pd.DataFrame, strategies: Sequence[str], x_max: float) -> None:
    funded = [s for s in strategies if s.startswith("funder")]
    if not funded:
        return
    marks = []
    for name, label in (("deadline", "deadline"), ("grant_term", "grant ends")):
        if name in runs.columns and runs[name].nunique() == 1 and 0 < float(runs[name].iloc[0]) < x_max:
            marks.append((float(runs[name].iloc[0]), label))
    if len(marks) == 2 and marks[0][0] == marks[1][0]:
        marks = [(marks[0][0], "deadline = grant ends")]
    close = len(marks) == 2 and abs(marks[1][0] - marks[0][0]) < 0.15 * x_max
    for k, (x, label) in enumerate(marks):
        # The line stops at 1.0; its label sits in the strip above, where no curve can be.
        ax.plot([x, x], [0, 1.0], color="#666666", linewidth=0.9, linestyle=(0, (4, 3)), zorder=1)
        ha = ("right" if k == 0 else "left") if close else "center"
        ax.text(x, _LABEL_Y, label, ha=ha, va="center", fontsize=8.5, color="#444444")


def plot_survival(results: Any, *, where: Mapping[str, Any] | None = None, strategies: Sequence[str] | None = None,
                  facet: str | None = None, confidence_level: float = 0.95) -> Figure:
    """Kaplan-Meier survival of the partnerships per strategy, with pointwise confidence bands.

    Runs still together at the horizon are censored there. Dashed lines
    mark the funder's deadline and the end of the grant (when one value
    applies to the whole panel).

    Parameters
    ----------
    facet : str, optional
        A factor: one panel per value (others pooled unless fixed by ``where``).
    """
    results = as_results(results)
    runs = select_runs(results, where, strategies)
    order = [s for s in strategy_order(results) if s in set(runs["strategy"].astype(str))]
    facets = _facet_values(runs, facet)
    hz = horizon(results)
    with figure_style():
        fig, axes = _figure(len(facets))
        for ax, fv in zip(axes, facets, strict=False):
            sub = runs if facet is None else runs[match_value(runs[facet], fv)]
            curves = survival_curves(results, where={**(where or {}), **({facet: fv} if facet else {})},
                                     strategies=order, confidence_level=confidence_level)
            for (s,), c in curves.items():
                col = strategy_color(s, order)
                ax.fill_between(c.step, c.low, c.high, step="post", color=col, alpha=0.2, linewidth=0)
                ax.step(c.step, c.survival, where="post", color=col, linestyle=strategy_linestyle(s, order))
            _event_lines(ax, sub, order, hz)
            ax.set_xlim(0, hz)
            ax.set_ylim(0, _Y_TOP)
            ax.set_yticks(np.linspace(0, 1, 6))
            if facet is not None:
                ax.set_title(f"{facet} = {_fmt(fv)}", fontsize=10)
        _axis_labels(fig, axes, _MONTH_LABEL, "share of partnerships\nstill together")
        counts = runs["strategy"].astype(str).value_counts().to_dict() if facet is None else None
        handles, labels = _strategy_handles(order, counts=counts)
        handles.append(Patch(facecolor="#555555", alpha=0.25, linewidth=0))
        labels.append(f"{confidence_level:.0%} confidence band")
        _bottom_legend(fig, handles, labels, rows=[len(order), 1])
        _title(fig, "Partnership survival (Kaplan-Meier)", _selection_note(results, runs, where, [facet or ""]))
    return fig


def plot_survival_after_grant(results: Any, window: int = DEFAULT_WINDOW, *, where: Mapping[str, Any] | None = None,
                              strategies: Sequence[str] | None = None, facet: str | None = None,
                              confidence_level: float = 0.95, min_runs: int = 10) -> Figure:
    """Survival in the ``window`` months after grant_term, of partnerships still together at grant_term.

    Strategies with fewer than ``min_runs`` partnerships alive at grant_term
    in a panel are left out of it (named in the panel), since a curve of a
    handful of runs says little.
    """
    results = as_results(results)
    runs = select_runs(results, where, strategies)
    order = [s for s in strategy_order(results) if s in set(runs["strategy"].astype(str))]
    facets = _facet_values(runs, facet)
    with figure_style():
        fig, axes = _figure(len(facets))
        counts: dict[str, int] = {}
        for ax, fv in zip(axes, facets, strict=False):
            w = {**(where or {}), **({facet: fv} if facet else {})}
            table, curves = survival_after_grant(results, window, where=w, strategies=order,
                                                 confidence_level=confidence_level, return_curves=True)
            few = []
            for (s,), c in curves.items():
                if c.n < min_runs:
                    few.append(f"{strategy_label(s)} ({c.n})")
                    continue
                col = strategy_color(s, order)
                ax.fill_between(c.step, c.low, c.high, step="post", color=col, alpha=0.2, linewidth=0)
                ax.step(c.step, c.survival, where="post", color=col, linestyle=strategy_linestyle(s, order))
            few += [f"{strategy_label(r['strategy'])} (0)" for _, r in table.iterrows()
                    if r["alive_at_grant_term"] == 0]
            if few:
                ax.text(0.02, 0.03, "too few at grant_term: " + ", ".join(few), transform=ax.transAxes, fontsize=8,
                        color="#444444", ha="left", va="bottom")
            for _, r in table.iterrows():
                counts[r["strategy"]] = counts.get(r["strategy"], 0) + int(r["alive_at_grant_term"])
            ax.set_xlim(0, window)
            ax.set_ylim(0, 1.04)
            if facet is not None:
                ax.set_title(f"{facet} = {_fmt(fv)}", fontsize=10)
        _axis_labels(fig, axes, "months after grant_term", "share still together\n(of those together at grant_term)")
        handles, labels = _strategy_handles(order, counts=counts if facet is None else None)
        handles.append(Patch(facecolor="#555555", alpha=0.25, linewidth=0))
        labels.append(f"{confidence_level:.0%} confidence band")
        _bottom_legend(fig, handles, labels, rows=[len(order), 1])
        note = _selection_note(results, runs, where, [facet or ""])
        _title(fig, f"Survival after the money stops: {window} months after grant_term",
               ("n = partnerships together at grant_term" + (f"; {note}" if note else "")))
    return fig


def plot_benefit(results: Any, outcome: str = "cumulative_benefit", *, where: Mapping[str, Any] | None = None,
                 strategies: Sequence[str] | None = None, facet: str | None = None,
                 confidence_level: float = 0.95, seed: int = 0) -> Figure:
    """Distribution of a per-run outcome per strategy: violin, quartile box, and mean with bootstrap CI."""
    results = as_results(results)
    info = check_outcome(outcome)
    runs = select_runs(results, where, strategies)
    order = [s for s in strategy_order(results) if s in set(runs["strategy"].astype(str))]
    facets = _facet_values(runs, facet)
    # Strategy names fit under the violins of one wide panel; small multiples name them in the legend instead.
    named_ticks = len(facets) == 1
    ylabel = info.axis_label() if named_ticks else textwrap.fill(info.axis_label(), 32)
    counts: set[int] = set()
    with figure_style():
        fig, axes = _figure(len(facets), sharex=False, width=max(5.2, min(10.5, 1.2 * len(order) * len(facets) + 2)))
        for ax, fv in zip(axes, facets, strict=False):
            sub = runs if facet is None else runs[match_value(runs[facet], fv)]
            vals = outcome_values(sub, outcome)
            ticks = []
            for i, s in enumerate(order):
                v = vals[sub["strategy"].astype(str) == s].dropna().to_numpy()
                col = strategy_color(s, order)
                ticks.append(f"{strategy_label(s)}\n(n = {v.size:,})".replace("funder ", "funder\n")
                             if len(order) > 3 else f"{strategy_label(s)}\n(n = {v.size:,})")
                counts.add(int(v.size))
                if v.size == 0:
                    continue
                if v.size > 1 and np.ptp(v) > 0:
                    parts = ax.violinplot([v], positions=[i], widths=0.8, showextrema=False)
                    for body in parts["bodies"]:
                        body.set_facecolor(col)
                        body.set_edgecolor(col)
                        body.set_alpha(0.35)
                q1, med, q3 = np.percentile(v, [25, 50, 75])
                ax.vlines(i, q1, q3, color="#222222", linewidth=5, zorder=3)
                ax.scatter([i], [med], color="white", edgecolor="#222222", s=22, zorder=4)
                ci = bootstrap_ci(v, "mean", confidence_level=confidence_level,
                                  seed=cell_seed(seed, fv, s, outcome, "figure"))
                ax.errorbar([i + 0.22], [ci.estimate], yerr=[[ci.estimate - ci.low], [ci.high - ci.estimate]],
                            fmt="D", color=col, markeredgecolor="#222222", markersize=5, capsize=3, zorder=4)
            if named_ticks:
                ax.set_xticks(range(len(order)), ticks)
            else:
                ax.set_xticks([])
            ax.set_xlim(-0.6, len(order) - 0.4)
            ax.grid(axis="x", visible=False)
            if facet is not None:
                ax.set_title(f"{facet} = {_fmt(fv)}", fontsize=10)
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel(ylabel)
        handles = [Patch(facecolor="#888888", alpha=0.35), Line2D([], [], color="#222222", linewidth=5),
                   Line2D([], [], marker="o", color="white", markeredgecolor="#222222", linestyle="none"),
                   Line2D([], [], marker="D", color="#888888", markeredgecolor="#222222", linestyle="none")]
        labels = ["distribution of runs", "middle 50 % of runs", "median", f"mean, {confidence_level:.0%} CI"]
        if named_ticks:
            _bottom_legend(fig, handles, labels, max_cols=4)
        else:
            n_text = f"; n = {counts.pop():,} runs each" if len(counts) == 1 else ""
            sh, sl = _strategy_handles(order, patches=True)
            _bottom_legend(fig, sh + handles, sl + labels, rows=[len(order), len(handles)],
                           title=f"strategies left to right in each panel{n_text}")
        _title(fig, f"Distribution of {info.label} per strategy",
               _selection_note(results, runs, where, [facet or ""]))
    return fig


def _darken(color: Any, amount: float) -> tuple[float, float, float]:
    r, g, b = mcolors.to_rgb(color)
    return (r * (1 - amount), g * (1 - amount), b * (1 - amount))


def _lighten(color: str, amount: float) -> tuple[float, float, float]:
    r, g, b = mcolors.to_rgb(color)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def _fmt_margin(v: float) -> str:
    if not np.isfinite(v):
        return ""
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2g}" if a >= 0.01 else f"{v:.1g}"


def plot_phase_diagram(results: Any, x: str, y: str, outcome: str = "cumulative_benefit", *,
                       where: Mapping[str, Any] | None = None, strategies: Sequence[str] | None = None,
                       better: str | None = None, test: str = "bootstrap", alpha: float = 0.05, bins: int = 8,
                       annotate: bool | None = None, table: pd.DataFrame | None = None,
                       n_resamples: int = 2000, seed: int = 0) -> Figure:
    """Which strategy wins each cell of two factors (by the mean of ``outcome``), and by how much.

    Each cell takes its winner's colour; the number in it is the winner's
    lead over the runner-up in the outcome's units. Cells whose lead is not
    significant (see :func:`sim.analysis.phase_table`) are pale and hatched.
    The table the figure is drawn from is ``phase_table(...)`` with the same
    arguments (pass it as ``table`` to skip recomputing).
    """
    results = as_results(results)
    info = check_outcome(outcome)
    if table is None:
        table = phase_table(results, x, y, outcome, where=where, strategies=strategies, better=better, test=test,
                            alpha=alpha, bins=bins, n_resamples=n_resamples, seed=seed)
    order = list(table.attrs.get("strategies") or strategy_order(results))
    x_edges, y_edges = table.attrs.get("x_edges"), table.attrs.get("y_edges")
    # Binned axes list every bin, even one without runs, so cells keep their true positions.
    xs = (np.sort(table[x].unique()) if x_edges is None
          else (np.asarray(x_edges[:-1]) + np.asarray(x_edges[1:])) / 2)
    ys = (np.sort(table[y].unique()) if y_edges is None
          else (np.asarray(y_edges[:-1]) + np.asarray(y_edges[1:])) / 2)
    annotate = annotate if annotate is not None else (len(xs) <= 10 and len(ys) <= 12)
    with figure_style():
        fig = Figure(figsize=(max(6.0, 0.75 * len(xs) + 2.6), max(4.2, 0.48 * len(ys) + 2.8)), layout="constrained")
        ax = fig.add_subplot()
        ax.grid(False)
        for _, r in table.iterrows():
            i, j = _axis_position(xs, r[x]), _axis_position(ys, r[y])
            if r["winner"] is None or (isinstance(r["winner"], float) and np.isnan(r["winner"])):
                face, hatch, text_col = (0.9, 0.9, 0.9), None, "black"
            else:
                base = strategy_color(r["winner"], order)
                sig = bool(r["significant"])
                face = base if sig else _lighten(base, 0.6)
                hatch = None if sig else NOT_SIGNIFICANT_HATCH
                text_col = text_color_on(mcolors.to_hex(face))
            rect = Rectangle((i - 0.5, j - 0.5), 1, 1, facecolor=face, edgecolor="white", linewidth=1.2,
                             hatch=hatch, gid=f"cell:{i}:{j}")
            if hatch:
                rect.set_hatchcolor(_darken(face, 0.45))
            rect.set_label(f"_cell {r['winner']}")
            ax.add_patch(rect)
            if annotate and np.isfinite(r.get("margin", np.nan)):
                ax.text(i, j, _fmt_margin(r["margin"]), ha="center", va="center", fontsize=8.5, color=text_col,
                        bbox={"boxstyle": "round,pad=0.12", "facecolor": face, "edgecolor": "none", "alpha": 0.85}
                        if hatch else None)
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(-0.5, len(ys) - 0.5)
        if x_edges is None:
            ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs])
        else:
            ax.set_xticks(np.arange(len(xs) + 1) - 0.5, [f"{v:.3g}" for v in x_edges])
        if y_edges is None:
            ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys])
        else:
            ax.set_yticks(np.arange(len(ys) + 1) - 0.5, [f"{v:.3g}" for v in y_edges])
        if len(xs) > 6:
            ax.tick_params(axis="x", labelrotation=45)
        empty = len(xs) * len(ys) - len(table)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(param_label(x))
        ax.set_ylabel(param_label(y))
        winners = [s for s in order if s in set(table["winner"].dropna())]
        handles, labels = _strategy_handles(winners, patches=True)
        handles.append(Patch(facecolor="#DDDDDD", edgecolor="#555555", hatch=NOT_SIGNIFICANT_HATCH))
        lvl = 1 - float(table.attrs.get("alpha", alpha))
        labels.append("lead not significant" + (f" ({lvl:.0%} CI)" if test == "bootstrap" else f" (Welch, p >= "
                                                                                                  f"{1 - lvl:g})"))
        if empty > 0:
            handles.append(Patch(facecolor="white", edgecolor="#555555"))
            labels.append("no runs in this cell")
        _bottom_legend(fig, handles, labels, rows=[len(winners), len(handles) - len(winners)] if len(winners) > 1
                       else None, max_cols=3)
        way = "highest" if table.attrs.get("better", "higher") == "higher" else "lowest"
        runs = select_runs(results, where, strategies)
        note = _selection_note(results, runs, where, [x, y])
        unit = f" ({info.unit})" if info.unit else ""
        _title(fig, f"Strategy with the {way} mean {info.label}",
               f"number = lead over the runner-up{unit}" + (f"; {note}" if note else ""))
    fig.trustladder_table = table  # the exact table drawn (see phase_table)
    return fig


def plot_sensitivity(results: Any, outcome: str | None = None, *, method: str | None = None,
                     sensitivity: Any = None, strategies: Sequence[str] | None = None, **kwargs: Any) -> Figure:
    """Sensitivity indices of one outcome with confidence intervals, one panel per strategy.

    Sobol: first-order (S1) and total (ST) indices; Morris: mu* (with its
    interval) and sigma. Pass a precomputed :class:`SensitivityResult` as
    ``sensitivity`` to skip the analysis; ``kwargs`` go to the analysis.
    """
    results = as_results(results) if results is not None else None
    if sensitivity is None:
        sensitivity = sensitivity_analysis(results, method, outcomes=[outcome] if outcome else None,
                                           strategies=strategies, **kwargs)
    df = sensitivity.indices
    outcome = outcome or str(df["outcome"].iloc[0])
    df = df[df["outcome"] == outcome]
    if df.empty:
        raise AnalysisError(f"no sensitivity indices for outcome {outcome!r}")
    order = [s for s in (strategies or pd.unique(df["strategy"])) if s in set(df["strategy"])]
    info = check_outcome(outcome, model_of(results) if results is not None else "partnership")
    if sensitivity.method == "sobol":
        cols = (("S1", "S1_conf", "first order (S1)", OKABE_ITO["sky_blue"]),
                ("ST", "ST_conf", "total (ST)", OKABE_ITO["blue"]))
        xlabel = "Sobol index (share of output variance)"
        rank = "ST"
    else:
        cols = (("mu_star", "mu_star_conf", "mu* (mean |effect|)", OKABE_ITO["blue"]),
                ("sigma", None, "sigma (interactions, nonlinearity)", OKABE_ITO["orange"]))
        xlabel = f"elementary effect ({info.unit or 'outcome units'} per factor range)"
        rank = "mu_star"
    factors = (df.groupby("factor")[rank].mean().sort_values(ascending=True).index.tolist())
    with figure_style():
        fig, axes = _figure(len(order), max_cols=3, sharex=True, sharey=True,
                            height=max(2.8, 0.32 * len(factors) + 1.4) * math.ceil(len(order) / 3) + 1.0)
        yy = np.arange(len(factors))
        h = 0.38
        for ax, s in zip(axes, order, strict=False):
            d = df[df["strategy"] == s].set_index("factor").reindex(factors)
            for k, (col, conf, _label, color) in enumerate(cols):
                err = d[conf].to_numpy() if conf else None
                ax.barh(yy + (k - 0.5) * h, d[col].to_numpy(), height=h, color=color,
                        xerr=err, error_kw={"ecolor": "#222222", "elinewidth": 0.9, "capsize": 2})
            ax.set_title(strategy_label(s), fontsize=10, color=strategy_color(s, order))
            ax.axvline(0, color="#444444", linewidth=0.8)
            ax.set_yticks(yy, factors)
            ax.grid(axis="y", visible=False)
        _axis_labels(fig, axes, textwrap.fill(xlabel, 40), "")
        handles = [Patch(facecolor=c[3]) for c in cols] + [Line2D([], [], color="#222222", linewidth=0.9)]
        labels = [c[2] for c in cols] + [f"{sensitivity.confidence_level:.0%} confidence interval"]
        _bottom_legend(fig, handles, labels, max_cols=3)
        name = "Sobol indices" if sensitivity.method == "sobol" else "Morris screening"
        noise = getattr(sensitivity, "noise", None)
        note = ""
        if noise is not None and len(noise):
            nz = noise[noise["outcome"] == outcome].set_index("strategy")["noise_share"]
            parts = [f"{strategy_label(s)} {nz[s]:.0%}" for s in order if s in nz.index and np.isfinite(nz[s])]
            if parts:
                note = "share of variance that is replicate noise: " + ", ".join(parts)
        _title(fig, f"{name}: {info.label}", note)
    return fig
