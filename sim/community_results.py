"""``simulate_community``: the Python entry point of the community model, and the results object it returns.

It is a function of its own, not ``simulate(model=...)``, because it returns a different object: community
series, a per-run summary, and the partnership and organization tables (community-design section 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .community import run_community_batch
from .community_params import COMMUNITY_VOCABULARY, check_community_params
from .community_rules import GOSSIP_BLOCK
from .outputs import community_outputs
from .params import chunk_params
from .results import MemoryEstimate, check_request, one_n_steps

__all__ = ["CommunityResults", "simulate_community", "community_chunk_size", "community_memory_estimate"]

#: Bytes of a community run's working state in a chunk, per ordered pair of organizations (trust, perceived
#: distance, acquaintance and the pair masks), per seat of a slot, per seat pair of a slot (the month view's Model 5
#: arrays) and per month of every community series (the engine fills them all); measured with ``tracemalloc``
#: (tests/test_community_api.py checks the estimate against it).
_PAIR_BYTES = 8 * 8
#: The gossip step's work arrays (4 floats and 2 bools a pair), kept for the run, for a block of runs of about
#: ``GOSSIP_BLOCK`` pairs (at least one run): a chunk's fixed cost.
_GOSSIP_PAIR_BYTES = 4 * 8 + 2
_SEAT_BYTES = 8 * 60
_SEAT_PAIR_BYTES = 8 * 12
_SERIES_BYTES = 8 * 40
_FIXED = 2**20
#: Rows of the tables per run, estimated: partnerships formed ~ slots x (1 + months / 60) (about twice what the
#: defaults make), memberships ~ (seats + 2) each; bytes per row of the partnership, membership and organization
#: tables (their columns, counted twice: pandas copies them into the frame).
_PARTNERSHIP_ROW = 2 * 8 * 32
_MEMBERSHIP_ROW = 2 * 8 * 9
_ORGANIZATION_ROW = 2 * 8 * 17


def _per_run_work(n_community: int, n_slots: int, n_seats: int, n_steps: int) -> int:
    return (_PAIR_BYTES * n_community * n_community + n_slots * (_SEAT_BYTES * n_seats
            + _SEAT_PAIR_BYTES * n_seats * n_seats) + _SERIES_BYTES * n_steps)


def community_chunk_size(n_community: int, n_slots: int, n_seats: int, n_steps: int,
                         budget_bytes: float = 200e6) -> int:
    """Runs advanced together: ``min(1000, budget / per-run bytes)`` (design section 9's memory estimate)."""
    return int(max(1, min(1000, budget_bytes // _per_run_work(n_community, n_slots, n_seats, n_steps))))


def community_memory_estimate(n_runs: int, n_steps: int, keep: Iterable[str] | None = None, n_community: int = 30,
                              n_slots: int = 8, n_seats: int = 6, chunk_size: int | None = None) -> MemoryEstimate:
    """Estimate the memory :func:`simulate_community` needs, from sizes alone (nothing is allocated).

    Parameters
    ----------
    n_runs, n_steps : int
        Runs and months of the batch.
    keep : iterable of str, optional
        The community series kept (default: all): each takes ``n_runs * n_steps`` values of its dtype.
    n_community, n_slots, n_seats : int
        The largest ``n_community``, ``max_partnerships`` and ``n_orgs`` of the batch (a chunk is padded to them).
    chunk_size : int, optional
        Runs advanced together (default :func:`community_chunk_size`).

    Returns
    -------
    MemoryEstimate
        ``series``: the kept series; ``summary``: the per-run table and the partnership, membership and
        organization tables (their rows estimated: partnerships formed at about twice the defaults' rate);
        ``working``: one chunk's state and a small fixed cost.
    """
    known = community_outputs("series")
    keep = list(known) if keep is None else list(keep)
    if chunk_size is None:
        chunk_size = community_chunk_size(n_community, n_slots, n_seats, n_steps)
    step_bytes = sum(known[name].dtype.itemsize for name in keep)
    partnerships = n_slots * (1 + n_steps / 60)
    columns = 2 + len(COMMUNITY_VOCABULARY) + len(community_outputs("summary"))
    tables = partnerships * (_PARTNERSHIP_ROW + (n_seats + 2) * _MEMBERSHIP_ROW) + n_community * _ORGANIZATION_ROW
    chunk = min(chunk_size, n_runs)
    return MemoryEstimate(series=n_runs * n_steps * step_bytes, summary=int(n_runs * (2 * 8 * columns + tables)),
                          working=_FIXED + _GOSSIP_PAIR_BYTES * max(GOSSIP_BLOCK, n_community * n_community)
                          + chunk * (_per_run_work(n_community, n_slots, n_seats, n_steps) + 2 * n_steps * step_bytes))


@dataclass
class CommunityResults:
    """Outcomes of a batch of community runs.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per run: ``run``, ``seed``, every parameter, and the community summary outcomes
        (:func:`sim.outputs.community_outputs` ``("summary")``).
    partnerships : pandas.DataFrame
        One row per partnership ever formed (``community_outputs("partnership")``).
    organizations : pandas.DataFrame
        One row per organization of each run (``community_outputs("organization")``).
    memberships : pandas.DataFrame
        One row per membership: who was in which partnership, from when to when, and why it ended
        (``community_outputs("membership")``).
    n_steps : int
        Months simulated.
    """

    summary: pd.DataFrame
    partnerships: pd.DataFrame
    organizations: pd.DataFrame
    memberships: pd.DataFrame
    n_steps: int
    _series: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    slot_series: dict[str, np.ndarray] | None = field(repr=False, default=None)

    def series(self, name: str) -> np.ndarray:
        """The community series ``name`` as an array runs x months (month 1 in column 0)."""
        known = community_outputs("series")
        if name not in known:
            raise KeyError(f"unknown community series {name!r} (known: {', '.join(known)})")
        if name not in self._series:
            raise KeyError(f"series {name!r} was not kept (kept: {', '.join(self._series) or 'none'})")
        return self._series[name]

    @property
    def series_names(self) -> list[str]:
        return list(self._series)

    @property
    def seeds(self) -> np.ndarray:
        return self.summary["seed"].to_numpy(dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.summary)


def simulate_community(
    n_runs: int | None = None,
    seed: int | None = None,
    *,
    seeds: Sequence[int] | np.ndarray | None = None,
    keep: str | Iterable[str] | None = None,
    chunk_size: int | None = None,
    first_run: int = 0,
    keep_slot_series: bool = False,
    max_memory: float | None = None,
    **params: Any,
) -> CommunityResults:
    """Run a batch of communities with the vectorized community engine (:mod:`sim.community`).

    Parameters
    ----------
    n_runs : int
        Number of communities (omit when ``seeds`` is given).
    seed : int
        Root seed, in 0..2**64-1 (default 0): run ``i`` gets ``sim.rng.run_seeds(seed, ...)[i]``, the same
        whatever ``n_runs``.
    seeds : sequence of int, optional
        Each run's own seed, instead of ``n_runs`` and ``seed``: giving both ``seed`` and ``seeds`` is an error.
    keep : str or iterable of str, optional
        Community series to keep: one name, or several (default: all of ``community_outputs("series")``;
        ``[]`` keeps none).
    chunk_size : int, optional
        Runs advanced together (default :func:`community_chunk_size`); results do not depend on it.
    first_run : int
        Id of the first run: runs are ``first_run`` .. ``first_run + n_runs - 1`` (the ``run`` column of every
        table), and under a root seed run ``i`` has the seed of index ``i``. Ids must stay below 2**63.
    keep_slot_series : bool
        Also keep the partnership vocabulary's series per slot, (runs, slots, months).
    max_memory : float, optional
        Refuse a batch whose estimated memory (:func:`community_memory_estimate`) exceeds this many bytes.
        Default: half this machine's memory; ``math.inf`` turns the check off.
    **params
        The partnership parameters (:mod:`sim.params`) and the community's (:mod:`sim.community_params`); each a
        scalar or one value per run.

    Returns
    -------
    CommunityResults

    Raises
    ------
    ParamError
        A bad parameter, seed, series name, run id or size, named with its allowed range; or a batch too large
        for the memory limit, with the estimate and what to do.

    Examples
    --------
    >>> r = simulate_community(n_runs=20, seed=1, funder_policy="mandate", n_steps=24)
    >>> r.series("partnerships").shape
    (20, 24)
    """
    known = community_outputs("series")
    req = check_request(n_runs, seed, seeds, first_run, chunk_size, keep, max_memory, tuple(known))
    n_runs, keep = req.n_runs, req.keep
    p = check_community_params(n_runs, params)
    n_steps = one_n_steps(p)
    sizes = (int(p["n_community"].max()), int(p["max_partnerships"].max()), int(p["n_orgs"].max()))
    chunk_size = req.chunk_size or community_chunk_size(*sizes, n_steps)
    req.check_memory(community_memory_estimate(n_runs, n_steps, keep, *sizes, chunk_size), n_steps, "communities",
                     "partnerships")
    seeds = req.run_seeds()

    series = {name: np.empty((n_runs, n_steps), dtype=known[name].dtype) for name in keep}
    summary: dict[str, np.ndarray] = {}
    tables: dict[str, list[dict[str, np.ndarray]]] = {"partnership": [], "organization": [], "membership": []}
    slot_parts = []
    for lo in range(0, n_runs, chunk_size):
        hi = min(lo + chunk_size, n_runs)
        c = run_community_batch(seeds[lo:hi], chunk_params(p, lo, hi), n_steps, keep,
                                keep_slot_series=keep_slot_series)
        for name in keep:
            series[name][lo:hi] = c.series[name]
        for name in community_outputs("summary"):
            if name not in summary:
                summary[name] = np.empty(n_runs, dtype=c.summary[name].dtype)
            summary[name][lo:hi] = c.summary[name]
        for kind, part in (("partnership", c.partnerships), ("organization", c.organizations),
                           ("membership", c.memberships)):
            tables[kind].append({"run": _run_ids(part, req.first_run + lo), **part})
        if keep_slot_series:
            slot_parts.append(c.slot_series)
    run = np.arange(n_runs, dtype=np.int64) + np.int64(req.first_run)
    table: dict[str, Any] = {"run": run, "seed": seeds}
    for name in COMMUNITY_VOCABULARY:
        table[name] = p[name] if p[name].ndim else np.broadcast_to(p[name], (n_runs,))
    table.update(summary)
    frames = {kind: pd.DataFrame({k: np.concatenate([part[k] for part in parts]) for k in parts[0]})
              for kind, parts in tables.items()}
    slot_series = _stack_slot_series(slot_parts) if keep_slot_series else None
    return CommunityResults(pd.DataFrame(table), frames["partnership"], frames["organization"],
                            frames["membership"], n_steps, series, slot_series)


def _run_ids(part: dict[str, np.ndarray], first: int) -> np.ndarray:
    """Each table row's run id: the chunk's first id plus the row's run index in the chunk (``_row``)."""
    return np.asarray(part.pop("_row"), dtype=np.int64) + np.int64(first)


def _stack_slot_series(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The chunks' per-slot series stacked over runs, each padded to the widest chunk's slots."""
    width = max(c["level"].shape[1] for c in parts)
    out = {}
    for name in parts[0]:
        arrs = []
        for c in parts:
            a = c[name]
            if a.shape[1] < width:
                a = np.concatenate([a, np.zeros((a.shape[0], width - a.shape[1], a.shape[2]), dtype=a.dtype)], axis=1)
            arrs.append(a)
        out[name] = np.concatenate(arrs)
    return out
