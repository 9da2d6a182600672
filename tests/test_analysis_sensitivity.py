"""Sobol and Morris sensitivity over a sweep's design (sim.analysis.sensitivity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_support import GRID_SPEC, MORRIS_SPEC, SOBOL_SPEC, make_sweep
from SALib.analyze import sobol as salib_sobol
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from sim.analysis import AnalysisError, SweepData, morris_indices, sobol_indices

pytestmark = pytest.mark.xdist_group("analysis_sensitivity")

PROBLEM = {"num_vars": 3, "names": ["leadership", "communication", "deadline"],
           "bounds": [[0.0, 1.0], [0.0, 1.0], [6.0, 36.0]]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("sens")


@pytest.fixture(scope="module")
def sobol_sweep(folder):
    return make_sweep(SOBOL_SPEC, folder / "sobol")


@pytest.fixture(scope="module")
def morris_sweep(folder):
    return make_sweep(MORRIS_SPEC, folder / "morris")


def synthetic(sample: np.ndarray, method: str, outcome: np.ndarray, replicates: int = 2, **sampling) -> SweepData:
    """A results store over ``sample`` (rows = point_id) whose cumulative_benefit is ``outcome`` per point."""
    n = sample.shape[0]
    pid = np.tile(np.arange(n), replicates)
    runs = pd.DataFrame({"run_id": np.arange(n * replicates), "point_id": pid, "strategy": "stepwise",
                         "replicate": np.repeat(np.arange(replicates), n), "dissolved": False,
                         "dissolved_step": np.nan, "n_steps": 60, "cumulative_benefit": outcome[pid]})
    for i, name in enumerate(PROBLEM["names"]):
        runs[name] = sample[pid, i]
    manifest = {"factors": PROBLEM["names"], "strategies": ["stepwise"], "n_steps": 60,
                "sampling": {"method": method, "problem": PROBLEM, **sampling}}
    return SweepData(runs, pd.DataFrame(), manifest)


def shuffled(results, seed: int = 1) -> SweepData:
    runs = results.runs.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    out = SweepData(runs, results.bands, results.manifest)
    if hasattr(results, "sample"):
        out.sample = results.sample  # the store's sample matrix, unchanged by row order
    return out


def test_sobol_of_a_known_linear_function():
    # f = 4 leadership + communication (deadline inert): S1 = ST = 16/17, 1/17, 0 for uniform factors.
    x = sobol_sample.sample(PROBLEM, 256, calc_second_order=False, seed=2)
    f = 4 * x[:, 0] + x[:, 1]
    res = sobol_indices(synthetic(x, "sobol", f, calc_second_order=False), "cumulative_benefit", seed=1)
    idx = res.indices.set_index("factor")
    assert idx.loc[["leadership", "communication", "deadline"], "S1"].tolist() == pytest.approx(
        [16 / 17, 1 / 17, 0.0], abs=0.06)
    assert idx.loc[["leadership", "communication", "deadline"], "ST"].tolist() == pytest.approx(
        [16 / 17, 1 / 17, 0.0], abs=0.06)
    assert idx.loc["leadership", "S1_conf"] > 0 and idx.loc["deadline", "S1_conf"] == 0
    assert res.second_order is None


def test_sobol_order_comes_from_point_id_not_row_order():
    x = sobol_sample.sample(PROBLEM, 64, calc_second_order=True, seed=4)
    f = x[:, 0] ** 2 + 0.5 * x[:, 1] * x[:, 0]
    res = synthetic(x, "sobol", f, calc_second_order=True)
    a = sobol_indices(res, "cumulative_benefit", seed=3)
    b = sobol_indices(shuffled(res), "cumulative_benefit", seed=3)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    pd.testing.assert_frame_equal(a.second_order, b.second_order)
    assert len(a.second_order) == 3  # pairs of three factors


def test_sobol_on_a_real_sweep_equals_salib_on_replicate_means(sobol_sweep):
    res = sobol_indices(sobol_sweep, ["cumulative_benefit", "dissolved"], seed=9)
    assert set(res.indices["strategy"]) == {"stepwise", "funder_forced"}
    assert len(res.indices) == 2 * 2 * (3 + 1)  # three factors and the do-nothing dummy
    runs = sobol_sweep.runs
    for strategy in ("stepwise", "funder_forced"):
        y = runs[runs["strategy"] == strategy].groupby("point_id")["cumulative_benefit"].mean().sort_index()
        direct = salib_sobol.analyze(res.problem, y.to_numpy(), calc_second_order=False, num_resamples=1000,
                                     seed=res_seed(9))
        got = res.indices[(res.indices["strategy"] == strategy) & (res.indices["outcome"] == "cumulative_benefit")]
        assert got["S1"].tolist() == pytest.approx(list(direct["S1"]))
        assert got["ST_conf"].tolist() == pytest.approx(list(direct["ST_conf"]))
    again = sobol_indices(shuffled(sobol_sweep, 7), ["cumulative_benefit", "dissolved"], seed=9)
    pd.testing.assert_frame_equal(res.indices, again.indices)


def res_seed(seed: int) -> int:
    from sim.analysis.sensitivity import _salib_seed

    return _salib_seed(seed)


def test_morris_of_a_known_linear_function():
    x = morris_sample.sample(PROBLEM, 20, num_levels=4, seed=1)
    f = 4 * x[:, 0] + x[:, 1] + 0.1 * x[:, 2]
    res = morris_indices(synthetic(x, "morris", f, num_levels=4), "cumulative_benefit")
    idx = res.indices.set_index("factor")
    # Effects are per factor range: 4, 1 and 0.1 x 30 months.
    assert idx.loc[["leadership", "communication", "deadline"], "mu_star"].tolist() == pytest.approx([4, 1, 3])
    assert idx["sigma"].tolist() == pytest.approx([0, 0, 0], abs=1e-9)


def test_morris_on_a_real_sweep_is_row_order_free(morris_sweep):
    a = morris_indices(morris_sweep, ["cumulative_benefit", "survival_time"], seed=2)
    b = morris_indices(shuffled(morris_sweep, 3), ["cumulative_benefit", "survival_time"], seed=2)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    assert (a.indices["mu_star"] >= a.indices["mu"].abs() - 1e-9).all()


def test_sensitivity_refuses_what_salib_cannot_use(sobol_sweep, morris_sweep, tmp_path):
    with pytest.raises(AnalysisError, match="method 'sobol'.*this one: 'morris'"):
        sobol_indices(morris_sweep)
    with pytest.raises(AnalysisError, match="method 'morris'.*this one: 'sobol'"):
        morris_indices(sobol_sweep)
    partial = SweepData(sobol_sweep.runs[sobol_sweep.runs["point_id"] != 5], sobol_sweep.bands,
                        sobol_sweep.manifest)
    with pytest.raises(AnalysisError, match="point ids are not 0..P-1.*1 missing"):
        sobol_indices(partial, "dissolved")
    runs = sobol_sweep.runs.copy()
    runs.loc[runs["point_id"] == 0, "final_trust"] = np.nan
    stepwise = runs[runs["strategy"] == "stepwise"]
    undefined = int(stepwise.groupby("point_id")["final_trust"].count().eq(0).sum())  # point 0 and any all-dissolved
    with pytest.raises(AnalysisError, match=f"'final_trust' is undefined at {undefined} of 96 points"):
        sobol_indices(SweepData(runs, sobol_sweep.bands, sobol_sweep.manifest), "final_trust")
    grid = make_sweep({**GRID_SPEC, "replicates": 2, "save_series": False, "keep_series": []}, tmp_path / "g")
    with pytest.raises(AnalysisError, match="this one: 'grid'"):
        sobol_indices(grid)


def test_constant_outcome_gives_a_note_not_a_crash():
    x = sobol_sample.sample(PROBLEM, 16, calc_second_order=False, seed=2)
    res = sobol_indices(synthetic(x, "sobol", np.ones(len(x)), calc_second_order=False), "cumulative_benefit")
    assert res.indices["S1"].isna().all() and "constant" in res.notes[0]


def test_noise_share_separates_factor_effects_from_replicate_noise():
    x = sobol_sample.sample(PROBLEM, 32, calc_second_order=False, seed=5)
    deterministic = synthetic(x, "sobol", 3 * x[:, 0], replicates=3, calc_second_order=False)
    assert sobol_indices(deterministic, "cumulative_benefit").noise["noise_share"].item() == 0.0
    # Pure noise: every run draws its own value, independent of the factors.
    noisy = deterministic.runs.copy()
    noisy["cumulative_benefit"] = np.random.default_rng(0).normal(size=len(noisy))
    share = sobol_indices(SweepData(noisy, deterministic.bands, deterministic.manifest),
                          "cumulative_benefit").noise["noise_share"].item()
    assert 0.75 < share < 1.3  # expected 1: the variance of the means is all noise


def test_a_registered_design_with_an_analysis_is_analysed_like_sobol_and_morris(tmp_path):
    from sim.analysis.sensitivity import sensitivity
    from sim.sweep import register_design, unregister_design
    from sim.sweep.design import Indices, LatinHypercube

    @register_design("lhs_corr")
    class Correlations(LatinHypercube):
        """LHS points, analysed by the correlation of each factor with the outcome."""

        analysis = "Correlations"

        def analyze(self, problem, sampling, x, y, *, num_resamples, confidence_level, seed):
            return Indices({"r": np.array([np.corrcoef(x[:, i], y)[0, 1] for i in range(x.shape[1])])})

    try:
        spec = {**SOBOL_SPEC, "name": "corr", "sampling": {"method": "lhs_corr", "n": 24, "seed": 2}}
        results = make_sweep(spec, tmp_path / "corr")
        res = sensitivity(results, outcomes="cumulative_benefit")
        assert res.method == "lhs_corr" and res.second_order is None
        assert list(res.indices.columns) == ["outcome", "strategy", "factor", "r"]
        runs = results.runs[results.runs["strategy"] == "funder_forced"]
        y = runs.groupby("point_id")["cumulative_benefit"].mean().sort_index().to_numpy()
        got = res.indices[res.indices["strategy"] == "funder_forced"].set_index("factor")["r"]
        for i, name in enumerate(PROBLEM["names"]):
            assert got[name] == pytest.approx(np.corrcoef(results.sample[:, i], y)[0, 1])
        assert set(res.noise["strategy"]) == {"stepwise", "funder_forced"}
        with pytest.raises(AnalysisError, match=r"'lhs_cor' is not allowed; did you mean 'lhs_corr'\?"):
            sensitivity(results, "lhs_cor")
        with pytest.raises(AnalysisError, match=r"Correlations: needs a sweep sampled with method 'lhs_corr' "
                                                r"\(this one: 'sobol'\)"):
            sensitivity(make_sweep(SOBOL_SPEC, tmp_path / "sobol"), "lhs_corr")
    finally:
        unregister_design("lhs_corr")
    with pytest.raises(AnalysisError, match=r"method = 'grid' is not allowed \(allowed: sobol, morris\)"):
        sensitivity(synthetic(np.zeros((4, 3)), "grid", np.arange(4.0)))
