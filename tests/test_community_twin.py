"""The community's Mesa twin (sim.community_model) against the vectorized community engine (sim.community).

The docking test (Axtell et al. 1996) runs the Mesa model alone on parameter sets covering every funding
policy, gossip on and off, recruiting and closed membership, Model 5's and MODEL.md's rule variants, prior
ties, the set-up partnership and mixed community sizes, and requires its community series, partnership,
organization and membership tables and summary to equal, bit for bit, the engine's run with the same seed
taken out of one mixed batch of many (so the test also checks that a run does not depend on its batch).
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import pytest
from mesa.discrete_space import FixedAgent, Network

import sim
from sim import funder
from sim.community_agents import Funder, Organization, Partnership
from sim.community_model import CommunityModel
from sim.outputs import community_outputs
from sim.params import ParamError
from sim.rng import run_seeds
from sim.variants import MODEL5_VARIANTS, REFERENCE_VARIANTS

POLICIES = ("none", "mandate", "patient", "staged")
N_STEPS = 48


#: A fixed permutation of 0..15: set k's four variant choices are the bits of _MIX[k], so 16 sets hold every
#: combination once, none tied to the funding policy (k mod 4).
_MIX = (5, 12, 3, 10, 7, 0, 15, 9, 2, 14, 6, 11, 1, 13, 4, 8)


def docking_sets(rng: np.random.Generator, k: int) -> dict:
    """The ``k``-th docking set: policy ``k mod 4``; gossip off every other quartet; recruiting two sets in three;
    each other rule variant MODEL.md's or Model 5's by a bit of ``_MIX[k]`` (16 sets: every combination once);
    community sizes 5..20 with 1..5 slots."""
    n_orgs = int(rng.integers(3, 6))
    out = {
        "funder_policy": POLICIES[k % 4],
        "gossip": 0.0 if (k // 4) % 2 else float(rng.uniform(0.02, 0.3)),
        **{kind: (REFERENCE_VARIANTS, MODEL5_VARIANTS)[(_MIX[k % 16] >> bit) & 1][kind]
           for bit, kind in enumerate(name for name in REFERENCE_VARIANTS if name != "membership")},
        "membership": "recruiting" if k % 3 else "closed",
        "n_community": int(rng.integers(max(n_orgs, 5), 21)),
        "max_partnerships": int(rng.integers(1, 6)),
        "n_orgs": n_orgs,
        "max_memberships": int(rng.integers(1, 4)),
        "prior_ties": float(rng.uniform(0.0, 0.4)),
        "convene_rate": float(rng.uniform(0.02, 0.1)),
        "initial_trust": float(rng.uniform(0.3, 0.8)),
        "strategy": str(rng.choice(["stepwise", "funder_patient", "fixed", "funder_forced"])),
        "call_size": min(3, n_orgs),
        "call_sectors": int(rng.integers(1, 3)),
        "grants_per_call": int(rng.integers(1, 3)),
        "call_interval": int(rng.integers(6, 16)),
        "call_start": int(rng.integers(1, 8)),
        "recruit_rate": float(rng.uniform(0.2, 0.8)),
        "free_riders": int(rng.integers(0, 2)),
        "n_steps": N_STEPS,
    }
    return out


def _setup_one(rng: np.random.Generator, strategy: str) -> dict:
    """The partnership model inside a community: one partnership of every member, on day one."""
    n = int(rng.integers(3, 8))
    return {"setup": "one", "n_community": n, "n_orgs": n, "max_partnerships": 2, "strategy": strategy,
            "funder_policy": "none", "membership": "closed", "gossip": 0.0, "prior_ties": 0.0, "convene_rate": 0.0,
            "initial_trust": float(rng.uniform(0.4, 0.9)), "n_steps": N_STEPS, **MODEL5_VARIANTS}


def _columns(sets: list[dict]) -> dict:
    names = sorted({name for s in sets for name in s})
    defaults = {**{n: s.default for n, s in sim.PARAMETERS.items()}, **{n: s.default for n, s in
                                                                        _community_parameters().items()}}
    return {name: [s.get(name, defaults[name]) for s in sets] for name in names}


def _community_parameters() -> dict:
    from sim.community_params import COMMUNITY_PARAMETERS

    return COMMUNITY_PARAMETERS


def _run_twin(seed: int, params: dict) -> CommunityModel:
    model = CommunityModel(seed=seed, **params)
    model.run_model()
    return model


#: The docking tests share one module fixture: keep them on one xdist worker so it is computed once.
DOCKING = pytest.mark.xdist_group(name="community_twin_docking")


@pytest.fixture(scope="module")
def docking():
    """The twin alone on each docking set; the engine on all of them inside one batch of many (fillers of up to
    30 organizations, so every docking run is padded). Returns (sets, seeds, engine results, twins)."""
    rng = np.random.default_rng(20261201)
    sets = [docking_sets(rng, k) for k in range(16)]
    sets += [_setup_one(rng, "stepwise"), _setup_one(rng, "funder_forced")]
    fillers = [{**docking_sets(rng, k), "n_community": int(rng.integers(21, 31)), "n_orgs": 6, "call_size": 3}
               for k in range(6)]
    seeds = [int(s) for s in run_seeds(15, len(sets) + len(fillers))]
    order = list(rng.permutation(len(seeds)))  # the docking runs scattered among the fillers
    everything = sets + fillers
    batch = [everything[i] for i in order]
    engine = sim.simulate_community(seeds=[seeds[i] for i in order], **_columns(batch))
    position = {i: pos for pos, i in enumerate(order)}
    twins = [_run_twin(seeds[k], params) for k, params in enumerate(sets)]
    return sets, seeds[:len(sets)], engine, [position[k] for k in range(len(sets))], twins


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return a.shape == b.shape and np.array_equal(a.astype(float), b.astype(float), equal_nan=True)
    return a.shape == b.shape and np.array_equal(a, b)


def _rows(frame, run: int) -> dict:
    return {name: frame[name].to_numpy()[frame["run"].to_numpy() == run] for name in frame.columns}


@DOCKING
def test_docking_every_series_equals_the_engine_bit_for_bit(docking):
    sets, seeds, engine, at, twins = docking
    mismatches = []
    for k, model in enumerate(twins):
        series = model.series()
        for name in community_outputs("series"):
            expected = engine.series(name)[at[k]]
            if not _equal(series[name], expected):
                month = int(np.argmax(series[name] != expected)) + 1
                mismatches.append(f"set {k} (seed {seeds[k]}) {name}: month {month}, twin "
                                  f"{series[name][month - 1]!r}, engine {expected[month - 1]!r}")
    assert not mismatches, f"{len(mismatches)} series differ:\n" + "\n".join(mismatches[:10])


@DOCKING
def test_docking_tables_and_summary_equal_the_engine(docking):
    sets, seeds, engine, at, twins = docking
    run_ids = engine.summary["run"].to_numpy()
    for k, model in enumerate(twins):
        run = int(run_ids[at[k]])
        for kind, twin_table, frame in (("partnership", model.partnership_table(), engine.partnerships),
                                        ("organization", model.organization_table(), engine.organizations),
                                        ("membership", model.membership_table(), engine.memberships)):
            expected = _rows(frame, run)
            assert set(community_outputs(kind)) <= set(expected), kind
            for name in community_outputs(kind):
                assert _equal(twin_table[name], expected[name]), (k, kind, name)
        summary = model.summary()
        for name in community_outputs("summary"):
            assert _equal(np.float64(summary[name]), np.float64(engine.summary[name].iloc[at[k]])), (k, name)


@DOCKING
def test_docking_sample_covers_the_community(docking):
    """The sample must exercise what could differ, or the docking test would pass vacuously."""
    sets, seeds, engine, at, twins = docking
    s = {name: engine.series(name)[at] for name in ("formed", "awarded", "joined", "left", "ended", "funded")}
    policy = np.array([p.get("funder_policy", "none") for p in sets])
    for name in POLICIES[1:]:
        assert s["awarded"][policy == name].sum() > 0, f"{name} never awarded"
    assert s["awarded"][policy == "none"].sum() == 0
    assert s["formed"].sum() >= 20 and s["ended"].sum() >= 10 and s["left"].sum() >= 10
    for p, model in zip(sets, twins, strict=True):  # formed counts convened partnerships and funder consortia
        assert model.series()["formed"].sum() == model.n_formed - (p.get("setup") == "one")
    recruiting = np.array([p["membership"] == "recruiting" for p in sets])
    assert s["joined"][recruiting].sum() >= 5 and s["joined"][~recruiting].sum() == 0
    origins = set()
    for model in twins:
        origins |= set(model.partnership_table()["origin"])
    assert {"setup", "convened", "mandate", "staged"} <= origins, origins
    tables = [m.partnership_table() for m in twins]
    patient = [t for t, p in zip(tables, sets, strict=True) if p["funder_policy"] == "patient"]
    assert any(((t["origin"] == "convened") & (t["awards"] >= 1)).any() for t in patient), "patient funded none"
    assert sum(int((t["peak_level"] >= 4).sum()) for t in tables) >= 3, "level 4+ too rare"
    assert sum(int((t["awards"] >= 2).sum()) for t in tables) >= 1, "no second award (staged collaboration money)"
    assert any(o.capacity > 1.0 for m in twins for o in m.orgs), "capacity never grew"
    assert any(p["prior_ties"] > 0 and m.network.G.number_of_edges() > 0 for p, m in zip(sets, twins, strict=True))
    gossiping = [k for k, p in enumerate(sets) if p["gossip"] > 0]
    assert len(gossiping) >= 6 and len(gossiping) <= len(sets) - 6
    k = gossiping[0]  # gossip changes the run: the same seed without it differs
    quiet = _run_twin(seeds[k], {**sets[k], "gossip": 0.0})
    assert not np.array_equal(quiet.series()["mean_trust"], twins[k].series()["mean_trust"])
    for kind in REFERENCE_VARIANTS:
        chosen = [p[kind] for p in sets]
        assert chosen.count(REFERENCE_VARIANTS[kind]) >= 3 and chosen.count(MODEL5_VARIANTS[kind]) >= 3, kind
    sizes = {p["n_community"] for p in sets}
    assert len(sizes) >= 6, "community sizes too alike (padding untested)"


def test_the_twin_is_a_mesa_model_of_agents_on_a_network():
    model = CommunityModel(seed=3, n_community=14, max_partnerships=4, n_orgs=4, prior_ties=0.2, gossip=0.1,
                           funder_policy="mandate", call_size=3, n_steps=30)
    assert isinstance(model, mesa.Model) and isinstance(model.network, Network)
    assert len(model.agents_by_type[Organization]) == 14 and isinstance(model.orgs[0], FixedAgent)
    assert [o.cell.coordinate for o in model.orgs] == list(range(14))
    assert isinstance(model.funder, Funder) and len(model.agents_by_type[Funder]) == 1
    budget = model.funder.free
    seen = set()
    while model.running:
        model.step()
        k = model.acquainted()
        assert np.array_equal(k, k.T) and not k.diagonal().any()
        for o in model.orgs:  # the network's edges are who has worked together (or networked before)
            assert o.acquaintances == list(np.flatnonzero(k[o.index]))
            assert o.n_memberships <= model.p.max_memberships
        assert ((model.trust >= 0) & (model.trust <= 1)).all() and not model.trust.diagonal().any()
        assert model.funder.free >= 0
        committed = sum(p.award_remaining for p in model.partnerships if p.funder_money)
        assert model.funder.free + committed + model.funder.spent == pytest.approx(budget, abs=1e-9)
        alive = set(model.agents_by_type[Partnership]) if Partnership in model.agents_by_type else set()
        assert alive == set(model.partnerships)  # a dissolved partnership is removed from the model
        for p in model.partnerships:
            assert all(m.org.index < model.n for m in p.members) and len(p.members) <= model.p.n_orgs
            seen.add(p.number)
    assert model.month == 30 and not model.running
    assert len(seen) > len(model.partnerships), "no partnership dissolved"


def test_batch_run_reports_the_series_month_by_month():
    params = {"seed": [4, 5], "funder_policy": ["patient", "mandate"], "n_community": 10, "max_partnerships": 3,
              "n_orgs": 4, "call_size": 3, "n_steps": 12}
    rows = mesa.batch_run(CommunityModel, parameters=params, number_processes=1, iterations=1, max_steps=20,
                          data_collection_period=1, display_progress=False)
    assert len(rows) == 4 * 13  # set-up and 12 months for each run
    for seed in (4, 5):
        for policy in ("patient", "mandate"):
            mine = [r for r in rows if r["seed"] == seed and r["funder_policy"] == policy]
            assert [r["Step"] for r in mine] == list(range(13))
            engine = sim.simulate_community(seeds=[seed], **{k: v for k, v in params.items() if k != "seed"
                                                            and k != "funder_policy"}, funder_policy=policy)
            for name in ("partnerships", "mean_trust", "budget", "cumulative_benefit"):
                assert np.array_equal(np.array([r[name] for r in mine[1:]], dtype=float),
                                      engine.series(name)[0].astype(float)), (seed, policy, name)


def test_a_registered_policy_docks_too():
    """A researcher's funding policy is one vectorized function; the twin gives it its community as a batch of one."""

    @sim.register_policy("twin_test_hcap")
    def hcap(call):
        "Fund self-formed consortia that meet the call, at the forced rung from day one (HCAP-like)."
        p = call.params
        ok = funder.eligible(call, origin=("convened",), min_members=2, funded=False, ever_awarded=False)
        pick = funder.top(call.mean_trust, ok, k=p["grants_per_call"], amount=p["grant_size"], budget=call.budget)
        return funder.Awards.fund_existing(call, pick, amount=p["grant_size"], strategy="funder_forced",
                                           level=p["forced_level"], tag=2)

    try:
        params = dict(funder_policy="twin_test_hcap", n_community=12, max_partnerships=3, n_orgs=4, call_size=2,
                      convene_rate=0.08, n_steps=36, call_interval=6, n_calls=5)
        seeds = [21, 22, 23]
        engine = sim.simulate_community(seeds=seeds, **params)
        assert engine.summary["n_awarded"].sum() > 0
        for run, seed in enumerate(seeds):
            twin = _run_twin(seed, params).series()
            for name in community_outputs("series"):
                assert _equal(twin[name], engine.series(name)[run]), (seed, name)
    finally:
        funder.unregister_policy("twin_test_hcap")


@pytest.mark.parametrize("kwargs, named", [
    ({"n_community": 3, "n_orgs": 6}, "n_community"),
    ({"funder_budget": -1.0}, "funder_budget"),
    ({"funder_policy": "mandat"}, "mandate"),
    ({"gossip": 1.5}, "gossip"),
    ({"n_comunity": 10}, "n_community"),
    ({"seed": -1}, "seed"),
])
def test_bad_input_raises_param_error_naming_it(kwargs, named):
    kwargs.setdefault("seed", 1)
    with pytest.raises(ParamError, match=named):
        CommunityModel(**kwargs)


def test_a_finished_run_changes_nothing_when_stepped():
    model = _run_twin(2, {"n_community": 8, "max_partnerships": 2, "n_orgs": 3, "call_size": 3, "n_steps": 6})
    assert model.month == 6 and not model.running
    before = model.series()
    model.step()
    assert all(_equal(before[k], v) for k, v in model.series().items())
    assert len(model.datacollector.model_vars["partnerships"]) == 7
    assert math.isfinite(model.summary()["final_mean_trust"])


@pytest.mark.slow
def test_docking_at_the_benchmark_size():
    """Communities of the benchmark's size (30 organizations, 8 slots, 120 months), every policy, and one of 70
    organizations (past 64: the community's wide draw indices), in one batch padded to 70."""
    seeds = [int(s) for s in run_seeds(16, 5)]
    params = {"funder_policy": [*POLICIES, "mandate"], "gossip": [0.05, 0.0, 0.1, 0.05, 0.05],
              "n_community": [30, 30, 30, 30, 70], "membership": "recruiting"}
    engine = sim.simulate_community(seeds=seeds, **params)
    for run, seed in enumerate(seeds):
        model = _run_twin(seed, {k: (v[run] if isinstance(v, list) else v) for k, v in params.items()})
        twin = model.series()
        for name in community_outputs("series"):
            assert _equal(twin[name], engine.series(name)[run]), (seed, name)
        table = model.partnership_table()
        for name in community_outputs("partnership"):
            assert _equal(table[name], _rows(engine.partnerships, run)[name]), (seed, name)


def test_community_bench_times_the_twin_on_the_engines_communities(capsys):
    from sim.bench import community_benchmark
    from sim.cli import main

    out = community_benchmark(runs=6, n_community=8, max_partnerships=2, n_steps=6, memory_runs=3, mesa_runs=2,
                              funder_policy="mandate", n_orgs=4, call_size=3)
    m = out["mesa"]
    assert m["runs"] == 2 and m["seconds"] > 0 and m["cpu_seconds"] > 0
    assert [x["runs"] for x in out["memory"]] == [3] and out["fixed_mib"] is None
    assert out["kib_per_run"] == pytest.approx(out["peak_mib"] * 1024 / 3)
    two = community_benchmark(runs=2, n_community=8, max_partnerships=2, n_steps=4, memory_runs=(8, 2), n_orgs=4)
    (small, large) = two["memory"]
    assert (small["runs"], large["runs"]) == (2, 8) and large["peak_mib"] > small["peak_mib"]
    slope = (large["peak_mib"] - small["peak_mib"]) / 6 * 1024  # two points: the line through them
    assert two["kib_per_run"] == pytest.approx(slope) and two["fixed_mib"] == pytest.approx(
        small["peak_mib"] - slope * 2 / 1024)
    assert out["mesa_over_engine"] == pytest.approx((m["seconds"] / 2) / (out["seconds"] / 6))
    assert out["mesa_over_engine_cpu"] == pytest.approx((m["cpu_seconds"] / 2) / (out["cpu_seconds"] / 6))
    assert "mesa" not in community_benchmark(runs=3, n_community=8, max_partnerships=2, n_steps=3, memory_runs=2,
                                             n_orgs=4)
    assert main(["bench", "--community", "--runs", "3", "--steps", "2", "--mesa-runs", "1"]) == 0
    assert "mesa / engine" in capsys.readouterr().out
    assert main(["bench", "--community", "--runs", "3", "--steps", "2", "--mesa-runs", "-1"]) == 2


def test_a_registered_strategy_docks_in_the_community():
    """A researcher's strategy runs in every partnership of the community, in both faces alike."""

    @sim.register("twin_test_hasty", start_level=2, funded=False)
    def hasty(s):
        "Climb after two successes in a row of the strategy's clock, never above cooperation."
        up = s.success & (s.step % 2 == 0) & (s.mean_trust >= 0.3)
        return np.minimum(s.level + up, 3)

    try:
        params = dict(strategy="twin_test_hasty", n_community=12, max_partnerships=3, n_orgs=4, convene_rate=0.08,
                      initial_trust=0.6, funder_policy="none", n_steps=36)
        seeds = [31, 32, 33]
        engine = sim.simulate_community(seeds=seeds, **params)
        assert (engine.partnerships["peak_level"] == 3).any()
        for run, seed in enumerate(seeds):
            twin = _run_twin(seed, params).series()
            for name in community_outputs("series"):
                assert _equal(twin[name], engine.series(name)[run]), (seed, name)
    finally:
        sim.unregister("twin_test_hasty")


def test_the_month_runs_model_5s_phases_by_name():
    from sim.engine import PHASES

    assert CommunityModel.PHASES == tuple(phase.__name__ for phase in PHASES[1:])  # phase 0 is the recruiting
    assert all(callable(getattr(Partnership, name)) for name in CommunityModel.PHASES)


def test_applicant_led_docks():
    """The built-in ``applicant_led`` (applicants choose their partners) docks bit for bit, in a mixed batch."""
    rng = np.random.default_rng(20261202)
    sets = [{**docking_sets(rng, k), "funder_policy": "applicant_led", "n_steps": 36} for k in range(4)]
    sets += [{**docking_sets(rng, k), "n_steps": 36} for k in range(4)]  # none, mandate, patient, staged around it
    seeds = [int(s) for s in run_seeds(16, len(sets))]
    engine = sim.simulate_community(seeds=seeds, **_columns(sets))
    assert engine.summary["n_awarded"].to_numpy()[:4].sum() > 0, "applicant_led never awarded"
    for k, params in enumerate(sets[:4]):
        twin = _run_twin(seeds[k], params)
        series = twin.series()
        for name in community_outputs("series"):
            assert _equal(series[name], engine.series(name)[k]), (k, name)
        table, expected = twin.partnership_table(), _rows(engine.partnerships, int(engine.summary["run"].iloc[k]))
        for name in community_outputs("partnership"):
            assert _equal(table[name], expected[name]), (k, name)
