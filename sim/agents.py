"""The organizations of the Mesa model: one agent per member of the partnership.

An :class:`Organization` holds what MODEL.md gives each member (sector,
cultural group, four traits, capacity) and its own view of each partner: how
far it trusts it and how foreign its culture looks. Its methods are the parts
of a step that an organization decides for itself (contributing, perceiving
its partners, revising its trust, considering exit); the partnership-wide
parts (the joint outcome, payoffs, the strategy) live in
:class:`sim.model.PartnershipModel`.

Every equation comes from :mod:`sim.rules` and every random number from the
step's draws, which the model takes from :mod:`sim.rng` keyed exactly as the
vectorized engine keys them, so an organization here behaves bit for bit
like its row in the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import mesa
import numpy as np

from . import rules
from .levels import COST
from .rng import Purpose

if TYPE_CHECKING:
    from .model import PartnershipModel

__all__ = ["Organization", "ordered_sum"]


def ordered_sum(values: Iterable[float]) -> float:
    """Add the values one after another, in the order given.

    The engine adds partners in index order (``sim.engine._rowsum``) so that a
    run's numbers do not depend on its batch; adding in the same order here
    (rather than NumPy's pairwise sum, or ``sum()``, which is compensated from
    Python 3.12) makes the two implementations agree to the last bit.
    """
    total = 0.0
    for v in values:
        total += v
    return float(total)


def _mean(values: np.ndarray) -> float:
    """Mean of the known entries (NaN marks "no partner there"); NaN if there are none."""
    known = values[~np.isnan(values)].tolist()
    return ordered_sum(known) / len(known) if known else float("nan")


class Organization(mesa.Agent):
    """One organization of the partnership.

    Parameters
    ----------
    model : PartnershipModel
        The partnership.
    index : int
        0-based position among the founding members: the row of the trust
        matrix and the index of the organization's random draws (Mesa's own
        ``unique_id`` starts at 1).
    sector : str
        One of :data:`sim.levels.SECTORS`.
    group : int
        Cultural group, 0 or 1.
    communication, leadership, individualism, identity : float
        The organization's traits, in [0, 1].
    trust : ndarray of float, shape (n_orgs,)
        Its trust in each founding member by index; NaN for itself.
    distance : ndarray of float, shape (n_orgs,)
        The cultural distance it perceives to each seat's member.
    free_rider : bool
        A designated free rider: never does its share (founders ``index < free_riders`` only).
    joined_step : int
        The step it joined (0: a founder; a newcomer of Model 5's recruitment joins later).

    Attributes
    ----------
    capacity : float
        ``c_i``: what a contribution puts in (starts at 1).
    active : bool
        Still a member.
    contributed : bool
        Contributed this step (``x_i``).
    seen_free : ndarray of bool
        Which partners it saw not doing their share this step.
    leaving : bool
        Decided this step to leave.
    net_payoff : float
        ``pi_i``: its net payoff this step (its benefit share, plus the grant, minus its contribution's cost).
    recent_payoff : float
        ``p-bar_i``: the moving average of its net payoff (``payoffs = "weighed"``; 0 otherwise).
    shortfall : float
        ``delta_i``: its payoff shortfall at its last exit decision (0 unless weighed).
    """

    def __init__(
        self,
        model: PartnershipModel,
        index: int,
        sector: str,
        group: int,
        communication: float,
        leadership: float,
        individualism: float,
        identity: float,
        trust: np.ndarray,
        distance: np.ndarray,
        free_rider: bool = False,
        joined_step: int = 0,
    ) -> None:
        super().__init__(model)
        self.index = index
        self.sector = sector
        self.group = group
        self.communication = communication
        self.leadership = leadership
        self.individualism = individualism
        self.identity = identity
        self.trust = trust
        self.distance = distance
        self.capacity = 1.0
        self.active = True
        self.contributed = False
        self.seen_free = np.zeros(len(trust), dtype=bool)
        self.leaving = False
        self.free_rider = free_rider
        self.joined_step = joined_step
        self.net_payoff = 0.0
        self.recent_payoff = 0.0
        self.shortfall = 0.0

    def __repr__(self) -> str:
        state = "active" if self.active else "gone"
        return f"Organization(index={self.index}, sector={self.sector!r}, group={self.group}, {state})"

    # --- what the organization knows ----------------------------------------

    def partner_trust(self) -> list[float]:
        """Its trust in each active partner, in index order."""
        return self.trust[~np.isnan(self.trust)].tolist()

    def mean_trust_given(self) -> float:
        """``tau_i``: its mean trust in its active partners (NaN once it has left)."""
        return _mean(self.trust)

    def mean_trust_received(self) -> float:
        """Its active partners' mean trust in it (NaN once it has left)."""
        if not self.active:
            return float("nan")
        return _mean(np.array([o.trust[self.index] for o in self.model.by_index if o is not self]))

    # --- its part of a step --------------------------------------------------

    def payoff_shortfall(self, level: int) -> float | None:
        """``delta_i`` by the run's ``payoffs`` variant at ``level`` (None when the variant is inert)."""
        variant = self.model.variants["payoffs"]
        if variant.inert:
            return None
        delta = variant.rule(np.array([[self.recent_payoff]]), np.array([[self.capacity]]),
                             np.array([COST[level]]), self.model.variant_params)
        return float(delta[0, 0])

    def decide_contribution(self, level: int, need: float) -> None:
        """Phase 1: contribute with a chance that grows with trust in the partners against the level's need,
        and (``payoffs = "weighed"``) falls with its recent payoff shortfall.

        A designated free rider never does its share.
        """
        if self.free_rider:
            self.contributed = False
            return
        params = self.model.params
        delta = self.payoff_shortfall(level)
        hold_back = 0.0 if delta is None else rules.payoff_term(params.payoff_weight, delta, self.individualism)
        p = rules.contribution_probability(
            self.mean_trust_given(), need, self.individualism, params.contribution_bias, hold_back
        )
        self.contributed = bool(self.model.draws[Purpose.CONTRIBUTE][self.index] < p)

    def perceive(self, contributed: np.ndarray, communication: np.ndarray) -> None:
        """Phase 4: judge which partners held back; each judgement is wrong with a chance that
        falls with both sides' communication skill and grows with perceived cultural distance.

        ``contributed`` and ``communication`` are every founding member's, by index.
        """
        scale = rules.misjudge_scale(self.model.params.misperception, self.communication, communication)
        misjudged = self.model.draws[Purpose.MISJUDGE][self.index] < rules.misjudge_probability(scale, self.distance)
        self.seen_free = ~contributed ^ misjudged

    def update_trust(self, success: bool, stakes: float) -> None:
        """Phase 5: move trust in every partner after the joint outcome, then withdraw some from
        partners seen free riding. Failures hurt by ``loss_rate``, softened by this
        organization's leadership; NaN (no partner) stays NaN. The engine calls the same
        :func:`sim.rules.update_trust` on all its rows at once."""
        p = self.model.params
        self.trust = rules.update_trust(
            self.trust, success, stakes, gain_rate=p.gain_rate, celebration=p.celebration, loss_rate=p.loss_rate,
            softening=rules.failure_softening(self.leadership), free_rider_penalty=p.free_rider_penalty,
            seen_free=self.seen_free,
        )

    def learn_culture(self) -> None:
        """Phase 5, level >= 2: working together wears down the perceived cultural distance."""
        self.distance = rules.learned_distance(self.distance, self.model.params.cultural_learning)

    def receive_payoff(self, benefit: float, total_capacity: float, cost: float, funded: bool) -> None:
        """Phase 3: its net payoff, and (``payoffs = "weighed"``) its moving average."""
        p = self.model.params
        self.net_payoff = float(rules.member_payoffs(benefit, self.capacity, total_capacity, cost, p.grant, funded,
                                                     self.contributed))
        if not self.model.variants["payoffs"].inert:
            self.recent_payoff = float(rules.moving_average(self.recent_payoff, self.net_payoff, p.memory))

    def grow(self) -> None:
        """Phase 6: a contributor to a success at level >= 4 gains capacity, by the run's ``capacity_rule``."""
        rule = self.model.variants["capacity_rule"].rule
        grown = rule(np.array([[self.capacity]]), np.array([[True]]), self.model.variant_params)
        self.capacity = float(grown[0, 0])

    def consider_exit(self, level: int, need: float, funded: bool) -> None:
        """Phase 7: decide whether to leave, reading trust after this step's update.

        Everyone decides before anyone leaves (the model then calls :meth:`leave`).
        """
        p = self.model.params
        delta = self.payoff_shortfall(level)
        self.shortfall = 0.0 if delta is None else delta
        pressure = 0.0 if delta is None else rules.payoff_term(p.exit_payoff, delta, self.individualism)
        chance = rules.exit_probability(
            self.mean_trust_given(), need, level, self.individualism, self.identity, self.leadership, funded,
            exit_base=p.exit_base, exit_gap=p.exit_gap, identity_weight=p.identity_weight, grant=p.grant,
            payoff_pressure=pressure,
        )
        self.leaving = bool(self.model.draws[Purpose.EXIT][self.index] < chance)

    def leave(self) -> None:
        """Stop being a member: no more trust given or received, no more contributions."""
        self.active = False
        self.contributed = False
        self.leaving = False
        self.trust = np.full_like(self.trust, np.nan)

    def forget(self, partner: Organization) -> None:
        """A partner has left: it is no longer among those this organization trusts."""
        self.trust[partner.index] = np.nan
