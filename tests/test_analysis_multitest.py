"""Multiple comparisons: Holm and Benjamini-Hochberg adjustment (sim.analysis.multitest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_support import GRID_SPEC, make_sweep

from sim.analysis import AnalysisError, adjust_pvalues, adjust_table, compare_strategies

pytestmark = pytest.mark.xdist_group("analysis_multitest")

# Benjamini & Hochberg (1995), J. R. Stat. Soc. B 57:289, section 4: fifteen p values of a trial.
BH_1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528,
           0.7590, 1.0000]


def test_holm_against_a_hand_computed_list():
    p = [0.01, 0.04, 0.03, 0.005]
    # Sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04, raised to the running max 0.06.
    res = adjust_pvalues(p, "holm")
    assert res.p_adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert res.reject.tolist() == [True, False, False, True]
    assert res.n_tests == 4 and res.method == "holm"
    assert res.statement == "Holm (family-wise error rate) over 4 tests, alpha 0.05"


def test_benjamini_hochberg_against_a_hand_computed_list():
    p = [0.01, 0.04, 0.03, 0.005]
    # Sorted: 0.005 x 4/1 = 0.02; 0.01 x 4/2 = 0.02; 0.03 x 4/3 = 0.04; 0.04 x 4/4 = 0.04 (step-up minimum from top).
    res = adjust_pvalues(p, "bh")
    assert res.p_adjusted.tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert res.reject.all()


def test_the_published_example_rejects_four_by_bh_and_three_by_holm():
    # The paper: BH at q = 0.05 rejects the four smallest; Bonferroni-type control rejects three.
    bh = adjust_pvalues(BH_1995, "bh")
    holm = adjust_pvalues(BH_1995, "holm")
    assert bh.reject.tolist() == [True] * 4 + [False] * 11
    assert holm.reject.tolist() == [True] * 3 + [False] * 12
    # Holm's 4th: max(0.0001 x 15, 0.0004 x 14, 0.0019 x 13, 0.0095 x 12) = 0.114.
    assert holm.p_adjusted[3] == pytest.approx(0.0095 * 12)
    # BH's 4th: min over k >= 4 of p_(k) x 15 / k = 0.0095 x 15 / 4.
    assert bh.p_adjusted[3] == pytest.approx(0.0095 * 15 / 4)
    assert (holm.p_adjusted >= bh.p_adjusted - 1e-15).all()


def test_nan_p_values_are_not_members_of_the_family():
    res = adjust_pvalues([0.01, np.nan, 0.04], "holm")
    assert res.n_tests == 2
    assert np.isnan(res.p_adjusted[1]) and not res.reject[1]
    assert res.p_adjusted[[0, 2]].tolist() == pytest.approx([0.02, 0.04])
    empty = adjust_pvalues([np.nan], "bh")
    assert empty.n_tests == 0 and np.isnan(empty.p_adjusted).all()


def test_bad_arguments_are_named():
    with pytest.raises(AnalysisError, match="adjust = 'bonferroni'"):
        adjust_pvalues([0.1], "bonferroni")
    with pytest.raises(AnalysisError, match="p value 1.5 is out of range"):
        adjust_pvalues([0.1, 1.5])
    with pytest.raises(AnalysisError, match="alpha = 0"):
        adjust_pvalues([0.1], alpha=0)
    with pytest.raises(AnalysisError, match="p_column = 'p'"):
        adjust_table(pd.DataFrame({"p_value": [0.1]}), p_column="p")


def test_adjust_table_by_family_states_the_adjustment_on_every_row():
    table = pd.DataFrame({"outcome": ["a", "a", "b", "b", "b"], "p_value": [0.01, 0.04, 0.01, 0.02, 0.5]})
    out = adjust_table(table, "holm", family="outcome")
    assert out["p_adjusted"].tolist() == pytest.approx([0.02, 0.04, 0.03, 0.04, 0.5])
    assert out["n_tests"].tolist() == [2, 2, 3, 3, 3]
    assert out["adjustment"].iloc[0] == "Holm (family-wise error rate) over 2 tests, alpha 0.05"
    assert out["significant_adjusted"].tolist() == [True, True, True, True, False]
    whole = adjust_table(table, "holm")
    assert (whole["n_tests"] == 5).all()
    assert "p_adjusted" not in table.columns  # the input is not changed


def test_compare_strategies_adjusts_each_strategy_and_outcome_across_cells(tmp_path):
    grid = make_sweep({**GRID_SPEC, "replicates": 15, "save_series": False}, tmp_path / "grid")
    raw = compare_strategies(grid, ["dissolved", "cumulative_benefit"], by="factors", n_resamples=200)
    assert "p_adjusted" not in raw.columns
    adj = compare_strategies(grid, ["dissolved", "cumulative_benefit"], by="factors", n_resamples=200, adjust="bh")
    for _, g in adj.groupby(["outcome", "strategy"]):
        expected = adjust_pvalues(g["p_value"].to_numpy(), "bh").p_adjusted
        assert g["p_adjusted"].to_numpy() == pytest.approx(expected)
        assert (g["n_tests"] == 4).all()  # the four cells
    assert adj["p_value"].tolist() == pytest.approx(raw["p_value"].tolist())
