"""Statistics per strategy and cell: bootstrap intervals, effect sizes, phase tables (sim.analysis.stats)."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_support import GRID_SPEC, make_sweep

from sim.analysis import (
    AnalysisError,
    bootstrap_ci,
    bootstrap_difference,
    cliffs_delta,
    cohens_d,
    compare_strategies,
    outcome_table,
    phase_table,
    risk_difference,
)

pytestmark = pytest.mark.xdist_group("analysis_stats")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return make_sweep({**GRID_SPEC, "save_series": False}, tmp_path_factory.mktemp("stats") / "grid")


# --- bootstrap --------------------------------------------------------------------------------------------------


def test_bootstrap_percentile_equals_independent_computation_with_same_resamples():
    x = np.array([1.0, 3, 4, 8, 10, 15, 2, 7, 7, 30])
    n_res = 999
    ci = bootstrap_ci(x, "mean", method="percentile", n_resamples=n_res, seed=5)
    # scipy draws each batch of resample indices as rng.integers(0, n, (batch, n)); one batch here.
    idx = np.random.default_rng(5).integers(0, x.size, (n_res, x.size))
    expected = np.percentile(x[idx].mean(axis=1), [2.5, 97.5])
    assert ci.estimate == pytest.approx(x.mean())
    assert (ci.low, ci.high) == pytest.approx(tuple(expected), abs=1e-12)
    assert ci.method == "percentile"


def test_bootstrap_constant_and_empty_samples():
    ci = bootstrap_ci(np.full(25, 3.5), "median")
    assert (ci.estimate, ci.low, ci.high, ci.method) == (3.5, 3.5, 3.5, "constant")
    empty = bootstrap_ci([np.nan, np.nan])
    assert np.isnan(empty.estimate) and empty.method == "empty"
    assert bootstrap_ci([1.0, np.nan, 3.0]).estimate == 2.0  # NaN dropped


def test_bootstrap_is_seeded():
    x = np.random.default_rng(1).exponential(size=40)
    assert tuple(bootstrap_ci(x, seed=3)) == tuple(bootstrap_ci(x, seed=3))
    assert tuple(bootstrap_ci(x, seed=3)) != tuple(bootstrap_ci(x, seed=4))


def test_bootstrap_coverage_of_a_known_mean():
    # 95 % BCa intervals of the mean of Normal(10, 2) samples of 40 should cover 10 in about 95 % of samples.
    rng = np.random.default_rng(20)
    hits = 0
    trials = 200
    for k in range(trials):
        ci = bootstrap_ci(rng.normal(10, 2, 40), "mean", n_resamples=500, seed=k)
        hits += ci.low <= 10 <= ci.high
    # Binomial(200, 0.95) lies in 176..200 with probability > 0.999; a wrong interval (e.g. the sd) would not.
    assert 176 <= hits <= 200


def test_bootstrap_difference_brackets_the_difference_and_falls_back_on_degenerate_medians():
    a = np.r_[np.zeros(30), np.ones(3)]
    b = np.r_[np.zeros(20), np.ones(13)]
    ci = bootstrap_difference(a, b, "median")
    assert ci.estimate == 0.0 and ci.low <= 0 <= ci.high
    d = bootstrap_difference([5.0, 6, 7, 8], [1.0, 2, 3, 4], "mean", seed=1)
    assert d.estimate == 4.0 and 0 < d.low <= 4 <= d.high


def test_bad_bootstrap_arguments_are_named():
    with pytest.raises(AnalysisError, match="confidence_level = 1.5"):
        bootstrap_ci([1.0, 2.0], confidence_level=1.5)
    with pytest.raises(AnalysisError, match="n_resamples = 10"):
        bootstrap_ci([1.0, 2.0], n_resamples=10)
    with pytest.raises(AnalysisError, match="statistic = 'mode'"):
        bootstrap_ci([1.0, 2.0], "mode")


# --- effect sizes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "n1", "b", "n2", "low", "high"), [
    # Newcombe (1998), Stat. Med. 17:873, Table II, method 10.
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
])
def test_risk_difference_matches_newcombes_published_intervals(a, n1, b, n2, low, high):
    ci = risk_difference(a, n1, b, n2)
    assert ci.estimate == pytest.approx(a / n1 - b / n2)
    assert ci.low == pytest.approx(low, abs=6e-5)
    assert ci.high == pytest.approx(high, abs=6e-5)


def test_cohens_d_and_cliffs_delta_by_hand():
    x, y = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    assert cohens_d(x, y) == pytest.approx(-3.0)  # means 2 and 5, both sd 1
    a = np.array([1, 2, 2, 5, 7.0])
    b = np.array([2, 3, 3, 4.0])
    greater = sum(int(u > v) for u in a for v in b)
    less = sum(int(u < v) for u in a for v in b)
    assert cliffs_delta(a, b) == pytest.approx((greater - less) / (a.size * b.size))
    assert cliffs_delta(b, a) == pytest.approx(-cliffs_delta(a, b))
    assert np.isnan(cohens_d([1.0, 1.0], [1.0, 1.0]))


# --- tables on a real sweep -------------------------------------------------------------------------------------


def test_outcome_table_matches_a_direct_groupby(grid):
    table = outcome_table(grid, ["cumulative_benefit", "dissolved", "final_trust"], by="factors", n_resamples=500)
    runs = grid.runs
    assert len(table) == 4 * 3 * 3  # cells x strategies x outcomes
    for _, row in table.iterrows():
        sel = runs[(runs["initial_trust"] == row["initial_trust"]) & (runs["deadline"] == row["deadline"])
                   & (runs["strategy"] == row["strategy"])]
        v = sel[row["outcome"]].astype(float).dropna()
        assert row["n"] == len(v) and row["n"] + row["n_missing"] == len(sel) == 40
        if not len(v):  # e.g. final trust where every run dissolved: undefined, not a number
            assert np.isnan(row["mean"]) and np.isnan(row["median"])
            continue
        assert row["mean"] == pytest.approx(v.mean())
        assert row["median"] == pytest.approx(v.median())
        assert row["mean_low"] <= row["mean"] <= row["mean_high"]
        if row["outcome"] == "dissolved":
            assert np.isnan(row["median_low"])  # no interval for the median of a share
        else:
            assert row["median_low"] <= row["median"] <= row["median_high"]


def test_outcome_table_where_and_strategies_select(grid):
    t = outcome_table(grid, "cumulative_benefit", where={"initial_trust": 0.85}, strategies=["stepwise"],
                      statistics=("mean",), n_resamples=200)
    sel = grid.runs[(grid.runs["initial_trust"] == 0.85) & (grid.runs["strategy"] == "stepwise")]
    assert list(t["strategy"]) == ["stepwise"] and t["n"].iloc[0] == len(sel) == 80
    assert t["mean"].iloc[0] == pytest.approx(sel["cumulative_benefit"].mean())
    assert "median" not in t.columns


def test_unknown_names_give_clear_errors(grid):
    with pytest.raises(AnalysisError, match="unknown outcome 'benefit'.*did you mean '(cumulative|net)_benefit'"):
        outcome_table(grid, "benefit")
    with pytest.raises(AnalysisError, match=r"initial_trust = 0.4 matches no run \(values in these results: 0.3, "
                                            r"0.85\)"):
        outcome_table(grid, "dissolved", where={"initial_trust": 0.4})
    with pytest.raises(AnalysisError, match="strategy 'fixed' is not in these results"):
        outcome_table(grid, "dissolved", strategies=["fixed"])
    with pytest.raises(AnalysisError, match="by: 'trust'"):
        outcome_table(grid, "dissolved", by=["trust"])


def test_compare_strategies_differences_and_risk_differences(grid):
    cmp = compare_strategies(grid, ["cumulative_benefit", "dissolved"], n_resamples=500)
    runs = grid.runs
    assert set(cmp["strategy"]) == {"funder_forced", "funder_schedule"} and set(cmp["reference"]) == {"stepwise"}
    ref = runs[runs["strategy"] == "stepwise"]
    for _, row in cmp.iterrows():
        x = runs.loc[runs["strategy"] == row["strategy"], row["outcome"]].astype(float)
        y = ref[row["outcome"]].astype(float)
        assert row["difference"] == pytest.approx(x.mean() - y.mean())
        assert row["difference_low"] <= row["difference"] <= row["difference_high"]
        if row["outcome"] == "dissolved":
            expected = risk_difference(int(x.sum()), len(x), int(y.sum()), len(y))
            assert (row["difference_low"], row["difference_high"]) == pytest.approx((expected.low, expected.high))
            assert row["ci_method"] == "newcombe" and row["test"] == "fisher exact"
        else:
            assert row["test"] == "welch t"
    with pytest.raises(AnalysisError, match="reference = 'fixed'"):
        compare_strategies(grid, "dissolved", reference="fixed")


def test_phase_table_winner_is_the_best_mean_of_each_cell(grid):
    for outcome, pick in (("cumulative_benefit", "idxmax"), ("dissolved", "idxmin")):
        table = phase_table(grid, "initial_trust", "deadline", outcome, n_resamples=500)
        means = grid.runs.groupby(["initial_trust", "deadline", "strategy"])[outcome].mean().astype(float)
        assert len(table) == 4
        for _, row in table.iterrows():
            cell = means.loc[(row["initial_trust"], row["deadline"])]
            ranked = cell.sort_values(ascending=pick == "idxmin")
            assert row["winner"] == getattr(cell, pick)()
            assert row["runner_up"] == ranked.index[1]
            assert row["margin"] == pytest.approx(abs(ranked.iloc[0] - ranked.iloc[1]))
            assert row["significant"] == (row["margin_low"] > 0)


def test_phase_table_welch_and_arguments(grid):
    t = phase_table(grid, "initial_trust", "deadline", test="welch")
    assert t["p_value"].notna().all()
    assert (t["significant"] == (t["p_value"] < 0.05)).all()
    with pytest.raises(AnalysisError, match="x and y must be two different factors"):
        phase_table(grid, "deadline", "deadline")
    with pytest.raises(AnalysisError, match="test = 't'"):
        phase_table(grid, "initial_trust", "deadline", test="t")


def test_phase_table_bins_continuous_factors(grid):
    from sim.analysis import SweepData

    runs = grid.runs.copy()
    runs["initial_trust"] = np.random.default_rng(0).uniform(0.2, 0.8, len(runs))
    t = phase_table(SweepData(runs, grid.bands, grid.manifest), "initial_trust", "deadline", bins=3,
                    n_resamples=200)
    # Three equal-width bins over the observed range, labelled by their centres, times two deadlines.
    lo, hi = runs["initial_trust"].min(), runs["initial_trust"].max()
    width = (hi - lo) / 3
    assert sorted(t["initial_trust"].unique()) == pytest.approx([lo + width / 2, lo + 1.5 * width, lo + 2.5 * width])
    assert len(t) == 6 and t["n_runs"].sum() == len(runs)
    in_first = ((runs["initial_trust"] < lo + width) & (runs["deadline"] == 12)).sum()
    assert t.loc[(t["initial_trust"] == t["initial_trust"].min()) & (t["deadline"] == 12), "n_runs"].item() == in_first


def test_bootstrap_difference_with_a_single_value_and_large_samples():
    d = bootstrap_difference([3.0], [1.0, 2.0, 4.0])
    assert d.estimate == pytest.approx(3 - 7 / 3) and np.isnan(d.low) and d.method == "too few"
    big = np.random.default_rng(2).normal(size=6000)
    ci = bootstrap_ci(big, "mean", n_resamples=200)
    assert ci.method == "percentile" and ci.low < big.mean() < ci.high  # BCa's O(n^2) jackknife is skipped
