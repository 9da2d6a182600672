"""Figures, the HTML report and the analyze/plot/report commands, on small real sweeps."""

from __future__ import annotations

import base64
import re

import matplotlib.colors as mcolors
import numpy as np
import pytest
from analysis_support import GRID_SPEC, SOBOL_SPEC, make_sweep

from sim.analysis import (
    AnalysisError,
    SweepData,
    phase_table,
    plot_benefit,
    plot_level_occupancy,
    plot_phase_diagram,
    plot_sensitivity,
    plot_survival,
    plot_survival_after_grant,
    plot_trajectories,
    save_figure,
    strategy_color,
)
from sim.analysis.catalog import figure_specs
from sim.analysis.figures import level_shares
from sim.analysis.report import build_report
from sim.cli import main as cli

pytestmark = pytest.mark.xdist_group("analysis_figures")
STRATEGIES = GRID_SPEC["strategies"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("figs")


@pytest.fixture(scope="module")
def grid(folder):
    return make_sweep(GRID_SPEC, folder / "grid")


@pytest.fixture(scope="module")
def sobol(folder):
    return make_sweep(SOBOL_SPEC, folder / "sobol")


def texts(fig) -> set[str]:
    """Every axis label, panel title and figure-level label of ``fig``."""
    out = set()
    for ax in fig.axes:
        out |= {ax.get_xlabel(), ax.get_ylabel(), ax.get_title()}
    for name in ("_supxlabel", "_supylabel", "_suptitle"):
        t = getattr(fig, name, None)
        if t is not None:
            out.add(t.get_text())
    return out - {""}


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def strategy_lines(ax, strategies=STRATEGIES):
    """Lines of ``ax`` drawn in a strategy's colour, by strategy."""
    out = {}
    for line in ax.get_lines():
        for s in strategies:
            if mcolors.same_color(line.get_color(), strategy_color(s)):
                out.setdefault(s, []).append(line)
    return out


def legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def test_trajectories_one_panel_per_point_with_median_lines(grid):
    fig = plot_trajectories(grid, "mean_trust", where={"deadline": 24}, min_runs=1)
    axes = visible_axes(fig)
    assert len(axes) == 2
    assert {ax.get_title() for ax in axes} == {"initial_trust = 0.3", "initial_trust = 0.85"}
    assert {"month (step)", "mean trust between partners (0..1)"} <= texts(fig)
    bands = grid.bands
    for ax in axes:
        lines = strategy_lines(ax)
        assert sorted(lines) == sorted(STRATEGIES) and all(len(v) == 1 for v in lines.values())
        assert len(ax.collections) == 2 * len(STRATEGIES)  # 50 % and 90 % bands
        it = float(ax.get_title().split("= ")[1])
        b = bands[(bands["series"] == "mean_trust") & (bands["strategy"] == "stepwise")
                  & np.isclose(bands["initial_trust"], it) & (bands["deadline"] == 24)].sort_values("step")
        np.testing.assert_allclose(lines["stepwise"][0].get_ydata(), b["q50"].to_numpy())
        assert ax.get_ylim() == (0, 1)
    assert {"stepwise", "funder forced", "funder schedule", "median"} <= set(legend_texts(fig))


def test_trajectories_refuse_too_many_points(grid):
    with pytest.raises(AnalysisError, match="spans 4 points.*where"):
        plot_trajectories(grid, max_panels=2)
    with pytest.raises(AnalysisError, match="series 'benefit' is not in the bands"):
        plot_trajectories(grid, "benefit")


def test_level_occupancy_from_series_and_from_runs_agree_on_dissolution(grid):
    fig = plot_level_occupancy(grid, where={"deadline": 12, "initial_trust": 0.3})
    assert fig.trustladder_source == "bands"
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["stepwise", "funder forced", "funder schedule"]
    assert all(len(ax.collections) == 6 for ax in axes)  # dissolved + five levels
    assert "share of runs" in texts(fig)
    where = {"deadline": 12, "initial_trust": 0.3}
    exact, src = level_shares(grid, where=where)
    no_shares = grid.bands[~grid.bands["series"].str.startswith("level_share_")]
    fallback, src2 = level_shares(SweepData(grid.runs, no_shares, grid.manifest), where=where)
    assert (src, src2) == ("bands", "peak")
    runs = grid.runs[(grid.runs["deadline"] == 12) & (grid.runs["initial_trust"] == 0.3)]
    level = grid.series("level")[runs.index.to_numpy()]
    for s in STRATEGIES:
        lv = level[(runs["strategy"] == s).to_numpy()]
        from_series = np.stack([(lv == k).mean(axis=0) for k in range(6)], axis=1)
        np.testing.assert_allclose(exact[s], from_series, atol=1e-12)
        np.testing.assert_allclose(exact[s].sum(axis=1), 1.0)
        np.testing.assert_allclose(exact[s][:, 0], fallback[s][:, 0])  # level 0 = dissolved, exact both ways
        sel = runs[runs["strategy"] == s]
        assert exact[s][-1, 0] == pytest.approx(sel["dissolved"].mean())
        assert exact[s][0, 1:].argmax() + 1 == (4 if s == "funder_forced" else 1)  # the starting level
    fig2 = plot_level_occupancy(SweepData(grid.runs, no_shares, grid.manifest), where=where)
    assert fig2.trustladder_source == "peak" and "highest level reached so far" in legend_texts(fig2) + [
        fig2.legends[0].get_title().get_text()]


def test_survival_curves_end_at_one_minus_the_dissolved_share(grid):
    fig = plot_survival(grid, where={"deadline": 24})
    (ax,) = visible_axes(fig)
    assert {"month (step)", "share of partnerships\nstill together"} <= texts(fig)
    lines = strategy_lines(ax)
    assert sorted(lines) == sorted(STRATEGIES)
    runs = grid.runs[grid.runs["deadline"] == 24]
    for s, (line,) in lines.items():
        assert line.get_ydata()[-1] == pytest.approx(1 - runs.loc[runs["strategy"] == s, "dissolved"].mean())
    marks = {t.get_text() for t in ax.texts}
    assert marks == {"deadline", "grant ends"}
    faceted = plot_survival(grid, facet="initial_trust")
    assert len(visible_axes(faceted)) == 2


def test_survival_after_grant_figure(grid):
    fig = plot_survival_after_grant(grid, 24, where={"initial_trust": 0.85})
    (ax,) = visible_axes(fig)
    assert "months after grant_term" in texts(fig)
    assert sorted(strategy_lines(ax)) == sorted(STRATEGIES)
    assert ax.get_xlim() == (0, 24)
    assert any(re.match(r"stepwise \(n = \d+\)", t) for t in legend_texts(fig))


def test_benefit_distributions(grid):
    fig = plot_benefit(grid, where={"initial_trust": 0.3})
    fig.draw_without_rendering()
    (ax,) = visible_axes(fig)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["stepwise\n(n = 80)", "funder forced\n(n = 80)", "funder schedule\n(n = 80)"]
    assert ax.get_ylabel() == "cumulative community benefit (benefit units)"
    means = [c for c in ax.containers]  # one errorbar (mean and CI) per strategy
    assert len(means) == 3
    sel = grid.runs[grid.runs["initial_trust"] == 0.3]
    y0 = means[0].lines[0].get_ydata()[0]
    assert y0 == pytest.approx(sel.loc[sel["strategy"] == "stepwise", "cumulative_benefit"].mean())


def test_phase_diagram_cells_match_the_table(grid):
    table = phase_table(grid, "initial_trust", "deadline", "cumulative_benefit", n_resamples=500)
    fig = plot_phase_diagram(grid, "initial_trust", "deadline", "cumulative_benefit", table=table)
    (ax,) = visible_axes(fig)
    cells = {p.get_gid(): p for p in ax.patches if (p.get_gid() or "").startswith("cell:")}
    assert len(cells) == 4
    assert ax.get_xlabel() == "initial_trust" and ax.get_ylabel() == "deadline (months)"
    means = grid.runs.groupby(["initial_trust", "deadline", "strategy"])["cumulative_benefit"].mean()
    xs, ys = sorted(table["initial_trust"].unique()), sorted(table["deadline"].unique())
    for _, row in table.iterrows():
        patch = cells[f"cell:{xs.index(row['initial_trust'])}:{ys.index(row['deadline'])}"]
        winner = means.loc[(row["initial_trust"], row["deadline"])].idxmax()
        assert row["winner"] == winner
        face = mcolors.to_rgb(patch.get_facecolor())
        base = mcolors.to_rgb(strategy_color(winner))
        if row["significant"]:
            assert face == pytest.approx(base)
            assert not patch.get_hatch()
        else:
            assert face == pytest.approx(tuple(c + (1 - c) * 0.6 for c in base))  # pale winner colour
            assert patch.get_hatch()
    assert len(ax.texts) == 4  # the margins
    assert fig.trustladder_table is table


def test_sensitivity_figure(sobol):
    fig = plot_sensitivity(sobol, "dissolved", num_resamples=200)
    fig.draw_without_rendering()  # tick label texts are filled in at draw time
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["stepwise", "funder forced"]
    # Panels share the factor axis; the first one carries its labels.
    # The do-nothing dummy factor is drawn as the noise floor.
    assert {t.get_text() for t in axes[0].get_yticklabels()} == {"leadership", "communication", "deadline", "dummy"}
    for ax in axes:
        assert len(ax.patches) == 2 * 4  # S1 and ST per factor
    assert "Sobol index (share of output variance)" in texts(fig)
    with pytest.raises(AnalysisError, match="sobol or morris"):
        figure_specs(SweepData(sobol.runs, sobol.bands, {**sobol.manifest, "sampling": {"method": "lhs"}}),
                     ["sensitivity"], strict=True)


def test_save_figure_writes_png_and_svg(grid, tmp_path):
    paths = save_figure(plot_survival(grid, where={"deadline": 12}), tmp_path / "survival")
    assert [p.name for p in paths] == ["survival.png", "survival.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    assert svg.lstrip().startswith("<?xml") and "share of partnerships" in svg  # text kept as text


def test_report_contains_every_figure_and_table(grid, tmp_path):
    specs = figure_specs(grid, n_resamples=300)
    assert {s.kind for s in specs} == {"trajectories", "occupancy", "survival", "survival_after_grant", "benefit",
                                       "phase"}
    html = build_report(grid, n_resamples=300, figures=specs)
    for spec in specs:
        assert f'data-figure="{spec.stem}"' in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(specs)
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    for heading in ("Outcomes per strategy", "Strategies compared with stepwise", "Partnership survival",
                    "Survival after the money stops", "Log-rank tests", "Manifest (provenance)"):
        assert heading in html
    assert "analysis-grid" in html and grid.manifest["spec_hash"] in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere


def test_commands_write_tables_figures_and_report(grid, sobol, capsys):
    folder = grid.path
    assert cli(["analyze", str(folder), "--resamples", "200", "--quiet"]) == 0
    out = folder / "analysis"
    for stem in ("outcomes", "comparisons", "survival", "survival_after_grant", "logrank"):
        assert (out / f"{stem}.csv").stat().st_size > 0 and (out / f"{stem}.json").exists()
    assert cli(["analyze", str(sobol.path), "--method", "sobol", "--outcome", "dissolved", "--resamples", "200"]) == 0
    printed = capsys.readouterr().out
    assert "sobol indices" in printed and (sobol.path / "analysis" / "sobol.csv").exists()
    assert cli(["plot", str(folder), "--figure", "phase", "--outcome", "dissolved", "--format", "png"]) == 0
    assert (folder / "figures" / "phase-dissolved-initial_trust-deadline.png").exists()
    assert cli(["plot", str(folder), "--figure", "sensitivity"]) == 2
    assert "sobol or morris" in capsys.readouterr().err
    assert cli(["plot", str(folder), "--figure", "survival", "--where", "initial_trust=0.4"]) == 2
    assert "initial_trust = 0.4 matches no run" in capsys.readouterr().err
    assert cli(["report", str(sobol.path), "--resamples", "200"]) == 0
    html = (sobol.path / "report.html").read_text()
    assert "Sensitivity (sobol)" in html and 'data-figure="sobol-cumulative_benefit"' in html
