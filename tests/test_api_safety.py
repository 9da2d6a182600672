"""``sim.simulate`` refuses what cannot fit, and every argument it takes is checked (issues 10 and 11).

* a batch too large for memory is refused from sizes alone, before anything
  is allocated, with the estimate and what to do; the estimate bounds what is
  measured; parameters shared by every run are never spread over the batch;
* ``first_run``, ``keep``, ``seed``/``seeds`` are checked, each error naming
  the field and what is allowed;
* seeds on both sides of 2**63 replay, whatever sequence holds them, in
  ``simulate``, the Mesa model and a sweep's spec; one seed check serves all.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import sim
from sim.outputs import SERIES
from sim.params import ParamError, check_params, check_seeds, chunk_params
from sim.results import memory_estimate
from sim.rng import run_seeds

#: Seeds on both sides of 2**63, and the ends of the range.
WIDE_SEEDS = [0, 5, 2**63 - 1, 2**63, 2**63 + 12345, 2**64 - 1]


# --- a batch that cannot fit ------------------------------------------------------------------

_HUGE = """
import json, resource, sys, time, tracemalloc
limit = 3 * 2**30  # address space: the old code's 7 GB of broadcast parameters cannot be had
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import sim
tracemalloc.start()
t0 = time.perf_counter()
try:
    sim.simulate(n_runs=50_000_000)
    out = {"raised": None}
except BaseException as exc:
    out = {"raised": type(exc).__name__, "message": str(exc)}
out["seconds"] = time.perf_counter() - t0
out["peak"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(out))
"""


def test_fifty_million_runs_fail_fast_without_allocating():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _HUGE], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["raised"] == "ParamError", out  # not MemoryError, not a run
    message = out["message"]
    for words in ("50,000,000 runs", "GiB", "above the limit", "max_memory=", "keep=", "trustladder sweep"):
        assert words in message, (words, message)
    assert out["peak"] < 5 * 2**20, out  # nothing sized by n_runs was allocated
    assert out["seconds"] < 2.0, out


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kw", [
    dict(n_runs=3000),  # every series
    dict(n_runs=3000, keep=[]),  # the summary only
    dict(n_runs=600, n_orgs=64, n_steps=10, keep=[]),  # the (orgs x orgs) working state dominates
    dict(n_runs=500, n_orgs=30, keep="level"),
    dict(n_runs=5000, keep=["level", "mean_trust"], chunk_size=256),
])
def test_the_estimate_bounds_the_memory_measured(kw):
    keep = kw.get("keep", list(SERIES))
    keep = [keep] if isinstance(keep, str) else keep
    est = memory_estimate(kw["n_runs"], kw.get("n_steps", 120), keep, kw.get("n_orgs", 6),
                          kw.get("chunk_size", 1024))
    peak = _peak(lambda: sim.simulate(**kw))
    assert peak <= est.total <= 3 * peak, (peak, est)
    assert est.total == est.series + est.summary + est.working


def test_the_limit_is_stated_and_can_be_raised():
    with pytest.raises(ParamError) as err:
        sim.simulate(n_runs=2000, max_memory=1e6)
    text = str(err.value)
    need = memory_estimate(2000, 120)
    assert str(need) in text and "976.6 KiB (max_memory)" in text
    allowed = float(text.rsplit("max_memory=", 1)[1])
    assert allowed >= need.total  # the suggested override is enough
    assert len(sim.simulate(n_runs=2000, keep=[], max_memory=allowed)) == 2000
    assert len(sim.simulate(n_runs=20, max_memory=math.inf)) == 20
    for bad in (0, -1, "1GB", True, float("nan")):
        with pytest.raises(ParamError, match="max_memory = .* must be a number of bytes > 0"):
            sim.simulate(n_runs=2, max_memory=bad)


def test_a_shared_value_is_checked_once_and_never_spread_over_the_batch():
    peak = _peak(lambda: check_params(10**12, {"initial_trust": 0.4, "strategy": "fixed"}))
    assert peak < 2**20  # a trillion runs' parameters cost nothing
    p = check_params(10**12, {"initial_trust": 0.4})
    assert all(v.ndim == 0 for v in p.values())
    rows = chunk_params(check_params(5, {"initial_trust": [0.1, 0.2, 0.3, 0.4, 0.5], "n_orgs": 8}), 1, 4)
    assert rows["initial_trust"].tolist() == [0.2, 0.3, 0.4] and rows["n_orgs"].tolist() == [8, 8, 8]
    assert rows["n_orgs"].dtype == np.int64 and rows["strategy"].tolist() == ["stepwise"] * 3
    rows["n_orgs"][0] = 3  # each chunk's arrays are its own
    assert chunk_params(check_params(5, {"n_orgs": 8}), 1, 4)["n_orgs"].tolist() == [8, 8, 8]


def test_chunks_of_shared_and_per_run_values_give_the_same_runs():
    kw = dict(n_runs=40, seed=9, n_steps=30, n_orgs=list(np.arange(40) % 7 + 2), initial_trust=0.6,
              strategy=["stepwise", "funder_forced"] * 20)
    whole, pieces = sim.simulate(**kw), sim.simulate(chunk_size=7, **kw)
    pd.testing.assert_frame_equal(whole.summary, pieces.summary)
    for name in SERIES:
        np.testing.assert_array_equal(whole.series(name), pieces.series(name))


# --- the other arguments ------------------------------------------------------------------------


@pytest.mark.parametrize("first_run, words", [
    (-1, "first_run = -1 must be a whole number in 0..9223372036854775805 for 3 runs"),
    (2**64 - 1, "first_run = 18446744073709551615 must be a whole number in 0..9223372036854775805"),
    (2**63 - 2, "run ids must stay below 2**63"),
    (1.5, "first_run = 1.5 must be a whole number"),
    (True, "first_run = True must be a whole number"),
])
def test_first_run_is_checked(first_run, words):
    with pytest.raises(ParamError) as err:
        sim.simulate(n_runs=3, first_run=first_run)
    assert words in str(err.value)


def test_first_run_numbers_the_runs_and_picks_their_seeds():
    all15 = sim.simulate(n_runs=15, seed=4, n_steps=10)
    last5 = sim.simulate(n_runs=5, seed=4, n_steps=10, first_run=10)
    assert last5.summary["run"].tolist() == list(range(10, 15))
    pd.testing.assert_frame_equal(last5.summary, all15.summary.iloc[10:].reset_index(drop=True))
    top = sim.simulate(n_runs=3, n_steps=2, first_run=2**63 - 3)
    assert top.summary["run"].tolist() == [2**63 - 3, 2**63 - 2, 2**63 - 1]
    assert top.summary["run"].dtype == np.int64
    np.testing.assert_array_equal(top.seeds, run_seeds(0, 3, start=2**63 - 3))


def test_keep_one_series_by_its_name():
    r = sim.simulate(n_runs=4, n_steps=5, keep="level")
    assert r.series_names == ["level"]  # not the letters l, e, v, e, l
    assert sim.simulate(n_runs=4, n_steps=5, keep=("level", "level", "benefit")).series_names == ["level", "benefit"]
    assert sim.simulate(n_runs=4, n_steps=5, keep=[]).series_names == []
    with pytest.raises(ParamError, match="unknown series 'lvl' in keep; did you mean 'level'"):
        sim.simulate(n_runs=4, keep="lvl")
    with pytest.raises(ParamError, match="keep = 5 must be a series name or a list of them"):
        sim.simulate(n_runs=4, keep=5)


def test_seed_and_seeds_together_are_refused():
    with pytest.raises(ParamError, match="give seed .* or seeds .*, not both"):
        sim.simulate(seed=3, seeds=[1, 2])
    with pytest.raises(ParamError, match="not both"):
        sim.simulate(seed=0, seeds=[1, 2])  # even the default's value, given
    default, zero = sim.simulate(n_runs=3, n_steps=4), sim.simulate(n_runs=3, seed=0, n_steps=4)
    pd.testing.assert_frame_equal(default.summary, zero.summary)


# --- seeds on both sides of 2**63 ----------------------------------------------------------------


def test_runs_replay_from_a_summary_with_seeds_past_two_to_the_63():
    first = sim.simulate(seeds=np.array(WIDE_SEEDS, dtype=np.uint64), n_steps=25, strategy="funder_forced")
    column = first.summary["seed"]
    assert column.tolist() == WIDE_SEEDS
    for given in (list(column), WIDE_SEEDS, tuple(np.uint64(s) for s in WIDE_SEEDS), column,
                  column.to_numpy(), np.array(WIDE_SEEDS, dtype=object), (s for s in WIDE_SEEDS)):
        again = sim.simulate(seeds=given, n_steps=25, strategy="funder_forced")
        pd.testing.assert_frame_equal(again.summary, first.summary)
        np.testing.assert_array_equal(again.series("mean_trust"), first.series("mean_trust"))


@pytest.mark.parametrize("seeds, words", [
    ([1, -1], "seeds[1] = -1 must be a whole number in 0..2**64-1"),
    ([1, 2**64], "seeds[1] = 18446744073709551616 must be a whole number"),
    ([1, 2.0], "seeds[1] = 2.0 must be a whole number"),
    ([True], "seeds[0] = True"),
    (np.array([1.0, 2.0]), "floating-point numbers (float64)"),
    (np.array([3, -4]), "seeds[1] = -4"),
    (pd.Series([1.0, 2.0]), "floating-point"),
    ([], "non-empty 1-D sequence"),
    ("12", "non-empty 1-D sequence"),
    (np.zeros((2, 2), dtype=np.uint64), "non-empty 1-D sequence"),
    (7, "non-empty 1-D sequence"),
])
def test_bad_seeds_name_the_first_bad_one(seeds, words):
    with pytest.raises(ParamError) as err:
        sim.simulate(seeds=seeds, n_steps=2)
    assert words in str(err.value)


def test_the_mesa_model_runs_seeds_past_two_to_the_63_as_the_engine_does():
    from sim.model import PartnershipModel

    seeds = [2**63 + 7, 2**64 - 1]
    batch = sim.simulate(seeds=seeds, n_steps=30, n_orgs=5)
    for k, seed in enumerate(seeds):
        for given in (seed, np.uint64(seed)):
            model = PartnershipModel(seed=given, n_steps=30, n_orgs=5)
            model.run_model()
            assert model.seed == seed
            for name, values in model.series().items():
                np.testing.assert_allclose(values, batch.series(name)[k], rtol=0, atol=1e-9, err_msg=name)


def test_a_sweep_with_a_root_seed_near_two_to_the_64_replays_with_simulate(tmp_path):
    from sim.sweep import load_results, run_sweep

    spec = tmp_path / "wide.toml"
    spec.write_text(textwrap.dedent(f"""
        name = "wide"
        strategies = ["stepwise"]
        replicates = 12
        n_steps = 10
        seed = {2**64 - 1}
        keep_series = ["level"]
        [base]
        n_orgs = 4
    """))
    run_sweep(spec, tmp_path / "out", progress=False)
    runs = load_results(tmp_path / "out").runs
    seeds = list(runs["seed"])
    assert any(s < 2**63 for s in seeds) and any(s >= 2**63 for s in seeds)  # both sides
    again = sim.simulate(seeds=seeds, n_steps=10, n_orgs=4).summary
    np.testing.assert_array_equal(again["final_level"], runs["final_level"])
    np.testing.assert_array_equal(again["cumulative_benefit"], runs["cumulative_benefit"])


def test_one_seed_check_gives_one_message_everywhere(tmp_path):
    from sim.classroom.models import parse_seed
    from sim.model import PartnershipModel
    from sim.sweep import SpecError
    from sim.sweep.spec import parse_spec

    message = "seed = 18446744073709551616 must be a whole number in 0..2**64-1"
    checks = {
        "simulate": lambda: sim.simulate(n_runs=2, seed=2**64),
        "run_seeds": lambda: run_seeds(2**64, 3),
        "PartnershipModel": lambda: PartnershipModel(seed=2**64),
        "parse_seed": lambda: parse_seed(str(2**64)),
    }
    for where, check in checks.items():
        with pytest.raises(ParamError) as err:
            check()
        assert str(err.value) == message, where
    with pytest.raises(SpecError) as err:
        parse_spec({"name": "t", "strategies": ["stepwise"], "seed": 2**64})
    assert any(p.endswith(f"seed: {message}") for p in err.value.problems), err.value.problems
    assert check_seeds([2**64 - 1]).tolist() == [2**64 - 1]


def test_communities_replay_from_a_summary_with_seeds_past_two_to_the_63():
    first = sim.simulate_community(seeds=np.array(WIDE_SEEDS[:4], dtype=np.uint64), n_steps=6)
    again = sim.simulate_community(seeds=list(first.summary["seed"]), n_steps=6)
    pd.testing.assert_frame_equal(again.summary, first.summary)
    with pytest.raises(ParamError, match=r"seeds\[1\] = -1 must be a whole number in 0..2\*\*64-1"):
        sim.simulate_community(seeds=[1, -1], n_steps=2)
