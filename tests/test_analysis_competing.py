"""Competing risks: Aalen-Johansen time to each rung, dissolution competing (sim.analysis.competing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_support import GRID_SPEC, make_sweep
from scipy import stats

from sim.analysis import (
    AnalysisError,
    SweepData,
    aalen_johansen,
    kaplan_meier,
    rung_data,
    rung_incidence,
    rung_table,
    survival_after_grant,
)

pytestmark = pytest.mark.xdist_group("analysis_competing")
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return make_sweep({**GRID_SPEC, "replicates": 25, "save_series": False}, tmp_path_factory.mktemp("cr") / "g")


def test_aalen_johansen_six_subjects_by_hand():
    # Month, event (1 = reached, 2 = dissolved first, 0 = censored): two events of different kinds tie at month 2.
    t = [1, 2, 2, 3, 4, 5]
    e = [1, 1, 2, 0, 1, 0]
    c = aalen_johansen(t, e)
    # Month 1: 6 at risk, one reaches: F1 = 1/6, S = 5/6. Month 2: 5 at risk, one of each: F1 += 5/6 x 1/5,
    # F2 = 5/6 x 1/5, S = 5/6 x 3/5 = 1/2. Month 3: a censoring. Month 4: 2 at risk, one reaches: F1 += 1/2 x 1/2.
    f1 = [0, 1 / 6, 1 / 3, 1 / 3, 7 / 12, 7 / 12]
    assert c.incidence.tolist() == pytest.approx(f1)
    assert c.competing.tolist() == pytest.approx([0, 0, 1 / 6, 1 / 6, 1 / 6, 1 / 6])
    assert (c.n, c.events, c.competing_events) == (6, 3, 1)
    assert c.at_risk.tolist() == [6, 5, 3, 2, 1, 0]
    # Delta-method variance at month 4 over the event months j = 1, 2, 4 (n = 6, 5, 2; d = 1, 2, 1; d1 = 1, 1, 1;
    # S(t_j-1) = 1, 5/6, 1/2): sum of (F(4) - F_j)^2 d/(n(n-d)) + S^2 d1 (n-d1)/n^3 - 2 (F(4) - F_j) S d1/n^2.
    f4, fj = 7 / 12, np.array([1 / 6, 1 / 3, 7 / 12])
    n, d, d1, s = np.array([6, 5, 2.0]), np.array([1, 2, 1.0]), np.ones(3), np.array([1, 5 / 6, 1 / 2])
    var4 = np.sum((f4 - fj) ** 2 * d / (n * (n - d)) + s ** 2 * d1 * (n - d1) / n ** 3
                  - 2 * (f4 - fj) * s * d1 / n ** 2)
    assert c.se[4] == pytest.approx(np.sqrt(var4))
    # log(-log) interval: F^exp(+-z se / (F |log F|)).
    scale = Z * np.sqrt(var4) / (f4 * abs(np.log(f4)))
    assert (c.low[4], c.high[4]) == pytest.approx((f4 ** np.exp(scale), f4 ** np.exp(-scale)))
    assert c.low[0] == c.high[0] == 0.0  # before any event


def test_quartiles_and_not_reached():
    c = aalen_johansen([1, 2, 2, 3, 4, 5], [1, 1, 2, 0, 1, 0])
    q = c.quartiles()
    assert q[0.25].estimate == 2 and q[0.5].estimate == 4  # F = 1/3 from month 2, 7/12 from month 4
    assert q[0.75].estimate == np.inf and not q[0.75].reached  # F stays at 7/12
    assert str(q[0.75]).startswith("not reached")
    # The interval inverts the band: the first month whose upper limit reaches p, and whose lower limit does.
    first_high = int(np.nonzero(c.high >= 0.25)[0][0])
    assert q[0.25].low == first_high and q[0.25].high == np.inf  # the lower limit never reaches 0.25 here
    assert str(q[0.5]) == f"month 4 ({q[0.5].low:g} to not reached)"
    with pytest.raises(AnalysisError, match="p = 1"):
        c.quantile(1)


def test_against_statsmodels_on_tied_monthly_data():
    from statsmodels.duration.survfunc import CumIncidenceRight

    rng = np.random.default_rng(1)
    t = rng.integers(1, 30, 400).astype(float)
    e = rng.choice([0, 1, 2], 400, p=[0.3, 0.4, 0.3])
    t[e == 0] = np.maximum(t[e == 0], 10)
    ours = [aalen_johansen(t, e, cause=k, horizon=30) for k in (1, 2)]
    ref = CumIncidenceRight(t, e)
    pos = np.searchsorted(ref.times, ours[0].step, side="right") - 1
    ok = pos >= 0
    for k in (0, 1):
        assert ours[k].incidence[ok] == pytest.approx(ref.cinc[k][pos[ok]], abs=1e-12)
        assert ours[k].se[ok] == pytest.approx(ref.cinc_se[k][pos[ok]], abs=1e-12)
    assert ours[0].competing[ok] == pytest.approx(ref.cinc[1][pos[ok]], abs=1e-12)


def test_without_competing_events_the_incidence_is_one_minus_kaplan_meier():
    t = np.array([3, 5, 5, 8, 9, 12, 12, 12, 15, 20.0])
    e = np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 0])
    c = aalen_johansen(t, e, horizon=20)
    km = kaplan_meier(t, e.astype(bool), horizon=20)
    assert c.incidence == pytest.approx(1 - km.survival)
    assert (c.competing == 0).all()


def test_everyone_left_has_the_event_at_the_last_month():
    # n = d at month 4: the variance term d/(n(n-d)) is infinite, but multiplies F(t) - F(t_j) = 0.
    c = aalen_johansen([1, 2, 4, 4], [1, 2, 1, 1])
    assert c.incidence[-1] == pytest.approx(0.75) and np.isfinite(c.se).all()
    assert c.incidence[-1] + c.competing[-1] == pytest.approx(1.0)


def test_bad_input_is_named():
    with pytest.raises(AnalysisError, match="one length"):
        aalen_johansen([1, 2], [1])
    with pytest.raises(AnalysisError, match="no runs"):
        aalen_johansen([], [])
    with pytest.raises(AnalysisError, match="event codes must be >= 0"):
        aalen_johansen([1, 2], [1, -1])
    with pytest.raises(AnalysisError, match="cause = 0"):
        aalen_johansen([1, 2], [1, 0], cause=0)
    with pytest.raises(AnalysisError, match="rung = 6"):
        rung_data(pd.DataFrame(), 6, 60)


def _runs(first_steps: list[list[float]], dissolved_step: list[float]) -> pd.DataFrame:
    cols = {f"first_step_level_{k}": [r[k - 1] for r in first_steps] for k in range(1, 6)}
    return pd.DataFrame({**cols, "dissolved": [not np.isnan(d) for d in dissolved_step],
                         "dissolved_step": dissolved_step})


def test_rung_data_reaching_means_a_level_at_least_the_rung():
    nan = np.nan
    runs = _runs([
        [1, 7, 13, 19, 25],      # climbs: reaches level 4 in month 19
        [nan, nan, nan, nan, 1],  # only ever plays level 5: has reached level 4, in month 1
        [1, 7, nan, nan, nan],    # dissolves in month 10 before reaching it
        [1, 7, 13, nan, nan],     # neither: censored at the horizon
        [1, 7, 13, 30, nan],      # reaches level 4 in the month it dissolves: reached
    ], [nan, nan, 10, nan, 30])
    t, e = rung_data(runs, 4, 60)
    assert t.tolist() == [19, 1, 10, 60, 30]
    assert e.tolist() == [1, 1, 2, 0, 1]
    t5, e5 = rung_data(runs, 5, 60)
    assert t5.tolist() == [25, 1, 10, 60, 30] and e5.tolist() == [1, 1, 2, 0, 2]


def test_rung_table_on_a_sweep(grid):
    table = rung_table(grid)
    assert len(table) == 4 * 3 * 5  # cells x strategies x rungs
    runs = grid.runs
    for _, row in table.sample(20, random_state=1).iterrows():
        sel = runs[(runs["initial_trust"] == row["initial_trust"]) & (runs["deadline"] == row["deadline"])
                   & (runs["strategy"] == row["strategy"])]
        t, e = rung_data(sel, int(row["rung"]), 60)
        # Every run is followed to the horizon: the incidence there is the share that reached the rung.
        assert row["incidence"] == pytest.approx(np.mean(e == 1))
        assert row["dissolved_first_share"] == pytest.approx(np.mean(e == 2))
        assert row["reached"] + row["dissolved_first"] + row["censored"] == row["n"] == 25
        assert row["incidence_low"] <= row["incidence"] <= row["incidence_high"]
        if np.isfinite(row["q50"]):
            assert row["q50"] == min(tt for tt, ee in zip(t, e, strict=True) if ee == 1
                                     and np.mean((t <= tt) & (e == 1)) >= 0.5)
        assert row["q25"] <= row["q50"] <= row["q75"]
        assert row["q50_low"] <= row["q50"] <= row["q50_high"]
    # funder_forced starts at level 4: every run reaches rung 4 in month 1, unless it dissolves before playing.
    forced = table[(table["strategy"] == "funder_forced") & (table["rung"] == 4)]
    assert (forced[["q25", "q50", "q75"]] == 1).all().all()
    sel = runs[runs["strategy"] == "funder_forced"]
    gone_at_once = (sel["dissolved_step"] == 1).groupby([sel["initial_trust"], sel["deadline"]]).mean()
    assert forced["incidence"].to_numpy() == pytest.approx(1 - gone_at_once.to_numpy())


def test_rung_incidence_refuses_to_pool_runs_of_different_make_up(grid):
    with pytest.raises(AnalysisError, match="would pool runs of different make-up: deadline"):
        rung_incidence(grid, 4, by=["initial_trust"])
    curves = rung_incidence(grid, 4, by=["initial_trust"], pool=True)
    assert all(c.attrs["pooled_over"] == ["deadline"] for c in curves.values())
    assert rung_table(grid, 4, by=["initial_trust"], pool=True)["pooled_over"].eq("deadline").all()
    assert len(rung_incidence(grid, 4)) == 12 and len(rung_incidence(grid, 4, where={"deadline": 12})) == 6


def test_survival_after_grant_per_initial_trust_level_says_what_it_pools(grid):
    per_point = survival_after_grant(grid, 24, by="factors")
    assert len(per_point) == 12 and (per_point["pooled_over"] == "").all()
    assert (survival_after_grant(grid, 24, by=["initial_trust"])["pooled_over"] == "deadline").all()
    with pytest.raises(AnalysisError, match="deadline takes 2 values"):
        survival_after_grant(grid, 24, by=["initial_trust"], pool=False)
    fixed = survival_after_grant(grid, 24, by=["initial_trust"], where={"deadline": 24}, pool=False)
    assert len(fixed) == 6 and (fixed["pooled_over"] == "").all()


def test_rung_table_on_an_in_memory_store():
    nan = np.nan
    runs = _runs([[1, 7, 13, 19, 25], [1, 7, nan, nan, nan], [nan, nan, nan, nan, 1]], [nan, 10, nan])
    runs = runs.assign(point_id=0, strategy="stepwise", n_steps=60, replicate=[0, 1, 2], run_id=[0, 1, 2])
    res = SweepData(runs, pd.DataFrame(), {"factors": [], "n_steps": 60, "strategies": ["stepwise"]})
    row = rung_table(res, 4).iloc[0]
    assert (row["reached"], row["dissolved_first"], row["censored"]) == (2, 1, 0)
    assert row["incidence"] == pytest.approx(2 / 3) and row["q50"] == 19 and row["q75"] == np.inf
