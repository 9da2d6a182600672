"""The project's benchmark: engine throughput and memory on a stated workload.

Throughput is measured without tracing; peak memory in a separate pass with
:mod:`tracemalloc` (NumPy reports its buffers to it), so tracing does not
slow the timed pass. Quote results as ratios measured in one run: the
machines are noisy.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .community_results import simulate_community
from .results import DEFAULT_CHUNK, simulate
from .rng import Purpose, run_keys, run_seeds, uniforms
from .variants import REFERENCE_VARIANTS

__all__ = ["Workload", "engine_throughput", "engine_peak_memory", "mesa_throughput", "rng_throughput",
           "run_benchmark", "community_benchmark", "community_twin_throughput"]


@dataclass(frozen=True)
class Workload:
    """What is timed: ``runs`` partnerships of ``n_orgs`` for ``n_steps`` under ``strategy``."""

    runs: int = 10_000
    n_orgs: int = 6
    n_steps: int = 120
    strategy: str = "stepwise"
    seed: int = 1
    chunk_size: int = DEFAULT_CHUNK
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def run_steps(self) -> int:
        return self.runs * self.n_steps

    def simulate(self, runs: int | None = None, **kw: Any):
        return simulate(n_runs=runs or self.runs, seed=self.seed, n_orgs=self.n_orgs, n_steps=self.n_steps,
                        strategy=self.strategy, chunk_size=self.chunk_size, **self.params, **kw)


def engine_throughput(w: Workload, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` wall time of the whole workload, in run-steps per second."""
    w.simulate(runs=min(w.runs, 256))  # warm caches and imports outside the timing
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        w.simulate()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"seconds": best, "run_steps_per_second": w.run_steps / best, "repeats": repeats}


def mesa_throughput(w: Workload, runs: int = 30, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` wall time of the Mesa twin on the workload's first ``runs`` runs, in run-steps per second.

    The runs have the seeds of the engine's first ``runs`` runs (the same
    partnerships). Timed: building each :class:`sim.model.PartnershipModel` and
    ``run_model()`` to its end, with its DataCollector recording the model
    reporters and the per-organization reporters every step, as the model is
    used. Run-steps are counted as for the engine: ``runs * n_steps``, dissolved
    runs included (both stop working on a run once it dissolves).
    """
    # Lazy: the Mesa twin imports Mesa; timing the engine alone does not need it.
    from .model import PartnershipModel

    seeds = [int(s) for s in run_seeds(w.seed, runs)]
    params = dict(n_orgs=w.n_orgs, n_steps=w.n_steps, strategy=w.strategy, **w.params)
    PartnershipModel(seed=seeds[0], **params).run_model()  # warm imports and caches outside the timing
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for seed in seeds:
            PartnershipModel(seed=seed, **params).run_model()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"runs": runs, "seconds": best, "run_steps_per_second": runs * w.n_steps / best, "repeats": repeats}


def rng_throughput(runs: int = 10_000, draws: int = 64, repeats: int = 5) -> dict[str, float]:
    """Milliseconds per step to draw ``draws`` uniforms for each of ``runs`` runs.

    ``streams``: the engine's counter-based SplitMix64 streams (keyed by run,
    step, purpose and index); ``philox``: NumPy's Philox-4x32-10 generator
    drawing as many doubles sequentially (a reference point: it is neither
    keyed nor batch-invariant).
    """
    keys = run_keys(run_seeds(1, runs))
    idx = np.arange(draws, dtype=np.uint64)
    gen = np.random.Generator(np.random.Philox(1))

    def best(fn) -> float:
        times = []
        for rep in range(repeats):
            t0 = time.perf_counter()
            fn(rep)
            times.append(time.perf_counter() - t0)
        return 1000 * min(times)

    streams = best(lambda step: uniforms(keys, step + 1, Purpose.MISJUDGE, idx))
    philox = best(lambda step: gen.random((runs, draws)))
    return {"runs": runs, "draws": draws, "streams_ms": streams, "philox_ms": philox}


def engine_peak_memory(w: Workload, runs: int) -> dict[str, float]:
    """Peak traced memory (MiB) of simulating ``runs`` runs of the workload, keeping every series."""
    tracemalloc.start()
    try:
        res = w.simulate(runs=runs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del res
    return {"runs": runs, "peak_mib": peak / 2**20, "bytes_per_run": peak / runs}


def run_benchmark(w: Workload, *, memory_runs: tuple[int, ...] = (5_000, 20_000), repeats: int = 3,
                  extrapolate_to: int = 100_000, mesa_runs: int = 30) -> dict[str, Any]:
    """Throughput and memory of the engine on ``w``; memory measured at ``memory_runs`` and extrapolated linearly.

    The engine is timed on ``w`` (the defaults: Model 5's rules) and, unless ``w`` already chooses them, on
    the same workload under :data:`sim.REFERENCE_VARIANTS` (``engine_reference_variants``: MODEL.md's rules,
    the trajectories of the Model 4 engine, which is what a comparison with it must time).

    With ``mesa_runs`` > 0 the Mesa twin is timed on the workload's first
    ``mesa_runs`` runs too, and ``engine_over_mesa`` is the ratio of the two
    throughputs (run-steps per second), measured in this one call.
    """
    out: dict[str, Any] = {"workload": asdict(w), "engine": engine_throughput(w, repeats)}
    if any(w.params.get(kind) != name for kind, name in REFERENCE_VARIANTS.items()):
        # the same workload under MODEL.md's rules (Model 4's trajectories), to compare with a Model 4 engine
        reference = replace(w, params={**w.params, **REFERENCE_VARIANTS})
        out["engine_reference_variants"] = engine_throughput(reference, repeats)
    if mesa_runs > 0:
        out["mesa"] = mesa_throughput(w, min(mesa_runs, w.runs), repeats)
        out["engine_over_mesa"] = out["engine"]["run_steps_per_second"] / out["mesa"]["run_steps_per_second"]
    out["rng"] = rng_throughput()
    mem = [engine_peak_memory(w, r) for r in memory_runs]
    out["memory"] = mem
    if len(mem) >= 2:
        (r0, m0), (r1, m1) = (mem[0]["runs"], mem[0]["peak_mib"]), (mem[-1]["runs"], mem[-1]["peak_mib"])
        slope = (m1 - m0) / (r1 - r0)
        out["memory_model"] = {
            "mib_per_1000_runs": slope * 1000,
            "fixed_mib": m0 - slope * r0,
            f"predicted_mib_at_{extrapolate_to}": m0 + slope * (extrapolate_to - r0),
        }
    return out


def community_twin_throughput(runs: int, seed: int = 1, **params: Any) -> dict[str, float]:
    """Wall and CPU time of the community's Mesa twin (:class:`sim.community_model.CommunityModel`) on the
    communities of ``simulate_community(n_runs=..., seed=seed, **params)``'s first ``runs`` runs (the same seeds,
    so the same communities), each built and run to its end with its DataCollector recording every month."""
    # Lazy: the twin imports Mesa; timing the engine alone does not need it.
    from .community_model import CommunityModel

    seeds = [int(s) for s in run_seeds(seed, runs)]
    CommunityModel(seed=seeds[0], **{**params, "n_steps": 2}).run_model()  # warm imports outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    for s in seeds:
        CommunityModel(seed=s, **params).run_model()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"runs": runs, "seconds": seconds, "cpu_seconds": cpu, "ms_per_run": 1000 * seconds / runs,
            "cpu_ms_per_run": 1000 * cpu / runs}


def community_benchmark(runs: int = 1_000, n_community: int = 30, max_partnerships: int = 8, n_steps: int = 120,
                        seed: int = 1, memory_runs: int | Sequence[int] = (100, 400), mesa_runs: int = 0,
                        **params: Any) -> dict[str, Any]:
    """The community engine on one stated workload (issue 15): wall and CPU time of ``runs`` communities in one
    process, and peak traced memory measured separately at each batch size of ``memory_runs``.

    With two or more sizes, ``kib_per_run`` is the slope of peak memory against the batch size (what one more
    community costs) and ``fixed_mib`` its intercept; with one, ``kib_per_run`` is the peak over that many runs.
    CPU time is reported because the machines are shared: on an oversubscribed machine the wall time measures the
    queue as much as the engine. With ``mesa_runs`` > 0 the Mesa twin is timed on the workload's first
    ``mesa_runs`` communities too (:func:`community_twin_throughput`), and ``mesa_over_engine`` (wall) and
    ``mesa_over_engine_cpu`` are how many times longer the twin takes per community, measured in this one call."""
    kw = dict(n_community=n_community, max_partnerships=max_partnerships, n_steps=n_steps, **params)
    simulate_community(n_runs=min(runs, 20), seed=seed, **kw)  # warm imports outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate_community(n_runs=runs, seed=seed, **kw)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    sizes = sorted({int(memory_runs)} if np.ndim(memory_runs) == 0 else {int(n) for n in memory_runs})
    memory = []
    for n in sizes:
        tracemalloc.start()
        try:
            simulate_community(n_runs=n, seed=seed, **kw)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        memory.append({"runs": n, "peak_mib": peak / 2**20})
    if len(memory) > 1:
        slope, fixed = np.polyfit(sizes, [m["peak_mib"] for m in memory], 1)
        per_run, fixed_mib = slope * 1024, float(fixed)
    else:
        per_run, fixed_mib = memory[0]["peak_mib"] * 1024 / sizes[0], None
    out = {"workload": {"runs": runs, "seed": seed, **kw}, "seconds": seconds, "cpu_seconds": cpu,
           "ms_per_run": 1000 * seconds / runs, "memory": memory, "peak_mib": memory[-1]["peak_mib"],
           "kib_per_run": float(per_run), "fixed_mib": fixed_mib,
           "mean_partnerships": float(res.series("partnerships").mean()),
           "formed_per_run": float(res.summary["n_formed"].mean())}
    if mesa_runs > 0:
        twin = community_twin_throughput(min(mesa_runs, runs), seed=seed, **kw)
        out["mesa"] = twin
        out["mesa_over_engine"] = twin["seconds"] / twin["runs"] / (seconds / runs)
        out["mesa_over_engine_cpu"] = twin["cpu_seconds"] / twin["runs"] / (cpu / runs)
    return out
