"""The models a sweep can run: the partnership model and the community model, behind one switch.

A spec's ``model`` key (``"partnership"``, the default, or ``"community"``) picks a :class:`SweepModel`: the
parameter vocabulary its ``[base]`` and ``[factors]`` are checked against, the series it can keep (and band),
the per-run outcomes of its runs table (and of ``[precision]``), the extra per-chunk tables it stores, and the
function that runs a chunk. Everything else, planning, chunking, seeds, common random numbers, the store, its
integrity records, resume, bands, precision and the executors, is one code path for both
(``sim/sweep/runner.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..community_params import COMMUNITY_VOCABULARY, check_community_params
from ..community_results import community_memory_estimate, simulate_community
from ..outputs import SERIES, SUMMARY_OUTCOMES, community_outputs
from ..params import PARAMETERS, ParamError, ParamSpec, did_you_mean
from ..results import MemoryEstimate, memory_estimate, simulate

__all__ = ["SweepModel", "ModelRun", "MODELS", "get_model", "model_names", "DEFAULT_MODEL"]

DEFAULT_MODEL = "partnership"


@dataclass
class ModelRun:
    """What running one batch of a model gives a chunk.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per run, in the order of the seeds given: every parameter and outcome.
    series : callable
        ``series(name)``: a kept series, runs x steps.
    tables : dict of str to pandas.DataFrame
        The model's extra tables, each with a ``run`` column: the run's position in the batch.
    """

    summary: pd.DataFrame
    series: Callable[[str], np.ndarray]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepModel:
    """What the sweep layer needs to know of one model.

    Attributes
    ----------
    name : str
        The spec's ``model``.
    specs : mapping of str to ParamSpec
        The parameter vocabulary (``[base]``, ``[factors]``).
    series : tuple of str
        The series ``keep_series`` may name.
    outcomes : tuple of str
        The per-run outcomes (the runs table's last columns; ``[precision] outcome``).
    default_keep : tuple of str
        ``keep_series`` when the spec does not say.
    tables : tuple of str
        Extra tables stored per chunk (``<table>/chunk-NNNNNN.parquet``), each with a ``run_id`` column.
    chunk_size : int
        Runs per chunk by default (about a few seconds of one core).
    probe_runs : int
        Runs timed by ``sweep --dry-run``.
    run : callable
        ``run(seeds, keep, params)`` -> :class:`ModelRun`.
    """

    name: str
    specs: Mapping[str, ParamSpec]
    series: tuple[str, ...]
    outcomes: tuple[str, ...]
    default_keep: tuple[str, ...]
    tables: tuple[str, ...]
    chunk_size: int
    probe_runs: int
    run: Callable[[np.ndarray, tuple[str, ...], dict[str, Any]], ModelRun]
    check_points: Callable[[int, dict[str, Any]], None] | None = None
    #: ``memory(n_runs, n_steps, keep, largest)``: what running a chunk of ``n_runs`` needs (``largest``: the largest
    #: value of each size parameter in the design).
    memory: Callable[[int, int, tuple[str, ...], Callable[[str], int]], MemoryEstimate] | None = None

    def label(self) -> str:
        return f"the {self.name} model"


def _run_partnership(seeds: np.ndarray, keep: tuple[str, ...], params: dict[str, Any]) -> ModelRun:
    res = simulate(seeds=seeds, keep=list(keep), **params)
    return ModelRun(res.summary, res.series)


def _run_community(seeds: np.ndarray, keep: tuple[str, ...], params: dict[str, Any]) -> ModelRun:
    res = simulate_community(seeds=seeds, keep=list(keep), **params)
    return ModelRun(res.summary, res.series, {"partnerships": res.partnerships, "organizations": res.organizations,
                                              "memberships": res.memberships})


def _partnership_memory(n: int, n_steps: int, keep: tuple[str, ...], largest: Callable[[str], int]) -> MemoryEstimate:
    return memory_estimate(n, n_steps, keep, largest("n_orgs"))


def _community_memory(n: int, n_steps: int, keep: tuple[str, ...], largest: Callable[[str], int]) -> MemoryEstimate:
    return community_memory_estimate(n, n_steps, list(keep), largest("n_community"), largest("max_partnerships"),
                                     largest("n_orgs"))


def _check_community_points(n: int, params: dict[str, Any]) -> None:
    check_community_params(n, params)


def _community_model() -> SweepModel:
    return SweepModel(
        name="community", specs=COMMUNITY_VOCABULARY, series=tuple(community_outputs("series")),
        outcomes=tuple(community_outputs("summary")), default_keep=("partnerships", "mean_trust", "benefit"),
        tables=("partnerships", "organizations", "memberships"), chunk_size=256, probe_runs=32, run=_run_community,
        check_points=_check_community_points, memory=_community_memory)


MODELS: dict[str, SweepModel] = {
    "partnership": SweepModel(
        name="partnership", specs=PARAMETERS, series=tuple(SERIES), outcomes=SUMMARY_OUTCOMES,
        default_keep=("mean_trust", "level"), tables=(), chunk_size=4096, probe_runs=4096, run=_run_partnership,
        memory=_partnership_memory),
    "community": _community_model(),
}


def model_names() -> list[str]:
    """The models a spec's ``model`` may name."""
    return list(MODELS)


def get_model(name: Any) -> SweepModel:
    """The :class:`SweepModel` called ``name``; a ParamError naming the allowed models otherwise."""
    if isinstance(name, str) and name in MODELS:
        return MODELS[name]
    raise ParamError(f"model = {name!r} is not a model{did_you_mean(name, MODELS) if isinstance(name, str) else ''} "
                     f"(allowed: {', '.join(MODELS)})")
