"""Access to a sweep's results store for the analysis layer.

Everything in :mod:`sim.analysis` takes *results*: the object
:func:`sim.load_results` returns (``.runs`` and ``.bands`` DataFrames and a
``.manifest`` dict, schema in docs/sweeps.md), a folder to load it from, or
any object with those three attributes (:class:`SweepData` builds one in
memory). This module reads that schema in one place: which columns are
factors, the order of the strategies, the horizon, how to select a slice of
the sweep, and how each outcome is computed from the runs table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..levels import N_LEVELS
from ..outputs import SUMMARY, community_outputs
from ..params import PARAMETERS, ParamError, did_you_mean

__all__ = [
    "SweepData",
    "AnalysisError",
    "OutcomeInfo",
    "OUTCOMES",
    "as_results",
    "factor_names",
    "strategy_order",
    "horizon",
    "select_runs",
    "select_bands",
    "outcome_values",
    "outcome_info",
    "check_outcome",
    "survival_data",
    "param_label",
    "cell_columns",
    "format_value",
    "same_value",
    "match_value",
    "COMMUNITY_OUTCOMES",
    "COMMUNITY_OUTCOME_INFO",
    "model_of",
    "outcomes_of",
]


class AnalysisError(ParamError):
    """A request the results cannot answer (unknown outcome, empty selection, wrong sampling ...).

    A :class:`sim.params.ParamError`, so the CLI prints it as one line.
    """


@dataclass
class SweepData:
    """An in-memory results store with the schema of :func:`sim.load_results`.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per run (``run_id``, ``point_id``, ``strategy``, ``replicate``,
        ``seed``, every parameter, the outcomes).
    bands : pandas.DataFrame
        Long table ``point_id, strategy, series, step, n, mean, q05 .. q95``.
    manifest : dict
        ``name``, ``spec``, ``factors``, ``sampling``.
    """

    runs: pd.DataFrame
    bands: pd.DataFrame = field(default_factory=pd.DataFrame)
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutcomeInfo:
    """How to label and read one per-run outcome."""

    label: str
    unit: str = ""
    #: "higher", "lower" or None: which direction a strategy "wins" by default.
    better: str | None = "higher"
    binary: bool = False

    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


def _engine_outcome(name: str) -> OutcomeInfo:
    """The :class:`OutcomeInfo` of one of the engine's per-run outcomes, read from :mod:`sim.outputs`."""
    o = SUMMARY[name]
    return OutcomeInfo(o.label, o.unit, better=o.better, binary=o.dtype.kind == "b")


#: Per-run outcomes (:data:`sim.outputs.SUMMARY`) and outcomes derived from them.
OUTCOMES: dict[str, OutcomeInfo] = {
    "cumulative_benefit": _engine_outcome("cumulative_benefit"),
    "net_benefit": _engine_outcome("net_benefit"),
    "n_joined": _engine_outcome("n_joined"),
    "n_left": _engine_outcome("n_left"),
    "turnover": _engine_outcome("turnover"),
    "dissolved": _engine_outcome("dissolved"),
    "dissolved_step": _engine_outcome("dissolved_step"),
    "survival_time": OutcomeInfo("months until dissolution, horizon if never", "months", better="higher"),
    "final_level": _engine_outcome("final_level"),
    "peak_level": _engine_outcome("peak_level"),
    "final_trust": _engine_outcome("final_trust"),
    "reached_collaboration": OutcomeInfo("share reaching collaboration (level 4)", "share of runs", binary=True),
    "reached_multisector": OutcomeInfo("share reaching multisector collaboration (level 5)", "share of runs",
                                       binary=True),
    **{f"first_step_level_{k}": _engine_outcome(f"first_step_level_{k}") for k in range(1, N_LEVELS + 1)},
}

#: Per-run outcomes of a community sweep's runs table (:func:`sim.outputs.community_outputs`).
COMMUNITY_OUTCOME_INFO: dict[str, OutcomeInfo] = {
    name: OutcomeInfo(o.label, o.unit, better=o.better, binary=o.dtype.kind == "b")
    for name, o in community_outputs("summary").items()}

#: A community sweep's outcomes analysed when none are named (tables, figures, sensitivity).
COMMUNITY_OUTCOMES = ("cumulative_benefit", "net_benefit", "n_formed", "durable", "final_mean_trust_worked",
                      "final_ready_level_4")

_RUN_COLUMNS = ("point_id", "strategy", "dissolved", "dissolved_step")
#: The columns every model's runs table has (a community run has no single partnership to dissolve).
_MODEL_RUN_COLUMNS = {"partnership": _RUN_COLUMNS, "community": ("point_id", "strategy")}


def model_of(results: Any) -> str:
    """The model that made ``results``: ``manifest["model"]``, ``"partnership"`` when it does not say."""
    return str((getattr(results, "manifest", None) or {}).get("model") or "partnership")


def outcomes_of(model: str = "partnership") -> dict[str, OutcomeInfo]:
    """The per-run outcomes the analysis knows for ``model``: :data:`OUTCOMES` or :data:`COMMUNITY_OUTCOME_INFO`."""
    if model == "community":
        return COMMUNITY_OUTCOME_INFO
    if model == "partnership":
        return OUTCOMES
    raise AnalysisError(f"model = {model!r} is not a model the analysis knows (allowed: partnership, community)")


def as_results(results: Any) -> Any:
    """``results`` itself if it has ``.runs``/``.bands``/``.manifest``; a folder is loaded with sim.load_results."""
    if isinstance(results, (str, Path)):
        path = Path(results)
        if not path.exists():
            raise FileNotFoundError(f"results folder {path} does not exist")
        # Lazy: the store imports the sweep package (scipy.stats); what analyses only a loaded result needn't.
        from ..sweep.store import load_results

        return load_results(path)
    missing = [a for a in ("runs", "bands", "manifest") if not hasattr(results, a)]
    if missing:
        raise AnalysisError(
            f"results must have .runs, .bands and .manifest (as sim.load_results returns); "
            f"{type(results).__name__} lacks {', '.join(missing)}"
        )
    lacking = [c for c in _MODEL_RUN_COLUMNS.get(model_of(results), _RUN_COLUMNS) if c not in results.runs.columns]
    if lacking:
        raise AnalysisError(f"runs table lacks column(s) {', '.join(lacking)} (see docs/sweeps.md)")
    return results


def factor_names(results: Any) -> list[str]:
    """The sampled factors: ``manifest['factors']``, else the parameters that vary across points."""
    factors = results.manifest.get("factors")
    if factors is not None:
        return [str(f) for f in factors]
    runs = results.runs
    return [n for n in PARAMETERS if n != "strategy" and n in runs.columns and runs[n].nunique() > 1]


def strategy_order(results: Any) -> list[str]:
    """Strategies in the spec's order (then any others in order of appearance)."""
    present = list(pd.unique(results.runs["strategy"].astype(str)))
    spec = results.manifest.get("strategies") or (results.manifest.get("spec") or {}).get("strategies") or []
    ordered = [s for s in spec if s in present]
    return ordered + [s for s in present if s not in ordered]


def horizon(results: Any) -> int:
    """Steps simulated (``spec['n_steps']``, else the runs' ``n_steps``)."""
    if results.manifest.get("n_steps") is not None:
        return int(results.manifest["n_steps"])
    spec = results.manifest.get("spec") or {}
    if "n_steps" in spec:
        return int(spec["n_steps"])
    if "n_steps" in results.runs.columns:
        return int(results.runs["n_steps"].max())
    raise AnalysisError("cannot tell the horizon: neither manifest spec n_steps nor a runs n_steps column")


def param_label(name: str, *, short: bool = False) -> str:
    """An axis label for a parameter: its name, and its unit when it has one."""
    spec = PARAMETERS.get(name)
    if spec is None or short or not spec.unit:
        return name
    return f"{name} ({spec.unit})"


def format_value(value: Any, digits: int = 6) -> str:
    """A factor's value as text, whatever its type: the one way tables, labels and reports print one.

    Numbers get ``digits`` significant figures (``0.3``, ``1e-05``, ``24``); integers, booleans and text
    (a strategy, a rule variant such as ``dissolution = "quorum"``, a funding policy) are printed as they are.

    Parameters
    ----------
    value
        A value of a runs-table column (Python or NumPy scalar, text, None/NaN).
    digits : int
        Significant figures of a non-integer number.

    Examples
    --------
    >>> format_value(0.30000000000000004), format_value(np.int64(24)), format_value("quorum")
    ('0.3', '24', 'quorum')
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}"
    return str(value)


def same_value(a: Any, b: Any) -> bool:
    """Whether two factor values are the same: numbers to within rounding, anything else as text."""
    return bool(match_value(pd.Series([a]), b)[0])


def match_value(column: pd.Series, value: Any) -> np.ndarray:
    """Which rows of ``column`` hold ``value`` (or one of a list of values): numbers to within rounding,
    anything else (text-valued factors) as text."""
    values = value if isinstance(value, (list, tuple, set, np.ndarray)) else [value]
    mask = np.zeros(len(column), dtype=bool)
    for v in values:
        if pd.api.types.is_numeric_dtype(column) and not isinstance(v, str):
            mask |= np.isclose(column.to_numpy(dtype=float), float(v), rtol=1e-9, atol=1e-12)
        else:
            mask |= (column.astype(str) == str(v)).to_numpy()
    return mask


def _filter(table: pd.DataFrame, where: Mapping[str, Any] | None, what: str) -> pd.DataFrame:
    if not where:
        return table
    mask = np.ones(len(table), dtype=bool)
    for name, value in where.items():
        if name not in table.columns:
            if name in PARAMETERS or name == "strategy":
                raise AnalysisError(f"where: {name!r} is not a column of the {what} table")
            raise AnalysisError(f"where: unknown name {name!r} (a parameter name or strategy)")
        m = match_value(table[name], value)
        if not m.any():
            known = pd.unique(table[name])
            shown = ", ".join(str(v) for v in sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
            raise AnalysisError(f"where: {name} = {value!r} matches no run (values in these results: {shown})")
        mask &= m
    out = table[mask]
    if out.empty:
        raise AnalysisError(f"where: {dict(where)} together match no run")
    return out


def select_runs(results: Any, where: Mapping[str, Any] | None = None,
                strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """The runs matching ``where`` (``{factor: value or [values]}``) and ``strategies``."""
    runs = _filter(results.runs, where, "runs")
    if strategies is not None:
        unknown = [s for s in strategies if s not in set(runs["strategy"].astype(str))]
        if unknown:
            raise AnalysisError(f"strategy {unknown[0]!r} is not in these results "
                                f"(present: {', '.join(strategy_order(results))})")
        runs = runs[runs["strategy"].astype(str).isin(list(strategies))]
    return runs


def select_bands(results: Any, series: str, where: Mapping[str, Any] | None = None,
                 strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """Bands rows of ``series`` at the points matching ``where``."""
    bands = results.bands
    if bands is None or len(bands) == 0:
        raise AnalysisError("these results have no bands table (the sweep saved no per-step bands)")
    known = list(pd.unique(bands["series"]))
    if series not in known:
        raise AnalysisError(f"series {series!r} is not in the bands table (present: {', '.join(map(str, known))})")
    bands = bands[bands["series"] == series]
    if where:
        # Bands carry the factor columns; a filter on a non-factor parameter is read from the runs.
        cols = [k for k in where if k not in bands.columns]
        if cols:
            pts = select_runs(results, where)["point_id"].unique()
            bands = bands[bands["point_id"].isin(pts)]
            where = {k: v for k, v in where.items() if k in bands.columns}
        bands = _filter(bands, where, "bands")
    if strategies is not None:
        bands = bands[bands["strategy"].astype(str).isin(list(strategies))]
    if bands.empty:
        raise AnalysisError(f"no bands of {series!r} match the selection")
    return bands


def check_outcome(name: str, model: str = "partnership") -> OutcomeInfo:
    """The :class:`OutcomeInfo` of ``name`` among ``model``'s outcomes, or an error listing them."""
    known = outcomes_of(model)
    try:
        return known[name]
    except (KeyError, TypeError):
        hint = did_you_mean(name, known) if isinstance(name, str) else ""
        what = "community outcome" if model == "community" else "outcome"
        raise AnalysisError(f"unknown {what} {name!r}{hint} (known: {', '.join(known)})") from None


outcome_info = check_outcome


def outcome_values(runs: pd.DataFrame, name: str, model: str = "partnership") -> pd.Series:
    """Outcome ``name`` of each run as floats (NaN where it is undefined, e.g. final_trust of a dissolved run)."""
    check_outcome(name, model)
    if model == "community":
        if name not in runs.columns:
            raise AnalysisError(f"outcome {name!r} is not a column of the runs table")
        return runs[name].astype(float)
    if name == "survival_time":
        t, _ = survival_data(runs)
        return pd.Series(t, index=runs.index, name=name, dtype=float)
    if name == "reached_collaboration":
        return runs["first_step_level_4"].notna().astype(float).rename(name)
    if name == "reached_multisector":
        return runs["first_step_level_5"].notna().astype(float).rename(name)
    if name not in runs.columns:
        raise AnalysisError(f"outcome {name!r} is not a column of the runs table")
    return runs[name].astype(float)


def survival_data(runs: pd.DataFrame, n_steps: int | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per run: time (the dissolution step, else the horizon) and event (dissolved).

    A run dissolved on step ``k`` is alive through step ``k - 1``; a run never
    dissolved is right-censored at its horizon ``n_steps``.
    """
    event = runs["dissolved"].to_numpy(dtype=bool)
    if n_steps is None:
        if "n_steps" not in runs.columns:
            raise AnalysisError("survival needs the horizon: give n_steps or keep the runs' n_steps column")
        n_steps = runs["n_steps"].to_numpy(dtype=float)
    step = runs["dissolved_step"].to_numpy(dtype=float)
    if np.isnan(step[event]).any():
        raise AnalysisError("runs table: a dissolved run has no dissolved_step")
    time = np.where(event, step, np.broadcast_to(np.asarray(n_steps, dtype=float), event.shape))
    return time, event


def cell_columns(results: Any, by: Sequence[str] | str | None) -> list[str]:
    """Validated grouping columns: ``None``/[] -> no cells, "factors" -> every factor."""
    if by is None:
        return []
    if isinstance(by, str):
        by = factor_names(results) if by == "factors" else [by]
    out = []
    for name in by:
        if name not in results.runs.columns:
            raise AnalysisError(f"by: {name!r} is not a column of the runs table "
                                f"(factors of these results: {', '.join(factor_names(results)) or 'none'})")
        out.append(name)
    return out
