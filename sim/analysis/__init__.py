"""Analysis and figures over a sweep's results store (see docs/analysis.md).

Statistics per strategy and cell with bootstrap intervals and effect sizes
(:mod:`.stats`), paired designs and McNemar's test (:mod:`.paired`),
multiple-comparison adjustment (:mod:`.multitest`), the crossover of two
strategies along a factor (:mod:`.crossover`), partnership survival
(:mod:`.survival`), time to each rung with dissolution as a competing event
(:mod:`.competing`), global sensitivity (:mod:`.sensitivity`), figures (:mod:`.figures`, in the style of
:mod:`.style`) and a self-contained HTML report (:mod:`.report`). Every
function takes what :func:`sim.load_results` returns, or a results folder.

Names are imported on first use, so ``import sim.analysis`` (and the CLI,
which lists the figure kinds) does not pay for scipy.stats and matplotlib
until they are needed.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> submodule that defines it.
_EXPORTS = {
    "FIGURE_KINDS": "catalog",
    "figure_specs": "catalog",
    "OUTCOMES": "data",
    "AnalysisError": "data",
    "OutcomeInfo": "data",
    "SweepData": "data",
    "as_results": "data",
    "factor_names": "data",
    "strategy_order": "data",
    "plot_benefit": "figures",
    "plot_level_occupancy": "figures",
    "plot_phase_diagram": "figures",
    "plot_sensitivity": "figures",
    "plot_survival": "figures",
    "plot_survival_after_grant": "figures",
    "plot_trajectories": "figures",
    "build_report": "report",
    "write_report": "report",
    "SensitivityResult": "sensitivity",
    "morris_indices": "sensitivity",
    "noise_share": "sensitivity",
    "sensitivity": "sensitivity",
    "sobol_indices": "sensitivity",
    "Interval": "stats",
    "bootstrap_ci": "stats",
    "bootstrap_difference": "stats",
    "cliffs_delta": "stats",
    "cohens_d": "stats",
    "compare_strategies": "stats",
    "outcome_table": "stats",
    "phase_table": "stats",
    "risk_difference": "stats",
    "CumulativeIncidence": "competing",
    "Quantile": "competing",
    "aalen_johansen": "competing",
    "rung_data": "competing",
    "rung_incidence": "competing",
    "rung_table": "competing",
    "Crossover": "crossover",
    "crossover": "crossover",
    "crossover_table": "crossover",
    "MultipleTests": "multitest",
    "adjust_pvalues": "multitest",
    "adjust_table": "multitest",
    "McNemarResult": "paired",
    "PairedDifference": "paired",
    "compare_paired": "paired",
    "mcnemar_test": "paired",
    "pair_runs": "paired",
    "paired_difference": "paired",
    "paired_risk_difference": "paired",
    "figure_style": "style",
    "save_figure": "style",
    "strategy_color": "style",
    "SurvivalCurve": "survival",
    "kaplan_meier": "survival",
    "logrank_tests": "survival",
    "survival_after_grant": "survival",
    "survival_curves": "survival",
    "survival_summary": "survival",
    "survival_table": "survival",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
