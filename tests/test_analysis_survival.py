"""Partnership survival: Kaplan-Meier curves, log-rank tests, survival after the grant (sim.analysis.survival)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_support import GRID_SPEC, make_sweep, toy_results
from scipy import stats

from sim.analysis import (
    AnalysisError,
    SweepData,
    kaplan_meier,
    logrank_tests,
    survival_after_grant,
    survival_summary,
    survival_table,
)

pytestmark = pytest.mark.xdist_group("analysis_survival")
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return make_sweep({**GRID_SPEC, "save_series": False}, tmp_path_factory.mktemp("surv") / "grid")


def test_kaplan_meier_five_subjects_by_hand():
    # Events at 1, 3, 4; censored at 2 and 5.
    curve = kaplan_meier([1, 2, 3, 4, 5], [True, False, True, True, False], ci_method="linear")
    s1 = 4 / 5  # 5 at risk, 1 event
    s3 = s1 * 2 / 3  # the one censored at 2 leaves 3 at risk
    s4 = s3 * 1 / 2
    assert curve.survival.tolist() == pytest.approx([1, s1, s1, s3, s4, s4])
    assert curve.at_risk.tolist() == [5, 4, 3, 2, 1, 0]
    assert (curve.n, curve.events) == (5, 3)
    # Greenwood: var S(t) = S(t)^2 * sum d / (n (n - d)).
    g4 = 1 / (5 * 4) + 1 / (3 * 2) + 1 / (2 * 1)
    se4 = s4 * np.sqrt(g4)
    assert curve.low[4] == pytest.approx(max(0.0, s4 - Z * se4))
    assert curve.high[4] == pytest.approx(min(1.0, s4 + Z * se4))
    g1 = 1 / (5 * 4)
    assert curve.high[1] == pytest.approx(min(1.0, s1 + Z * s1 * np.sqrt(g1)))
    assert curve.median() == 4.0  # first step with survival <= 0.5 (0.2667)


def test_kaplan_meier_log_log_interval_by_hand():
    curve = kaplan_meier([1, 2, 3, 4, 5], [True, False, True, True, False])  # log-log is the default
    s3 = 4 / 5 * 2 / 3
    g3 = 1 / (5 * 4) + 1 / (3 * 2)
    # log-log: S^exp(+-z se), se = sqrt(sum d/(n(n-d))) / |log S|.
    se = np.sqrt(g3) / abs(np.log(s3))
    assert curve.low[3] == pytest.approx(s3 ** np.exp(Z * se))
    assert curve.high[3] == pytest.approx(s3 ** np.exp(-Z * se))
    assert curve.low[0] == curve.high[0] == 1.0  # before any event: exactly 1


def test_kaplan_meier_without_events_and_bad_input():
    curve = kaplan_meier([10, 10, 10], [False, False, False], horizon=10)
    assert np.all(curve.survival == 1) and np.isnan(curve.median())
    with pytest.raises(AnalysisError, match="no runs"):
        kaplan_meier([], [])
    with pytest.raises(AnalysisError, match="ci_method = 'plain'"):
        kaplan_meier([1], [True], ci_method="plain")


def test_survival_of_a_sweep_is_one_minus_the_dissolved_share(grid):
    # Every run is observed to the horizon, so Kaplan-Meier equals the empirical share not yet dissolved.
    table = survival_table(grid, by="factors")
    runs = grid.runs
    for (it, dl, s), g in table.groupby(["initial_trust", "deadline", "strategy"]):
        sel = runs[(runs["initial_trust"] == it) & (runs["deadline"] == dl) & (runs["strategy"] == s)]
        step = sel["dissolved_step"].to_numpy()
        for t in (12, 30, 60):
            expected = 1 - np.mean(step <= t)  # NaN (never dissolved) compares False
            assert g.loc[g["step"] == t, "survival"].item() == pytest.approx(expected)
        assert (g["low"] <= g["survival"] + 1e-12).all() and (g["survival"] <= g["high"] + 1e-12).all()


def test_survival_summary_default_steps(grid):
    ss = survival_summary(grid)
    # deadline varies in this sweep; grant_term (36) and the horizon (60) are the default steps.
    assert sorted(ss["step"].unique()) == [36, 60]
    row = ss[(ss["strategy"] == "stepwise") & (ss["step"] == 60)].iloc[0]
    sel = grid.runs[grid.runs["strategy"] == "stepwise"]
    assert row["n"] == len(sel) and row["dissolved"] == sel["dissolved"].sum()


def test_logrank_pairs_and_direction(grid):
    lr = logrank_tests(grid)
    assert len(lr) == 3  # pairs of three strategies
    forced = lr[(lr["strategy_a"] == "stepwise") & (lr["strategy_b"] == "funder_forced")].iloc[0]
    # funder_forced dissolves far more than stepwise in this sweep: stepwise has fewer events than expected.
    assert forced["statistic"] < 0 and forced["p_value"] < 1e-6
    direct = stats.logrank(*[stats.CensoredData(
        uncensored=g.loc[g["dissolved"], "dissolved_step"].to_numpy(),
        right=np.full((~g["dissolved"]).sum(), 60.0)) for _, g in
        [(s, grid.runs[grid.runs["strategy"] == s]) for s in ("stepwise", "funder_forced")]])
    assert forced["p_value"] == pytest.approx(direct.pvalue)
    assert (lr["p_adjusted"] >= lr["p_value"] - 1e-15).all()
    by_ref = logrank_tests(grid, reference="stepwise", by=["initial_trust"])
    assert len(by_ref) == 2 * 2 and set(by_ref["strategy_b"]) == {"stepwise"}


def test_logrank_identical_groups_is_not_significant():
    times = [5, 9, 12, 20, 33, 40, 41, 60, 60, 60]
    dead = [True] * 7 + [False] * 3
    a = toy_results(times, dead, n_steps=60).runs
    b = a.assign(strategy="funder_forced")
    res = SweepData(pd.concat([a, b], ignore_index=True), pd.DataFrame(),
                    {"factors": [], "n_steps": 60, "strategies": ["stepwise", "funder_forced"]})
    lr = logrank_tests(res)
    assert lr["statistic"].item() == pytest.approx(0.0) and lr["p_value"].item() == pytest.approx(1.0)


def test_survival_after_grant_by_hand():
    # grant_term 36, horizon 72, window 24. Dissolved at 10 (gone before the grant ended: excluded),
    # 36 (dissolved on the last funded step: excluded), 37, 50 (events 1 and 14 months after), 65 (29 months
    # after: outside the window, censored at 24), and two never dissolved (censored at 24).
    times = [10, 36, 37, 50, 65, 72, 72]
    dead = [True, True, True, True, True, False, False]
    table, curves = survival_after_grant(toy_results(times, dead, n_steps=72), 24, return_curves=True)
    row = table.iloc[0]
    assert row["alive_at_grant_term"] == 5 and row["share_alive_at_grant_term"] == pytest.approx(5 / 7)
    assert row["dissolved_in_window"] == 2 and row["window_observed"] == 24
    assert row["survival"] == pytest.approx(4 / 5 * 3 / 4)
    assert row["survival_unconditional"] == pytest.approx(5 / 7 * 3 / 5)
    curve = curves[("stepwise",)]
    assert curve.survival[0] == 1 and curve.survival[1] == pytest.approx(0.8)
    assert curve.survival[14] == pytest.approx(0.6)


def test_survival_after_grant_truncated_by_the_horizon():
    table = survival_after_grant(toy_results([40, 50, 50], [True, False, False], n_steps=50, grant_term=36), 24)
    assert table["window_observed"].item() == 14 and table["survival"].item() == pytest.approx(2 / 3)
    with pytest.raises(AnalysisError, match="window = 0"):
        survival_after_grant(toy_results([40], [True], n_steps=50), 0)


def test_survival_after_grant_on_a_sweep_counts_the_survivors(grid):
    table = survival_after_grant(grid, 24, by=["deadline"])
    runs = grid.runs
    for _, row in table.iterrows():
        sel = runs[(runs["deadline"] == row["deadline"]) & (runs["strategy"] == row["strategy"])]
        alive = sel[~(sel["dissolved_step"] <= 36)]
        assert row["alive_at_grant_term"] == len(alive)
        # Horizon 60 = grant_term + 24: every survivor is followed to the end of the window.
        assert row["survival"] == pytest.approx(1 - alive["dissolved"].mean())


def test_after_grant_is_undefined_not_zero_when_the_grant_outlasts_the_horizon(tmp_path):
    from sim.analysis.survival import grant_ends_in_horizon, survival_after_grant
    from sim.sweep import load_results, run_sweep

    spec = tmp_path / "short.toml"
    spec.write_text('name = "short"\nstrategies = ["stepwise", "funder_forced"]\nreplicates = 10\nn_steps = 24\n'
                    'seed = 3\nkeep_series = []\n[factors]\ninitial_trust = [0.3, 0.8]\n')
    res = load_results(run_sweep(spec, tmp_path / "out", progress=False))
    assert not grant_ends_in_horizon(res)  # grant_term 36 > 24 steps
    table = survival_after_grant(res)
    assert table["share_alive_at_grant_term"].isna().all() and table["survival_unconditional"].isna().all()
