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
