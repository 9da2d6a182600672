"""Statistics, figures and the HTML report of a community sweep (``model = "community"``).

A community sweep's runs table holds the community summary per run (``sim.outputs.community_outputs("summary")``),
its bands the community series, and its store the partnership and organization tables
(``SweepResults.table``). A *cell* is one design point and strategy; its label is the factors'
values (e.g. ``funder_policy = mandate, gossip = 0.2``). These functions are what ``trustladder analyze``,
``plot`` and ``report`` do with such a folder; the partnership model's statistics (survival of one partnership,
strategy comparisons) live in :mod:`sim.analysis.stats` and :mod:`sim.analysis.survival`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..manifest import now_iso
from ..outputs import community_outputs
from .catalog import FigureSpec, is_grid, sampling_method, sensitivity_figure_specs
from .data import (
    COMMUNITY_OUTCOMES,
    AnalysisError,
    as_results,
    cell_columns,
    check_outcome,
    factor_names,
    format_value,
    select_runs,
)
from .report import _CSS, _details, _figure_html, _partial_banner, _sensitivity_section, _table, _write_html
from .sensitivity import sensitivity as sensitivity_analysis
from .stats import bootstrap_ci
from .style import figure_style

__all__ = ["is_community", "COMMUNITY_OUTCOMES", "community_cells", "community_outcome_table",
           "partnership_summary", "community_figure_specs", "build_community_report", "write_community_report"]

#: Cells a figure shows at most (one line or box each).
MAX_CELLS = 12


def is_community(results: Any) -> bool:
    """Whether ``results`` are a community sweep's."""
    return (getattr(results, "manifest", None) or {}).get("model") == "community"


def _check(results: Any) -> Any:
    if isinstance(results, (str, Path)):
        results = as_results(results)  # loads the folder
    if not all(hasattr(results, a) for a in ("runs", "bands", "manifest", "table")):
        raise AnalysisError("results must be a loaded sweep (sim.load_results) with .runs, .bands, .manifest and "
                            f".table(); got {type(results).__name__}")
    if not is_community(results):
        raise AnalysisError("these results are not a community sweep's (model = \"community\" in the spec)")
    return results


Where = Mapping[str, Any] | None


def _cell_keys(results: Any, by: Sequence[str] | str | None) -> tuple[list[str], list[str]]:
    """The columns that make a cell (``strategy`` last) and the factors its label shows."""
    factors = [f for f in factor_names(results) if f in results.runs.columns]
    if by is None:
        # a grid's cell is a design point; a sampled design's points are one draw each: pool per strategy
        return (["point_id", "strategy"], factors) if is_grid(results) else (["strategy"], [])
    named = [c for c in cell_columns(results, by) if c != "strategy"]
    return [*named, "strategy"], named


def _cell_runs(results: Any, by: Sequence[str] | str | None, where: Where) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cells (one row each, with a ``cell`` label) and the selected runs with the row of their cell, ``_cell``."""
    keys, shown = _cell_keys(results, by)
    runs = select_runs(results, where).copy()
    cols = list(dict.fromkeys([*keys, *shown]))
    cells = runs[cols].drop_duplicates(keys).sort_values(keys, kind="stable").reset_index(drop=True)
    multi = results.runs["strategy"].nunique() > 1

    def label(row: pd.Series) -> str:
        parts = [f"{f} = {format_value(row[f])}" for f in shown]
        if multi or not parts:
            parts.append(str(row["strategy"]))
        return ", ".join(parts)

    cells["cell"] = [label(r) for _, r in cells.iterrows()]
    index = pd.MultiIndex.from_frame(cells[keys].astype(str))
    runs["_cell"] = index.get_indexer(pd.MultiIndex.from_frame(runs[keys].astype(str)))
    return cells, runs


def community_cells(results: Any, by: Sequence[str] | str | None = None, where: Where = None) -> pd.DataFrame:
    """One row per cell: the columns that make it, each factor it shows and a ``cell`` label.

    Parameters
    ----------
    by : list of str, "factors" or None
        None: a cell is a design point and strategy (``point_id``, ``strategy`` and every factor) on a grid, a
        strategy (the whole design pooled) on a sampled design (lhs, sobol, morris). Factor names: one cell per
        combination of their values and strategy, the other factors pooled.
    where : mapping, optional
        Keep only the runs with these values (``{factor: value or [values]}``), as ``sim.analysis.data.select_runs``.
    """
    results = _check(results)
    return _cell_runs(results, by, where)[0]


def _outcomes(outcomes: Sequence[str] | str | None) -> list[str]:
    names = list(COMMUNITY_OUTCOMES) if outcomes is None else ([outcomes] if isinstance(outcomes, str)
                                                               else list(outcomes))
    for name in names:
        check_outcome(name, "community")
    return names


def community_outcome_table(results: Any, outcomes: Sequence[str] | str | None = None, *,
                            by: Sequence[str] | str | None = None, where: Where = None,
                            confidence_level: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per cell and outcome: ``n``, ``mean`` with its bootstrap interval (``ci_low``, ``ci_high``), ``median``.

    ``by`` and ``where`` choose the cells and the runs (:func:`community_cells`). Each cell's resampling is seeded
    from ``seed`` and the cell's row, so the table is the same however it is computed.
    """
    results = _check(results)
    names = _outcomes(outcomes)
    cells, runs = _cell_runs(results, by, where)
    groups = runs.groupby("_cell")
    rows = []
    for i, c in cells.iterrows():
        sub = groups.get_group(i)
        for k, name in enumerate(names):
            x = sub[name].to_numpy(dtype=float)
            ci = bootstrap_ci(x, "mean", confidence_level=confidence_level, n_resamples=n_resamples,
                              seed=np.random.default_rng([seed, int(c.get("point_id", 0)), i, k]))
            rows.append({**{col: c[col] for col in cells.columns if col != "cell"}, "cell": c["cell"],
                         "outcome": name, "n": int(np.count_nonzero(~np.isnan(x))), "mean": ci.estimate,
                         "ci_low": ci.low, "ci_high": ci.high, "median": float(np.nanmedian(x)) if len(x) and
                         not np.isnan(x).all() else np.nan})
    return pd.DataFrame(rows)


def partnership_summary(results: Any, *, by: Sequence[str] | str | None = None, where: Where = None) -> pd.DataFrame:
    """Per cell and origin of the partnerships (setup, convened, a funding policy): what became of them.

    Columns: the cell's (:func:`community_cells`; ``point_id`` and ``strategy`` by default), ``cell``,
    ``origin``, ``partnerships`` (formed per run), ``share_ended``, ``median_months`` (life of the ended ones),
    ``share_collaboration`` (reached level 4), ``share_funded``, ``mean_benefit`` (per partnership).
    """
    results = _check(results)
    cells, runs = _cell_runs(results, by, where)
    keys = _cell_keys(results, by)[0]
    table = results.table("partnerships").merge(runs[["run_id", "_cell"]], on="run_id", how="inner")
    n_runs = runs.groupby("_cell").size()
    groups = dict(iter(table.groupby("_cell")))
    rows = []
    for i, c in cells.iterrows():
        sub = groups.get(i, table.iloc[:0])
        for origin, g in sub.groupby("origin", sort=True):
            ended = g["ended_step"].notna()
            life = (g["ended_step"] - g["formed_step"])[ended]
            rows.append({**{k: c[k] for k in keys}, "cell": c["cell"], "origin": origin,
                         "partnerships": len(g) / n_runs[i],
                         "share_ended": float(ended.mean()),
                         "median_months": float(life.median()) if len(life) else np.nan,
                         "share_collaboration": float(g["first_step_level_4"].notna().mean()),
                         "share_funded": float((g["funded_months"] > 0).mean()),
                         "mean_benefit": float(g["cumulative_benefit"].mean())})
    return pd.DataFrame(rows, columns=[*keys, "cell", "origin", "partnerships", "share_ended", "median_months",
                                       "share_collaboration", "share_funded", "mean_benefit"])


def _cell_colors(n: int) -> list[Any]:
    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _too_many(cells: pd.DataFrame) -> None:
    if len(cells) > MAX_CELLS:
        raise AnalysisError(f"the sweep has {len(cells)} cells; a community figure shows at most {MAX_CELLS} "
                            "(draw a slice: sim.analysis.community functions take the results of a smaller sweep)")


def plot_community_series(results: Any, series: Sequence[str] | None = None, *, where: Where = None) -> Figure:
    """Median of each kept community series over time with its middle-50 % band, one line per design point
    (and strategy) of a grid, of those matching ``where``."""
    results = _check(results)
    if not is_grid(results):
        raise AnalysisError("the series bands are per design point; a sampled design's points are one draw each "
                            "(draw the series of a grid sweep)")
    kept = list(results.manifest.get("keep_series", []))
    names = kept if series is None else list(series)
    missing = [s for s in names if s not in kept]
    if missing or not names:
        raise AnalysisError(f"series {', '.join(missing) or '(none)'} not kept (kept: {', '.join(kept) or 'none'})")
    cells = community_cells(results, where=where)
    _too_many(cells)
    bands = results.bands
    labels = community_outputs("series")
    colors = _cell_colors(len(cells))
    with figure_style():
        fig, axes = _panels(len(names), sharex=True)
        for ax, name in zip(axes, names, strict=False):
            sub = bands[bands["series"] == name]
            for color, (_, c) in zip(colors, cells.iterrows(), strict=True):
                b = sub[(sub["point_id"] == c["point_id"]) & (sub["strategy"] == c["strategy"])].sort_values("step")
                ax.fill_between(b["step"], b["q25"], b["q75"], color=color, alpha=0.18, linewidth=0)
                ax.plot(b["step"], b["q50"], color=color, linewidth=1.6, label=c["cell"])
            ax.set_title(labels[name].axis_label(), fontsize=10)
            ax.set_xlabel("month")
            ax.xaxis.set_tick_params(labelbottom=True)
        handles, text = axes[0].get_legend_handles_labels()
        fig.legend(handles, text, loc="outside lower center", ncols=min(3, len(cells)), fontsize=8.5, frameon=False)
        fig.suptitle("Community series over time: median and middle 50 % of runs, per cell", fontsize=11)
    return fig


def _panels(n: int, sharex: bool = False) -> tuple[Figure, np.ndarray]:
    """A figure of ``n`` panels, up to three a row (the unused ones hidden), and its axes in order."""
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(min(11.0, 3.7 * ncols), 2.9 * nrows + 1.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def plot_community_outcomes(results: Any, outcomes: Sequence[str] | None = None, *,
                            by: Sequence[str] | str | None = None, where: Where = None) -> Figure:
    """Box plots of per-run community outcomes, one box per cell (:func:`community_cells`)."""
    results = _check(results)
    names = _outcomes(outcomes)
    cells, runs = _cell_runs(results, by, where)
    _too_many(cells)
    groups = runs.groupby("_cell")
    known = community_outputs("summary")
    colors = _cell_colors(len(cells))
    with figure_style():
        fig, axes = _panels(len(names))
        for ax, name in zip(axes, names, strict=False):
            data = []
            for i in range(len(cells)):
                data.append(groups.get_group(i)[name].dropna().to_numpy(dtype=float))
            box = ax.boxplot(data, patch_artist=True, widths=0.6, showfliers=False)
            for patch, color in zip(box["boxes"], colors, strict=True):
                patch.set_facecolor(color)
                patch.set_alpha(0.6)
            ax.set_xticks(range(1, len(cells) + 1), [str(i + 1) for i in range(len(cells))])
            ax.set_title(known[name].axis_label(), fontsize=10)
        fig.legend([Patch(facecolor=c, alpha=0.6) for c in colors],
                   [f"{i + 1}: {lab}" for i, lab in enumerate(cells["cell"])],
                   loc="outside lower center", ncols=min(3, len(cells)), fontsize=8.5, frameon=False)
        fig.suptitle("Community outcomes per run, per cell (boxes: quartiles; whiskers: 1.5 IQR)", fontsize=11)
    return fig


def community_figure_specs(results: Any, *, series: Sequence[str] | None = None,
                           outcomes: Sequence[str] | None = None, where: Where = None,
                           sensitivity: Any = None, seed: int = 0) -> list[FigureSpec]:
    """The standard figures of a community sweep: its series over time (a grid that kept some), its outcomes
    per cell (:func:`community_cells`; of the runs matching ``where``) and, for a sweep sampled with sobol or
    morris, the sensitivity of each outcome (``sim.analysis.catalog.sensitivity_figure_specs``)."""
    results = _check(results)
    specs = []
    if results.manifest.get("keep_series") and len(results.bands) and is_grid(results):
        specs.append(FigureSpec("community_series", "community_series",
                                lambda: plot_community_series(results, series, where=where),
                                "Community series over time: median and middle 50 % of runs, per cell"))
    specs.append(FigureSpec("community_outcomes", "community_outcomes",
                            lambda: plot_community_outcomes(results, outcomes, where=where),
                            "Community outcomes per run, per cell"))
    if sampling_method(results) in ("sobol", "morris"):
        specs += sensitivity_figure_specs(results, _outcomes(outcomes), sensitivity, seed=seed)
    return specs


def _design(results: Any) -> str:
    """The report's design table: the sweep, its cells and fixed parameters."""
    m = results.manifest
    runs = results.runs
    spec = m.get("spec") or {}
    rows = [("name", m.get("name", "")), ("description", spec.get("description", "")),
            ("model", "community"), ("status", m.get("status", "")), ("runs", f"{len(runs):,}"),
            ("cells (points x strategies)", f"{len(community_cells(results)):,}"),
            ("months simulated (n_steps)", str(m.get("n_steps", ""))),
            ("sampling", str((m.get("sampling") or {}).get("method", "grid"))),
            ("root seed", str(m.get("root_seed", ""))), ("common random numbers", "yes" if m.get("crn") else "no"),
            ("model version", str(m.get("model_version", ""))), ("git commit", str(m.get("git_commit", "")))]
    rows += [(f"factor {f}", ", ".join(map(format_value, sorted(pd.unique(runs[f]))))) for f in factor_names(results)
             if f in runs.columns]
    if spec.get("base"):
        rows.append(("fixed parameters", ", ".join(f"{k} = {v}" for k, v in spec["base"].items())))
    return "<table>" + "".join(f'<tr><th class="text">{html.escape(k)}</th><td class="text">{html.escape(str(v))}'
                               "</td></tr>" for k, v in rows) + "</table>"


def build_community_report(results: Any, *, title: str | None = None, outcomes: Sequence[str] | None = None,
                           n_resamples: int = 2000, seed: int = 0, dpi: int = 130) -> str:
    """The self-contained HTML report of a community sweep (tables, figures, manifest), as text."""
    results = _check(results)
    title = title or f"TrustLadder community sweep: {results.manifest.get('name', '')}"
    table = community_outcome_table(results, outcomes, n_resamples=n_resamples, seed=seed)
    parts = partnership_summary(results)
    cells, runs = _cell_runs(results, None, None)
    orgs = results.table("organizations").merge(runs[["run_id", "_cell"]], on="run_id")
    org_cols = ["memberships", "months_member", "payoff", "benefit_received", "mean_trust_given"]
    org_table = orgs.groupby("_cell", sort=True)[org_cols].mean()
    org_table.insert(0, "cell", cells["cell"].to_numpy()[org_table.index.to_numpy()])
    sections = [("design", "Design", _design(results)),
                ("outcomes", "Community outcomes (mean with bootstrap 95 % interval, per cell)",
                 _table(table, ["cell", "outcome", "n", "mean", "ci_low", "ci_high", "median"])),
                ("partnerships", "What became of the partnerships (per cell and origin)",
                 _table(parts, ["cell", "origin", "partnerships", "share_ended", "median_months",
                                "share_collaboration", "share_funded", "mean_benefit"])),
                ("organizations", "Organizations (mean per organization, per cell)",
                 _table(org_table, ["cell", *org_cols]))]
    method = sampling_method(results)
    sens = None
    if method in ("sobol", "morris"):
        sens = sensitivity_analysis(results, outcomes=_outcomes(outcomes), seed=seed)
        sections.append(("sensitivity", f"Sensitivity ({method})", _sensitivity_section(sens)))
    figures = []
    for spec in community_figure_specs(results, outcomes=outcomes, sensitivity=sens, seed=seed):
        try:
            figures.append(_figure_html(spec, spec.make(), dpi))
        except AnalysisError as exc:
            figures.append(f'<p class="note">{html.escape(spec.caption)}: not drawn ({html.escape(str(exc))})</p>')
    sections.append(("figures", "Figures", "".join(figures)))
    manifest = json.dumps(results.manifest, indent=1, default=str)
    sections.append(("manifest", "Manifest", _details("manifest.json", f"<pre>{html.escape(manifest)}</pre>")))
    nav = "<nav><ul>" + "".join(f'<li><a href="#{k}">{html.escape(h)}</a></li>' for k, h, _ in sections) + "</ul></nav>"
    body = "".join(f'<h2 id="{k}">{html.escape(h)}</h2>{b}' for k, h, b in sections)
    made = f"Made {now_iso()} from {getattr(results, 'path', '')}."
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{_partial_banner(results)}<p class=\"note\">{html.escape(made)}</p>{nav}{body}</body></html>\n")


def write_community_report(results: Any, path: str | Path | None = None, **kwargs: Any) -> Path:
    """Write :func:`build_community_report` to ``path`` (default ``<results folder>/report.html``) atomically."""
    return _write_html(results, path, _check, build_community_report, **kwargs)
