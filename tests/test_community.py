"""The community engine (issue 15): the reduction to the partnership model, batch invariance, invariants, the
funding policies' contracts, formation and bad input (community-design sections 10 and 13)."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim import community as C
from sim.community_params import community_params
from sim.levels import NEED
from sim.params import ParamError
from sim.rng import Purpose, run_seeds, uniforms

VARIANTS = {"dissolution": ["quorum", "decision"], "capacity_rule": ["compounding", "saturating"],
            "review": ["fixed_target", "scaled_target"], "payoffs": ["ignored", "weighed"]}


def test_community_reduction_exact():
    """One all-member partnership, no formation, recruiting, gossip or funder: slot 0 is the partnership model."""
    rs = np.random.default_rng(15)
    r = 48
    p = {"n_orgs": rs.integers(2, 21, r), "strategy": rs.choice(sim.strategy_names(), r),
         "initial_trust": rs.uniform(0.1, 0.9, r), "cultural_distance": rs.uniform(0, 1, r),
         "free_riders": rs.integers(0, 2, r), "membership": "closed", "n_steps": 72,
         **{k: rs.choice(v, r) for k, v in VARIANTS.items()}}
    seeds = run_seeds(15, r)
    ref = sim.simulate(seeds=seeds, **p)
    com = sim.simulate_community(seeds=seeds, n_community=p["n_orgs"], setup="one", convene_rate=0.0, gossip=0.0,
                                 prior_ties=0.0, funder_policy="none", max_partnerships=3, keep_slot_series=True,
                                 **p)
    for name in ref.series_names:
        assert np.array_equal(com.slot_series[name][:, 0], ref.series(name), equal_nan=True), name
    assert np.array_equal(com.series("benefit"), ref.series("benefit"))
    assert np.array_equal(com.series("grant"), ref.series("grant"))
    assert (com.slot_series["level"][:, 1:] == 0).all()
    assert (ref.summary["dissolved"]).any() and (~ref.summary["dissolved"]).any()
    assert set(ref.summary["strategy"]) == set(sim.strategy_names())


def _mixed(r: int) -> dict:
    rs = np.random.default_rng(4)
    return {"n_community": rs.integers(6, 25, r), "max_partnerships": rs.integers(1, 7, r),
            "n_orgs": rs.integers(3, 7, r), "max_memberships": rs.integers(1, 4, r),
            "funder_policy": rs.choice(["none", "mandate", "patient", "staged"], r),
            "gossip": np.where(rs.random(r) < 0.5, 0.0, rs.uniform(0, 0.3, r)), "prior_ties": rs.uniform(0, 0.5, r),
            "convene_rate": rs.uniform(0.0, 0.08, r), "initial_trust": rs.uniform(0.2, 0.8, r),
            "strategy": rs.choice(["stepwise", "funder_patient", "fixed"], r), "call_size": 3,
            "membership": rs.choice(["closed", "recruiting"], r), "n_steps": 60,
            "grants_per_call": rs.integers(1, 3, r), "call_interval": rs.integers(6, 20, r)}


def test_invariants_every_month_and_events_occur():
    r = 40
    p = community_params(r, _mixed(r))
    out = C.run_community_batch(run_seeds(3, r), p, 60, check=True)  # check_invariants after every month
    s, t = out.series, out.partnerships
    assert s["formed"].sum() > 0 and s["ended"].sum() > 0 and s["joined"].sum() > 0 and s["left"].sum() > 0
    assert s["awarded"].sum() > 0 and (t["origin"] == "convened").any() and (t["origin"] == "mandate").any()
    # dissolution is absorbing: an ended row never reopens; a slot's next occupant is a new row
    for seed in np.unique(t["seed"]):
        rows = t["seed"] == seed
        assert len(np.unique(t["partnership"][rows])) == rows.sum()
    ended = ~np.isnan(t["ended_step"])
    assert (t["final_level"][ended] == 0).all() and (t["ended_step"][ended] >= t["formed_step"][ended]).all()
    assert (s["memberships"] <= p["max_memberships"][:, None] * p["n_community"][:, None]).all()
    assert (s["partnerships"] <= p["max_partnerships"][:, None]).all()
    assert ((s["mean_trust"] >= 0) & (s["mean_trust"] <= 1)).all()


@pytest.mark.parametrize("chunk", [1, 7])
def test_batch_and_chunk_invariance(chunk):
    r = 15
    p = _mixed(r)
    p["n_steps"] = 36
    whole = sim.simulate_community(seeds=run_seeds(9, r), **p)
    part = sim.simulate_community(seeds=run_seeds(9, r), chunk_size=chunk, **p)
    for name in whole.series_names:
        assert np.array_equal(whole.series(name), part.series(name), equal_nan=True), name
    assert whole.summary.equals(part.summary)
    assert whole.partnerships.equals(part.partnerships)
    assert whole.organizations.equals(part.organizations)
    alone = sim.simulate_community(seeds=run_seeds(9, r)[4:5], **{k: (v[4:5] if np.ndim(v) else v)
                                                                  for k, v in p.items()})
    assert np.array_equal(alone.series("benefit")[0], whole.series("benefit")[4])



def test_slot_series_change_no_community_output():
    """keep_slot_series only adds the per-slot series: the partnership recorder's dissolve zeroes the dissolving
    rows' n_active in place, which must not reach the month's starters (contribution_rate), nor any other output,
    and a run's outputs with slot series must not depend on its batch (the month view merges every run's slots)."""
    r = 30
    p = community_params(r, {**_mixed(r), "dissolution": "decision"})
    seeds = run_seeds(31, r)
    plain = C.run_community_batch(seeds, p, 48)
    slots = C.run_community_batch(seeds, p, 48, keep_slot_series=True)
    assert slots.series["ended"].sum() > 0
    for name in plain.series:
        assert np.array_equal(plain.series[name], slots.series[name], equal_nan=True), name
    for part in ("summary", "partnerships", "organizations", "memberships"):
        a, b = getattr(plain, part), getattr(slots, part)
        for name in a:
            assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), (part, name)
    for i in (0, 7, 19):
        one = C.run_community_batch(seeds[[i]], {k: v[[i]] for k, v in p.items()}, 48, keep_slot_series=True)
        assert np.array_equal(one.series["contribution_rate"][0], plain.series["contribution_rate"][i],
                              equal_nan=True), i
        n_slots = int(p["max_partnerships"][i])
        for name in one.slot_series:
            assert np.array_equal(one.slot_series[name][0, :n_slots], slots.slot_series[name][i, :n_slots],
                                  equal_nan=True), (i, name)


def test_month_view_segments_leave_recruiting_to_phase_0():
    """A mixed batch's slot-by-slot segments regroup their variants; like the month view they must not recruit
    (phase 0 is the community's), so phase 5 keeps no per-seat distances."""
    from sim import engine

    p = community_params(2, {"n_community": 8, "n_orgs": 3, "max_partnerships": 2, "gossip": 0.0,
                             "membership": np.array(["recruiting", "closed"], dtype=object)})
    cb = C.CommunityBatch.start(run_seeds(4, 2), p)
    for slot in (0, 1):
        cb.open_slot(np.array([0, 1]), np.array([slot, slot]), np.array([[0, 1, 2], [3, 4, 5]]) + slot, step=0,
                     origin=1, convener=0, strategy=np.array(["stepwise"] * 2, dtype=object), level=np.ones(2, int),
                     funded=False, award=np.full(2, np.inf), funder_money=False, promised=np.zeros(2))
    view = C.month_view(cb, 1, np.zeros((2, 2), dtype=np.int64))
    C.partnership_phases(cb, view, engine.PHASES[1:engine.PHASES.index(engine.update_trust) + 1])
    segments = view.segments()
    assert len(segments) == 2 and not view.batch.recruiting
    assert all(len(b.variants["membership"]) == 2 and not b.recruiting for _, _, b, _ in segments)

def _policy_run(policy, r=30, **extra):
    p = {"funder_policy": policy, "n_steps": 48, "call_start": 1, "call_interval": 12, "n_calls": 3,
         "grants_per_call": 2, "prior_ties": 0.0, "convene_rate": 0.03, "initial_trust": 0.5, **extra}
    return sim.simulate_community(n_runs=r, seed=21, **p), p


def test_policy_none_never_awards():
    res, p = _policy_run("none")
    assert (res.series("awarded") == 0).all() and (res.series("budget") == 120.0).all()
    assert (res.summary["funder_spent"] == 0).all() and (res.partnerships["awards"] == 0).all()


def test_policy_mandate_contract():
    res, p = _policy_run("mandate", convene_rate=0.0)  # nobody knows anyone: consortia of strangers
    t = res.partnerships
    assert (t["origin"] == "mandate").all() and len(t) > 0
    calls = {1, 13, 25}
    assert set(t["formed_step"]) <= calls
    assert ((t["n_founding"] >= 4) & (t["n_founding"] <= 6)).all()
    forced = sim.Params().forced_level
    played = t["ended_step"] != t["formed_step"]  # those that did not end in their first month
    assert played.sum() > 0
    assert (t[f"first_step_level_{forced}"][played] == t["formed_step"][played]).all()
    assert (t["awards"] == 1).all() and (t["award_total"] == 20.0).all()
    assert (res.series("awarded") <= 2).all()
    assert res.series("awarded")[:, 0].sum() > 0


def test_policy_patient_contract():
    res, p = _policy_run("patient", r=40, convene_rate=0.08, strategy="stepwise")
    t = res.partnerships
    got = t[t["awards"] > 0]
    assert len(got) > 0 and (got["origin"] == "convened").all()
    assert (got["formed_step"] < 25).all() and (got["awards"] == 1).all()
    assert (got["strategy"] == "funder_patient").all()
    assert (res.series("awarded") <= 2).all()


def test_policy_staged_contract():
    res, p = _policy_run("staged", r=40, initial_trust=0.6, convene_rate=0.0, n_steps=60, n_calls=5)
    t = res.partnerships
    assert (t["origin"] == "staged").all() and len(t) > 0
    assert (t["first_step_level_1"] == t["formed_step"]).all()  # networking money starts at level 1
    assert (t["awards"] <= 2).all()
    second = t[t["awards"] == 2]
    assert len(second) > 0 and (second["award_total"] == 25.0).all()  # 0.25 * 20 then 20
    assert (second["peak_level"] >= 3).all()
    assert (res.series("awarded") <= 2).all()


def test_registered_policy_runs_and_overspending_is_refused():
    @sim.register_policy("greedy_test")
    def greedy_test(call):
        """Fund every alive partnership with the whole budget each."""
        return sim.funder.Awards.fund_existing(call, call.alive, amount=call.budget + 1.0, strategy="funder_patient")

    try:
        with pytest.raises(sim.funder.PolicyError, match="'greedy_test'.*exceed the free budget"):
            sim.simulate_community(n_runs=3, seed=1, funder_policy="greedy_test", convene_rate=0.5, call_start=3,
                                   n_steps=6)
    finally:
        sim.funder.unregister_policy("greedy_test")


def test_formation_one_a_month_convener_smallest_u_invitees_most_trusted():
    r = 12
    seeds = run_seeds(5, r)
    p = community_params(r, {"convene_rate": 1.0, "max_partnerships": 1, "n_steps": 1, "gossip": 0.0,
                             "membership": "closed", "accept_bias": 10.0, "prior_ties": 0.3})
    cb = C.CommunityBatch.start(seeds, p)
    trust = cb.trust.copy()
    C.self_formation(cb, 1)
    u = uniforms(cb.keys, 1, Purpose.CONVENE, np.arange(cb.n, dtype=np.uint64))
    prob = sim.community_rules.convene_probability(cb.leadership, p["convene_rate"])
    for i in range(r):
        assert cb.alive[i].sum() == 1
        cand = np.flatnonzero(u[i] < prob[i])
        c = cand[np.argmin(u[i, cand])]
        assert cb.org[i, 0, 0] == c and cb.convener[i, 0] == c
        members = cb.org[i, 0][cb.org[i, 0] >= 0][1:]
        ok = np.flatnonzero((trust[i, c] >= NEED[1]) & (np.arange(cb.n) != c))
        top = ok[np.argsort(-trust[i, c, ok], kind="stable")][:5]
        assert set(members) <= set(top) and len(members) >= 1
        assert cb.acquainted[i, c, members].all()


def test_bad_community_input():
    with pytest.raises(ParamError, match="n_community = 4 is smaller than n_orgs = 6"):
        sim.simulate_community(n_runs=2, n_community=4, n_orgs=6)
    with pytest.raises(ParamError, match="funder_budget = -5.0 is out of range"):
        sim.simulate_community(n_runs=2, funder_budget=-5.0)
    with pytest.raises(ParamError, match="did you mean 'staged'"):
        sim.simulate_community(n_runs=2, funder_policy="stagd")
    with pytest.raises(ParamError, match="gossip"):
        sim.simulate(n_runs=2, gossip=0.1)


@pytest.mark.parametrize("strategy, trust", [("stepwise", 0.3), ("funder_forced", 0.85)])
def test_community_reduction_streams(strategy, trust):
    """The all-member partnership in slot 7 draws from the slot-offset streams: same distributions as the
    partnership model (Fisher exact on dissolution, KS on benefit; a statistical test with a fixed seed)."""
    from scipy import stats

    r, n = 600, 6
    p = {"n_orgs": n, "strategy": strategy, "initial_trust": trust, "membership": "closed", "n_steps": 60}
    ref = sim.simulate(n_runs=r, seed=101, **p)
    cp = community_params(r, {**p, "n_community": n, "setup": "one", "convene_rate": 0.0, "gossip": 0.0,
                              "prior_ties": 0.0, "max_partnerships": 8})
    out = C.run_community_batch(run_seeds(202, r), cp, 60, keep_slot_series=True, _setup_slot=7)
    assert (out.slot_series["level"][:, :7] == 0).all()
    lvl = out.slot_series["level"][:, 7]
    pvals = []
    for by in (24, 60):
        a = int((lvl[:, by - 1] == 0).sum())
        b = int((ref.series("level")[:, by - 1] == 0).sum())
        pvals.append(stats.fisher_exact([[a, r - a], [b, r - b]]).pvalue)
    final = out.series["cumulative_benefit"][:, -1]
    pvals.append(stats.ks_2samp(final, ref.series("cumulative_benefit")[:, -1]).pvalue)
    assert min(pvals) * len(pvals) > 0.001, pvals  # Bonferroni over the three comparisons
    assert not np.array_equal(out.series["benefit"], ref.series("benefit"))  # other streams, not a copy


def test_membership_table_agrees_with_the_partnership_table():
    res = sim.simulate_community(n_runs=12, seed=8, convene_rate=0.05, funder_policy="mandate", n_steps=48)
    m, t = res.memberships, res.partnerships
    assert len(m) > 0 and set(m["how"]) <= {"founding", "recruited"} and set(m["why_left"]) <= {"exit", "ended", ""}
    key = ["seed", "partnership"]
    founding = m[m["how"] == "founding"].groupby(key).size()
    joined = m[m["how"] == "recruited"].groupby(key).size()
    left = m[m["why_left"] == "exit"].groupby(key).size()
    tt = t.set_index(key)
    assert (founding.reindex(tt.index, fill_value=0) == tt["n_founding"]).all()
    assert (joined.reindex(tt.index, fill_value=0) == tt["n_joined"]).all()
    ended = tt["ended_step"].notna()
    assert (left.reindex(tt.index, fill_value=0)[~ended] == tt["n_left"][~ended]).all()
    still = m["left_step"].isna()
    assert (m.loc[still, "why_left"] == "").all()
    open_rows = m[still].groupby(key).size()
    assert set(open_rows.index) <= set(tt.index[~ended])
    org = res.organizations.set_index(["seed", "org"])
    per_org = m.groupby(["seed", "org"]).size()
    assert (per_org.reindex(org.index, fill_value=0) == org["memberships"]).all()


def test_payments_never_exceed_the_award_and_an_exhausted_award_ends_the_grant():
    res, p = _policy_run("mandate", r=30, grant_size=0.6, grant=1.0, convene_rate=0.0, forced_level=3,
                         initial_trust=0.7)
    t = res.partnerships
    assert (t["grant_total"] <= t["award_total"] + 1e-12).all()
    exhausted = t[np.isclose(t["grant_total"], t["award_total"])]
    assert len(exhausted) > 0
    # some outlived their money: the grant ended with the award, the partnership went on unfunded
    outlived = exhausted["ended_step"].isna() | (
        exhausted["ended_step"] > exhausted["formed_step"] + exhausted["funded_months"])
    assert outlived.any()
    assert (res.summary["funder_spent"] <= 120.0).all()


def test_a_registered_policy_runs_through_the_engine():
    @sim.register_policy("hcap_engine_test")
    def hcap_engine_test(call):
        """Fund self-formed consortia that meet the call, at the required rung from day one (HCAP-like)."""
        p = call.params
        ok = sim.funder.eligible(call, origin=("convened", "setup"), min_members=p["call_size"],
                                 min_sectors=p["call_sectors"], funded=False, ever_awarded=False)
        pick = sim.funder.top(call.mean_trust, ok, k=p["grants_per_call"], amount=p["grant_size"],
                              budget=call.budget)
        return sim.funder.Awards.fund_existing(call, pick, amount=p["grant_size"], strategy="funder_forced",
                                               level=p["forced_level"], tag=2)

    try:
        res, p = _policy_run("hcap_engine_test", r=30, convene_rate=0.08, call_start=13)
        got = res.partnerships[res.partnerships["awards"] > 0]
        assert len(got) > 0 and (got["origin"] == "convened").all() and (got["strategy"] != "stepwise").all()
        assert (got["formed_step"] < 13 + 24 + 1).all()
    finally:
        sim.funder.unregister_policy("hcap_engine_test")
    assert "hcap_engine_test" not in sim.policy_names()


@pytest.mark.parametrize("length", [1, 2, 7, 8, 9, 127, 128, 129, 300, 900, 1024, 4001])
def test_a_row_wise_reduction_sums_each_row_as_its_own_1d_reduction(length):
    """The month's trust totals rest on this: ``np.add.reduce`` of a 2-D block along its contiguous rows equals,
    bit for bit, the 1-D reduction of each row alone (what the twin computes on one run), whatever the block's
    rows, so a run's totals cannot depend on its batch or on the census's blocks."""
    rs = np.random.default_rng(length)
    a = rs.random((70, length)) ** 3 * np.where(rs.random((70, length)) < 0.2, 0.0, 1.0)
    each = np.array([np.add.reduce(a[i].copy()) for i in range(len(a))])
    assert np.array_equal(np.add.reduce(a, axis=1), each)
    for start, stop in ((0, 1), (3, 9), (5, 70)):
        assert np.array_equal(np.add.reduce(a[start:stop], axis=1), each[start:stop])
    picked = rs.permutation(70)[:13]
    assert np.array_equal(np.add.reduce(a[picked], axis=1), each[picked])
    if length >= 129:  # past NumPy's pairwise blocks: the order of the terms shows, so the check above has teeth
        ordered = np.add.accumulate(a, axis=1)[:, -1]
        assert not np.array_equal(ordered, each)


def test_trust_census_equals_each_runs_own_table_in_any_block(monkeypatch):
    """Mixed sizes padded to the largest: each run's totals are the 1-D pairwise sums of its own n x n table (the
    twin's definition), its counts exact, with blocks of one or two runs as with the default blocks."""
    r = 11
    p = community_params(r, {"n_community": np.array([6, 24, 13, 24, 6, 9, 24, 13, 24, 24, 6]), "n_orgs": 4,
                             "prior_ties": 0.4})
    cb = C.CommunityBatch.start(run_seeds(5, r), p)
    rs = np.random.default_rng(5)
    cb.trust = rs.random(cb.trust.shape) * cb.pair_ok
    cb.acquainted = (rs.random(cb.trust.shape) < 0.4) & cb.pair_ok
    default = C._trust_census(cb)
    monkeypatch.setattr(C, "_CENSUS_BLOCK", 100)  # pairs: blocks of 2 runs of 6 organizations, else of 1 run
    small = C._trust_census(cb)
    for a, b in zip(default, small, strict=True):
        assert np.array_equal(a, b)
    total, worked, n_k, ready = small
    for i, n in enumerate(p["n_community"]):
        t, k = cb.trust[i, :n, :n].copy(), cb.acquainted[i, :n, :n]
        assert total[i] == np.add.reduce(t.reshape(-1))
        assert worked[i] == np.add.reduce((t * k).reshape(-1))
        assert n_k[i] == k.sum()
        assert [ready[lvl - 1, i] for lvl in range(1, 6)] == [(t >= NEED[lvl]).sum() for lvl in range(1, 6)]
    whole = C.CommunityBatch.start(run_seeds(5, 4), community_params(4, {"n_community": 24, "n_orgs": 4}))
    assert list(whole.size_groups) == [24]  # one size: the census reads the batch in place


def test_largest_components_in_one_call_equal_each_runs_own():
    """The whole batch's networks as one block-diagonal graph give each run the largest component its network has
    alone (scipy on the run's own n x n matrix), padding left out; sparse and dense networks, isolated organizations."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    rs = np.random.default_rng(8)
    sizes = np.array([2, 5, 30, 17, 30, 9, 3, 30])
    R, N = len(sizes), int(sizes.max())
    exists = np.arange(N)[None, :] < sizes[:, None]
    k = (rs.random((R, N, N)) < rs.uniform(0.0, 0.15, R)[:, None, None]) & exists[:, :, None] & exists[:, None, :]
    k = k | k.transpose(0, 2, 1)
    k[:, np.arange(N), np.arange(N)] = False
    got = C._largest_components(k, exists)
    want = [np.bincount(connected_components(csr_matrix(k[r, :n, :n]), directed=False)[1]).max()
            for r, n in enumerate(sizes)]
    assert got.tolist() == want
    assert 1 in want and len(set(want)) > 3  # isolated-only runs and runs of several component sizes
