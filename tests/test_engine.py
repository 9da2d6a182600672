"""The vectorized engine: invariants, batch invariance, determinism, strategies, outputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.engine import SERIES, initial_state, run_batch
from sim.levels import NEED, SECTORS
from sim.params import PARAMETERS, batch_params
from sim.rng import run_keys, run_seeds

STRATEGIES = ["stepwise", "funder_forced", "funder_schedule", "fixed", "funder_patient"]


def check_invariants(r: sim.Results) -> None:
    level, active = r.series("level"), r.series("active")
    trust = {k: r.series(k) for k in ("mean_trust", "min_trust", "sd_trust")}
    dead = level == 0
    # trust stays in [0, 1]
    for name in ("mean_trust", "min_trust"):
        alive = trust[name][~dead]
        assert np.all((alive >= 0) & (alive <= 1)), name
    assert np.all(trust["min_trust"][~dead] <= trust["mean_trust"][~dead] + 1e-12)
    assert np.all(trust["sd_trust"][~dead] >= 0)
    # dissolution is absorbing, and everything reads "dissolved" from that step on
    first_dead = np.where(dead.any(axis=1), dead.argmax(axis=1), level.shape[1])
    cols = np.arange(level.shape[1])
    after = cols[None, :] >= first_dead[:, None]
    assert np.array_equal(dead, after)
    assert np.all(active[after] == 0) and np.all(r.series("benefit")[after] == 0)
    assert np.all(r.series("success")[after] == 0) and np.all(r.series("grant")[after] == 0)
    for v in trust.values():
        assert np.all(np.isnan(v[after])) and not np.any(np.isnan(v[~after]))
    # a run with fewer members than its quorum (under the quorum rule), or than two, is dissolved
    n_orgs = r.summary["n_orgs"].to_numpy()
    quorum = np.maximum(2, np.ceil(r.summary["quorum"].to_numpy() * n_orgs - 1e-9))
    quorum = np.where(r.summary["dissolution"].to_numpy() == "quorum", quorum, 2)
    assert np.all(active[~after] >= quorum[:, None].repeat(level.shape[1], 1)[~after])
    assert not np.any(active == 1)
    # members come only as newcomers and go only by leaving: active[t] = active[t-1] + joined[t] - left[t]
    joined, left = r.series("joined").astype(int), r.series("left").astype(int)
    before = np.hstack([n_orgs[:, None], active[:, :-1].astype(int)])
    assert np.array_equal((before + joined - left)[~after], active[~after].astype(int))
    closed = r.summary["membership"].to_numpy() == "closed"
    assert np.all(joined[closed] == 0) and np.all(joined[after] == 0) and np.all(left[after] == 0)
    assert np.all(np.diff(active.astype(int), axis=1)[~after[:, 1:] & closed[:, None]] <= 0)
    # net benefit: the benefit minus the contributions' cost, summed; the newcomers and leavers are counted
    net = r.series("net_benefit")
    assert np.all(net <= r.series("benefit") + 1e-12) and np.all(net[after] == 0)
    assert np.all(np.isnan(r.series("member_payoff")[after])) and not np.isnan(r.series("member_payoff")[~after]).any()
    # level within the ladder; cumulative benefit is the running sum of benefit
    assert level.min() >= 0 and level.max() <= 5
    np.testing.assert_allclose(np.cumsum(r.series("benefit"), axis=1), r.series("cumulative_benefit"), atol=1e-9)
    s = r.summary
    np.testing.assert_allclose(s["cumulative_benefit"], r.series("cumulative_benefit")[:, -1], atol=1e-9)
    assert np.array_equal(s["dissolved"], dead[:, -1])
    np.testing.assert_array_equal(s["dissolved_step"], np.where(dead.any(1), first_dead + 1.0, np.nan))
    assert np.array_equal(s["peak_level"], level.max(axis=1))
    assert np.array_equal(s["final_level"], level[:, -1])
    for k in range(1, 6):
        reached = (level == k).any(axis=1)
        expect = np.where(reached, (level == k).argmax(axis=1) + 1.0, np.nan)
        np.testing.assert_array_equal(s[f"first_step_level_{k}"], expect)
    np.testing.assert_allclose(s["final_trust"], trust["mean_trust"][:, -1])
    np.testing.assert_allclose(s["net_benefit"], net.sum(axis=1), atol=1e-9)
    assert np.array_equal(s["n_joined"], joined.sum(axis=1)) and np.array_equal(s["n_left"], left.sum(axis=1))
    np.testing.assert_allclose(s["turnover"], s["n_left"] / n_orgs)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_invariants_each_strategy(strategy):
    r = sim.simulate(n_runs=300, seed=11, strategy=strategy, initial_trust=0.6, n_orgs=7, n_steps=80)
    check_invariants(r)


def test_level_five_only_with_three_sectors():
    n = 400
    p = batch_params(n, {"strategy": "fixed", "fixed_level": 5, "n_orgs": 3, "initial_trust": 0.95, "n_steps": 30,
                         "quorum": 0.0, "exit_base": 0.0, **sim.REFERENCE_VARIANTS})  # the founders' sectors
    seeds = run_seeds(5, n)
    out = run_batch(seeds, p, 30)
    init = initial_state(run_keys(seeds), p, 3)
    n_sectors = np.array([len(set(row)) for row in init.sector])
    level = out.series["level"]
    assert (n_sectors >= 3).any() and (n_sectors < 3).any()
    # with fewer than three sectors at the table, level 5 is never played
    assert not np.any(level[n_sectors < 3] == 5)
    assert np.all(level[n_sectors >= 3][:, 0] == 5)


def test_batch_invariance_alone_or_among_others():
    seeds = run_seeds(2026, 300)
    params = dict(strategy="funder_schedule", initial_trust=0.5, n_orgs=9)
    big = sim.simulate(seeds=seeds, **params)
    # the same run alone, and last in a batch of different runs of other sizes and strategies
    i = 137
    alone = sim.simulate(seeds=[seeds[i]], **params)
    others = sim.simulate(
        seeds=np.append(run_seeds(7, 50), seeds[i]),
        strategy=["stepwise"] * 25 + ["fixed"] * 25 + ["funder_schedule"],
        initial_trust=np.append(np.linspace(0, 1, 50), 0.5),
        n_orgs=np.append(np.arange(50) % 20 + 2, 9),
    )
    for name in SERIES:
        np.testing.assert_array_equal(alone.series(name)[0], big.series(name)[i])
        np.testing.assert_array_equal(others.series(name)[-1], big.series(name)[i])


def test_run_i_of_root_seed_independent_of_batch_size_and_chunking():
    a = sim.simulate(n_runs=500, seed=9, strategy="funder_forced", initial_trust=0.7, chunk_size=64)
    b = sim.simulate(n_runs=50, seed=9, strategy="funder_forced", initial_trust=0.7, chunk_size=1000)
    c = sim.simulate(n_runs=10, seed=9, first_run=40, strategy="funder_forced", initial_trust=0.7)
    for name in SERIES:
        np.testing.assert_array_equal(a.series(name)[:50], b.series(name))
        np.testing.assert_array_equal(a.series(name)[40:50], c.series(name))
    assert c.summary["run"].tolist() == list(range(40, 50))


def test_deterministic():
    a = sim.simulate(n_runs=200, seed=3, strategy="stepwise")
    b = sim.simulate(n_runs=200, seed=3, strategy="stepwise")
    for name in SERIES:
        np.testing.assert_array_equal(a.series(name), b.series(name))
    c = sim.simulate(n_runs=200, seed=4, strategy="stepwise")
    assert not np.array_equal(a.series("mean_trust"), c.series("mean_trust"))


def test_mixed_strategy_batch_equals_separate_batches():
    seeds = run_seeds(77, 100)
    strategies = np.array(STRATEGIES * 20)
    mixed = sim.simulate(seeds=seeds, strategy=strategies, initial_trust=0.6)
    for s in STRATEGIES:
        sel = strategies == s
        alone = sim.simulate(seeds=seeds[sel], strategy=s, initial_trust=0.6)
        for name in SERIES:
            np.testing.assert_array_equal(mixed.series(name)[sel], alone.series(name))


def test_initial_state_follows_model_md():
    n = 20000
    p = batch_params(n, {"n_orgs": 4, "initial_trust": 0.6, "prejudice": 0.4, "cultural_distance": 0.5})
    init = initial_state(run_keys(run_seeds(1, n)), p, 4)
    assert set(np.unique(init.sector)) == set(range(len(SECTORS)))
    assert abs(init.group.mean() - 0.5) < 0.01
    same = ~init.other_group & ~np.eye(4, dtype=bool)
    # T = clip(0.6 - 0.4 * d + 0.05 z): same-group mean 0.6, cross-group mean 0.6 - 0.4 * 0.5
    assert abs(init.trust[same].mean() - 0.6) < 0.002
    assert abs(init.trust[init.other_group].mean() - 0.4) < 0.002
    assert abs(init.trust[same].std() - 0.05) < 0.002
    assert np.all(np.diagonal(init.trust, axis1=1, axis2=2) == 0)
    assert abs(init.traits[:, 1].mean() - 0.5) < 0.002  # leadership mean


def test_dissolution_and_padding_with_mixed_sizes():
    r = sim.simulate(n_runs=200, seed=5, n_orgs=np.arange(200) % 63 + 2, strategy="fixed", initial_trust=0.3)
    check_invariants(r)
    assert r.summary["dissolved"].mean() > 0.9
    assert r.series("active")[:, 0].max() <= 64


def test_custom_strategy_registry():
    @sim.register("always_two", start_level=2)
    def always_two(s):
        """Hold coordination."""
        return np.full_like(s.level, 2)

    try:
        r = sim.simulate(n_runs=50, seed=1, strategy="always_two", n_steps=20)
        lv = r.series("level")
        assert set(np.unique(lv)) <= {0, 2} and (lv == 2).any()
        with pytest.raises(ValueError, match="already registered"):
            sim.register("always_two")(always_two)
        assert "always_two" in sim.strategy_names()
    finally:
        sim.unregister("always_two")
    with pytest.raises(sim.ParamError, match="not a registered strategy"):
        sim.simulate(n_runs=2, strategy="always_two")


def test_funder_forced_holds_level_while_funded_and_reviews_at_deadline():
    r = sim.simulate(n_runs=400, seed=8, strategy="funder_forced", initial_trust=0.9, deadline=12,
                     benefit_target=1e6, grant_term=100, forced_level=4, n_steps=30, review="fixed_target")
    level, grant = r.series("level"), r.series("grant")
    alive = level > 0
    assert np.all(level[:, :12][alive[:, :12]] == 4)  # held at forced_level until the review
    assert np.all(grant[:, 12:] == 0)  # the target is unreachable: every grant ends at step 12
    assert (grant[:, :12] > 0).any()


def test_funder_schedule_climbs_on_schedule():
    r = sim.simulate(n_runs=100, seed=2, strategy="funder_schedule", schedule_interval=3, grant_term=12,
                     benefit_target=0, initial_trust=0.9, n_steps=12, quorum=0.0, exit_base=0, exit_gap=0,
                     identity_weight=0, **sim.REFERENCE_VARIANTS)
    level = r.series("level")
    expected = np.minimum(1 + np.arange(12) // 3, 5)
    assert np.all(level == expected[None, :])


def test_stepwise_climbs_one_rung_at_a_time():
    r = sim.simulate(n_runs=300, seed=4, strategy="stepwise", initial_trust=0.9, n_steps=120)
    lv = r.series("level").astype(int)
    steps = np.diff(lv, axis=1)
    alive = lv[:, 1:] > 0
    assert set(np.unique(steps[alive])) <= {-1, 0, 1}
    assert lv[:, 0].max() == 1
    assert (lv == 5).any()


def test_lower_trust_need_means_fewer_exits():
    # Exit pressure grows with the gap between trust and the level's need.
    low = sim.simulate(n_runs=2000, seed=1, strategy="fixed", fixed_level=4, initial_trust=0.2, n_steps=24)
    high = sim.simulate(n_runs=2000, seed=1, strategy="fixed", fixed_level=4, initial_trust=0.9, n_steps=24)
    assert low.summary["dissolved"].mean() > high.summary["dissolved"].mean() + 0.3
    assert NEED[4] == 0.65


def test_keep_subset_of_series_and_errors():
    r = sim.simulate(n_runs=20, seed=1, keep=["level"])
    assert r.series_names == ["level"]
    with pytest.raises(KeyError, match="not kept"):
        r.series("mean_trust")
    with pytest.raises(sim.ParamError, match="unknown series"):
        sim.simulate(n_runs=2, keep=["trust"])
    with pytest.raises(sim.ParamError, match="n_runs"):
        sim.simulate(n_runs=-5)
    with pytest.raises(sim.ParamError, match="seed"):
        sim.simulate(n_runs=5, seed=-1)
    with pytest.raises(sim.ParamError, match="n_steps must be the same"):
        sim.simulate(n_runs=2, n_steps=[10, 20])


CAPS = {"n_steps": 40, "n_orgs": 16}
valid_value = {
    name: (
        st.integers(int(spec.low), int(min(spec.high, CAPS.get(name, spec.high))))
        if spec.kind is int
        else st.sampled_from(sim.variant_names(name))
        if spec.kind is str
        else st.floats(spec.low, min(spec.high, 100.0), allow_nan=False)
    )
    for name, spec in PARAMETERS.items()
    if name != "strategy"
}


@given(
    params=st.fixed_dictionaries({}, optional=valid_value),
    strategy=st.sampled_from(STRATEGIES),
    seed=st.integers(0, 2**64 - 1),
)
def test_property_invariants_hold_for_any_valid_parameters(params, strategy, seed):
    params.setdefault("n_steps", 30)
    r = sim.simulate(n_runs=8, seed=seed, strategy=strategy, **params)
    check_invariants(r)


def test_designated_free_riders_never_contribute_and_lose_their_partners_trust():
    r = sim.simulate(n_runs=400, seed=21, n_orgs=6, free_riders=2, initial_trust=0.6, quorum=0.0, n_steps=36,
                     keep=["contribution_rate", "active", "level"], **sim.REFERENCE_VARIANTS)
    rate, active = r.series("contribution_rate"), r.series("active")
    full = active == 6
    assert np.all(rate[full] <= 4 / 6 + 1e-12)  # organizations 1 and 2 never contribute
    from sim.model import PartnershipModel

    no_exit = dict(exit_base=0.0, exit_gap=0.0, identity_weight=0.0)
    for seed in r.seeds[:5]:
        m = PartnershipModel(seed=int(seed), n_orgs=6, free_riders=2, initial_trust=0.6, n_steps=36, **no_exit,
                             **sim.REFERENCE_VARIANTS)
        m.run_model()
        received = np.nanmean(m.trust_matrix(), axis=0)  # partners' mean trust in each organization
        assert received[:2].max() < received[2:].min()  # partners trust the free riders least


def test_funder_patient_without_money_is_stepwise():
    # With grant 0 the funder pays nothing and holds no one, so "the stepwise rules with a grant until
    # grant_term" must be stepwise exactly: the grant's end must not touch the climb counter.
    seeds = run_seeds(31, 300)
    patient = sim.simulate(seeds=seeds, strategy="funder_patient", grant=0.0, initial_trust=0.5, grant_term=30)
    stepwise = sim.simulate(seeds=seeds, strategy="stepwise", grant=0.0, initial_trust=0.5, grant_term=30)
    for name in SERIES:
        np.testing.assert_array_equal(patient.series(name), stepwise.series(name))


def test_trust_update_is_one_form_for_the_batch_and_for_one_row():
    """rules.update_trust and the misjudging chance give the same bits on (runs x n x n) arrays in place
    (the engine) and on one organization's row with NaN for "no partner" (the Mesa agent)."""
    from sim import rules

    rng = np.random.default_rng(0)
    r, n = 40, 6
    trust = rng.random((r, n, n))
    trust[:, ::4] = 1.0  # exactly 1 and 0 occur
    trust[:, 1::5] = 0.0
    success = rng.random(r) < 0.5
    stakes = rng.choice([0.2, 0.4, 0.6, 0.8, 1.0], r)
    gain, cel, loss, frp = (rng.random(r) for _ in range(4))
    leadership = rng.random((r, n))
    seen = rng.random((r, n, n)) < 0.3
    run = (slice(None), None, None)
    batch = trust.copy()
    rules.update_trust(batch, success[run], stakes[run], gain_rate=gain[run], celebration=cel[run],
                       loss_rate=loss[run], softening=rules.failure_softening(leadership)[:, :, None],
                       free_rider_penalty=frp[run], seen_free=seen, out=batch)
    scale = rules.misjudge_scale(0.3, rng.random((r, n))[:, :, None], rng.random((r, n))[:, None, :])
    distance = rng.random((r, n, n))
    chance = rules.misjudge_probability(scale, distance.copy(), out=None)
    for a in range(r):
        for i in range(n):
            row = trust[a, i].copy()
            row[i] = np.nan
            one = rules.update_trust(row, bool(success[a]), stakes[a], gain_rate=float(gain[a]),
                                     celebration=float(cel[a]), loss_rate=float(loss[a]),
                                     softening=rules.failure_softening(float(leadership[a, i])),
                                     free_rider_penalty=float(frp[a]), seen_free=seen[a, i])
            others = np.arange(n) != i
            assert np.isnan(one[i])
            assert np.array_equal(one[others], batch[a, i, others])
            assert np.array_equal(rules.misjudge_probability(scale[a, i], distance[a, i]), chance[a, i])
    # and it is the update MODEL.md states
    g = gain * stakes * (1 + cel)
    lo = loss[:, None, None] * stakes[:, None, None] * (1 - 0.6 * leadership)[:, :, None]
    expect = np.where(success[run], trust + g[run] * (1 - trust), trust - lo * trust)
    expect = np.clip(expect - (frp * stakes)[run] * expect * seen, 0, 1)
    np.testing.assert_allclose(batch, expect, rtol=0, atol=1e-15)
    assert rules.LEADERSHIP_SOFTENING == 0.6 and rules.MISJUDGE_FLOOR == 0.5


def test_batch_compact_drops_rows_of_every_per_run_field():
    from sim.engine import Batch

    p = batch_params(7, {"n_orgs": np.arange(7) + 2, "strategy": ["stepwise", "fixed"] * 3 + ["fixed"]})
    b = Batch.start(run_seeds(1, 7), p)
    keep = np.array([True, False, True, True, False, False, True])
    b.compact(keep)
    arrays = {name: v for name, v in vars(b).items() if isinstance(v, np.ndarray)}
    assert len(arrays) > 25
    assert all(len(v) == keep.sum() for v in arrays.values())
    assert all(len(v) == keep.sum() for v in b.params.values())
    np.testing.assert_array_equal(b.rows, np.flatnonzero(keep))
    assert [s.name for s in b.strategies] == ["stepwise", "fixed"]
    b.compact(np.array([False, False, True, True]))  # rows 3 and 6: both fixed
    assert [s.name for s in b.strategies] == ["fixed"]


def test_run_batch_runs_a_given_phase_sequence():
    from sim.engine import PHASES, update_trust

    p = batch_params(50, {"exit_base": 0.0, "exit_gap": 0.0, "identity_weight": 0.0, "n_steps": 20,
                          **sim.REFERENCE_VARIANTS})
    seeds = run_seeds(3, 50)
    default = run_batch(seeds, p, 20)
    explicit = run_batch(seeds, p, 20, phases=PHASES)
    for name in SERIES:
        np.testing.assert_array_equal(default.series[name], explicit.series[name])
    frozen = run_batch(seeds, p, 20, phases=tuple(ph for ph in PHASES if ph is not update_trust))
    m = frozen.series["mean_trust"]
    assert np.array_equal(m, np.broadcast_to(m[:, :1], m.shape))  # no trust update, no exits: trust never moves
    assert not np.array_equal(default.series["mean_trust"], m)


def test_misjudge_scale_in_place_equals_the_expression():
    """rules.misjudge_scale(..., out=) does the expression's operations in its buffer: the same numbers bit for bit
    (the community's month view uses it; the Mesa twins use the plain expression on scalars)."""
    from sim import rules

    rng = np.random.default_rng(5)
    m = rng.random((40, 1, 1))
    k = rng.random((40, 6))
    out = np.empty((40, 6, 6))
    got = rules.misjudge_scale(m, k[:, :, None], k[:, None, :], out=out)
    assert got is out
    assert np.array_equal(got, rules.misjudge_scale(m, k[:, :, None], k[:, None, :]))
    assert all(rules.misjudge_scale(float(m[a, 0, 0]), float(k[a, i]), float(k[a, j])) == got[a, i, j]
               for a in range(0, 40, 7) for i in range(6) for j in range(6))
