"""A self-contained HTML report of a sweep: statistics tables, figures and the manifest in one file.

The file needs nothing else to open (figures are embedded as base64 PNG,
styles are inline), so a researcher can send it to a colleague as it is.
"""

from __future__ import annotations

import base64
import html
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..manifest import now_iso, package_versions, write_bytes_atomic
from .catalog import FigureSpec, figure_specs, is_grid, sampling_method
from .data import OUTCOMES, as_results, factor_names, format_value, horizon, strategy_order
from .sensitivity import sensitivity as sensitivity_analysis
from .stats import compare_strategies, outcome_table
from .style import figure_bytes
from .survival import DEFAULT_WINDOW, grant_ends_in_horizon, logrank_tests, survival_after_grant, survival_summary

__all__ = ["build_report", "write_report", "REPORT_OUTCOMES"]

#: Outcomes of the report's tables.
REPORT_OUTCOMES = ("cumulative_benefit", "dissolved", "survival_time", "peak_level", "reached_collaboration",
                   "final_trust")
#: Outcomes of the per-cell tables (means only, to keep large grids quick).
CELL_OUTCOMES = ("cumulative_benefit", "dissolved")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1.2em; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { margin-top: 1.4em; font-size: 1.08em; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.6em 0 1.2em; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
figure { margin: 1.2em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; margin-top: 0.4em; }
.note { color: #555; font-size: 0.92em; } .wrap { overflow-x: auto; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
nav ul { columns: 2; font-size: 0.95em; } details summary { cursor: pointer; color: #0b5394; }
"""


def _fmt_cell(col: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "&ndash;"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if col.startswith("p_"):
            return f"{v:.2e}" if v < 1e-3 else f"{v:.3f}"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.1f}"
    return html.escape(str(v))


def _table(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    if df is None or df.empty:
        return '<p class="note">(no rows)</p>'
    cols = [c for c in (columns or df.columns) if c in df.columns]
    text = {c for c in cols if not pd.api.types.is_numeric_dtype(df[c]) or df[c].dtype == bool}
    head = "".join(f'<th class="{"text" if c in text else ""}">{html.escape(c)}</th>' for c in cols)
    rows = []
    for _, r in df[cols].iterrows():
        rows.append("<tr>" + "".join(f'<td class="{"text" if c in text else ""}">{_fmt_cell(c, r[c])}</td>'
                                     for c in cols) + "</tr>")
    return f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def _figure_html(spec: FigureSpec, fig: Any, dpi: int) -> str:
    data = base64.b64encode(figure_bytes(fig, "png", dpi=dpi)).decode("ascii")
    return (f'<figure id="fig-{html.escape(spec.stem)}" data-figure="{html.escape(spec.stem)}">'
            f'<img alt="{html.escape(spec.caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(spec.caption)}</figcaption></figure>")


def _overview(results: Any) -> str:
    m = results.manifest
    runs = results.runs
    sampling = m.get("sampling") or {}
    factors = factor_names(results)
    rows = [("name", m.get("name", "")), ("description", (m.get("spec") or {}).get("description", "")),
            ("status", m.get("status", "")), ("strategies", ", ".join(strategy_order(results))),
            ("runs", f"{len(runs):,}"), ("design points", f"{runs['point_id'].nunique():,}"),
            ("replicates per point and strategy",
             f"{int(runs.groupby(['point_id', 'strategy']).size().min())}"
             f"..{int(runs.groupby(['point_id', 'strategy']).size().max())}" if len(runs) else "0"),
            ("months simulated (n_steps)", str(horizon(results))),
            ("sampling", f"{sampling.get('method', '?')}" + (f" (n = {sampling['n']}, seed = {sampling.get('seed')})"
                                                             if sampling.get("n") is not None else "")),
            ("root seed", str(m.get("root_seed", (m.get("spec") or {}).get("seed", "")))),
            ("model version", str(m.get("model_version", ""))), ("git commit", str(m.get("git_commit", "")))]
    for f in factors:
        if f in runs.columns:
            vals = sorted(pd.unique(runs[f]))
            shown = (", ".join(map(format_value, vals)) if len(vals) <= 8
                     else f"{format_value(min(vals))} .. {format_value(max(vals))} ({len(vals)} values)")
            rows.append((f"factor {f}", shown))
    base = (m.get("spec") or {}).get("base") or {}
    if base:
        rows.append(("fixed parameters", ", ".join(f"{k} = {v}" for k, v in base.items())))
    body = "".join(f'<tr><th class="text">{html.escape(k)}</th><td class="text">{html.escape(str(v))}</td></tr>'
                   for k, v in rows)
    return f"<table>{body}</table>"


def build_report(results: Any, *, title: str | None = None, outcomes: Sequence[str] = REPORT_OUTCOMES,
                 reference: str | None = None, figures: Sequence[FigureSpec] | None = None,
                 window: int = DEFAULT_WINDOW, n_resamples: int = 2000, seed: int = 0, dpi: int = 130,
                 sensitivity: Any = None, cells: bool = True) -> str:
    """The HTML text of the report.

    Parameters
    ----------
    results
        What :func:`sim.load_results` returns, or a folder.
    outcomes : sequence of str
        Outcomes of the summary tables.
    reference : str, optional
        Strategy the others are compared with (default stepwise, else the first).
    figures : list of FigureSpec, optional
        Figures to embed (default: :func:`sim.analysis.catalog.figure_specs`).
    window : int
        Months after grant_term for "survival after the money stops".
    n_resamples, seed
        Bootstrap settings of every interval.
    dpi : int
        Resolution of the embedded PNGs.
    sensitivity : SensitivityResult, optional
        Precomputed indices (default: computed when the sweep was sampled
        with sobol or morris).
    cells : bool
        Add per-cell tables (every combination of the grid's factors).
    """
    t0 = time.perf_counter()
    results = as_results(results)
    m = results.manifest
    name = m.get("name") or "sweep"
    title = title or f"TrustLadder sweep report: {name}"
    order = strategy_order(results)
    multi = len(order) > 1
    ref = reference or ("stepwise" if "stepwise" in order else order[0])
    factors = [f for f in factor_names(results) if f in results.runs.columns and results.runs[f].nunique() > 1]
    cell_by = factors if (cells and is_grid(results) and factors) else None
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, html)

    sections.append(("overview", "The sweep", _overview(results) + (
        '<p class="note">Statistics pool every run of a strategy over the whole design unless a table says '
        "&ldquo;per cell&rdquo;; the design is balanced (every strategy runs at every point with the same "
        "replicates), so pooled values are averages over the design. Intervals are 95 % bootstrap intervals "
        f"(BCa, {n_resamples:,} resamples, seed {seed}) unless stated.</p>")))

    ot = outcome_table(results, list(outcomes), n_resamples=n_resamples, seed=seed)
    body = _table(ot, ["strategy", "outcome", "n", "n_missing", "mean", "mean_low", "mean_high", "median",
                       "median_low", "median_high", "sd"])
    body += ('<p class="note">Outcomes: ' + "; ".join(f"<b>{o}</b>: {html.escape(OUTCOMES[o].axis_label())}"
                                                     for o in outcomes) + ".</p>")
    if cell_by:
        ct = outcome_table(results, list(CELL_OUTCOMES), by=cell_by, statistics=("mean",), n_resamples=n_resamples,
                           seed=seed)
        body += _details(f"Per cell ({' x '.join(cell_by)}): means of {', '.join(CELL_OUTCOMES)}",
                         _table(ct, [*cell_by, "strategy", "outcome", "n", "mean", "mean_low", "mean_high"]))
    sections.append(("outcomes", "Outcomes per strategy", body))

    if multi:
        cmp_cols = ["outcome", "strategy", "reference", "n", "n_reference", "mean", "mean_reference", "difference",
                    "difference_low", "difference_high", "ci_method", "cohens_d", "cliffs_delta", "p_value", "test"]
        cmp = compare_strategies(results, list(outcomes), reference=ref, n_resamples=n_resamples, seed=seed)
        body = _table(cmp, cmp_cols)
        body += ('<p class="note">difference = strategy minus reference (for shares: the risk difference with '
                 "Newcombe's score interval); Cohen's d uses the pooled sd; Cliff's delta = P(X &gt; Y) &minus; "
                 "P(X &lt; Y); p values are not adjusted for multiple comparisons.</p>")
        if cell_by:
            cc = compare_strategies(results, list(CELL_OUTCOMES), reference=ref, by=cell_by, n_resamples=n_resamples,
                                    seed=seed)
            body += _details(f"Per cell ({' x '.join(cell_by)})", _table(cc, [*cell_by, *cmp_cols]))
        sections.append(("effects", f"Strategies compared with {ref}", body))

    ss = survival_summary(results)
    body = _table(ss, ["strategy", "n", "dissolved", "median_survival", "step", "survival", "low", "high"])
    body += ('<p class="note">Kaplan-Meier share of partnerships not dissolved by the end of the step; runs '
             "still together at the horizon are censored; log-log 95 % intervals. median_survival: first step "
             "with survival &le; 0.5 (&ndash; if never).</p>")
    if multi:
        body += "<h3>Log-rank tests</h3>" + _table(logrank_tests(results))
        body += ('<p class="note">statistic: scipy&rsquo;s z, positive when strategy_a dissolves more than '
                 "expected under equal survival; p_adjusted: Benjamini-Hochberg over the pairs.</p>")
    if cell_by:
        cs = survival_summary(results, [horizon(results)], by=cell_by)
        body += _details(f"Survival at the horizon per cell ({' x '.join(cell_by)})",
                         _table(cs, [*cell_by, "strategy", "n", "dissolved", "survival", "low", "high"]))
    sections.append(("survival", "Partnership survival", body))

    if not grant_ends_in_horizon(results):
        body = (f'<p class="note">grant_term is at or beyond the horizon ({horizon(results)} steps) in every run: '
                "there is no time after the grant to measure.</p>")
        sections.append(("after-grant", "Survival after the money stops", body))
    else:
        sections.append(_after_grant_section(results, window, multi, cell_by))

    method = sampling_method(results)
    if method in ("sobol", "morris"):
        if sensitivity is None:
            sensitivity = sensitivity_analysis(results, seed=seed)
        sections.append(("sensitivity", f"Sensitivity ({method})", _sensitivity_section(sensitivity)))

    specs = list(figures) if figures is not None else figure_specs(results, window=window, sensitivity=sensitivity,
                                                                   n_resamples=n_resamples, seed=seed)
    figs_html = []
    for spec in specs:
        fig = spec.make()
        figs_html.append(_figure_html(spec, fig, dpi))
    sections.append(("figures", "Figures", "".join(figs_html) or '<p class="note">(no figures)</p>'))

    manifest_text = json.dumps(m, indent=2, default=str)
    sections.append(("manifest", "Manifest (provenance)",
                     _details("manifest.json as recorded by the sweep", f"<pre>{html.escape(manifest_text)}</pre>")))

    nav = "<nav><ul>" + "".join(f'<li><a href="#{a}">{html.escape(h)}</a></li>' for a, h, _ in sections) + "</ul></nav>"
    made = (f"Made {now_iso()} by trustladder {package_versions().get('trustladder', '?')} in "
            f"{time.perf_counter() - t0:.1f} s.")
    body = "".join(f'<section id="{a}"><h2>{html.escape(h)}</h2>{b}</section>' for a, h, b in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{_partial_banner(results)}"
            f'<p class="note">{html.escape(made)}</p>{nav}{body}</body></html>\n')


def _sensitivity_section(sensitivity: Any) -> str:
    """The body of a report's sensitivity section (either model): indices, replicate noise, the noise floor."""
    body = _table(sensitivity.indices)
    if sensitivity.second_order is not None and len(sensitivity.second_order):
        body += _details("Second-order Sobol indices", _table(sensitivity.second_order))
    for note in sensitivity.notes:
        body += f'<p class="note">{html.escape(note)}</p>'
    body += "<h3>How much of the variance is replicate noise</h3>" + _table(sensitivity.noise)
    body += ('<p class="note">noise_share = mean over points of (replicate variance / replicates) divided by '
             "the variance of the point means. Near 0 the indices describe the factors; above about 0.3 "
             "they are dominated by run-to-run noise: add replicates.</p>")
    if not sensitivity.floor.empty:
        body += "<h3>Which factors stand above the noise floor</h3><ul>" + "".join(
            f"<li>{html.escape(t)}</li>" for t in sensitivity.statements()) + "</ul>"
        body += ('<p class="note">The floor is the index of <code>dummy</code>, a factor the design samples '
                 "and the model never sees. A factor stands above it when the lower end of its 95 % interval "
                 "is above the upper end of the dummy's. *_denoised: indices of the mean model, the replicate "
                 "noise's bias removed (docs/analysis.md).</p>")
        body += _details("Each factor against the floor", _table(sensitivity.floor))
    body += ('<p class="note">Outputs are averaged over the replicates of each design point before the '
             "analysis (SALib); *_conf is the half-width of the 95 % bootstrap interval. Run-to-run noise "
             "left in the averages counts as variance no factor explains.</p>")
    return body


def _partial_banner(results: Any) -> str:
    """A warning at the top of the report of a sweep that is not complete (empty for a complete one)."""
    m = results.manifest
    status = m.get("status")
    if status is None or status == "complete":
        return ""
    planned = m.get("n_runs")
    of = f" of the {int(planned):,} planned so far" if planned else ""
    spec = m.get("spec_path") or "SPEC"
    where = getattr(results, "path", None) or "DIR"
    return ('<div id="partial" role="alert" style="border: 2px solid #b45309; background: #fff7ed; '
            'padding: 0.6em 1em; margin: 0.8em 0;"><b>Partial results.</b> This sweep is not complete (status '
            f"{html.escape(str(status))}): the tables and figures below describe the {len(results.runs):,} runs "
            f"finished{of}, and the quantile bands are missing. Finish it with "
            f"<code>trustladder sweep {html.escape(str(spec))} --out {html.escape(str(where))} --resume</code> "
            "and make the report again.</div>")


def write_report(results: Any, path: str | Path | None = None, **kwargs: Any) -> Path:
    """Write :func:`build_report` to ``path`` (default ``<results folder>/report.html``) atomically."""
    return _write_html(results, path, as_results, build_report, **kwargs)


def _write_html(results: Any, path: str | Path | None, load: Any, build: Any, **kwargs: Any) -> Path:
    """Write ``build(load(results), **kwargs)`` to ``path`` (default ``<results folder>/report.html``) atomically:
    the partnership and the community report alike."""
    folder = Path(results) if isinstance(results, (str, Path)) else getattr(results, "path", None)
    results = load(results)
    if path is None:
        if folder is None:
            raise ValueError("give path: these results have no folder to write report.html into")
        path = Path(folder) / "report.html"
    path = Path(path)
    write_bytes_atomic(path, build(results, **kwargs).encode("utf-8"))
    return path


def _after_grant_section(results: Any, window: int, multi: bool, cell_by: list[str]) -> tuple[str, str, str]:
    """The report's "survival after the money stops" section."""
    ag = survival_after_grant(results, window)
    body = _table(ag, ["strategy", "n", "alive_at_grant_term", "share_alive_at_grant_term", "window",
                       "window_observed", "dissolved_in_window", "survival", "low", "high",
                       "survival_unconditional"])
    body += (f'<p class="note">Of the partnerships still together at the end of step grant_term, the Kaplan-Meier '
             f"share still together {window} months later (window_observed is shorter when the horizon ends "
             "first). survival_unconditional = share alive at grant_term &times; that survival.</p>")
    if multi:
        body += "<h3>Log-rank tests after the grant</h3>" + _table(logrank_tests(results, after_grant=True,
                                                                                 window=window))
    if cell_by:
        ac = survival_after_grant(results, window, by=cell_by)
        body += _details(f"Per cell ({' x '.join(cell_by)})",
                         _table(ac, [*cell_by, "strategy", "alive_at_grant_term", "survival", "low", "high"]))
    return ("after-grant", "Survival after the money stops", body)
