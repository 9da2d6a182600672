"""Community sweeps through the partnership sweeps' analysis: Sobol/Morris sensitivity by sim.analysis.sensitivity
(replicates averaged per point, the dummy's noise floor) on the community outcomes, and ``--where`` / ``--by``
slicing of the community tables and figures."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from sim.analysis.community import community_cells, community_outcome_table, partnership_summary
from sim.analysis.data import COMMUNITY_OUTCOMES, AnalysisError
from sim.analysis.sensitivity import sensitivity
from sim.cli import main
from sim.sweep import load_results, run_sweep
from sim.sweep.design import salib_seed

SOBOL = """
name = "community-sobol"
model = "community"
strategies = ["stepwise"]
replicates = 2
n_steps = 24
seed = 5
crn = true
keep_series = ["partnerships"]
[base]
n_community = 10
max_partnerships = 2
[factors]
gossip = {min = 0.0, max = 0.3}
convene_rate = {min = 0.02, max = 0.2}
[sampling]
method = "sobol"
n = 8
calc_second_order = false
"""

GRID = """
name = "community-grid"
model = "community"
strategies = ["stepwise"]
replicates = 3
n_steps = 24
seed = 15
crn = true
keep_series = ["partnerships", "mean_trust"]
[base]
n_community = 12
max_partnerships = 3
convene_rate = 0.05
[factors]
funder_policy = ["none", "mandate"]
gossip = [0.0, 0.2]
"""


def _sweep(tmp_path_factory, text: str, name: str):
    d = tmp_path_factory.mktemp(name)
    spec = d / "spec.toml"
    spec.write_text(textwrap.dedent(text))
    return run_sweep(spec, d / "out", progress=False)


@pytest.fixture(scope="module")
def sobol_dir(tmp_path_factory):
    return _sweep(tmp_path_factory, SOBOL, "community-sobol")


@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory):
    return _sweep(tmp_path_factory, GRID, "community-grid")


def test_community_sobol_is_salib_on_the_point_means_with_a_noise_floor(sobol_dir):
    from SALib.analyze import sobol

    res = load_results(sobol_dir)
    s = sensitivity(res, num_resamples=100, seed=3)
    assert s.method == "sobol" and s.noise_factors == ["dummy"]
    assert list(pd.unique(s.indices["outcome"])) == list(COMMUNITY_OUTCOMES)  # the community vocabulary
    assert set(s.indices["factor"]) == {"gossip", "convene_rate", "dummy"}
    # the same numbers as SALib given the community outcome averaged over each point's replicates
    sampling = res.manifest["sampling"]
    y = res.runs.groupby("point_id")["cumulative_benefit"].mean().sort_index().to_numpy()
    assert len(y) == 8 * (3 + 2)
    si = sobol.analyze(sampling["problem"], y, calc_second_order=False, num_resamples=100, conf_level=0.95,
                       seed=salib_seed(3))
    mine = s.indices[s.indices["outcome"] == "cumulative_benefit"].set_index("factor")
    for k, name in enumerate(sampling["problem"]["names"]):
        assert mine.loc[name, "ST"] == pytest.approx(si["ST"][k], nan_ok=True)
        assert mine.loc[name, "S1"] == pytest.approx(si["S1"][k], nan_ok=True)
    # with common random numbers a run whose only change is the dummy is the same run: its total index is 0
    assert mine.loc["dummy", "ST"] == 0 and mine.loc["dummy", "ST_conf"] == 0
    floor = s.floor[(s.floor["outcome"] == "cumulative_benefit") & (s.floor["index"] == "ST")]
    assert set(floor["factor"]) == {"gossip", "convene_rate"} and (floor["floor_high"] == 0).all()
    assert (floor["above_floor"] == (floor["low"] > 0)).all()
    noise = s.noise.set_index("outcome")
    assert noise.loc["cumulative_benefit", "replicates"] == 2 and 0 <= noise.loc["cumulative_benefit",
                                                                                 "noise_share"] < np.inf
    with pytest.raises(AnalysisError, match=r"unknown community outcome 'dissolved'.*known: cumulative_benefit"):
        sensitivity(res, outcomes=["dissolved"])
    # a sampled design's community tables pool the design per strategy (a point is one draw)
    assert community_cells(res)["cell"].tolist() == ["stepwise"]


def test_cli_analyze_plot_report_a_community_sobol_sweep(sobol_dir, tmp_path, capsys):
    assert main(["analyze", str(sobol_dir), "--resamples", "100", "--quiet", "--outcome", "cumulative_benefit",
                 "--outcome", "final_mean_trust_worked"]) == 0
    out = sobol_dir / "analysis"
    record = json.loads((out / "analysis.json").read_text())
    assert record["method"] == ["sobol", "summary"] and record["model"] == "community"
    indices = pd.read_csv(out / "sobol.csv")
    assert set(indices["outcome"]) == {"cumulative_benefit", "final_mean_trust_worked"}
    expected = sensitivity(load_results(sobol_dir), outcomes=["cumulative_benefit", "final_mean_trust_worked"],
                           num_resamples=100, seed=0).indices
    assert np.allclose(indices["ST"], expected["ST"], equal_nan=True)
    assert set(pd.read_csv(out / "sobol_floor.csv")["factor"]) == {"gossip", "convene_rate"}
    assert len(pd.read_csv(out / "community_outcomes.csv")) == 2  # one pooled cell x two outcomes
    assert main(["analyze", str(sobol_dir), "--method", "sobol", "--where", "n_community=10"]) == 2
    assert "SALib needs the whole design" in capsys.readouterr().err
    assert main(["analyze", str(sobol_dir), "--method", "morris"]) == 2
    assert "sampled with method 'morris'" in capsys.readouterr().err

    assert main(["plot", str(sobol_dir), "--format", "png", "--outcome", "cumulative_benefit",
                 "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["community_outcomes.png", "sobol-cumulative_benefit.png"]
    assert main(["report", str(sobol_dir), "--resamples", "100"]) == 0
    text = (sobol_dir / "report.html").read_text()
    assert "Sensitivity (sobol)" in text and "noise floor (dummy)" in text
    assert 'data-figure="sobol-final_ready_level_4"' in text


def test_where_and_by_slice_the_community_tables(grid_dir, capsys):
    res = load_results(grid_dir)
    runs = res.runs
    table = community_outcome_table(res, ["cumulative_benefit", "n_formed"], by="funder_policy",
                                    where={"gossip": 0.2}, n_resamples=100)
    assert list(table.columns[:2]) == ["funder_policy", "strategy"]
    sel = runs[runs["gossip"] == 0.2]
    expected = sel.groupby("funder_policy")["cumulative_benefit"].mean()
    got = table[table["outcome"] == "cumulative_benefit"].set_index("funder_policy")
    assert got["mean"].to_dict() == pytest.approx(expected.to_dict()) and (got["n"] == 3).all()
    assert got.loc["mandate", "cell"] == "funder_policy = mandate"
    # by pools the other factor: both gossip values in one cell
    pooled = community_outcome_table(res, "cumulative_benefit", by=["funder_policy"], n_resamples=100)
    assert (pooled["n"] == 6).all()
    parts = partnership_summary(res, by="funder_policy", where={"gossip": 0.2})
    formed = res.partnerships.merge(sel[["run_id", "funder_policy"]], on="run_id").groupby("funder_policy").size()
    per_run = parts.groupby("funder_policy")["partnerships"].sum() * 3
    assert per_run.to_dict() == pytest.approx(formed.astype(float).to_dict())
    assert set(parts.loc[parts["origin"] == "mandate", "funder_policy"]) == {"mandate"}
    with pytest.raises(AnalysisError, match="gossip = 0.7 matches no run"):
        community_outcome_table(res, where={"gossip": 0.7})
    with pytest.raises(AnalysisError, match="by: 'gosip' is not a column"):
        community_cells(res, by=["gosip"])

    assert main(["analyze", str(grid_dir), "--resamples", "100", "--quiet", "--by", "funder_policy",
                 "--where", "gossip=0.2"]) == 0
    saved = pd.read_csv(grid_dir / "analysis" / "community_outcomes.csv")
    assert set(saved["funder_policy"]) == {"mandate", "none"} and len(saved) == 2 * len(COMMUNITY_OUTCOMES)
    assert main(["analyze", str(grid_dir), "--where", "gossip=2"]) == 2
    assert "gossip" in capsys.readouterr().err
    assert main(["plot", str(grid_dir), "--format", "png", "--where", "funder_policy=mandate"]) == 0
    assert main(["plot", str(grid_dir), "--format", "png", "--where", "funder_policy=lavish"]) == 2
    assert "funder_policy" in capsys.readouterr().err


def test_community_morris_through_the_same_analysis(tmp_path_factory):
    text = SOBOL.replace('name = "community-sobol"', 'name = "community-morris"').replace(
        'method = "sobol"\nn = 8\ncalc_second_order = false', 'method = "morris"\nn = 6\nnum_levels = 4')
    res = load_results(_sweep(tmp_path_factory, text, "community-morris"))
    assert res.manifest["sampling"]["method"] == "morris" and len(res.runs) == 6 * (3 + 1) * 2
    s = sensitivity(res, outcomes="cumulative_benefit", num_resamples=100)
    rows = s.indices.set_index("factor")
    assert s.method == "morris" and set(rows.index) == {"gossip", "convene_rate", "dummy"}
    # common random numbers: a step that moves only the dummy repeats its runs, so every elementary effect is 0
    assert rows.loc["dummy", "mu_star"] == 0 and rows.loc["dummy", "sigma"] == 0
    assert set(s.floor["factor"]) == {"gossip", "convene_rate"} and set(s.floor["index"]) == {"mu_star"}
