"""The vectorized engine: MODEL.md's eight phases for a whole batch of runs at once.

State arrays have the run axis first; organizations are padded to the chunk's
largest ``n_orgs`` and masked by ``active``. Trust ``T[r, i, j]`` is kept at 0
outside the active pairs (and on the diagonal), so a row sum over ``j`` is the
sum over active partners. Runs that dissolve are dropped from the working
arrays from time to time (they draw nothing that matters), so a batch in
which most partnerships collapse early runs faster.

Every random number comes from :mod:`sim.rng` keyed by (run seed, step,
purpose, index); every equation from :mod:`sim.rules`; every strategy from
:mod:`sim.strategies`. The Mesa model (:mod:`sim.model`) uses the same three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import rules
from .levels import COST, MULT, N_LEVELS, NEED, SECTORS, STAKES
from .rng import MAX_ORGS, Purpose, normals, pair_index, run_keys, step_uniforms, uniforms
from .strategies import StrategyState, get_strategy

__all__ = ["SERIES", "SUMMARY_OUTCOMES", "run_batch", "initial_state", "InitialState"]

#: The per-step series (MODEL.md "Outputs") and their dtypes.
SERIES: dict[str, np.dtype] = {
    "level": np.dtype(np.int8),
    "active": np.dtype(np.int8),
    "mean_trust": np.dtype(np.float64),
    "min_trust": np.dtype(np.float64),
    "sd_trust": np.dtype(np.float64),
    "success": np.dtype(np.int8),
    "benefit": np.dtype(np.float64),
    "cumulative_benefit": np.dtype(np.float64),
    "contribution_rate": np.dtype(np.float64),
    "grant": np.dtype(np.float64),
}

#: Per-run outcomes the engine tracks whatever series are kept.
SUMMARY_OUTCOMES = (
    "dissolved",
    "dissolved_step",
    "final_level",
    "peak_level",
    "final_trust",
    "cumulative_benefit",
    *(f"first_step_level_{k}" for k in range(1, N_LEVELS + 1)),
)

N_TRAITS = 4  # communication k, leadership l, individualism u, identity h (stream order)
_TRAIT_PARAMS = ("communication", "leadership", "individualism", "identity")


@dataclass
class InitialState:
    """A batch's day-one state (MODEL.md "State"), padded to ``n`` organizations."""

    sector: np.ndarray  # (R, n) int: index into levels.SECTORS
    group: np.ndarray  # (R, n) int: cultural group 0/1
    traits: np.ndarray  # (R, 4, n): communication, leadership, individualism, identity
    trust: np.ndarray  # (R, n, n), 0 on the diagonal and outside the founding members
    active: np.ndarray  # (R, n) bool
    other_group: np.ndarray = field(repr=False)  # (R, n, n) bool: g_i != g_j


def initial_state(keys: np.ndarray, params: Mapping[str, np.ndarray], n: int) -> InitialState:
    """Draw the set-up of each run (step 0 of its streams).

    Parameters
    ----------
    keys : ndarray of uint64, shape (R,)
        The runs' keys (:func:`sim.rng.run_keys` of their seeds).
    params : mapping
        Parameters, arrays of shape (R,).
    n : int
        Padded number of organizations (>= every run's ``n_orgs``).
    """
    idx = np.arange(n, dtype=np.uint64)
    active = idx[None, :] < params["n_orgs"][:, None].astype(np.uint64)
    sector = np.floor(uniforms(keys, 0, Purpose.SECTOR, idx) * len(SECTORS)).astype(np.int64)
    group = (uniforms(keys, 0, Purpose.GROUP, idx) < 0.5).astype(np.int64)
    trait_idx = np.arange(N_TRAITS, dtype=np.uint64)[:, None] * np.uint64(MAX_ORGS) + idx[None, :]
    z = normals(keys, 0, Purpose.TRAITS, trait_idx)  # (R, 4, n)
    means = np.stack([params[name] for name in _TRAIT_PARAMS], axis=1)[:, :, None]
    traits = rules.initial_trait(means, params["trait_spread"][:, None, None], z)
    other = group[:, :, None] != group[:, None, :]
    d = params["cultural_distance"][:, None, None] * other
    zt = normals(keys, 0, Purpose.TRUST, pair_index(n))
    trust = rules.initial_trust(
        params["initial_trust"][:, None, None], params["prejudice"][:, None, None], d,
        params["trust_noise"][:, None, None], zt,
    )
    pairs = active[:, :, None] & active[:, None, :] & ~np.eye(n, dtype=bool)
    trust *= pairs
    return InitialState(sector, group, traits, trust, active, other)


def _rowsum(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis, adding the columns in index order.

    A fixed order makes every run's sums bit-identical whatever the batch, its
    padding (zeros add nothing) or the BLAS in use, and equal to the Mesa
    model's plain loop over partners.
    """
    out = a[..., 0].copy()
    for j in range(1, a.shape[-1]):
        out += a[..., j]
    return out


def _rowmin(a: np.ndarray) -> np.ndarray:
    """Minimum over the last axis, column by column (faster than ``min(axis=-1)`` for short rows)."""
    out = a[..., 0].copy()
    for j in range(1, a.shape[-1]):
        np.minimum(out, a[..., j], out=out)
    return out


def _n_sectors(sector: np.ndarray, active: np.ndarray) -> np.ndarray:
    present = np.zeros((sector.shape[0], len(SECTORS)), dtype=bool)
    rows = np.nonzero(active)
    present[rows[0], sector[rows]] = True
    return present.sum(axis=1)


class _Batch:
    """The working state of one chunk of runs (the rows still alive)."""

    def __init__(self, seeds: np.ndarray, params: Mapping[str, np.ndarray]):
        self.params = dict(params)
        n = int(params["n_orgs"].max())
        self.n = n
        self.rows = np.arange(len(seeds))  # positions in the chunk's outputs
        self.keys = run_keys(seeds)
        init = initial_state(self.keys, params, n)
        self.sector = init.sector
        k, l, u, h = (init.traits[:, t, :] for t in range(N_TRAITS))
        self.k, self.l, self.u, self.h = k, l, u, h
        self.active = init.active
        self.T = init.trust
        self.other = init.other_group.astype(np.float64)
        self.dist = params["cultural_distance"].astype(np.float64).copy()  # perceived distance between groups
        self.cap = np.where(self.active, 1.0, 0.0)
        self.n_active = params["n_orgs"].astype(np.int64).copy()
        self.pairs = (self.active[:, :, None] & self.active[:, None, :] & ~np.eye(n, dtype=bool)).astype(np.float64)
        self.n_sectors = _n_sectors(self.sector, self.active)
        self.min_members = rules.quorum_size(params["quorum"], params["n_orgs"])
        self.strategy = np.asarray(params["strategy"])
        self.strategies = [get_strategy(s) for s in dict.fromkeys(self.strategy.tolist())]
        self.level = np.zeros(len(seeds), dtype=np.int64)
        self.funded = np.zeros(len(seeds), dtype=bool)
        for strat in self.strategies:
            rows = self.strategy == strat.name
            sub = {key: v[rows] for key, v in params.items()}
            self.level[rows] = strat.start_level(sub)
            self.funded[rows] = strat.funded
        self.level = rules.level_for_sectors(self.level, self.n_sectors)
        self.climb = np.zeros(len(seeds), dtype=np.int64)
        self.streak = np.zeros(len(seeds), dtype=np.int64)
        self.cumben = np.zeros(len(seeds))
        self.rowsum = _rowsum(self.T)
        self.alive = np.ones(len(seeds), dtype=bool)
        # Per-run constant of the misjudging chance: misperception * (1 - (k_i + k_j) / 2).
        self.misjudge_base = params["misperception"][:, None, None] * (1.0 - (k[:, :, None] + k[:, None, :]) / 2.0)
        # Per-pair loss factor for failures, (1 - 0.6 l_i): only the truster's leadership matters.
        self.lead_soften = 1.0 - 0.6 * l
        self.no_pair = np.where(self.pairs > 0, 0.0, np.inf).reshape(len(seeds), -1)  # +inf off the active pairs
        self.mean_k = _rowsum(k * self.active) / self.n_active
        self.total_cap = _rowsum(self.cap)
        org = np.arange(n, dtype=np.uint64)
        # Members who may contribute: active, and not one of the run's designated free riders.
        self.free_rider = org[None, :] < params["free_riders"][:, None].astype(np.uint64)
        self.willing = self.active & ~self.free_rider
        self.draws = [(Purpose.CONTRIBUTE, org), (Purpose.SUCCESS, np.zeros(1, dtype=np.uint64)),
                      (Purpose.MISJUDGE, pair_index(n)), (Purpose.EXIT, org)]

    def compact(self, keep: np.ndarray) -> None:
        """Drop the rows not in ``keep`` (dissolved runs) from every working array."""
        for name in ("rows", "keys", "sector", "k", "l", "u", "h", "active", "T", "other", "dist", "cap",
                     "n_active", "pairs", "n_sectors", "min_members", "strategy", "level", "funded", "climb",
                     "streak", "cumben", "rowsum", "misjudge_base", "lead_soften", "alive", "mean_k", "total_cap",
                     "no_pair", "free_rider", "willing"):
            setattr(self, name, getattr(self, name)[keep])
        self.params = {key: v[keep] for key, v in self.params.items()}
        present = dict.fromkeys(self.strategy.tolist())
        self.strategies = [s for s in self.strategies if s.name in present]


@dataclass
class BatchOutput:
    """What :func:`run_batch` returns: kept series (runs x steps) and per-run outcomes."""

    series: dict[str, np.ndarray]
    outcomes: dict[str, np.ndarray]


def run_batch(
    seeds: np.ndarray,
    params: Mapping[str, np.ndarray],
    n_steps: int,
    keep: Sequence[str] = tuple(SERIES),
) -> BatchOutput:
    """Advance a batch of runs ``n_steps`` steps and return their series and outcomes.

    Parameters
    ----------
    seeds : ndarray of uint64, shape (R,)
        Each run's own seed.
    params : mapping of str to ndarray
        Validated parameters (:func:`sim.params.batch_params`), shape (R,) each.
    n_steps : int
        Steps to simulate.
    keep : sequence of str
        Names of the series to return (all by default).
    """
    n_runs = len(seeds)
    b = _Batch(np.asarray(seeds, dtype=np.uint64), params)
    p = b.params
    out = {name: _empty_series(name, n_runs, n_steps) for name in keep}
    dissolved_step = np.full(n_runs, np.nan)
    peak = np.zeros(n_runs, dtype=np.int64)
    first = np.full((n_runs, N_LEVELS), np.nan)
    final_trust = np.full(n_runs, np.nan)
    cumben_final = np.zeros(n_runs)
    final_level = np.zeros(n_runs, dtype=np.int64)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for t in range(1, n_steps + 1):
            col = t - 1
            level = b.level
            need = NEED[level]
            n_a = b.n_active
            keys = b.keys
            rows = b.rows

            u_contrib, u_success, u_misjudge, u_exit = step_uniforms(keys, t, b.draws)

            # 1. Contribution, reading trust at the start of the step.
            tau = b.rowsum / np.maximum(n_a - 1, 1)[:, None]
            p_contrib = rules.contribution_probability(tau, need[:, None], b.u, p["contribution_bias"][:, None])
            x = (u_contrib < p_contrib) & b.willing
            contributed = _rowsum(b.cap * x)
            share = contributed / b.total_cap
            n_pairs = n_a * (n_a - 1)
            m = _rowsum(b.rowsum) / n_pairs

            # 2. Joint outcome.
            e = rules.pair_misunderstanding(p["miscommunication"], b.mean_k, p["ground_rules"])
            q = rules.derail_probability(e, n_a)
            p_success = rules.success_probability(m, need, share, q, p["success_bias"], p["success_slope"])
            success = u_success[:, 0] < p_success

            # 3. Payoffs.
            benefit = rules.community_benefit(success, MULT[level], contributed, p["n_orgs"], level, b.n_sectors)
            b.cumben += benefit
            paid = np.where(b.funded, rules.funder_payment(p["grant"], COST[level], contributed), 0.0)

            # 4. Perception: i sees j as a free rider if j held back, unless i misjudges (or the reverse).
            stakes = STAKES[level]
            d = b.other * b.dist[:, None, None]
            d += 0.5
            d *= b.misjudge_base
            seen_free = u_misjudge < d
            seen_free ^= ~x[:, None, :]

            # 5. Trust update over the active pairs: success T += g (1 - T), failure T -= L_i T,
            # written as one expression (exact for both, as the zero term vanishes), then free riding.
            T = b.T
            g = np.where(success, p["gain_rate"] * stakes * (1.0 + p["celebration"]), 0.0)
            loss = np.where(success, 0.0, p["loss_rate"] * stakes)[:, None] * b.lead_soften
            up = np.subtract(1.0, T)
            up *= g[:, None, None]
            down = T * loss[:, :, None]
            up -= down
            T += up
            fr = T * (p["free_rider_penalty"] * stakes)[:, None, None]
            fr *= seen_free
            T -= fr
            np.clip(T, 0.0, 1.0, out=T)
            T *= b.pairs
            learning = level >= 2
            b.dist = np.where(learning, rules.learned_distance(b.dist, p["cultural_learning"]), b.dist)

            # 6. Capacity.
            grow = (success & (level >= 4))[:, None] & x
            if grow.any():
                b.cap = np.where(grow, rules.grown_capacity(b.cap, p["capacity_growth"][:, None]), b.cap)
                b.total_cap = _rowsum(b.cap)

            # 7. Exit, reading trust after the update.
            n_a_start = n_a
            rowsum = _rowsum(T)
            tau = rowsum / np.maximum(n_a - 1, 1)[:, None]
            p_exit = rules.exit_probability(
                tau, need[:, None], level[:, None], b.u, b.h, b.l, b.funded[:, None],
                exit_base=p["exit_base"][:, None], exit_gap=p["exit_gap"][:, None],
                identity_weight=p["identity_weight"][:, None], grant=p["grant"][:, None],
            )
            leaving = (u_exit < p_exit) & b.active
            left = leaving.any(axis=1)
            if left.any():
                b.active = b.active & ~leaving
                b.willing = b.active & ~b.free_rider
                b.n_active = np.count_nonzero(b.active, axis=1)
                act = b.active[left]
                b.pairs[left] = act[:, :, None] & act[:, None, :] & ~np.eye(b.n, dtype=bool)
                T[left] *= b.pairs[left]
                b.no_pair[left] = np.where(b.pairs[left] > 0, 0.0, np.inf).reshape(int(left.sum()), -1)
                rowsum[left] = _rowsum(T[left])
                b.n_sectors[left] = _n_sectors(b.sector[left], act)
                b.mean_k[left] = _rowsum(b.k[left] * act) / b.n_active[left]
                b.total_cap[left] = _rowsum(b.cap[left] * act)
                b.cap[left] *= act
            b.rowsum = rowsum
            dissolving = b.alive & (b.n_active < b.min_members)
            n_a = b.n_active
            n_pairs = n_a * (n_a - 1)

            # 8. Strategy, reading trust after this step.
            b.streak = np.where(success, 0, b.streak + 1)
            m_after = _rowsum(rowsum) / np.maximum(n_pairs, 1)
            next_level = level.copy()
            for strat in b.strategies:
                if len(b.strategies) == 1:
                    s = StrategyState(t, level, m_after, success, b.streak, b.climb, b.funded, b.cumben, p)
                    next_level = strat.rule(s)
                else:
                    sel = b.strategy == strat.name
                    s = StrategyState(t, level[sel], m_after[sel], success[sel], b.streak[sel], b.climb[sel],
                                      b.funded[sel], b.cumben[sel], _Rows(p, sel))
                    next_level[sel] = strat.rule(s)
                    b.climb[sel] = s.climb_count
                    b.funded[sel] = s.funded
            next_level = np.clip(np.asarray(next_level, dtype=np.int64), 1, N_LEVELS)
            b.level = rules.level_for_sectors(next_level, b.n_sectors)

            # Record the step (the level played, the trust after it). Rows that dissolve now keep
            # the dissolved defaults (level 0, active 0, benefit 0, success 0, NaN trust).
            alive = b.alive & ~dissolving
            everyone = bool(alive.all())
            at = rows if everyone else rows[alive]

            record = _Recorder(out, col, at, None if everyone else alive)
            lvl = level if everyone else level[alive]
            np.maximum.at(peak, at, lvl)
            seen = first[at, lvl - 1]
            first[at, lvl - 1] = np.where(np.isnan(seen), t, seen)
            record("level", level)
            record("active", n_a)
            record("success", success)
            record("benefit", benefit)
            record("contribution_rate", _rowsum(x.view(np.int8)) / np.maximum(n_a_start, 1))
            record("grant", paid)
            record("mean_trust", m_after)
            if "min_trust" in out:
                record("min_trust", _rowmin(_rowmin(T + b.no_pair.reshape(T.shape))))
            if "sd_trust" in out:
                # Deviations from the mean, not sqrt(E[T^2] - m^2): once trust converges near 1 that
                # difference cancels catastrophically (e.g. 1.5e-8 reported for a true sd of 7e-17).
                dev = T - m_after[:, None, None]
                dev *= b.pairs
                dev *= dev
                record("sd_trust", np.sqrt(_rowsum(_rowsum(dev)) / np.maximum(n_pairs, 1)))
            if dissolving.any():
                # The dissolving step's benefit is lost with the partnership.
                b.cumben[dissolving] -= benefit[dissolving]
            record("cumulative_benefit", b.cumben)
            if t == n_steps:
                final_trust[at] = m_after if everyone else m_after[alive]
                final_level[at] = lvl

            if dissolving.any():
                gone = rows[dissolving]
                dissolved_step[gone] = t
                if "cumulative_benefit" in out:
                    out["cumulative_benefit"][gone, col:] = b.cumben[dissolving][:, None]
                b.alive &= ~dissolving
                b.active[dissolving] = False
                b.willing[dissolving] = False
                b.n_active[dissolving] = 0
                b.pairs[dissolving] = 0.0
                b.T[dissolving] = 0.0
                b.rowsum[dissolving] = 0.0
                n_alive = int(b.alive.sum())
                if n_alive == 0:
                    cumben_final[b.rows] = b.cumben
                    b.compact(b.alive)
                    break
                if n_alive < 0.75 * len(b.rows):
                    cumben_final[b.rows] = b.cumben
                    b.compact(b.alive)
                    p = b.params
            b.level = np.where(b.alive, b.level, 0)

    if len(b.rows):
        cumben_final[b.rows] = b.cumben
    outcomes = {
        "dissolved": ~np.isnan(dissolved_step),
        "dissolved_step": dissolved_step,
        "final_level": final_level,
        "peak_level": peak,
        "final_trust": final_trust,
        "cumulative_benefit": cumben_final,
        **{f"first_step_level_{k}": first[:, k - 1] for k in range(1, N_LEVELS + 1)},
    }
    return BatchOutput(out, outcomes)


class _Rows(Mapping):
    """The parameters of some runs, indexed on first use (a strategy reads only a few)."""

    def __init__(self, params: Mapping[str, np.ndarray], rows: np.ndarray):
        self._params, self._rows, self._cache = params, rows, {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = self._params[name][self._rows]
        return self._cache[name]

    def __iter__(self):
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)


class _Recorder:
    """Writes one step's values of the kept series for the rows still alive."""

    def __init__(self, out: dict[str, np.ndarray], col: int, at: np.ndarray, alive: np.ndarray | None):
        self.out, self.col, self.at, self.alive = out, col, at, alive

    def __call__(self, name: str, values: np.ndarray) -> None:
        if name in self.out:
            self.out[name][self.at, self.col] = values if self.alive is None else values[self.alive]


def _empty_series(name: str, n_runs: int, n_steps: int) -> np.ndarray:
    dtype = SERIES[name]
    if name in ("mean_trust", "min_trust", "sd_trust", "contribution_rate"):
        return np.full((n_runs, n_steps), np.nan, dtype=dtype)
    return np.zeros((n_runs, n_steps), dtype=dtype)
