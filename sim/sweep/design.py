"""The design: a spec's points, as the sample matrix that SALib or scipy.stats.qmc returns.

A sampling method is a registered unit, as a strategy is (:mod:`sim.strategies`):
a :class:`SamplingDesign` subclass that holds, in one place, what the method
means everywhere else:

- the form its factors take (``takes``: a list of values, or ``{min, max}`` bounds),
- its ``[sampling]`` settings and their checks (:meth:`SamplingDesign.parse`),
- its size, computed from the spec by arithmetic alone, before anything is
  allocated (:meth:`SamplingDesign.size`),
- its sampler (:meth:`SamplingDesign.sample`) and what the manifest records
  (:meth:`SamplingDesign.record`),
- and, for a design made for a sensitivity analysis, that analysis: the call
  into SALib on one outcome (:meth:`SamplingDesign.analyze`;
  :mod:`sim.analysis.sensitivity` averages the replicates, orders the points
  and tabulates).

The four built-in designs are ``grid``, ``lhs``, ``sobol`` and ``morris``. A
researcher adds one with :func:`register_design`::

    import numpy as np
    from scipy.stats import qmc
    from sim.sweep.design import SamplingDesign, register_design

    @register_design("halton")
    class Halton(SamplingDesign):
        "Scrambled Halton points (scipy.stats.qmc.Halton)."

        def sample(self, factors, sampling, problem):
            engine = qmc.Halton(d=len(factors), rng=np.random.default_rng(sampling.seed))
            return qmc.scale(engine.random(sampling.n), *np.array(problem["bounds"]).T)

after which ``[sampling] method = "halton"`` (with ``n`` and ``seed``) works in
every spec, ``trustladder validate`` included.

``point_id`` is the row of the sample matrix, so SALib's analysis can be fed
outputs ordered by ``point_id``. Grid points are the Cartesian product of the
factors' lists in spec order (last factor fastest).

Integer parameters sampled from a range are rounded by equal bins: [min, max]
is cut into ``max - min + 1`` equal parts, one per whole number, so each is
equally likely (plain rounding would give the two ends half the weight). The
sample matrix keeps the unrounded values; the runs use the rounded ones.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy.stats import qmc  # loaded with the sweep package anyway (its precision rule)

from ..community_params import COMMUNITY_VOCABULARY
from ..params import ParamError, did_you_mean

if TYPE_CHECKING:
    from .spec import Spec

__all__ = [
    "DUMMY",
    "Design",
    "DesignError",
    "Factor",
    "Indices",
    "Problems",
    "Sampling",
    "SamplingDesign",
    "analysis_methods",
    "build_design",
    "design_names",
    "get_design",
    "register_design",
    "round_integer",
    "salib_seed",
    "unregister_design",
]


class DesignError(ParamError):
    """A sampling method that is not registered, or points its analysis cannot use."""


@dataclass(frozen=True)
class Factor:
    """One swept parameter: a list of values (grid) or bounds (sampled)."""

    name: str
    values: tuple | None = None  # grid
    low: float | None = None  # sampled
    high: float | None = None

    @property
    def is_int(self) -> bool:
        return COMMUNITY_VOCABULARY[self.name].kind is int  # every model's parameters (the partnership's within)

    @property
    def is_categorical(self) -> bool:
        """A parameter naming a registered choice (a rule variant, a funding policy): listed by name, on a grid."""
        return COMMUNITY_VOCABULARY[self.name].kind is str

    @property
    def bounds(self) -> list[float]:
        if self.is_categorical:  # its sample column holds the names' positions in the list
            return [0.0, float(len(self.values) - 1)]
        if self.values is not None:
            return [float(min(self.values)), float(max(self.values))]
        return [float(self.low), float(self.high)]

    def to_dict(self) -> Any:
        return list(self.values) if self.values is not None else {"min": self.low, "max": self.high}


@dataclass(frozen=True)
class Sampling:
    """A checked ``[sampling]`` table: the method, its number of points and seed, and its own settings.

    Attributes
    ----------
    method : str
        A registered design (:func:`design_names`).
    n : int or None
        The design's ``n`` (None for a grid).
    seed : int or None
        The sampler's seed (None for a grid).
    options : dict
        The method's other settings, every one filled in (a setting left out of
        the spec holds its default; None means "not set" and is not recorded).
    """

    method: str = "grid"
    n: int | None = None
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A setting by name: ``n``, ``seed`` or one of ``options``."""
        if key in ("n", "seed"):
            value = getattr(self, key)
        else:
            value = self.options.get(key)
        return default if value is None else value

    def to_dict(self) -> dict[str, Any]:
        """The settings as the normalized spec records them (those that are None left out)."""
        out = {"method": self.method, "n": self.n, "seed": self.seed, **self.options}
        return {k: v for k, v in out.items() if v is not None}


class Problems:
    """Collects a spec's problems, each as ``"<where>: <key>: <message>"``."""

    def __init__(self, where: str):
        self.where = where
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{self.where}: {key}: {message}")


def is_whole(x: Any) -> bool:
    """Whether ``x`` is a Python int (not a bool)."""
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass
class Indices:
    """A design's analysis of one outcome: per-factor index arrays, pairwise arrays, a note.

    Attributes
    ----------
    factors : dict of str to array-like, shape (n_factors,)
        One array per column of the indices table (e.g. ``S1``, ``S1_conf``),
        as the analyser returned it.
    pairs : dict of str to array-like, shape (n_factors, n_factors), or None
        Pairwise indices (e.g. Sobol ``S2``), read above the diagonal.
    note : str or None
        Why the indices are undefined or trivial (e.g. a constant outcome).
    """

    factors: dict[str, np.ndarray]
    pairs: dict[str, np.ndarray] | None = None
    note: str | None = None


class SamplingDesign:
    """A sampling method: how a spec's points are made, checked, counted and analysed.

    Subclass it and register the subclass with :func:`register_design`. The
    defaults describe a design sampled from ``{min, max}`` bounds with settings
    ``n`` (points, a whole number >= 1) and ``seed`` (default: the spec's seed):
    such a design need only define :meth:`sample`. Override :meth:`size` when
    the sampler returns other than ``n`` points, :meth:`options` for settings of
    its own (listed in ``keys``), and :meth:`analyze` (with ``analysis``) when
    the design is made for a sensitivity analysis.
    """

    #: The registered name (set by :func:`register_design`).
    name: ClassVar[str] = ""
    #: What each factor gives: a list of values, or ``{min, max}`` bounds.
    takes: ClassVar[Literal["values", "bounds"]] = "bounds"
    #: The ``[sampling]`` keys it reads, besides ``method``.
    keys: ClassVar[tuple[str, ...]] = ("n", "seed")
    #: Added to the complaint about a key it does not use.
    unused_key_hint: ClassVar[str] = ""
    #: The name of its analysis (e.g. "Sobol indices"); "" when it has none.
    analysis: ClassVar[str] = ""
    #: Whether its analysis reads the points' inputs ``x`` (else it gets None).
    reads_inputs: ClassVar[bool] = True
    #: Index columns compared with the noise factors' to tell signal from noise (each has a ``<name>_conf``).
    floor_indices: ClassVar[tuple[str, ...]] = ()

    # --- the spec -----------------------------------------------------------------

    def parse(self, raw: Mapping[str, Any], root_seed: int, problems: Problems) -> Sampling:
        """Check the ``[sampling]`` table ``raw``; add each problem to ``problems``; return what it says."""
        allowed = ("method", *self.keys)
        for key in raw:
            if key not in allowed:
                problems.add(f"sampling.{key}", f"not used by method {self.name!r}{self.unused_key_hint} "
                             f"(allowed: {', '.join(allowed)})")
        n = seed = None
        if "n" in self.keys:
            n = raw.get("n")
            if n is None:
                problems.add("sampling.n", f"missing: method {self.name!r} needs the number of points n")
                n = 1
            elif not is_whole(n) or n < 1:
                problems.add("sampling.n", f"{n!r} must be a whole number >= 1")
                n = 1
        if "seed" in self.keys:
            seed = raw.get("seed", root_seed)
            if not is_whole(seed) or not 0 <= seed < 2**32:
                problems.add("sampling.seed", f"{seed!r} must be a whole number in 0..2**32-1")
                seed = 0
        return Sampling(self.name, n=n, seed=seed, options=self.options(raw, n, problems))

    def options(self, raw: Mapping[str, Any], n: int | None, problems: Problems) -> dict[str, Any]:
        """The method's own settings (default: none), checked; ``n`` is the checked number of points."""
        return {}

    def size(self, factors: Sequence[Factor], sampling: Sampling) -> int:
        """The number of points, by arithmetic alone (nothing is sampled or allocated)."""
        return int(sampling.n)

    def noise_factors(self, sampling: Sampling | Mapping[str, Any]) -> tuple[str, ...]:
        """Do-nothing factors the sampler adds after the spec's own (default: none).

        Each is sampled on [0, 1] like a real factor and recorded in the SALib
        problem and the sample matrix, but is no parameter: the model never
        sees it. Its sensitivity indices are the *noise floor* of the analysis
        (what a factor that does nothing scores, from replicate noise and
        estimator error alone); see :mod:`sim.analysis.sensitivity`.
        """
        return ()

    # --- the points -----------------------------------------------------------------

    def sample(self, factors: Sequence[Factor], sampling: Sampling, problem: dict[str, Any]) -> np.ndarray:
        """The sample matrix, shape ``(size, len(factors))``, in the factors' units (unrounded)."""
        raise NotImplementedError(f"design {self.name!r} defines no sampler")

    def values(self, factors: Sequence[Factor], sample: np.ndarray) -> dict[str, np.ndarray]:
        """Each factor's values as run: clipped to its bounds, integers rounded by equal bins."""
        out = {}
        for i, f in enumerate(factors):
            col = np.clip(sample[:, i], f.low, f.high)
            out[f.name] = round_integer(col, f.low, f.high) if f.is_int else col
        return out

    def record(self, factors: Sequence[Factor], sampling: Sampling) -> dict[str, Any]:
        """What the manifest records under ``"sampling"`` besides the method and the SALib problem."""
        return {"n": sampling.n, "seed": sampling.seed, **sampling.options}

    # --- the analysis -----------------------------------------------------------------

    def pair_columns(self, sampling: Mapping[str, Any]) -> tuple[str, ...]:
        """Columns of its pairwise table for the manifest's ``sampling`` (empty: none)."""
        return ()

    def check_inputs(self, problem: dict[str, Any], sampling: Mapping[str, Any], x: np.ndarray | None) -> None:
        """Raise :class:`DesignError` when the points ``x`` (rows = point_id) are not this design's."""

    def analyze(self, problem: dict[str, Any], sampling: Mapping[str, Any], x: np.ndarray | None, y: np.ndarray, *,
                num_resamples: int, confidence_level: float, seed: int) -> Indices:
        """Indices of one outcome ``y`` (replicate means in point_id order) at the points ``x``.

        ``sampling`` is the manifest's ``sampling`` section, ``problem`` the
        SALib problem. Raise :class:`DesignError` when ``y`` cannot be this
        design's output.
        """
        raise DesignError(f"sampling method {self.name!r} has no sensitivity analysis "
                          f"(methods with one: {', '.join(analysis_methods())})")

    def denoise(self, problem: dict[str, Any], sampling: Mapping[str, Any], y: np.ndarray, noise: np.ndarray,
                found: Indices) -> Indices | None:
        """The indices ``found`` with the replicate noise of ``y`` removed, or None when the design has no way.

        ``noise`` is each point's noise variance of its mean (replicate
        variance / replicates, NaN with one replicate). The returned columns
        are named ``<index>_denoised`` (and ``<index>_denoised_conf``).
        """
        return None


_DESIGNS: dict[str, SamplingDesign] = {}


def register_design(name: str, *, replace: bool = False) -> Callable[[type[SamplingDesign]], type[SamplingDesign]]:
    """Register a :class:`SamplingDesign` subclass under ``name`` (a class decorator).

    Parameters
    ----------
    name : str
        The public name (``[sampling] method = name`` in specs).
    replace : bool
        Allow replacing a registered design of that name.
    """
    if not name.isidentifier():
        raise ValueError(f"design name {name!r} must be an identifier")

    def deco(cls: type[SamplingDesign]) -> type[SamplingDesign]:
        if not (isinstance(cls, type) and issubclass(cls, SamplingDesign)):
            raise TypeError(f"register_design({name!r}) decorates a SamplingDesign subclass, not {cls!r}")
        if name in _DESIGNS and not replace:
            raise ValueError(f"design {name!r} is already registered (pass replace=True to replace it)")
        if cls.takes not in ("values", "bounds"):
            raise ValueError(f"design {name!r}: takes = {cls.takes!r} (allowed: values, bounds)")
        cls.name = name
        _DESIGNS[name] = cls()
        return cls

    return deco


def unregister_design(name: str) -> None:
    """Remove a registered design (for tests and notebooks)."""
    _DESIGNS.pop(name, None)


def design_names() -> list[str]:
    """Names of the registered designs, in registration order."""
    return list(_DESIGNS)


def analysis_methods() -> list[str]:
    """Names of the registered designs that come with a sensitivity analysis."""
    return [n for n, d in _DESIGNS.items() if d.analysis]


def get_design(name: object) -> SamplingDesign:
    """The registered design ``name``; a :class:`DesignError` naming the closest one otherwise."""
    if isinstance(name, str) and name in _DESIGNS:
        return _DESIGNS[name]
    hint = did_you_mean(name, _DESIGNS) if isinstance(name, str) else ""
    raise DesignError(f"unknown method {name!r}{hint} (allowed: {', '.join(_DESIGNS)})")


@dataclass
class Design:
    """A spec's points.

    Attributes
    ----------
    factors : list of str
        Factor names, the columns of ``sample``.
    sample : ndarray, shape (n_points, n_factors + n_noise_factors)
        The sample matrix as the sampler returned it: the factors' columns,
        then those of the design's noise factors (``sampling["noise_factors"]``,
        e.g. the do-nothing ``dummy`` of Sobol and Morris designs), which no
        run is given.
    points : pandas.DataFrame
        ``point_id`` and each factor's value as run (integers rounded).
    sampling : dict
        What the manifest records under ``"sampling"`` (method, n, seed, problem, ...).
    """

    factors: list[str]
    sample: np.ndarray
    points: pd.DataFrame
    sampling: dict[str, Any]

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def problem(self) -> dict[str, Any]:
        return self.sampling["problem"]


def round_integer(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map values in [low, high] to whole numbers low..high, each taking an equal share of the range."""
    x = np.asarray(x, dtype=np.float64)
    k = low + np.floor((x - low) / (high - low) * (high - low + 1))
    return np.clip(k, low, high).astype(np.int64)


def build_design(spec: Spec) -> Design:
    """Sample the spec's points with its registered design (grid, LHS, Saltelli/Sobol, Morris, ...)."""
    names = spec.factor_names
    design = get_design(spec.sampling.method)
    factors = list(spec.factors)
    extra = list(design.noise_factors(spec.sampling))
    problem = {"num_vars": len(names) + len(extra), "names": names + extra,
               "bounds": [f.bounds for f in factors] + [[0.0, 1.0]] * len(extra)}
    # SALib adds keys to the problem it is given: samplers get a copy.
    sample = np.asarray(design.sample(factors, spec.sampling, dict(problem)), dtype=np.float64)
    sample = sample.reshape(sample.shape[0], problem["num_vars"])
    record = {"method": design.name, **design.record(factors, spec.sampling), "problem": problem}
    if extra:
        record["noise_factors"] = extra
    # The noise factors' columns (last) are in the sample matrix only: no run is given them.
    points = pd.DataFrame({"point_id": np.arange(sample.shape[0], dtype=np.int64),
                           **design.values(factors, sample[:, :len(names)])})
    return Design(names, sample, points, record)


# --- the four built-in designs ------------------------------------------------------


@register_design("grid")
class Grid(SamplingDesign):
    """Every combination of the factors' listed values (the Cartesian product, last factor fastest)."""

    takes = "values"
    keys = ()
    unused_key_hint = " (grid takes its points from the factors' lists)"

    def size(self, factors: Sequence[Factor], sampling: Sampling) -> int:
        return math.prod(len(f.values) for f in factors)

    def sample(self, factors: Sequence[Factor], sampling: Sampling, problem: dict[str, Any]) -> np.ndarray:
        # a categorical factor (a rule variant) enters the sample matrix as the position of its name
        levels = [range(len(f.values)) if f.is_categorical else f.values for f in factors]
        rows = list(itertools.product(*levels))
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(factors))

    def values(self, factors: Sequence[Factor], sample: np.ndarray) -> dict[str, np.ndarray]:
        # The listed values exactly: whole numbers stay whole (no rounding by bins), names stay names.
        return {f.name: (np.array(f.values, dtype=object)[sample[:, i].astype(np.int64)] if f.is_categorical
                         else sample[:, i].astype(np.int64 if f.is_int else np.float64))
                for i, f in enumerate(factors)}

    def record(self, factors: Sequence[Factor], sampling: Sampling) -> dict[str, Any]:
        return {"n": self.size(factors, sampling), "seed": None}


def _lows_highs(factors: Sequence[Factor]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([f.low for f in factors], dtype=np.float64),
            np.array([f.high for f in factors], dtype=np.float64))


@register_design("lhs")
class LatinHypercube(SamplingDesign):
    """A Latin hypercube of n points (scipy.stats.qmc.LatinHypercube): one point in each of n strata per factor."""

    keys = ("n", "seed", "optimization")

    def options(self, raw: Mapping[str, Any], n: int | None, problems: Problems) -> dict[str, Any]:
        opt = raw.get("optimization")
        if opt is not None and opt not in ("random-cd", "lloyd"):
            problems.add("sampling.optimization", f"{opt!r} is not allowed (allowed: random-cd, lloyd)")
        return {"optimization": opt}

    def sample(self, factors: Sequence[Factor], sampling: Sampling, problem: dict[str, Any]) -> np.ndarray:
        engine = qmc.LatinHypercube(d=len(factors), optimization=sampling.options["optimization"],
                                    rng=np.random.default_rng(sampling.seed))
        return qmc.scale(engine.random(sampling.n), *_lows_highs(factors))


def salib_seed(seed: int) -> int:
    """A nonzero seed derived from ``seed``: SALib's sobol.analyze treats a falsy seed (0) as "unseeded"."""
    return int(np.random.SeedSequence(int(seed)).generate_state(1)[0]) or 1


def _bool_option(raw: Mapping[str, Any], key: str, default: bool, problems: Problems) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        problems.add(f"sampling.{key}", f"{value!r} must be true or false")
        return default
    return value


#: The name of the do-nothing factor a sensitivity design adds (``[sampling] dummy = true``, the default).
DUMMY = "dummy"


class _WithDummy(SamplingDesign):
    """A sensitivity design that adds the do-nothing factor ``dummy`` unless ``[sampling] dummy = false``."""

    def noise_factors(self, sampling: Sampling | Mapping[str, Any]) -> tuple[str, ...]:
        on = sampling.get("dummy", True)
        return (DUMMY,) if on else ()

    def _n_vars(self, factors: Sequence[Factor], sampling: Sampling) -> int:
        return len(factors) + len(self.noise_factors(sampling))


@register_design("sobol")
class Sobol(_WithDummy):
    """Saltelli's extension of the Sobol' sequence (SALib.sample.sobol), for Sobol indices (SALib.analyze.sobol).

    ``n`` (a power of two) base points give ``n (2 d + 2)`` points with
    second-order indices (``calc_second_order``, default true), ``n (d + 2)``
    without, for ``d`` factors, the do-nothing ``dummy`` included (``dummy``,
    default true).
    """

    keys = ("n", "seed", "calc_second_order", "scramble", "dummy")
    analysis = "Sobol indices"
    reads_inputs = False  # Saltelli's estimators read the outputs in sample order only
    floor_indices = ("ST", "S1")
    _FIRST = ("S1", "S1_conf", "ST", "ST_conf")

    def options(self, raw: Mapping[str, Any], n: int | None, problems: Problems) -> dict[str, Any]:
        if n & (n - 1):
            lo = 1 << (n.bit_length() - 1)
            problems.add("sampling.n", f"{n} is not a power of two (Saltelli/Sobol sampling needs N = 2**k, "
                         f"e.g. {lo} or {lo * 2})")
        return {"calc_second_order": _bool_option(raw, "calc_second_order", True, problems),
                "scramble": _bool_option(raw, "scramble", True, problems),
                "dummy": _bool_option(raw, "dummy", True, problems)}

    @staticmethod
    def _per_base_point(d: int, second: bool) -> int:
        return 2 * d + 2 if second else d + 2

    def size(self, factors: Sequence[Factor], sampling: Sampling) -> int:
        return sampling.n * self._per_base_point(self._n_vars(factors, sampling), sampling.options["calc_second_order"])

    def sample(self, factors: Sequence[Factor], sampling: Sampling, problem: dict[str, Any]) -> np.ndarray:
        from SALib.sample import sobol  # lazy: SALib is slow to import

        return sobol.sample(problem, sampling.n, calc_second_order=sampling.options["calc_second_order"],
                            scramble=sampling.options["scramble"], seed=sampling.seed)

    def pair_columns(self, sampling: Mapping[str, Any]) -> tuple[str, ...]:
        return ("S2", "S2_conf") if bool(sampling.get("calc_second_order", True)) else ()

    def analyze(self, problem: dict[str, Any], sampling: Mapping[str, Any], x: np.ndarray | None, y: np.ndarray, *,
                num_resamples: int, confidence_level: float, seed: int) -> Indices:
        from SALib.analyze import sobol  # lazy: SALib is slow to import

        second = bool(sampling.get("calc_second_order", True))
        d = problem["num_vars"]
        per = self._per_base_point(d, second)
        if y.size % per:
            raise DesignError(f"{y.size} points is not a Sobol design for {d} factors "
                              f"(needs a multiple of {per} with calc_second_order={second})")
        if np.ptp(y) == 0:
            return Indices({c: np.full(d, np.nan) for c in self._FIRST},
                           note=f"constant over the sample ({y[0]:g}); indices undefined")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = sobol.analyze(problem, y, calc_second_order=second, num_resamples=num_resamples,
                               conf_level=confidence_level, seed=salib_seed(seed))
        pairs = {c: si[c] for c in self.pair_columns(sampling)} if second else None
        return Indices({c: si[c] for c in self._FIRST}, pairs)

    def denoise(self, problem: dict[str, Any], sampling: Mapping[str, Any], y: np.ndarray, noise: np.ndarray,
                found: Indices) -> Indices | None:
        """Indices of the mean model: the bias that replicate noise puts in SALib's estimators, removed.

        With ``y_p = f(x_p) + e_p`` (``e_p`` the noise of point p's replicate
        mean, independent, mean 0, variance ``v_p``), SALib's estimators
        (Saltelli et al. 2010, Jansen 1999), over the A, B and AB_i rows of the
        design, have in expectation:

        - variance ``V = var(y[A, B])``: inflated by ``mean(v[A, B])``;
        - first order ``mean(y_B (y_ABi - y_A))``: unbiased (the noise terms
          are independent with mean 0); so are the second-order numerators;
        - total ``mean((y_A - y_ABi)^2) / 2``: inflated by ``mean(v_A + v_ABi) / 2``.

        So with ``V_f = V - mean(v[A, B])`` (the variance of the mean model
        E[Y | x]), ``S1_f = S1 V / V_f``, ``S2_f = S2 V / V_f`` and
        ``ST_f = (ST V - mean(v_A + v_ABi) / 2) / V_f``; intervals are scaled
        by ``V / V_f`` (the uncertainty of the estimated noise is not
        included). Undefined (NaN) with one replicate, or when the noise is
        estimated to exceed ``V``.
        """
        second = bool(sampling.get("calc_second_order", True))
        d = problem["num_vars"]
        per = self._per_base_point(d, second)
        cols = ("S1_denoised", "S1_denoised_conf", "ST_denoised", "ST_denoised_conf")
        y = np.asarray(y, dtype=float)
        v = np.asarray(noise, dtype=float)
        a, b = np.arange(0, y.size, per), np.arange(per - 1, y.size, per)
        ab = [np.arange(j + 1, y.size, per) for j in range(d)]
        total = float(np.var(np.r_[y[a], y[b]]))
        v_f = total - float(np.mean(np.r_[v[a], v[b]]))
        if not np.isfinite(v_f) or v_f <= 0 or np.isnan(v).any():
            nan = np.full(d, np.nan)
            why = "one replicate per point" if np.isnan(v).any() else "replicate noise as large as the variance"
            return Indices(dict.fromkeys(cols, nan), note=f"denoised indices undefined ({why})")
        scale = total / v_f
        st_bias = np.array([np.mean(v[a] + v[ab[j]]) / 2 for j in range(d)])
        out = {"S1_denoised": np.asarray(found.factors["S1"]) * scale,
               "S1_denoised_conf": np.asarray(found.factors["S1_conf"]) * scale,
               "ST_denoised": (np.asarray(found.factors["ST"]) * total - st_bias) / v_f,
               "ST_denoised_conf": np.asarray(found.factors["ST_conf"]) * scale}
        pairs = None
        if found.pairs is not None:
            pairs = {"S2_denoised": np.asarray(found.pairs["S2"]) * scale,
                     "S2_denoised_conf": np.asarray(found.pairs["S2_conf"]) * scale}
        return Indices(out, pairs)


@register_design("morris")
class Morris(_WithDummy):
    """Morris trajectories (SALib.sample.morris), for Morris screening (SALib.analyze.morris).

    ``n`` trajectories (or the ``optimal_trajectories`` chosen among them) of
    ``d + 1`` points each, every step changing one factor, on a grid of
    ``num_levels`` levels; ``d`` counts the do-nothing ``dummy`` (``dummy``,
    default true).
    """

    keys = ("n", "seed", "num_levels", "optimal_trajectories", "dummy")
    analysis = "Morris screening"
    floor_indices = ("mu_star",)

    def options(self, raw: Mapping[str, Any], n: int | None, problems: Problems) -> dict[str, Any]:
        levels = raw.get("num_levels", 4)
        if not is_whole(levels) or levels < 2:
            problems.add("sampling.num_levels", f"{levels!r} must be a whole number >= 2 (SALib's default: 4)")
            levels = 4
        opt = raw.get("optimal_trajectories")
        if opt is not None and (not is_whole(opt) or not 2 <= opt < n):
            problems.add("sampling.optimal_trajectories", f"{opt!r} must be a whole number in 2..{n - 1} (below n)")
            opt = None
        return {"num_levels": levels, "optimal_trajectories": opt, "dummy": _bool_option(raw, "dummy", True, problems)}

    def size(self, factors: Sequence[Factor], sampling: Sampling) -> int:
        return (sampling.options["optimal_trajectories"] or sampling.n) * (self._n_vars(factors, sampling) + 1)

    def sample(self, factors: Sequence[Factor], sampling: Sampling, problem: dict[str, Any]) -> np.ndarray:
        from SALib.sample import morris  # lazy: SALib is slow to import

        return morris.sample(problem, sampling.n, num_levels=sampling.options["num_levels"],
                             optimal_trajectories=sampling.options["optimal_trajectories"], seed=sampling.seed)

    def check_inputs(self, problem: dict[str, Any], sampling: Mapping[str, Any], x: np.ndarray) -> None:
        d = problem["num_vars"]
        if x.shape[0] % (d + 1):
            raise DesignError(f"{x.shape[0]} points is not a Morris design for {d} factors "
                              f"(needs a multiple of {d + 1})")
        steps = np.diff(x.reshape(-1, d + 1, d), axis=1)
        changed = (steps != 0).sum(axis=2)
        if (changed != 1).any():
            raise DesignError("the points are not Morris trajectories in point_id order: some step changes "
                              f"{int(changed[changed != 1][0])} factors instead of one")

    def analyze(self, problem: dict[str, Any], sampling: Mapping[str, Any], x: np.ndarray | None, y: np.ndarray, *,
                num_resamples: int, confidence_level: float, seed: int) -> Indices:
        from SALib.analyze import morris  # lazy: SALib is slow to import

        note = f"constant over the sample ({y[0]:g}); every effect is 0" if np.ptp(y) == 0 else None
        si = morris.analyze(problem, x, y, num_resamples=num_resamples, conf_level=confidence_level,
                            num_levels=int(sampling.get("num_levels", 4)), seed=int(seed))
        return Indices({c: si[c] for c in ("mu", "mu_star", "mu_star_conf", "sigma")}, note=note)
