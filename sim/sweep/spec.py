"""Experiment specs: a TOML file that says which runs a sweep makes.

A spec is read once, checked completely (every problem is reported, each with
the file, the key and the allowed values) and turned into a frozen
:class:`Spec`. Parameter names and values are checked by :mod:`sim.params`,
the one home of the vocabulary; nothing here re-states a range. The
``[sampling]`` table and the form of the factors are checked by the spec's
registered design (:mod:`sim.sweep.design`), which also gives the design's
size (:attr:`Spec.size`) by arithmetic, before anything is sampled.

Shape::

    name = "trust-by-deadline"
    model = "partnership"        # or "community" (sim.simulate_community's model; docs/sweeps.md)
    strategies = ["stepwise", "funder_forced"]
    replicates = 1000            # per cell (point x strategy)
    n_steps = 120
    seed = 42                    # root seed of the whole sweep
    crn = false                  # common random numbers: replicate r has one seed at every point and strategy
    keep_series = ["mean_trust", "level"]
    save_series = false          # full per-run series as well as bands
    [base]                       # fixed parameters (by name: docs/ODD.md, section 7)
    n_orgs = 6
    [factors]                    # grid: lists; lhs/sobol/morris: {min, max}
    initial_trust = [0.1, 0.3, 0.5, 0.7, 0.9]
    deadline = [12, 24, 36, 48]
    [sampling]
    method = "grid"              # grid | lhs | sobol | morris | a registered design
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

from ..params import PARAMETERS, ParamError, check_seed, check_value, did_you_mean
from ..strategies import strategy_names
from .bands import binning
from .design import DesignError, Factor, Problems, Sampling, design_names, get_design, is_whole
from .models import DEFAULT_MODEL, MODELS, SweepModel, get_model

__all__ = [
    "Spec",
    "DesignSize",
    "Factor",
    "Sampling",
    "Precision",
    "SpecError",
    "load_spec",
    "parse_spec",
    "check_spec_file",
    "TOP_KEYS",
]

TOP_KEYS = (
    "name", "description", "model", "strategies", "replicates", "n_steps", "seed", "keep_series", "save_series",
    "chunk_size", "base", "factors", "sampling", "precision", "crn",
)
_PRECISION_KEYS = ("outcome", "half_width", "confidence", "min_replicates", "max_replicates")
#: Not sweepable: set by the spec's own keys.
_RESERVED = {"strategy": "list strategies in the top-level `strategies`", "n_steps": "use the top-level `n_steps`"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Where an unknown parameter name sends the reader.
_VOCABULARY = "trustladder params lists them; docs/ODD.md tables them"
DEFAULT_KEEP = MODELS[DEFAULT_MODEL].default_keep
#: Bands accumulate one uint32 histogram per (cell, series, step); refuse specs whose histograms would not fit.
MAX_BAND_BYTES = 1 << 30


class SpecError(ValueError):
    """An experiment spec with one or more problems (all of them in ``problems``)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the spec:\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class DesignSize:
    """How big a spec's design is, by arithmetic alone (see :attr:`Spec.size`).

    Attributes
    ----------
    points : int
        Design points (the registered design's :meth:`~sim.sweep.design.SamplingDesign.size`).
    cells : int
        Points x strategies.
    runs : int
        Cells x replicates; with a ``[precision]`` table, the most it can make
        (cells x ``max_replicates``).
    """

    points: int
    cells: int
    runs: int


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
    #: Common random numbers: replicate r of every point and strategy runs with seed ``run_seeds(seed)[r]``.
    crn: bool = False
    #: The model run: ``"partnership"`` or ``"community"`` (:mod:`sim.sweep.models`).
    model: str = DEFAULT_MODEL

    def sweep_model(self) -> SweepModel:
        """The :class:`~sim.sweep.models.SweepModel` of :attr:`model`."""
        return get_model(self.model)

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in self.factors]

    @property
    def size(self) -> DesignSize:
        """Points, cells and (most) runs of the design, computed without sampling or allocating anything."""
        points = get_design(self.sampling.method).size(self.factors, self.sampling)
        cells = points * len(self.strategies)
        per_cell = self.precision.max_replicates if self.precision is not None else self.replicates
        return DesignSize(points, cells, cells * int(per_cell))

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
        if self.crn:
            out["crn"] = True  # only when on: the hash of a spec without it is what it was before the key existed
        if self.model != DEFAULT_MODEL:
            out["model"] = self.model  # likewise: a partnership spec hashes as it did before the key existed
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


def _param_problem(name: str, value: Any, model: SweepModel = MODELS[DEFAULT_MODEL]) -> str | None:
    try:
        check_value(name, value, model.specs)
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
    pr = Problems(where)
    for key in data:
        if key not in TOP_KEYS:
            pr.add(key, f"unknown key{_suggest(key, TOP_KEYS)} (allowed: {', '.join(TOP_KEYS)})")

    name = data.get("name")
    if name is None:
        pr.add("name", "missing (a short name for the experiment, e.g. name = \"trust-by-deadline\")")
    elif not isinstance(name, str) or not _NAME_RE.match(name):
        pr.add("name", f"{name!r} is not a valid name (allowed: letters, digits, '.', '_', '-'; it names the folder)")

    model = MODELS[DEFAULT_MODEL]
    model_name = data.get("model", DEFAULT_MODEL)
    try:
        model = get_model(model_name)
    except ParamError as exc:
        pr.add("model", str(exc))

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
    try:
        seed = check_seed(seed)
    except ParamError as exc:
        pr.add("seed", str(exc))
        seed = 0

    keep = data.get("keep_series", list(model.default_keep))
    keep_ok: list[str] = []
    if not isinstance(keep, list):
        pr.add("keep_series", f"{keep!r} must be a list of series names (allowed: {', '.join(model.series)})")
    else:
        keep_ok = _unique_names(pr, "keep_series", keep, list(model.series), f"series of {model.label()}")

    save_series = data.get("save_series", False)
    if not isinstance(save_series, bool):
        pr.add("save_series", f"{save_series!r} must be true or false")
        save_series = False

    crn = data.get("crn", False)
    if not isinstance(crn, bool):
        pr.add("crn", f"{crn!r} must be true or false (common random numbers: one seed per replicate)")
        crn = False

    chunk_size = data.get("chunk_size")
    if chunk_size is not None and (not is_whole(chunk_size) or chunk_size < 1):
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
        elif key not in model.specs:
            pr.add(f"base.{key}", _unknown(key, model))
        else:
            msg = _param_problem(key, value, model)
            if msg:
                pr.add(f"base.{key}", msg)
            else:
                base_ok[key] = value

    sampling_raw = data.get("sampling", {})
    if not isinstance(sampling_raw, dict):
        pr.add("sampling", "must be a table ([sampling] with method = ...)")
        sampling_raw = {}
    method = sampling_raw.get("method", "grid")
    try:
        design = get_design(method)
    except DesignError as exc:
        pr.add("sampling.method", str(exc))
        design = None
    sampling = design.parse(sampling_raw, seed, pr) if design else Sampling("grid")

    factors_raw = data.get("factors", {})
    factors: list[Factor] = []
    if not isinstance(factors_raw, dict):
        pr.add("factors", "must be a table ([factors] with name = [values] or name = {min = .., max = ..})")
        factors_raw = {}
    for key, value in factors_raw.items():
        f = _parse_factor(key, value, design.takes if design else None, method, base_ok, pr, model)
        if f is not None:
            factors.append(f)
    if design and design.takes == "bounds" and not factors_raw:
        pr.add("factors", f"sampling method {method!r} needs at least one factor with {{min, max}} bounds")

    replicates = data.get("replicates")
    precision = None
    if "precision" in data:
        precision = _parse_precision(data["precision"], pr, model)
        if replicates is not None:
            pr.add("replicates", "give either replicates or a [precision] table, not both")
    elif replicates is None:
        pr.add("replicates", "missing (runs per cell and strategy, a whole number >= 1; or a [precision] table)")
    elif not is_whole(replicates) or replicates < 1:
        pr.add("replicates", f"{replicates!r} must be a whole number >= 1")

    if pr.items:
        raise SpecError(pr.items)
    spec = Spec(
        name=name, strategies=tuple(strategies), factors=tuple(factors), sampling=sampling, base=base_ok,
        replicates=replicates if precision is None else None, precision=precision, n_steps=int(n_steps),
        seed=int(seed), keep_series=tuple(keep_ok), save_series=save_series, chunk_size=chunk_size,
        description=description, path=where, crn=crn, model=model.name,
    )
    n_cells = spec.size.cells
    band_bytes = 4 * n_cells * int(n_steps) * sum(binning(s, model.name).n_bins for s in keep_ok)
    if band_bytes > MAX_BAND_BYTES:
        pr.add("keep_series", f"bands of {keep_ok} for {n_cells} cells x {n_steps} steps would need "
               f"{band_bytes / 2**30:.1f} GiB of histograms (limit {MAX_BAND_BYTES / 2**30:.0f} GiB): "
               "keep fewer series (keep_series = [] keeps only the per-run table), or fewer points")
        raise SpecError(pr.items)
    return spec


def _designs_taking(form: str) -> list[str]:
    return [n for n in design_names() if get_design(n).takes == form]


def _or_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _unknown(key: str, model: SweepModel) -> str:
    """The problem of a parameter name the model does not know (pointing to the other model when it knows it)."""
    for other in MODELS.values():
        if other is not model and key in other.specs and key not in model.specs:
            return f"a parameter of {other.label()}, not of {model.label()}: set model = {other.name!r}"
    return f"unknown parameter{_suggest(key, model.specs)} ({_VOCABULARY})"


def _parse_factor(key: str, value: Any, takes: str | None, method: Any, base: dict[str, Any],
                  pr: Problems, model: SweepModel = MODELS[DEFAULT_MODEL]) -> Factor | None:
    """One factor, checked against the form its design ``takes`` (None: the method is unknown, accept either)."""
    where = f"factors.{key}"
    if key in _RESERVED:
        pr.add(where, f"not a factor: {_RESERVED[key]}")
        return None
    if key not in model.specs:
        pr.add(where, _unknown(key, model))
        return None
    if key in base:
        pr.add(where, "also set in [base]: a parameter is either fixed or a factor")
    spec = model.specs[key]
    if isinstance(value, list):
        if takes == "bounds":
            pr.add(where, f"sampling method {method!r} takes bounds {{min = .., max = ..}}, not a list")
            return None
        if not value:
            pr.add(where, "empty list: give at least one value")
            return None
        ok = True
        for i, v in enumerate(value):
            msg = _param_problem(key, v, model)
            if msg:
                pr.add(f"{where}[{i}]", msg)
                ok = False
        if ok and len(set(value)) != len(value):
            pr.add(where, f"{value!r} repeats a value")
            ok = False
        return Factor(key, values=tuple(value)) if ok else None
    if isinstance(value, dict) and spec.kind is str:
        pr.add(where, f"{key} is categorical: list its values (one of {', '.join(spec.names())}) and use "
               "grid sampling (the other designs sample numbers only)")
        return None
    if isinstance(value, dict):
        if takes == "values":
            pr.add(where, f"{method} sampling takes a list of values; {{min, max}} bounds need "
                   f"[sampling] method = {_or_list(_designs_taking('bounds'))}")
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
            msg = _param_problem(key, v, model)
            if msg:
                pr.add(f"{where}.{label}", msg)
                ok = False
        if ok and not lo < hi:
            pr.add(where, f"min ({lo!r}) must be below max ({hi!r}) (allowed: {spec.range_text()})")
            ok = False
        return Factor(key, low=lo, high=hi) if ok else None
    pr.add(where, f"{value!r} must be a list of values ({', '.join(_designs_taking('values'))}) or "
           f"{{min = .., max = ..}} ({', '.join(_designs_taking('bounds'))})")
    return None


def _parse_precision(raw: Any, pr: Problems, model: SweepModel = MODELS[DEFAULT_MODEL]) -> Precision | None:
    if not isinstance(raw, dict):
        pr.add("precision", "must be a table ([precision] with outcome, half_width, confidence, max_replicates)")
        return None
    for key in raw:
        if key not in _PRECISION_KEYS:
            pr.add(f"precision.{key}", f"unknown key{_suggest(key, _PRECISION_KEYS)} "
                   f"(allowed: {', '.join(_PRECISION_KEYS)})")
    ok = True
    outcome = raw.get("outcome")
    if outcome not in model.outcomes:
        pr.add("precision.outcome", f"{outcome!r} is not an outcome of {model.label()} "
               f"(allowed: {', '.join(model.outcomes)})")
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
    if not is_whole(lo) or lo < 2:
        pr.add("precision.min_replicates", f"{lo!r} must be a whole number >= 2")
        ok = False
    hi = raw.get("max_replicates")
    if hi is None:
        pr.add("precision.max_replicates", "missing: the cap on replicates per cell (a whole number)")
        ok = False
    elif not is_whole(hi) or hi < 1:
        pr.add("precision.max_replicates", f"{hi!r} must be a whole number >= 1")
        ok = False
    elif is_whole(lo) and hi < lo:
        pr.add("precision.max_replicates", f"{hi!r} is below min_replicates ({lo})")
        ok = False
    if not ok:
        return None
    return Precision(outcome, float(hw), float(conf), int(lo), int(hi))
