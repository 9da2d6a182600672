"""The agents of the community's Mesa twin: organizations, their memberships, partnerships, and the funder.

* :class:`Organization`, one per member of the community, fixed to its node of the community's
  :class:`mesa.discrete_space.Network`, whose edges are the pairs who have worked together (or networked
  before). Its trust in every other organization is its row of the community's trust table, which persists
  across partnerships.
* :class:`Membership`, an organization's seat in one partnership: what it decides there (contribute, judge its
  partners, revise its trust, leave) and the partnership's working copy of its trust and capacity.
* :class:`Partnership`, a Mesa agent living in one slot from formation to dissolution: Model 5's phases 1-8
  on its members, and its own decisions (dissolution, the next rung).
* :class:`Funder`, a Mesa agent with a budget: its calls for proposals run the registered funding policy
  (:mod:`sim.funder`), it pays grants capped at each award and takes back what ended grants leave.

Every equation is a function of :mod:`sim.rules` or :mod:`sim.community_rules`, every strategy, rule variant
and funding policy the registered one (given this community as a batch of one), and every random number a
draw of :mod:`sim.rng` keyed (run seed, month, purpose, index) exactly as the vectorized community engine
(:mod:`sim.community`) keys it; sums run in the engine's order (``sim.agents.ordered_sum``). So a run here
equals the engine's run with the same seed (``tests/test_community_twin.py``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np
from mesa.discrete_space import FixedAgent

from . import community_rules as cr
from . import funder, rules
from .agents import ordered_sum
from .levels import COST, MULT, N_LEVELS, NEED, STAKES
from .rng import Purpose, slot_org_index, slot_pair_index, uniforms
from .strategies import StrategyState, get_strategy
from .variants import DissolutionState, MembershipState

if TYPE_CHECKING:
    from .community_model import CommunityModel

__all__ = ["Organization", "Membership", "Partnership", "Funder"]


class Organization(FixedAgent):
    """One organization of the community, on its node of the community network.

    Parameters
    ----------
    model : CommunityModel
    index : int
        0-based position in the community: its node, its row of the trust table, the index of its draws.
    sector, group : int
        Sector code (:data:`sim.levels.SECTORS`) and cultural group (0 or 1).
    communication, leadership, individualism, identity : float
        Its traits, in [0, 1].
    free_rider : bool
        A designated free rider (``index < free_riders``): never does its share.

    Attributes
    ----------
    capacity : float
        What a contribution puts in, shared by all its memberships (starts at 1).
    memberships : list of Membership
        Its seats in partnerships now.
    joined_count, convened, months_member : int
        Partnerships joined and convened over the run; months with at least one membership.
    payoff, benefit_received : float
        Its net payoffs and gross benefit shares summed over all memberships.
    """

    def __init__(self, model: CommunityModel, index: int, sector: int, group: int, communication: float,
                 leadership: float, individualism: float, identity: float, free_rider: bool) -> None:
        super().__init__(model)
        self.index = index
        self.sector = sector
        self.group = group
        self.communication = communication
        self.leadership = leadership
        self.individualism = individualism
        self.identity = identity
        self.free_rider = free_rider
        self.capacity = 1.0
        self.memberships: list[Membership] = []
        self.joined_count = 0
        self.convened = 0
        self.months_member = 0
        self.payoff = 0.0
        self.benefit_received = 0.0
        self.cell = model.network[index]

    def __repr__(self) -> str:
        return f"Organization(index={self.index}, sector={self.sector}, memberships={len(self.memberships)})"

    # --- what it knows ------------------------------------------------------------------------------------

    @property
    def trust(self) -> np.ndarray:
        """Its trust in every organization by index (its row of the community's trust table; 0 for itself)."""
        return self.model.trust[self.index]

    @property
    def acquaintances(self) -> list[int]:
        """The organizations it has worked with (or networked with before): its neighbours in the network."""
        return sorted(self.cell.connections)

    @property
    def n_memberships(self) -> int:
        return len(self.memberships)

    @property
    def spare(self) -> int:
        """Memberships it can still take on (``max_memberships`` minus those it holds)."""
        return self.model.p.max_memberships - self.n_memberships

    def mean_trust_given(self) -> float:
        """Its mean trust in the other organizations of the community (the organization table)."""
        return ordered_sum(self.trust.tolist()) / (self.model.n - 1)

    def mean_trust_received(self) -> float:
        """The other organizations' mean trust in it."""
        return ordered_sum(self.model.trust[:, self.index].tolist()) / (self.model.n - 1)

    # --- its decisions in the community -------------------------------------------------------------------

    def convene_chance(self) -> float:
        """4.F: its chance this month of convening a partnership, ``convene_rate (0.5 + l)``."""
        return float(cr.convene_probability(self.leadership, self.model.p.convene_rate))

    def acceptance_chance(self, trust_in_inviter: float, need: float) -> float:
        """4.F and phase 0: its chance of accepting an invitation to a partnership starting at ``need``."""
        p = self.model.p
        return float(cr.acceptance_probability(trust_in_inviter, need, self.individualism, self.n_memberships,
                                               p.max_memberships, p.accept_bias))

    def meet(self, other: Organization) -> None:
        """It and ``other`` have now worked together: an edge of the network."""
        if other is not self and other.index not in self.cell.connections:
            self.model.network.add_connection(self.cell, other.cell)


class Membership:
    """An organization's seat in one partnership, and what it decides there (Model 5's member decisions).

    The partnership keeps a working copy of its members' trust and capacity (design 4.P): read from the
    community when the month's partnership phases begin, re-read before phase 5 (trust) and phase 6
    (capacity), and written back after them, so that a pair in two partnerships is updated once per shared
    partnership, in ascending slot order, as in the engine.

    Attributes
    ----------
    org : Organization
    seat : int
    joined_step : int
    recruited : bool
        Joined by recruiting (not a founding member).
    recent_payoff : float
        The moving average of its net payoff in this partnership (``payoffs = "weighed"``).
    trust : ndarray (n_orgs,)
        The working copy of its trust in each seat's member (0 for itself and vacant seats).
    capacity : float
        The working copy of its capacity.
    contributed, leaving : bool
        This month's decisions.
    seen_free : ndarray of bool (n_orgs,)
        Which seats it saw not doing their share this month.
    payoff : float
        Its net payoff this month.
    shortfall : float
        Its payoff shortfall at its last exit decision (0 unless ``payoffs = "weighed"``).
    """

    def __init__(self, partnership: Partnership, org: Organization, seat: int, joined_step: int,
                 recruited: bool) -> None:
        self.partnership = partnership
        self.org = org
        self.seat = seat
        self.joined_step = joined_step
        self.recruited = recruited
        self.recent_payoff = 0.0
        self.trust = np.zeros(partnership.n_seats)
        self.capacity = org.capacity
        self.contributed = False
        self.leaving = False
        self.seen_free = np.zeros(partnership.n_seats, dtype=bool)
        self.payoff = 0.0
        self.shortfall = 0.0

    def __repr__(self) -> str:
        return f"Membership(org={self.org.index}, partnership={self.partnership.number}, seat={self.seat})"

    @property
    def model(self) -> CommunityModel:
        return self.partnership.model

    def trust_given(self) -> float:
        """The sum of its working trust over its partners, in seat order."""
        return ordered_sum(self.trust.tolist())

    def mean_trust_given(self) -> float:
        """``tau_i``: its mean working trust in its partners."""
        return self.trust_given() / max(self.partnership.n_active - 1, 1)

    def payoff_shortfall(self, level: int) -> float | None:
        """``delta_i`` by the run's ``payoffs`` variant at ``level`` (None when the variant is inert)."""
        variant = self.model.variants["payoffs"]
        if variant.inert:
            return None
        delta = variant.rule(np.array([[self.recent_payoff]]), np.array([[self.capacity]]), np.array([COST[level]]),
                             self.model.params)
        return float(delta[0, 0])

    def decide_contribution(self, level: int, draw: float) -> None:
        """Phase 1: contribute with a chance growing with its trust in its partners against the rung's need."""
        if self.org.free_rider:
            self.contributed = False
            return
        p = self.model.p
        delta = self.payoff_shortfall(level)
        hold_back = 0.0 if delta is None else rules.payoff_term(p.payoff_weight, delta, self.org.individualism)
        chance = rules.contribution_probability(self.mean_trust_given(), NEED[level], self.org.individualism,
                                                p.contribution_bias, hold_back)
        self.contributed = bool(draw < chance)

    def perceive(self, contributed: np.ndarray, scale: np.ndarray, distance: np.ndarray, draws: np.ndarray) -> None:
        """Phase 4: judge which seats held back; a judgement is wrong with a chance that grows with the cultural
        distance it perceives (``scale`` and ``distance`` by seat)."""
        misjudged = draws < rules.misjudge_probability(scale, distance)
        self.seen_free = misjudged ^ ~contributed

    def update_trust(self, success: bool, stakes: float, partners: np.ndarray) -> None:
        """Phase 5: trust in each partner after the joint outcome and the free riding seen (``partners``: 0/1 by
        seat)."""
        p = self.model.p
        self.trust = rules.update_trust(
            self.trust, success, stakes, gain_rate=p.gain_rate, celebration=p.celebration, loss_rate=p.loss_rate,
            softening=rules.failure_softening(self.org.leadership), free_rider_penalty=p.free_rider_penalty,
            seen_free=self.seen_free,
        ) * partners

    def receive_payoff(self, benefit: float, total_capacity: float, cost: float, funded: bool) -> None:
        """Phase 3: its net payoff, and (``payoffs = "weighed"``) its moving average."""
        p = self.model.p
        self.payoff = float(rules.member_payoffs(benefit, self.capacity, total_capacity, cost, p.grant, funded,
                                                 self.contributed))
        if not self.model.variants["payoffs"].inert:
            self.recent_payoff = float(rules.moving_average(self.recent_payoff, self.payoff, p.memory))

    def consider_exit(self, level: int, funded: bool, draw: float) -> None:
        """Phase 7: decide whether to leave this partnership, reading its trust after this month's update."""
        p = self.model.p
        delta = self.payoff_shortfall(level)
        self.shortfall = 0.0 if delta is None else delta
        pressure = 0.0 if delta is None else rules.payoff_term(p.exit_payoff, delta, self.org.individualism)
        o = self.org
        chance = rules.exit_probability(
            self.mean_trust_given(), NEED[level], level, o.individualism, o.identity, o.leadership, funded,
            exit_base=p.exit_base, exit_gap=p.exit_gap, identity_weight=p.identity_weight, grant=p.grant,
            payoff_pressure=pressure,
        )
        self.leaving = bool(draw < chance)


class Partnership(mesa.Agent):
    """A partnership in one slot of the community, from its formation to its dissolution.

    Parameters
    ----------
    model : CommunityModel
    slot : int
        The slot it occupies (its draws are the slot's: :func:`sim.rng.slot_org_index`).
    founders : list of Organization
        Its members in seat order (the convener or the funder's lead first).
    origin : str
        ``"setup"``, ``"convened"`` or the funding policy that created it.
    convener : int
    strategy : str
        Its strategy (a registered one).
    level : int
        The rung it starts on (level 5 needs three sectors).
    funded : bool
    award : float
        What its award holds (``inf`` for a prior grant outside the funder's budget).
    funder_money : bool
        The award is the funder's (it returns to the budget when the grant ends).

    Attributes
    ----------
    seats : list of Membership or None
        ``n_orgs`` seats; None where vacant.
    level : int
        The rung it plays next.
    """

    def __init__(self, model: CommunityModel, slot: int, founders: list[Organization], *, origin: str,
                 convener: int, strategy: str, level: int, funded: bool, award: float, funder_money: bool,
                 tag: int = 0) -> None:
        super().__init__(model)
        t = model.month
        self.slot = slot
        self.number = model.n_formed
        model.n_formed += 1
        self.n_seats = model.p.n_orgs
        self.origin = origin
        self.convener = convener
        self.formed_step = t
        self.seats: list[Membership | None] = [None] * self.n_seats
        self.ever_members: set[int] = set()
        for seat, org in enumerate(founders):
            self._seat(org, seat, t, recruited=False)
        self.n_founding = len(founders)
        self.strategy = strategy
        self.strategy_start = t - 1 if t > 0 else 0
        self.promised = model.promised(strategy)
        self.level = int(rules.level_for_sectors(level, self.n_sectors))
        self.funded = bool(funded)
        self.award_remaining = float(award)
        self.funder_money = bool(funder_money)
        self.award_tag = tag
        self.ever_awarded = bool(funder_money)
        self.awards = 1 if funder_money else 0
        self.award_total = float(award) if funder_money else 0.0
        self.climb_count = self.fail_streak = 0
        self.n_joined = self.n_left = self.funded_months = self.peak_level = 0
        self.cumulative_benefit = self.net_benefit = self.fail_rate = self.grant_total = 0.0
        self.first_step = [math.nan] * N_LEVELS
        self.level_played = 0
        self.dissolved = False
        self.joined = 0
        for m in self.members:
            for other in self.members:
                m.org.meet(other.org)

    def __repr__(self) -> str:
        return f"Partnership(number={self.number}, slot={self.slot}, level={self.level}, members={self.n_active})"

    # --- its state ------------------------------------------------------------------------------------------

    @property
    def members(self) -> list[Membership]:
        """Its members now, in seat order."""
        return [m for m in self.seats if m is not None]

    @property
    def n_active(self) -> int:
        return len(self.members)

    @property
    def n_sectors(self) -> int:
        return len({m.org.sector for m in self.members})

    def mean_trust_now(self) -> float:
        """Mean community trust over its members' ordered pairs (what the funder sees at a call)."""
        members = self.members
        n = len(members)
        total = ordered_sum(ordered_sum(self.model.trust[a.org.index, b.org.index] for b in members if b is not a)
                            for a in members)
        return total / (n * (n - 1)) if n else math.nan

    def _seat(self, org: Organization, seat: int, t: int, *, recruited: bool) -> Membership:
        m = Membership(self, org, seat, t, recruited)
        self.seats[seat] = m
        org.memberships.append(m)
        org.joined_count += 1
        self.ever_members.add(org.index)
        return m

    def _draw(self, purpose: Purpose) -> np.ndarray:
        """This month's draws of ``purpose`` for this slot: per seat, per seat pair, or one."""
        s = np.arange(self.n_seats)
        if purpose is Purpose.MISJUDGE:
            index = slot_pair_index(self.slot, s[:, None], s[None, :])
        elif purpose in (Purpose.SUCCESS, Purpose.DISSOLVE):
            index = np.array([self.slot], dtype=np.uint64)
        else:
            index = slot_org_index(self.slot, s)
        return uniforms(self.model.keys, self.model.month, purpose, index)[0]

    # --- phase 0: recruiting from the community ---------------------------------------------------------------

    def recruit(self) -> int:
        """Phase 0: vacancies the run's ``membership`` rule fills go, seat by seat, to the eligible non-member its
        members trust most on average, if it accepts. Returns the recruits."""
        self.joined = 0
        model, variant = self.model, self.model.variants["membership"]
        if variant.inert:
            return 0
        vacant = np.array([m is None for m in self.seats])
        if not vacant.any():
            return 0
        t = model.month
        u = self._draw(Purpose.RECRUIT)[None, :] if variant.draws else None  # the uniform only for rules that draw
        fill = np.asarray(variant.rule(MembershipState(t, vacant[None, :], u, model.params)), dtype=bool)[0] & vacant
        if not fill.any():
            return 0
        members = self.members
        n = len(members)
        score = [ordered_sum(model.trust[m.org.index, j] for m in members) / max(n, 1) for j in range(model.n)]
        back = [ordered_sum(model.trust[j, m.org.index] for m in members) / max(n, 1) for j in range(model.n)]
        need = NEED[self.level]
        passed = set(self.ever_members) | {j for j in range(model.n) if not score[j] >= need}
        accept = self._draw(Purpose.RECRUIT_ACCEPT)
        for seat in np.flatnonzero(fill):
            eligible = np.array([j not in passed and model.orgs[j].spare > 0 for j in range(model.n)])
            j = int(cr.recruit_candidate(np.array(score), eligible))
            if j < 0:
                continue
            passed.add(j)  # not asked again for a later seat this month
            org = model.orgs[j]
            if accept[seat] < org.acceptance_chance(back[j], need):
                self._seat(org, int(seat), t, recruited=True)
                for m in self.members:
                    org.meet(m.org)
                self.joined += 1
        return self.joined

    # --- Model 5's phases 1-8 (the model runs each over every partnership, in slot order) ---------------------

    def begin_month(self) -> None:
        """Read the month's starting state: its members, their trust and capacity, the draws and the rung."""
        self.level_played = self.level
        self.start_members = self.members
        self.n_start = len(self.start_members)
        self.sectors_now = self.n_sectors
        self.draws = {pur: self._draw(pur) for pur in (Purpose.CONTRIBUTE, Purpose.SUCCESS, Purpose.MISJUDGE,
                                                        Purpose.EXIT, Purpose.DISSOLVE)}
        self.read_trust()
        for m in self.members:
            m.capacity = m.org.capacity
        self.total_capacity = ordered_sum(m.capacity for m in self.members)
        comm = [m.org.communication for m in self.members]
        self.mean_communication = ordered_sum(comm) / len(comm)
        self.trust_given = [m.trust_given() for m in self.members]
        self.stakes, self.need = STAKES[self.level], NEED[self.level]

    def partners(self) -> np.ndarray:
        """0/1 by seat pair: both seats held, different seats."""
        held = np.array([m is not None for m in self.seats])
        return (held[:, None] & held[None, :] & ~np.eye(self.n_seats, dtype=bool)).astype(np.float64)

    def read_trust(self) -> None:
        """Each member's working trust in each seat's member, from the community's trust table."""
        pairs = self.partners()
        for m in self.members:
            row = np.zeros(self.n_seats)
            for other in self.members:
                row[other.seat] = self.model.trust[m.org.index, other.org.index]
            m.trust = row * pairs[m.seat]

    def contribute(self) -> None:
        """Phase 1: each member decides whether to contribute, on its trust at the start of the month."""
        level, u = self.level_played, self.draws[Purpose.CONTRIBUTE]
        for m in self.members:
            m.decide_contribution(level, u[m.seat])
        self.contributed_capacity = ordered_sum(m.capacity * m.contributed for m in self.members)
        self.share = self.contributed_capacity / self.total_capacity
        self.n_contributors = sum(m.contributed for m in self.members)

    def joint_outcome(self) -> None:
        """Phase 2: the joint project succeeds or fails; misunderstandings multiply with the pairs at the table."""
        p, n = self.model.p, self.n_start
        m = ordered_sum(self.trust_given) / (n * (n - 1))
        # An array of one: NumPy's power on arrays and Python's float ** differ in the last bit now and then.
        e = rules.pair_misunderstanding(p.miscommunication, np.array([self.mean_communication]), p.ground_rules)
        q = rules.derail_probability(e, n)
        chance = rules.success_probability(m, self.need, self.share, q, p.success_bias, p.success_slope)
        self.success = bool(self.draws[Purpose.SUCCESS][0] < chance[0])

    def payoffs(self) -> None:
        """Phase 3: the benefit, the grant paid (capped at the award's remainder), each member's payoff, and what
        the organizations receive."""
        p, level = self.model.p, self.level_played
        self.benefit = float(rules.community_benefit(self.success, MULT[level], self.contributed_capacity, p.n_orgs,
                                                     level, self.sectors_now))
        self.cumulative_benefit += self.benefit
        cost = COST[level]
        requested = rules.funder_payment(p.grant, cost, self.contributed_capacity) if self.funded else 0.0
        self.net_benefit_now = self.benefit - cost * self.contributed_capacity
        for m in self.members:
            m.receive_payoff(self.benefit, self.total_capacity, cost, self.funded)
        self.fail_rate = float(rules.moving_average(self.fail_rate, 1.0 - self.success, p.memory))
        self.funded_now = self.funded
        self.grant_paid = self.model.funder.pay(self, requested)
        for m in self.members:
            m.org.payoff += m.payoff
            m.org.benefit_received += float(cr.benefit_share(self.benefit, m.capacity, self.total_capacity))

    def perceive(self) -> None:
        """Phase 4: every member judges which partners held back (by seat; vacant seats are masked out later)."""
        model, p = self.model, self.model.p
        contributed = np.zeros(self.n_seats, dtype=bool)
        comm = np.zeros(self.n_seats)
        for m in self.members:
            contributed[m.seat], comm[m.seat] = m.contributed, m.org.communication
        u = self.draws[Purpose.MISJUDGE]
        for m in self.members:
            distance = np.zeros(self.n_seats)
            for other in self.members:
                distance[other.seat] = model.dist[m.org.index, other.org.index]
            scale = rules.misjudge_scale(p.misperception, m.org.communication, comm)
            m.perceive(contributed, scale, distance, u[m.seat])

    def update_trust(self) -> None:
        """Phase 5: trust re-read from the community (lower slots may have changed it this month), revised by
        every member, and written back."""
        self.read_trust()
        pairs = self.partners()
        for m in self.members:
            m.update_trust(self.success, self.stakes, pairs[m.seat])
        for m in self.members:
            for other in self.members:
                if other is not m:
                    self.model.trust[m.org.index, other.org.index] = m.trust[other.seat]

    def grow_capacity(self) -> None:
        """Phase 6: after a success at level >= 4 the contributors' capacity grows by the ``capacity_rule``."""
        for m in self.members:
            m.capacity = m.org.capacity
        if self.success and self.level_played >= 4:
            rule = self.model.variants["capacity_rule"].rule
            for m in self.members:
                if m.contributed:
                    m.capacity = float(rule(np.array([[m.capacity]]), np.array([[True]]), self.model.params)[0, 0])
        for m in self.members:
            m.org.capacity = m.capacity

    def exits(self) -> None:
        """Phase 7: every member decides on its updated trust, the leavers go; then the partnership ends with
        fewer than two members, or as its ``dissolution`` rule decides."""
        level, u = self.level_played, self.draws[Purpose.EXIT]
        members = self.members
        for m in members:
            m.consider_exit(level, self.funded, u[m.seat])
        self.leavers = [m for m in members if m.leaving]
        for gone in self.leavers:
            self.seats[gone.seat] = None
        pairs = self.partners()
        for m in self.members:
            m.trust = m.trust * pairs[m.seat]
        n = self.n_active
        self.mean_trust = ordered_sum(m.trust_given() for m in self.members) / max(n * (n - 1), 1)
        self.dissolving = n < 2 or self._decides_to_end()

    def _decides_to_end(self) -> bool:
        """Phase 7b: the run's ``dissolution`` rule, given this partnership as a batch of one."""
        members = self.members
        n = len(members)
        shortfall = ordered_sum(m.shortfall for m in members) / n
        leadership = ordered_sum(m.org.leadership for m in members) / n
        state = DissolutionState(self.model.month, np.array([n]), np.array([self.level_played]),
                                 np.array([self.mean_trust]), np.array([self.fail_rate]), np.array([shortfall]),
                                 np.array([leadership]), np.array([self.funded]), self.draws[Purpose.DISSOLVE][:1],
                                 self.model.params)
        return bool(np.asarray(self.model.variants["dissolution"].rule(state))[0])

    def choose_level(self) -> None:
        """Phase 8: an exhausted award ends the grant; the failure streak; then the strategy's rule (its clock
        counts from the award) sets the next rung, reading trust after this month."""
        if self.dissolving:
            return
        self.funded = self.funded and self.award_remaining > 0
        self.fail_streak = 0 if self.success else self.fail_streak + 1
        state = StrategyState(
            step=np.array([self.model.month - self.strategy_start]),
            level=np.array([self.level_played], dtype=np.int64), mean_trust=np.array([self.mean_trust]),
            success=np.array([self.success]), fail_streak=np.array([self.fail_streak], dtype=np.int64),
            climb_count=np.array([self.climb_count], dtype=np.int64), funded=np.array([self.funded]),
            cumulative_benefit=np.array([self.cumulative_benefit]), params=self.model.params,
            promised=np.array([self.promised]),
        )
        chosen = np.clip(np.asarray(get_strategy(self.strategy).rule(state), dtype=np.int64), 1, N_LEVELS)
        self.climb_count = int(state.climb_count[0])
        self.funded = bool(state.funded[0])
        self.level = int(rules.level_for_sectors(chosen, self.n_sectors)[0])

    def end_month(self) -> None:
        """The month's books: its record, the members who left, and (if it dissolved) its end."""
        model, t = self.model, self.model.month
        level = self.level_played
        if self.dissolving:
            self.cumulative_benefit -= self.benefit  # lost with the partnership
        else:
            self.net_benefit += self.net_benefit_now
        self.left = 0 if self.dissolving else len(self.leavers)
        self.n_joined += self.joined
        self.n_left += self.left
        self.funded_months += self.grant_paid > 0
        self.grant_total += self.grant_paid
        self.peak_level = max(self.peak_level, 0 if self.dissolving else level)
        if not self.dissolving and math.isnan(self.first_step[level - 1]):
            self.first_step[level - 1] = t
        gone = self.start_members if self.dissolving else self.leavers
        for m in gone:
            model.log_membership(m, t, "ended" if self.dissolving else "exit")
            m.org.memberships.remove(m)
            self.seats[m.seat] = None
        if self.dissolving:
            self.dissolved = True
            model.close_partnership(self, float(t))

    def learning_pairs(self) -> list[tuple[int, int]]:
        """The pairs who worked together at level >= 2 this month and are still partners after the exits."""
        if self.level_played < 2:
            return []
        staying = [m for m in self.start_members if not m.leaving]
        return [(a.org.index, b.org.index) for a in staying for b in staying if a is not b]


class Funder(mesa.Agent):
    """The funder: a budget, calls for proposals, and the run's registered funding policy.

    Attributes
    ----------
    free : float
        The unreserved budget.
    spent : float
        What it has paid.
    n_awarded : int
    """

    def __init__(self, model: CommunityModel) -> None:
        super().__init__(model)
        self.policy = model.p.funder_policy
        self.free = float(model.p.funder_budget)
        self.spent = 0.0
        self.n_awarded = 0
        self.awarded_now = 0

    def call(self) -> int:
        """4.C: if a call is due, the policy answers it, and the awards are honoured. Returns the awards made."""
        model, t = self.model, self.model.month
        self.awarded_now = 0
        due, k = funder.call_due(t, model.params)
        if not due[0]:
            return 0
        state = model.call_state(k)
        awards = funder.run_policy(state, self.policy)
        self.award(awards)
        self.awarded_now = int(awards.n_awards[0])
        return self.awarded_now

    def award(self, a: funder.Awards) -> None:
        """Reserve each award out of the free budget: fund existing partnerships, then open new consortia."""
        model, t = self.model, self.model.month
        funded = [model.slots[int(s)] for s in np.flatnonzero(a.fund[0])]
        for p in funded:
            self.free += p.award_remaining if p.funder_money else 0.0
        for p in funded:
            self.free -= float(a.fund_amount[0, p.slot])
        for p in funded:
            amount = float(a.fund_amount[0, p.slot])
            p.award_remaining, p.funder_money, p.funded, p.ever_awarded = amount, True, True, True
            p.award_tag = int(a.fund_tag[0, p.slot])
            p.strategy, p.strategy_start = a.fund_strategy, t - 1
            level = int(a.fund_level[0, p.slot])
            if level > 0:
                p.level = int(rules.level_for_sectors(level, p.n_sectors))
            p.promised = model.promised(a.fund_strategy)
            p.awards += 1
            p.award_total += amount
        for k in range(a.new_members.shape[1]):
            members = [int(j) for j in a.new_members[0, k] if j >= 0]
            if not members:
                continue
            amount = float(a.new_amount[0, k])
            self.free -= amount
            model.open_partnership([model.orgs[j] for j in members], origin=self.policy, convener=members[0],
                                   strategy=a.new_strategy, level=int(a.new_level[0, k]), funded=True, award=amount,
                                   funder_money=True, tag=int(a.new_tag[0, k]))

    def pay(self, partnership: Partnership, requested: float) -> float:
        """A month's grant to ``partnership``, capped at its award's remainder."""
        paid, remaining = funder.pay(np.float64(requested), np.float64(partnership.award_remaining))
        partnership.award_remaining = float(remaining)
        if partnership.funder_money:
            self.spent += float(paid)
        return float(paid)

    def take_back(self, partnerships: list[Partnership]) -> None:
        """4.B: the remainders of grants that ended this month (or whose partnership did) return to the budget."""
        ended = [p for p in partnerships if p.funder_money and (not p.funded or p.dissolved)]
        if ended:
            self.free += ordered_sum(p.award_remaining for p in ended)
        for p in ended:
            p.award_remaining = 0.0
            p.funder_money = False
