"""The funder: policy registry, helpers and the engine's checks on awards (community-design section 6)."""

from __future__ import annotations

import numpy as np
import pytest

from sim import funder
from sim.community_params import community_params
from sim.params import ParamError


def make_call(n=8, p=3, s=4, *, budget=100.0, alive=(), sector=None, spare=None, priority=None, leadership=None,
              level=None, tag=None, funder_money=None, remaining=None, mean_trust=None, n_members=None,
              n_sectors=None, origin=None, **params):
    """One calling community, hand-built."""
    prm = community_params(1, {"n_community": n, "max_partnerships": p, "n_orgs": s, "call_size": 2, **params})
    alive_a = np.zeros((1, p), bool)
    alive_a[0, list(alive)] = True
    z = np.zeros((1, p), np.int64)

    def arr(v, default, dtype=None):
        return np.array([v if v is not None else default], dtype=dtype)

    return funder.CallState(
        step=5, call_index=np.zeros(1, np.int64), params=prm, budget=np.array([budget]),
        sector=arr(sector, [i % 4 for i in range(n)], np.int64), group=np.zeros((1, n), np.int64),
        leadership=arr(leadership, np.linspace(0.1, 0.9, n)), individualism=np.full((1, n), 0.3),
        capacity=np.ones((1, n)), spare=arr(spare, [3] * n, np.int64),
        priority=arr(priority, np.linspace(0.9, 0.1, n)), trust=np.full((1, n, n), 0.3),
        acquainted=np.zeros((1, n, n), bool), alive=alive_a, free_slot=~alive_a,
        level=np.where(alive_a, arr(level, [1] * p), 0), funded=arr(funder_money, [False] * p, bool) & alive_a,
        funder_money=arr(funder_money, [False] * p, bool), ever_awarded=arr(funder_money, [False] * p, bool),
        award_tag=arr(tag, [0] * p, np.int64), origin=arr(origin, [1] * p, np.int64),
        award_remaining=arr(remaining, [0.0] * p), n_members=arr(n_members, [4] * p, np.int64) * alive_a,
        n_sectors=arr(n_sectors, [2] * p, np.int64) * alive_a,
        mean_trust=np.where(alive_a, arr(mean_trust, [0.5] * p), np.nan), formed_step=z,
        members=np.zeros((1, p, n), bool), n_seats=s)


def test_assemble_covers_sectors_first_then_priority_and_leads_with_leadership():
    # priority falls with the index; sectors 0,0,0,0,1,1,2,3: the second seat must come from an uncovered sector
    call = make_call(sector=[0, 0, 0, 0, 1, 1, 2, 3], leadership=[0.1, 0.2, 0.3, 0.4, 0.9, 0.5, 0.1, 0.1])
    m = funder.assemble(call, k=2, size=4, min_size=2, min_sectors=3, amount=20.0, budget=np.array([100.0]))
    assert m.shape == (1, 2, 4)
    first = m[0, 0]
    # picks in order: 0 (best priority), 4 (sector 1), 6 (sector 2), then 1 (any sector); lead = 4 (leadership 0.9)
    assert first.tolist() == [4, 0, 6, 1]
    second = m[0, 1]
    assert set(second) & set(first) == set()
    assert len({call.sector[0, j] for j in second if j >= 0}) >= 3 or (second == -1).all()


def test_assemble_limits_by_budget_free_slots_and_spare_and_drops_small_consortia():
    call = make_call(alive=(0, 1))  # one free slot
    m = funder.assemble(call, k=3, size=4, min_size=2, min_sectors=1, amount=20.0, budget=np.array([100.0]))
    assert m.shape[1] == 1
    m = funder.assemble(make_call(), k=3, size=4, min_size=2, min_sectors=1, amount=30.0, budget=np.array([59.0]))
    assert m.shape[1] == 1  # floor(59 / 30) = 1
    call = make_call(spare=[0, 0, 0, 0, 0, 0, 1, 1])  # only two applicants
    m = funder.assemble(call, k=2, size=4, min_size=3, min_sectors=1, amount=20.0, budget=np.array([100.0]))
    assert (m == -1).all()
    m = funder.assemble(call, k=2, size=4, min_size=2, min_sectors=1, amount=20.0, budget=np.array([100.0]))
    assert sorted(m[0, 0][m[0, 0] >= 0].tolist()) == [6, 7] and (m[0, 1] == -1).all()


def test_top_ranks_by_value_ties_to_lower_slot_and_respects_budget():
    vals = np.array([[0.2, 0.5, 0.5, np.nan]])
    mask = np.array([[True, True, True, True]])
    assert funder.top(vals, mask, k=2, amount=10.0, budget=np.array([100.0])).tolist() == [[False, True, True, False]]
    assert funder.top(vals, mask, k=4, amount=10.0, budget=np.array([25.0])).tolist() == [[False, True, True, False]]
    assert funder.top(vals, mask, k=4, amount=10.0, budget=np.array([9.0])).sum() == 0


def test_check_awards_refuses_overspending_dead_slots_and_spare():
    call = make_call(alive=(0,), budget=30.0)
    fund = funder.Awards.fund_existing(call, np.array([[True, False, False]]), amount=40.0, strategy="funder_patient")
    with pytest.raises(funder.PolicyError, match="'greedy'.*exceed the free budget 30"):
        funder.check_awards(call, fund, "greedy")
    # a replacement award may use the remainder it returns
    call2 = make_call(alive=(0,), budget=30.0, funder_money=[True, False, False], remaining=[15.0, 0, 0])
    funder.check_awards(call2, fund.__class__.fund_existing(call2, np.array([[True, False, False]]), amount=40.0,
                                                            strategy="funder_patient"), "ok")
    dead = funder.Awards.fund_existing(call, np.array([[False, True, False]]), amount=5.0, strategy="funder_patient")
    with pytest.raises(funder.PolicyError, match="holds no partnership"):
        funder.check_awards(call, dead, "p")
    call = make_call(spare=[0] + [3] * 7)
    new = funder.Awards.new_consortia(call, np.array([[[0, 1, -1, -1]]]), amount=5.0, strategy="funder_forced",
                                      level=4)
    with pytest.raises(funder.PolicyError, match="organization 0 would join 1 new consortia with 0 spare"):
        funder.check_awards(call, new, "p")
    one = funder.Awards.new_consortia(call, np.array([[[3, 3, -1, -1]]]), amount=5.0, strategy="funder_forced",
                                      level=4)
    with pytest.raises(funder.PolicyError, match="at least 2 distinct"):
        funder.check_awards(call, one, "p")
    bad_strategy = funder.Awards.new_consortia(call, np.array([[[3, 4, -1, -1]]]), amount=5.0, strategy="nope",
                                               level=4)
    with pytest.raises(ParamError, match="not a registered strategy"):
        funder.check_awards(call, bad_strategy, "p")


def test_builtin_policies_on_a_hand_built_call():
    call = make_call(alive=(0, 1), level=[2, 3, 1], tag=[0, 1, 0], mean_trust=[0.7, 0.6, 0.0], budget=100.0,
                     funder_money=[False, True, False], remaining=[0.0, 2.0, 0.0], grants_per_call=2,
                     n_members=[4, 4, 0])
    assert funder.run_policy(call, "none").n_awards.tolist() == [0]
    mandate = funder.run_policy(call, "mandate")
    assert mandate.n_new.tolist() == [1] and not mandate.fund.any()  # one free slot
    assert mandate.new_strategy == "funder_forced" and mandate.new_level[0, 0] == call.params["forced_level"][0]
    patient = funder.run_policy(call, "patient")
    assert patient.fund.tolist() == [[True, False, False]]  # slot 1 was awarded before: not eligible
    staged = funder.run_policy(call, "staged")
    # slot 1 (tag 1, level 3 = staged_level) gets collaboration money, then one networking consortium
    assert staged.fund.tolist() == [[False, True, False]] and staged.fund_amount[0, 1] == 20.0
    assert staged.n_new.tolist() == [1] and staged.new_level[0, 0] == 1 and staged.new_amount[0, 0] == 5.0
    assert staged.new_tag[0, 0] == 1 and staged.fund_tag[0, 1] == 2


def test_registering_a_policy_and_did_you_mean():
    @funder.register_policy("hcap_test")
    def hcap_test(call):
        """Fund self-formed consortia at the required rung."""
        p = call.params
        ok = funder.eligible(call, origin=("convened", "setup"), min_members=p["call_size"],
                             min_sectors=p["call_sectors"], funded=False, ever_awarded=False)
        pick = funder.top(call.mean_trust, ok, k=p["grants_per_call"], amount=p["grant_size"], budget=call.budget)
        return funder.Awards.fund_existing(call, pick, amount=p["grant_size"], strategy="funder_forced",
                                           level=p["forced_level"], tag=2)

    try:
        assert "hcap_test" in funder.policy_names()
        call = make_call(alive=(0, 2))
        a = funder.run_policy(call, "hcap_test")
        assert a.fund.tolist() == [[True, False, True]] and (a.fund_level[a.fund] == 4).all()
        with pytest.raises(ValueError, match="already registered"):
            funder.register_policy("hcap_test")(hcap_test)
        assert community_params(1, {"funder_policy": "hcap_test"})["funder_policy"][0] == "hcap_test"
    finally:
        funder.unregister_policy("hcap_test")
    with pytest.raises(ParamError, match="funder_policy = 'hcap_test' is not a registered funding policy"):
        funder.check_policy("hcap_test")
    with pytest.raises(ParamError, match="did you mean 'patient'"):
        funder.check_policy("patiant")


def test_call_due_and_pay():
    prm = community_params(3, {"funder_policy": ["mandate", "none", "staged"], "call_start": 2, "call_interval": 3,
                               "n_calls": 2})
    due = [funder.call_due(t, prm)[0].tolist() for t in range(1, 10)]
    assert [t for t, d in zip(range(1, 10), due, strict=True) if d[0]] == [2, 5] and not any(d[1] for d in due)
    paid, left = funder.pay(np.array([3.0, 5.0, 2.0]), np.array([4.0, 4.0, np.inf]))
    assert paid.tolist() == [3.0, 4.0, 2.0] and left.tolist() == [1.0, 0.0, np.inf]


def _chose_their_partners(call, awards, row=0):
    """Check seat by seat that each invitee is the lead's most trusted organization among those the seat could take.

    The seat may take an available organization (spare capacity, in no earlier consortium of the call, not yet
    seated) of a sector the consortium does not cover yet while it covers fewer than call_sectors (of any sector
    once no uncovered one is available). Returns the number of invitees checked.
    """
    min_sectors = int(call.params["call_sectors"][row])
    taken = np.zeros(call.n_community, bool)
    checked = 0
    for members in awards.new_members[row]:
        members = members[members >= 0]
        if not len(members):
            continue
        lead = members[0]
        seated = [lead]
        for j in members[1:]:
            free = (call.spare[row] >= 1) & ~taken
            free[seated] = False
            covered = {int(call.sector[row, m]) for m in seated}
            allowed = free.copy()
            if len(covered) < min_sectors:
                new_sector = free & ~np.isin(call.sector[row], list(covered))
                if new_sector.any():
                    allowed = new_sector
            assert allowed[j], (lead, j, seated)
            assert call.trust[row, lead, j] == call.trust[row, lead][allowed].max(), (lead, j, seated)
            seated.append(j)
            checked += 1
        taken[members] = True
    return checked


def test_applicant_led_lead_chooses_the_partners_it_trusts_most():
    # trust of organization 0 (the highest priority, so the lead) in the others; sectors 0,0,0,0,1,1,2,3
    call = make_call(sector=[0, 0, 0, 0, 1, 1, 2, 3], spare=[3, 3, 3, 0, 3, 3, 3, 3], call_sectors=2,
                     grants_per_call=2, n_orgs=4, call_size=3)
    call.trust[0, 0] = [1.0, 0.9, 0.8, 0.95, 0.2, 0.4, 0.7, 0.1]
    call.trust[0, 5] = [0.1, 0.1, 0.1, 0.1, 0.9, 1.0, 0.1, 0.8]
    a = funder.run_policy(call, "applicant_led")
    # 0 leads (priority); the second seat must cover a new sector: 6 (0.7 beats 5's 0.4 and 4's 0.2); then the most
    # trusted of any sector: 1 (0.9), 2 (0.8); 3 (0.95) has no spare membership
    assert a.new_members[0, 0].tolist() == [0, 6, 1, 2]
    # the second consortium: the highest-priority applicant left (4) leads; it trusts everyone 0.3, ties to the lower
    # index: 5 (sector 1 is covered by 4 itself, so the second seat needs a new sector: 7 is the only one left)
    assert a.new_members[0, 1].tolist() == [4, 7, 5, -1]
    assert _chose_their_partners(call, a) == 5
    assert a.new_strategy == "funder_forced" and (a.new_level[0] == call.params["forced_level"][0]).all()
    assert (a.new_amount[0] == call.params["grant_size"][0]).all() and (a.new_tag[0] == 2).all()
    mandate = funder.run_policy(call, "mandate")
    assert mandate.new_members[0, 0].tolist() != a.new_members[0, 0].tolist()  # the funder picks by priority instead


def test_applicant_led_meets_the_call_within_budget_on_random_calls():
    rng = np.random.default_rng(7)
    n_checked = 0
    for _ in range(40):
        n = int(rng.integers(6, 13))
        spare = rng.integers(0, 3, n)
        budget = float(rng.choice([0.0, 15.0, 20.0, 45.0, 100.0]))
        call = make_call(n=n, p=4, s=5, alive=tuple(np.flatnonzero(rng.random(4) < 0.3)), budget=budget,
                         sector=rng.integers(0, 4, n).tolist(), spare=spare.tolist(), priority=rng.random(n).tolist(),
                         call_size=int(rng.integers(2, 4)), call_sectors=int(rng.integers(1, 4)),
                         grants_per_call=int(rng.integers(1, 4)), n_orgs=5)
        call.trust[0] = rng.random((n, n))
        a = funder.run_policy(call, "applicant_led")  # run_policy checks spare capacity, slots and the budget
        real = (a.new_members[0] >= 0).any(axis=-1)
        assert real.sum() <= min(call.params["grants_per_call"][0], call.free_slot.sum(), budget // 20.0)
        assert a.new_amount[0][real].sum() <= budget
        for m in a.new_members[0][real]:
            m = m[m >= 0]
            assert len(m) >= call.params["call_size"][0]
            assert len(set(call.sector[0, m].tolist())) >= call.params["call_sectors"][0]
        n_checked += _chose_their_partners(call, a)
    assert n_checked >= 40  # the sample does form consortia


def test_applicant_led_in_the_engine_keeps_the_books_and_partners_chosen():
    """The engine's calls, recorded through a wrapper: every award chose its partners; the budget is never
    overspent (free + committed + spent = the budget, every month)."""
    import sim

    seen = []

    @funder.register_policy("applicant_led_recorded")
    def recorded(call):
        a = funder.applicant_led(call)
        seen.append((call, a))
        return a

    try:
        res = sim.simulate_community(n_runs=6, seed=3, funder_policy="applicant_led_recorded", initial_trust=0.6,
                                     n_community=16, max_partnerships=4, n_orgs=4, call_size=3, n_steps=48,
                                     call_interval=6, n_calls=6, funder_budget=100.0)
    finally:
        funder.unregister_policy("applicant_led_recorded")
    checked = sum(_chose_their_partners(call, a, row) for call, a in seen for row in range(call.n_rows))
    assert checked >= 20
    budget, committed = res.series("budget"), res.series("committed")
    assert (budget >= -1e-9).all() and (committed >= -1e-9).all()
    spent = res.summary["funder_spent"].to_numpy()
    assert np.allclose(budget[:, -1] + committed[:, -1] + spent, 100.0)
    t = res.partnerships[res.partnerships["origin"] == "applicant_led_recorded"]
    assert len(t) >= 6 and (t["n_founding"] >= 3).all() and (t["strategy"] == "funder_forced").all()
