"""Common random numbers: `crn = true` gives replicate r one seed at every design point and strategy."""

from __future__ import annotations

import pandas as pd
import pytest
from analysis_support import make_sweep

from sim.analysis import compare_paired, morris_indices, pair_runs, paired_difference
from sim.rng import run_seeds
from sim.sweep import SpecError, parse_spec

pytestmark = pytest.mark.xdist_group("sweep_crn")

SPEC = {"name": "crn", "strategies": ["stepwise", "funder_schedule"], "replicates": 150, "n_steps": 60, "seed": 4,
        "keep_series": [], "factors": {"initial_trust": [0.5, 0.55], "deadline": [12, 24]}}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crn")
    return {crn: make_sweep({**SPEC, "crn": crn}, folder / f"crn-{crn}") for crn in (True, False)}


def test_crn_gives_identical_seeds_across_design_points_and_strategies(sweeps):
    runs = sweeps[True].runs
    assert runs.groupby("replicate")["seed"].nunique().eq(1).all()  # 4 points x 2 strategies share each seed
    per_rep = runs.groupby("replicate")["seed"].first().sort_index()
    assert per_rep.to_numpy().tolist() == run_seeds(4, 150).tolist()  # replicate r: the root seed's r-th
    assert per_rep.nunique() == 150
    assert sweeps[True].manifest["crn"] is True and sweeps[True].manifest["spec"]["crn"] is True
    # Without CRN every run has its own seed, the run_id-th.
    plain = sweeps[False].runs.sort_values("run_id")
    assert plain["seed"].nunique() == len(plain)
    assert plain["seed"].to_numpy().tolist() == run_seeds(4, len(plain)).tolist()
    assert sweeps[False].manifest["crn"] is False and "crn" not in sweeps[False].manifest["spec"]


def test_the_same_seed_makes_the_same_draws_at_every_point(sweeps):
    # Stepwise building has no funder and no deadline review: under CRN its runs at two deadlines are one run each.
    runs = sweeps[True].runs
    a = runs[(runs["deadline"] == 12) & (runs["initial_trust"] == 0.5) & (runs["strategy"] == "stepwise")]
    b = runs[(runs["deadline"] == 24) & (runs["initial_trust"] == 0.5) & (runs["strategy"] == "stepwise")]
    a, b = a.set_index("replicate").sort_index(), b.set_index("replicate").sort_index()
    cols = ["dissolved", "dissolved_step", "cumulative_benefit", "peak_level", "final_trust"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_paired_differences_have_smaller_variance_than_unpaired_under_crn(sweeps):
    results = {}
    for crn, res in sweeps.items():
        pairs = pair_runs(res, 0.55, 0.5, "cumulative_benefit", column="initial_trust",
                          where={"strategy": "stepwise", "deadline": 12})
        assert pairs.attrs["common_seeds"] is crn and len(pairs) == 150
        results[crn] = paired_difference(pairs["cumulative_benefit_a"], pairs["cumulative_benefit_b"], method="t")
    crn, plain = results[True], results[False]
    # Runs of nearby trust levels with one seed are strongly correlated; independent runs are not.
    assert crn.correlation > 0.8 and abs(plain.correlation) < 0.25
    assert crn.se < 0.5 * crn.se_unpaired
    assert 0.8 < plain.se / plain.se_unpaired < 1.2
    # Both estimate the same difference; the CRN interval is the narrower.
    assert (crn.high - crn.low) < 0.6 * (plain.high - plain.low)


def test_compare_paired_reports_common_seeds(sweeps):
    table = compare_paired(sweeps[True], "funder_schedule", "stepwise", "dissolved")
    assert table["common_seeds"].all() and len(table) == 4
    assert not compare_paired(sweeps[False], "funder_schedule", "stepwise", "dissolved")["common_seeds"].any()


def test_crn_results_do_not_depend_on_the_chunking(tmp_path):
    spec = {**SPEC, "replicates": 20, "crn": True}
    one = make_sweep(spec, tmp_path / "a").runs.sort_values("run_id").reset_index(drop=True)
    many = make_sweep({**spec, "chunk_size": 7}, tmp_path / "b").runs.sort_values("run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(one, many)


def test_morris_under_crn_gives_the_dummy_exactly_no_effect(tmp_path):
    # A step of a Morris trajectory that moves only the dummy runs the same parameters with the same seeds:
    # the runs are identical, so every elementary effect of the dummy is exactly 0.
    spec = {"name": "m", "strategies": ["stepwise"], "replicates": 3, "n_steps": 36, "seed": 2, "keep_series": [],
            "crn": True, "factors": {"leadership": {"min": 0.0, "max": 1.0}, "communication": {"min": 0.0, "max": 1.0}},
            "sampling": {"method": "morris", "n": 6, "seed": 1}}
    res = morris_indices(make_sweep(spec, tmp_path / "m"), "cumulative_benefit", num_resamples=100)
    dummy = res.indices.set_index("factor").loc["dummy"]
    assert dummy["mu_star"] == 0.0 and dummy["sigma"] == 0.0
    assert res.indices.set_index("factor").loc["leadership", "mu_star"] > 0


def test_a_bad_crn_setting_is_named():
    with pytest.raises(SpecError, match="crn: 'yes' must be true or false"):
        parse_spec({**SPEC, "crn": "yes"})
    # Off by default, and a spec without the key keeps the hash it had before the key existed.
    spec = parse_spec(SPEC)
    assert spec.crn is False and "crn" not in spec.to_dict()
    assert parse_spec({**SPEC, "crn": True}).hash() != spec.hash()
    assert parse_spec({**SPEC, "crn": False}).hash() == spec.hash()
