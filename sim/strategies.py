"""Strategies: who sets the partnership's level, as small named vectorized functions.

A strategy is a function of a :class:`StrategyState` (the runs that use it, at
the end of a step, phase 8) that returns each run's level for the next step.
It may also update ``state.climb_count`` (its own counter) and
``state.funded`` in place. Register one with :func:`register`::

    import numpy as np
    import sim

    @sim.register("cautious", start_level=1)
    def cautious(s):
        "Climb only after a success with trust well above the next need."
        up = s.success & (s.mean_trust >= sim.levels.NEXT_NEED[s.level] + 0.2)
        return np.minimum(s.level + up, 5)

    sim.simulate(n_runs=100, strategy="cautious")

The engine runs each strategy on the runs that use it (the whole batch, or a
subset when a batch mixes strategies), so a strategy must treat its arrays
elementwise. The Mesa model calls the same functions with arrays of one run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from . import rules
from .errors import ParamError, did_you_mean
from .levels import N_LEVELS, NEED, NEXT_NEED
from .variants import review_target

__all__ = [
    "Strategy",
    "StrategyState",
    "register",
    "unregister",
    "get_strategy",
    "strategy_names",
    "check_strategy",
    "stepwise_rules",
    "review_grant",
]


@dataclass
class StrategyState:
    """What a strategy sees at the end of a step; arrays over its runs.

    Attributes
    ----------
    step : int
        The step just played (1-based).
    level : ndarray of int
        The level played this step (1..5).
    mean_trust : ndarray of float
        ``m``: mean trust over the active pairs, after this step's update and exits.
    success : ndarray of bool
        Whether this step's joint project succeeded.
    fail_streak : ndarray of int
        Consecutive failures up to and including this step.
    climb_count : ndarray of int
        Strategy-owned counter (stepwise: consecutive steps ready to climb). Update in place.
    funded : ndarray of bool
        Whether the funder still pays. Update in place.
    cumulative_benefit : ndarray of float
        Benefit gathered so far.
    params : mapping of str to ndarray
        The runs' parameters (MODEL.md names), one value per run.
    promised : ndarray of float, optional
        The benefit the grant's required rungs promise over the deadline (the strategy's ``promised``,
        fixed at set-up), which the ``"scaled_target"`` review scales.
    """

    step: int
    level: np.ndarray
    mean_trust: np.ndarray
    success: np.ndarray
    fail_streak: np.ndarray
    climb_count: np.ndarray
    funded: np.ndarray
    cumulative_benefit: np.ndarray
    params: Mapping[str, np.ndarray]
    promised: np.ndarray | None = None


StrategyFn = Callable[[StrategyState], np.ndarray]


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: its rule, where it starts, whether a funder pays, and what its grant promises."""

    name: str
    rule: StrategyFn
    start_level: Callable[[Mapping[str, np.ndarray]], np.ndarray]
    funded: bool
    doc: str
    promised: Callable[[Mapping[str, np.ndarray]], np.ndarray]


_REGISTRY: dict[str, Strategy] = {}


def register(
    name: str,
    *,
    start_level: int | str | Callable[[Mapping[str, np.ndarray]], np.ndarray] = 1,
    funded: bool = False,
    replace: bool = False,
    promised: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None,
) -> Callable[[StrategyFn], StrategyFn]:
    """Register a strategy function under ``name`` (a decorator).

    Parameters
    ----------
    name : str
        The public name (``strategy=name`` everywhere).
    start_level : int, str or callable
        The level on day one: a number, the name of a parameter holding it
        (``"forced_level"``), or a function of the runs' parameters.
    funded : bool
        Whether runs start with the funder's grant.
    replace : bool
        Allow replacing an existing strategy of that name.
    promised : callable, optional
        The benefit the grant's required rungs promise over the deadline, a function of the runs'
        parameters (read by the ``"scaled_target"`` review). Default: ``deadline MULT[start level]``.
    """
    if not name.isidentifier():
        raise ValueError(f"strategy name {name!r} must be an identifier")

    if callable(start_level):
        start = start_level
    elif isinstance(start_level, str):
        def start(p, _key=start_level):
            return np.asarray(p[_key], dtype=np.int64)
    else:
        if not 1 <= int(start_level) <= N_LEVELS:
            raise ValueError(f"start_level = {start_level!r} is out of range (allowed: 1..{N_LEVELS})")

        def start(p, _lvl=int(start_level)):
            return np.full(len(p["n_orgs"]), _lvl, dtype=np.int64)

    if promised is None:
        def promised(p, _start=start):
            return rules.promised_benefit(p["deadline"], _start(p))

    def deco(fn: StrategyFn) -> StrategyFn:
        if name in _REGISTRY and not replace:
            raise ValueError(f"strategy {name!r} is already registered (pass replace=True to replace it)")
        _REGISTRY[name] = Strategy(name, fn, start, funded, (fn.__doc__ or "").strip(), promised)
        return fn

    return deco


def unregister(name: str) -> None:
    """Remove a registered strategy (for tests and notebooks)."""
    _REGISTRY.pop(name, None)


def strategy_names() -> list[str]:
    """Names of the registered strategies."""
    return list(_REGISTRY)


def check_strategy(name: object) -> None:
    """Raise a ParamError naming the unknown strategy and the closest registered one."""
    if isinstance(name, str) and name in _REGISTRY:
        return
    hint = did_you_mean(name, _REGISTRY)
    raise ParamError(f"strategy = {name!r} is not a registered strategy{hint} (allowed: {', '.join(_REGISTRY)})")


def get_strategy(name: str) -> Strategy:
    check_strategy(name)
    return _REGISTRY[name]


# --- shared pieces -----------------------------------------------------------


def stepwise_rules(s: StrategyState, rows: np.ndarray | None = None) -> np.ndarray:
    """MODEL.md's stepwise rules: the next level of ``rows`` (all runs if None).

    Step back one level (never below 1) after ``retreat_after`` consecutive
    failures or when trust falls below the current need minus the margin;
    otherwise count consecutive steps with trust at least the next level's
    need plus the margin, and climb when the count reaches
    ``climb_patience``. A run that steps back does not climb and its count
    restarts.
    """
    p = s.params
    level = s.level
    if rows is None:
        rows = np.ones(level.shape, dtype=bool)
    margin = p["climb_margin"]
    back = rows & (level > 1) & (
        (s.fail_streak >= p["retreat_after"]) | (s.mean_trust < NEED[level] - margin)
    )
    ready = rows & ~back & (s.mean_trust >= NEXT_NEED[level] + margin)
    count = np.where(ready, s.climb_count + 1, 0)
    climb = ready & (count >= p["climb_patience"])
    count[climb] = 0
    s.climb_count[rows] = count[rows]
    return level - back + climb


def review_grant(s: StrategyState, *, deadline_review: bool) -> None:
    """End grants: at the deadline if the benefit target was missed, and at ``grant_term``.

    The target is the run's ``review`` variant's (:func:`sim.variants.review_target`): ``benefit_target``
    under ``"fixed_target"``, ``review_share * promised`` under ``"scaled_target"``.
    """
    p = s.params
    ends = s.step >= p["grant_term"]
    if deadline_review:
        due = s.step == p["deadline"]
        if np.any(due):
            ends |= due & (s.cumulative_benefit < review_target(s))
    s.funded[s.funded & ends] = False


# --- the five strategies of MODEL.md ----------------------------------------


@register("stepwise", start_level=1)
def stepwise(s: StrategyState) -> np.ndarray:
    """Start at networking; climb one rung once trust has held above the next need; step back after setbacks."""
    return stepwise_rules(s)


@register("funder_forced", start_level="forced_level", funded=True)
def funder_forced(s: StrategyState) -> np.ndarray:
    """The grant requires forced_level from day one; held while funded, reviewed at the deadline; then stepwise."""
    review_grant(s, deadline_review=True)
    return np.where(s.funded, s.level, stepwise_rules(s, ~s.funded))


@register("funder_schedule", start_level=1, funded=True,
          promised=lambda p: rules.promised_benefit(p["deadline"], 1, p["schedule_interval"]))
def funder_schedule(s: StrategyState) -> np.ndarray:
    """Climb one rung every schedule_interval steps while funded, whatever the trust; then stepwise."""
    review_grant(s, deadline_review=True)
    due = s.funded & (s.step % s.params["schedule_interval"] == 0)
    scheduled = np.minimum(s.level + due, N_LEVELS)
    return np.where(s.funded, scheduled, stepwise_rules(s, ~s.funded))


@register("fixed", start_level="fixed_level")
def fixed(s: StrategyState) -> np.ndarray:
    """Hold fixed_level for ever (a baseline)."""
    return np.asarray(s.params["fixed_level"], dtype=np.int64).copy()


@register("funder_patient", start_level=1, funded=True)
def funder_patient(s: StrategyState) -> np.ndarray:
    """The stepwise rules, with a grant until grant_term and no deadline review."""
    review_grant(s, deadline_review=False)
    return stepwise_rules(s)
