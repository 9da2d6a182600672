"""Model 5's rules: turnover, the partnership's own dissolution, net payoffs, saturating capacity, scaled review.

Each rule's invariants (docs/ODD.md, Model 5 design section 13), checked on both implementations where they
are observable, plus the variant registry and the smoothness of dissolution in the partnership's size.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim import rules
from sim.engine import PHASES, grow_capacity, run_batch
from sim.levels import MULT
from sim.model import PartnershipModel
from sim.params import ParamError, batch_params
from sim.rng import MAX_ORGS, Purpose, normals, run_seeds
from sim.strategies import StrategyState, get_strategy
from sim.variants import MODEL5_VARIANTS, REFERENCE_VARIANTS, review_target

# --- turnover -------------------------------------------------------------------------------------------------


class Checked(PartnershipModel):
    """The Mesa model with checks after phase 0 (each newcomer) and phase 3 (the payoffs add up)."""

    filled = 0
    payoff_steps = 0

    def recruit(self) -> None:
        before = list(self.by_index)
        was_member = [o.active for o in before]
        seen = {o.unique_id for o in self.organizations}
        super().recruit()
        t, p = self.steps, self.params
        filled = [i for i, o in enumerate(self.by_index) if o is not before[i]]
        for i in filled:
            new = self.by_index[i]
            assert not was_member[i], "only a vacant seat is filled"
            assert new.unique_id not in seen, "by a new agent"
            assert new.index == i and new.joined_step == t and new.active and not new.free_rider
            assert new.capacity == 1.0 and new.recent_payoff == 0.0
            for o in self.members:
                if o is new:
                    assert np.isnan(new.trust[i])
                    continue
                j = o.index
                d0 = p.cultural_distance * (o.group != new.group)
                z_from = normals(self._keys, t, Purpose.NEW_TRUST, np.uint64(i * MAX_ORGS + j))[0]
                z_to = normals(self._keys, t, Purpose.NEW_TRUST, np.uint64(j * MAX_ORGS + i))[0]
                assert new.trust[j] == rules.initial_trust(p.initial_trust, p.prejudice, d0, p.trust_noise, z_from)
                assert o.trust[i] == rules.initial_trust(p.initial_trust, p.prejudice, d0, p.trust_noise, z_to)
                assert new.distance[j] == o.distance[i] == d0  # the unlearned set-up distance
        for i, o in enumerate(self.by_index):
            if was_member[i]:
                assert o is before[i], "a member's seat is never given away"
        assert self.joined == len(filled)
        Checked.filled += len(filled)

    def payoffs(self) -> None:
        super().payoffs()
        members = self.members
        total = sum(o.net_payoff for o in members)
        assert total == pytest.approx(self.net_benefit + self.grant_paid, abs=1e-12)
        assert self.member_payoff * len(members) == pytest.approx(self.net_benefit + self.grant_paid, abs=1e-12)
        Checked.payoff_steps += 1


def test_a_vacancy_is_filled_only_by_a_newcomer_with_no_history():
    Checked.filled = 0
    params = dict(n_orgs=5, n_steps=80, exit_base=0.05, recruit_rate=0.5, dissolution="quorum", quorum=0.0)
    for seed in range(6):
        model = Checked(seed=seed, **params)
        model.run_model()
        engine = sim.simulate(seeds=[seed], **params)
        for name, values in model.series().items():
            np.testing.assert_array_equal(values, engine.series(name)[0], err_msg=name)
    assert Checked.filled >= 20


def test_engine_fills_only_seats_left_vacant_and_closed_never_does():
    r = sim.simulate(n_runs=2000, seed=4, n_orgs=6, exit_base=0.02)
    active, joined = r.series("active").astype(int), r.series("joined").astype(int)
    before = np.hstack([np.full((len(r), 1), 6), active[:, :-1]])
    assert (joined > 0).any()
    assert np.all(joined <= 6 - before)  # at most the vacancies at the end of the previous step
    assert np.all(joined[:, 0] == 0)  # no vacancy on day one
    closed = sim.simulate(n_runs=500, seed=4, n_orgs=6, exit_base=0.02, membership="closed")
    assert closed.summary["n_joined"].eq(0).all() and closed.summary["n_left"].gt(0).any()


def test_turnover_without_dissolution_happens_under_the_defaults():
    s = sim.simulate(n_runs=2000, seed=8).summary
    kept = s[~s["dissolved"]]
    assert (kept["n_left"] > 0).mean() > 0.3 and (kept["n_joined"] > 0).mean() > 0.3
    assert (kept["turnover"] >= 1.0).any()  # some partnerships outlive as many departures as they have seats


# --- dissolution ----------------------------------------------------------------------------------------------


def test_dissolution_is_absorbing_and_one_event():
    for params in ({}, REFERENCE_VARIANTS):
        r = sim.simulate(n_runs=2000, seed=9, strategy="funder_forced", initial_trust=0.5, **params)
        active = r.series("active").astype(int)
        gone = r.summary["dissolved"].to_numpy()
        step = r.summary["dissolved_step"].to_numpy()
        assert gone.mean() > 0.3
        for run in np.flatnonzero(gone)[:300]:
            d = int(step[run])
            assert np.all(active[run, d - 1:] == 0)
            assert d == 1 or active[run, d - 2] >= 2  # from two or more members straight to none
        assert not np.any(active == 1)


def test_decision_ends_partnerships_with_many_members_and_quorum_does_not():
    decided = sim.simulate(n_runs=3000, seed=2, n_orgs=8, strategy="funder_forced", initial_trust=0.3)
    active = decided.series("active").astype(int)
    s = decided.summary
    ends = s["dissolved_step"].dropna().astype(int).to_numpy()
    runs = np.flatnonzero(s["dissolved"].to_numpy())
    before = np.array([active[r, d - 2] if d > 1 else 8 for r, d in zip(runs, ends, strict=True)])
    assert (before >= 6).mean() > 0.8  # the partnership decides to end while nearly everyone is still there


@given(
    gap=st.floats(0, 1), fail=st.floats(0, 1), short=st.floats(0, 1), lead=st.floats(0, 1), funded=st.booleans(),
    base=st.floats(0, 1), coef=st.floats(0, 50), dl=st.floats(0, 20), grant=st.floats(0, 1),
    which=st.sampled_from(["gap", "fail", "short", "lead"]), more=st.floats(0, 0.5),
)
def test_dissolution_hazard_is_a_probability_and_monotone_in_each_input(gap, fail, short, lead, funded, base, coef,
                                                                        dl, grant, which, more):
    kw = dict(dissolve_base=base, dissolve_trust=coef, dissolve_fail=coef, dissolve_payoff=coef,
              dissolve_leadership=dl, grant=grant)
    x = dict(trust_gap=gap, fail_rate=fail, shortfall=short, mean_leadership=lead)
    h = rules.dissolution_hazard(**x, funded=funded, **kw)
    assert 0.0 <= h < 1.0 or (h == 1.0 and base * np.exp(50) > 30)  # 1 - exp(-lambda) rounds to 1 past ~37
    key = {"gap": "trust_gap", "fail": "fail_rate", "short": "shortfall", "lead": "mean_leadership"}[which]
    h2 = rules.dissolution_hazard(**{**x, key: x[key] + more}, funded=funded, **kw)
    assert (h2 <= h) if which == "lead" else (h2 >= h)
    assert rules.dissolution_hazard(**x, funded=True, **kw) <= rules.dissolution_hazard(**x, funded=False, **kw)


def test_leadership_softens_and_failures_hasten_the_decision():
    def dissolved(**kw):
        return sim.simulate(n_runs=3000, seed=5, strategy="funder_patient", **kw).summary["dissolved"].mean()

    assert dissolved(leadership=0.9) < dissolved(leadership=0.1) - 0.1
    assert dissolved(dissolve_fail=8.0) > dissolved(dissolve_fail=0.0) + 0.05


def _max_curvature(d: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(d, 2))))


def _dissolved_by_size(sizes, runs: int, **params) -> np.ndarray:
    return np.array([sim.simulate(n_runs=runs, seed=12, strategy="stepwise", initial_trust=0.3, n_orgs=n,
                                  keep=[], **params).summary["dissolved"].mean() for n in sizes])


@pytest.mark.slow
def test_dissolution_changes_smoothly_with_size():
    """Dissolved by month 120 against n_orgs 3..20: no second difference beyond 4 sd of its noise."""
    runs = 4000
    tolerance = 4 * np.sqrt(6 * 0.25 / runs)  # 0.077
    d = _dissolved_by_size(range(3, 21), runs)
    assert _max_curvature(d) <= tolerance, np.round(d, 3)
    # positive control: Model 4's quorum rule (calibrated quorum 0.9 and exit constants, closed membership)
    # jumps where ceil(0.9 n) does (n = 9 -> 10), so the same statistic must reject it
    control = 1000
    q = _dissolved_by_size(range(7, 13), control, dissolution="quorum", membership="closed", quorum=0.9,
                           exit_base=0.0012, exit_gap=0.05, identity_weight=0.0009)
    assert _max_curvature(q) > 4 * np.sqrt(6 * 0.25 / control), np.round(q, 3)


# --- payoffs --------------------------------------------------------------------------------------------------


def test_member_payoffs_add_up_to_net_benefit_plus_grant_in_the_twin():
    Checked.payoff_steps = 0
    for seed in range(4):
        for strategy in ("funder_forced", "funder_patient"):
            model = Checked(seed=seed, strategy=strategy, initial_trust=0.6, n_steps=60, exit_base=0.02)
            model.run_model()
    assert Checked.payoff_steps > 100


def test_engine_member_payoff_times_members_is_net_benefit_plus_grant():
    r = sim.simulate(n_runs=1000, seed=3, strategy=["funder_forced", "stepwise"] * 500, initial_trust=0.6)
    active, joined, left = (r.series(k).astype(int) for k in ("active", "joined", "left"))
    at_start = np.hstack([np.full((len(r), 1), 6), active[:, :-1]]) + joined
    alive = r.series("level") > 0
    lhs = r.series("member_payoff") * at_start
    rhs = r.series("net_benefit") + r.series("grant")
    np.testing.assert_allclose(lhs[alive], rhs[alive], rtol=0, atol=1e-12)
    assert (r.series("grant")[alive] > 0).any() and (r.series("member_payoff")[alive] < 0).any()
    np.testing.assert_allclose(r.summary["net_benefit"], r.series("net_benefit").sum(axis=1), atol=1e-9)
    assert (r.summary["net_benefit"] <= r.summary["cumulative_benefit"] + 1e-9).all()


def test_payoff_rules():
    assert rules.member_payoffs(6.0, 1.0, 6.0, 0.2, 0.5, True, True) == pytest.approx(1.0 - 0.1)
    assert rules.member_payoffs(0.0, 2.0, 6.0, 0.2, 0.5, False, True) == pytest.approx(-0.4)
    assert rules.member_payoffs(6.0, 1.0, 6.0, 0.2, 0.5, False, False) == 1.0  # holding back costs nothing
    assert rules.moving_average(0.0, -0.6, 6.0) == pytest.approx(-0.1)
    assert rules.payoff_shortfall(-0.1, 0.2, 1.0) == pytest.approx(0.5)
    assert rules.payoff_shortfall(-1.0, 0.2, 1.0) == 1.0 and rules.payoff_shortfall(0.3, 0.2, 1.0) == 0.0


def test_weighing_payoffs_makes_forcing_members_hold_back():
    from scipy import stats

    base = dict(n_runs=2000, seed=6, strategy="funder_forced", initial_trust=0.5, n_steps=24, dissolution="quorum",
                quorum=0.0, membership="closed")
    rate = {v: np.nanmean(sim.simulate(**base, payoffs=v).series("contribution_rate"), axis=1)
            for v in ("weighed", "ignored")}
    assert stats.mannwhitneyu(rate["weighed"], rate["ignored"], alternative="less").pvalue < 1e-3
    # and a shortfall adds exit pressure, more for the more individualist
    kw = dict(exit_base=0.007, exit_gap=0.3, identity_weight=0.005, grant=0.5)
    args = (0.5, 0.65, 4, 0.3, 0.5, 0.5, False)
    plain = rules.exit_probability(*args, **kw)
    assert rules.exit_probability(*args, **kw, payoff_pressure=rules.payoff_term(0.05, 1.0, 0.3)) == pytest.approx(
        plain + 0.05 * 0.8 * 0.75)
    assert rules.payoff_term(0.05, 1.0, 0.9) > rules.payoff_term(0.05, 1.0, 0.1)


# --- capacity -------------------------------------------------------------------------------------------------


@given(c=st.floats(1.0, 100.0), g=st.floats(0.0, 1.0), k=st.floats(1.0, 100.0))
def test_saturated_capacity_never_exceeds_the_ceiling(c, g, k):
    c = min(c, k)
    grown = rules.saturated_capacity(c, g, k)
    assert c - 1e-12 <= grown <= k


def test_engine_capacity_never_exceeds_the_ceiling_even_at_full_growth():
    highest = []

    def watch(b, s):
        saturating = b.params["capacity_rule"] == "saturating"
        assert np.all(b.capacity[saturating] <= b.params["capacity_ceiling"][saturating][:, None])
        highest.append(b.capacity[saturating].max() if saturating.any() else 0.0)

    n = 400
    p = batch_params(n, {"strategy": "fixed", "fixed_level": 4, "initial_trust": 0.9, "capacity_growth": 1.0,
                         "capacity_ceiling": [1.5, 3.0] * (n // 2), "capacity_rule": ["saturating"] * 300
                         + ["compounding"] * 100, "n_steps": 40})
    phases = tuple(ph for ph in PHASES for ph in ((ph, watch) if ph is grow_capacity else (ph,)))
    run_batch(run_seeds(1, n), p, 40, phases=phases)
    assert max(highest) == pytest.approx(3.0)  # the ceiling is reached, never passed


# --- review ---------------------------------------------------------------------------------------------------


def _state(strategy: str, **params) -> StrategyState:
    p = batch_params(1, {"strategy": strategy, **params})
    one = np.ones(1, dtype=np.int64)
    return StrategyState(24, one * 4, np.zeros(1), np.zeros(1, dtype=bool), one, one, np.ones(1, dtype=bool),
                         np.zeros(1), p, get_strategy(strategy).promised(p))


def test_scaled_review_targets():
    assert review_target(_state("funder_forced", forced_level=4, deadline=24, review_share=0.5)) == [72.0]
    assert review_target(_state("funder_schedule", schedule_interval=6, deadline=24, review_share=0.5)) == [37.5]
    assert review_target(_state("funder_forced", review="fixed_target", benefit_target=10.0)) == [10.0]
    assert rules.promised_benefit(24, 5) == 24 * MULT[5]
    # a schedule longer than the deadline promises networking only
    assert rules.promised_benefit(5, 1, 12) == 5.0


def test_scaled_review_binds_where_the_fixed_target_did_not():
    def kept(**kw):
        r = sim.simulate(n_runs=2000, seed=4, strategy="funder_forced", initial_trust=0.6, grant_term=100,
                         dissolution="quorum", **kw)
        return (r.series("grant")[:, 24] > 0).mean()

    assert kept(review="scaled_target") < kept(review="fixed_target") - 0.2


# --- the variant registry -------------------------------------------------------------------------------------


def test_reference_and_model5_variants():
    assert sim.REFERENCE_VARIANTS == {"dissolution": "quorum", "membership": "closed",
                                      "capacity_rule": "compounding", "review": "fixed_target", "payoffs": "ignored"}
    defaults = sim.Params()
    assert {k: getattr(defaults, k) for k in MODEL5_VARIANTS} == MODEL5_VARIANTS
    for kind, name in MODEL5_VARIANTS.items():
        assert set(sim.variant_names(kind)) >= {name, REFERENCE_VARIANTS[kind]}


@pytest.mark.parametrize("kind, bad, hint", [("dissolution", "quorom", "quorum"), ("membership", "open", None),
                                              ("capacity_rule", "saturated", "saturating"),
                                              ("review", "fixed", "fixed_target"), ("payoffs", 3, None)])
def test_bad_variant_names_are_named_with_the_allowed_ones(kind, bad, hint):
    for call in (lambda: sim.simulate(n_runs=2, **{kind: bad}), lambda: sim.Params(**{kind: bad}),
                 lambda: PartnershipModel(seed=1, **{kind: bad})):
        with pytest.raises(ParamError) as err:
            call()
        text = str(err.value)
        assert text.startswith(f"{kind} = {bad!r}") and "allowed: " + ", ".join(sim.variant_names(kind)) in text
        assert (f"did you mean {hint!r}" in text) == (hint is not None)


def test_coerce_and_set_take_variant_names():
    from sim.params import coerce_value

    assert coerce_value("membership", "closed") == "closed"
    with pytest.raises(ParamError, match="membership = 'shut'"):
        coerce_value("membership", "shut")


def test_a_registered_variant_runs_in_both_implementations_and_in_mixed_batches():
    @sim.register_variant("dissolution", "half_gone")
    def half_gone(s):
        "Ends when half the founding seats are empty."
        return s.n_active * 2 < s.params["n_orgs"]

    try:
        params = dict(n_orgs=8, exit_base=0.03, membership="closed", n_steps=60)
        seeds = run_seeds(3, 6)
        mixed = sim.simulate(seeds=seeds, dissolution=["half_gone", "decision", "quorum"] * 2, **params)
        for run, seed in enumerate(seeds):
            model = PartnershipModel(seed=int(seed), dissolution=mixed.summary["dissolution"][run], **params)
            model.run_model()
            for name, values in model.series().items():
                np.testing.assert_array_equal(values, mixed.series(name)[run], err_msg=name)
        alone = sim.simulate(seeds=seeds[::3], dissolution="half_gone", **params)
        np.testing.assert_array_equal(alone.series("active"), mixed.series("active")[::3])
        active = alone.series("active")
        assert np.all((active == 0) | (active >= 4))
        with pytest.raises(ValueError, match="already registered"):
            sim.register_variant("dissolution", "half_gone")(half_gone)
    finally:
        sim.variants.unregister_variant("dissolution", "half_gone")
    with pytest.raises(ValueError, match="built in"):
        sim.variants.unregister_variant("dissolution", "quorum")
