"""The headline study's own statistics (experiments/headline.py): the robustness design, its pairing, its sentences."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("headline_study", ROOT / "experiments" / "headline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


H = _load()


def test_settings_cover_every_structural_kind_and_the_constants_named_in_the_issue():
    settings = H.robustness_settings()
    names = [s.name for s in settings]
    assert len(names) == len(set(names))
    assert settings[0].change == {}
    defaults = sim.Params()
    changed = {k for s in settings for k in s.change}
    kinds = {k for k, v in sim.REFERENCE_VARIANTS.items() if getattr(defaults, k) != v}
    assert kinds <= changed
    assert any(dict(s.change) == dict(sim.REFERENCE_VARIANTS) for s in settings)
    for name, values in (("n_orgs", {3, 12, 20}), ("forced_level", {3, 5})):
        assert {s.change[name] for s in settings if name in s.change} == values
    for s in settings[1:]:  # one change at a time (or all reference variants), each a real change
        assert s.change and any(getattr(defaults, k) != v for k, v in s.change.items())


def test_robustness_runs_share_seeds_across_strategies_and_trust_and_pair_exactly():
    settings = [H.Setting("defaults", "baseline")]
    runs = H.run_robustness(settings, replicates=6, workers=1, trust=(0.3, 0.9))
    seeds = runs.pivot_table(index="replicate", columns=["strategy", "initial_trust"], values="seed", aggfunc="first")
    assert (seeds.nunique(axis=1) == 1).all()  # replicate r is one partnership in every arm
    assert seeds.iloc[:, 0].nunique() == 6
    m = H.paired_arms(runs, "funder_forced", "stepwise", "cumulative_benefit")
    assert len(m) == 12
    np.testing.assert_allclose(m["diff"], m["cumulative_benefit_a"] - m["cumulative_benefit_b"])


def test_pairing_refuses_unmatched_runs():
    runs = pd.DataFrame({"setting": "s", "strategy": ["a", "a", "b"], "initial_trust": 0.5, "replicate": [0, 1, 0],
                         "x": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="unmatched"):
        H.paired_arms(runs, "a", "b", "x")


def _table(rows):
    cols = ["setting", "group", "counterfactual", "outcome", "status", "crossing", "low", "high", "difference_at_top",
            "significant_adjusted", "n_tests"]
    return pd.DataFrame([dict(zip(cols, (*r, 4), strict=True)) for r in rows])


def test_pays_where_and_conditional_name_the_settings():
    rows = [
        ("Model 5 defaults", "baseline", "crossing", 0.86, 0.83, 0.9, 10.0, False),
        ("n_orgs = 3", "size", "crossing", 0.7, 0.65, 0.75, 40.0, True),
        ("n_orgs = 12", "size", "never", math.nan, 0.9, math.inf, -50.0, True),
        ("loss_rate = 0.15", "constants", "crossing", 0.88, 0.8, 0.95, 20.0, False),
    ]
    t = _table([(r[0], r[1], cf, "cumulative_benefit", *r[2:]) for cf in H.COUNTERFACTUALS for r in rows])
    text = H.pays_where(t)
    assert "0.70 (n_orgs = 3) to 0.88 (loss_rate = 0.15) in 3 of 4 settings" in text
    assert "nowhere up to trust 0.95 under n_orgs = 12" in text
    cond = H.conditional_text(t)
    assert "forcing pays under n_orgs = 3; costs under n_orgs = 12; cannot be told from no difference under " \
           "Model 5 defaults, loss_rate = 0.15" in cond
    assert "intervals disjoint from it: n_orgs = 3 (0.70 [0.65, 0.75])." in cond  # loss_rate's overlaps


def test_crossing_text_reads_open_intervals():
    assert H.crossing_text("crossing", 0.861, 0.8, math.inf) == "0.86 [0.80, beyond]"
    assert H.crossing_text("never", math.nan, math.inf, math.inf) == "never [beyond, beyond]"
    assert H.crossing_text("always", math.nan, -math.inf, 0.2) == "always [below, 0.20]"


def test_precision_rounds_add_replicates_to_every_arm_of_a_setting_together_and_keep_the_pilot():
    settings = [H.Setting("defaults", "baseline"), H.Setting("n_orgs = 20", "size", {"n_orgs": 20})]
    precision = H.Precision(outcome="cumulative_benefit", half_width=60.0, min_replicates=8, max_replicates=40)
    runs, rounds = H.precise_robustness(settings, workers=1, precision=precision, trust=(0.3, 0.9))
    final = rounds[rounds["round"] == rounds["round"].max()].set_index("setting")["replicates"]
    for name, g in runs.groupby("setting"):
        # every arm of a setting has replicates 0..R-1, R the setting's final count, and replicate r one seed
        reps = g.groupby(["strategy", "initial_trust"])["replicate"].agg(lambda r: tuple(sorted(r)))
        assert set(reps) == {tuple(range(int(final[name])))}
        assert (g.groupby("replicate")["seed"].nunique() == 1).all()
    # the noisy default setting needed more than the pilot (big groups: little benefit, little spread)
    assert final["defaults"] > precision.min_replicates
    assert final["defaults"] > final["n_orgs = 20"]
    # rounds change no run: the same replicates run in one go give the same numbers
    again = H.run_robustness(settings, dict(final), workers=1, trust=(0.3, 0.9))
    key = ["setting", "strategy", "initial_trust", "replicate"]
    a, b = runs.sort_values(key).reset_index(drop=True), again.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[[*key, "seed", "cumulative_benefit"]], b[[*key, "seed", "cumulative_benefit"]])
    # a setting is done when its widest interval is within the target or it reached the cap
    last = rounds[rounds["round"] == rounds["round"].max()]
    assert ((last["half_width"] <= precision.half_width) | (last["replicates"] >= precision.max_replicates)).all()


def test_replicates_needed_by_hand():
    # t(0.975, 49) = 2.0096; (2.0096 * 200 / 30)^2 = 179.5 -> 180
    assert H.replicates_needed(200.0, 50, 30.0) == 180
    np.testing.assert_array_equal(H.replicates_needed(np.array([0.0, 100.0]), np.array([50, 50]), 30.0), [0, 45])


def test_pairing_gain_is_the_paired_over_unpaired_standard_error():
    rng = np.random.default_rng(1)
    n = 400
    base = rng.normal(300, 100, n)
    frames = []
    for strategy, values in (("funder_forced", base + rng.normal(10, 20, n)), ("stepwise", base),
                             ("funder_patient", rng.normal(300, 100, n))):  # patient: independent of forced
        frames.append(pd.DataFrame({"setting": "s", "strategy": strategy, "initial_trust": 0.9, "replicate": range(n),
                                    "cumulative_benefit": values, "net_benefit": values,
                                    "dissolved": (values > 300).astype(float)}))
    runs = pd.concat(frames, ignore_index=True)
    cells = pd.DataFrame({"b": ["stepwise"], "outcome": ["cumulative_benefit"], "initial_trust": [0.9],
                          "se": [1.0], "se_unpaired": [4.0]})
    g = H.pairing_gain(cells, runs).set_index(["study", "counterfactual", "outcome"])
    assert g.loc[("headline sweep", "stepwise", "cumulative_benefit"), "median_ratio"] == pytest.approx(0.25)
    assert g.loc[("headline sweep", "stepwise", "cumulative_benefit"), "run_multiplier_trust_0.7_up"] == \
        pytest.approx(16.0)
    paired = g.loc[("robustness", "stepwise", "cumulative_benefit"), "median_ratio"]
    assert paired == pytest.approx(20 / np.sqrt(2 * 100 ** 2), rel=0.15)  # sd of the differences / unpaired
    assert g.loc[("robustness", "funder_patient", "cumulative_benefit"), "median_ratio"] == pytest.approx(1.0, abs=0.1)


def test_the_headline_sweep_runs_its_arms_on_common_seeds(tmp_path):
    import tomllib

    from sim.sweep import run_sweep
    from sim.sweep.spec import parse_spec

    spec = tomllib.loads((ROOT / "experiments" / "headline.toml").read_text())
    assert spec["crn"] is True
    assert set(spec["strategies"]) == {"stepwise", H.FORCED, *H.COUNTERFACTUALS}
    # the same spec, shrunk to two trust levels, three deadlines, one distance and three replicates
    small = dict(spec, replicates=3, keep_series=[],
                 factors={"initial_trust": [0.3, 0.9], "deadline": [24, 36, 48], "cultural_distance": [0.5]})
    run_sweep(parse_spec(small), tmp_path / "out", progress=False)
    res = sim.load_results(tmp_path / "out")
    seeds = res.runs.pivot_table(index="replicate", columns=["strategy", "initial_trust"], values="seed",
                                 aggfunc="first")
    assert (seeds.nunique(axis=1) == 1).all() and seeds.iloc[:, 0].nunique() == 3
    for cf in H.COUNTERFACTUALS:
        pairs = sim.analysis.pair_runs(res, H.FORCED, cf, "cumulative_benefit")
        assert pairs.attrs["common_seeds"] and pairs.attrs["n_pairs"] == 18
    # the pilot check reads the first replicates of each cell and sizes them by hand
    p = H.pilot_check(res, pilot=2, half_width=30.0)
    t = p["table"]
    assert (t["n"] == 2).all() and len(t) == 2 * 6
    np.testing.assert_array_equal(t["needed"], H.replicates_needed(t["sd"].to_numpy(), 2, 30.0))
    assert p["max_needed"] == t["needed"].max() and p["replicates"] == 3
    # every grant ends at grant_term (36): a review at 36 or 48 does nothing, and common seeds show it run by run
    assert sim.Params().grant_term == 36
    same = H.same_runs(res)
    assert {36, 48} <= set(same["deadline_groups"][-1])
    assert [d for g in same["deadline_groups"] for d in g] == [24, 36, 48]
    forced = res.runs[res.runs["strategy"] == H.FORCED]
    assert not forced[forced["deadline"] == 36].empty
    a, b = (forced[forced["deadline"] == d].sort_values(["initial_trust", "replicate"]) for d in (36, 48))
    np.testing.assert_array_equal(a["cumulative_benefit"].to_numpy(), b["cumulative_benefit"].to_numpy())
    assert set(same["trust_free"]) == set(H.COUNTERFACTUALS)
    assert all(0 <= v <= 1 for v in same["trust_free"].values())
