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
        The cultural distance it perceives to each founding member.

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

    def decide_contribution(self, need: float) -> None:
        """Phase 1: contribute with a chance that grows with trust in the partners against the level's need.

        A designated free rider (``index < free_riders``) never does its share.
        """
        if self.index < self.model.params.free_riders:
            self.contributed = False
            return
        p = rules.contribution_probability(
            self.mean_trust_given(), need, self.individualism, self.model.params.contribution_bias
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

    def grow(self) -> None:
        """Phase 6: a contributor to a success at level >= 4 gains capacity."""
        self.capacity = float(rules.grown_capacity(self.capacity, self.model.params.capacity_growth))

    def consider_exit(self, level: int, need: float, funded: bool) -> None:
        """Phase 7: decide whether to leave, reading trust after this step's update.

        Everyone decides before anyone leaves (the model then calls :meth:`leave`).
        """
        p = self.model.params
        chance = rules.exit_probability(
            self.mean_trust_given(), need, level, self.individualism, self.identity, self.leadership, funded,
            exit_base=p.exit_base, exit_gap=p.exit_gap, identity_weight=p.identity_weight, grant=p.grant,
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
