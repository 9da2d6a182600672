"""The Mesa twin (sim.model) against the vectorized engine (sim.engine): one model, two implementations.

The docking test (Axtell et al. 1996) runs the Mesa model on a few hundred
random valid parameter sets and requires every per-step series and every
per-run outcome to equal the engine's run with the same seed. The engine
runs all of them as one mixed batch, so the test also checks that a run does
not depend on the batch it is in.
"""

from __future__ import annotations

import inspect
import math
import time

import mesa
import numpy as np
import pytest
from mesa.agent import AgentSet

import sim
from sim.agents import Organization
from sim.engine import SERIES, SUMMARY_OUTCOMES
from sim.levels import SECTORS
from sim.model import AGENT_REPORTERS, PartnershipModel
from sim.params import PARAMETERS, REFERENCE_DEFAULTS, ParamError
from sim.variants import KINDS, MODEL5_VARIANTS, REFERENCE_VARIANTS

#: MODEL.md's five strategies (not strategy_names(): other tests may register more meanwhile).
STRATEGIES = ("stepwise", "funder_forced", "funder_schedule", "fixed", "funder_patient")
N_SETS = 240
N_STEPS = 120
#: Parameters counted in months: drawn within a few years so that deadlines and grant terms fall inside the run.
MONTHS = {"deadline", "grant_term", "schedule_interval", "climb_patience", "retreat_after"}


def draw_parameters(rng: np.random.Generator, k: int) -> dict:
    """One random valid parameter set; the ``k``-th set uses strategy ``k mod 5``.

    Every parameter is drawn over its whole range now and then (5% at one of
    its bounds, 10% uniformly), and otherwise near its default (x0.5..x1.5),
    so that the sample holds both odd corners and partnerships that live long
    enough to climb, lose members, reach level 5 and outlive their grant. Each
    rule variant is MODEL.md's or Model 5's, with equal chance.
    """
    out: dict = {"strategy": STRATEGIES[k % len(STRATEGIES)], "n_orgs": int(rng.integers(2, 21)), "n_steps": N_STEPS}
    for kind in KINDS:
        out[kind] = (REFERENCE_VARIANTS, MODEL5_VARIANTS)[int(rng.integers(2))][kind]
    for name, spec in PARAMETERS.items():
        if name in out:
            continue
        lo, hi, default = spec.low, spec.high, spec.default
        if name in MONTHS:
            hi = min(hi, 48)
        if name == "benefit_target":
            hi = 60.0
        if name == "free_riders":
            hi = 3  # a few designated free riders, not a table of them
        u = rng.random()
        if spec.kind is int:
            if name in ("fixed_level", "forced_level") or u < 0.15:
                out[name] = int(rng.integers(lo, hi + 1))
            else:
                out[name] = int(np.clip(round(default * rng.uniform(0.5, 2.0)), lo, hi))
        elif u < 0.05:
            out[name] = float(lo if rng.random() < 0.5 else hi)
        elif u < 0.15:
            out[name] = float(rng.uniform(lo, hi))
        else:
            near = default * rng.uniform(0.5, 1.5) if default else rng.uniform(0.0, 0.1 * (hi - lo))
            out[name] = float(np.clip(near, lo, hi))
    return out


#: The docking tests share one module fixture: keep them on one xdist worker so it is computed once.
DOCKING = pytest.mark.xdist_group(name="twin_docking")


@pytest.fixture(scope="module")
def docking():
    """Both implementations on N_SETS random parameter sets: (sets, seeds, engine Results, twins, seconds)."""
    rng = np.random.default_rng(19960101)
    sets = [draw_parameters(rng, k) for k in range(N_SETS)]
    seeds = [int(s) for s in rng.integers(0, 2**63, size=N_SETS, dtype=np.int64)]
    t0 = time.perf_counter()
    engine = sim.simulate(seeds=seeds, **{name: [p[name] for p in sets] for name in PARAMETERS})
    twins = []
    for seed, params in zip(seeds, sets, strict=True):
        model = PartnershipModel(seed=seed, **params)
        model.run_model()
        twins.append(model)
    return sets, seeds, engine, twins, time.perf_counter() - t0


def _same(a: np.ndarray, b: np.ndarray, tol: float = 1e-9) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b)) and bool(
        np.all(np.abs(a - b)[~np.isnan(a)] <= tol))


@DOCKING
def test_docking_every_series_equals_the_engine(docking):
    sets, seeds, engine, twins, seconds = docking
    mismatches = []
    for run, (model, params) in enumerate(zip(twins, sets, strict=True)):
        twin = model.series()
        for name in SERIES:
            expected = engine.series(name)[run]
            if not _same(twin[name], expected):
                step = int(np.argmax(~np.isclose(twin[name], expected, atol=1e-9, equal_nan=True))) + 1
                mismatches.append(f"run {run} (seed {seeds[run]}, {params['strategy']}): {name} differs from step "
                                  f"{step}: twin {twin[name][step - 1]!r}, engine {expected[step - 1]!r}")
    assert not mismatches, f"{len(mismatches)} series differ:\n" + "\n".join(mismatches[:10])
    print(f"docking: {len(twins)} runs x {N_STEPS} steps, twin + engine in {seconds:.1f} s")


@DOCKING
def test_docking_every_outcome_equals_the_engine(docking):
    sets, seeds, engine, twins, _ = docking
    summary = engine.summary
    assert set(twins[0].summary()) == set(SUMMARY_OUTCOMES)
    for run, model in enumerate(twins):
        twin = model.summary()
        for name in SUMMARY_OUTCOMES:
            assert _same(float(twin[name]), float(summary[name].iloc[run])), (run, seeds[run], name)
        assert model.dissolved == bool(summary["dissolved"].iloc[run])


@DOCKING
def test_docking_sample_covers_the_model(docking):
    """The sample must exercise what could differ, or the docking test would pass vacuously."""
    sets, _, engine, twins, _ = docking
    strategy = np.array([p["strategy"] for p in sets])
    n_orgs = np.array([p["n_orgs"] for p in sets])
    level, active, grant = engine.series("level"), engine.series("active"), engine.series("grant")
    dissolved = engine.summary["dissolved"].to_numpy()
    alive = level > 0
    for name in STRATEGIES:
        mine = strategy == name
        assert mine.sum() >= 40, name
        assert dissolved[mine].any() and (~dissolved[mine]).any(), f"{name}: need both dissolved and surviving runs"
    assert n_orgs.min() == 2 and n_orgs.max() == 20
    assert sum(p["free_riders"] > 0 for p in sets) >= 10, "designated free riders too rare"
    assert 0.2 < dissolved.mean() < 0.95
    assert (level == 5).any(axis=1).sum() >= 10, "level 5 (multisector) too rare"
    for k in range(1, 6):
        assert (level == k).any(), k
    funded = grant > 0
    assert funded.any(axis=1).sum() >= 30, "funded periods too rare"
    # grants that end while the partnership goes on (deadline review or grant_term)
    ended = funded[:, :-1] & ~funded[:, 1:] & alive[:, 1:] & (level[:, 1:] > 0)
    assert ended.any(axis=1).sum() >= 10
    # members leave without dissolving the partnership
    left = (np.diff(active.astype(int), axis=1) < 0) & alive[:, 1:]
    assert left.any(axis=1).sum() >= 20
    # capacity grew: successes at level >= 4 with contributors
    grew = (engine.series("success") == 1) & (level >= 4)
    assert grew.any(axis=1).sum() >= 20
    # stepping down the ladder, not only up
    assert (np.diff(level.astype(int), axis=1)[alive[:, 1:]] < 0).any()
    # a twin that dissolved stopped there
    for model, gone in zip(twins, dissolved, strict=True):
        assert model.dissolved == gone
        assert model.steps_played == (model.dissolved_step if gone else N_STEPS)
    # Model 5's rules: every variant drawn, and each rule's events happen
    for kind in KINDS:
        chosen = [p[kind] for p in sets]
        assert chosen.count(REFERENCE_VARIANTS[kind]) >= 80 and chosen.count(MODEL5_VARIANTS[kind]) >= 80, kind
    summary = engine.summary
    recruiting = np.array([p["membership"] == "recruiting" for p in sets])
    assert (summary["n_joined"].to_numpy()[recruiting] > 0).sum() >= 30, "newcomers too rare"
    assert (summary["n_joined"].to_numpy()[~recruiting] == 0).all()
    causes = {(model.params.dissolution, model.dissolution_cause) for model in twins if model.dissolved}
    assert {("decision", "decision"), ("decision", "members"), ("quorum", "quorum")} <= causes, causes
    saturating = [m for m in twins if m.params.capacity_rule == "saturating"]
    grown = [max(o.capacity for o in m.organizations) for m in saturating]
    assert sum(c > 1.0 for c in grown) >= 10, "saturating growth too rare"
    assert all(c <= m.params.capacity_ceiling for c, m in zip(grown, saturating, strict=True))
    # grants withdrawn at a scaled deadline review, the partnership going on
    reviewed = [run for run, p in enumerate(sets)
                if p["review"] == "scaled_target" and p["strategy"] in ("funder_forced", "funder_schedule")
                and p["deadline"] < min(p["grant_term"], N_STEPS) and grant[run, p["deadline"] - 1] > 0
                and grant[run, p["deadline"]] == 0 and level[run, p["deadline"]] > 0]
    assert len(reviewed) >= 5, "scaled reviews that withdraw the grant too rare"


def test_a_registered_strategy_docks_too():
    """A researcher's strategy is one vectorized function; the twin calls it with a batch of one."""

    @sim.register("twin_test_cautious", start_level=2, funded=True)
    def cautious(s):
        "Climb after a success with trust well above the next need; the grant ends at step 10."
        if s.step >= 10:
            s.funded[:] = False
        up = s.success & (s.mean_trust >= sim.levels.NEXT_NEED[s.level] + 0.1)
        return np.minimum(s.level + up, 5)

    try:
        params = dict(strategy="twin_test_cautious", n_orgs=9, initial_trust=0.7, n_steps=60)
        seeds = [11, 12, 13, 14]
        engine = sim.simulate(seeds=seeds, **params)
        for run, seed in enumerate(seeds):
            model = PartnershipModel(seed=seed, **params)
            model.run_model()
            twin = model.series()
            for name in SERIES:
                assert _same(twin[name], engine.series(name)[run]), (seed, name)
        assert (engine.series("level") >= 3).any()
    finally:
        sim.unregister("twin_test_cautious")


# --- the model's own interface ------------------------------------------------------


def test_every_parameter_is_a_keyword_with_the_vocabulary_default():
    sig = inspect.signature(PartnershipModel.__init__).parameters
    for name, spec in PARAMETERS.items():
        assert name in sig, f"PartnershipModel lacks keyword {name!r}"
        assert sig[name].default == spec.default, name
        assert sig[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig["seed"].default is None
    model = PartnershipModel(seed=3)
    assert model.params == sim.Params()


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"initial_trust": 1.5}, "initial_trust"),
        ({"n_orgs": 65}, "n_orgs"),
        ({"n_orgs": 1}, "n_orgs"),
        ({"n_orgs": 6.5}, "n_orgs"),
        ({"grant": "half"}, "grant"),
        ({"quorum": float("nan")}, "quorum"),
        ({"strategy": "stepwize"}, "stepwise"),
        ({"inital_trust": 0.5}, "initial_trust"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"seed": "7"}, "seed"),
    ],
)
def test_bad_keyword_arguments_raise_param_error_naming_them(kwargs, named):
    kwargs.setdefault("seed", 1)
    with pytest.raises(ParamError, match=named):
        PartnershipModel(**kwargs)


def test_whole_number_parameters_are_held_as_integers():
    model = PartnershipModel(seed=2, n_orgs=5.0, fixed_level=3.0, strategy="fixed", n_steps=4.0, **REFERENCE_VARIANTS)
    assert model.params.n_orgs == 5 and isinstance(model.params.n_orgs, int)
    assert len(model.organizations) == 5
    model.run_model()
    assert model.steps_played == 4


def test_set_up_state_and_trust_matrix():
    model = PartnershipModel(seed=5, n_orgs=12, initial_trust=0.6, trust_noise=0.1)
    orgs = list(model.organizations)
    assert all(isinstance(o, Organization) for o in orgs)
    assert [o.index for o in orgs] == list(range(12))
    assert [o.unique_id for o in orgs] == list(range(1, 13))  # Mesa's ids start at 1
    assert {o.sector for o in orgs} <= set(SECTORS) and {o.group for o in orgs} <= {0, 1}
    for o in orgs:
        for trait in ("communication", "leadership", "individualism", "identity"):
            assert 0.0 <= getattr(o, trait) <= 1.0
        assert o.capacity == 1.0 and o.active
    t = model.trust_matrix()
    assert t.shape == (12, 12)
    assert np.isnan(np.diag(t)).all() and not np.isnan(t[~np.eye(12, dtype=bool)]).any()
    # prejudice: trust across cultural groups starts lower (initial_trust - prejudice * cultural_distance)
    group = np.array([o.group for o in orgs])
    across = group[:, None] != group[None, :]
    assert abs(np.nanmean(t[across]) - (0.6 - 0.3 * 0.5)) < 0.05
    assert abs(np.nanmean(t[~across]) - 0.6) < 0.05
    assert model.level == 1 and not model.funded and not model.dissolved
    assert model.mean_trust == pytest.approx(np.nanmean(t))


def test_day_one_level_and_grant_follow_the_strategy():
    forced = PartnershipModel(seed=1, strategy="funder_forced", forced_level=3)
    assert forced.level == 3 and forced.funded
    assert PartnershipModel(seed=1, strategy="funder_patient").funded
    # level 5 needs three sectors: with two organizations there can be at most two
    assert PartnershipModel(seed=1, strategy="fixed", fixed_level=5, n_orgs=2).level == 4


def test_dissolution_is_recorded_and_stops_the_model():
    model = PartnershipModel(seed=3, strategy="fixed", fixed_level=5, initial_trust=0.1, n_orgs=4)
    model.run_model()
    assert model.dissolved and model.dissolved_step is not None
    d = model.dissolved_step
    assert model.level == 0 and not model.running
    assert model.steps_played == d and model.steps == d + 1  # the idle call that turned `running` off
    assert np.isnan(model.trust_matrix()).all()
    assert not any(o.active for o in model.organizations)
    s = model.series()
    assert all(len(v) == model.n_steps for v in s.values())
    after = slice(d - 1, None)
    assert (s["level"][after] == 0).all() and (s["active"][after] == 0).all()
    assert (s["benefit"][after] == 0).all() and (s["success"][after] == 0).all()
    assert np.isnan(s["mean_trust"][after]).all() and np.isnan(s["contribution_rate"][after]).all()
    # the dissolving step's benefit is lost: cumulative benefit is the running sum of benefit
    np.testing.assert_allclose(np.cumsum(s["benefit"]), s["cumulative_benefit"], atol=1e-12)
    assert model.cumulative_benefit == pytest.approx(s["cumulative_benefit"][-1])
    # stepping a finished run changes nothing
    before = {k: v.copy() for k, v in s.items()}
    model.step()
    assert all(np.array_equal(before[k], v, equal_nan=True) for k, v in model.series().items())


def test_datacollector_rows_and_names():
    model = PartnershipModel(seed=8, n_orgs=5, n_steps=7, **REFERENCE_VARIANTS)  # no newcomers: 5 agents a step
    model.run_model()
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame.columns) == list(SERIES)
    assert len(frame) == 8  # set-up + 7 steps
    first = frame.iloc[0]
    assert first["level"] == 1 and first["active"] == 5 and first["cumulative_benefit"] == 0
    assert math.isnan(first["contribution_rate"])
    for name, values in model.series().items():
        np.testing.assert_array_equal(values, frame[name].to_numpy()[1:].astype(values.dtype))
    agents = model.datacollector.get_agent_vars_dataframe()
    assert list(agents.columns) == list(AGENT_REPORTERS)
    assert not set(AGENT_REPORTERS) & set(SERIES)  # batch_run merges model and agent columns into one row
    assert len(agents) == 8 * 5
    last = agents.xs(7, level="Step")
    t = model.trust_matrix()
    np.testing.assert_allclose(last["mean_trust_given"].to_numpy(dtype=float), np.nanmean(t, axis=1))
    np.testing.assert_allclose(last["mean_trust_received"].to_numpy(dtype=float), np.nanmean(t, axis=0))
    assert set(last["sector"]) <= set(SECTORS)
    assert last["member"].sum() == model.n_active


def test_model_is_a_plain_mesa_model():
    model = PartnershipModel(seed=4)
    assert isinstance(model, mesa.Model)
    assert isinstance(model.organizations, AgentSet)
    assert len(model.agents) == 6
    a, b = PartnershipModel(seed=4, n_steps=30), PartnershipModel(seed=4, n_steps=30)
    a.run_model()
    b.run_model()
    assert all(np.array_equal(a.series()[k], b.series()[k], equal_nan=True) for k in SERIES)
    fresh = PartnershipModel()  # no seed: a fresh one, kept so the run can be repeated
    assert isinstance(fresh.seed, int) and 0 <= fresh.seed < 2**64


def test_odd_parameter_table_matches_the_vocabulary():
    """docs/ODD.md's parameter table must stay true to sim.params."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "ODD.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and cells[0].strip("`") in PARAMETERS:
            rows[cells[0].strip("`")] = cells
    assert set(rows) == set(PARAMETERS)
    for name, (_, default, allowed, unit, meaning) in rows.items():
        spec = PARAMETERS[name]
        if spec.kind is str:
            assert default == spec.default
        else:
            assert float(default) == spec.default, name
            assert allowed == spec.range_text(), name
        assert meaning == spec.meaning and unit == spec.unit, name


@pytest.mark.parametrize("seed", range(4))
def test_trust_statistics_equal_numpy_on_the_trust_matrix(seed):
    """Both implementations' trust series are those of the trust matrix, also once trust has converged to 1
    (where sqrt(E[T^2] - m^2), the engine's former formula, was off by up to 2e-8)."""
    params = dict(n_orgs=8, initial_trust=0.9, gain_rate=0.9, celebration=0.0, free_rider_penalty=0.0,
                  strategy="fixed", fixed_level=4, n_steps=60, **REFERENCE_DEFAULTS, **REFERENCE_VARIANTS)
    engine = sim.simulate(seeds=[seed], **params)
    model = PartnershipModel(seed=seed, **params)
    smallest_sd = math.inf
    while model.running:
        model.step()
        if model.dissolved or not model.running:
            continue
        t, col = model.trust_matrix(), model.steps_played - 1
        for name, numpy_value in (("mean_trust", np.nanmean(t)), ("min_trust", np.nanmin(t)),
                                  ("sd_trust", np.nanstd(t))):
            assert getattr(model, name) == pytest.approx(numpy_value, abs=1e-14), name
            assert engine.series(name)[0, col] == pytest.approx(numpy_value, abs=1e-14), name
        smallest_sd = min(smallest_sd, np.nanstd(t))
    assert smallest_sd < 1e-8  # trust converged: the case that needs care


def test_bench_times_the_twin_on_the_engines_workload():
    from sim.bench import Workload, run_benchmark
    from sim.cli import main

    w = Workload(runs=64, n_steps=12)
    out = run_benchmark(w, memory_runs=(), repeats=1, mesa_runs=3)
    assert out["mesa"]["runs"] == 3 and out["mesa"]["run_steps_per_second"] > 0
    assert out["engine_over_mesa"] == pytest.approx(
        out["engine"]["run_steps_per_second"] / out["mesa"]["run_steps_per_second"])
    assert "mesa" not in run_benchmark(w, memory_runs=(), repeats=1, mesa_runs=0)
    assert main(["bench", "--runs", "8", "--steps", "3", "--memory-runs", "8", "--mesa-runs", "-1"]) == 2


def test_the_mesa_step_runs_the_engines_phases_by_name():
    from sim.engine import PHASES

    assert PartnershipModel.PHASES == tuple(phase.__name__ for phase in PHASES)
    assert all(callable(getattr(PartnershipModel, name)) for name in PartnershipModel.PHASES)
