"""The output vocabulary: one declaration for every series and per-run outcome the model reports.

Built like :mod:`sim.params`: each output is declared once, below, with its
name, kind (a per-step ``"series"`` or a per-run ``"summary"`` outcome), dtype,
unit, label, meaning and the value it takes once the partnership has dissolved
(series) or where it is undefined (summary). The engine allocates and fills its
arrays from here, the Mesa model names and types its DataCollector's columns
from here, the store and the analysis read names, labels and units from here,
and ``docs/ODD.md``'s outputs table is generated from here
(:func:`markdown_table`; ``tests/test_outputs.py`` checks that it matches).

``cumulative_benefit`` is both a series (the benefit gathered so far, each
step) and a summary outcome (over the whole run): two declarations, one of each
kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .levels import LEVEL_NAMES, N_LEVELS

__all__ = ["Output", "OUTPUTS", "SERIES", "SUMMARY", "SERIES_DTYPES", "SUMMARY_OUTCOMES", "markdown_table"]


@dataclass(frozen=True)
class Output:
    """What the vocabulary says of one output.

    Attributes
    ----------
    name : str
        The output's public name (a series, or a column of the runs/summary table).
    kind : str
        ``"series"`` (one value per run and step) or ``"summary"`` (one value per run).
    dtype : numpy.dtype
        The type it is stored in.
    unit : str
        Its unit ("" when it has none).
    label : str
        A short label for axes and tables (see :meth:`axis_label`).
    meaning : str
        What it measures.
    fill : float or None
        Series: its value from the step a run dissolves on (unless ``held``).
        Summary: its value where the outcome is undefined (``meaning`` says
        when); None when it is always defined.
    held : bool
        Series only: once the run has dissolved, its last value is carried to the end.
    better : str or None
        Summary only: ``"higher"`` or ``"lower"``, which direction counts as better by default.
    """

    name: str
    kind: str
    dtype: np.dtype
    unit: str
    label: str
    meaning: str
    fill: float | None = 0.0
    held: bool = False
    better: str | None = None

    def axis_label(self) -> str:
        """The label, with the unit in parentheses when there is one."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def empty(self, n_runs: int, n_steps: int | None = None) -> np.ndarray:
        """An array of ``n_runs`` (x ``n_steps`` for a series) holding :attr:`fill` (0 if None) in :attr:`dtype`."""
        shape = (n_runs,) if n_steps is None else (n_runs, n_steps)
        return np.full(shape, 0 if self.fill is None else self.fill, dtype=self.dtype)

    def fill_text(self) -> str:
        """How the docs show :attr:`fill`: "held", "NaN", the number, or "" (always defined)."""
        if self.held:
            return "held"
        if self.fill is None:
            return ""
        return "NaN" if math.isnan(self.fill) else f"{self.fill:g}"


_I8, _I64, _F64, _BOOL = np.dtype(np.int8), np.dtype(np.int64), np.dtype(np.float64), np.dtype(bool)
_NAN = math.nan
_MONEY = "benefit units"


def _series(name: str, dtype: np.dtype, unit: str, label: str, meaning: str, fill: float = 0.0,
            held: bool = False) -> Output:
    return Output(name, "series", dtype, unit, label, meaning, fill, held)


def _summary(name: str, dtype: np.dtype, unit: str, label: str, meaning: str, fill: float | None = None,
             better: str | None = "higher") -> Output:
    return Output(name, "summary", dtype, unit, label, meaning, fill, better=better)


#: Every output, series first, each in the order of the engine's arrays and the runs table's columns.
OUTPUTS: tuple[Output, ...] = (
    # --- per-step series (step 1 in column 0) ---
    _series("level", _I8, "", "level (0 = dissolved)", "the level played this step"),
    _series("active", _I8, "organizations", "active members", "members after the step's exits"),
    _series("mean_trust", _F64, "0..1", "mean trust between partners",
            "mean trust over the active ordered pairs, after the step", _NAN),
    _series("min_trust", _F64, "0..1", "lowest trust between partners",
            "lowest trust over the active ordered pairs, after the step", _NAN),
    _series("sd_trust", _F64, "", "spread (sd) of trust between partners",
            "population standard deviation of trust over the active ordered pairs, after the step", _NAN),
    _series("success", _I8, "", "share of joint successes", "1 if the step's joint project succeeded, else 0"),
    _series("benefit", _F64, _MONEY, "community benefit per month", "community benefit of the step"),
    _series("cumulative_benefit", _F64, _MONEY, "cumulative community benefit",
            "benefit gathered so far (the dissolving step's benefit is lost with the partnership)", held=True),
    _series("contribution_rate", _F64, "", "share of members contributing",
            "contributors / members active at the start of the step", _NAN),
    _series("grant", _F64, _MONEY, "grant paid per month", "what the funder paid this step"),
    _series("joined", _I8, "organizations", "newcomers per month", "newcomers who filled a vacancy this step"),
    _series("left", _I8, "organizations", "departures per month", "members who left this step"),
    _series("net_benefit", _F64, _MONEY, "net community benefit per month",
            "community benefit minus the cost of the contributions (B - cost C)"),
    _series("member_payoff", _F64, _MONEY, "mean member payoff per month",
            "mean net payoff over the members at the start of the step (benefit share + grant - cost)", _NAN),
    # --- per-run outcomes ---
    _summary("dissolved", _BOOL, "share of runs", "share dissolved",
             "whether the partnership ended at some step (its dissolution rule, or fewer than two members)",
             better="lower"),
    _summary("dissolved_step", _F64, "months", "step of dissolution (dissolved runs)",
             "the step the run dissolved on (NaN if it did not)", _NAN),
    _summary("final_level", _I64, "level", "final level (0 = dissolved)", "the level played in the last step", 0),
    _summary("peak_level", _I64, "level", "highest level reached", "the highest level played"),
    _summary("final_trust", _F64, "0..1", "final mean trust (survivors)",
             "mean trust after the last step (NaN if dissolved)", _NAN),
    _summary("cumulative_benefit", _F64, _MONEY, "cumulative community benefit",
             "benefit gathered over the run (the dissolving step's benefit is lost)"),
    _summary("net_benefit", _F64, _MONEY, "net community benefit",
             "benefit minus the members' costs over the run (the dissolving step's is lost)"),
    _summary("n_joined", _I64, "organizations", "newcomers", "newcomers over the run", better=None),
    _summary("n_left", _I64, "organizations", "departures", "members who left over the run (the dissolving "
             "step's not counted)", better="lower"),
    _summary("turnover", _F64, "per founding seat", "turnover", "departures per founding seat (n_left / n_orgs)",
             better=None),
    *(
        _summary(f"first_step_level_{k}", _F64, "months", f"first step at {LEVEL_NAMES[k]} (runs reaching it)",
                 f"first step played at level {k} (NaN if never)", _NAN, better="lower")
        for k in range(1, N_LEVELS + 1)
    ),
)

#: The per-step series by name.
SERIES: dict[str, Output] = {o.name: o for o in OUTPUTS if o.kind == "series"}
#: The per-run outcomes by name.
SUMMARY: dict[str, Output] = {o.name: o for o in OUTPUTS if o.kind == "summary"}
#: Each series' dtype (what :data:`sim.engine.SERIES` has always been).
SERIES_DTYPES: dict[str, np.dtype] = {name: o.dtype for name, o in SERIES.items()}
#: The per-run outcomes' names, in the runs table's order.
SUMMARY_OUTCOMES: tuple[str, ...] = tuple(SUMMARY)

if len(SERIES) + len(SUMMARY) != len(OUTPUTS) or any(o.kind not in ("series", "summary") for o in OUTPUTS):
    raise ValueError("sim.outputs: an output is declared twice, or with a kind other than series/summary")


def markdown_table() -> str:
    """The outputs table of ``docs/ODD.md``: one row per declaration."""
    rows = ["| name | kind | dtype | unit | once dissolved / undefined | meaning |", "|---|---|---|---|---|---|"]
    rows += [f"| `{o.name}` | {o.kind} | {o.dtype} | {o.unit} | {o.fill_text()} | {o.meaning} |" for o in OUTPUTS]
    return "\n".join(rows)
