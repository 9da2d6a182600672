"""The parameter vocabulary: one typed, validated home for every parameter.

Every name here is public: the same in the Python API, the Mesa model's keyword
arguments, experiment specs, ``--set name=value`` on the command line, tables
and plots. Each field carries its default, its allowed range and its meaning in
the dataclass metadata; everything else (validation, the CLI's help, the docs
table) is read from there.

The defaults are MODEL.md's, plus Model 5's rule variants and their
constants (``docs/ODD.md``). The five variant parameters (``dissolution``,
``membership``, ``capacity_rule``, ``review``, ``payoffs``) name registered
rules (:mod:`sim.variants`); :data:`sim.variants.REFERENCE_VARIANTS` chooses
MODEL.md's. The constants of the ``"decision"`` dissolution rule are
calibrated against the survival of funded community coalitions (see
``docs/calibration.md``). MODEL.md's reference values of the constants Model 4
had calibrated are kept in :data:`REFERENCE_DEFAULTS`.

Validation happens once, here. :class:`Params` checks one run's values;
:func:`batch_params` checks a batch in which every run may have its own value of
any parameter. The engine and the Mesa model take what these return and never
re-validate or rename.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import numpy as np

__all__ = [
    "Params",
    "ParamError",
    "PARAMETERS",
    "INT_PARAMS",
    "FLOAT_PARAMS",
    "param_names",
    "batch_params",
    "check_name",
    "check_choice",
    "choice_names",
    "coerce_value",
    "STR_PARAMS",
]


class ParamError(ValueError):
    """A parameter name or value outside the vocabulary or its range."""


def _p(default: Any, low: float | None, high: float | None, meaning: str, unit: str = "") -> Any:
    return field(default=default, metadata={"low": low, "high": high, "meaning": meaning, "unit": unit})


@dataclass(frozen=True)
class Params:
    """The parameters of one run (MODEL.md's vocabulary).

    Ranges are inclusive. ``strategy`` must name a registered strategy
    (see :mod:`sim.strategies`).
    """

    n_orgs: int = _p(6, 2, 64, "organizations in the partnership", "organizations")
    n_steps: int = _p(120, 1, 10000, "months simulated", "months")
    strategy: str = _p("stepwise", None, None, "who sets the level: a registered strategy")
    initial_trust: float = _p(0.3, 0.0, 1.0, "base initial trust between partners")
    trust_noise: float = _p(0.05, 0.0, 0.5, "spread (sd) of initial trust")
    cultural_distance: float = _p(0.5, 0.0, 1.0, "distance between the cultural groups")
    prejudice: float = _p(0.3, 0.0, 1.0, "initial trust lost per unit of cultural distance")
    cultural_learning: float = _p(
        0.01, 0.0, 1.0, "share of perceived distance lost per step of working together (level >= 2)", "1/month"
    )
    communication: float = _p(0.5, 0.0, 1.0, "mean communication skill")
    ground_rules: float = _p(0.0, 0.0, 1.0, "how far agreed procedures cut miscommunication")
    leadership: float = _p(0.5, 0.0, 1.0, "mean leadership: softens trust loss and exit after setbacks")
    individualism: float = _p(0.3, 0.0, 1.0, "mean belief that going alone pays better")
    identity: float = _p(0.5, 0.0, 1.0, "mean attachment to own identity: exit pressure at high levels")
    gain_rate: float = _p(0.10, 0.0, 1.0, "trust gained after a joint success, per unit of stakes")
    loss_rate: float = _p(0.25, 0.0, 1.0, "trust lost after a joint failure, per unit of stakes")
    free_rider_penalty: float = _p(
        0.05, 0.0, 1.0, "trust lost in a partner seen not doing its share, per unit of stakes"
    )
    celebration: float = _p(0.2, 0.0, 1.0, "extra trust gain from celebrating a success")
    capacity_growth: float = _p(0.02, 0.0, 1.0, "capacity gained per success at level >= 4")
    climb_margin: float = _p(0.05, 0.0, 1.0, "stepwise: trust above the next level's need before climbing")
    climb_patience: int = _p(6, 1, 120, "stepwise: consecutive steps above it before climbing", "months")
    retreat_after: int = _p(3, 1, 120, "stepwise: consecutive failures before stepping back", "months")
    fixed_level: int = _p(4, 1, 5, "fixed: the level held")
    forced_level: int = _p(4, 1, 5, "funder_forced: the level the grant requires")
    grant: float = _p(0.5, 0.0, 1.0, "share of the level's cost the funder pays")
    deadline: int = _p(24, 1, 10000, "funder: steps until the grant is reviewed", "months")
    benefit_target: float = _p(
        10.0, 0.0, math.inf, "funder: cumulative benefit needed at the deadline to keep the grant"
    )
    schedule_interval: int = _p(6, 1, 10000, "funder_schedule: steps between forced climbs", "months")
    grant_term: int = _p(36, 1, 10000, "funder: steps after which every grant ends", "months")
    quorum: float = _p(
        0.5, 0.0, 1.0, "share of the founding members below which the partnership dissolves (at least 2 remain)"
    )
    trait_spread: float = _p(0.1, 0.0, 0.5, "spread (sd) of the organizations' traits around their means")
    miscommunication: float = _p(
        0.01, 0.0, 1.0, "chance that one pair misunderstands in a step, at zero communication skill, no ground rules"
    )
    misperception: float = _p(
        0.15, 0.0, 1.0, "chance of misjudging a partner's contribution at zero communication skill"
    )
    contribution_bias: float = _p(
        2.0, -10.0, 10.0, "propensity to contribute when trust meets the level's need", "log-odds"
    )
    success_bias: float = _p(
        1.5, -10.0, 10.0, "log-odds of success when trust meets the level's need", "log-odds"
    )
    success_slope: float = _p(8.0, 0.0, 50.0, "how sharply success depends on trust above or below the need")
    exit_base: float = _p(
        0.007, 0.0, 1.0, "monthly chance a member leaves for reasons outside the partnership", "1/month"
    )
    exit_gap: float = _p(0.3, 0.0, 10.0, "exit pressure per unit of trust below the level's need")
    identity_weight: float = _p(0.005, 0.0, 1.0, "exit pressure from identity threat at levels above cooperation")
    free_riders: int = _p(
        0, 0, 64, "members who never do their share: founding organizations 1..free_riders never contribute",
        "organizations"
    )
    # --- Model 5: rule variants (sim.variants) and their constants ---
    dissolution: str = _p("decision", None, None, "how a partnership ends: a registered dissolution rule")
    membership: str = _p("recruiting", None, None, "whether vacancies left by leavers are filled: a registered rule")
    capacity_rule: str = _p("saturating", None, None, "how capacity grows after successes at level >= 4")
    review: str = _p("scaled_target", None, None, "the funder's deadline target: a registered review rule")
    payoffs: str = _p("weighed", None, None, "whether members weigh their recent net payoff: a registered rule")
    recruit_rate: float = _p(0.2, 0.0, 1.0, "recruiting: chance a vacancy is filled by a newcomer in a step",
                             "1/month")
    memory: float = _p(
        6.0, 1.0, 120.0, "horizon of the moving averages of members' net payoffs and of failures (weight 1/memory)",
        "months"
    )
    payoff_weight: float = _p(
        2.0, 0.0, 20.0, "weighed: how strongly a member with a negative recent net payoff holds back, per unit of "
        "shortfall and of (0.5 + individualism)", "log-odds"
    )
    exit_payoff: float = _p(
        0.05, 0.0, 1.0, "weighed: exit pressure at full payoff shortfall, per unit of (0.5 + individualism)",
        "1/month"
    )
    dissolve_base: float = _p(
        0.0045, 0.0, 1.0, "decision: hazard of ending for reasons outside the partnership's functioning "
        "(calibrated, docs/calibration.md)", "1/month"
    )
    dissolve_trust: float = _p(5.0, 0.0, 50.0, "decision: hazard log-multiplier per unit of mean trust below the "
                               "rung's need")
    dissolve_fail: float = _p(2.0, 0.0, 50.0, "decision: hazard log-multiplier per unit of recent failure rate "
                              "(not identified by the patterns: the middle of what they allow, docs/calibration.md)")
    dissolve_payoff: float = _p(2.0, 0.0, 50.0, "decision: hazard log-multiplier per unit of members' mean payoff "
                                "shortfall")
    dissolve_leadership: float = _p(
        1.7, 0.0, 20.0, "decision: hazard log-divisor per unit of mean leadership above 0.5 (calibrated, "
        "docs/calibration.md)"
    )
    capacity_ceiling: float = _p(2.0, 1.0, 100.0, "saturating: the capacity an organization can reach")
    review_share: float = _p(
        0.5, 0.0, 10.0, "scaled_target: share of the benefit the required rungs promise needed at the deadline"
    )

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            check_value(name, value)

    def replace(self, **changes: Any) -> Params:
        """A copy with some values changed (validated)."""
        unknown = [k for k in changes if k not in PARAMETERS]
        if unknown:
            check_name(unknown[0])
        return Params(**{**asdict(self), **changes})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ParamSpec:
    """What the vocabulary says of one parameter."""

    name: str
    kind: type
    default: Any
    low: float | None
    high: float | None
    meaning: str
    unit: str

    def range_text(self) -> str:
        if self.kind is str:
            return "one of " + ", ".join(choice_names(self.name))
        if self.high == math.inf:
            return f">= {self.low:g}"
        return f"{self.low:g}..{self.high:g}"


PARAMETERS: dict[str, ParamSpec] = {
    f.name: ParamSpec(
        f.name,
        {"int": int, "float": float, "str": str}[f.type] if isinstance(f.type, str) else f.type,
        f.default if f.default is not MISSING else None,
        f.metadata["low"],
        f.metadata["high"],
        f.metadata["meaning"],
        f.metadata["unit"],
    )
    for f in fields(Params)
}
#: MODEL.md's reference values of the constants calibrated here (docs/calibration.md).
REFERENCE_DEFAULTS: dict[str, float] = {"exit_base": 0.007, "exit_gap": 0.3, "identity_weight": 0.005, "quorum": 0.5}
INT_PARAMS = tuple(n for n, s in PARAMETERS.items() if s.kind is int)
FLOAT_PARAMS = tuple(n for n, s in PARAMETERS.items() if s.kind is float)
#: Parameters that name a registered choice (a strategy or a rule variant): categorical factors of a sweep.
STR_PARAMS = tuple(n for n, s in PARAMETERS.items() if s.kind is str)


def choice_names(name: str) -> list[str]:
    """The allowed values of a string parameter: registered strategies, or a kind's registered variants."""
    if name == "strategy":
        from .strategies import strategy_names

        return strategy_names()
    from .variants import variant_names

    return variant_names(name)


def check_choice(name: str, value: Any) -> None:
    """Raise a ParamError unless ``value`` is a registered choice of the string parameter ``name``."""
    if name == "strategy":
        from .strategies import check_strategy

        check_strategy(value)
        return
    from .variants import check_variant

    check_variant(name, value)


def param_names() -> list[str]:
    """The names of the vocabulary, in MODEL.md's order."""
    return list(PARAMETERS)


def did_you_mean(name: object, choices: Any) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to ``name``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_name(name: str) -> ParamSpec:
    """Return the spec of ``name`` or raise a ParamError suggesting the closest name."""
    try:
        return PARAMETERS[name]
    except KeyError:
        hint = did_you_mean(name, PARAMETERS)
        raise ParamError(f"unknown parameter {name!r}{hint} (known: {', '.join(PARAMETERS)})") from None


def check_value(name: str, value: Any) -> None:
    """Raise a ParamError naming the parameter, the value and the allowed range."""
    spec = check_name(name)
    if spec.kind is str:
        check_choice(name, value)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParamError(f"{name} = {value!r} is not a number (allowed: {spec.range_text()})")
    if spec.kind is int and float(value) != int(value):
        raise ParamError(f"{name} = {value!r} must be a whole number (allowed: {spec.range_text()})")
    if not (spec.low <= value <= spec.high) or value != value:
        raise ParamError(f"{name} = {value!r} is out of range (allowed: {spec.range_text()})")


def coerce_value(name: str, text: str) -> Any:
    """Turn the text of ``--set name=value`` into the parameter's type, checked."""
    spec = check_name(name)
    if spec.kind is str:
        value: Any = text
    else:
        try:
            value = float(text)
        except ValueError:
            raise ParamError(f"{name} = {text!r} is not a number (allowed: {spec.range_text()})") from None
        if spec.kind is int and value == int(value):
            value = int(value)
    check_value(name, value)
    return value


def batch_params(n_runs: int, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate a batch's parameters and broadcast each to an array of ``n_runs``.

    Each value may be a scalar (shared by every run) or a sequence of length
    ``n_runs`` (one value per run). Missing names take their defaults.
    Returns a dict name -> array: int64 for whole-number parameters, float64
    for real ones, object (str) for ``strategy``.
    """
    if not isinstance(n_runs, (int, np.integer)) or isinstance(n_runs, bool) or n_runs < 1:
        raise ParamError(f"n_runs = {n_runs!r} must be a whole number >= 1")
    for name in params:
        check_name(name)
    out: dict[str, np.ndarray] = {}
    for name, spec in PARAMETERS.items():
        value = params.get(name, spec.default)
        arr = np.asarray(value)
        if arr.ndim == 0:
            arr = np.broadcast_to(arr, (n_runs,))
        elif arr.shape != (n_runs,):
            raise ParamError(f"{name}: got {arr.shape[0] if arr.ndim == 1 else arr.shape} values for {n_runs} runs")
        if spec.kind is str:
            for choice in dict.fromkeys(arr.reshape(-1).tolist()):
                check_choice(name, choice)
            out[name] = arr.astype(object)
            continue
        if arr.dtype.kind not in "iuf" or arr.dtype.kind == "b":
            first = arr.reshape(-1)[0]
            raise ParamError(f"{name} = {first!r} is not a number (allowed: {spec.range_text()})")
        bad = ~((arr >= spec.low) & (arr <= spec.high))
        if spec.kind is int:
            bad |= arr != np.round(arr)
        if bad.any():
            i = int(np.argmax(bad))
            in_range = bool(spec.low <= arr[i] <= spec.high)
            what = "must be a whole number" if spec.kind is int and in_range else "is out of range"
            where = f" (run {i})" if np.ndim(value) else ""
            raise ParamError(f"{name} = {arr[i].item()!r}{where} {what} (allowed: {spec.range_text()})")
        out[name] = arr.astype(np.int64 if spec.kind is int else np.float64)
    return out
