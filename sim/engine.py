"""The vectorized engine: MODEL.md's eight phases for a whole batch of runs at once.

State arrays have the run axis first; organizations are padded to the chunk's
largest ``n_orgs`` and masked by ``active``. Trust ``trust[r, i, j]`` is kept
at 0 outside the active pairs (and on the diagonal), so a row sum over ``j`` is
the sum over active partners. Runs that dissolve are dropped from the working
arrays from time to time (they draw nothing that matters), so a batch in
which most partnerships collapse early runs faster.

A step is the sequence :data:`PHASES` of phase functions, each named like the
Mesa model's method for the same phase (:class:`sim.model.PartnershipModel`)
and working on the batch's state (:class:`Batch`, the same names as the Mesa
model's state) and the step's working values (:class:`Step`). A later model
adds a phase by writing one more ``phase(batch, step)`` function and placing it
in the sequence (``run_batch(..., phases=...)``).

Every random number comes from :mod:`sim.rng` keyed by (run seed, step,
purpose, index); every equation from :mod:`sim.rules`; every strategy from
:mod:`sim.strategies`; every output's name, dtype and fill from
:mod:`sim.outputs`. The Mesa model uses the same four.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from . import outputs, rules
from .levels import COST, MULT, N_LEVELS, NEED, SECTORS, STAKES
from .rng import TRAITS, Purpose, normals, pair_index, run_keys, step_draws, step_layout, trait_index, uniforms
from .strategies import StrategyState, get_strategy
from .variants import KINDS, DissolutionState, MembershipState, Variant, get_variant

__all__ = ["SERIES", "SUMMARY_OUTCOMES", "PHASES", "Batch", "Step", "run_batch", "initial_state", "InitialState"]

#: Each series' dtype (an alias of :data:`sim.outputs.SERIES_DTYPES`, the vocabulary being :mod:`sim.outputs`).
SERIES: dict[str, np.dtype] = outputs.SERIES_DTYPES
#: Per-run outcomes the engine tracks whatever series are kept (alias of :data:`sim.outputs.SUMMARY_OUTCOMES`).
SUMMARY_OUTCOMES = outputs.SUMMARY_OUTCOMES


@dataclass
class InitialState:
    """A batch's day-one state (MODEL.md "State"), padded to ``n`` organizations."""

    sector: np.ndarray  # (R, n) int: index into levels.SECTORS
    group: np.ndarray  # (R, n) int: cultural group 0/1
    traits: np.ndarray  # (R, 4, n): the traits in the order of sim.rng.TRAITS
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
    z = normals(keys, 0, Purpose.TRAITS, trait_index(n))  # (R, 4, n)
    means = np.stack([params[name] for name in TRAITS], axis=1)[:, :, None]
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


def _pairs(active: np.ndarray, as_bool: bool = False) -> np.ndarray:
    """The active ordered pairs ``(i, j)``, ``i != j``, as 0/1 floats (or booleans), shape (R, n, n)."""
    n = active.shape[-1]
    paired = active[:, :, None] & active[:, None, :] & ~np.eye(n, dtype=bool)
    return paired if as_bool else paired.astype(np.float64)


@dataclass(eq=False)
class Batch:
    """The working state of one chunk of runs (the rows still alive), run axis first.

    Names are the Mesa model's for the same state (:class:`sim.model.PartnershipModel`
    and :class:`sim.agents.Organization`). Every array field holds one row per
    run and :meth:`compact` drops the dissolved runs' rows from all of them;
    add a field and it is compacted with the rest.
    """

    rows: np.ndarray  # (R,) positions in the chunk's outputs
    keys: np.ndarray  # (R,) the runs' keys (sim.rng.run_keys)
    params: dict[str, np.ndarray]  # (R,) each
    strategy: np.ndarray  # (R,) strategy name
    # organizations, (R, n)
    sector: np.ndarray
    group: np.ndarray  # cultural group 0/1
    communication: np.ndarray
    leadership: np.ndarray
    individualism: np.ndarray
    identity: np.ndarray
    active: np.ndarray
    capacity: np.ndarray
    free_rider: np.ndarray  # the run's designated free riders
    willing: np.ndarray  # active and not a free rider: members who may contribute
    softening: np.ndarray  # rules.failure_softening(leadership)
    # pairs, (R, n, n)
    trust: np.ndarray
    other_group: np.ndarray  # 0/1 float: g_i != g_j
    pairs: np.ndarray  # 0/1 float: the active ordered pairs
    no_pair: np.ndarray  # (R, n * n): 0 on the active pairs, +inf elsewhere
    misjudge_scale: np.ndarray  # rules.misjudge_scale of each pair (fixed for a run)
    # Model 5 per seat, (R, n)
    seat: np.ndarray  # bool: i < n_orgs, the seats a member may hold
    recent_payoff: np.ndarray  # p-bar_i, the moving average of the member's net payoff
    joined_step: np.ndarray  # int: the step the member joined (0: a founder)
    seat_distance: np.ndarray  # dist_i, the learned cultural distance of seat i (kept while any run recruits)
    # the partnership, (R,)
    distance: np.ndarray  # perceived distance between the cultural groups (the founders' dist_i)
    fail_rate: np.ndarray  # phi, the moving average of failures
    promised: np.ndarray  # the benefit the grant's required rungs promise over the deadline
    net_benefit: np.ndarray  # sum of the recorded net benefit
    n_joined: np.ndarray  # newcomers recorded
    n_left: np.ndarray  # departures recorded
    n_active: np.ndarray
    n_sectors: np.ndarray
    level: np.ndarray
    funded: np.ndarray
    climb_count: np.ndarray
    fail_streak: np.ndarray
    cumulative_benefit: np.ndarray
    alive: np.ndarray
    # running sums kept up to date for speed
    trust_given: np.ndarray  # (R, n): row sums of trust (sum over partners, in index order)
    mean_communication: np.ndarray  # (R,) mean communication over the active members
    total_capacity: np.ndarray  # (R,) capacity of the active members
    # not per run
    n: int = 0
    strategies: list = field(default_factory=list)
    layout: list = field(default_factory=list)  # the step's draws (sim.rng.step_layout)
    #: each kind's variants in the batch, with the mask of their rows (None: every row)
    variants: dict[str, list[tuple[Variant, np.ndarray | None]]] = field(default_factory=dict)
    mixed_tenure: bool = False  # some run has admitted a newcomer: distances are per seat
    recruiting: bool = False  # some run's membership rule may fill seats
    keep_payoff: bool = False  # compute every member's net payoff pi_i each step (Step.payoff), weighed or not
    _active_variants: dict = field(default_factory=dict, repr=False)

    @classmethod
    def start(cls, seeds: np.ndarray, params: Mapping[str, np.ndarray]) -> Batch:
        """Set up the batch: each run's day one (:func:`initial_state`) and its strategy's start."""
        n_runs = len(seeds)
        n = int(params["n_orgs"].max())
        keys = run_keys(seeds)
        init = initial_state(keys, params, n)
        communication, leadership, individualism, identity = (init.traits[:, t, :] for t in range(len(TRAITS)))
        active = init.active
        capacity = np.where(active, 1.0, 0.0)
        pairs = _pairs(active)
        n_sectors = _n_sectors(init.sector, active)
        strategy = np.asarray(params["strategy"])
        strategies = [get_strategy(s) for s in dict.fromkeys(strategy.tolist())]
        level = np.zeros(n_runs, dtype=np.int64)
        funded = np.zeros(n_runs, dtype=bool)
        for strat in strategies:
            sel = strategy == strat.name
            level[sel] = strat.start_level({key: v[sel] for key, v in params.items()})
            funded[sel] = strat.funded
        promised = np.zeros(n_runs)
        for strat in strategies:
            sel = strategy == strat.name
            promised[sel] = strat.promised({key: v[sel] for key, v in params.items()})
        n_active = params["n_orgs"].astype(np.int64).copy()
        free_rider = np.arange(n, dtype=np.uint64)[None, :] < params["free_riders"][:, None].astype(np.uint64)
        seat = np.arange(n)[None, :] < params["n_orgs"][:, None]
        batch = cls(
            rows=np.arange(n_runs),
            keys=keys,
            params=dict(params),
            strategy=strategy,
            sector=init.sector,
            group=init.group,
            communication=communication,
            leadership=leadership,
            individualism=individualism,
            identity=identity,
            active=active,
            capacity=capacity,
            free_rider=free_rider,
            willing=active & ~free_rider,
            softening=rules.failure_softening(leadership),
            trust=init.trust,
            other_group=init.other_group.astype(np.float64),
            pairs=pairs,
            no_pair=np.where(pairs > 0, 0.0, np.inf).reshape(n_runs, -1),
            misjudge_scale=rules.misjudge_scale(params["misperception"][:, None, None], communication[:, :, None],
                                                communication[:, None, :]),
            seat=seat,
            recent_payoff=np.zeros((n_runs, n)),
            joined_step=np.zeros((n_runs, n), dtype=np.int64),
            seat_distance=np.repeat(params["cultural_distance"].astype(np.float64)[:, None], n, axis=1),
            distance=params["cultural_distance"].astype(np.float64).copy(),
            fail_rate=np.zeros(n_runs),
            promised=promised,
            net_benefit=np.zeros(n_runs),
            n_joined=np.zeros(n_runs, dtype=np.int64),
            n_left=np.zeros(n_runs, dtype=np.int64),
            n_active=n_active,
            n_sectors=n_sectors,
            level=rules.level_for_sectors(level, n_sectors),
            funded=funded,
            climb_count=np.zeros(n_runs, dtype=np.int64),
            fail_streak=np.zeros(n_runs, dtype=np.int64),
            cumulative_benefit=np.zeros(n_runs),
            alive=np.ones(n_runs, dtype=bool),
            trust_given=_rowsum(init.trust),
            mean_communication=_rowsum(communication * active) / n_active,
            total_capacity=_rowsum(capacity),
            n=n,
            strategies=strategies,
        )
        batch._group_variants()
        batch.layout = step_layout(n)
        if any(v.draws for v, _ in batch.variants["dissolution"]):
            batch.layout.append((Purpose.DISSOLVE, np.zeros(1, dtype=np.uint64)))
        return batch

    def compact(self, keep: np.ndarray) -> None:
        """Drop the rows not in ``keep`` (dissolved runs) from every per-run field."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                setattr(self, f.name, value[keep])
        self.params = {key: v[keep] for key, v in self.params.items()}
        present = dict.fromkeys(self.strategy.tolist())
        self.strategies = [s for s in self.strategies if s.name in present]
        self._group_variants()

    def _group_variants(self) -> None:
        """Each kind's variants present in the batch, with their rows (a mixed batch is grouped, like strategies)."""
        self.variants = {}
        for kind in KINDS:
            names = self.params[kind]
            present = list(dict.fromkeys(names.tolist()))
            if len(present) == 1:
                self.variants[kind] = [(get_variant(kind, present[0]), None)]
            else:
                self.variants[kind] = [(get_variant(kind, name), names == name) for name in present]
        self._active_variants = {kind: [(v, sel) for v, sel in groups if not v.inert]
                                 for kind, groups in self.variants.items()}
        self.recruiting = bool(self._active_variants["membership"])

    def active_variants(self, kind: str) -> list[tuple[Variant, np.ndarray | None]]:
        """The batch's variants of ``kind`` that may change something (not ``inert``)."""
        return self._active_variants[kind]

    def shortfall(self, level: np.ndarray) -> np.ndarray | None:
        """Each member's payoff shortfall ``delta_i`` by its run's ``payoffs`` variant, (R, n); None if all inert."""
        groups = self.active_variants("payoffs")
        if not groups:
            return None
        cost = COST[level]
        if len(self.variants["payoffs"]) == 1:
            return groups[0][0].rule(self.recent_payoff, self.capacity, cost, self.params)
        delta = np.zeros(self.capacity.shape)
        for variant, sel in groups:
            delta[sel] = variant.rule(self.recent_payoff[sel], self.capacity[sel], cost[sel], _Rows(self.params, sel))
        return delta

    def admit(self, fill: np.ndarray, t: int) -> None:
        """Phase 0: newcomers take the seats ``fill`` (R, n) at step ``t``, strangers drawn from their own streams.

        Each gets a sector, group and traits (``Purpose.NEW_SECTOR``, ``NEW_GROUP``, ``NEW_TRAITS``), capacity 1,
        no payoff history, the unlearned cultural distance, and trust to and from every member as at set-up
        for a stranger (``Purpose.NEW_TRUST``). The runs' derived arrays are then recomputed.
        """
        rows = np.flatnonzero(fill.any(axis=1))
        new = fill[rows]
        keys, n = self.keys[rows], self.n
        p = {key: v[rows] for key, v in self.params.items()}
        idx = np.arange(n, dtype=np.uint64)
        sector = np.floor(uniforms(keys, t, Purpose.NEW_SECTOR, idx) * len(SECTORS)).astype(np.int64)
        group = (uniforms(keys, t, Purpose.NEW_GROUP, idx) < 0.5).astype(np.int64)
        z = normals(keys, t, Purpose.NEW_TRAITS, trait_index(n))
        means = np.stack([p[name] for name in TRAITS], axis=1)[:, :, None]
        traits = rules.initial_trait(means, p["trait_spread"][:, None, None], z)
        self.sector[rows] = np.where(new, sector, self.sector[rows])
        for k, name in enumerate(TRAITS):
            getattr(self, name)[rows] = np.where(new, traits[:, k, :], getattr(self, name)[rows])
        self.group[rows] = np.where(new, group, self.group[rows])
        g = self.group[rows]
        other = g[:, :, None] != g[:, None, :]
        self.other_group[rows] = other
        active = self.active[rows] | new
        self.active[rows] = active
        self.capacity[rows] = np.where(new, 1.0, self.capacity[rows])
        self.recent_payoff[rows] = np.where(new, 0.0, self.recent_payoff[rows])
        self.joined_step[rows] = np.where(new, t, self.joined_step[rows])
        self.seat_distance[rows] = np.where(new, p["cultural_distance"][:, None], self.seat_distance[rows])
        self.free_rider[rows] &= ~new
        self.willing[rows] = active & ~self.free_rider[rows]
        self.softening[rows] = rules.failure_softening(self.leadership[rows])
        # trust as for a stranger at set-up, for every ordered pair with a newcomer in it
        pairs = _pairs(active)
        fresh = (new[:, :, None] | new[:, None, :]) & (pairs > 0)
        d0 = p["cultural_distance"][:, None, None] * other
        zt = normals(keys, t, Purpose.NEW_TRUST, pair_index(n))
        stranger = rules.initial_trust(p["initial_trust"][:, None, None], p["prejudice"][:, None, None], d0,
                                       p["trust_noise"][:, None, None], zt)
        self.trust[rows] = np.where(fresh, stranger, self.trust[rows]) * pairs
        self.pairs[rows] = pairs
        self.no_pair[rows] = np.where(pairs > 0, 0.0, np.inf).reshape(len(rows), -1)
        comm = self.communication[rows]
        self.misjudge_scale[rows] = rules.misjudge_scale(p["misperception"][:, None, None], comm[:, :, None],
                                                         comm[:, None, :])
        n_active = self.n_active.copy()
        n_active[rows] = np.count_nonzero(active, axis=1)
        self.n_active = n_active
        self.trust_given[rows] = _rowsum(self.trust[rows])
        self.n_sectors[rows] = _n_sectors(self.sector[rows], active)
        self.mean_communication[rows] = _rowsum(comm * active) / n_active[rows]
        self.total_capacity[rows] = _rowsum(self.capacity[rows] * active)
        self.mixed_tenure = True


@dataclass(eq=False)
class Step:
    """One step's working values, passed from phase to phase (the Mesa model keeps the same as attributes)."""

    t: int
    level: np.ndarray  # (R,) the level played
    draws: dict[Purpose, np.ndarray]  # this step's uniforms (sim.rng.step_draws)
    n_start: np.ndarray  # (R,) members at the start of the step
    contributed: np.ndarray | None = None  # (R, n) bool: x_i
    contributed_capacity: np.ndarray | None = None  # (R,) C
    share: np.ndarray | None = None
    success: np.ndarray | None = None  # (R,) bool
    benefit: np.ndarray | None = None
    grant_paid: np.ndarray | None = None
    seen_free: np.ndarray | None = None  # (R, n, n) bool
    leaving: np.ndarray | None = None  # (R, n) bool
    dissolving: np.ndarray | None = None  # (R,) bool: the partnership ends this step
    mean_trust: np.ndarray | None = None  # (R,) m after the step's update and exits
    joined: np.ndarray | int = 0  # (R,) newcomers this step (phase 0)
    left: np.ndarray | int = 0  # (R,) departures this step (phase 7)
    net_benefit: np.ndarray | None = None  # (R,) B - cost C
    payoff: np.ndarray | None = None  # (R, n) pi_i of the members (0 elsewhere), when computed
    shortfall: np.ndarray | None = None  # (R, n) delta_i after this step's payoffs (None: every run ignores them)
    need: np.ndarray = field(init=False)  # (R,) the level's need and stakes (sim.levels)
    stakes: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.need = NEED[self.level]
        self.stakes = STAKES[self.level]


Phase = Callable[[Batch, Step], None]


def _mean_trust_given(b: Batch) -> np.ndarray:
    """``tau_i``: each member's mean trust in its partners, (R, n)."""
    return b.trust_given / np.maximum(b.n_active - 1, 1)[:, None]


def recruit(b: Batch, s: Step) -> None:
    """Phase 0 (Model 5): vacant seats are filled by newcomers, as each run's ``membership`` rule decides."""
    groups = b.active_variants("membership")
    if not groups:
        return
    vacant = b.seat & ~b.active
    vacant &= b.alive[:, None]  # a dissolved run (not yet dropped) recruits no one
    if not vacant.any():
        return
    fill = np.zeros(vacant.shape, dtype=bool)
    idx = np.arange(b.n, dtype=np.uint64)
    for variant, sel in groups:
        if sel is None:
            rows = np.flatnonzero(vacant.any(axis=1))
        else:
            rows = np.flatnonzero(sel & vacant.any(axis=1))
        if not len(rows):
            continue
        u = uniforms(b.keys[rows], s.t, Purpose.RECRUIT, idx) if variant.draws else None
        state = MembershipState(s.t, vacant[rows], u, _Rows(b.params, rows))
        fill[rows] = np.asarray(variant.rule(state), dtype=bool) & vacant[rows]
    if fill.any():
        b.admit(fill, s.t)
        s.joined = np.count_nonzero(fill, axis=1)
        s.n_start = b.n_active


def contribute(b: Batch, s: Step) -> None:
    """Phase 1: contribution, reading trust at the start of the step (and, if weighed, the recent payoff)."""
    p = b.params
    delta = b.shortfall(s.level)
    hold_back = 0.0 if delta is None else rules.payoff_term(p["payoff_weight"][:, None], delta, b.individualism)
    chance = rules.contribution_probability(_mean_trust_given(b), s.need[:, None], b.individualism,
                                            p["contribution_bias"][:, None], hold_back)
    s.contributed = (s.draws[Purpose.CONTRIBUTE] < chance) & b.willing
    s.contributed_capacity = _rowsum(b.capacity * s.contributed)
    s.share = s.contributed_capacity / b.total_capacity


def joint_outcome(b: Batch, s: Step) -> None:
    """Phase 2: the joint project succeeds or fails; misunderstandings multiply with the pairs at the table."""
    p = b.params
    n_a = b.n_active
    m = _rowsum(b.trust_given) / (n_a * (n_a - 1))
    e = rules.pair_misunderstanding(p["miscommunication"], b.mean_communication, p["ground_rules"])
    q = rules.derail_probability(e, n_a)
    chance = rules.success_probability(m, s.need, s.share, q, p["success_bias"], p["success_slope"])
    s.success = s.draws[Purpose.SUCCESS][:, 0] < chance


def payoffs(b: Batch, s: Step) -> None:
    """Phase 3: the community's benefit, what the funder pays, each member's net payoff and its moving average."""
    p = b.params
    s.benefit = rules.community_benefit(s.success, MULT[s.level], s.contributed_capacity, p["n_orgs"], s.level,
                                        b.n_sectors)
    b.cumulative_benefit += s.benefit
    cost = COST[s.level]
    s.grant_paid = np.where(b.funded, rules.funder_payment(p["grant"], cost, s.contributed_capacity), 0.0)
    s.net_benefit = s.benefit - cost * s.contributed_capacity
    weighing = bool(b.active_variants("payoffs"))
    if weighing or b.keep_payoff:  # each member's net payoff, and its moving average
        pay = rules.member_payoffs(s.benefit[:, None], b.capacity, b.total_capacity[:, None], cost[:, None],
                                   p["grant"][:, None], b.funded[:, None], s.contributed)
        s.payoff = np.where(b.active, pay, 0.0)
        if weighing:
            b.recent_payoff = np.where(b.active, rules.moving_average(b.recent_payoff, pay, p["memory"][:, None]),
                                       b.recent_payoff)
    b.fail_rate = rules.moving_average(b.fail_rate, 1.0 - s.success, p["memory"])


def perceive(b: Batch, s: Step) -> None:
    """Phase 4: ``i`` sees ``j`` as a free rider if ``j`` held back, unless ``i`` misjudges (or the reverse)."""
    if b.mixed_tenure:  # per-seat distances: the later joiner's, max(dist_i, dist_j)
        d = b.seat_distance
        chance = b.other_group * np.maximum(d[:, :, None], d[:, None, :])
    else:
        chance = b.other_group * b.distance[:, None, None]  # the perceived distance d_ij, then the chance in place
    rules.misjudge_probability(b.misjudge_scale, chance, out=chance)
    seen_free = s.draws[Purpose.MISJUDGE] < chance
    seen_free ^= ~s.contributed[:, None, :]
    s.seen_free = seen_free


def update_trust(b: Batch, s: Step) -> None:
    """Phase 5: the trust update over the active pairs; at level >= 2 the cultural distance is learned."""
    p = b.params
    run = (slice(None), None, None)
    stakes = s.stakes[run]
    rules.update_trust(
        b.trust, s.success[run], stakes, gain_rate=p["gain_rate"][run], celebration=p["celebration"][run],
        loss_rate=p["loss_rate"][run], softening=b.softening[:, :, None],
        free_rider_penalty=p["free_rider_penalty"][run], seen_free=s.seen_free, out=b.trust,
    )
    b.trust *= b.pairs
    learning = s.level >= 2
    b.distance = np.where(learning, rules.learned_distance(b.distance, p["cultural_learning"]), b.distance)
    if b.recruiting:
        b.seat_distance = np.where(learning[:, None],
                                   rules.learned_distance(b.seat_distance, p["cultural_learning"][:, None]),
                                   b.seat_distance)


def grow_capacity(b: Batch, s: Step) -> None:
    """Phase 6: after a success at level >= 4 the contributors' capacity grows, by each run's ``capacity_rule``."""
    grow = (s.success & (s.level >= 4))[:, None] & s.contributed
    if grow.any():
        groups = b.variants["capacity_rule"]
        if len(groups) == 1:
            b.capacity = groups[0][0].rule(b.capacity, grow, b.params)
        else:
            capacity = b.capacity.copy()
            for variant, sel in groups:
                capacity[sel] = variant.rule(b.capacity[sel], grow[sel], _Rows(b.params, sel))
            b.capacity = capacity
        b.total_capacity = _rowsum(b.capacity)


def exits(b: Batch, s: Step) -> None:
    """Phase 7: every member decides on the updated trust, then the leavers go; then the partnership may end:
    with fewer than two members, or as its ``dissolution`` rule decides."""
    p = b.params
    b.trust_given = _rowsum(b.trust)
    delta = s.shortfall = b.shortfall(s.level)
    pressure = 0.0 if delta is None else rules.payoff_term(p["exit_payoff"][:, None], delta, b.individualism)
    chance = rules.exit_probability(
        _mean_trust_given(b), s.need[:, None], s.level[:, None], b.individualism, b.identity, b.leadership,
        b.funded[:, None], exit_base=p["exit_base"][:, None], exit_gap=p["exit_gap"][:, None],
        identity_weight=p["identity_weight"][:, None], grant=p["grant"][:, None], payoff_pressure=pressure,
    )
    s.leaving = (s.draws[Purpose.EXIT] < chance) & b.active
    left = s.leaving.any(axis=1)
    if left.any():
        s.left = np.count_nonzero(s.leaving, axis=1)
        b.active = b.active & ~s.leaving
        b.willing = b.active & ~b.free_rider
        b.n_active = np.count_nonzero(b.active, axis=1)
        act = b.active[left]
        b.pairs[left] = _pairs(act)
        b.trust[left] *= b.pairs[left]
        b.no_pair[left] = np.where(b.pairs[left] > 0, 0.0, np.inf).reshape(int(left.sum()), -1)
        b.trust_given[left] = _rowsum(b.trust[left])
        b.n_sectors[left] = _n_sectors(b.sector[left], act)
        b.mean_communication[left] = _rowsum(b.communication[left] * act) / b.n_active[left]
        b.total_capacity[left] = _rowsum(b.capacity[left] * act)
        b.capacity[left] *= act
    n_a = b.n_active
    s.mean_trust = _rowsum(b.trust_given) / np.maximum(n_a * (n_a - 1), 1)
    s.dissolving = b.alive & ((n_a < 2) | _decide_dissolution(b, s))


def _decide_dissolution(b: Batch, s: Step) -> np.ndarray:
    """Phase 7b: each run's ``dissolution`` rule, on the state after the exits."""

    def shortfall() -> np.ndarray:
        if s.shortfall is None:
            return np.zeros(len(b.rows))
        return _rowsum(np.where(b.active, s.shortfall, 0.0)) / b.n_active

    def mean_leadership() -> np.ndarray:
        return _rowsum(b.leadership * b.active) / b.n_active

    u = s.draws.get(Purpose.DISSOLVE)
    full = DissolutionState(s.t, b.n_active, s.level, s.mean_trust, b.fail_rate, shortfall, mean_leadership,
                            b.funded, None if u is None else u[:, 0], b.params)
    groups = b.variants["dissolution"]
    if len(groups) == 1:
        return np.asarray(groups[0][0].rule(full), dtype=bool)
    out = np.zeros(len(b.rows), dtype=bool)
    for variant, sel in groups:
        sub = DissolutionState(s.t, full.n_active[sel], full.level[sel], full.mean_trust[sel], full.fail_rate[sel],
                               lambda sel=sel: full.shortfall[sel], lambda sel=sel: full.mean_leadership[sel],
                               full.funded[sel], None if full.u is None else full.u[sel], _Rows(b.params, sel))
        out[sel] = np.asarray(variant.rule(sub), dtype=bool)
    return out


def choose_level(b: Batch, s: Step) -> None:
    """Phase 8: the failure streak, then each run's strategy sets the next level, reading trust after this step."""
    b.fail_streak = np.where(s.success, 0, b.fail_streak + 1)
    level, p = s.level, b.params
    next_level = level.copy()
    for strat in b.strategies:
        if len(b.strategies) == 1:
            st = StrategyState(s.t, level, s.mean_trust, s.success, b.fail_streak, b.climb_count, b.funded,
                               b.cumulative_benefit, p, b.promised)
            next_level = strat.rule(st)
        else:
            sel = b.strategy == strat.name
            t = s.t[sel] if np.ndim(s.t) else s.t  # the community's strategy clock is per partnership
            st = StrategyState(t, level[sel], s.mean_trust[sel], s.success[sel], b.fail_streak[sel],
                               b.climb_count[sel], b.funded[sel], b.cumulative_benefit[sel], _Rows(p, sel),
                               b.promised[sel])
            next_level[sel] = strat.rule(st)
            b.climb_count[sel] = st.climb_count
            b.funded[sel] = st.funded
    next_level = np.clip(np.asarray(next_level, dtype=np.int64), 1, N_LEVELS)
    b.level = rules.level_for_sectors(next_level, b.n_sectors)


#: One step: Model 5's recruitment, then MODEL.md's eight phases, in order (the Mesa model's methods of the
#: same names).
PHASES: tuple[Phase, ...] = (recruit, contribute, joint_outcome, payoffs, perceive, update_trust, grow_capacity, exits,
                             choose_level)


@dataclass
class BatchOutput:
    """What :func:`run_batch` returns: kept series (runs x steps) and per-run outcomes."""

    series: dict[str, np.ndarray]
    outcomes: dict[str, np.ndarray]


class _Outputs:
    """The kept series and the per-run outcomes of a chunk, allocated from :mod:`sim.outputs`."""

    def __init__(self, n_runs: int, n_steps: int, keep: Sequence[str]):
        # Buffered step-major (steps x runs): a step's values are one contiguous row, written once per step.
        # `series` holds the runs x steps views of the buffers.
        self._buffers = {name: outputs.SERIES[name].empty(n_steps, n_runs) for name in keep}
        self.series = {name: buf.T for name, buf in self._buffers.items()}
        self.outcomes = {name: spec.empty(n_runs) for name, spec in outputs.SUMMARY.items()}
        self.first = np.full((n_runs, N_LEVELS), np.nan)  # first_step_level_k, k = 1..5

    def record(self, b: Batch, s: Step, n_steps: int) -> None:
        """Write the step (the level played, the trust after it). Rows that dissolve now keep the
        dissolved fills of :mod:`sim.outputs` (level 0, active 0, benefit 0, success 0, NaN trust)."""
        out, col, t = self._buffers, s.t - 1, s.t
        alive = b.alive & ~s.dissolving
        everyone = bool(alive.all())
        at = b.rows if everyone else b.rows[alive]
        record = _Recorder(out, col, at, None if everyone else alive)
        level = s.level
        lvl = level if everyone else level[alive]
        np.maximum.at(self.outcomes["peak_level"], at, lvl)
        seen = self.first[at, lvl - 1]
        self.first[at, lvl - 1] = np.where(np.isnan(seen), t, seen)
        record("level", level)
        record("active", b.n_active)
        record("success", s.success)
        record("benefit", s.benefit)
        record("contribution_rate", _rowsum(s.contributed.view(np.int8)) / np.maximum(s.n_start, 1))
        record("grant", s.grant_paid)
        record("mean_trust", s.mean_trust)
        if np.ndim(s.joined):  # else 0, the series' fill
            record("joined", s.joined)
        if np.ndim(s.left):
            record("left", s.left)
        record("net_benefit", s.net_benefit)
        if "member_payoff" in out:
            record("member_payoff", rules.mean_member_payoff(s.net_benefit, s.grant_paid, s.n_start))
        trust = b.trust
        if "min_trust" in out:
            record("min_trust", _rowmin(_rowmin(trust + b.no_pair.reshape(trust.shape))))
        if "sd_trust" in out:
            # Deviations from the mean, not sqrt(E[T^2] - m^2): once trust converges near 1 that
            # difference cancels catastrophically (e.g. 1.5e-8 reported for a true sd of 7e-17).
            dev = trust - s.mean_trust[:, None, None]
            dev *= b.pairs
            dev *= dev
            record("sd_trust", np.sqrt(_rowsum(_rowsum(dev)) / np.maximum(b.n_active * (b.n_active - 1), 1)))
        if s.dissolving.any():
            # The dissolving step's benefit is lost with the partnership.
            b.cumulative_benefit[s.dissolving] -= s.benefit[s.dissolving]
        record("cumulative_benefit", b.cumulative_benefit)
        # dissolved rows add 0 (nothing joins, leaves or is spent there); the dissolving step is not counted
        ending = s.dissolving.any()
        b.net_benefit += np.where(s.dissolving, 0.0, s.net_benefit) if ending else s.net_benefit
        if np.ndim(s.joined):
            b.n_joined += np.where(s.dissolving, 0, s.joined) if ending else s.joined
        if np.ndim(s.left):
            b.n_left += np.where(s.dissolving, 0, s.left) if ending else s.left
        if t == n_steps:
            self.outcomes["final_trust"][at] = s.mean_trust if everyone else s.mean_trust[alive]
            self.outcomes["final_level"][at] = lvl

    def dissolve(self, b: Batch, s: Step) -> None:
        """The runs dissolving this step end for good: their future is the dissolved state."""
        gone = b.rows[s.dissolving]
        self.outcomes["dissolved_step"][gone] = s.t
        if "cumulative_benefit" in self.series:  # held at its last value (sim.outputs)
            self.series["cumulative_benefit"][gone, s.t - 1:] = b.cumulative_benefit[s.dissolving][:, None]
        b.alive &= ~s.dissolving
        b.active[s.dissolving] = False
        b.willing[s.dissolving] = False
        b.n_active[s.dissolving] = 0
        b.pairs[s.dissolving] = 0.0
        b.trust[s.dissolving] = 0.0
        b.trust_given[s.dissolving] = 0.0

    def keep_benefit(self, b: Batch) -> None:
        """Store the running totals of the batch's rows (before they are dropped)."""
        self.outcomes["cumulative_benefit"][b.rows] = b.cumulative_benefit
        self.outcomes["net_benefit"][b.rows] = b.net_benefit
        self.outcomes["n_joined"][b.rows] = b.n_joined
        self.outcomes["n_left"][b.rows] = b.n_left
        self.outcomes["turnover"][b.rows] = b.n_left / b.params["n_orgs"]

    def result(self) -> BatchOutput:
        o = self.outcomes
        o["dissolved"] = ~np.isnan(o["dissolved_step"])
        for k in range(1, N_LEVELS + 1):
            o[f"first_step_level_{k}"] = self.first[:, k - 1]
        return BatchOutput(self.series, {name: o[name] for name in SUMMARY_OUTCOMES})


def run_batch(
    seeds: np.ndarray,
    params: Mapping[str, np.ndarray],
    n_steps: int,
    keep: Sequence[str] = tuple(SERIES),
    *,
    phases: Sequence[Phase] = PHASES,
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
    phases : sequence of callables
        The step: ``phase(batch, step)`` functions run in order (default :data:`PHASES`).
    """
    b = Batch.start(np.asarray(seeds, dtype=np.uint64), params)
    out = _Outputs(len(seeds), n_steps, keep)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for t in range(1, n_steps + 1):
            s = Step(t, b.level, step_draws(b.keys, t, b.layout), b.n_active)
            for phase in phases:
                phase(b, s)
            out.record(b, s, n_steps)
            if s.dissolving.any():
                out.dissolve(b, s)
                n_alive = int(b.alive.sum())
                if n_alive == 0:
                    out.keep_benefit(b)
                    b.compact(b.alive)
                    break
                if n_alive < 0.75 * len(b.rows):
                    out.keep_benefit(b)
                    b.compact(b.alive)
            b.level = np.where(b.alive, b.level, 0)

    if len(b.rows):
        out.keep_benefit(b)
    return out.result()


class _Rows(Mapping):
    """The parameters of some runs, indexed on first use (a strategy reads only a few).

    ``rows`` is anything that indexes a run axis: row numbers, a mask, or a slice (then the values are views)."""

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
            self.out[name][self.col, self.at] = values if self.alive is None else values[self.alive]
