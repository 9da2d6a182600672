"""The community's Mesa twin: ``docs/ODD.md`` section 10 as a Mesa 3 model, one agent per organization.

Read this file top to bottom next to ODD section 10: :class:`CommunityModel` sets the community up
(organizations on a :class:`mesa.discrete_space.Network` whose edges are the pairs who have worked together,
trust between every pair, the funder) and its ``step`` plays one month in the section's order: the funder's
call, self-formation, recruiting, Model 5's phases 1-8 over every partnership (phase by phase, in slot
order), learning, reputation, the funder's books. The agents' own decisions are in
:mod:`sim.community_agents`.

This model and the vectorized community engine (:mod:`sim.community`) are two implementations of one model
and agree run for run: ``CommunityModel(seed=s, **params)`` reproduces ``sim.simulate_community(seeds=[s],
**params)`` (its series, partnership, organization and membership tables and summary) bit for bit, also when
the engine runs that community inside a batch of many (``tests/test_community_twin.py``). Neither keeps a
random generator: every draw is a pure function of (run seed, month, purpose, index) (:mod:`sim.rng`), so it
does not matter that the engine draws for a whole batch at once and this model for one partnership at a time.
Equations come from :mod:`sim.rules` and :mod:`sim.community_rules`; strategies, rule variants and funding
policies are the registered ones, given this community as a batch of one, as the partnership twin
(:mod:`sim.model`) gives them its partnership.

Example
-------
>>> from sim.community_model import CommunityModel
>>> model = CommunityModel(seed=1, n_community=12, max_partnerships=3, funder_policy="patient", n_steps=24)
>>> model.run_model()
>>> model.series()["partnerships"].shape
(24,)

It also runs under Mesa's own ``batch_run``::

    mesa.batch_run(CommunityModel, parameters={"seed": range(4), "funder_policy": ["mandate", "none"],
                   "n_steps": 36}, max_steps=40, display_progress=False)
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import mesa
import networkx as nx
import numpy as np
from mesa.discrete_space import Network

from . import community_rules as cr
from . import funder, rules
from .agents import ordered_sum
from .community_agents import Funder, Membership, Organization, Partnership
from .community_params import community_params
from .levels import N_LEVELS, NEED, SECTORS
from .model import _check_seed
from .outputs import community_outputs
from .rng import TRAITS, Purpose, community_index, community_trait_index, normals, run_keys, uniforms
from .strategies import get_strategy
from .variants import KINDS, get_variant

__all__ = ["CommunityModel"]


class CommunityModel(mesa.Model):
    """A community of organizations forming and ending partnerships, with reputation and a funder.

    Parameters
    ----------
    seed : int, optional
        The run's own seed (0 .. 2**64-1): the same run as ``sim.simulate_community(seeds=[seed], **params)``.
        None draws a fresh one (kept in ``model.seed``).
    **params
        The partnership parameters (:mod:`sim.params`) and the community's (:mod:`sim.community_params`), by
        name, validated by :func:`sim.community_params.community_params` (a bad value raises
        :class:`sim.params.ParamError` naming it and its allowed range).

    Attributes
    ----------
    p : types.SimpleNamespace
        The run's parameters as scalars.
    params : dict of str to ndarray
        The same as arrays of one run (what strategies, rule variants and funding policies are given).
    network : mesa.discrete_space.Network
        One node per organization; an edge for each pair who have worked together or networked before.
    orgs : list of Organization
        The organizations by index.
    trust : ndarray (n_community, n_community)
        The community's trust table, ``trust[i, j]`` being i's trust in j (0 on the diagonal).
    dist : ndarray (n_community, n_community)
        The cultural distance i perceives to j (learned by working together at level >= 2).
    slots : list of Partnership or None
        The partnership in each slot.
    funder : Funder
    month : int
        Months played.
    datacollector : mesa.DataCollector
        The community series (:func:`sim.outputs.community_outputs` ``("series")``) as model reporters, one row
        at set-up and one a month; per-organization reporters by agent type.
    """

    #: Model 5's phases 1-8, run over every partnership in slot order, phase by phase (the engine's 4.P).
    PHASES = ("contribute", "joint_outcome", "payoffs", "perceive", "update_trust", "grow_capacity", "exits",
              "choose_level")

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        checked = community_params(1, params)  # the one validation
        seed = _check_seed(seed)
        super().__init__(seed=seed)
        self.seed = seed
        self.params = checked
        self.p = SimpleNamespace(**{name: v[0] if isinstance(v[0], str) else v[0].item() for name, v in
                                    checked.items()})
        p = self.p
        self.n_steps = p.n_steps
        self.n = n = p.n_community
        self.variants = {kind: get_variant(kind, getattr(p, kind)) for kind in KINDS}
        self.keys = run_keys(np.array([seed], dtype=np.uint64))
        self.month = 0
        self.n_formed = 0
        self.origins = funder.origin_names()

        # --- set-up (ODD 10.1): step 0 of the random streams, the partnership model's purposes ---
        self.network = Network(nx.empty_graph(n), random=self.random)
        idx = np.arange(n, dtype=np.uint64)
        sector = np.floor(uniforms(self.keys, 0, Purpose.SECTOR, idx)[0] * len(SECTORS)).astype(int)
        group = (uniforms(self.keys, 0, Purpose.GROUP, idx)[0] < 0.5).astype(int)
        means = np.array([getattr(p, name) for name in TRAITS])
        self.orgs: list[Organization] = []
        for i in range(n):
            z = normals(self.keys, 0, Purpose.TRAITS, community_trait_index(np.arange(len(TRAITS)), i))[0]
            traits = rules.initial_trait(means, p.trait_spread, z)
            self.orgs.append(Organization(self, i, int(sector[i]), int(group[i]), *map(float, traits),
                                          free_rider=i < p.free_riders))
        self.trust = np.zeros((n, n))
        self.dist = np.zeros((n, n))
        for i, o in enumerate(self.orgs):
            others = np.arange(n)
            other_group = group != group[i]
            self.dist[i] = p.cultural_distance * other_group
            tie = self._prior_ties(i)
            z = normals(self.keys, 0, Purpose.TRUST, community_index(i, others))[0]
            base = np.where(tie, p.tie_trust, p.initial_trust)
            self.trust[i] = rules.initial_trust(base, p.prejudice, self.dist[i], p.trust_noise, z) * (others != i)
            for j in np.flatnonzero(tie):
                o.meet(self.orgs[j])
        self.slots: list[Partnership | None] = [None] * p.max_partnerships
        self.funder = Funder(self)
        self._partnership_rows: list[dict[str, Any]] = []
        self._membership_rows: list[dict[str, Any]] = []
        self.totals = {"cumulative_benefit": 0.0, "net_benefit": 0.0, "peak": 0, "full_months": 0}
        if p.setup == "one":  # one partnership of every member: the partnership model
            strat = get_strategy(p.strategy)
            self.open_partnership(list(self.orgs[:p.n_orgs]), origin="setup", convener=0, strategy=p.strategy,
                                  level=int(strat.start_level(self.params)[0]), funded=strat.funded, award=math.inf,
                                  funder_money=False)
        self.now: dict[str, Any] = {name: spec.fill for name, spec in community_outputs("series").items()}
        self._record_state()
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, name=name: m.now[name]) for name in community_outputs("series")},
            agenttype_reporters={Organization: {"capacity": "capacity", "memberships": "n_memberships",
                                                "payoff": "payoff", "mean_trust_given": Organization.mean_trust_given}},
        )
        self.datacollector.collect(self)

    def _prior_ties(self, i: int) -> np.ndarray:
        """Which pairs (i, j) networked before the run (``prior_ties``; drawn once per unordered pair)."""
        p, n = self.p, self.n
        if p.prior_ties <= 0:
            return np.zeros(n, dtype=bool)
        j = np.arange(n)
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        u = uniforms(self.keys, 0, Purpose.PRIOR_TIE, community_index(lo, hi))[0]
        return (u < p.prior_ties) & (j != i)

    # --- the community's state -------------------------------------------------------------------------------

    @property
    def partnerships(self) -> list[Partnership]:
        """The partnerships alive now, in slot order."""
        return [s for s in self.slots if s is not None]

    def acquainted(self) -> np.ndarray:
        """The network as a matrix: ``K[i, j]`` if i and j have worked together (or networked before)."""
        k = np.zeros((self.n, self.n), dtype=bool)
        for a, b in self.network.G.edges:
            k[a, b] = k[b, a] = True
        return k

    def promised(self, strategy: str) -> float:
        """The benefit ``strategy``'s grant promises under this run's parameters (its deadline review)."""
        return float(np.asarray(get_strategy(strategy).promised(self.params), dtype=np.float64).reshape(-1)[0])

    def lowest_free_slot(self) -> int | None:
        free = [k for k, s in enumerate(self.slots) if s is None]
        return free[0] if free else None

    def open_partnership(self, founders: list[Organization], **kw: Any) -> Partnership:
        """A partnership forms in the lowest free slot."""
        slot = self.lowest_free_slot()
        assert slot is not None, "no free slot"
        partnership = Partnership(self, slot, founders, **kw)
        self.slots[slot] = partnership
        return partnership

    def close_partnership(self, p: Partnership, ended: float) -> None:
        """A row of the partnership table: at its dissolution, or (``ended`` NaN) at the end of the run."""
        self._partnership_rows.append({
            "seed": self.seed, "partnership": p.number, "slot": p.slot, "origin": p.origin, "convener": p.convener,
            "formed_step": p.formed_step, "ended_step": ended, "n_founding": p.n_founding, "n_joined": p.n_joined,
            "n_left": p.n_left, "peak_level": p.peak_level, "final_level": p.level_played if math.isnan(ended) else 0,
            **{f"first_step_level_{k + 1}": p.first_step[k] for k in range(N_LEVELS)},
            "funded_months": p.funded_months, "awards": p.awards, "award_total": p.award_total,
            "grant_total": p.grant_total, "cumulative_benefit": p.cumulative_benefit, "net_benefit": p.net_benefit,
            "strategy": p.strategy,
        })
        if not math.isnan(ended):
            self.slots[p.slot] = None
            p.remove()

    def log_membership(self, m: Membership, left: float, why: str) -> None:
        """A row of the membership table, when the membership ends (or at the end of the run)."""
        self._membership_rows.append({
            "seed": self.seed, "partnership": m.partnership.number, "org": m.org.index, "seat": m.seat,
            "joined_step": m.joined_step, "left_step": left, "how": "recruited" if m.recruited else "founding",
            "why_left": why,
        })

    def call_state(self, call_index: np.ndarray) -> funder.CallState:
        """What the funding policy sees at a call: this community as a batch of one (:class:`sim.funder.CallState`)."""
        p, n, P = self.p, self.n, self.p.max_partnerships
        orgs = self.orgs
        row = lambda values, dtype=None: np.array([values], dtype=dtype)  # noqa: E731
        alive = [s is not None for s in self.slots]
        members = np.zeros((1, P, n), dtype=bool)
        n_members, n_sectors, mean_trust = [0] * P, [0] * P, [math.nan] * P
        for s in self.partnerships:
            for m in s.members:
                members[0, s.slot, m.org.index] = True
            n_members[s.slot], n_sectors[s.slot], mean_trust[s.slot] = s.n_active, s.n_sectors, s.mean_trust_now()

        def slot_values(attr: str, empty: Any) -> list[Any]:
            return [getattr(s, attr) if s is not None else empty for s in self.slots]

        return funder.CallState(
            step=self.month, call_index=call_index, params=self.params, budget=row(self.funder.free),
            sector=row([o.sector for o in orgs]), group=row([o.group for o in orgs]),
            leadership=row([o.leadership for o in orgs]), individualism=row([o.individualism for o in orgs]),
            capacity=row([o.capacity for o in orgs]), spare=row([o.spare for o in orgs]),
            priority=uniforms(self.keys, self.month, Purpose.FUNDER, np.arange(n, dtype=np.uint64)),
            trust=self.trust[None].copy(), acquainted=self.acquainted()[None], alive=row(alive),
            free_slot=row([not a for a in alive]), level=row(slot_values("level", 0), np.int64),
            funded=row(slot_values("funded", False)), funder_money=row(slot_values("funder_money", False)),
            ever_awarded=row(slot_values("ever_awarded", False)), award_tag=row(slot_values("award_tag", 0), np.int64),
            origin=row([self.origins.index(s.origin) if s is not None else 0 for s in self.slots], np.int64),
            award_remaining=row(slot_values("award_remaining", 0.0), np.float64), n_members=row(n_members, np.int64),
            n_sectors=row(n_sectors, np.int64), mean_trust=row(mean_trust, np.float64),
            formed_step=row(slot_values("formed_step", 0), np.int64), members=members, n_seats=p.n_orgs,
            origins=self.origins,
        )

    # --- one month: ODD 10.2, in order ---------------------------------------------------------------------------

    def step(self) -> None:
        """Play one month: the funder's call, self-formation, recruiting, Model 5's phases over every partnership,
        learning, reputation, the funder's books, the record."""
        if self.month >= self.n_steps:
            self.running = False  # the idle call after the last month (see sim.model.PartnershipModel's Notes)
            return
        self.month = t = self.month + 1
        before = self.n_formed
        awarded = self.funder.call()
        self.self_formation()
        formed = self.n_formed - before  # the funder's new consortia and the convened partnership
        for partnership in self.partnerships:
            partnership.recruit()
        working = self.partnerships
        for partnership in working:
            partnership.begin_month()
        for phase in self.PHASES:
            for partnership in working:
                getattr(partnership, phase)()
        for partnership in working:
            partnership.end_month()
        self.learn(working)
        self.gossip()
        self.funder.take_back(working)
        for o in self.orgs:
            o.months_member += o.n_memberships > 0
        self.funder.n_awarded += awarded
        self._record_month(working, awarded, formed)
        self.datacollector.collect(self)
        if t == self.n_steps:
            self._finish()

    def self_formation(self) -> bool:
        """4.F: at most one partnership forms a month: the candidate with the smallest draw convenes and invites
        the organizations it trusts most; those who accept join it."""
        p, t = self.p, self.month
        if self.lowest_free_slot() is None or p.convene_rate <= 0:
            return False
        idx = np.arange(self.n, dtype=np.uint64)
        u = uniforms(self.keys, t, Purpose.CONVENE, idx)
        chance = np.array([[o.convene_chance() for o in self.orgs]])
        can = np.array([[o.spare > 0 for o in self.orgs]])
        c = int(cr.choose_convener(u, chance, can)[0])
        if c < 0:
            return False
        convener = self.orgs[c]
        start = int(get_strategy(p.strategy).start_level(self.params)[0])
        need = NEED[start]
        eligible = np.array([o is not convener and o.spare > 0 and convener.trust[o.index] >= need
                             for o in self.orgs])
        invited = cr.invitees(convener.trust, eligible, p.n_orgs - 1)
        v = uniforms(self.keys, t, Purpose.ACCEPT, idx)[0]
        accepted = [self.orgs[j] for j in invited if j >= 0
                    and v[j] < self.orgs[j].acceptance_chance(self.trust[j, c], need)]
        if not accepted:
            return False
        self.open_partnership([convener, *accepted], origin="convened", convener=c, strategy=p.strategy, level=start,
                              funded=False, award=0.0, funder_money=False)
        convener.convened += 1
        return True

    def learn(self, working: list[Partnership]) -> None:
        """4.L: pairs who worked together at level >= 2 this month learn each other's culture, once a month."""
        pairs = sorted({pair for partnership in working for pair in partnership.learning_pairs()})
        for i, j in pairs:
            self.dist[i, j] = rules.learned_distance(self.dist[i, j], self.p.cultural_learning)

    def gossip(self) -> None:
        """4.G: strangers' trust drifts toward what the referees both have worked with think (``gossip``)."""
        if self.p.gossip > 0:
            self.trust[...] = cr.gossip_trust(self.trust[None], self.acquainted()[None], self.params["gossip"])[0]

    # --- outputs -----------------------------------------------------------------------------------------------

    def _record_state(self) -> None:
        """The series that describe the state (budget, memberships, trust), after set-up or a month."""
        now, n = self.now, self.n
        now["partnerships"] = len(self.partnerships)
        now["members"] = sum(o.n_memberships > 0 for o in self.orgs)
        now["memberships"] = sum(o.n_memberships for o in self.orgs)
        now["budget"] = self.funder.free
        now["committed"] = ordered_sum(s.award_remaining for s in self.partnerships if s.funder_money)
        n_pairs = n * (n - 1)
        # the table's total is NumPy's pairwise sum of its n x n values, flattened (as the engine's, bit for bit)
        now["mean_trust"] = float(np.add.reduce(self.trust.reshape(-1))) / max(n_pairs, 1)
        k = self.acquainted()
        n_k = int(k.sum())
        worked = float(np.add.reduce((self.trust * k).reshape(-1)))
        now["mean_trust_worked"] = worked / n_k if n_k else math.nan
        for lvl in range(1, N_LEVELS + 1):
            now[f"ready_level_{lvl}"] = int((self.trust >= NEED[lvl]).sum()) / max(n_pairs, 1)

    def _record_month(self, working: list[Partnership], awarded: int, formed: int) -> None:
        now = self.now
        live = [s for s in working if not s.dissolving]
        now["benefit"] = ordered_sum(s.benefit for s in live)
        now["net_benefit"] = ordered_sum(s.net_benefit_now for s in live)
        now["grant"] = ordered_sum(s.grant_paid for s in live)
        self.totals["cumulative_benefit"] += now["benefit"]
        self.totals["net_benefit"] += now["net_benefit"]
        now["cumulative_benefit"] = self.totals["cumulative_benefit"]
        for lvl in range(1, N_LEVELS + 1):
            now[f"partnerships_level_{lvl}"] = sum(s.level_played == lvl for s in live)
        now["formed"], now["awarded"] = formed, awarded
        now["ended"] = len(working) - len(live)
        now["funded"] = sum(s.funded_now for s in working)
        now["joined"] = sum(s.joined for s in working)
        now["left"] = sum(s.left for s in working)
        starters = sum(s.n_start for s in working)
        now["contribution_rate"] = sum(s.n_contributors for s in working) / starters if starters else math.nan
        self._record_state()
        self.totals["peak"] = max(self.totals["peak"], now["partnerships"])
        self.totals["full_months"] += self.lowest_free_slot() is None

    def _finish(self) -> None:
        """The end of the run: the partnerships and memberships still alive get their table rows."""
        for s in self.partnerships:
            self.close_partnership(s, math.nan)
            for m in s.members:
                self.log_membership(m, math.nan, "")

    def series(self) -> dict[str, np.ndarray]:
        """The community series so far, named and typed like the engine's (month 1 at position 0)."""
        frame = self.datacollector.model_vars
        return {name: np.asarray(frame[name][1:], dtype=spec.dtype)
                for name, spec in community_outputs("series").items()}

    def _table(self, kind: str, rows: list[dict[str, Any]], order: tuple[str, ...]) -> dict[str, np.ndarray]:
        spec = community_outputs(kind)
        rows = sorted(rows, key=lambda r: tuple(r[k] for k in order))
        return {name: np.array([r[name] for r in rows], dtype=o.dtype) for name, o in spec.items()}

    def partnership_table(self) -> dict[str, np.ndarray]:
        """One row per partnership ever formed (complete once the run has ended), columns as the engine's."""
        return self._table("partnership", self._partnership_rows, ("partnership",))

    def membership_table(self) -> dict[str, np.ndarray]:
        """One row per membership (complete once the run has ended)."""
        return self._table("membership", self._membership_rows, ("partnership", "seat", "joined_step"))

    def organization_table(self) -> dict[str, np.ndarray]:
        """One row per organization, its state now."""
        rows = [{"seed": self.seed, "org": o.index, "sector": o.sector, "group": o.group,
                 "communication": o.communication, "leadership": o.leadership, "individualism": o.individualism,
                 "identity": o.identity, "capacity": o.capacity, "memberships": o.joined_count,
                 "months_member": o.months_member, "convened": o.convened, "payoff": o.payoff,
                 "benefit_received": o.benefit_received, "mean_trust_given": o.mean_trust_given(),
                 "mean_trust_received": o.mean_trust_received()} for o in self.orgs]
        return self._table("organization", rows, ("org",))

    def summary(self) -> dict[str, Any]:
        """The run's outcomes, named like the engine's summary columns."""
        s, n = self.series(), self.n
        out: dict[str, Any] = {
            "cumulative_benefit": self.totals["cumulative_benefit"], "net_benefit": self.totals["net_benefit"],
            "n_formed": self.n_formed, "n_ended": sum(1 for r in self._partnership_rows
                                                      if not math.isnan(r["ended_step"])),
            "n_awarded": self.funder.n_awarded, "funder_spent": self.funder.spent,
            "durable": sum(p.level_played >= 4 for p in self.partnerships),
            "peak_partnerships": self.totals["peak"], "full_months": self.totals["full_months"],
            "final_mean_trust": float(s["mean_trust"][-1]),
            "final_mean_trust_worked": float(s["mean_trust_worked"][-1]),
        }
        for k in range(1, N_LEVELS + 1):
            out[f"final_ready_level_{k}"] = float(s[f"ready_level_{k}"][-1])
        out["largest_component"] = max(len(c) for c in nx.connected_components(self.network.G)) / n
        received = np.array([o.benefit_received for o in self.orgs])
        out["benefit_gini"] = float(cr.gini(received))
        total = ordered_sum(received.tolist())
        ratios = []
        for sec in range(len(SECTORS)):
            mine = [o for o in self.orgs if o.sector == sec]
            if mine and total > 0:
                ratios.append((ordered_sum(o.benefit_received if o.sector == sec else 0.0 for o in self.orgs)
                               / total) / (len(mine) / n))
        out["sector_benefit_min"] = min(ratios) if ratios else math.nan
        return out
