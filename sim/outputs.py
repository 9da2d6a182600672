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

__all__ = ["Output", "OUTPUTS", "SERIES", "SUMMARY", "SERIES_DTYPES", "SUMMARY_OUTCOMES", "markdown_table",
           "COMMUNITY_OUTPUTS", "COMMUNITY_KINDS", "community_outputs", "community_markdown_table"]


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
    model : str
        The model reporting it: ``"partnership"`` or ``"community"`` (:data:`COMMUNITY_OUTPUTS`).
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
    model: str = "partnership"

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
            "mean net payoff over the members at the start of the step: (net benefit + grant) / members", _NAN),
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


# --- the community (issue 15; community-design section 7) ---------------------------------------------------

#: The kinds of community outputs: per-step series, per-run summary, and the columns of three tables.
COMMUNITY_KINDS = ("series", "summary", "partnership", "organization", "membership")
_I16, _I32 = np.dtype(np.int16), np.dtype(np.int32)
_STR = np.dtype(object)


def _c(kind: str, name: str, dtype: np.dtype, unit: str, label: str, meaning: str, fill: float | None = 0.0,
       better: str | None = None) -> Output:
    return Output(name, kind, dtype, unit, label, meaning, fill, better=better, model="community")


def _cs(name: str, dtype: np.dtype, unit: str, label: str, meaning: str, fill: float = 0.0) -> Output:
    return _c("series", name, dtype, unit, label, meaning, fill)


#: Every community output (``model = "community"``). A name already in :data:`OUTPUTS` keeps its meaning.
COMMUNITY_OUTPUTS: tuple[Output, ...] = (
    # --- per-step series (step 1 in column 0; a community never dissolves) ---
    _cs("partnerships", _I16, "partnerships", "partnerships alive", "partnerships alive after the step"),
    *(_cs(f"partnerships_level_{k}", _I16, "partnerships", f"partnerships at {LEVEL_NAMES[k]}",
          f"alive partnerships that played level {k} this step") for k in range(1, N_LEVELS + 1)),
    _cs("funded", _I16, "partnerships", "partnerships funded", "partnerships funded during the step (any source)"),
    _cs("formed", _I16, "partnerships", "partnerships formed", "partnerships formed this step (convened + funder)"),
    _cs("awarded", _I16, "awards", "awards made", "awards the funder made this step"),
    _cs("ended", _I16, "partnerships", "partnerships ended", "partnerships that dissolved this step"),
    _cs("members", _I16, "organizations", "organizations in a partnership",
        "organizations in at least one partnership after the step"),
    _cs("memberships", _I16, "memberships", "memberships held", "memberships held after the step"),
    _cs("joined", _I16, "organizations", "recruits", "organizations recruited into partnerships this step"),
    _cs("left", _I16, "organizations", "exits", "members leaving partnerships that did not dissolve this step"),
    _cs("benefit", _F64, _MONEY, "community benefit per month",
        "sum over partnerships of the step's benefit (0 for a dissolving one)"),
    _cs("net_benefit", _F64, _MONEY, "net benefit per month",
        "sum over partnerships of the step's benefit minus the members' costs (0 for a dissolving one)"),
    _cs("cumulative_benefit", _F64, _MONEY, "cumulative community benefit", "benefit gathered so far"),
    _cs("contribution_rate", _F64, "", "share of members contributing",
        "contributors / memberships active at the start of the step", _NAN),
    _cs("grant", _F64, _MONEY, "grant paid per month", "paid to partnerships this step (funder and prior grants)"),
    _cs("budget", _F64, _MONEY, "funder's free budget", "the funder's unreserved budget after the step"),
    _cs("committed", _F64, _MONEY, "funder's committed money", "awarded but unspent money after the step"),
    _cs("mean_trust", _F64, "0..1", "mean trust in the community", "mean trust over all ordered pairs", _NAN),
    _cs("mean_trust_worked", _F64, "0..1", "mean trust among acquainted pairs",
        "mean trust over ordered pairs who have worked together (NaN if none)", _NAN),
    *(_cs(f"ready_level_{k}", _F64, "share of pairs", f"pairs ready for {LEVEL_NAMES[k]}",
          f"share of ordered pairs with trust at least level {k}'s need (collaborative capacity)", _NAN)
      for k in range(1, N_LEVELS + 1)),
    # --- per-run summary ---
    _c("summary", "cumulative_benefit", _F64, _MONEY, "cumulative community benefit", "benefit over the run",
       None, "higher"),
    _c("summary", "net_benefit", _F64, _MONEY, "net community benefit", "net benefit over the run", None, "higher"),
    _c("summary", "n_formed", _I64, "partnerships", "partnerships formed", "partnerships formed over the run"),
    _c("summary", "n_ended", _I64, "partnerships", "partnerships ended", "partnerships dissolved over the run",
       None, "lower"),
    _c("summary", "n_awarded", _I64, "awards", "awards made", "awards over the run"),
    _c("summary", "funder_spent", _F64, _MONEY, "funder's spending", "what the funder paid over the run"),
    _c("summary", "durable", _I64, "partnerships", "durable partnerships",
       "partnerships alive at the end that played level >= 4 in the last step", None, "higher"),
    _c("summary", "peak_partnerships", _I64, "partnerships", "most partnerships at once",
       "the most partnerships alive after a step"),
    _c("summary", "full_months", _I64, "months", "months with no free slot",
       "months with every slot taken (whether max_partnerships binds)"),
    _c("summary", "final_mean_trust", _F64, "0..1", "final mean trust", "mean trust over all pairs at the end",
       None, "higher"),
    _c("summary", "final_mean_trust_worked", _F64, "0..1", "final mean trust among acquainted pairs",
       "mean trust over acquainted pairs at the end (NaN if none)", _NAN, "higher"),
    *(_c("summary", f"final_ready_level_{k}", _F64, "share of pairs", f"pairs ready for {LEVEL_NAMES[k]} (end)",
         f"share of ordered pairs with trust at least level {k}'s need at the end", None, "higher")
      for k in range(1, N_LEVELS + 1)),
    _c("summary", "largest_component", _F64, "share of organizations", "largest worked-together component",
       "share of organizations in the largest connected component of the acquainted graph at the end",
       None, "higher"),
    _c("summary", "benefit_gini", _F64, "", "inequality of benefit received",
       "Gini of the organizations' benefit received (NaN if none)", _NAN, "lower"),
    _c("summary", "sector_benefit_min", _F64, "", "worst-off sector's benefit share",
       "min over sectors present of (sector share of benefit) / (sector share of organizations)", _NAN, "higher"),
    # --- partnership table ---
    *(_c("partnership", n, d, u, lab, m, None) for n, d, u, lab, m in (
        ("seed", np.dtype(np.uint64), "", "seed", "the run's seed"),
        ("partnership", _I64, "", "partnership", "its number in the run, in formation order"),
        ("slot", _I64, "", "slot", "the slot it occupied"),
        ("origin", _STR, "", "origin", "setup, convened, or the funding policy that created it"),
        ("convener", _I64, "", "convener", "the organization that convened it (seat 0 for a funder's consortium)"),
        ("formed_step", _I64, "month", "month formed", "the step it formed"),
        ("ended_step", _F64, "month", "month ended", "the step it dissolved (NaN if alive at the end)"),
        ("n_founding", _I64, "organizations", "founding members", "members when it formed"),
        ("n_joined", _I64, "organizations", "recruits", "members recruited"),
        ("n_left", _I64, "organizations", "exits", "members who left before it ended"),
        ("peak_level", _I64, "level", "highest level", "the highest level played"),
        ("final_level", _I64, "level", "final level", "the level played in the last step (0 if ended)"),
        *((f"first_step_level_{k}", _F64, "month", f"first step at {LEVEL_NAMES[k]}",
           f"first step played at level {k} (NaN if never)") for k in range(1, N_LEVELS + 1)),
        ("funded_months", _I64, "months", "months funded", "steps it was funded"),
        ("awards", _I64, "awards", "awards", "funder awards it received"),
        ("award_total", _F64, _MONEY, "money awarded", "the amounts of its awards"),
        ("grant_total", _F64, _MONEY, "grant received", "what it was paid"),
        ("cumulative_benefit", _F64, _MONEY, "benefit", "its benefit over its life"),
        ("net_benefit", _F64, _MONEY, "net benefit", "its net benefit over its life"),
        ("strategy", _STR, "", "strategy", "its strategy at the end"),
    )),
    # --- membership table ---
    *(_c("membership", n, d, u, lab, m, None) for n, d, u, lab, m in (
        ("seed", np.dtype(np.uint64), "", "seed", "the run's seed"),
        ("partnership", _I64, "", "partnership", "the partnership's number in the run"),
        ("org", _I64, "", "organization", "the member"),
        ("seat", _I64, "", "seat", "its seat"),
        ("joined_step", _I64, "month", "month joined", "the step it joined"),
        ("left_step", _F64, "month", "month left", "the step it left (NaN if still a member at the end)"),
        ("how", _STR, "", "how joined", "founding or recruited"),
        ("why_left", _STR, "", "why left", "exit, ended, or empty if still a member"),
    )),
    # --- organization table ---
    *(_c("organization", n, d, u, lab, m, None) for n, d, u, lab, m in (
        ("seed", np.dtype(np.uint64), "", "seed", "the run's seed"),
        ("org", _I64, "", "organization", "its index in the community"),
        ("sector", _I64, "", "sector", "its sector code"),
        ("group", _I64, "", "cultural group", "its cultural group"),
        ("communication", _F64, "0..1", "communication", "its communication skill"),
        ("leadership", _F64, "0..1", "leadership", "its leadership"),
        ("individualism", _F64, "0..1", "individualism", "its individualism"),
        ("identity", _F64, "0..1", "identity", "its attachment to its own identity"),
        ("capacity", _F64, "", "capacity", "its capacity at the end"),
        ("memberships", _I64, "partnerships", "partnerships joined", "partnerships joined over the run"),
        ("months_member", _I64, "months", "months in partnerships", "months it held at least one membership"),
        ("convened", _I64, "partnerships", "partnerships convened", "partnerships it convened"),
        ("payoff", _F64, _MONEY, "payoff", "its net payoffs summed over all memberships"),
        ("benefit_received", _F64, _MONEY, "benefit received", "its gross shares of partnerships' benefit"),
        ("mean_trust_given", _F64, "0..1", "mean trust given", "its mean trust in the others at the end"),
        ("mean_trust_received", _F64, "0..1", "mean trust received", "the others' mean trust in it at the end"),
    )),
)


def community_outputs(kind: str) -> dict[str, Output]:
    """The community outputs of one kind (:data:`COMMUNITY_KINDS`) by name, in declaration order."""
    if kind not in COMMUNITY_KINDS:
        raise ValueError(f"kind = {kind!r} is not a community output kind (allowed: {', '.join(COMMUNITY_KINDS)})")
    return {o.name: o for o in COMMUNITY_OUTPUTS if o.kind == kind}


if len({(o.kind, o.name) for o in COMMUNITY_OUTPUTS}) != len(COMMUNITY_OUTPUTS) or any(
        o.kind not in COMMUNITY_KINDS for o in COMMUNITY_OUTPUTS):
    raise ValueError("sim.outputs: a community output is declared twice in one kind, or with an unknown kind")


def community_markdown_table() -> str:
    """The community outputs table of ``docs/ODD.md``: one row per declaration."""
    rows = ["| name | kind | dtype | unit | meaning |", "|---|---|---|---|---|"]
    rows += [f"| `{o.name}` | {o.kind} | {o.dtype} | {o.unit} | {o.meaning} |" for o in COMMUNITY_OUTPUTS]
    return "\n".join(rows)
