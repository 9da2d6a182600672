"""The community study's statistics (experiments/community.py) on hand-made inputs and a tiny design."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.rng import run_seeds

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("community_study", ROOT / "experiments" / "community.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


C = _load()

#: A design small enough for seconds: 8 organizations, partnerships of 4, 12 months.
TINY = """
name = "tiny"
seed = 7
n_steps = 12
replicates = 3
block = 3
[base]
n_community = 8
n_orgs = 4
call_size = 3
max_partnerships = 3
initial_trust = 0.3
prior_ties = 0.1
[grid]
initial_trust = [0.3, 0.9]
prior_ties = [0.1]
[settings]
initial_trust = [0.9]
[[settings.change]]
name = "budget 60"
funder_budget = 60.0
grants_per_call = 1
[profile]
initial_trust = [0.3]
half_width = 1e9
max_replicates = 3
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("design") / "tiny.toml"
    path.write_text(TINY)
    d = C.load_design(path)
    return d, C.run_design(d, workers=1, progress=False)


def test_crn_every_policy_and_point_shares_the_seed_of_its_replicate(tiny):
    d, data = tiny
    runs = data.runs
    expected = {r: int(run_seeds(d.seed, 1, start=r)[0]) for r in range(d.replicates)}
    assert set(runs["policy"]) == set(C.POLICIES)
    assert len(runs) == len(data.points) * len(C.POLICIES) * d.replicates
    for _, g in runs.groupby(["point", "policy"]):
        assert sorted(g["replicate"]) == list(range(d.replicates))
        assert all(int(s) == expected[r] for r, s in zip(g["replicate"], g["seed"], strict=True))
    # the pairing helper matches by replicate and refuses a broken pairing
    j = int(runs["point"].iloc[0])
    x, y = C.paired(runs, j, "mandate", "none", "cumulative_benefit")
    assert len(x) == len(y) == d.replicates
    bad = runs.copy()
    bad.loc[(bad["point"] == j) & (bad["policy"] == "none"), "seed"] += 1
    with pytest.raises(ValueError, match="common random numbers"):
        C.paired(bad, j, "mandate", "none", "cumulative_benefit")


def test_a_run_of_the_study_is_the_same_community_run_alone(tiny):
    """Batching arms together does not change a run: replicate 1 of mandate at the first point, run by itself."""
    d, data = tiny
    j = int(data.roles[data.roles["role"] == "grid"]["point"].iloc[-1])
    params = C.point_params(d, data.points[j])
    alone = sim.simulate_community(n_runs=1, seed=d.seed, first_run=1, funder_policy="mandate", keep=[], **params)
    row = data.runs[(data.runs["point"] == j) & (data.runs["policy"] == "mandate") & (data.runs["replicate"] == 1)]
    for k in ("cumulative_benefit", "net_benefit", "n_formed", "funder_spent", "final_ready_level_4"):
        assert float(row[k].iloc[0]) == float(alone.summary[k].iloc[0]), k


def test_an_arm_a_policy_cannot_tell_apart_is_run_once(tiny):
    d, data = tiny
    roles = data.roles
    base = int(roles[(roles["setting"] == "base") & np.isclose(roles["initial_trust"], 0.9)]["point"].iloc[0])
    budget = int(roles[roles["setting"] == "budget 60"]["point"].iloc[0])
    assert C.arm_key(d, data.points[base], "none") == C.arm_key(d, data.points[budget], "none")
    assert C.arm_key(d, data.points[base], "mandate") != C.arm_key(d, data.points[budget], "mandate")
    arms = C._arms(d, data.points, set())
    assert len(arms) == len(data.points) * len(C.POLICIES) - 1
    # ... and the profile point's series and tables come out for every policy
    prof = int(roles[roles["role"] == "profile"]["point"].iloc[0])
    for pol in C.POLICIES:
        assert data.series[prof, pol]["cumulative_benefit"].shape == (d.replicates, d.n_steps)
    assert set(data.organizations["policy"]) == set(C.POLICIES)


@pytest.mark.parametrize("policy", sorted(C.IGNORED))
def test_a_policy_does_not_read_the_parameters_it_is_said_to_ignore(policy):
    base = {"n_community": 8, "n_orgs": 4, "call_size": 3, "max_partnerships": 3, "n_steps": 40, "initial_trust": 0.8}
    other = {"funder_budget": 60.0, "grants_per_call": 1, "deadline": 6}
    ref = sim.simulate_community(n_runs=6, seed=3, funder_policy=policy, keep=[], **base).summary
    for name in C.IGNORED[policy]:
        r = sim.simulate_community(n_runs=6, seed=3, funder_policy=policy, keep=[], **base, **{name: other[name]})
        pd.testing.assert_frame_equal(r.summary.drop(columns=[name]), ref.drop(columns=[name]))
    if policy == "mandate":  # and the others are read: the check can fail
        r = sim.simulate_community(n_runs=6, seed=3, funder_policy=policy, keep=[], **base, deadline=6)
        assert not r.summary["cumulative_benefit"].equals(ref["cumulative_benefit"])


def test_gini_per_run_against_hand_computed_values():
    t = pd.DataFrame({"point": 0, "policy": "none", "replicate": np.repeat([0, 1, 2], 4),
                      "v": [0, 0, 0, 1, 1, 2, 3, 4, 5, 5, 5, 5]})
    g = C.gini_per_run(t, "v")
    # 2 sum(i x_(i)) / (N sum x) - (N + 1) / N: [0,0,0,1] -> 2*4/4 - 5/4; [1,2,3,4] -> 2*30/40 - 5/4; equal -> 0
    assert g.to_numpy() == pytest.approx([0.75, 0.25, 0.0])
    assert np.isnan(C.gini_per_run(t.assign(v=0.0), "v")).all()


def test_mean_ci_brackets_the_mean_and_is_zero_width_for_a_constant():
    assert C.mean_ci(np.full(10, 2.5)) == (2.5, 2.5, 2.5)
    x = np.arange(40, dtype=float)
    m, lo, hi = C.mean_ci(x, seed=1)
    assert m == pytest.approx(19.5)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert lo < m < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)


def _table(rows):
    return pd.DataFrame([{"point": p, "a": "mandate", "b": b, "outcome": "cumulative_benefit", "difference": d,
                          "low": d - 1, "high": d + 1, "p_adjusted": 0.01 if s else 0.5, "significant_adjusted": s}
                         for p, b, d, s in rows])


def test_region_on_a_known_case():
    t = _table([
        (0, "none", 50, True), (0, "patient", 40, True), (0, "staged", 10, True),     # above all three: pays
        (1, "none", 50, True), (1, "patient", 40, True), (1, "staged", -30, True),    # staged beats it: costs
        (2, "none", 50, True), (2, "patient", 40, True), (2, "staged", 5, False),     # not above staged: undecided
        (3, "none", -5, False), (3, "patient", 2, False), (3, "staged", -1, False),   # nothing decided
    ])
    r = C.region(t).set_index("point")
    assert r["label"].tolist() == ["pays", "costs", "undecided", "undecided"]
    assert r.loc[1, "best_alternative"] == "staged" and r.loc[1, "difference_to_best"] == -30
    assert r.loc[3, "best_alternative"] == "none"
    with pytest.raises(ValueError, match="missing comparisons"):
        C.region(t[~((t["point"] == 0) & (t["b"] == "staged"))])


def test_comparison_table_pairs_by_replicate_and_adjusts_across_points():
    rng = np.random.default_rng(0)
    rows = []
    for point, shift in ((0, 10.0), (1, 0.0)):
        base = rng.normal(100, 20, 30)
        for pol, add in (("mandate", shift), ("none", 0.0)):
            for r in range(30):
                rows.append({"point": point, "policy": pol, "replicate": r, "seed": r,
                             "y": base[r] + add + (0.5 * (-1) ** r if pol == "mandate" else 0.0)})
    runs = pd.DataFrame(rows)
    t = C.comparison_table(runs, [0, 1], [("mandate", "none")], ["y"]).set_index("point")
    assert t.loc[0, "difference"] == pytest.approx(10.0)   # the +-0.5 alternate and cancel over 30 pairs
    assert t.loc[1, "difference"] == pytest.approx(0.0)
    assert t.loc[0, "se"] < 0.2 * t.loc[0, "se_unpaired"]  # pairing removes the shared noise
    assert bool(t.loc[0, "significant_adjusted"]) and not bool(t.loc[1, "significant_adjusted"])
    assert (t["n_tests"] == 2).all() and (t["p_adjusted"] >= t["p_value"]).all()


def test_partnership_events_reach_die_or_censor():
    parts = pd.DataFrame({"formed_step": [1, 10, 5, 20], "first_step_level_4": [30, np.nan, 8, np.nan],
                          "ended_step": [np.nan, 40, 50, np.nan]})
    e = C.partnership_events(parts, n_steps=120)
    assert e["event"].tolist() == [1, 2, 1, 0]
    assert e["time"].tolist() == [29, 30, 3, 100]


def test_half_widths_is_the_widest_pairwise_interval():
    rows = []
    for r in range(20):
        for pol, v in (("none", r), ("mandate", r + (r % 2) * 4), ("patient", r), ("staged", r)):
            rows.append({"point": 0, "policy": pol, "replicate": r, "seed": r, "cumulative_benefit": float(v)})
    w = C.half_widths(pd.DataFrame(rows), 0)
    d = np.array([(r % 2) * 4 for r in range(20)], dtype=float)
    from scipy import stats
    assert w == pytest.approx(stats.t.ppf(0.975, 19) * d.std(ddof=1) / np.sqrt(20))


def test_design_errors_name_the_field(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("mystery = 1\n" + TINY)
    with pytest.raises(C.DesignError, match="mystery"):
        C.load_design(p)
    p.write_text(TINY + "\nmystery = 1\n")  # inside [profile]
    with pytest.raises(C.DesignError, match="profile.'mystery'"):
        C.load_design(p)
    p.write_text(TINY.replace("[base]\n", "[base]\nnot_a_parameter = 3\n"))
    with pytest.raises(C.DesignError, match="not_a_parameter"):
        C.load_design(p)
    p.write_text(textwrap.dedent(TINY).replace("initial_trust = [0.3, 0.9]", "initial_trust = [0.3, 1.9]"))
    with pytest.raises(C.DesignError, match="grid.initial_trust"):
        C.load_design(p)


def test_the_study_design_loads():
    d = C.load_design()
    points, roles = C.design_points(d)
    assert set(roles["role"]) == {"grid", "setting", "profile"}
    assert len(roles[roles["role"] == "grid"]) == len(d.grid_trust) * len(d.grid_ties)
    # the grid row at the base's prior ties and the base setting are the same points (shared runs)
    base = roles[(roles["role"] == "setting") & (roles["setting"] == "base")]
    grid = roles[(roles["role"] == "grid") & np.isclose(roles["prior_ties"], 0.1)]
    assert set(base["point"]) <= set(grid["point"])


def test_shift_of_crossing_on_a_known_case():
    levels = [0.5, 0.7, 0.9]
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 1, (50, 3))
    # base: zero at 0.7 (mean -1, 0, +1 ... interpolated: -1 at 0.5, +1 at 0.9 with 0 at 0.7); other: 0.1 later
    base = {x: np.full(50, v) + noise[:, i] - noise[:, i].mean()
            for i, (x, v) in enumerate(zip(levels, (-1, 0, 1), strict=True))}
    other = {x: np.full(50, v) + noise[:, i] - noise[:, i].mean()
             for i, (x, v) in enumerate(zip(levels, (-1, -0.5, 0.5), strict=True))}
    est, lo, hi, p, undefined = C.shift_of_crossing(base, other, n_resamples=2000, seed=1)
    assert est == pytest.approx(0.1)   # base crosses at 0.7 exactly; other at 0.8
    assert lo <= 0.1 <= hi and undefined == 0.0
    # the same line against itself: no shift, and the shared noise cancels exactly in every resample
    est, lo, hi, p, _ = C.shift_of_crossing(base, base, n_resamples=500, seed=1)
    assert (est, lo, hi, p) == (0.0, 0.0, 0.0, 1.0)
    # a line that never turns positive lies beyond the range: the shift is +inf
    est, *_ = C.shift_of_crossing(base, {x: np.full(50, -1.0) for x in levels}, n_resamples=200)
    assert est == np.inf


def test_worked_pairs_needs_overlapping_memberships():
    mem = pd.DataFrame({"partnership": [0, 0, 0, 1, 1], "org": [0, 1, 2, 3, 4],
                        "joined_step": [1, 1, 10, 5, 50], "left_step": [np.nan, 5.0, np.nan, 30.0, np.nan]})
    w = C.worked_pairs(mem, 5, month=60)
    assert w[0, 1] and w[1, 0] and w[0, 2]      # 0 with 1 (months 1-4) and with 2 (from 10)
    assert not w[1, 2]                          # 1 left at 5, 2 joined at 10
    assert not w[3, 4]                          # 3 left at 30, 4 joined at 50
    assert not C.worked_pairs(mem, 5, month=0).any()


def test_the_design_must_run_every_policy_of_the_study(tmp_path):
    p = tmp_path / "four.toml"
    p.write_text(TINY.replace('n_steps = 12\n', 'n_steps = 12\npolicies = ["none", "mandate", "patient", "staged"]\n'))
    with pytest.raises(C.DesignError, match="policies must include .*applicant_led"):
        C.load_design(p)


def test_hcap_verdict_reads_the_survival_at_84_months():
    def n_with(lo, hi):
        comp = pd.DataFrame([{"point": pt, "origin": o, "alive_84_months_after_forming": v}
                             for pt, o, v in ((0, C.HCAP, lo), (1, C.HCAP, hi), (0, "mandate", 0.0),
                                              (1, "mandate", 0.6))])
        data = type("D", (), {"points": [{"initial_trust": 0.3}, {"initial_trust": 0.9}]})()
        return {"competing": comp, "profile_points": (0, 1), "data": data}

    low = C.hcap_verdict(n_with(0.02, 0.7))
    assert low.startswith("Letting the applicants choose their partners does not close the gap") and "only where" in low
    assert "2% of `applicant_led` consortia" in low and "70% at 0.9 (60% of `mandate`'s)" in low
    neither = C.hcap_verdict(n_with(0.02, 0.55))
    assert "does not close" in neither and "at low trust or at high" in neither and "only where" not in neither
    assert C.hcap_verdict(n_with(0.6, 0.8)).startswith("Letting the applicants choose their partners closes")


def test_consortium_trust_records_every_new_consortium_and_the_lead_chooses_higher(tiny):
    d, data = tiny
    pt = int(data.roles[data.roles["role"] == "profile"]["point"].iloc[0])
    t = C.consortium_trust(d, data.points[pt], d.replicates)
    assert set(t["policy"]) == {C.MANDATE, C.HCAP}
    assert t[["lead_trust", "pair_trust", "ready", "worked"]].apply(lambda c: c.between(0, 1).all()).all()
    # the first call is in month 1 for every run: same lead, same trust table, so choosing cannot lower the trust
    first = t[t["step"] == t["step"].min()].groupby("policy")["lead_trust"].mean()
    assert first[C.HCAP] >= first[C.MANDATE]
    assert not any(name.startswith("recorded_") for name in sim.policy_names())  # unregistered afterwards
    # as many consortia as the study's own runs of the arm created (the same seeds, the same communities)
    parts = data.partnerships
    made = parts[(parts["point"] == pt) & (parts["policy"] == C.HCAP) & (parts["origin"] == C.HCAP)]
    assert (t["policy"] == C.HCAP).sum() == len(made) > 0
