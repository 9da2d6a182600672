"""Paired designs: runs matched by replicate, paired differences, McNemar's test (sim.analysis.paired)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from analysis_support import GRID_SPEC, make_sweep
from scipy import stats

from sim.analysis import (
    AnalysisError,
    SweepData,
    bootstrap_ci,
    bootstrap_difference,
    compare_paired,
    mcnemar_test,
    pair_runs,
    paired_difference,
    paired_risk_difference,
)

pytestmark = pytest.mark.xdist_group("analysis_paired")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return make_sweep({**GRID_SPEC, "replicates": 20, "save_series": False}, tmp_path_factory.mktemp("pair") / "g")


# --- pairing runs -----------------------------------------------------------------------------------------------


def test_pair_runs_matches_strategies_by_point_and_replicate(grid):
    pairs = pair_runs(grid, "funder_forced", "stepwise", ["cumulative_benefit", "dissolved"])
    runs = grid.runs
    assert len(pairs) == pairs.attrs["n_pairs"] == 4 * 20
    assert pairs.attrs["unmatched_a"] == pairs.attrs["unmatched_b"] == 0
    for _, row in pairs.sample(10, random_state=0).iterrows():
        ra = runs[runs["run_id"] == row["run_id_a"]].iloc[0]
        rb = runs[runs["run_id"] == row["run_id_b"]].iloc[0]
        assert (ra["strategy"], rb["strategy"]) == ("funder_forced", "stepwise")
        assert ra["point_id"] == rb["point_id"] == row["point_id"]
        assert ra["replicate"] == rb["replicate"] == row["replicate"]
        assert row["cumulative_benefit_a"] == ra["cumulative_benefit"]
        assert row["dissolved_b"] == float(rb["dissolved"])
        assert row["initial_trust"] == ra["initial_trust"] and row["deadline"] == ra["deadline"]
    # This sweep has no common random numbers: every run has its own seed.
    assert not pairs.attrs["common_seeds"]


def test_pair_runs_matches_design_points_on_the_other_factors(grid):
    pairs = pair_runs(grid, 12, 24, "dissolved", column="deadline")
    assert pairs.attrs["keys"] == ["initial_trust", "strategy", "replicate"]
    assert len(pairs) == 2 * 3 * 20  # initial trust levels x strategies x replicates
    runs = grid.runs.set_index("run_id")
    assert (runs.loc[pairs["run_id_a"], "deadline"].to_numpy() == 12).all()
    assert (runs.loc[pairs["run_id_b"], "deadline"].to_numpy() == 24).all()
    for col in ("initial_trust", "strategy", "replicate"):
        assert (runs.loc[pairs["run_id_a"], col].to_numpy() == runs.loc[pairs["run_id_b"], col].to_numpy()).all()


def test_pair_runs_counts_unmatched_runs_and_detects_common_seeds(grid):
    runs = grid.runs
    # Drop two stepwise runs (as when precision-driven replicates differ between cells).
    dropped = runs.drop(runs.index[(runs["strategy"] == "stepwise")][:2])
    pairs = pair_runs(SweepData(dropped, grid.bands, grid.manifest), "funder_forced", "stepwise")
    assert pairs.attrs["unmatched_a"] == 2 and pairs.attrs["unmatched_b"] == 0 and len(pairs) == 78
    # Common random numbers: replicate r has one seed everywhere.
    crn = runs.assign(seed=runs["replicate"].astype("uint64") + 1000)
    assert pair_runs(SweepData(crn, grid.bands, grid.manifest), "funder_forced", "stepwise").attrs["common_seeds"]


def test_pair_runs_bad_requests_are_named(grid):
    with pytest.raises(AnalysisError, match="column = 'trust'"):
        pair_runs(grid, 1, 2, column="trust")
    with pytest.raises(AnalysisError, match="strategy = 'fixed' matches no run"):
        pair_runs(grid, "fixed", "stepwise")
    with pytest.raises(AnalysisError, match="two different values"):
        pair_runs(grid, "stepwise", "stepwise")


# --- paired differences -----------------------------------------------------------------------------------------


def test_paired_t_interval_by_hand():
    x = np.array([12.0, 15, 11, 18, 14, 16, 13])
    y = np.array([10.0, 14, 11, 15, 12, 13, 13])
    d = x - y
    res = paired_difference(x, y, method="t")
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    assert res.estimate == pytest.approx(d.mean())
    assert (res.low, res.high) == pytest.approx((d.mean() - half, d.mean() + half))
    tstat = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs(tstat), d.size - 1))
    assert res.se == pytest.approx(d.std(ddof=1) / np.sqrt(d.size))
    assert res.se_unpaired == pytest.approx(np.sqrt(x.var(ddof=1) / 7 + y.var(ddof=1) / 7))
    assert res.correlation == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert (res.n, res.method, res.test) == (7, "t", "paired t")


def test_paired_bootstrap_is_the_bootstrap_of_the_differences():
    rng = np.random.default_rng(3)
    x = rng.exponential(size=50)
    y = x + rng.normal(0.2, 0.1, 50)
    res = paired_difference(x, y, seed=4, n_resamples=500)
    ci = bootstrap_ci(x - y, "mean", seed=4, n_resamples=500)
    assert (res.estimate, res.low, res.high, res.method) == (ci.estimate, ci.low, ci.high, ci.method)
    med = paired_difference(x, y, statistic="median", seed=4, n_resamples=500)
    assert med.estimate == pytest.approx(np.median(x - y))


def test_paired_differences_are_more_precise_than_unpaired_on_correlated_runs():
    # A known case: both arms share most of their noise (as runs with common random numbers do).
    rng = np.random.default_rng(8)
    common = rng.normal(0, 5, 200)
    x = 10 + common + rng.normal(0, 1, 200)
    y = 9 + common + rng.normal(0, 1, 200)
    paired = paired_difference(x, y, method="t")
    unpaired = bootstrap_difference(x, y, "mean", seed=1, n_resamples=1000)
    assert paired.correlation > 0.9
    # var(x - y) = 2 (independent parts) against var x + var y = 52: the paired se is about 5 times smaller.
    assert paired.se_unpaired / paired.se == pytest.approx(np.sqrt(52 / 2), rel=0.25)
    assert (paired.high - paired.low) < (unpaired.high - unpaired.low) / 3
    assert paired.low < 1 < paired.high and paired.p_value < 1e-12


def test_paired_difference_edge_cases():
    c = paired_difference([3.0, 4, 5], [1.0, 2, 3], method="t")
    assert (c.estimate, c.low, c.high, c.method, c.p_value) == (2.0, 2.0, 2.0, "constant", 0.0)
    assert paired_difference([1.0, 2], [1.0, 2]).p_value == 1.0
    nan = paired_difference([1.0, np.nan, 3, 4], [0.0, 1, np.nan, 2], method="t")
    assert nan.n == 2 and nan.estimate == pytest.approx(1.5)
    assert paired_difference([], []).method == "empty"
    with pytest.raises(AnalysisError, match="one length"):
        paired_difference([1.0, 2], [1.0])
    with pytest.raises(AnalysisError, match="method = 'z'"):
        paired_difference([1.0, 2], [1.0, 3], method="z")
    with pytest.raises(AnalysisError, match="interval of the mean only"):
        paired_difference([1.0, 2], [1.0, 3], method="t", statistic="median")


# --- McNemar ------------------------------------------------------------------------------------------------------


def _table_pairs(both: int, x_only: int, y_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.r_[np.ones(both + x_only), np.zeros(y_only + neither)]
    y = np.r_[np.ones(both), np.zeros(x_only), np.ones(y_only), np.zeros(neither)]
    return x, y


def test_paired_risk_difference_matches_the_published_interval():
    # Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency Tables, ch. 8: complete response
    # before and after consolidation therapy (Cavo et al. 2012), Newcombe square-and-add: -0.0621 (-0.1186 to -0.0046).
    ci = paired_risk_difference(59, 6, 16, 80)
    assert ci.estimate == pytest.approx(-10 / 161)
    assert ci.low == pytest.approx(-0.1186, abs=6e-5)
    assert ci.high == pytest.approx(-0.0046, abs=6e-5)


def test_mcnemar_exact_by_hand():
    x, y = _table_pairs(59, 6, 16, 80)
    res = mcnemar_test(x, y)
    assert (res.both, res.x_only, res.y_only, res.neither, res.n) == (59, 6, 16, 80, 161)
    assert res.exact and res.test == "mcnemar exact"  # 22 discordant pairs < 25
    # Two-sided exact: 2 P(X <= 6), X ~ Binomial(22, 1/2).
    expected = 2 * sum(math.comb(22, k) for k in range(7)) / 2 ** 22
    assert res.p_value == pytest.approx(expected)
    assert res.difference == pytest.approx(-10 / 161) and res.low == pytest.approx(-0.1186, abs=6e-5)
    assert (res.share_x, res.share_y) == pytest.approx((65 / 161, 75 / 161))


def test_mcnemar_asymptotic_by_hand():
    x, y = _table_pairs(40, 30, 12, 50)  # 42 discordant: the chi-square test
    res = mcnemar_test(x, y)
    assert not res.exact and res.test == "mcnemar chi-square"
    assert res.statistic == pytest.approx((30 - 12) ** 2 / 42)  # no continuity correction
    assert res.p_value == pytest.approx(stats.chi2.sf((30 - 12) ** 2 / 42, 1))
    forced = mcnemar_test(x, y, exact=True)
    assert forced.exact and forced.p_value == pytest.approx(stats.binomtest(12, 42).pvalue)


def test_mcnemar_without_discordant_pairs_and_bad_input():
    res = mcnemar_test([1, 1, 0], [1, 1, 0])
    assert res.p_value == 1.0 and res.difference == 0.0
    with pytest.raises(AnalysisError, match="0/1"):
        mcnemar_test([0.5, 1], [1, 0])
    with pytest.raises(AnalysisError, match="exact = 'yes'"):
        mcnemar_test([1, 0], [1, 0], exact="yes")


# --- per-cell paired comparisons ---------------------------------------------------------------------------------


def test_compare_paired_per_cell_matches_direct_computation(grid):
    table = compare_paired(grid, "funder_forced", "stepwise", ["cumulative_benefit", "dissolved"])
    assert len(table) == 4 * 2
    pairs = pair_runs(grid, "funder_forced", "stepwise", ["cumulative_benefit", "dissolved"])
    for _, row in table.iterrows():
        cell = pairs[(pairs["initial_trust"] == row["initial_trust"]) & (pairs["deadline"] == row["deadline"])]
        x, y = cell[f"{row['outcome']}_a"].to_numpy(), cell[f"{row['outcome']}_b"].to_numpy()
        assert row["n_pairs"] == 20 and row["pooled_over"] == ""
        if row["outcome"] == "dissolved":
            m = mcnemar_test(x, y)
            assert (row["p_value"], row["difference_low"]) == pytest.approx((m.p_value, m.low))
            assert row["discordant_a"] == m.x_only
        else:
            p = paired_difference(x, y, method="t")
            assert (row["difference"], row["difference_low"], row["p_value"]) == pytest.approx(
                (p.estimate, p.low, p.p_value))
            # The t interval inverts the t test: it excludes 0 exactly when p < 0.05.
            assert (row["difference_low"] > 0 or row["difference_high"] < 0) == (row["p_value"] < 0.05)
    # Holm within each outcome, over the four cells, stated on every row.
    assert set(table["adjustment"]) == {"Holm (family-wise error rate) over 4 tests, alpha 0.05"}
    for _, g in table.groupby("outcome"):
        assert (g["p_adjusted"] >= g["p_value"] - 1e-15).all()


def test_compare_paired_exact_mcnemar_on_request(grid):
    exact = compare_paired(grid, "funder_forced", "stepwise", "dissolved", exact=True, adjust=None)
    chi2 = compare_paired(grid, "funder_forced", "stepwise", "dissolved", exact=False, adjust=None)
    assert set(exact["test"]) == {"mcnemar exact"} and set(chi2["test"]) == {"mcnemar chi-square"}
    pairs = pair_runs(grid, "funder_forced", "stepwise", "dissolved")
    for _, row in exact.iterrows():
        cell = pairs[(pairs["initial_trust"] == row["initial_trust"]) & (pairs["deadline"] == row["deadline"])]
        m = mcnemar_test(cell["dissolved_a"].to_numpy(), cell["dissolved_b"].to_numpy(), exact=True)
        assert row["p_value"] == pytest.approx(m.p_value)
        b, c = int(row["discordant_a"]), int(row["discordant_b"])
        if b + c:  # the exact test is the two-sided binomial test of the discordant pairs
            assert row["p_value"] == pytest.approx(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))


def test_compare_paired_refuses_to_pool_unless_asked(grid):
    with pytest.raises(AnalysisError, match="would pool runs of different make-up: deadline takes 2 values"):
        compare_paired(grid, "funder_forced", "stepwise", "dissolved", by=["initial_trust"])
    pooled = compare_paired(grid, "funder_forced", "stepwise", "dissolved", by=["initial_trust"], pool=True)
    assert set(pooled["pooled_over"]) == {"deadline"} and (pooled["n_pairs"] == 40).all()


def test_compare_paired_design_points(grid):
    table = compare_paired(grid, 12, 24, "cumulative_benefit", column="deadline", adjust=None)
    assert len(table) == 2 * 3 and "p_adjusted" not in table.columns
    assert set(table["strategy"]) == {"stepwise", "funder_forced", "funder_schedule"}
    assert isinstance(table, pd.DataFrame) and table.attrs["column"] == "deadline"
