"""Experiment specs: a TOML file that says which runs a sweep makes.

A spec is read once, checked completely (every problem is reported, each with
the file, the key and the allowed values) and turned into a frozen
:class:`Spec`. Parameter names and values are checked by :mod:`sim.params`,
the one home of the vocabulary; nothing here re-states a range.

Shape::

    name = "trust-by-deadline"
    strategies = ["stepwise", "funder_forced"]
    replicates = 1000            # per cell (point x strategy)
    n_steps = 120
    seed = 42                    # root seed of the whole sweep
    keep_series = ["mean_trust", "level"]
    save_series = false          # full per-run series as well as bands
    [base]                       # fixed parameters (MODEL.md names)
    n_orgs = 6
    [factors]                    # grid: lists; lhs/sobol/morris: {min, max}
    initial_trust = [0.1, 0.3, 0.5, 0.7, 0.9]
    deadline = [12, 24, 36, 48]
    [sampling]
    method = "grid"              # grid | lhs | sobol | morris
    [precision]                  # instead of `replicates`
    outcome = "dissolved"
    half_width = 0.02
    confidence = 0.95
    max_replicates = 5000
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import SERIES, SUMMARY_OUTCOMES
from ..params import PARAMETERS, ParamError, check_value, did_you_mean
from ..strategies import strategy_names

__all__ = [
    "Spec",
    "Factor",
    "Sampling",
    "Precision",
    "SpecError",
    "load_spec",
    "parse_spec",
    "check_spec_file",
    "METHODS",
    "TOP_KEYS",
]

METHODS = ("grid", "lhs", "sobol", "morris")
TOP_KEYS = (
    "name", "description", "strategies", "replicates", "n_steps", "seed", "keep_series", "save_series",
    "chunk_size", "base", "factors", "sampling", "precision",
)
_SAMPLING_KEYS = {
    "grid": ("method",),
    "lhs": ("method", "n", "seed", "optimization"),
    "sobol": ("method", "n", "seed", "calc_second_order", "scramble"),
    "morris": ("method", "n", "seed", "num_levels", "optimal_trajectories"),
}
_PRECISION_KEYS = ("outcome", "half_width", "confidence", "min_replicates", "max_replicates")
#: Not sweepable: set by the spec's own keys.
_RESERVED = {"strategy": "list strategies in the top-level `strategies`", "n_steps": "use the top-level `n_steps`"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
DEFAULT_KEEP = ("mean_trust", "level")
#: Bands accumulate one uint32 histogram per (cell, series, step); refuse specs whose histograms would not fit.
MAX_BAND_BYTES = 1 << 30


class SpecError(ValueError):
    """An experiment spec with one or more problems (all of them in ``problems``)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the spec:\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Factor:
    """One swept parameter: a list of values (grid) or bounds (sampled)."""

    name: str
    values: tuple | None = None  # grid
    low: float | None = None  # sampled
    high: float | None = None

    @property
    def is_int(self) -> bool:
        return PARAMETERS[self.name].kind is int

    @property
    def bounds(self) -> list[float]:
        if self.values is not None:
            return [float(min(self.values)), float(max(self.values))]
        return [float(self.low), float(self.high)]

    def to_dict(self) -> Any:
        return list(self.values) if self.values is not None else {"min": self.low, "max": self.high}


@dataclass(frozen=True)
class Sampling:
    """How the design's points are made (see :mod:`sim.sweep.design`)."""

    method: str = "grid"
    n: int | None = None
    seed: int | None = None
    calc_second_order: bool | None = None  # sobol
    scramble: bool | None = None  # sobol
    num_levels: int | None = None  # morris
    optimal_trajectories: int | None = None  # morris
    optimization: str | None = None  # lhs

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Precision:
    """Replicates added cell by cell until the outcome's CI half-width is reached (or the cap)."""

    outcome: str
    half_width: float
    confidence: float = 0.95
    min_replicates: int = 20
    max_replicates: int = 1000

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Spec:
    """A checked experiment spec."""

    name: str
    strategies: tuple[str, ...]
    factors: tuple[Factor, ...]
    sampling: Sampling
    base: dict[str, Any] = field(default_factory=dict)
    replicates: int | None = None
    precision: Precision | None = None
    n_steps: int = 120
    seed: int = 0
    keep_series: tuple[str, ...] = DEFAULT_KEEP
    save_series: bool = False
    chunk_size: int | None = None
    description: str = ""
    path: str | None = None

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in self.factors]

    def to_dict(self) -> dict[str, Any]:
        """The normalized spec (defaults filled in), as recorded in the manifest."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "strategies": list(self.strategies),
            "n_steps": self.n_steps,
            "seed": self.seed,
            "keep_series": list(self.keep_series),
            "save_series": self.save_series,
        }
        if self.precision is not None:
            out["precision"] = self.precision.to_dict()
        else:
            out["replicates"] = self.replicates
        if self.chunk_size is not None:
            out["chunk_size"] = self.chunk_size
        out["base"] = dict(self.base)
        out["factors"] = {f.name: f.to_dict() for f in self.factors}
        out["sampling"] = self.sampling.to_dict()
        return out

    def hash(self) -> str:
        """SHA-256 of what decides the runs' numbers: the normalized spec minus ``description`` and ``chunk_size``."""
        d = self.to_dict()
        d.pop("description", None)
        d.pop("chunk_size", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


class _Problems:
    def __init__(self, where: str):
        self.where = where
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{self.where}: {key}: {message}")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


_suggest = did_you_mean


def _unique_names(pr: Any, key: str, items: list[Any], allowed: list[str], what: str) -> list[str]:
    """The items of a list that must name distinct members of ``allowed``; each problem is added to ``pr``."""
    out: list[str] = []
    for i, s in enumerate(items):
        if not isinstance(s, str) or s not in allowed:
            hint = _suggest(s, allowed) if isinstance(s, str) else ""
            pr.add(f"{key}[{i}]", f"unknown {what} {s!r}{hint} (allowed: {', '.join(allowed)})")
        elif s in out:
            pr.add(f"{key}[{i}]", f"{s!r} is listed twice")
        else:
            out.append(s)
    return out


def _param_problem(name: str, value: Any) -> str | None:
    try:
        check_value(name, value)
    except ParamError as exc:
        return str(exc)
    return None


def load_spec(path: str | Path) -> Spec:
    """Read and check a spec file; raise :class:`SpecError` listing every problem."""
    data, where = _read_toml(path)
    return parse_spec(data, where=where)


def check_spec_file(path: str | Path) -> list[str]:
    """Every problem of a spec file (empty when it is valid)."""
    try:
        load_spec(path)
    except SpecError as exc:
        return exc.problems
    return []


def _read_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    p = Path(path)
    where = str(path)
    if not p.exists():
        raise SpecError([f"{where}: file not found"])
    if p.is_dir():
        raise SpecError([f"{where}: is a folder, not a spec file"])
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh), where
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([f"{where}: malformed TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise SpecError([f"{where}: not UTF-8 text: {exc}"]) from None


def parse_spec(data: dict[str, Any], where: str = "<spec>") -> Spec:
    """Check a spec given as a dict (the parsed TOML); raise :class:`SpecError` listing every problem."""
    pr = _Problems(where)
    for key in data:
        if key not in TOP_KEYS:
            pr.add(key, f"unknown key{_suggest(key, TOP_KEYS)} (allowed: {', '.join(TOP_KEYS)})")

    name = data.get("name")
    if name is None:
        pr.add("name", "missing (a short name for the experiment, e.g. name = \"trust-by-deadline\")")
    elif not isinstance(name, str) or not _NAME_RE.match(name):
        pr.add("name", f"{name!r} is not a valid name (allowed: letters, digits, '.', '_', '-'; it names the folder)")

    description = data.get("description", "")
    if not isinstance(description, str):
        pr.add("description", f"{description!r} must be a string")
        description = ""

    strategies: list[str] = []
    raw = data.get("strategies")
    known = strategy_names()
    if raw is None:
        pr.add("strategies", f"missing (a list of strategies to compare; allowed: {', '.join(known)})")
    elif not isinstance(raw, list) or not raw:
        pr.add("strategies", f"{raw!r} must be a non-empty list (allowed: {', '.join(known)})")
    else:
        strategies = _unique_names(pr, "strategies", raw, known, "strategy")

    n_steps = data.get("n_steps", PARAMETERS["n_steps"].default)
    msg = _param_problem("n_steps", n_steps)
    if msg:
        pr.add("n_steps", msg)

    seed = data.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed < 2**64:
        pr.add("seed", f"{seed!r} must be a whole number in 0..2**64-1")
        seed = 0

    keep = data.get("keep_series", list(DEFAULT_KEEP))
    keep_ok: list[str] = []
    if not isinstance(keep, list):
        pr.add("keep_series", f"{keep!r} must be a list of series names (allowed: {', '.join(SERIES)})")
    else:
        keep_ok = _unique_names(pr, "keep_series", keep, list(SERIES), "series")

    save_series = data.get("save_series", False)
    if not isinstance(save_series, bool):
        pr.add("save_series", f"{save_series!r} must be true or false")
        save_series = False

    chunk_size = data.get("chunk_size")
    if chunk_size is not None and (not _is_int(chunk_size) or chunk_size < 1):
        pr.add("chunk_size", f"{chunk_size!r} must be a whole number >= 1")
        chunk_size = None

    base = data.get("base", {})
    base_ok: dict[str, Any] = {}
    if not isinstance(base, dict):
        pr.add("base", "must be a table ([base] with name = value lines)")
        base = {}
    for key, value in base.items():
        if key in _RESERVED:
            pr.add(f"base.{key}", f"not allowed here: {_RESERVED[key]}")
        elif key not in PARAMETERS:
            pr.add(f"base.{key}", f"unknown parameter{_suggest(key, PARAMETERS)} (see MODEL.md's vocabulary)")
        else:
            msg = _param_problem(key, value)
            if msg:
                pr.add(f"base.{key}", msg)
            else:
                base_ok[key] = value

    sampling_raw = data.get("sampling", {})
    if not isinstance(sampling_raw, dict):
        pr.add("sampling", "must be a table ([sampling] with method = ...)")
        sampling_raw = {}
    method = sampling_raw.get("method", "grid")
    if method not in METHODS:
        hint = _suggest(method, METHODS) if isinstance(method, str) else ""
        pr.add("sampling.method", f"unknown method {method!r}{hint} (allowed: {', '.join(METHODS)})")
        method = None
    sampling = _parse_sampling(sampling_raw, method, seed, pr) if method else Sampling("grid")

    factors_raw = data.get("factors", {})
    factors: list[Factor] = []
    if not isinstance(factors_raw, dict):
        pr.add("factors", "must be a table ([factors] with name = [values] or name = {min = .., max = ..})")
        factors_raw = {}
    for key, value in factors_raw.items():
        f = _parse_factor(key, value, method, base_ok, pr)
        if f is not None:
            factors.append(f)
    if method in ("lhs", "sobol", "morris") and not factors_raw:
        pr.add("factors", f"sampling method {method!r} needs at least one factor with {{min, max}} bounds")

    replicates = data.get("replicates")
    precision = None
    if "precision" in data:
        precision = _parse_precision(data["precision"], pr)
        if replicates is not None:
            pr.add("replicates", "give either replicates or a [precision] table, not both")
    elif replicates is None:
        pr.add("replicates", "missing (runs per cell and strategy, a whole number >= 1; or a [precision] table)")
    elif not _is_int(replicates) or replicates < 1:
        pr.add("replicates", f"{replicates!r} must be a whole number >= 1")

    if not pr.items:
        n_points = _count_points(factors, sampling)
        n_cells = n_points * len(strategies)
        band_bytes = 4 * n_cells * int(n_steps) * sum(_n_bins(s) for s in keep_ok)
        if band_bytes > MAX_BAND_BYTES:
            pr.add("keep_series", f"bands of {keep_ok} for {n_cells} cells x {n_steps} steps would need "
                   f"{band_bytes / 2**30:.1f} GiB of histograms (limit {MAX_BAND_BYTES / 2**30:.0f} GiB): "
                   "keep fewer series (keep_series = [] keeps only the per-run table), or fewer points")

    if pr.items:
        raise SpecError(pr.items)
    return Spec(
        name=name, strategies=tuple(strategies), factors=tuple(factors), sampling=sampling, base=base_ok,
        replicates=replicates if precision is None else None, precision=precision, n_steps=int(n_steps),
        seed=int(seed), keep_series=tuple(keep_ok), save_series=save_series, chunk_size=chunk_size,
        description=description, path=where,
    )


def _n_bins(series: str) -> int:
    from .bands import binning

    return binning(series).n_bins


def _count_points(factors: list[Factor], sampling: Sampling) -> int:
    if sampling.method == "grid":
        return math.prod(len(f.values) for f in factors)
    d = len(factors)
    if sampling.method == "sobol":
        return sampling.n * (2 * d + 2 if sampling.calc_second_order else d + 2)
    if sampling.method == "morris":
        return (sampling.optimal_trajectories or sampling.n) * (d + 1)
    return sampling.n


def _parse_sampling(raw: dict[str, Any], method: str, root_seed: int, pr: _Problems) -> Sampling:
    allowed = _SAMPLING_KEYS[method]
    for key in raw:
        if key not in allowed:
            why = " (grid takes its points from the factors' lists)" if method == "grid" else ""
            pr.add(f"sampling.{key}", f"not used by method {method!r}{why} (allowed: {', '.join(allowed)})")
    if method == "grid":
        return Sampling("grid")
    n = raw.get("n")
    if n is None:
        pr.add("sampling.n", f"missing: method {method!r} needs the number of points n")
        n = 1
    elif not _is_int(n) or n < 1:
        pr.add("sampling.n", f"{n!r} must be a whole number >= 1")
        n = 1
    seed = raw.get("seed", root_seed)
    if not _is_int(seed) or not 0 <= seed < 2**32:
        pr.add("sampling.seed", f"{seed!r} must be a whole number in 0..2**32-1")
        seed = 0
    if method == "lhs":
        opt = raw.get("optimization")
        if opt is not None and opt not in ("random-cd", "lloyd"):
            pr.add("sampling.optimization", f"{opt!r} is not allowed (allowed: random-cd, lloyd)")
        return Sampling("lhs", n=n, seed=seed, optimization=opt)
    if method == "sobol":
        if n & (n - 1):
            lo = 1 << (n.bit_length() - 1)
            pr.add("sampling.n", f"{n} is not a power of two (Saltelli/Sobol sampling needs N = 2**k, "
                   f"e.g. {lo} or {lo * 2})")
        cso = raw.get("calc_second_order", True)
        if not isinstance(cso, bool):
            pr.add("sampling.calc_second_order", f"{cso!r} must be true or false")
            cso = True
        scramble = raw.get("scramble", True)
        if not isinstance(scramble, bool):
            pr.add("sampling.scramble", f"{scramble!r} must be true or false")
            scramble = True
        return Sampling("sobol", n=n, seed=seed, calc_second_order=cso, scramble=scramble)
    levels = raw.get("num_levels", 4)
    if not _is_int(levels) or levels < 2:
        pr.add("sampling.num_levels", f"{levels!r} must be a whole number >= 2 (SALib's default: 4)")
        levels = 4
    opt = raw.get("optimal_trajectories")
    if opt is not None and (not _is_int(opt) or not 2 <= opt < n):
        pr.add("sampling.optimal_trajectories", f"{opt!r} must be a whole number in 2..{n - 1} (below n)")
        opt = None
    return Sampling("morris", n=n, seed=seed, num_levels=levels, optimal_trajectories=opt)


def _parse_factor(key: str, value: Any, method: str | None, base: dict[str, Any], pr: _Problems) -> Factor | None:
    where = f"factors.{key}"
    if key in _RESERVED:
        pr.add(where, f"not a factor: {_RESERVED[key]}")
        return None
    if key not in PARAMETERS:
        pr.add(where, f"unknown parameter{_suggest(key, PARAMETERS)} (see MODEL.md's vocabulary)")
        return None
    if key in base:
        pr.add(where, "also set in [base]: a parameter is either fixed or a factor")
    spec = PARAMETERS[key]
    if isinstance(value, list):
        if method not in (None, "grid"):
            pr.add(where, f"sampling method {method!r} takes bounds {{min = .., max = ..}}, not a list")
            return None
        if not value:
            pr.add(where, "empty list: give at least one value")
            return None
        ok = True
        for i, v in enumerate(value):
            msg = _param_problem(key, v)
            if msg:
                pr.add(f"{where}[{i}]", msg)
                ok = False
        if ok and len(set(value)) != len(value):
            pr.add(where, f"{value!r} repeats a value")
            ok = False
        return Factor(key, values=tuple(value)) if ok else None
    if isinstance(value, dict):
        if method == "grid":
            pr.add(where, "grid sampling takes a list of values; {min, max} bounds need "
                   "[sampling] method = lhs, sobol or morris")
            return None
        extra = [k for k in value if k not in ("min", "max")]
        if extra:
            pr.add(where, f"unknown key(s) {', '.join(extra)} (allowed: min, max)")
        if "min" not in value or "max" not in value:
            pr.add(where, "needs both min and max")
            return None
        lo, hi = value["min"], value["max"]
        ok = True
        for label, v in (("min", lo), ("max", hi)):
            msg = _param_problem(key, v)
            if msg:
                pr.add(f"{where}.{label}", msg)
                ok = False
        if ok and not lo < hi:
            pr.add(where, f"min ({lo!r}) must be below max ({hi!r}) (allowed: {spec.range_text()})")
            ok = False
        return Factor(key, low=lo, high=hi) if ok else None
    pr.add(where, f"{value!r} must be a list of values (grid) or {{min = .., max = ..}} (lhs, sobol, morris)")
    return None


def _parse_precision(raw: Any, pr: _Problems) -> Precision | None:
    if not isinstance(raw, dict):
        pr.add("precision", "must be a table ([precision] with outcome, half_width, confidence, max_replicates)")
        return None
    for key in raw:
        if key not in _PRECISION_KEYS:
            pr.add(f"precision.{key}", f"unknown key{_suggest(key, _PRECISION_KEYS)} "
                   f"(allowed: {', '.join(_PRECISION_KEYS)})")
    ok = True
    outcome = raw.get("outcome")
    if outcome not in SUMMARY_OUTCOMES:
        pr.add("precision.outcome", f"{outcome!r} is not an outcome (allowed: {', '.join(SUMMARY_OUTCOMES)})")
        ok = False
    hw = raw.get("half_width")
    if not _is_num(hw) or not hw > 0 or not math.isfinite(hw):
        pr.add("precision.half_width", f"{hw!r} must be a number > 0 (the target half-width of the "
               "confidence interval, in the outcome's units)")
        ok = False
    conf = raw.get("confidence", 0.95)
    if not _is_num(conf) or not 0 < conf < 1:
        pr.add("precision.confidence", f"{conf!r} must be a number strictly between 0 and 1, e.g. 0.95")
        ok = False
    lo = raw.get("min_replicates", 20)
    if not _is_int(lo) or lo < 2:
        pr.add("precision.min_replicates", f"{lo!r} must be a whole number >= 2")
        ok = False
    hi = raw.get("max_replicates")
    if hi is None:
        pr.add("precision.max_replicates", "missing: the cap on replicates per cell (a whole number)")
        ok = False
    elif not _is_int(hi) or hi < 1:
        pr.add("precision.max_replicates", f"{hi!r} must be a whole number >= 1")
        ok = False
    elif _is_int(lo) and hi < lo:
        pr.add("precision.max_replicates", f"{hi!r} is below min_replicates ({lo})")
        ok = False
    if not ok:
        return None
    return Precision(outcome, float(hw), float(conf), int(lo), int(hi))
