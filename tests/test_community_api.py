"""``sim.simulate_community``'s API safety, as ``sim.simulate``'s (issue 10 applied to issue 15): one seed check,
the memory guard, no up-front broadcast, one range check for every parameter (sim.params), run ids in every
table."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import sim
from sim.community_params import COMMUNITY_VOCABULARY, check_community_params, community_params
from sim.community_results import community_memory_estimate
from sim.params import ParamError, check_value, coerce_value
from sim.rng import run_seeds

SMALL = {"n_steps": 12, "n_community": 10, "max_partnerships": 3, "n_orgs": 4, "call_size": 3}


def test_seed_and_seeds_together_is_an_error():
    with pytest.raises(ParamError, match="not both"):
        sim.simulate_community(seed=3, seeds=[1, 2], **SMALL)
    with pytest.raises(ParamError, match="give n_runs"):
        sim.simulate_community(**SMALL)
    with pytest.raises(ParamError, match=r"n_runs = 3 but 2 seeds"):
        sim.simulate_community(n_runs=3, seeds=[1, 2], **SMALL)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_runs": 2, "seed": -1}, r"seed = -1 must be a whole number in 0..2\*\*64-1"),
    ({"n_runs": 2, "seed": 2**64}, r"seed = 18446744073709551616 must be a whole number"),
    ({"n_runs": 2, "seed": 1.0}, "seed = 1.0 must be a whole number"),
    ({"seeds": [1, -2]}, r"seeds\[1\] = -2 must be a whole number"),
    ({"seeds": np.array([0.5, 1.0])}, "floating-point"),
    ({"n_runs": 2, "first_run": -1}, r"first_run = -1 must be a whole number in 0\.\."),
    ({"n_runs": 2, "first_run": 2**63 - 1}, "run ids must stay below 2\\*\\*63"),
    ({"n_runs": 0}, "n_runs = 0 must be a whole number >= 1"),
    ({"n_runs": True}, "n_runs = True"),
    ({"n_runs": 2, "chunk_size": 0}, "chunk_size = 0 must be a whole number >= 1"),
    ({"n_runs": 2, "keep": ["partnerships", "level"]}, "unknown series 'level' in keep"),
    ({"n_runs": 2, "keep": 5}, "keep = 5 must be a series name"),
    ({"n_runs": 2, "max_memory": 0}, "max_memory = 0 must be a number of bytes > 0"),
])
def test_bad_arguments_name_the_field(kwargs, message):
    with pytest.raises(ParamError, match=message):
        sim.simulate_community(**kwargs, **SMALL)


def test_keep_one_name_is_one_series_and_seeds_replay_runs():
    res = sim.simulate_community(n_runs=5, seed=11, keep="partnerships", first_run=3, **SMALL)
    assert res.series_names == ["partnerships"]
    assert res.summary["run"].tolist() == [3, 4, 5, 6, 7]
    assert np.array_equal(res.seeds, run_seeds(11, 5, start=3))
    again = sim.simulate_community(seeds=res.summary["seed"], keep=["partnerships"], **SMALL)
    assert np.array_equal(again.series("partnerships"), res.series("partnerships"))
    whole = sim.simulate_community(n_runs=8, seed=11, keep=[], **SMALL)
    assert whole.series_names == []
    assert np.array_equal(whole.summary["cumulative_benefit"].to_numpy()[3:],
                          res.summary["cumulative_benefit"].to_numpy())


def test_every_table_names_its_run_even_when_seeds_repeat():
    """Under common random numbers one seed serves several runs: the tables carry run ids, not only seeds."""
    seeds = np.repeat(run_seeds(2, 3), 2)  # runs 2k and 2k + 1 share a seed, and differ in gossip
    gossip = np.tile([0.0, 0.5], 3)
    res = sim.simulate_community(seeds=seeds, gossip=gossip, first_run=10, convene_rate=0.1, chunk_size=4, **SMALL)
    runs = res.summary["run"].to_numpy()
    assert runs.tolist() == list(range(10, 16))
    for table in (res.partnerships, res.organizations, res.memberships):
        assert table["run"].isin(runs).all()
        pairs = table[["run", "seed"]].drop_duplicates()
        assert (pairs["seed"].to_numpy() == seeds[pairs["run"].to_numpy() - 10]).all()
    assert (res.organizations.groupby("run").size() == SMALL["n_community"]).all()
    n_formed = res.partnerships.groupby("run").size().reindex(runs, fill_value=0).to_numpy()
    assert n_formed.sum() > 0
    alone = sim.simulate_community(seeds=seeds[3:4], gossip=gossip[3], convene_rate=0.1, **SMALL)
    mine = res.partnerships[res.partnerships["run"] == 13].drop(columns="run").reset_index(drop=True)
    assert mine.equals(alone.partnerships.drop(columns="run"))


def test_memory_guard_refuses_before_allocating():
    tracemalloc.start()
    with pytest.raises(ParamError, match=r"50,000,000 communities x 120 steps .* above the limit .* max_memory="):
        sim.simulate_community(n_runs=50_000_000, seed=1)
    with pytest.raises(ParamError, match="keep='partnerships'"):
        sim.simulate_community(n_runs=1000, seed=1, max_memory=1e6)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20e6  # a per-run parameter array of 50 million runs alone would be 400 MB
    big = community_memory_estimate(50_000_000, 120)
    assert big.total > 1e12 and big.series == 50_000_000 * 120 * sum(
        o.dtype.itemsize for o in sim.outputs.community_outputs("series").values())


def test_parameters_are_checked_without_a_broadcast():
    tracemalloc.start()
    p = check_community_params(10**8, {"gossip": 0.2, "funder_policy": "mandate"})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1e6 and p["gossip"].ndim == 0 and p["funder_policy"][()] == "mandate"
    assert set(p) == set(COMMUNITY_VOCABULARY)
    per_run = check_community_params(3, {"n_community": [6, 10, 30]})
    assert per_run["n_community"].tolist() == [6, 10, 30] and per_run["n_orgs"].ndim == 0
    assert community_params(3, {"n_community": [6, 10, 30]})["n_orgs"].tolist() == [6, 6, 6]


@pytest.mark.parametrize("kwargs", [
    {"n_runs": 48, "n_steps": 60},
    {"n_runs": 30, "n_steps": 60, "n_community": 50, "max_partnerships": 12, "chunk_size": 10},
    {"n_runs": 40, "n_steps": 96, "funder_policy": "mandate", "convene_rate": 0.05, "keep": []},
])
def test_memory_estimate_bounds_what_is_used(kwargs):
    """The estimate is an upper bound of what tracemalloc measures, within a factor of 3."""
    sim.simulate_community(n_runs=2, n_steps=3)  # imports and caches outside the measurement
    tracemalloc.start()
    sim.simulate_community(seed=4, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    est = community_memory_estimate(kwargs["n_runs"], kwargs["n_steps"], kwargs.get("keep"),
                                    kwargs.get("n_community", 30), kwargs.get("max_partnerships", 8), 6,
                                    kwargs.get("chunk_size"))
    print(f"measured {peak / 1e6:.1f} MB, estimated {est.total / 1e6:.1f} MB ({est})")
    assert peak <= est.total <= 3 * peak


def test_community_ranges_come_from_the_one_range_check():
    """A community parameter is checked by sim.params (the one home of range checks), per value and per run."""
    with pytest.raises(ParamError, match=r"grant_size = 0.0 is out of range \(allowed: > 0\)"):
        check_value("grant_size", 0.0, COMMUNITY_VOCABULARY)
    with pytest.raises(ParamError, match=r"funder_budget = -1.0 \(run 1\) is out of range \(allowed: >= 0\)"):
        sim.simulate_community(n_runs=2, funder_budget=[5.0, -1.0], **SMALL)
    with pytest.raises(ParamError, match=r"max_partnerships = 2.5 must be a whole number \(allowed: 1..64\)"):
        sim.simulate_community(n_runs=2, **{**SMALL, "max_partnerships": 2.5})
    with pytest.raises(ParamError, match=r"funder_policy = 'lavish' is not allowed \(allowed: one of none, mandate"):
        sim.simulate_community(n_runs=2, funder_policy="lavish", **SMALL)
    with pytest.raises(ParamError, match=r"gossip = True is not a number"):
        sim.simulate_community(n_runs=2, gossip=True, **SMALL)
    with pytest.raises(ParamError, match=r"n_community = 3 \(run 1\) is smaller than n_orgs = 4"):
        sim.simulate_community(n_runs=2, **{**SMALL, "n_community": [10, 3]})
    with pytest.raises(ParamError, match=r"unknown parameter 'gosip'; did you mean 'gossip'"):
        sim.simulate_community(n_runs=2, gosip=0.1, **SMALL)
    assert coerce_value("max_memberships", "2", COMMUNITY_VOCABULARY) == 2
    assert coerce_value("funder_policy", "staged", COMMUNITY_VOCABULARY) == "staged"
    assert math.isinf(COMMUNITY_VOCABULARY["funder_budget"].high)
    with pytest.raises(ParamError, match="unknown parameter 'gossip'"):
        check_value("gossip", 0.1)  # not a partnership parameter


def test_shared_pair_updates_in_ascending_slot_order_by_hand():
    """docs/ODD.md 10.2 (4): a pair in two partnerships is updated once per shared partnership, lower slot first.

    Organizations 0 and 1 work together in slot 0 (with 2, at level 1) and in slot 1 (with 3, at level 4). Slot 0
    succeeds, slot 1 fails. With gain_rate 0.1, celebration 0.2, loss_rate 0.25, leadership 0.5 (softening
    1 - 0.6 x 0.5 = 0.7) and stakes 0.2 (level 1) and 0.8 (level 4), by hand:
    success g = 0.1 x 0.2 x 1.2 = 0.024, T <- T + g (1 - T); failure l = 0.25 x 0.8 x 0.7 = 0.14, T <- T (1 - l).
    T01 = 0.5: slot 0 gives 0.512, then slot 1 gives 0.512 x 0.86 = 0.44032 (the other order would give 0.44368).
    T10 = 0.4: 0.4144, then 0.356384. A pair in one partnership only is updated once (T02 = 0.512, T03 = 0.43);
    a pair in none keeps its trust (T23 = 0.5).
    """
    from sim import community as C
    from sim import engine

    params = community_params(1, {
        "n_community": 4, "n_orgs": 3, "max_partnerships": 2, "max_memberships": 2, "gossip": 0.0, "prior_ties": 0.0,
        "initial_trust": 0.5, "trust_noise": 0.0, "prejudice": 0.0, "trait_spread": 0.0, "leadership": 0.5,
        "gain_rate": 0.1, "celebration": 0.2, "loss_rate": 0.25, "free_rider_penalty": 0.0, "misperception": 0.0,
        "miscommunication": 0.0, "contribution_bias": 10.0, "success_bias": 0.0, "success_slope": 50.0,
        "strategy": "fixed", "membership": "closed"})
    cb = C.CommunityBatch.start(run_seeds(15, 1), params)
    rows = np.array([0])
    for slot, members, level in ((0, [0, 1, 2], 1), (1, [0, 1, 3], 4)):
        cb.open_slot(rows, np.array([slot]), np.array([members]), step=0, origin=1, convener=members[0],
                     strategy=np.array(["fixed"], dtype=object), level=np.array([level]), funded=False,
                     award=np.array([np.inf]), funder_money=False, promised=np.zeros(1))
    cb.trust[0, 1, 0] = 0.4
    assert cb.level[0].tolist() == [1, 4] and (cb.trust[0][cb.pair_ok[0]] > 0).all()
    t = 1
    view = C.month_view(cb, t, np.zeros((1, 2), dtype=np.int64))
    assert view.slots.tolist() == [0, 1] and view.rows.tolist() == [0, 0]  # slot-major rows
    upto = engine.PHASES.index(engine.update_trust) + 1
    C.partnership_phases(cb, view, engine.PHASES[1:upto])
    assert view.step.success.tolist() == [True, False]
    assert view.step.contributed.all() and not view.step.seen_free.any()
    T = cb.trust[0]
    by_hand = {(0, 1): 0.44032, (1, 0): 0.356384, (0, 2): 0.512, (2, 0): 0.512, (1, 2): 0.512, (0, 3): 0.43,
               (3, 1): 0.43, (2, 3): 0.5, (3, 2): 0.5}
    for (i, j), want in by_hand.items():
        assert T[i, j] == pytest.approx(want, rel=1e-12, abs=0), (i, j)
    assert abs(T[0, 1] - 0.44368) > 1e-3  # the other order is far outside the tolerance
