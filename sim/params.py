"""The parameter vocabulary: one typed, validated home for every parameter.

Every name here is public: the same in the Python API, the Mesa model's keyword
arguments, experiment specs, ``--set name=value`` on the command line, tables
and plots. Each field carries its default, its allowed range and its meaning in
the dataclass metadata; everything else (validation, ``trustladder params``,
the CLI's help, the docs table) is read from there.

The defaults are MODEL.md's, plus Model 5's rule variants and their
constants (``docs/ODD.md``). The five variant parameters (``dissolution``,
``membership``, ``capacity_rule``, ``review``, ``payoffs``) name registered
rules (:mod:`sim.variants`); :data:`sim.variants.REFERENCE_VARIANTS` chooses
MODEL.md's. The constants of the ``"decision"`` dissolution rule are
calibrated against the survival of funded community coalitions (see
``docs/calibration.md``). MODEL.md's reference values of the constants Model 4
had calibrated are kept in :data:`REFERENCE_DEFAULTS`.

Validation happens once, here, by one range check (:func:`check_value` for one
value, :func:`check_params` for a batch in which every run may have its own
value of any parameter), and so do the checks of seeds (:func:`check_seed`,
:func:`check_seeds`). :func:`check_params` keeps a value shared by every run as
one number; :func:`chunk_params` spreads it over a chunk of runs only when the
chunk is run, so a batch of millions of runs costs no memory per parameter.
The engine and the Mesa model take what these return and never re-validate or
rename.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .errors import ParamError, did_you_mean
from .strategies import check_strategy, strategy_names
from .variants import check_variant, variant_names

__all__ = [
    "Params",
    "ParamError",
    "ParamSpec",
    "PARAMETERS",
    "param_field",
    "vocabulary",
    "REFERENCE_DEFAULTS",
    "INT_PARAMS",
    "FLOAT_PARAMS",
    "SEED_RANGE",
    "param_names",
    "check_name",
    "check_value",
    "check_params",
    "chunk_params",
    "batch_params",
    "check_seed",
    "check_seeds",
    "coerce_value",
    "check_choice",
    "choice_names",
    "STR_PARAMS",
    "did_you_mean",
]

#: Seeds (a root seed, or a run's own) are whole numbers in this range.
SEED_RANGE = "0..2**64-1"
_SEED_END = 2**64


def param_field(default: Any, low: float | None, high: float | None, meaning: str, unit: str = "", *,
                choices: Callable[[], Sequence[str]] | None = None, open_low: bool = False) -> Any:
    """A dataclass field of a parameter vocabulary: its default, allowed range and meaning (read by :func:`vocabulary`).

    Parameters
    ----------
    default : Any
        The default value.
    low, high : float or None
        The inclusive range of a number (None for a string parameter).
    meaning, unit : str
        What it is, and its unit.
    choices : callable, optional
        A string parameter's allowed names, read when a value is checked (so a registry may grow).
    open_low : bool
        ``low`` itself is not allowed (the range is ``> low``).
    """
    return field(default=default, metadata={"low": low, "high": high, "meaning": meaning, "unit": unit,
                                            "choices": choices, "open_low": open_low})


_p = param_field


@dataclass(frozen=True)
class Params:
    """The parameters of one run (the vocabulary of docs/ODD.md; ``trustladder params`` lists them).

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
    #: A string parameter's allowed names (None: a strategy or a rule variant, see :func:`choice_names`).
    choices: Callable[[], Sequence[str]] | None = None
    #: ``low`` itself is not allowed.
    open_low: bool = False

    def names(self) -> list[str]:
        """A string parameter's allowed values."""
        return list(self.choices()) if self.choices is not None else choice_names(self.name)

    def range_text(self) -> str:
        """The allowed values as text: ``"2..64"``, ``">= 0"``, ``"> 0"``, or the registered choices."""
        if self.kind is str:
            return "one of " + ", ".join(self.names())
        if self.high == math.inf:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        return f"{self.low:g}..{self.high:g}"


def vocabulary(cls: type) -> dict[str, ParamSpec]:
    """The :class:`ParamSpec` of each field of a parameter dataclass (declared with :func:`param_field`)."""
    return {
        f.name: ParamSpec(
            f.name,
            {"int": int, "float": float, "str": str}[f.type] if isinstance(f.type, str) else f.type,
            f.default if f.default is not MISSING else None,
            f.metadata["low"],
            f.metadata["high"],
            f.metadata["meaning"],
            f.metadata["unit"],
            f.metadata.get("choices"),
            f.metadata.get("open_low", False),
        )
        for f in fields(cls)
    }


PARAMETERS: dict[str, ParamSpec] = vocabulary(Params)
#: The specification's reference values of the constants calibrated here (docs/calibration.md).
REFERENCE_DEFAULTS: dict[str, float] = {"exit_base": 0.007, "exit_gap": 0.3, "identity_weight": 0.005, "quorum": 0.5}
INT_PARAMS = tuple(n for n, s in PARAMETERS.items() if s.kind is int)
FLOAT_PARAMS = tuple(n for n, s in PARAMETERS.items() if s.kind is float)
#: Parameters that name a registered choice (a strategy or a rule variant): categorical factors of a sweep.
STR_PARAMS = tuple(n for n, s in PARAMETERS.items() if s.kind is str)


def choice_names(name: str) -> list[str]:
    """The allowed values of a string parameter: registered strategies, or a kind's registered variants."""
    if name == "strategy":
        return strategy_names()
    return variant_names(name)


def check_choice(name: str, value: Any, spec: ParamSpec | None = None) -> None:
    """Raise a ParamError unless ``value`` is a registered choice of the string parameter ``name``.

    ``spec`` (a parameter of another vocabulary, e.g. the community's) gives the choices; else ``name`` is a
    strategy or a rule variant.
    """
    if spec is not None and spec.choices is not None:
        allowed = spec.names()
        if not isinstance(value, str) or value not in allowed:
            raise ParamError(f"{name} = {_shown(value)} is not allowed{did_you_mean(value, allowed)} "
                             f"(allowed: {spec.range_text()})")
        return
    if name == "strategy":
        check_strategy(value)
        return
    check_variant(name, value)


def param_names() -> list[str]:
    """The names of the vocabulary, in the specification's order."""
    return list(PARAMETERS)


def check_name(name: str, specs: Mapping[str, ParamSpec] | None = None) -> ParamSpec:
    """Return the spec of ``name`` in ``specs`` (default :data:`PARAMETERS`) or raise a ParamError suggesting the
    closest name."""
    specs = PARAMETERS if specs is None else specs
    try:
        return specs[name]
    except (KeyError, TypeError):
        hint = did_you_mean(name, specs)
        raise ParamError(f"unknown parameter {name!r}{hint} (known: {', '.join(specs)}; "
                         "`trustladder params` lists them with their ranges)") from None


# --- the one range check ---------------------------------------------------------------------


def _shown(value: Any) -> str:
    """``repr`` of a value for a message, shortened when it runs to hundreds of digits."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text)} characters)"


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:  # a Python int beyond float's range
        return math.inf if value > 0 else -math.inf


def _checked_values(spec: ParamSpec, value: Any, arr: np.ndarray) -> np.ndarray:
    """``arr`` (``value`` as an array: one number, or one per run) checked against ``spec``, in its dtype.

    Raises a ParamError naming the parameter, the first bad value (and its
    run, when there is one value per run) and the allowed range.
    """
    name, per_run = spec.name, arr.ndim > 0
    flat = arr.reshape(-1)

    def fail(i: int, what: str) -> ParamError:
        where = f" (run {i})" if per_run else ""
        shown = flat[i] if per_run else value
        return ParamError(f"{name} = {_shown(shown)}{where} {what} (allowed: {spec.range_text()})")

    if spec.kind is str:
        seen: set[str] = set()
        for v in flat.tolist():
            key = v if isinstance(v, str) else repr(v)
            if key not in seen:
                seen.add(key)
                check_choice(name, v, spec)
        return arr.astype(object)
    if arr.dtype.kind == "O":  # Python ints beyond 64 bits, or numbers mixed with other things
        for i, v in enumerate(flat):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise fail(i, "is not a number")
        nums = np.array([_as_float(v) for v in flat], dtype=np.float64).reshape(arr.shape)
    elif arr.dtype.kind in "iuf":
        nums = arr
    else:  # booleans, text, ...
        raise fail(0, "is not a number")
    fraction = spec.kind is int and nums.dtype.kind == "f"
    with np.errstate(invalid="ignore"):
        above = nums > spec.low if spec.open_low else nums >= spec.low
        bad = ~(above & (nums <= spec.high))  # NaN is out of range
        if fraction:
            bad |= nums != np.round(nums)
    if bad.any():
        i = int(np.argmax(bad.reshape(-1)))
        v = nums.reshape(-1)[i]
        raise fail(i, "must be a whole number" if fraction and spec.low <= v <= spec.high else "is out of range")
    return nums.astype(np.int64 if spec.kind is int else np.float64)


def check_value(name: str, value: Any, specs: Mapping[str, ParamSpec] | None = None) -> None:
    """Raise a ParamError naming the parameter, the value and the allowed range (one run's value).

    ``specs`` is the vocabulary (default :data:`PARAMETERS`).
    """
    spec = check_name(name, specs)
    if type(value) in (int, float):  # the usual case, read directly (exact: a Python int too large is an object)
        one = np.asarray(value)
    else:  # one value, whatever it is (a list is not a number here, nor one per run)
        one = np.empty((), dtype=object)
        one[()] = value
    _checked_values(spec, value, one)


def coerce_value(name: str, text: str, specs: Mapping[str, ParamSpec] | None = None) -> Any:
    """Turn the text of ``--set name=value`` into the parameter's type, checked (``specs``: the vocabulary)."""
    spec = check_name(name, specs)
    if spec.kind is str:
        value: Any = text
    else:
        try:
            value = float(text)
        except ValueError:
            raise ParamError(f"{name} = {text!r} is not a number (allowed: {spec.range_text()})") from None
        if spec.kind is int and value.is_integer():
            value = int(value)
    check_value(name, value, specs)
    return value


def _check_n_runs(n_runs: Any) -> int:
    if isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
        raise ParamError(f"n_runs = {n_runs!r} must be a whole number >= 1")
    return int(n_runs)


def _as_array(value: Any, dtype: type | None) -> np.ndarray:
    """``value`` as an array; a list is read item by item when NumPy would blur its items' kinds.

    NumPy turns ``[6, True]`` into integers and ``[0.5, "half"]`` into text;
    read as objects, the range check names the boolean, or ``"half"``.
    """
    arr = np.asarray(value, dtype=dtype)
    if dtype is None and arr.ndim and not hasattr(value, "dtype"):
        if arr.dtype.kind not in "iuf" or any(isinstance(v, (bool, np.bool_)) for v in value):
            arr = np.asarray(value, dtype=object)
    return arr


def check_params(n_runs: int, params: Mapping[str, Any],
                 specs: Mapping[str, ParamSpec] | None = None) -> dict[str, np.ndarray]:
    """Validate a batch's parameters without spreading them over the runs.

    Each value may be a scalar (shared by every run) or a sequence of length
    ``n_runs`` (one value per run). Missing names take their defaults.
    ``specs`` is the vocabulary (default :data:`PARAMETERS`; the community
    model's is :data:`sim.community_params.COMMUNITY_VOCABULARY`).

    Returns
    -------
    dict of str to ndarray
        Every parameter: a 0-d array for a value shared by every run, else an
        array of ``n_runs``; int64 for whole-number parameters, float64 for
        real ones, object (str) for ``strategy``. :func:`chunk_params` gives a
        chunk's rows.
    """
    n_runs = _check_n_runs(n_runs)
    specs = PARAMETERS if specs is None else specs
    for name in params:
        check_name(name, specs)
    out: dict[str, np.ndarray] = {}
    for name, spec in specs.items():
        value = params.get(name, spec.default)
        try:
            arr = _as_array(value, object if spec.kind is str else None)
        except ValueError:  # a ragged list
            raise ParamError(f"{name} = {_shown(value)} is not one value, nor one value per run") from None
        if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n_runs):
            raise ParamError(f"{name}: got {arr.shape[0] if arr.ndim == 1 else arr.shape} values for {n_runs} runs")
        out[name] = _checked_values(spec, value, arr)
    return out


def chunk_params(checked: Mapping[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """The parameters of runs ``start`` .. ``stop - 1`` of a batch checked by :func:`check_params`.

    Each is an array of ``stop - start`` values: a shared value repeated, a
    per-run one sliced.
    """
    n = stop - start
    return {name: v[start:stop] if v.ndim else np.broadcast_to(v, (n,)).copy() for name, v in checked.items()}


def batch_params(n_runs: int, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate a batch's parameters and spread each over an array of ``n_runs``.

    Each value may be a scalar (shared by every run) or a sequence of length
    ``n_runs`` (one value per run). Missing names take their defaults.
    Returns a dict name -> array: int64 for whole-number parameters, float64
    for real ones, object (str) for ``strategy``. (A large batch is better
    checked with :func:`check_params` and run chunk by chunk.)
    """
    return chunk_params(check_params(n_runs, params), 0, _check_n_runs(n_runs))


# --- seeds -------------------------------------------------------------------------------------


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed (a root seed, or one run's own) as a Python int, checked.

    Parameters
    ----------
    seed : int or numpy integer
        A whole number in 0..2**64-1. Floats are refused, even whole ones:
        above 2**53 a float cannot hold every seed.
    name : str
        The field named in the error.

    Raises
    ------
    ParamError
        Naming the field, the value and the range.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < _SEED_END:
        raise ParamError(f"{name} = {_shown(seed)} must be a whole number in {SEED_RANGE}")
    return int(seed)


def check_seeds(seeds: Any, name: str = "seeds") -> np.ndarray:
    """Each run's own seed, as a uint64 array, checked.

    Parameters
    ----------
    seeds : sequence of int
        Any non-empty sequence of Python or NumPy integers in 0..2**64-1 (a
        list, a tuple, a NumPy array, a pandas Series such as
        ``results.summary["seed"]``). A list is read item by item, never
        through a float: NumPy turns a list of Python ints mixing seeds below
        and above 2**63 into float64, which loses their last digits.
    name : str
        The field named in the error.

    Raises
    ------
    ParamError
        Naming the first bad seed, its position and the range.
    """
    empty = ParamError(f"{name} must be a non-empty 1-D sequence of whole numbers in {SEED_RANGE}")
    if isinstance(seeds, (str, bytes, Mapping)):
        raise empty
    if hasattr(seeds, "dtype"):  # a NumPy array, a pandas Series or Index: read by its dtype
        arr = np.asarray(seeds)
        if arr.ndim != 1 or arr.size == 0:
            raise empty
        if arr.dtype.kind == "u":
            return arr.astype(np.uint64)
        if arr.dtype.kind == "i":
            negative = arr < 0
            if negative.any():
                i = int(np.argmax(negative))
                check_seed(arr[i], f"{name}[{i}]")
            return arr.astype(np.uint64)
        if arr.dtype.kind == "f":
            raise ParamError(f"{name} are floating-point numbers ({arr.dtype}), which cannot hold every seed above "
                             f"2**53; give whole numbers in {SEED_RANGE} (e.g. results.seeds)")
        items = arr.tolist()  # object: Python ints of any size, or things that are not seeds
    else:
        try:
            items = list(seeds)
        except TypeError:
            raise empty from None
    if not items:
        raise empty
    return np.array([check_seed(s, f"{name}[{i}]") for i, s in enumerate(items)], dtype=np.uint64)
