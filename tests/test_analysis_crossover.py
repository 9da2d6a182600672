"""The crossover as a region with uncertainty (sim.analysis.crossover)."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_support import GRID_SPEC, make_sweep

from sim.analysis import AnalysisError, SweepData, crossover, crossover_table, pair_runs
from sim.analysis.crossover import first_crossing

pytestmark = pytest.mark.xdist_group("analysis_crossover")

LEVELS = np.linspace(0.1, 0.9, 9)


def _known(zero: float, slope: float, noise: float, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.repeat(LEVELS, reps)
    return x, slope * (x - zero) + rng.normal(0, noise, x.size)


def test_first_crossing_by_hand():
    x = np.array([0.0, 1, 2, 3])
    crossing, direction, changes = first_crossing(x, np.array([[-2.0, -1, 1, 3],   # between 1 and 2: 1.5
                                                               [-1.0, 0, 2, 3],    # exactly at a level: x = 1
                                                               [3.0, 1, -1, -2],   # downwards, at 1.5
                                                               [1.0, 2, 3, 4],     # never changes sign
                                                               [-1.0, 1, -1, 1]]))  # several: the first, 0.5
    assert crossing[:3].tolist() == pytest.approx([1.5, 1.0, 1.5])
    assert np.isnan(crossing[3]) and crossing[4] == pytest.approx(0.5)
    assert direction.tolist() == [1, 1, -1, 0, 1]
    assert changes.tolist() == [1, 1, 1, 0, 3]


def test_a_known_zero_is_found_and_covered():
    x, d = _known(0.6, 10.0, 3.0, 200, seed=0)
    c = crossover(x, d, seed=1)
    assert c.status == "crossing" and c.direction == "up" and c.n_sign_changes == 1
    assert c.low < 0.6 < c.high and abs(c.estimate - 0.6) < 0.03
    assert c.share_never == c.share_always == 0.0
    assert (c.x_min, c.x_max, c.levels, c.n) == (0.1, 0.9, 9, 9 * 200)
    # The estimate is the zero of the interpolated mean curve.
    means = np.array([d[x == v].mean() for v in LEVELS])
    assert c.estimate == pytest.approx(first_crossing(LEVELS, means[None, :])[0][0])


def test_coverage_of_a_known_zero():
    # 95 % intervals of a zero at 0.55 (between design levels) over 40 synthetic studies.
    hits, widths = 0, []
    for k in range(40):
        x, d = _known(0.55, 10.0, 4.0, 60, seed=100 + k)
        c = crossover(x, d, n_resamples=400, seed=k)
        hits += c.low <= 0.55 <= c.high
        widths.append(c.high - c.low)
    # Binomial(40, 0.95) is >= 33 with probability 0.995; a too narrow interval would miss far more often ...
    assert hits >= 33
    # ... and a too wide one says nothing: each level's mean has sd 4 / sqrt(60) = 0.52 against a rise of 1.0
    # between neighbouring levels (slope 10 x 0.1), so the zero's sd is about 0.05 and a 95 % width about 0.2.
    assert 0.08 < np.mean(widths) < 0.3


def test_no_sign_change_is_never_or_always_with_the_share_of_samples():
    x, d = _known(0.6, 10.0, 3.0, 100, seed=2)
    always = crossover(x, np.abs(d) + 1)
    assert always.status == "always" and np.isnan(always.estimate) and always.share_always == 1.0
    assert always.low == always.high == -np.inf  # an upward crossing below the range
    never = crossover(x, -np.abs(d) - 1)
    assert never.status == "never" and never.share_never == 1.0 and never.low == never.high == np.inf
    assert "never in 0.1..0.9" in str(never)
    down = crossover(x, -np.abs(d) - 1, direction="down")
    assert down.low == down.high == -np.inf


def test_a_zero_at_the_edge_of_the_range_has_an_open_interval():
    # Zero at 0.87, noise large: many bootstrap samples never turn positive within 0.1..0.9.
    x, d = _known(0.87, 10.0, 12.0, 60, seed=4)
    c = crossover(x, d, seed=5)
    assert 0 < c.share_never < 0.5
    assert c.high == np.inf and np.isfinite(c.low)
    assert "beyond 0.9" in str(c)


def test_joint_resampling_of_replicates_with_the_same_draws():
    # Runs paired across x: the noise is one value per replicate, shared by every level. Each bootstrap curve is
    # then the true line shifted by the resampled mean noise, so its zero is 0.6 - mean(u*) / slope exactly.
    rng = np.random.default_rng(6)
    reps, slope = 50, 10.0
    u = rng.normal(0, 2, reps)
    x = np.repeat(LEVELS, reps)
    replicate = np.tile(np.arange(reps), LEVELS.size)
    d = slope * (x - 0.6) + u[replicate]
    c = crossover(x, d, replicate=replicate, n_resamples=500, seed=7)
    assert c.joint
    weights = np.random.default_rng(7).multinomial(reps, np.full(reps, 1 / reps), size=500)
    zeros = 0.6 - (weights @ u / reps) / slope
    assert (c.low, c.high) == pytest.approx(tuple(np.quantile(zeros, [0.025, 0.975], method="inverted_cdf")))
    assert c.estimate == pytest.approx(0.6 - u.mean() / slope)


def test_bad_input_is_named():
    with pytest.raises(AnalysisError, match="two distinct x values"):
        crossover([0.5, 0.5], [1.0, -1.0])
    with pytest.raises(AnalysisError, match="one length"):
        crossover([0.1, 0.2], [1.0])
    with pytest.raises(AnalysisError, match="direction = 'left'"):
        crossover([0.1, 0.2], [1.0, -1.0], direction="left")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    spec = {**GRID_SPEC, "replicates": 20, "save_series": False, "strategies": ["stepwise", "funder_forced"],
            "factors": {"initial_trust": [0.3, 0.6, 0.85], "deadline": [12, 24]}}
    return make_sweep(spec, tmp_path_factory.mktemp("cross") / "g")


def test_crossover_table_per_cell_of_the_other_factors(grid):
    table = crossover_table(grid, "initial_trust", "funder_forced", "stepwise", n_resamples=300)
    assert len(table) == 2 and set(table["deadline"]) == {12, 24}
    pairs = pair_runs(grid, "funder_forced", "stepwise", "cumulative_benefit")
    for _, row in table.iterrows():
        cell = pairs[pairs["deadline"] == row["deadline"]]
        diff = cell["cumulative_benefit_a"] - cell["cumulative_benefit_b"]
        means = diff.groupby(cell["initial_trust"]).mean().sort_index()
        crossing, _, _ = first_crossing(means.index.to_numpy(), means.to_numpy()[None, :])
        if row["status"] == "crossing":
            assert row["crossing"] == pytest.approx(crossing[0])
        else:
            assert np.isnan(crossing[0])
            assert row["status"] == ("always" if (means > 0).all() else "never")
        assert row["n_pairs"] == 3 * 20 and row["levels"] == 3 and row["pooled_over"] == ""
        assert not row["joint"] and not row["common_seeds"]  # no common random numbers in this sweep
    with pytest.raises(AnalysisError, match="x = 'trust'"):
        crossover_table(grid, "trust", "funder_forced", "stepwise")
    with pytest.raises(AnalysisError, match="would pool"):
        crossover_table(grid, "initial_trust", "funder_forced", "stepwise", by=[])


def test_crossover_table_resamples_jointly_under_common_seeds(grid):
    runs = grid.runs.assign(seed=grid.runs["replicate"].astype("uint64") + 7)
    table = crossover_table(SweepData(runs, grid.bands, grid.manifest), "initial_trust", "funder_forced", "stepwise",
                            n_resamples=200)
    assert table["joint"].all() and table["common_seeds"].all()
