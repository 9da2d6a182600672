"""Sensitivity that separates signal from noise: the do-nothing dummy factor and denoised Sobol indices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_support import SOBOL_SPEC

from sim.analysis import AnalysisError, SweepData, morris_indices, sobol_indices
from sim.sweep import parse_spec
from sim.sweep.design import Problems, build_design, get_design
from sim.sweep.plan import make_tasks, run_ids_for

pytestmark = pytest.mark.xdist_group("analysis_noise_floor")

# Ishigami (a = 7, b = 0.1) on [-pi, pi]^3: the indices SALib's own regression tests check.
ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]
NAMES = ["x1", "x2", "x3", "x4"]  # x4 is a real factor the function ignores


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def noisy_results(method: str, f, n: int, replicates: int, noise: float, seed: int = 0, **options) -> SweepData:
    """A results store of ``f`` plus replicate noise over the registered design ``method`` (dummy by default)."""
    design = get_design(method)
    problems = Problems("test")
    sampling = design.parse({"method": method, "n": n, "seed": 3, **options}, 0, problems)
    assert not problems.items
    extra = list(design.noise_factors(sampling))
    problem = {"num_vars": 4 + len(extra), "names": NAMES + extra,
               "bounds": [[-np.pi, np.pi]] * 4 + [[0.0, 1.0]] * len(extra)}
    sample = design.sample([], sampling, dict(problem))
    p = sample.shape[0]
    rng = np.random.default_rng(seed)
    pid = np.tile(np.arange(p), replicates)
    y = f(sample)[pid] + rng.normal(0, noise, pid.size)
    runs = pd.DataFrame({"run_id": np.arange(pid.size), "point_id": pid, "strategy": "stepwise",
                         "replicate": np.repeat(np.arange(replicates), p), "dissolved": False,
                         "dissolved_step": np.nan, "n_steps": 60, "cumulative_benefit": y})
    for i, name in enumerate(NAMES):
        runs[name] = sample[pid, i]
    manifest = {"factors": NAMES, "strategies": ["stepwise"], "n_steps": 60,
                "sampling": {"method": method, "problem": problem, **design.record([], sampling),
                             **({"noise_factors": extra} if extra else {})}}
    res = SweepData(runs, pd.DataFrame(), manifest)
    res.sample = sample
    return res


def _row(res, factor: str) -> pd.Series:
    return res.indices.set_index("factor").loc[factor]


# --- the spec and the design ------------------------------------------------------------------------------------


BASE = {"name": "s", "strategies": ["stepwise", "funder_forced"], "replicates": 2, "n_steps": 24, "keep_series": [],
        "factors": {"leadership": {"min": 0.0, "max": 1.0}, "deadline": {"min": 6, "max": 36}}}


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_sobol_and_morris_designs_add_a_dummy_by_default_that_no_run_is_given(method):
    spec = parse_spec({**BASE, "sampling": {"method": method, "n": 8, "seed": 1}})
    assert spec.sampling.options["dummy"] is True
    design = build_design(spec)
    assert design.sampling["problem"]["names"] == ["leadership", "deadline", "dummy"]
    assert design.sampling["noise_factors"] == ["dummy"] and design.sampling["dummy"] is True
    assert design.sample.shape == (spec.size.points, 3)
    assert ((design.sample[:, 2] >= 0) & (design.sample[:, 2] <= 1)).all() and np.ptp(design.sample[:, 2]) > 0
    # The model never sees it: not a column of the points, not a parameter of any run.
    assert "dummy" not in design.points.columns and design.factors == ["leadership", "deadline"]
    task = make_tasks(spec, design, run_ids_for(design.n_points * 2, np.zeros(design.n_points * 2),
                                                np.ones(design.n_points * 2)), 4096)[0]
    assert "dummy" not in task.params
    off = build_design(parse_spec({**BASE, "sampling": {"method": method, "n": 8, "seed": 1, "dummy": False}}))
    assert off.sample.shape[1] == 2 and "noise_factors" not in off.sampling


def test_a_bad_dummy_setting_is_named():
    from sim.sweep import SpecError

    with pytest.raises(SpecError, match="sampling.dummy: 1 must be true or false"):
        parse_spec({**BASE, "sampling": {"method": "sobol", "n": 8, "dummy": 1}})
    with pytest.raises(SpecError, match="sampling.dummy: not used by method 'lhs'"):
        parse_spec({**BASE, "sampling": {"method": "lhs", "n": 8, "dummy": True}})


# --- Ishigami with replicate noise ------------------------------------------------------------------------------


def test_ishigami_with_little_noise_has_the_known_indices_and_a_dummy_near_zero():
    res = sobol_indices(noisy_results("sobol", ishigami, 1024, 20, noise=1.0, calc_second_order=False),
                        "cumulative_benefit", num_resamples=300, seed=1)
    idx = res.indices.set_index("factor")
    assert idx.loc[NAMES[:3], "S1"].tolist() == pytest.approx(ISHIGAMI_S1, abs=0.05)
    assert idx.loc[NAMES[:3], "ST"].tolist() == pytest.approx(ISHIGAMI_ST, abs=0.05)
    # Noise variance of a point mean 1/20 = 0.05 against an output variance of 13.8: the dummy scores ~0.004.
    assert abs(idx.loc["dummy", "ST"]) < 0.02 and abs(idx.loc["x4", "ST"]) < 0.02
    assert res.above_floor("cumulative_benefit", "stepwise", "ST") == ["x1", "x2", "x3"]
    assert res.above_floor("cumulative_benefit", "stepwise", "S1") == ["x1", "x2"]
    assert res.noise_factors == ["dummy"] and "dummy" not in set(res.floor["factor"])


def test_replicate_noise_inflates_every_total_index_alike_and_the_floor_shows_it():
    # Noise sd 4 with two replicates: noise variance 8 per point mean against 13.8 of signal. (4096 base points:
    # the first-order estimator stays unbiased under noise but not precise, its sd here is about 0.03.)
    res = sobol_indices(noisy_results("sobol", ishigami, 4096, 2, noise=4.0, calc_second_order=False),
                        "cumulative_benefit", num_resamples=300, seed=2)
    idx = res.indices.set_index("factor")
    expected_floor = 8 / (13.84 + 8)  # every factor's ST gains noise / total variance
    assert idx.loc["dummy", "ST"] == pytest.approx(expected_floor, abs=0.06)
    assert idx.loc["x4", "ST"] == pytest.approx(expected_floor, abs=0.06)
    # The inert real factor scores like the dummy and is not reported above the floor.
    assert "x4" not in res.above_floor("cumulative_benefit", "stepwise", "ST")
    assert {"x1", "x2"} <= set(res.above_floor("cumulative_benefit", "stepwise", "ST"))
    # With the noise's bias removed, the indices are the mean model's: Ishigami's, and the dummy's is ~0.
    assert idx.loc[NAMES[:3], "ST_denoised"].tolist() == pytest.approx(ISHIGAMI_ST, abs=0.07)
    assert idx.loc[NAMES[:3], "S1_denoised"].tolist() == pytest.approx(ISHIGAMI_S1, abs=0.07)
    assert abs(idx.loc["dummy", "ST_denoised"]) < 0.04 and abs(idx.loc["x4", "ST_denoised"]) < 0.04
    assert res.above_floor("cumulative_benefit", "stepwise", "ST_denoised") == ["x1", "x2", "x3"]
    assert res.noise["noise_share"].item() == pytest.approx(expected_floor, abs=0.06)
    text = res.statements()
    assert any(t.startswith("stepwise / cumulative_benefit, ST: noise floor (dummy) ") and "not above: x4" in t
               for t in text)


def test_a_pure_noise_output_has_nothing_above_the_floor():
    res = sobol_indices(noisy_results("sobol", lambda x: np.zeros(len(x)), 256, 3, noise=1.0,
                                      calc_second_order=False), "cumulative_benefit", num_resamples=300, seed=3)
    assert res.floor["above_floor"].sum() <= 1  # 4 factors x 4 indices at roughly 2.5 % each way: rarely any
    for index in ("ST", "ST_denoised"):
        assert res.above_floor("cumulative_benefit", "stepwise", index) == []


def test_denoising_needs_two_replicates():
    res = sobol_indices(noisy_results("sobol", ishigami, 64, 1, noise=1.0, calc_second_order=False),
                        "cumulative_benefit", num_resamples=100)
    assert res.indices["ST_denoised"].isna().all()
    assert any("one replicate per point" in n for n in res.notes)


def test_morris_floor_on_a_linear_function():
    res = morris_indices(noisy_results("morris", lambda x: 4 * x[:, 0] + x[:, 1], 40, 2, noise=0.5,
                                       num_levels=4), "cumulative_benefit", num_resamples=300, seed=1)
    assert set(res.floor["index"]) == {"mu_star"}
    above = res.above_floor("cumulative_benefit", "stepwise")
    assert above[:2] == ["x1", "x2"] and "x3" not in above and "x4" not in above
    assert _row(res, "dummy")["mu_star"] < _row(res, "x2")["mu_star"]


def test_a_design_without_a_noise_factor_has_no_floor():
    plain = sobol_indices(noisy_results("sobol", ishigami, 64, 2, noise=1.0, calc_second_order=False, dummy=False),
                          "cumulative_benefit", num_resamples=100)
    assert "dummy" not in set(plain.indices["factor"])
    assert plain.floor.empty and plain.statements() == []
    with pytest.raises(AnalysisError, match="no noise factor"):
        plain.above_floor("cumulative_benefit", "stepwise")


def test_a_real_sweep_reports_its_noise_floor(tmp_path):
    from analysis_support import make_sweep

    res = sobol_indices(make_sweep(SOBOL_SPEC, tmp_path / "sobol"), "dissolved", num_resamples=200)
    assert set(res.indices["factor"]) == {"leadership", "communication", "deadline", "dummy"}
    assert set(res.floor["factor"]) == {"leadership", "communication", "deadline"}
    assert set(res.floor["index"]) == {"ST", "S1", "ST_denoised", "S1_denoised"}
    assert len(res.statements()) == 2 * 4  # strategies x floor indices
