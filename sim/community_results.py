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
from .community_params import COMMUNITY_PARAMETERS, community_params
from .outputs import community_outputs
from .params import PARAMETERS, ParamError, check_seed, check_seeds
from .rng import run_seeds

__all__ = ["CommunityResults", "simulate_community", "community_chunk_size"]


def community_chunk_size(n_community: int, n_slots: int, n_seats: int, n_steps: int,
                         budget_bytes: float = 200e6) -> int:
    """Runs advanced together: ``min(1000, budget / per-run bytes)`` (design section 9's memory estimate)."""
    pairs = n_community * n_community
    per_run = (8 * 2 + 2) * pairs + 3 * 8 * pairs + 8 * n_slots * (4 * n_seats + n_seats * n_seats + 40) \
        + 8 * n_steps * 40
    return int(max(1, min(1000, budget_bytes // per_run)))


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
    seed: int = 0,
    *,
    seeds: Sequence[int] | np.ndarray | None = None,
    keep: Iterable[str] | None = None,
    chunk_size: int | None = None,
    first_run: int = 0,
    keep_slot_series: bool = False,
    **params: Any,
) -> CommunityResults:
    """Run a batch of communities with the vectorized community engine (:mod:`sim.community`).

    Parameters
    ----------
    n_runs : int
        Number of communities (omit when ``seeds`` is given).
    seed : int
        Root seed: run ``i`` gets ``sim.rng.run_seeds(seed, ...)[i]``, the same whatever ``n_runs``.
    seeds : sequence of int, optional
        Each run's own seed, instead of ``n_runs`` and ``seed``.
    keep : iterable of str, optional
        Community series to keep (default: all).
    chunk_size : int, optional
        Runs advanced together (default :func:`community_chunk_size`); results do not depend on it.
    first_run : int
        Index of the first run under the root seed.
    keep_slot_series : bool
        Also keep the partnership vocabulary's series per slot, (runs, slots, months).
    **params
        The partnership parameters (:mod:`sim.params`) and the community's (:mod:`sim.community_params`); each a
        scalar or one value per run.

    Examples
    --------
    >>> r = simulate_community(n_runs=20, seed=1, funder_policy="mandate", n_steps=24)
    >>> r.series("partnerships").shape
    (20, 24)
    """
    if seeds is not None:
        seeds = check_seeds(seeds)
        if n_runs is not None and n_runs != len(seeds):
            raise ParamError(f"n_runs = {n_runs} but {len(seeds)} seeds were given")
        n_runs = len(seeds)
    else:
        if n_runs is None:
            raise ParamError("give n_runs (with seed) or seeds")
        if isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
            raise ParamError(f"n_runs = {n_runs!r} must be a whole number >= 1")
        seeds = run_seeds(check_seed(seed), int(n_runs), start=first_run)
    p = community_params(int(n_runs), params)
    steps = np.unique(p["n_steps"])
    if len(steps) != 1:
        raise ParamError("n_steps must be the same for every run of a batch")
    n_steps = int(steps[0])
    if chunk_size is None:
        chunk_size = community_chunk_size(int(p["n_community"].max()), int(p["max_partnerships"].max()),
                                          int(p["n_orgs"].max()), n_steps)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ParamError(f"chunk_size = {chunk_size!r} must be a whole number >= 1")
    known = community_outputs("series")
    keep = list(known) if keep is None else list(keep)
    for name in keep:
        if name not in known:
            raise ParamError(f"unknown community series {name!r} in keep (known: {', '.join(known)})")

    chunks = []
    for lo in range(0, int(n_runs), chunk_size):
        hi = min(lo + chunk_size, int(n_runs))
        chunks.append(run_community_batch(seeds[lo:hi], {k: v[lo:hi] for k, v in p.items()}, n_steps, keep,
                                          keep_slot_series=keep_slot_series))
    series = {name: np.concatenate([c.series[name] for c in chunks]) for name in keep}
    table: dict[str, Any] = {"run": np.arange(first_run, first_run + int(n_runs)), "seed": seeds}
    for name in list(PARAMETERS) + list(COMMUNITY_PARAMETERS):
        table[name] = p[name]
    for name in community_outputs("summary"):
        table[name] = np.concatenate([c.summary[name] for c in chunks])
    parts = pd.DataFrame({k: np.concatenate([c.partnerships[k] for c in chunks])
                          for k in community_outputs("partnership")})
    orgs = pd.DataFrame({k: np.concatenate([c.organizations[k] for c in chunks])
                         for k in community_outputs("organization")})
    members = pd.DataFrame({k: np.concatenate([c.memberships[k] for c in chunks])
                            for k in community_outputs("membership")})
    slot_series = None
    if keep_slot_series:
        width = max(c.slot_series["level"].shape[1] for c in chunks)
        slot_series = {}
        for name in chunks[0].slot_series:
            arrs = []
            for c in chunks:
                a = c.slot_series[name]
                if a.shape[1] < width:
                    pad = np.zeros((a.shape[0], width - a.shape[1], a.shape[2]), dtype=a.dtype)
                    a = np.concatenate([a, pad], axis=1)
                arrs.append(a)
            slot_series[name] = np.concatenate(arrs)
    return CommunityResults(pd.DataFrame(table), parts, orgs, members, n_steps, series, slot_series)
