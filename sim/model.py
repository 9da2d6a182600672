"""The Mesa twin: MODEL.md's partnership as a Mesa 3 model, one agent per organization.

Read this file top to bottom next to MODEL.md: :class:`PartnershipModel` sets
up the partnership and its ``step`` runs the eight phases in MODEL.md's
order; the organizations' own decisions are in :mod:`sim.agents`.

This model and the vectorized engine (:mod:`sim.engine`) are two
implementations of one model, and they agree run for run: the Mesa model
with ``seed=s`` reproduces ``sim.simulate(seeds=[s], ...)``, in practice to
the last bit (``tests/test_twin.py`` checks every series and outcome to 1e-9
on 240 random parameter sets). That
works because neither keeps a random generator: every random number is a pure
function of (run seed, step, purpose, index) from :mod:`sim.rng`, so it does
not matter that the engine draws a whole batch at once and this model one
partnership at a time, nor in which order the organizations act. Equations
come from :mod:`sim.rules`, the level table from :mod:`sim.levels` and the
strategies from :mod:`sim.strategies`, shared with the engine.

Example
-------
>>> from sim.model import PartnershipModel
>>> model = PartnershipModel(seed=1, strategy="funder_forced", initial_trust=0.85)
>>> model.run_model()
>>> model.series()["level"][:6]          # doctest: +SKIP
array([4, 4, 4, 4, 4, 4], dtype=int8)

It also runs under Mesa's own ``batch_run``::

    mesa.batch_run(PartnershipModel, parameters={"seed": range(10), "strategy": ["stepwise", "fixed"]},
                   max_steps=200, display_progress=False)
"""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np
from mesa.agent import AgentSet

from . import outputs, rules
from .agents import Organization, ordered_sum
from .levels import COST, MULT, N_LEVELS, NEED, SECTORS, STAKES
from .params import PARAMETERS, Params, batch_params, check_name, check_seed
from .rng import MAX_ORGS, TRAITS, Purpose, normals, run_keys, step_draws, step_layout, trait_index, uniforms
from .strategies import StrategyState, get_strategy
from .variants import KINDS, DissolutionState, MembershipState, get_variant

__all__ = ["PartnershipModel", "AGENT_REPORTERS"]

#: Every parameter's default, read from the one vocabulary (never restated here).
_DEFAULT = {name: spec.default for name, spec in PARAMETERS.items()}

#: Per-organization data the DataCollector records each step. Names differ from the model
#: reporters' because batch_run merges both into one row ("member" is the agent's ``active``).
AGENT_REPORTERS = {
    "capacity": "capacity",
    "member": "active",
    "mean_trust_given": Organization.mean_trust_given,
    "mean_trust_received": Organization.mean_trust_received,
    "sector": "sector",
    "net_payoff": "net_payoff",
    "recent_payoff": "recent_payoff",
    "joined_step": "joined_step",
}

#: The partnership's attribute recorded as each series (:data:`sim.outputs.SERIES`), where it is not the series' name.
_REPORTED_AS = {"level": "level_played", "active": "n_active", "grant": "grant_paid"}


class PartnershipModel(mesa.Model):
    """One partnership of organizations climbing (or falling down) the relationship ladder.

    Every MODEL.md parameter is a keyword argument with the same name and
    default (see :mod:`sim.params`); values are validated once, by
    :class:`sim.params.Params`, and a bad one raises
    :class:`sim.params.ParamError` naming the parameter and its allowed range.

    Parameters
    ----------
    seed : int, optional
        The run's own seed (0 .. 2**64-1): the same trajectory as run 0 of
        ``sim.simulate(seeds=[seed], **params)``. None draws a fresh seed
        (kept in ``model.seed``).
    **params
        MODEL.md's parameters by name.

    Attributes
    ----------
    seed : int
        The run's seed.
    params : sim.params.Params
        The run's parameters (validated, each in its declared type).
    strategy : sim.strategies.Strategy
        The registered strategy named by ``params.strategy``.
    level : int
        The rung the partnership is on now: the level the next step plays
        (0 once dissolved).
    level_played : int
        The level played in the last step (the ``level`` series).
    funded : bool
        Whether the funder still pays.
    dissolved : bool
    dissolved_step : int or None
    cumulative_benefit : float
        Community benefit gathered so far (the dissolving step's is lost).
    organizations : AgentSet
        Every founding organization (active or not), Mesa's set of the agents.
    by_index : list of Organization
        The organization holding each seat (the founder, or the newcomer who filled its vacancy),
        ``by_index[i]`` being row ``i`` of :meth:`trust_matrix`.
    variants : dict of str to sim.variants.Variant
        The run's rule of each kind (``dissolution``, ``membership``, ...).
    draws : dict of Purpose to ndarray
        This step's uniform draws, by purpose, indexed like the engine's
        (``[i]`` for an organization, ``[i, j]`` for a pair).
    datacollector : mesa.DataCollector
        Model reporters named like the engine's series (:data:`sim.outputs.SERIES`)
        and per-organization reporters (:data:`AGENT_REPORTERS`); one row
        at set-up (step 0) and one per step.

    Notes
    -----
    ``running`` turns False on the first ``step()`` after the run has ended
    (dissolved, or ``n_steps`` played); that call changes and records nothing.
    Mesa 3.3.1's ``batch_run`` never reports the last collected row (Mesa
    issue #2514, fixed after 3.3.1), so a model that stopped on its last
    step would lose its final state there; with this one ``batch_run``
    reports every step up to the end, ``Step`` k being the state after k steps.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_orgs: int = _DEFAULT["n_orgs"],
        n_steps: int = _DEFAULT["n_steps"],
        strategy: str = _DEFAULT["strategy"],
        initial_trust: float = _DEFAULT["initial_trust"],
        trust_noise: float = _DEFAULT["trust_noise"],
        cultural_distance: float = _DEFAULT["cultural_distance"],
        prejudice: float = _DEFAULT["prejudice"],
        cultural_learning: float = _DEFAULT["cultural_learning"],
        communication: float = _DEFAULT["communication"],
        ground_rules: float = _DEFAULT["ground_rules"],
        leadership: float = _DEFAULT["leadership"],
        individualism: float = _DEFAULT["individualism"],
        identity: float = _DEFAULT["identity"],
        gain_rate: float = _DEFAULT["gain_rate"],
        loss_rate: float = _DEFAULT["loss_rate"],
        free_rider_penalty: float = _DEFAULT["free_rider_penalty"],
        celebration: float = _DEFAULT["celebration"],
        capacity_growth: float = _DEFAULT["capacity_growth"],
        climb_margin: float = _DEFAULT["climb_margin"],
        climb_patience: int = _DEFAULT["climb_patience"],
        retreat_after: int = _DEFAULT["retreat_after"],
        fixed_level: int = _DEFAULT["fixed_level"],
        forced_level: int = _DEFAULT["forced_level"],
        grant: float = _DEFAULT["grant"],
        deadline: int = _DEFAULT["deadline"],
        benefit_target: float = _DEFAULT["benefit_target"],
        schedule_interval: int = _DEFAULT["schedule_interval"],
        grant_term: int = _DEFAULT["grant_term"],
        quorum: float = _DEFAULT["quorum"],
        trait_spread: float = _DEFAULT["trait_spread"],
        miscommunication: float = _DEFAULT["miscommunication"],
        misperception: float = _DEFAULT["misperception"],
        contribution_bias: float = _DEFAULT["contribution_bias"],
        success_bias: float = _DEFAULT["success_bias"],
        success_slope: float = _DEFAULT["success_slope"],
        exit_base: float = _DEFAULT["exit_base"],
        exit_gap: float = _DEFAULT["exit_gap"],
        identity_weight: float = _DEFAULT["identity_weight"],
        free_riders: int = _DEFAULT["free_riders"],
        dissolution: str = _DEFAULT["dissolution"],
        membership: str = _DEFAULT["membership"],
        capacity_rule: str = _DEFAULT["capacity_rule"],
        review: str = _DEFAULT["review"],
        payoffs: str = _DEFAULT["payoffs"],
        recruit_rate: float = _DEFAULT["recruit_rate"],
        memory: float = _DEFAULT["memory"],
        payoff_weight: float = _DEFAULT["payoff_weight"],
        exit_payoff: float = _DEFAULT["exit_payoff"],
        dissolve_base: float = _DEFAULT["dissolve_base"],
        dissolve_trust: float = _DEFAULT["dissolve_trust"],
        dissolve_fail: float = _DEFAULT["dissolve_fail"],
        dissolve_payoff: float = _DEFAULT["dissolve_payoff"],
        dissolve_leadership: float = _DEFAULT["dissolve_leadership"],
        capacity_ceiling: float = _DEFAULT["capacity_ceiling"],
        review_share: float = _DEFAULT["review_share"],
        **more: Any,
    ) -> None:
        # The keywords above are the vocabulary; `more` takes parameters added to sim.params since.
        arguments = locals()
        given = {name: value for name, value in arguments.items() if name in PARAMETERS}
        for name in more:
            check_name(name)  # an unknown name: ParamError suggesting the closest one
        checked = Params(**given, **more)  # the one validation
        seed = _check_seed(seed)
        super().__init__(seed=seed)
        self.seed = seed
        # Whole-number parameters arrive as 6 or 6.0 alike; hold each in its declared type.
        self.params = Params(**{name: PARAMETERS[name].kind(v) for name, v in checked.to_dict().items()})
        p = self.params
        self.n_steps = p.n_steps
        self.strategy = get_strategy(p.strategy)
        # The strategies and the rule variants are vectorized over runs: this model is a batch of one.
        self._strategy_params = self.variant_params = batch_params(1, p.to_dict())
        self.variants = {kind: get_variant(kind, getattr(p, kind)) for kind in KINDS}
        self._keys = run_keys(np.array([seed], dtype=np.uint64))
        n = p.n_orgs
        org = np.arange(n, dtype=np.uint64)
        self._layout = step_layout(n)
        if self.variants["dissolution"].draws:
            self._layout.append((Purpose.DISSOLVE, np.zeros(1, dtype=np.uint64)))
        self.draws: dict[Purpose, np.ndarray] = {}

        # --- set-up (MODEL.md "State"): step 0 of the random streams ---
        sector = np.floor(self._setup_uniforms(Purpose.SECTOR, org) * len(SECTORS)).astype(int)
        group = (self._setup_uniforms(Purpose.GROUP, org) < 0.5).astype(int)
        trait_draws = trait_index(n)
        for i in range(n):
            z = self._setup_normals(Purpose.TRAITS, trait_draws[:, i])
            traits = {
                name: float(rules.initial_trait(getattr(p, name), p.trait_spread, z[t]))
                for t, name in enumerate(TRAITS)
            }
            distance = p.cultural_distance * (group != group[i])
            z_trust = self._setup_normals(Purpose.TRUST, i * MAX_ORGS + org)
            trust = rules.initial_trust(p.initial_trust, p.prejudice, distance, p.trust_noise, z_trust)
            trust[i] = np.nan  # no trust in oneself
            Organization(self, i, SECTORS[sector[i]], int(group[i]), trust=trust, distance=distance,
                         free_rider=i < p.free_riders, **traits)
        self.by_index: list[Organization] = list(self.organizations)
        self.communication_skills = np.array([o.communication for o in self.by_index])

        self.funded = bool(self.strategy.funded)
        self.promised = np.asarray(self.strategy.promised(self._strategy_params), dtype=np.float64)
        self.fail_rate = 0.0
        start = self.strategy.start_level(self._strategy_params)
        self.level = int(rules.level_for_sectors(start, self.n_sectors)[0])
        self.climb_count = 0
        self.fail_streak = 0
        self.dissolved = False
        self.dissolved_step: int | None = None
        #: why it ended: "members" (fewer than two left) or the name of the dissolution rule that decided it
        self.dissolution_cause: str | None = None
        self.cumulative_benefit = 0.0
        # What the last step recorded (at set-up: the starting state).
        self.level_played = self.level
        self.success = 0
        self.benefit = 0.0
        self.contribution_rate = math.nan
        self.grant_paid = 0.0
        self.joined = 0
        self.left = 0
        self.net_benefit = 0.0
        self.member_payoff = math.nan
        self.total_net_benefit = 0.0
        self.n_joined = 0
        self.n_left = 0

        self.contributed_capacity = 0.0
        self.share = math.nan
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _REPORTED_AS.get(name, name) for name in outputs.SERIES},
            agent_reporters=AGENT_REPORTERS,
        )
        self.datacollector.collect(self)

    # --- the partnership's state ------------------------------------------------

    @property
    def organizations(self) -> AgentSet:
        """Every organization that has been a member (founders first, then newcomers as they joined)."""
        return self.agents_by_type[Organization]

    @property
    def members(self) -> list[Organization]:
        """The organizations in the partnership now, in seat order."""
        return [o for o in self.by_index if o.active]

    @property
    def n_active(self) -> int:
        return len(self.members)

    @property
    def n_sectors(self) -> int:
        """Sectors among the active members (level 5 needs three)."""
        return len({o.sector for o in self.members})

    def trust_matrix(self) -> np.ndarray:
        """Trust ``T[i, j]`` of organization i in j, shape (n_orgs, n_orgs); NaN on the diagonal and
        wherever i or j is no longer a member."""
        return np.vstack([o.trust for o in self.by_index])

    @property
    def mean_trust(self) -> float:
        """``m``: mean trust over the ordered pairs of active members (NaN once dissolved)."""
        members = self.members
        n_pairs = len(members) * (len(members) - 1)
        if n_pairs == 0:
            return math.nan
        return ordered_sum(ordered_sum(o.partner_trust()) for o in members) / n_pairs

    @property
    def min_trust(self) -> float:
        """Lowest trust over the ordered pairs of active members."""
        t = self.trust_matrix()
        return float(np.nanmin(t)) if self.n_active >= 2 else math.nan

    @property
    def sd_trust(self) -> float:
        """Population standard deviation of trust over the ordered pairs of active members."""
        m = self.mean_trust
        if math.isnan(m):
            return math.nan
        members = self.members
        squares = ordered_sum(ordered_sum((t - m) * (t - m) for t in o.partner_trust()) for o in members)
        return math.sqrt(squares / (len(members) * (len(members) - 1)))

    @property
    def finished(self) -> bool:
        """Whether the run has ended: dissolved, or all ``n_steps`` played."""
        return self.dissolved or self.steps_played >= self.n_steps

    @property
    def steps_played(self) -> int:
        """Steps simulated so far (``model.steps`` may count one more idle call; see Notes)."""
        return len(self.datacollector.model_vars["level"]) - 1

    # --- one step: MODEL.md's eight phases, in order ------------------------------

    #: The step's phases, in order: methods named like the engine's phase functions (``sim.engine.PHASES``).
    PHASES = ("recruit", "contribute", "joint_outcome", "payoffs", "perceive", "update_trust", "grow_capacity",
              "exits", "choose_level")

    def step(self) -> None:
        """Play one month: recruitment, contribution, joint outcome, payoffs, perception, trust, capacity, exit,
        strategy."""
        if self.finished:
            self.running = False
            return
        # Mesa has already counted this step (1 on the first). Its random numbers, keyed
        # (seed, step, purpose, index) exactly as the engine keys them.
        drawn = step_draws(self._keys, self.steps, self._layout)
        self.draws = {purpose: u[0] for purpose, u in drawn.items()}
        self.level_played = self.level
        for phase in self.PHASES:
            getattr(self, phase)()
        self.datacollector.collect(self)

    def recruit(self) -> None:
        """Phase 0 (Model 5): the run's ``membership`` rule fills vacant seats with newcomers, new agents."""
        self.joined = 0
        variant = self.variants["membership"]
        if variant.inert:
            return
        vacant = np.array([not o.active for o in self.by_index])
        if not vacant.any():
            return
        t, n = self.steps, self.params.n_orgs
        u = uniforms(self._keys, t, Purpose.RECRUIT, np.arange(n, dtype=np.uint64)) if variant.draws else None
        fill = np.asarray(variant.rule(MembershipState(t, vacant[None, :], u, self.variant_params)), dtype=bool)
        seats = np.flatnonzero(fill[0] & vacant)
        for i in seats:
            self._admit(int(i), t)
        for i in seats:
            self._meet(int(i), t)
        self.joined = len(seats)

    def _admit(self, i: int, t: int) -> None:
        """A newcomer takes seat ``i``: a stranger with its own sector, group and traits, drawn at step ``t``."""
        p = self.params
        sector = int(np.floor(uniforms(self._keys, t, Purpose.NEW_SECTOR, np.uint64(i))[0] * len(SECTORS)))
        group = int(uniforms(self._keys, t, Purpose.NEW_GROUP, np.uint64(i))[0] < 0.5)
        z = normals(self._keys, t, Purpose.NEW_TRAITS, trait_index(p.n_orgs)[:, i])[0]
        traits = {name: float(rules.initial_trait(getattr(p, name), p.trait_spread, z[k]))
                  for k, name in enumerate(TRAITS)}
        n = p.n_orgs
        newcomer = Organization(self, i, SECTORS[sector], group, trust=np.full(n, np.nan), distance=np.zeros(n),
                                joined_step=t, **traits)
        self.by_index[i] = newcomer
        self.communication_skills[i] = newcomer.communication

    def _meet(self, i: int, t: int) -> None:
        """Trust between newcomer ``i`` and every member, both ways, as at set-up for a stranger; and the
        unlearned cultural distance."""
        p = self.params
        newcomer = self.by_index[i]
        seats = np.arange(p.n_orgs, dtype=np.uint64)
        z_from = normals(self._keys, t, Purpose.NEW_TRUST, np.uint64(i * MAX_ORGS) + seats)[0]
        z_to = normals(self._keys, t, Purpose.NEW_TRUST, seats * np.uint64(MAX_ORGS) + np.uint64(i))[0]
        for o in self.members:
            if o is newcomer:
                continue
            j = o.index
            d0 = p.cultural_distance * (o.group != newcomer.group)
            newcomer.trust[j] = rules.initial_trust(p.initial_trust, p.prejudice, d0, p.trust_noise, z_from[j])
            o.trust[i] = rules.initial_trust(p.initial_trust, p.prejudice, d0, p.trust_noise, z_to[j])
            newcomer.distance[j] = o.distance[i] = d0

    def contribute(self) -> None:
        """Phase 1: each member decides whether to contribute, reading trust at the start of the step."""
        members = self.members
        for o in members:
            o.decide_contribution(self.level, NEED[self.level])
        contributors = [o for o in members if o.contributed]
        self.contributed_capacity = ordered_sum(o.capacity for o in contributors)
        self.share = self.contributed_capacity / ordered_sum(o.capacity for o in members)
        self.contribution_rate = len(contributors) / len(members)

    def joint_outcome(self) -> None:
        """Phase 2: the joint project succeeds or fails; misunderstandings multiply with the pairs at the table."""
        p = self.params
        members = self.members
        mean_communication = ordered_sum(o.communication for o in members) / len(members)
        e = rules.pair_misunderstanding(p.miscommunication, mean_communication, p.ground_rules)
        q = rules.derail_probability(e, len(members))
        chance = rules.success_probability(self.mean_trust, NEED[self.level], self.share, q, p.success_bias,
                                           p.success_slope)
        self.success = int(self.draws[Purpose.SUCCESS][0] < chance)

    def payoffs(self) -> None:
        """Phase 3: the community's benefit, what the funder pays of the contributions' cost, and each member's
        net payoff."""
        p, level = self.params, self.level
        self.benefit = float(rules.community_benefit(
            bool(self.success), MULT[level], self.contributed_capacity, p.n_orgs, level, self.n_sectors))
        self.cumulative_benefit += self.benefit
        cost = COST[level]
        self.grant_paid = rules.funder_payment(p.grant, cost, self.contributed_capacity) if self.funded else 0.0
        self.net_benefit = float(self.benefit - cost * self.contributed_capacity)
        members = self.members
        total_capacity = ordered_sum(o.capacity for o in members)
        for o in members:
            o.receive_payoff(self.benefit, total_capacity, cost, self.funded)
        self.member_payoff = float(rules.mean_member_payoff(self.net_benefit, self.grant_paid, len(members)))
        self.fail_rate = float(rules.moving_average(self.fail_rate, 1.0 - self.success, p.memory))

    def perceive(self) -> None:
        """Phase 4: every member judges who seemed to hold back."""
        contributed = np.array([o.contributed for o in self.by_index])
        for o in self.members:
            o.perceive(contributed, self.communication_skills)

    def update_trust(self) -> None:
        """Phase 5: every member revises its trust; at level >= 2 working together also teaches the other's culture."""
        for o in self.members:
            o.update_trust(bool(self.success), STAKES[self.level])
            if self.level >= 2:
                o.learn_culture()

    def grow_capacity(self) -> None:
        """Phase 6: after a success at level >= 4 the contributors' capacity grows."""
        if self.success and self.level >= 4:
            for o in self.members:
                if o.contributed:
                    o.grow()

    def exits(self) -> None:
        """Phase 7: everyone decides on the updated trust, then the leavers go; then the partnership ends with
        fewer than two members, or if its ``dissolution`` rule so decides."""
        members = self.members
        for o in members:
            o.consider_exit(self.level, NEED[self.level], self.funded)
        leavers = [o for o in members if o.leaving]
        for gone in leavers:
            gone.leave()
            for o in self.members:
                o.forget(gone)
        self.left = len(leavers)
        if self.n_active < 2:
            self.dissolution_cause = "members"
            self._dissolve()
        elif self._decides_to_end():
            self.dissolution_cause = self.params.dissolution
            self._dissolve()

    def _decides_to_end(self) -> bool:
        """Phase 7b: the run's ``dissolution`` rule, given this partnership as a batch of one."""
        members = self.members
        u = self.draws.get(Purpose.DISSOLVE)
        state = DissolutionState(
            self.steps, np.array([len(members)]), np.array([self.level]), np.array([self.mean_trust]),
            np.array([self.fail_rate]), np.array([ordered_sum(o.shortfall for o in members) / len(members)]),
            np.array([ordered_sum(o.leadership for o in members) / len(members)]), np.array([self.funded]),
            None if u is None else u[:1], self.variant_params,
        )
        return bool(np.asarray(self.variants["dissolution"].rule(state))[0])

    def choose_level(self) -> None:
        """Phase 8: the failure streak, then the registered strategy's rule, given this partnership as a batch of
        one, reading trust after this step."""
        if self.dissolved:
            return
        success = bool(self.success)
        self.fail_streak = 0 if success else self.fail_streak + 1
        state = StrategyState(
            step=self.steps,
            level=np.array([self.level], dtype=np.int64),
            mean_trust=np.array([self.mean_trust]),
            success=np.array([success]),
            fail_streak=np.array([self.fail_streak], dtype=np.int64),
            climb_count=np.array([self.climb_count], dtype=np.int64),
            funded=np.array([self.funded]),
            cumulative_benefit=np.array([self.cumulative_benefit]),
            params=self._strategy_params,
            promised=self.promised,
        )
        chosen = np.clip(np.asarray(self.strategy.rule(state), dtype=np.int64), 1, N_LEVELS)
        self.climb_count = int(state.climb_count[0])
        self.funded = bool(state.funded[0])
        self.level = int(rules.level_for_sectors(chosen, self.n_sectors)[0])
        self.total_net_benefit += self.net_benefit
        self.n_joined += self.joined
        self.n_left += self.left

    def _dissolve(self) -> None:
        """The partnership ends for good, as one event: every member leaves, and this step's benefit is lost."""
        self.dissolved = True
        self.dissolved_step = self.steps
        self.cumulative_benefit -= self.benefit
        for o in self.members:
            o.leave()
        self.level = self.level_played = 0
        self.success = 0
        self.benefit = 0.0
        self.contribution_rate = math.nan
        self.grant_paid = 0.0
        self.joined = self.left = 0
        self.net_benefit = 0.0
        self.member_payoff = math.nan

    # --- results ----------------------------------------------------------------

    def series(self) -> dict[str, np.ndarray]:
        """The per-step series so far, named and typed like the engine's (step 1 at position 0).

        Once the partnership has dissolved its future is known: the dissolved
        state is carried to step ``n_steps``, as the engine records it, so a
        finished run's arrays line up with ``sim.simulate(...).series(name)[run]``.
        """
        out = {}
        for name, spec in outputs.SERIES.items():
            rows = self.datacollector.model_vars[name][1:]
            if self.dissolved:
                rows = rows + rows[-1:] * (self.n_steps - len(rows))
            out[name] = np.asarray(rows, dtype=spec.dtype)
        return out

    def summary(self) -> dict[str, Any]:
        """The run's outcomes, named like the engine's summary columns (so far, if still running)."""
        s = self.series()
        level = s["level"].astype(np.int64)
        last = len(level) - 1
        out: dict[str, Any] = {
            "dissolved": self.dissolved,
            "dissolved_step": math.nan if self.dissolved_step is None else self.dissolved_step,
            "final_level": int(level[last]) if last >= 0 else self.level,
            "peak_level": int(level.max()) if last >= 0 else 0,
            "final_trust": float(s["mean_trust"][last]) if last >= 0 else self.mean_trust,
            "cumulative_benefit": self.cumulative_benefit,
            "net_benefit": self.total_net_benefit,
            "n_joined": self.n_joined,
            "n_left": self.n_left,
            "turnover": self.n_left / self.params.n_orgs,
        }
        for k in range(1, N_LEVELS + 1):
            reached = np.flatnonzero(level == k)
            out[f"first_step_level_{k}"] = float(reached[0] + 1) if reached.size else math.nan
        return out

    # --- random numbers ---------------------------------------------------------

    def _setup_uniforms(self, purpose: Purpose, index: np.ndarray) -> np.ndarray:
        return uniforms(self._keys, 0, purpose, index)[0]

    def _setup_normals(self, purpose: Purpose, index: np.ndarray) -> np.ndarray:
        return normals(self._keys, 0, purpose, index)[0]


def _check_seed(seed: Any) -> int:
    """A run seed: a whole number in 0..2**64-1 (None: a fresh one from the operating system)."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % 2**64)
    return check_seed(seed)
