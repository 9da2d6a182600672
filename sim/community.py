"""The vectorized community engine (issue 15; community-design sections 2-9).

A run is a community of ``n_community`` organizations with trust between every pair that persists across
partnerships. Up to ``max_partnerships`` partnerships (slots) exist at once; each slot has ``n_orgs`` seats.
Arrays have the run axis first: organizations (R, N), pairs (R, N, N), slots (R, P), seats (R, P, S).

One month, in this order: the funder's call (4.C) -> self-formation, at most one (4.F) -> recruiting from the
community (phase 0) -> Model 5's phases 1-8 **phase-major** over the live slots in ascending slot order
(4.P) -> learning of cultural distance (4.L) -> reputation (4.G) -> funder bookkeeping (4.B) -> record.

The month's live partnerships run as one *month view*: a Model 5 :class:`sim.engine.Batch` with a row per
(run, live slot), slot-major (every run's slot 0, then slot 1, ...), the seats' organizations as its members, so
every partnership rule is Model 5's own phase function (:data:`sim.engine.PHASES`), called once a month for all
partnerships. Community state enters and leaves the view at fixed points: trust is re-read before phase 5 and
written back after it, slot by slot in ascending order (each slot's rows as a batch of views into the month
view's arrays), so a pair in two partnerships is updated once per shared partnership, lower slot first; capacity
likewise in phase 6. Sums over a run's partnerships (payoffs, the month's totals) add them in ascending slot
order (``np.add.at`` over slot-major rows), as the Mesa twin does.

Every draw is keyed by (run seed, month, purpose, index) (:mod:`sim.rng`); Model 5's partnership purposes are
used with a slot offset (``p * 64 + s``), so slot 0 draws exactly what the partnership model draws and a
community of one all-member partnership reproduces it bit for bit (section 10; ``tests/test_community.py``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from . import community_rules as cr
from . import engine, funder, rules
from .engine import _Rows
from .levels import N_LEVELS, NEED, SECTORS
from .outputs import community_outputs
from .rng import (
    TRAITS,
    Purpose,
    community_index,
    community_trait_index,
    normals,
    run_keys,
    slot_org_index,
    slot_pair_index,
    slot_uniforms,
    uniforms,
    uniforms_at,
)
from .strategies import get_strategy
from .variants import MembershipState, get_variant

__all__ = ["CommunityBatch", "CommunityBatchOutput", "run_community_batch", "community_step_layout", "check_invariants"]

_SETUP, _CONVENED = 0, 1


def community_step_layout(n_slots: int, n_seats: int) -> list[tuple[Purpose, np.ndarray]]:
    """A month's partnership draws (phases 1-8; phase 0's RECRUIT and RECRUIT_ACCEPT are drawn where they are
    used): (P, S) for CONTRIBUTE and EXIT; (P, 1) for SUCCESS and DISSOLVE; (P, S, S) for MISJUDGE, at the
    slot-offset indices of :mod:`sim.rng`."""
    p = np.arange(n_slots, dtype=np.uint64)
    s = np.arange(n_seats, dtype=np.uint64)
    org = slot_org_index(p[:, None], s[None, :])
    run = p[:, None].copy()
    pair = slot_pair_index(p[:, None, None], s[None, :, None], s[None, None, :])
    return [(Purpose.CONTRIBUTE, org), (Purpose.SUCCESS, run), (Purpose.MISJUDGE, pair), (Purpose.EXIT, org),
            (Purpose.DISSOLVE, run)]


def _strategy_start(names: np.ndarray, params: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Each row's starting level, ``funded`` flag and promised benefit under its strategy ``names``."""
    n = len(names)
    level, funded, promised = np.ones(n, np.int64), np.zeros(n, bool), np.zeros(n)
    for name in dict.fromkeys(names.tolist()):
        strat = get_strategy(name)
        sel = names == name
        sub = _Rows(params, np.flatnonzero(sel))
        level[sel] = strat.start_level(sub)
        funded[sel] = strat.funded
        promised[sel] = strat.promised(sub)
    return level, funded, promised


def _sectors_of(sector: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Sectors present among ``members`` ((R, S) org indices, -1 vacant), per row."""
    present = np.zeros((members.shape[0], len(SECTORS)), dtype=bool)
    rr, ss = np.nonzero(members >= 0)
    present[rr, sector[rr, members[rr, ss]]] = True
    return present.sum(axis=1)


@dataclass(eq=False)
class CommunityBatch:
    """The state of a chunk of community runs (design section 2), run axis first."""

    seeds: np.ndarray
    keys: np.ndarray
    params: dict[str, np.ndarray]
    n: int  # N, padded organizations
    n_slots: int  # P
    n_seats: int  # S, padded seats
    exists: np.ndarray  # (R, N) i < n_community
    sector: np.ndarray
    group: np.ndarray
    communication: np.ndarray
    leadership: np.ndarray
    individualism: np.ndarray
    identity: np.ndarray
    capacity: np.ndarray
    free_rider: np.ndarray
    n_memberships: np.ndarray
    convened: np.ndarray
    months_member: np.ndarray
    joined_count: np.ndarray
    payoff: np.ndarray
    benefit_received: np.ndarray
    trust: np.ndarray  # (R, N, N)
    dist: np.ndarray
    acquainted: np.ndarray
    other_group: np.ndarray
    pair_ok: np.ndarray  # (R, N, N) i != j, both exist
    # slots (R, P)
    alive: np.ndarray
    level: np.ndarray
    strategy: np.ndarray  # object: names
    strategy_start: np.ndarray
    funded: np.ndarray
    award_remaining: np.ndarray
    funder_money: np.ndarray
    award_tag: np.ndarray
    ever_awarded: np.ndarray
    origin: np.ndarray
    convener: np.ndarray
    formed_step: np.ndarray
    number: np.ndarray  # the partnership's number in its run
    climb_count: np.ndarray
    fail_streak: np.ndarray
    cumulative_benefit: np.ndarray
    net_benefit: np.ndarray
    fail_rate: np.ndarray
    promised: np.ndarray
    peak_level: np.ndarray
    first_step: np.ndarray  # (R, P, 5)
    n_founding: np.ndarray
    n_joined: np.ndarray
    n_left: np.ndarray
    funded_months: np.ndarray
    awards: np.ndarray
    award_total: np.ndarray
    grant_total: np.ndarray
    # seats (R, P, S)
    org: np.ndarray
    recent_payoff: np.ndarray
    joined_step: np.ndarray
    recruited: np.ndarray  # (R, P, S) bool: the seat's member was recruited (not a founder)
    seat_ok: np.ndarray  # (R, S) s < n_orgs
    was_member: np.ndarray  # (R, P, N)
    # funder (R,)
    free: np.ndarray
    spent: np.ndarray
    n_formed: np.ndarray
    n_ended: np.ndarray
    n_awarded: np.ndarray
    origins: tuple[str, ...] = ()
    layout: list = field(default_factory=list)
    view_variants: tuple | None = None  # the month view's variant groups, when every run has the same

    @property
    def n_runs(self) -> int:
        return len(self.seeds)

    @functools.cached_property
    def size_groups(self) -> dict[int, np.ndarray]:
        """The runs (rows, ascending) of each community size ``n_community``, sizes ascending."""
        n = np.asarray(self.params["n_community"])
        return {int(k): np.flatnonzero(n == k) for k in np.unique(n)}

    @classmethod
    def start(cls, seeds: np.ndarray, params: Mapping[str, np.ndarray]) -> CommunityBatch:
        """Set-up (design section 3): the same purposes and, below 64 organizations, the same indices as the
        partnership model, so the organizations and their trust are the partnership model's."""
        r = len(seeds)
        n = int(params["n_community"].max())
        n_slots = int(params["max_partnerships"].max())
        n_seats = int(params["n_orgs"].max())
        keys = run_keys(seeds)
        idx = np.arange(n, dtype=np.uint64)
        exists = idx[None, :] < params["n_community"][:, None].astype(np.uint64)
        sector = np.floor(uniforms(keys, 0, Purpose.SECTOR, idx) * len(SECTORS)).astype(np.int64)
        group = (uniforms(keys, 0, Purpose.GROUP, idx) < 0.5).astype(np.int64)
        tix = community_trait_index(np.arange(len(TRAITS))[:, None], np.arange(n)[None, :])
        z = normals(keys, 0, Purpose.TRAITS, tix)
        means = np.stack([params[name] for name in TRAITS], axis=1)[:, :, None]
        traits = rules.initial_trait(means, params["trait_spread"][:, None, None], z)
        other = group[:, :, None] != group[:, None, :]
        d0 = params["cultural_distance"][:, None, None] * other
        pair_ok = exists[:, :, None] & exists[:, None, :] & ~np.eye(n, dtype=bool)
        pidx = community_index(np.arange(n)[:, None], np.arange(n)[None, :])
        upper = np.triu(np.ones((n, n), dtype=bool), 1)
        if (params["prior_ties"] > 0).any():
            tie = (uniforms(keys, 0, Purpose.PRIOR_TIE, pidx) < params["prior_ties"][:, None, None]) & upper
            tie = (tie | tie.transpose(0, 2, 1)) & pair_ok
        else:
            tie = np.zeros((r, n, n), dtype=bool)
        zt = normals(keys, 0, Purpose.TRUST, pidx)
        base = np.where(tie, params["tie_trust"][:, None, None], params["initial_trust"][:, None, None])
        trust = rules.initial_trust(base, params["prejudice"][:, None, None], d0, params["trust_noise"][:, None, None],
                                    zt)
        trust *= pair_ok
        P, S = n_slots, n_seats
        zi = lambda *shape: np.zeros((r, *shape), dtype=np.int64)  # noqa: E731
        zf = lambda *shape: np.zeros((r, *shape))  # noqa: E731
        zb = lambda *shape: np.zeros((r, *shape), dtype=bool)  # noqa: E731
        cb = cls(
            seeds=seeds, keys=keys, params=dict(params), n=n, n_slots=P, n_seats=S, exists=exists,
            # the traits contiguous, so the month view gathers its seats' values with one flat take
            sector=sector, group=group, communication=np.ascontiguousarray(traits[:, 0]),
            leadership=np.ascontiguousarray(traits[:, 1]), individualism=np.ascontiguousarray(traits[:, 2]),
            identity=np.ascontiguousarray(traits[:, 3]), capacity=np.where(exists, 1.0, 0.0),
            free_rider=np.arange(n)[None, :] < params["free_riders"][:, None], n_memberships=zi(n),
            convened=zi(n), months_member=zi(n), joined_count=zi(n), payoff=zf(n), benefit_received=zf(n),
            trust=trust, dist=d0.astype(np.float64), acquainted=tie, other_group=other, pair_ok=pair_ok,
            alive=zb(P), level=zi(P), strategy=np.full((r, P), "", dtype=object), strategy_start=zi(P),
            funded=zb(P), award_remaining=zf(P), funder_money=zb(P), award_tag=zi(P), ever_awarded=zb(P),
            origin=zi(P), convener=zi(P), formed_step=zi(P), number=zi(P), climb_count=zi(P), fail_streak=zi(P),
            cumulative_benefit=zf(P), net_benefit=zf(P), fail_rate=zf(P), promised=zf(P), peak_level=zi(P),
            first_step=np.full((r, P, N_LEVELS), np.nan), n_founding=zi(P), n_joined=zi(P), n_left=zi(P),
            funded_months=zi(P), awards=zi(P), award_total=zf(P), grant_total=zf(P),
            org=np.full((r, P, S), -1, dtype=np.int64), recent_payoff=zf(P, S), joined_step=zi(P, S),
            recruited=zb(P, S),
            seat_ok=np.arange(S)[None, :] < params["n_orgs"][:, None], was_member=zb(P, n),
            free=params["funder_budget"].astype(np.float64).copy(), spent=zf(), n_formed=zi(), n_ended=zi(),
            n_awarded=zi(), origins=funder.origin_names(), layout=community_step_layout(P, S),
        )
        one = np.flatnonzero(params["setup"] == "one")
        if len(one):
            members = np.where(cb.seat_ok[one], np.arange(S)[None, :], -1)
            p = _Rows(params, one)
            level, funded, promised = _strategy_start(np.asarray(params["strategy"])[one], p)
            cb.open_slot(one, np.zeros(len(one), np.int64), members, step=0, origin=_SETUP, convener=0,
                         strategy=np.asarray(params["strategy"])[one], level=level, funded=funded,
                         award=np.full(len(one), np.inf), funder_money=False, promised=promised)
        return cb

    # --- slot life -------------------------------------------------------------------------------------------

    def open_slot(self, rows: np.ndarray, slot: np.ndarray, members: np.ndarray, *, step: int, origin: int | np.ndarray,
                  convener: np.ndarray | int, strategy: np.ndarray, level: np.ndarray, funded: np.ndarray | bool,
                  award: np.ndarray, funder_money: bool, promised: np.ndarray, tag: int = 0) -> None:
        """A partnership forms in ``slot`` of ``rows`` with ``members`` ((k, S) org indices, seat order)."""
        if not len(rows):
            return
        S = self.n_seats
        m = np.full((len(rows), S), -1, dtype=np.int64)
        m[:, :members.shape[1]] = members[:, :S]
        self.alive[rows, slot] = True
        self.org[rows, slot] = m
        self.recent_payoff[rows, slot] = 0.0
        self.joined_step[rows, slot] = step
        self.recruited[rows, slot] = False
        self.level[rows, slot] = rules.level_for_sectors(level, _sectors_of(self.sector[rows], m))
        self.strategy[rows, slot] = strategy
        self.strategy_start[rows, slot] = step - 1 if step > 0 else 0
        self.funded[rows, slot] = funded
        self.award_remaining[rows, slot] = award
        self.funder_money[rows, slot] = funder_money
        self.award_tag[rows, slot] = tag
        self.ever_awarded[rows, slot] = funder_money
        self.origin[rows, slot] = origin
        self.convener[rows, slot] = convener
        self.formed_step[rows, slot] = step
        self.number[rows, slot] = self.n_formed[rows]
        self.n_formed[rows] += 1
        for name in ("climb_count", "fail_streak", "n_joined", "n_left", "funded_months", "peak_level"):
            getattr(self, name)[rows, slot] = 0
        for name in ("cumulative_benefit", "net_benefit", "fail_rate", "grant_total"):
            getattr(self, name)[rows, slot] = 0.0
        self.promised[rows, slot] = promised
        self.first_step[rows, slot] = np.nan
        self.n_founding[rows, slot] = (m >= 0).sum(axis=1)
        self.awards[rows, slot] = 1 if funder_money else 0
        self.award_total[rows, slot] = np.where(funder_money, award, 0.0)
        self.was_member[rows, slot] = False
        rr, ss = np.nonzero(m >= 0)
        o = m[rr, ss]
        self.was_member[rows[rr], slot[rr], o] = True
        np.add.at(self.n_memberships, (rows[rr], o), 1)
        np.add.at(self.joined_count, (rows[rr], o), 1)
        self._acquaint(rows, m)

    def _acquaint(self, rows: np.ndarray, members: np.ndarray) -> None:
        """Members of one partnership become acquainted (K = 1 among them)."""
        ok = members >= 0
        mm = np.maximum(members, 0)
        both = ok[:, :, None] & ok[:, None, :] & (mm[:, :, None] != mm[:, None, :])
        rr, a, b = np.nonzero(both)
        self.acquainted[rows[rr], mm[rr, a], mm[rr, b]] = True

    def lowest_free_slot(self, rows: np.ndarray) -> np.ndarray:
        """Each row's lowest free slot (-1 if none), counting only slots below its ``max_partnerships``."""
        free = ~self.alive[rows] & (np.arange(self.n_slots)[None, :] < self.params["max_partnerships"][rows, None])
        return np.where(free.any(axis=1), np.argmax(free, axis=1), -1)

    def free_slots(self) -> np.ndarray:
        return ~self.alive & (np.arange(self.n_slots)[None, :] < self.params["max_partnerships"][:, None])


# --- 4.C the funder's call --------------------------------------------------------------------------------------


def _slot_summaries(cb: CommunityBatch, rows: np.ndarray) -> dict[str, np.ndarray]:
    org = cb.org[rows]
    ok = org >= 0
    n_members = ok.sum(axis=-1)
    r, P, S = org.shape
    mm = np.maximum(org, 0)
    sector = np.take_along_axis(cb.sector[rows][:, None, :].repeat(P, 1), mm, axis=-1)
    present = np.zeros((r, P, len(SECTORS)), dtype=bool)
    rr, pp, ss = np.nonzero(ok)
    present[rr, pp, sector[rr, pp, ss]] = True
    t = cb.trust[rows]
    flat = (np.arange(r)[:, None, None, None] * cb.n + mm[:, :, :, None]) * cb.n + mm[:, :, None, :]
    pair = ok[:, :, :, None] & ok[:, :, None, :] & ~np.eye(S, dtype=bool)
    tt = np.where(pair, t.reshape(-1)[flat], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_trust = engine._rowsum(engine._rowsum(tt)) / (n_members * (n_members - 1))
    members = np.zeros((r, P, cb.n), dtype=bool)
    members[rr, pp, org[rr, pp, ss]] = True
    return {"n_members": n_members, "n_sectors": present.sum(-1), "mean_trust": np.where(cb.alive[rows], mean_trust,
                                                                                           np.nan), "members": members}


def funder_call(cb: CommunityBatch, t: int) -> np.ndarray:
    """4.C: the calling runs' policies award money; returns the awards made per run this month."""
    made = np.zeros(cb.n_runs, dtype=np.int64)
    due, k = funder.call_due(t, cb.params)
    if not due.any():
        return made
    names = cb.params["funder_policy"]
    for name in dict.fromkeys(names[due].tolist()):
        rows = np.flatnonzero(due & (names == name))
        call = _call_state(cb, rows, t, k[rows])
        awards = funder.run_policy(call, name)
        _apply_awards(cb, rows, awards, t, origin=cb.origins.index(name))
        made[rows] = awards.n_awards
    return made


def _call_state(cb: CommunityBatch, rows: np.ndarray, t: int, call_index: np.ndarray) -> funder.CallState:
    summ = _slot_summaries(cb, rows)
    m_max = cb.params["max_memberships"][rows, None]
    spare = np.where(cb.exists[rows], m_max - cb.n_memberships[rows], 0)
    priority = np.where(cb.exists[rows], uniforms(cb.keys[rows], t, Purpose.FUNDER, np.arange(cb.n, dtype=np.uint64)),
                        -np.inf)
    return funder.CallState(
        step=t, call_index=call_index, params=_Rows(cb.params, rows), budget=cb.free[rows].copy(),
        sector=cb.sector[rows], group=cb.group[rows], leadership=cb.leadership[rows],
        individualism=cb.individualism[rows], capacity=cb.capacity[rows], spare=spare, priority=priority,
        trust=cb.trust[rows], acquainted=cb.acquainted[rows], alive=cb.alive[rows], free_slot=cb.free_slots()[rows],
        level=np.where(cb.alive[rows], cb.level[rows], 0), funded=cb.funded[rows], funder_money=cb.funder_money[rows],
        ever_awarded=cb.ever_awarded[rows], award_tag=cb.award_tag[rows], origin=cb.origin[rows],
        award_remaining=cb.award_remaining[rows], n_members=summ["n_members"], n_sectors=summ["n_sectors"],
        mean_trust=summ["mean_trust"], formed_step=cb.formed_step[rows], members=summ["members"],
        n_seats=cb.n_seats, origins=cb.origins,
    )


def _apply_awards(cb: CommunityBatch, rows: np.ndarray, a: funder.Awards, t: int, origin: int) -> None:
    """Reserve each award's amount out of the free budget, fund existing slots and open new consortia."""
    rr, pp = np.nonzero(a.fund)
    if len(rr):
        r = rows[rr]
        back = np.where(cb.funder_money[r, pp], cb.award_remaining[r, pp], 0.0)
        np.add.at(cb.free, r, back)
        amount = a.fund_amount[rr, pp]
        np.subtract.at(cb.free, r, amount)
        cb.award_remaining[r, pp] = amount
        cb.funder_money[r, pp] = True
        cb.funded[r, pp] = True
        cb.ever_awarded[r, pp] = True
        cb.award_tag[r, pp] = a.fund_tag[rr, pp]
        cb.strategy[r, pp] = a.fund_strategy
        cb.strategy_start[r, pp] = t - 1
        lvl = a.fund_level[rr, pp]
        jump = lvl > 0
        if jump.any():
            n_sec = _sectors_of(cb.sector[r], cb.org[r, pp])
            cb.level[r[jump], pp[jump]] = rules.level_for_sectors(lvl[jump], n_sec[jump])
        cb.promised[r, pp] = _strategy_start(np.full(len(r), a.fund_strategy, dtype=object), _Rows(cb.params, r))[2]
        cb.awards[r, pp] += 1
        cb.award_total[r, pp] += amount
    real = (a.new_members >= 0).any(axis=-1)
    for k in range(a.new_members.shape[1]):
        sel = np.flatnonzero(real[:, k])
        if not len(sel):
            continue
        r = rows[sel]
        slot = cb.lowest_free_slot(r)
        amount = a.new_amount[sel, k]
        cb.free[r] -= amount
        strategy = np.full(len(r), a.new_strategy, dtype=object)
        promised = _strategy_start(strategy, _Rows(cb.params, r))[2]
        members = a.new_members[sel, k]
        cb.open_slot(r, slot, members, step=t, origin=origin, convener=members[:, 0], strategy=strategy,
                     level=a.new_level[sel, k], funded=True, award=amount, funder_money=True, promised=promised,
                     tag=0)
        cb.award_tag[r, slot] = a.new_tag[sel, k]


# --- 4.F self-formation ----------------------------------------------------------------------------------------


def self_formation(cb: CommunityBatch, t: int) -> np.ndarray:
    """4.F: at most one partnership forms a month, convened by the candidate with the smallest draw."""
    formed = np.zeros(cb.n_runs, dtype=bool)
    p = cb.params
    rows = np.flatnonzero(cb.free_slots().any(axis=1) & (p["convene_rate"] > 0))
    if not len(rows):
        return formed
    idx = np.arange(cb.n, dtype=np.uint64)
    M = p["max_memberships"][rows, None]
    m = cb.n_memberships[rows]
    u = uniforms(cb.keys[rows], t, Purpose.CONVENE, idx)
    prob = cr.convene_probability(cb.leadership[rows], p["convene_rate"][rows])
    c = cr.choose_convener(u, prob, cb.exists[rows] & (m < M))
    go = c >= 0
    rows, c, m, M = rows[go], c[go], m[go], M[go]
    if not len(rows):
        return formed
    strategy = np.asarray(p["strategy"])[rows]
    start, _, promised = _strategy_start(strategy, _Rows(p, rows))
    need0 = NEED[start]
    r_ = np.arange(len(rows))
    t_c = cb.trust[rows, c, :]  # T[c, j]
    eligible = cb.exists[rows] & (m < M) & (t_c >= need0[:, None])
    eligible[r_, c] = False
    inv = cr.invitees(t_c, eligible, p["n_orgs"][rows] - 1)
    v = uniforms(cb.keys[rows], t, Purpose.ACCEPT, idx)
    j = np.maximum(inv, 0)
    t_jc = cb.trust[rows[:, None], j, c[:, None]]  # T[j, c]
    a = cr.acceptance_probability(t_jc, need0[:, None], np.take_along_axis(cb.individualism[rows], j, 1),
                                  np.take_along_axis(m, j, 1), M, p["accept_bias"][rows, None])
    accept = (inv >= 0) & (np.take_along_axis(v, j, 1) < a)
    ok = accept.any(axis=1)
    if not ok.any():
        return formed
    rows, c, inv, accept, strategy, start, promised = (x[ok] for x in (rows, c, inv, accept, strategy, start,
                                                                         promised))
    order = np.argsort(~accept, axis=1, kind="stable")  # acceptors in invitation order
    acc = np.where(np.take_along_axis(accept, order, 1), np.take_along_axis(inv, order, 1), -1)
    members = np.concatenate([c[:, None], acc], axis=1)
    slot = cb.lowest_free_slot(rows)
    cb.open_slot(rows, slot, members, step=t, origin=_CONVENED, convener=c, strategy=strategy, level=start,
                 funded=False, award=np.zeros(len(rows)), funder_money=False, promised=promised)
    cb.convened[rows, c] += 1
    formed[rows] = True
    return formed


# --- phase 0: recruiting from the community ---------------------------------------------------------------------


def recruit_from_community(cb: CommunityBatch, t: int) -> np.ndarray:
    """Phase 0: vacancies the membership rule fills take the most trusted eligible non-member, if it accepts.

    Each run fills its vacancies in slot order, then seat order. What a vacancy's candidate and acceptance read
    of the others is only the memberships counts (trust and the slots' members at the start of phase 0 do not
    change during it), so the runs go in rounds: round k fills every run's k-th vacancy at once."""
    fill = np.zeros((cb.n_runs, cb.n_slots, cb.n_seats), dtype=bool)
    p = cb.params
    seats = np.arange(cb.n_seats)[None, :]
    names = p["membership"]
    for name in dict.fromkeys(names.tolist()):
        variant = get_variant("membership", name)
        if variant.inert:
            continue
        mine = names == name
        for slot in range(cb.n_slots):
            vacant = cb.seat_ok & (cb.org[:, slot] < 0) & cb.alive[:, [slot]]
            rows = np.flatnonzero(mine & vacant.any(axis=1))
            if not len(rows):
                continue
            u = (uniforms_at(cb.keys[rows, None], t, Purpose.RECRUIT, slot_org_index(slot, seats)) if variant.draws
                 else None)
            state = MembershipState(t, vacant[rows], u, _Rows(p, rows))
            fill[rows, slot] = np.asarray(variant.rule(state), dtype=bool) & vacant[rows]
    joined = np.zeros((cb.n_runs, cb.n_slots), dtype=np.int64)
    if fill.any():
        _fill_seats(cb, fill, t, joined)
    return joined


def _fill_seats(cb: CommunityBatch, fill: np.ndarray, t: int, joined: np.ndarray) -> None:
    """Fill the seats ``fill`` (R, P, S) from the community, counting the newcomers into ``joined`` (R, P)."""
    p = cb.params
    qr, qp = np.nonzero(fill.any(axis=2))  # the (run, slot) pairs recruiting, run-major then slot order
    members = cb.org[qr, qp]  # A_p at the start of phase 0
    ok = members >= 0
    mm = np.maximum(members, 0)
    n_a = np.maximum(ok.sum(axis=1), 1)[:, None]
    # a candidate's mean trust from the members and theirs in it: sums over the seats in seat order (a
    # reduction over a non-contiguous axis adds its terms in sequence)
    score = np.add.reduce(np.where(ok[:, :, None], cb.trust[qr[:, None], mm, :], 0.0), axis=1) / n_a
    back = np.add.reduce(np.where(ok[:, :, None], cb.trust[qr[:, None], :, mm], 0.0), axis=1) / n_a
    need = NEED[cb.level[qr, qp]]
    M = p["max_memberships"]
    base = cb.exists[qr] & ~cb.was_member[qr, qp] & (score >= need[:, None])
    wr, wp, ws = np.nonzero(fill)  # every run's vacancies in slot, then seat order
    wq = np.searchsorted(qr * cb.n_slots + qp, wr * cb.n_slots + wp)  # each vacancy's recruiting pair
    first = np.searchsorted(wr, wr)  # the run's first vacancy
    rank = np.arange(len(wr)) - first
    accept_draw = uniforms_at(cb.keys[wr], t, Purpose.RECRUIT_ACCEPT, slot_org_index(wp, ws))
    order = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[order], np.arange(int(rank.max()) + 2))
    for k in range(len(bounds) - 1):
        e = order[bounds[k]:bounds[k + 1]]  # round k: one vacancy per run, distinct runs
        r, q, slot, seat = wr[e], wq[e], wp[e], ws[e]
        eligible = base[q] & (cb.n_memberships[r] < M[r, None])
        j = cr.recruit_candidate(score[q], eligible)
        want = j >= 0
        jj = np.maximum(j, 0)
        base[q[want], jj[want]] = False  # not chosen again for a later seat this month
        a = cr.acceptance_probability(back[q, jj], need[q], cb.individualism[r, jj], cb.n_memberships[r, jj], M[r],
                                      p["accept_bias"][r])
        yes = want & (accept_draw[e] < a)
        r, slot, seat, o = r[yes], slot[yes], seat[yes], jj[yes]
        cb.org[r, slot, seat] = o
        cb.recent_payoff[r, slot, seat] = 0.0
        cb.joined_step[r, slot, seat] = t
        cb.recruited[r, slot, seat] = True
        cb.n_memberships[r, o] += 1
        cb.joined_count[r, o] += 1
        cb.was_member[r, slot, o] = True
        joined[r, slot] += 1
    grew = joined[qr, qp] > 0
    cb._acquaint(qr[grew], cb.org[qr[grew], qp[grew]])  # once, with the final members: phase 0 reads no acquaintance


# --- the month view -------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _View:
    """The month's live partnerships as one Model 5 batch: a row per (run, live slot), slot-major (every run's
    slot 0 first, then slot 1, ...), the seats' organizations as its members."""

    rows: np.ndarray  # (V,) the row's run
    slots: np.ndarray  # (V,) the row's slot
    bounds: list[tuple[int, int, int]]  # (slot, lo, hi): slot's rows are lo:hi
    orgs: np.ndarray  # (V, S) org index, 0 where vacant
    at: np.ndarray  # (V, S) flat indices of the seats' organizations into the (R, N) arrays
    active0: np.ndarray  # (V, S) the members when the view was built
    flat: np.ndarray  # (V, S, S) flat indices into cb.trust
    pair_ix: np.ndarray  # the active pairs' flat positions in the view's (V, S, S) arrays, slot-major
    pair_to: np.ndarray  # ... and in cb.trust
    pair_cut: np.ndarray  # slot k of ``bounds`` has pair_ix[pair_cut[k]:pair_cut[k + 1]]
    seat_ix: np.ndarray  # the members' flat positions in the view's (V, S) arrays
    seat_to: np.ndarray  # ... and in the (R, N) organization arrays
    seat_cut: np.ndarray
    batch: engine.Batch
    step: engine.Step
    _segments: list | None = None

    def segments(self) -> list[tuple[int, slice, engine.Batch, engine.Step]]:
        """Each live slot's rows as a Model 5 batch and step of their own whose arrays are views into the month
        view's (so in-place writes reach it), in ascending slot order. Built on first use (after the phases
        before trust's have filled the step) and kept for the month."""
        if self._segments is not None:
            return self._segments
        merged, step = self.batch, self.step
        uniform = all(len(groups) == 1 for groups in merged.variants.values())
        out = []
        for slot, lo, hi in self.bounds:
            b = copy.copy(merged)
            for name in _BATCH_FIELDS:
                value = getattr(b, name)
                if isinstance(value, np.ndarray):
                    setattr(b, name, value[lo:hi])
            b.params = _Rows(merged.params, slice(lo, hi))  # views of the month view's
            if uniform:  # every row runs the same variants: the groups have no row masks to cut
                b.variants, b._active_variants = merged.variants, merged._active_variants
            else:
                b._group_variants()
                b.recruiting = merged.recruiting  # False: phase 0 is the community's (no per-seat distances)
            s = copy.copy(step)
            for name, value in vars(s).items():
                if isinstance(value, np.ndarray):
                    setattr(s, name, value[lo:hi])
            s.draws = {pur: d[lo:hi] for pur, d in step.draws.items()}
            out.append((slot, slice(lo, hi), b, s))
        self._segments = out
        return out


def _take(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The seats' values of an (R, N) organization array: one take at flat indices (a fancy ``a[rows]`` then
    ``take_along_axis`` copied each run's whole row first)."""
    return np.take(a.reshape(-1), at)


def month_view(cb: CommunityBatch, t: int, joined: np.ndarray, *, min_trust: bool = True) -> _View | None:
    """The month's live partnerships as one Model 5 Batch (design section 9), or None when none is alive.

    One batch for every live slot makes each Model 5 phase one call a month rather than one per slot; a row's
    numbers do not depend on the other rows (the partnership engine is batch-invariant), and the two phases
    that read what other partnerships write (trust, capacity) run slot by slot (:func:`partnership_phases`)."""
    per_slot = [np.flatnonzero(cb.alive[:, p]) for p in range(cb.n_slots)]
    sizes = [len(r) for r in per_slot]
    if not sum(sizes):
        return None
    rows = np.concatenate(per_slot)
    slots = np.repeat(np.arange(cb.n_slots), sizes)
    ends = np.cumsum(sizes)
    bounds = [(p, int(ends[p] - sizes[p]), int(ends[p])) for p in range(cb.n_slots) if sizes[p]]
    params = _Rows(cb.params, rows)  # sliced on first use
    org = cb.org[rows, slots]
    active = org >= 0
    orgs = np.maximum(org, 0)
    n_v, S = len(rows), cb.n_seats
    at = rows[:, None] * cb.n + orgs
    take = lambda a: _take(a, at)  # noqa: E731
    comm, lead = take(cb.communication), take(cb.leadership)
    paired = engine._pairs(active, as_bool=True)
    pairs = paired.astype(np.float64)
    flat = at[:, :, None] * cb.n + orgs[:, None, :]  # (row, i, j) flat into the (R, N, N) arrays
    trust = np.take(cb.trust.reshape(-1), flat)
    trust *= pairs
    # the perceived distance per pair; dist is 0 within a group (d0 = cultural_distance [g_i != g_j], learned by
    # multiplication), so it is other_group x dist, and Model 5's chance other x distance becomes dist x 1.0
    dist = np.take(cb.dist.reshape(-1), flat)
    capacity = np.where(active, take(cb.capacity), 0.0)
    n_active = np.count_nonzero(active, axis=1)
    sector = take(cb.sector)
    free_rider = take(cb.free_rider) & active
    strategy = cb.strategy[rows, slots]
    rp = rows * cb.n_slots + slots  # (run, slot) flat: one take beats fancy 2-D indexing
    pick = lambda a: a.reshape((len(cb.seeds) * cb.n_slots,) + a.shape[2:]).take(rp, axis=0)  # noqa: E731  (copies)
    b = engine.Batch(
        rows=rows, keys=cb.keys[rows], params=params, strategy=strategy, sector=sector, group=take(cb.group),
        communication=comm, leadership=lead, individualism=take(cb.individualism), identity=take(cb.identity),
        active=active, capacity=capacity, free_rider=free_rider, willing=active & ~free_rider,
        softening=rules.failure_softening(lead), trust=trust, other_group=dist, pairs=pairs,
        # no_pair serves only the partnership recorder's min_trust (keep_slot_series); else left unset
        no_pair=np.where(paired, 0.0, np.inf).reshape(n_v, -1) if min_trust else np.empty((n_v, S * S)),
        misjudge_scale=rules.misjudge_scale(params["misperception"][:, None, None], comm[:, :, None],
                                            comm[:, None, :], out=np.empty((n_v, S, S))),
        seat=cb.seat_ok[rows], recent_payoff=pick(cb.recent_payoff), joined_step=pick(cb.joined_step),
        seat_distance=np.zeros((n_v, S)), distance=np.ones(n_v), fail_rate=pick(cb.fail_rate),
        promised=pick(cb.promised), net_benefit=pick(cb.net_benefit), n_joined=pick(cb.n_joined),
        n_left=pick(cb.n_left), n_active=n_active, n_sectors=engine._n_sectors(sector, active),
        level=pick(cb.level), funded=pick(cb.funded), climb_count=pick(cb.climb_count),
        fail_streak=pick(cb.fail_streak), cumulative_benefit=pick(cb.cumulative_benefit),
        alive=np.ones(n_v, dtype=bool), trust_given=engine._rowsum(trust),
        mean_communication=engine._rowsum(comm * active) / n_active, total_capacity=engine._rowsum(capacity), n=S,
        strategies=[get_strategy(s) for s in dict.fromkeys(strategy.tolist())],
    )
    if cb.view_variants is None:
        b._group_variants()
        if all(len(np.unique(cb.params[kind])) == 1 for kind in b.variants):  # the same every month
            cb.view_variants = (b.variants, b._active_variants)
    else:
        b.variants, b._active_variants = cb.view_variants
    b.recruiting = False
    b.keep_payoff = True
    drawn = slot_uniforms(cb.keys, t, cb.layout, rows, bounds)
    # n_start a copy, not b.n_active itself: the partnership recorder's dissolve (keep_slot_series) zeroes the
    # dissolving rows' n_active in place, which would reach the month's starters (contribution_rate) whenever
    # no member of any live slot left this month (exits then keep b.n_active, the same array)
    s = engine.Step(t, b.level, {pur: d for (pur, _), d in zip(cb.layout, drawn, strict=True)},
                    b.n_active.copy())
    s.joined = joined[rows, slots]
    # phases 5 and 6 write back the active pairs and members (fixed until the exits of phase 7), slot by slot
    starts = [lo for _, lo, _ in bounds] + [n_v]
    pair_ix = np.flatnonzero(paired)
    seat_ix = np.flatnonzero(active)
    return _View(rows, slots, bounds, orgs, at, active.copy(), flat, pair_ix, flat.reshape(-1).take(pair_ix),
                 np.searchsorted(pair_ix, np.array(starts) * S * S), seat_ix, at.reshape(-1).take(seat_ix),
                 np.searchsorted(seat_ix, np.array(starts) * S), b, s)


_BATCH_FIELDS = tuple(f.name for f in fields(engine.Batch))

#: The phases that read what other partnerships write this month: trust (a pair in two partnerships is updated
#: once per shared partnership, lower slot first) and capacity (an organization's growth in a lower slot is what
#: a higher one grows from). They run slot by slot, each slot re-reading the community's state.
_SLOT_BY_SLOT = (engine.update_trust, engine.grow_capacity)


def _before(cb: CommunityBatch, v: _View, phase: Any) -> None:
    b, s = v.batch, v.step
    if phase is engine.choose_level:
        b.funded &= cb.award_remaining[v.rows, v.slots] > 0  # an exhausted award ends the grant
        s.t_community = s.t
        s.t = s.t - cb.strategy_start[v.rows, v.slots]  # the strategy clock counts from the award


def _after(cb: CommunityBatch, v: _View, phase: Any) -> None:
    b, s, r, slots = v.batch, v.step, v.rows, v.slots
    if phase is engine.payoffs:
        s.funded_now = b.funded.copy()
        paid, cb.award_remaining[r, slots] = funder.pay(s.grant_paid, cb.award_remaining[r, slots])
        s.grant_paid = paid
        # np.add.at adds repeated indices one by one in the order given: slot-major rows add a run's (an
        # organization's) partnerships in ascending slot order, the order of the twin's sums
        np.add.at(cb.spent, r, np.where(cb.funder_money[r, slots], paid, 0.0))
        act = b.active
        share = np.where(act, cr.benefit_share(s.benefit[:, None], b.capacity, b.total_capacity[:, None]), 0.0)
        ix = np.flatnonzero(act)
        at = v.at.take(ix)
        np.add.at(cb.payoff.reshape(-1), at, s.payoff.take(ix))
        np.add.at(cb.benefit_received.reshape(-1), at, share.take(ix))
    elif phase is engine.choose_level:
        s.t = s.t_community


def _slot_by_slot(cb: CommunityBatch, v: _View, phase: Any) -> None:
    """Run ``phase`` on each live slot's rows in ascending order, each reading the community's trust or capacity
    as the lower slots left it and writing its own back."""
    merged = v.batch
    trust, capacity = merged.trust.reshape(-1), merged.capacity.reshape(-1)
    for k, (_, rs, b, s) in enumerate(v.segments()):
        before = [getattr(b, name) for name in _BATCH_FIELDS]
        if phase is engine.update_trust:
            pairs = slice(v.pair_cut[k], v.pair_cut[k + 1])
            if k:  # what lower slots wrote this month (the lowest live slot's trust is as the view gathered it;
                # the other pairs hold 0 from the gather and nothing writes them before this phase)
                trust.put(v.pair_ix[pairs], cb.trust.take(v.pair_to[pairs]))
        else:
            seats = slice(v.seat_cut[k], v.seat_cut[k + 1])
            b.capacity[...] = 0.0
            capacity.put(v.seat_ix[seats], cb.capacity.take(v.seat_to[seats]))
        phase(b, s)
        for name, old in zip(_BATCH_FIELDS, before, strict=True):  # fields the phase replaced, not wrote into
            new = getattr(b, name)
            if new is not old and isinstance(new, np.ndarray):
                getattr(merged, name)[rs] = new
                setattr(b, name, getattr(merged, name)[rs])  # a view again, for the next phase
        if phase is engine.update_trust:
            cb.trust.put(v.pair_to[pairs], trust.take(v.pair_ix[pairs]))
        else:
            cb.capacity.put(v.seat_to[seats], merged.capacity.reshape(-1).take(v.seat_ix[seats]))


def partnership_phases(cb: CommunityBatch, v: _View, phases: Sequence[Any] = engine.PHASES[1:]) -> None:
    """4.P: Model 5's phases 1-8 over the month's live partnerships, phase-major (each phase over every live slot
    before the next phase), trust and capacity slot by slot in ascending slot order."""
    for phase in phases:
        if phase in _SLOT_BY_SLOT:
            _slot_by_slot(cb, v, phase)
            continue
        _before(cb, v, phase)
        phase(v.batch, v.step)
        _after(cb, v, phase)


def _absorb(cb: CommunityBatch, v: _View, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Write the view's end-of-month state back; exits vacate seats, dissolution releases every member.
    Returns (dissolving, left) per view row."""
    b, s, r, slots = v.batch, v.step, v.rows, v.slots
    dis = s.dissolving
    left = np.where(dis, 0, np.count_nonzero(s.leaving, axis=1)) if s.leaving is not None else np.zeros(len(r), int)
    b.cumulative_benefit[dis] -= s.benefit[dis]  # the dissolving month's benefit is lost with the partnership
    b.net_benefit += np.where(dis, 0.0, s.net_benefit)
    # (run, slot) pairs are distinct rows: plain fancy assignment and += are exact
    cb.cumulative_benefit[r, slots] = b.cumulative_benefit
    cb.net_benefit[r, slots] = b.net_benefit
    cb.fail_rate[r, slots] = b.fail_rate
    cb.climb_count[r, slots] = b.climb_count
    cb.fail_streak[r, slots] = b.fail_streak
    cb.funded[r, slots] = b.funded
    cb.recent_payoff[r, slots] = b.recent_payoff
    cb.level[r, slots] = b.level
    cb.n_joined[r, slots] += s.joined  # every recruit (the membership table has a row for each)
    cb.n_left[r, slots] += left
    cb.funded_months[r, slots] += s.grant_paid > 0
    cb.grant_total[r, slots] += s.grant_paid
    lvl = s.level
    cb.peak_level[r, slots] = np.maximum(cb.peak_level[r, slots], np.where(dis, 0, lvl))
    fs = cb.first_step[r, slots, np.maximum(lvl, 1) - 1]
    cb.first_step[r, slots, np.maximum(lvl, 1) - 1] = np.where(np.isnan(fs) & ~dis, t, fs)
    gone = v.active0 & (s.leaving if s.leaving is not None else False)
    gone |= v.active0 & dis[:, None]
    rr, ss = np.nonzero(gone)
    cb.members_log.leave(cb, r[rr], slots[rr], ss, t, np.where(dis[rr], "ended", "exit"))
    np.subtract.at(cb.n_memberships, (r[rr], v.orgs[rr, ss]), 1)  # an organization may leave two partnerships
    cb.org[r[rr], slots[rr], ss] = -1
    cb.alive[r[dis], slots[dis]] = False
    np.add.at(cb.n_ended, r[dis], np.int64(1))
    return dis, left


# --- outputs ---------------------------------------------------------------------------------------------------


@dataclass
class CommunityBatchOutput:
    """What :func:`run_community_batch` returns."""

    series: dict[str, np.ndarray]  # (R, n_steps) each
    summary: dict[str, np.ndarray]  # (R,) each
    # The tables' columns; each also has ``_row``, the row of its run in the batch (ids, not seeds, link the tables
    # to the runs: under common random numbers one seed serves several runs).
    partnerships: dict[str, np.ndarray]  # the partnership table's columns
    organizations: dict[str, np.ndarray]  # the organization table's columns
    memberships: dict[str, np.ndarray] = field(default_factory=dict)  # the membership table's columns
    slot_series: dict[str, np.ndarray] | None = None  # (R, P, n_steps): the partnership vocabulary per slot


class _MembershipLog:
    """The membership table: one row per membership, appended when it ends (and at the end of the run)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def leave(self, cb: CommunityBatch, rows: np.ndarray, slot: np.ndarray | int, seats: np.ndarray, t: float,
              why: np.ndarray | str) -> None:
        if not len(rows):
            return
        slot = np.broadcast_to(slot, rows.shape)
        self.parts.append({
            "_row": rows, "seed": cb.seeds[rows], "partnership": cb.number[rows, slot],
            "org": cb.org[rows, slot, seats],
            "seat": seats, "joined_step": cb.joined_step[rows, slot, seats], "left_step": np.full(len(rows), t),
            "how": np.where(cb.recruited[rows, slot, seats], "recruited", "founding").astype(object),
            "why_left": np.broadcast_to(np.asarray(why, dtype=object), rows.shape),
        })

    def result(self) -> dict[str, np.ndarray]:
        cols = community_outputs("membership")
        if not self.parts:
            return {"_row": np.zeros(0, dtype=np.int64), **{n: np.zeros(0, dtype=o.dtype) for n, o in cols.items()}}
        out = {name: np.concatenate([p[name] for p in self.parts]).astype(o.dtype) for name, o in cols.items()}
        out["_row"] = np.concatenate([p["_row"] for p in self.parts])  # the run's row in the batch
        order = np.lexsort((out["joined_step"], out["seat"], out["partnership"], out["_row"]))
        return {k: v[order] for k, v in out.items()}


class _Table:
    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def close(self, cb: CommunityBatch, rows: np.ndarray, slots: np.ndarray, ended: np.ndarray) -> None:
        if not len(rows):
            return
        g = lambda a: a[rows, slots]  # noqa: E731
        alive_end = np.isnan(ended)
        part = {
            "_row": rows, "seed": cb.seeds[rows], "partnership": g(cb.number), "slot": slots,
            "origin": np.array(cb.origins, dtype=object)[g(cb.origin)], "convener": g(cb.convener),
            "formed_step": g(cb.formed_step), "ended_step": ended, "n_founding": g(cb.n_founding),
            "n_joined": g(cb.n_joined), "n_left": g(cb.n_left), "peak_level": g(cb.peak_level),
            "final_level": np.where(alive_end, g(cb.level_played), 0),
        }
        for k in range(N_LEVELS):
            part[f"first_step_level_{k + 1}"] = cb.first_step[rows, slots, k]
        part.update({"funded_months": g(cb.funded_months), "awards": g(cb.awards), "award_total": g(cb.award_total),
                     "grant_total": g(cb.grant_total), "cumulative_benefit": g(cb.cumulative_benefit),
                     "net_benefit": g(cb.net_benefit), "strategy": g(cb.strategy)})
        self.parts.append(part)

    def result(self) -> dict[str, np.ndarray]:
        cols = community_outputs("partnership")
        if not self.parts:
            return {"_row": np.zeros(0, dtype=np.int64), **{n: np.zeros(0, dtype=o.dtype) for n, o in cols.items()}}
        out = {name: np.concatenate([p[name] for p in self.parts]).astype(o.dtype) for name, o in cols.items()}
        out["_row"] = np.concatenate([p["_row"] for p in self.parts])  # the run's row in the batch
        order = np.lexsort((out["partnership"], out["_row"]))  # run order
        return {k: v[order] for k, v in out.items()}


def _record(cb: CommunityBatch, series: dict[str, np.ndarray], col: int, stats: dict[str, np.ndarray]) -> None:
    for name, value in stats.items():
        if name in series:
            series[name][:, col] = value
    alive = cb.alive
    series["partnerships"][:, col] = alive.sum(axis=1)
    on = cb.org >= 0
    memberships = on.sum(axis=(1, 2))
    series["memberships"][:, col] = memberships
    series["members"][:, col] = (cb.n_memberships > 0).sum(axis=1)
    series["budget"][:, col] = cb.free
    series["committed"][:, col] = engine._rowsum(np.where(cb.funder_money, cb.award_remaining, 0.0))
    total, worked, n_k, ready = _trust_census(cb)
    n_pairs = np.maximum(cb.n_pairs, 1)
    series["mean_trust"][:, col] = total / n_pairs
    with np.errstate(invalid="ignore", divide="ignore"):
        series["mean_trust_worked"][:, col] = np.where(n_k > 0, worked / n_k, np.nan)
    for lvl in range(1, N_LEVELS + 1):
        series[f"ready_level_{lvl}"][:, col] = ready[lvl - 1] / n_pairs


#: Pairs per block of :func:`_trust_census` (whole runs, at least one), as the gossip step's: a block's trust (64 x
#: 30 x 30 doubles, 460 KB) stays in the core's cache for its eight passes, which then cost about a third of eight
#: passes over the whole batch.
_CENSUS_BLOCK = cr.GOSSIP_BLOCK


def _trust_census(cb: CommunityBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The month's trust totals and counts per run: ``(total, worked, n_worked, ready)``.

    ``total`` is the sum of the run's n x n trust table and ``worked`` that of ``T * K`` (its acquainted pairs),
    each NumPy's pairwise sum (``np.add.reduce``) of the run's own contiguous n x n table, flattened: what the
    Mesa twin computes on its table (``CommunityModel._record_state``), bit for bit. A 2-D reduction along its
    contiguous rows sums each row exactly as the 1-D reduction of that row alone
    (``tests/test_community.py``), so a run's totals do not depend on its batch or block; runs are taken at
    their own size (a table padded with zeros would be summed in other blocks). ``n_worked`` counts the
    acquainted pairs and ``ready`` (5, R) the pairs whose trust meets each rung's need (the diagonal and
    padding hold 0, below every need): a comparison per rung, several times faster than binning every pair.
    """
    R = cb.n_runs
    total, worked = np.empty(R), np.empty(R)
    n_k = np.empty(R, dtype=np.int64)
    ready = np.empty((N_LEVELS, R), dtype=np.int64)
    need = [float(x) for x in NEED[1:]]
    for n, rows in cb.size_groups.items():
        whole = len(rows) == R and n == cb.n  # the batch itself: blocks are slices, no copies
        c = min(len(rows), max(1, _CENSUS_BLOCK // (n * n)))
        prod = np.empty((c, n * n))
        meets = np.empty((c, n * n), dtype=bool)
        for s in range(0, len(rows), c):
            e = min(s + c, len(rows))
            m = e - s
            if whole:
                t = cb.trust[s:e].reshape(m, -1)
                k = cb.acquainted[s:e].reshape(m, -1)
            else:
                t = cb.trust[rows[s:e], :n, :n].reshape(m, -1)  # a copy: contiguous
                k = cb.acquainted[rows[s:e], :n, :n].reshape(m, -1)
            at = rows[s:e]
            total[at] = np.add.reduce(t, axis=1)
            worked[at] = np.add.reduce(np.multiply(t, k, out=prod[:m]), axis=1)
            n_k[at] = np.add.reduce(k.view(np.uint8), axis=1, dtype=np.uint32)  # exact below 65,536 organizations
            hit = meets[:m]
            for lvl in range(N_LEVELS):
                np.greater_equal(t, need[lvl], out=hit)
                ready[lvl, at] = np.add.reduce(hit.view(np.uint8), axis=1, dtype=np.uint32)  # twice int64's speed
    return total, worked, n_k, ready


def run_community_batch(seeds: np.ndarray, params: Mapping[str, np.ndarray], n_steps: int,
                        keep: Sequence[str] | None = None, *, keep_slot_series: bool = False,
                        check: bool = False, _setup_slot: int = 0) -> CommunityBatchOutput:
    """Advance a chunk of community runs ``n_steps`` months (validated parameters: :func:`community_params`).

    Parameters
    ----------
    seeds : ndarray of uint64 (R,)
    params : mapping of str to ndarray (R,)
        From :func:`sim.community_params.community_params`.
    n_steps : int
    keep : sequence of str, optional
        Community series to return (all by default).
    keep_slot_series : bool
        Also return the partnership vocabulary's series per slot, (R, P, n_steps) (for the reduction test).
    check : bool
        Check the invariants (:func:`check_invariants`) after every month (for tests).
    """
    seeds = np.asarray(seeds, dtype=np.uint64)
    cb = CommunityBatch.start(seeds, params)
    if _setup_slot:  # tests only: the set-up partnership in another slot
        for name in ("alive", "level", "strategy", "strategy_start", "funded", "award_remaining", "promised",
                     "org", "was_member", "n_founding", "origin"):
            a = getattr(cb, name)
            a[:, _setup_slot], a[:, 0] = a[:, 0].copy(), a[:, _setup_slot].copy()
    R, P = cb.n_runs, cb.n_slots
    cb.level_played = np.zeros((R, P), dtype=np.int64)
    cb.n_pairs = cb.pair_ok.sum(axis=(1, 2))
    cb.members_log = _MembershipLog()
    spec = community_outputs("series")
    names = list(spec) if keep is None else list(keep)
    for name in names:
        if name not in spec:
            raise ValueError(f"unknown community series {name!r} (known: {', '.join(spec)})")
    series = {name: spec[name].empty(R, n_steps) for name in spec}
    slot_out = [engine._Outputs(R, n_steps, tuple(engine.SERIES)) for _ in range(P)] if keep_slot_series else None
    table = _Table()
    full_months = np.zeros(R, dtype=np.int64)
    peak = np.zeros(R, dtype=np.int64)
    cumulative = np.zeros(R)
    net_total = np.zeros(R)
    gossip = cb.params["gossip"]
    gossiping = np.flatnonzero(gossip > 0)
    learn = np.zeros(cb.trust.shape, dtype=bool)  # the month's learning pairs; cleared after use
    cultural_learning = cb.params["cultural_learning"]
    one_learning = bool((cultural_learning == cultural_learning[0]).all())  # then a scalar, not a gather
    sizes = [int(k) for k in np.unique(cb.params["n_community"][gossiping])]
    # the gossip step's work arrays, kept for the whole run (one set per community size)
    whole = len(gossiping) == R and len(sizes) == 1
    size_rows = {k: gossiping[cb.params["n_community"][gossiping] == k] for k in sizes}
    scratch = ({0: cr.GossipScratch(cb.trust.shape)} if whole else
               {k: cr.GossipScratch((len(g), k, k)) for k, g in size_rows.items()})
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for t in range(1, n_steps + 1):
            col = t - 1
            before = cb.n_formed.copy()  # the month's formations: the funder's consortia and the convened one
            awarded = funder_call(cb, t)
            self_formation(cb, t)
            joined = recruit_from_community(cb, t)
            v = month_view(cb, t, joined, min_trust=slot_out is not None)
            stats = {name: np.zeros(R) for name in ("benefit", "net_benefit", "grant")}
            counts = {name: np.zeros(R, dtype=np.int64) for name in ("joined", "left", "ended", "funded")}
            contributors = np.zeros(R)
            starters = np.zeros(R)
            levels = np.zeros((R, N_LEVELS), dtype=np.int64)
            if v is not None:
                partnership_phases(cb, v)
                b, s, r = v.batch, v.step, v.rows
                cb.level_played[r, v.slots] = s.level
                # pairs that worked together at level >= 2 in some slot and are still partners after the exits; a
                # pair at distance 0 (one group, the view's other_group holds the distance) has nothing to learn
                lrn = (s.level >= 2)[:, None, None] & (b.pairs > 0) & (b.other_group > 0)
                learn.reshape(-1).put(v.flat[lrn], True)
                if slot_out is not None:
                    v._segments = None  # again, with the step's later fields (dissolving, ...)
                    for slot, _, sb, ss in v.segments():
                        slot_out[slot].record(sb, ss, n_steps)
                        if ss.dissolving.any():
                            slot_out[slot].dissolve(sb, ss)
                    b.cumulative_benefit[s.dissolving] += s.benefit[s.dissolving]  # _absorb removes it once
                    b.net_benefit -= np.where(s.dissolving, 0.0, s.net_benefit)
                dis, left = _absorb(cb, v, t)
                live = ~dis
                # a run's partnerships add in ascending slot order (np.add.at takes slot-major rows in turn)
                np.add.at(stats["benefit"], r, np.where(live, s.benefit, 0.0))
                np.add.at(stats["net_benefit"], r, np.where(live, s.net_benefit, 0.0))
                np.add.at(stats["grant"], r, np.where(live, s.grant_paid, 0.0))  # as the partnership series
                np.add.at(counts["joined"], r, s.joined)
                np.add.at(counts["left"], r, left)
                # (values of the target's dtype: np.add.at casting them is ten times slower)
                np.add.at(counts["ended"], r, dis.astype(np.int64))
                np.add.at(counts["funded"], r, s.funded_now.astype(np.int64))
                np.add.at(contributors, r, np.count_nonzero(s.contributed, axis=1).astype(np.float64))
                np.add.at(starters, r, np.asarray(s.n_start, dtype=np.float64))
                np.add.at(levels, (r[live], s.level[live] - 1), 1)
                if dis.any():
                    table.close(cb, r[dis], v.slots[dis], np.full(int(dis.sum()), float(t)))
            # 4.L learning, once per pair per month
            lr = np.flatnonzero(learn)  # each pair once, in index order
            if len(lr):
                learn.reshape(-1).put(lr, False)
                dist = cb.dist.reshape(-1)  # a view: dist is contiguous
                c = cultural_learning[0] if one_learning else cultural_learning.take(lr // (cb.n * cb.n))
                dist.put(lr, rules.learned_distance(dist.take(lr), c))
            # 4.G reputation, each run at its own size: BLAS may sum a zero-padded product in another order, so
            # a run's reputation would depend on the largest community of its batch
            if whole:
                cr.gossip_trust(cb.trust, cb.acquainted, gossip, out=cb.trust, scratch=scratch[0])
            else:
                for k, g in size_rows.items():
                    cb.trust[g, :k, :k] = cr.gossip_trust(cb.trust[g, :k, :k], cb.acquainted[g, :k, :k], gossip[g],
                                                          scratch=scratch[k])
            # 4.B funder bookkeeping: remainders of ended grants return
            ended = cb.funder_money & (~cb.funded | ~cb.alive)
            if ended.any():
                cb.free += engine._rowsum(np.where(ended, cb.award_remaining, 0.0))  # ordered: chunk-invariant
                cb.award_remaining[ended] = 0.0
                cb.funder_money[ended] = False
            cb.months_member += cb.n_memberships > 0
            cb.n_awarded += awarded
            cumulative += stats["benefit"]
            net_total += stats["net_benefit"]
            series["cumulative_benefit"][:, col] = cumulative
            for lvl in range(1, N_LEVELS + 1):
                series[f"partnerships_level_{lvl}"][:, col] = levels[:, lvl - 1]
            series["formed"][:, col] = cb.n_formed - before
            series["awarded"][:, col] = awarded
            series["contribution_rate"][:, col] = np.where(starters > 0, contributors / np.maximum(starters, 1),
                                                           np.nan)
            _record(cb, series, col, {**stats, **counts})
            peak = np.maximum(peak, cb.alive.sum(axis=1))
            full_months += ~cb.free_slots().any(axis=1)
            if check:
                check_invariants(cb)
    rr, pp = np.nonzero(cb.alive)
    table.close(cb, rr, pp, np.full(len(rr), np.nan))
    rr, pp, ss = np.nonzero(cb.org >= 0)
    cb.members_log.leave(cb, rr, pp, ss, np.nan, "")
    summary = _summary(cb, series, cumulative, net_total, peak, full_months)
    slot_series = None
    if slot_out is not None:
        slot_series = {name: np.stack([o.series[name] for o in slot_out], axis=1) for name in engine.SERIES}
    return CommunityBatchOutput({k: series[k] for k in names}, summary, table.result(), _organizations(cb),
                                cb.members_log.result(), slot_series)


def _summary(cb: CommunityBatch, series: dict[str, np.ndarray], cumulative: np.ndarray, net: np.ndarray,
             peak: np.ndarray, full_months: np.ndarray) -> dict[str, np.ndarray]:
    R = cb.n_runs
    out: dict[str, np.ndarray] = {"seed": cb.seeds.copy()}
    out["cumulative_benefit"] = cumulative
    out["net_benefit"] = net
    out["n_formed"] = cb.n_formed.copy()
    out["n_ended"] = cb.n_ended.copy()
    out["n_awarded"] = cb.n_awarded.copy()
    out["funder_spent"] = cb.spent.copy()
    out["durable"] = (cb.alive & (cb.level_played >= 4)).sum(axis=1)
    out["peak_partnerships"] = peak
    out["full_months"] = full_months
    out["final_mean_trust"] = series["mean_trust"][:, -1].copy()
    out["final_mean_trust_worked"] = series["mean_trust_worked"][:, -1].copy()
    for k in range(1, N_LEVELS + 1):
        out[f"final_ready_level_{k}"] = series[f"ready_level_{k}"][:, -1].copy()
    out["largest_component"] = _largest_components(cb.acquainted, cb.exists) / cb.params["n_community"]
    x = np.where(cb.exists, cb.benefit_received, 0.0)
    out["benefit_gini"] = np.array([cr.gini(x[r, : int(cb.params["n_community"][r])]) for r in range(R)])
    share_min = np.full(R, np.nan)
    total = engine._rowsum(x)
    n_org = cb.exists.sum(axis=1)
    for sec in range(len(SECTORS)):
        in_sec = cb.exists & (cb.sector == sec)
        k = in_sec.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = (engine._rowsum(np.where(in_sec, x, 0.0)) / total) / (k / n_org)
        ratio = np.where((k > 0) & (total > 0), ratio, np.nan)
        share_min = np.fmin(share_min, ratio)
    out["sector_benefit_min"] = share_min
    return out


def _largest_components(acquainted: np.ndarray, exists: np.ndarray) -> np.ndarray:
    """Each run's largest connected component of the acquaintance network, in organizations, shape (R,).

    One call to scipy for the whole batch: the runs' networks are the blocks of one block-diagonal graph (node
    ``r * N + i``), so no component spans two runs, and each run's components are those of its network alone.
    Padding organizations are isolated nodes and are left out of the maximum.
    """
    # Lazy: scipy.sparse costs about 0.2 s to import; `import sim` and the partnership engine do not need it.
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    R, N = exists.shape
    rr, ii, jj = np.nonzero(acquainted)
    graph = csr_matrix((np.ones(len(rr), dtype=np.int8), (rr * N + ii, rr * N + jj)), shape=(R * N, R * N))
    _, labels = connected_components(graph, directed=False)
    size = np.bincount(labels)[labels].reshape(R, N)
    return np.where(exists, size, 0).max(axis=1)


def _organizations(cb: CommunityBatch) -> dict[str, np.ndarray]:
    rr, ii = np.nonzero(cb.exists)
    n = cb.params["n_community"][rr]
    t = cb.trust
    given = engine._rowsum(t)[rr, ii] / (n - 1)
    received = engine._rowsum(t.transpose(0, 2, 1))[rr, ii] / (n - 1)
    cols = {
        "seed": cb.seeds[rr], "org": ii, "sector": cb.sector[rr, ii], "group": cb.group[rr, ii],
        "communication": cb.communication[rr, ii], "leadership": cb.leadership[rr, ii],
        "individualism": cb.individualism[rr, ii], "identity": cb.identity[rr, ii], "capacity": cb.capacity[rr, ii],
        "memberships": cb.joined_count[rr, ii], "months_member": cb.months_member[rr, ii],
        "convened": cb.convened[rr, ii], "payoff": cb.payoff[rr, ii], "benefit_received": cb.benefit_received[rr, ii],
        "mean_trust_given": given, "mean_trust_received": received,
    }
    spec = community_outputs("organization")
    return {"_row": rr.astype(np.int64), **{name: np.asarray(cols[name]).astype(o.dtype) for name, o in spec.items()}}


def check_invariants(cb: CommunityBatch) -> None:
    """Raise AssertionError if a community invariant fails (design section 2)."""
    assert ((cb.trust >= 0) & (cb.trust <= 1)).all(), "trust outside [0, 1]"
    on = cb.org >= 0
    count = np.zeros_like(cb.n_memberships)
    rr, pp, ss = np.nonzero(on)
    np.add.at(count, (rr, cb.org[rr, pp, ss]), 1)
    assert np.array_equal(count, cb.n_memberships), "memberships out of step with the seats"
    assert (count <= cb.params["max_memberships"][:, None]).all(), "an organization beyond max_memberships"
    assert not (on & ~cb.alive[:, :, None]).any(), "a dead slot holds seats"
    assert (cb.org < cb.params["n_community"][:, None, None]).all(), "a seat outside the community"
    srt = np.sort(np.where(on, cb.org, -1 - np.arange(cb.n_seats)), axis=-1)
    assert not (srt[..., 1:] == srt[..., :-1]).any(), "an organization holds two seats of one slot"
    assert (cb.free >= 0).all() and (cb.award_remaining >= 0).all(), "negative money"
    committed = np.where(cb.funder_money, cb.award_remaining, 0.0).sum(axis=1)
    np.testing.assert_allclose(cb.free + committed + cb.spent, cb.params["funder_budget"], rtol=1e-9, atol=1e-9)

