"""Structural variants: the model's replaceable rules, named and registered like strategies.

Five rules of Model 5 come in named variants, each a parameter like any other
(``sim.simulate(dissolution="quorum")``, the Mesa model's keyword arguments,
a spec's factors, ``--set membership=closed``):

=================  =====================  ===================  ====================================================
kind (parameter)   reference (MODEL.md)   Model 5 default      the Model 5 rule
=================  =====================  ===================  ====================================================
``dissolution``    ``quorum``             ``decision``         a partnership-level hazard of ending (phase 7b)
``membership``     ``closed``             ``recruiting``       a leaver's seat is filled by a stranger (phase 0)
``capacity_rule``  ``compounding``        ``saturating``       logistic growth toward ``capacity_ceiling`` (phase 6)
``review``         ``fixed_target``       ``scaled_target``    the deadline target scales with the benefit promised
``payoffs``        ``ignored``            ``weighed``          members with a negative recent payoff hold back
=================  =====================  ===================  ====================================================

:data:`REFERENCE_VARIANTS` chooses the rules that reproduce MODEL.md (and
Model 4's numbers, to the bit). A researcher adds a rule without touching the
engine::

    import numpy as np
    import sim

    @sim.register_variant("dissolution", "half_gone", draws=False)
    def half_gone(s):
        "Ends when half the founding seats are empty."
        return s.n_active * 2 < s.params["n_orgs"]

    sim.simulate(n_runs=100, dissolution="half_gone")

Each rule is vectorized over the runs that use it (the engine groups a mixed
batch's rows by variant, as it groups strategies); the Mesa model calls the
same functions with arrays of one run. The signatures, by kind:

- ``dissolution(s: DissolutionState) -> bool[R]``: whether each partnership
  ends now. The engine ORs it with "fewer than two members".
- ``membership(s: MembershipState) -> bool[R, n]``: which vacant seats are
  filled by a newcomer this step.
- ``capacity_rule(capacity, grow, params) -> float[R, n]``: capacity after
  phase 6 (``grow`` marks the contributors to a success at level >= 4).
- ``review(s: StrategyState, promised) -> float[R]``: the cumulative benefit
  a funder requires at the deadline.
- ``payoffs(recent_payoff, capacity, cost, params) -> float[R, n]``: each
  member's payoff shortfall ``delta`` in [0, 1] (0: content).

``draws=True`` marks a rule that reads the uniform ``s.u`` (dissolution:
``Purpose.DISSOLVE``; membership: ``Purpose.RECRUIT`` per seat).
``inert=True`` marks a rule known to do nothing (no fill; zero shortfall), so
the engine skips its phase when every run uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from . import rules
from .errors import ParamError, did_you_mean
from .levels import NEED

__all__ = [
    "KINDS",
    "REFERENCE_VARIANTS",
    "MODEL5_VARIANTS",
    "VARIANT_CONSTANTS",
    "Variant",
    "DissolutionState",
    "MembershipState",
    "register_variant",
    "unregister_variant",
    "get_variant",
    "variant_names",
    "check_variant",
    "review_target",
]

#: The kinds of replaceable rule, each also the name of the parameter choosing it.
KINDS = ("dissolution", "membership", "capacity_rule", "review", "payoffs")

#: The variant choices that reproduce MODEL.md's rules (``regime-check`` adds these to its reference constants).
REFERENCE_VARIANTS: dict[str, str] = {"dissolution": "quorum", "membership": "closed", "capacity_rule": "compounding",
                                      "review": "fixed_target", "payoffs": "ignored"}
#: Model 5's defaults.
MODEL5_VARIANTS: dict[str, str] = {"dissolution": "decision", "membership": "recruiting",
                                   "capacity_rule": "saturating", "review": "scaled_target", "payoffs": "weighed"}


#: The constants each Model 5 rule reads; no reference rule reads any of them (``memory`` is read by two).
VARIANT_CONSTANTS: dict[str, tuple[str, ...]] = {
    "decision": ("dissolve_base", "dissolve_trust", "dissolve_fail", "dissolve_payoff", "dissolve_leadership",
                 "memory"),
    "recruiting": ("recruit_rate",),
    "saturating": ("capacity_ceiling",),
    "scaled_target": ("review_share",),
    "weighed": ("payoff_weight", "exit_payoff", "memory"),
}


@dataclass(frozen=True)
class Variant:
    """A registered rule: its kind, name, function and what the engine needs to know about it."""

    kind: str
    name: str
    rule: Callable[..., Any]
    draws: bool
    inert: bool
    doc: str


class DissolutionState:
    """What a dissolution rule sees after phase 7's exits; arrays over its runs.

    Attributes
    ----------
    step : int
        The step being played (1-based).
    n_active : ndarray of int
        Members after this step's exits.
    level : ndarray of int
        The level played this step.
    mean_trust : ndarray of float
        ``m`` over the active pairs after the trust update and the exits.
    fail_rate : ndarray of float
        ``phi``: the moving average of failures, this step's included.
    shortfall : ndarray of float
        ``U``: the mean payoff shortfall of the members after the exits (0 under ``payoffs = "ignored"``).
    mean_leadership : ndarray of float
        ``L``: the mean leadership of the members after the exits (index order).
    funded : ndarray of bool
        Whether the funder paid this step (before phase 8's review).
    u : ndarray of float or None
        This step's ``Purpose.DISSOLVE`` uniform, for rules registered with ``draws=True``.
    params : mapping of str to ndarray
        The runs' parameters.

    ``shortfall`` and ``mean_leadership`` may be given as functions: they are
    computed on first use, so a rule that does not read them costs nothing.
    """

    def __init__(self, step: int, n_active: np.ndarray, level: np.ndarray, mean_trust: np.ndarray,
                 fail_rate: np.ndarray, shortfall: np.ndarray | Callable[[], np.ndarray],
                 mean_leadership: np.ndarray | Callable[[], np.ndarray], funded: np.ndarray,
                 u: np.ndarray | None, params: Mapping[str, np.ndarray]) -> None:
        self.step, self.n_active, self.level, self.mean_trust = step, n_active, level, mean_trust
        self.fail_rate, self.funded, self.u, self.params = fail_rate, funded, u, params
        self._shortfall, self._mean_leadership = shortfall, mean_leadership

    @cached_property
    def shortfall(self) -> np.ndarray:
        return self._shortfall() if callable(self._shortfall) else self._shortfall

    @cached_property
    def mean_leadership(self) -> np.ndarray:
        return self._mean_leadership() if callable(self._mean_leadership) else self._mean_leadership


@dataclass
class MembershipState:
    """What a membership rule sees at the start of a step (phase 0); arrays over its runs.

    Attributes
    ----------
    step : int
        The step being played.
    vacant : ndarray of bool, shape (R, n)
        Seats ``i < n_orgs`` not held by a member at the end of the previous step.
    u : ndarray of float, shape (R, n), or None
        This step's ``Purpose.RECRUIT`` uniform of each seat, for rules registered with ``draws=True``.
    params : mapping of str to ndarray
        The runs' parameters.
    """

    step: int
    vacant: np.ndarray
    u: np.ndarray | None
    params: Mapping[str, np.ndarray]


_REGISTRY: dict[str, dict[str, Variant]] = {kind: {} for kind in KINDS}


def _check_kind(kind: str) -> None:
    if kind not in _REGISTRY:
        raise ParamError(f"unknown kind of variant {kind!r}{did_you_mean(kind, KINDS)} (allowed: {', '.join(KINDS)})")


def register_variant(kind: str, name: str, *, draws: bool = False, inert: bool = False,
                     replace: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a rule as variant ``name`` of ``kind`` (a decorator).

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    name : str
        The public name (``kind=name`` everywhere); an identifier.
    draws : bool
        The rule reads the state's uniform ``u`` (dissolution and membership only).
    inert : bool
        The rule never changes anything (membership: fills nothing; payoffs: zero shortfall).
    replace : bool
        Allow replacing an existing variant of that name.
    """
    _check_kind(kind)
    if not name.isidentifier():
        raise ValueError(f"variant name {name!r} must be an identifier")
    if draws and kind not in ("dissolution", "membership"):
        raise ValueError(f"draws=True: only dissolution and membership rules are given a uniform, not {kind}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY[kind] and not replace:
            raise ValueError(f"{kind} variant {name!r} is already registered (pass replace=True to replace it)")
        _REGISTRY[kind][name] = Variant(kind, name, fn, draws, inert, (fn.__doc__ or "").strip())
        return fn

    return deco


def unregister_variant(kind: str, name: str) -> None:
    """Remove a registered variant (for tests and notebooks); the reference and Model 5 rules cannot be removed."""
    _check_kind(kind)
    if name in (REFERENCE_VARIANTS[kind], MODEL5_VARIANTS[kind]):
        raise ValueError(f"{kind} variant {name!r} is built in and cannot be removed")
    _REGISTRY[kind].pop(name, None)


def variant_names(kind: str) -> list[str]:
    """Names of the registered variants of ``kind``."""
    _check_kind(kind)
    return list(_REGISTRY[kind])


def check_variant(kind: str, name: object) -> None:
    """Raise a ParamError naming the parameter, the closest registered variant and the allowed names."""
    _check_kind(kind)
    if isinstance(name, str) and name in _REGISTRY[kind]:
        return
    known = _REGISTRY[kind]
    raise ParamError(f"{kind} = {name!r} is not a registered {kind} variant{did_you_mean(name, known)} "
                     f"(allowed: {', '.join(known)})")


def get_variant(kind: str, name: str) -> Variant:
    """The registered variant ``name`` of ``kind`` (a ParamError if there is none)."""
    check_variant(kind, name)
    return _REGISTRY[kind][name]


def review_target(s: Any) -> np.ndarray:
    """The deadline target of each run of a :class:`sim.strategies.StrategyState`, by its ``review`` variant."""
    names = s.params["review"]
    first = names[0]
    if len(names) == 1 or bool(np.all(names == first)):
        return np.asarray(get_variant("review", first).rule(s, s.promised), dtype=np.float64)
    target = np.empty(len(names))
    for name in dict.fromkeys(names.tolist()):
        sel = names == name
        target[sel] = np.asarray(get_variant("review", name).rule(s, s.promised), dtype=np.float64)[sel]
    return target


# --- dissolution ----------------------------------------------------------------------------------


@register_variant("dissolution", "quorum")
def quorum(s: DissolutionState) -> np.ndarray:
    """MODEL.md: the partnership dissolves when fewer than max(2, ceil(quorum n_orgs)) members remain."""
    return s.n_active < rules.quorum_size(s.params["quorum"], s.params["n_orgs"])


@register_variant("dissolution", "decision", draws=True)
def decision(s: DissolutionState) -> np.ndarray:
    """Model 5: the partnership ends with the hazard rules.dissolution_hazard of how it functions."""
    p = s.params
    hazard = rules.dissolution_hazard(
        np.maximum(0.0, NEED[s.level] - s.mean_trust), s.fail_rate, s.shortfall, s.mean_leadership, s.funded,
        dissolve_base=p["dissolve_base"], dissolve_trust=p["dissolve_trust"], dissolve_fail=p["dissolve_fail"],
        dissolve_payoff=p["dissolve_payoff"], dissolve_leadership=p["dissolve_leadership"], grant=p["grant"],
    )
    return s.u < hazard


# --- membership -----------------------------------------------------------------------------------


@register_variant("membership", "closed", inert=True)
def closed(s: MembershipState) -> np.ndarray:
    """MODEL.md: a leaver's seat stays empty."""
    return np.zeros(s.vacant.shape, dtype=bool)


@register_variant("membership", "recruiting", draws=True)
def recruiting(s: MembershipState) -> np.ndarray:
    """Model 5: each vacancy is filled by a newcomer with chance recruit_rate a step."""
    return s.vacant & (s.u < s.params["recruit_rate"][:, None])


# --- capacity -------------------------------------------------------------------------------------


@register_variant("capacity_rule", "compounding")
def compounding(capacity: np.ndarray, grow: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """MODEL.md: a contributor's capacity grows by capacity_growth after each success at level >= 4."""
    return np.where(grow, rules.grown_capacity(capacity, params["capacity_growth"][:, None]), capacity)


@register_variant("capacity_rule", "saturating")
def saturating(capacity: np.ndarray, grow: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """Model 5: logistic growth toward capacity_ceiling."""
    grown = rules.saturated_capacity(capacity, params["capacity_growth"][:, None], params["capacity_ceiling"][:, None])
    return np.where(grow, grown, capacity)


# --- the funder's review --------------------------------------------------------------------------


@register_variant("review", "fixed_target")
def fixed_target(s: Any, promised: np.ndarray) -> np.ndarray:
    """MODEL.md: the grant needs benefit_target by the deadline."""
    return s.params["benefit_target"]


@register_variant("review", "scaled_target")
def scaled_target(s: Any, promised: np.ndarray) -> np.ndarray:
    """Model 5: the grant needs review_share of the benefit its required rungs promise by the deadline."""
    if promised is None:
        raise ValueError("the scaled_target review needs StrategyState.promised (the strategy's promised(params))")
    return s.params["review_share"] * promised


# --- payoffs --------------------------------------------------------------------------------------


@register_variant("payoffs", "ignored", inert=True)
def ignored(recent_payoff: np.ndarray, capacity: np.ndarray, cost: np.ndarray,
            params: Mapping[str, np.ndarray]) -> np.ndarray:
    """MODEL.md: members do not weigh what a rung costs them."""
    return np.zeros(np.shape(recent_payoff))


@register_variant("payoffs", "weighed")
def weighed(recent_payoff: np.ndarray, capacity: np.ndarray, cost: np.ndarray,
            params: Mapping[str, np.ndarray]) -> np.ndarray:
    """Model 5: a member's recent loss as a share of what it stakes at the current rung."""
    return rules.payoff_shortfall(recent_payoff, np.asarray(cost)[:, None], capacity)
