"""Small real sweeps for the analysis tests (tests/test_analysis_*.py), made with the sweep API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.data import SweepData
from sim.sweep import load_results, parse_spec, run_sweep

GRID_SPEC: dict[str, Any] = {
    "name": "analysis-grid",
    "strategies": ["stepwise", "funder_forced", "funder_schedule"],
    "replicates": 40,
    "n_steps": 60,
    "seed": 11,
    "keep_series": ["mean_trust", "level"],
    "save_series": True,
    "base": {"n_orgs": 6},
    "factors": {"initial_trust": [0.3, 0.85], "deadline": [12, 24]},
    "sampling": {"method": "grid"},
}

SOBOL_SPEC: dict[str, Any] = {
    "name": "analysis-sobol",
    "strategies": ["stepwise", "funder_forced"],
    "replicates": 3,
    "n_steps": 48,
    "seed": 5,
    "keep_series": [],
    "base": {"initial_trust": 0.5},
    "factors": {"leadership": {"min": 0.0, "max": 1.0}, "communication": {"min": 0.0, "max": 1.0},
                "deadline": {"min": 6, "max": 36}},
    "sampling": {"method": "sobol", "n": 16, "seed": 3, "calc_second_order": False},
}

MORRIS_SPEC: dict[str, Any] = {
    **SOBOL_SPEC,
    "name": "analysis-morris",
    "sampling": {"method": "morris", "n": 10, "seed": 3, "num_levels": 4},
}


def make_sweep(spec: dict[str, Any], folder: Path) -> Any:
    """Run ``spec`` into ``folder`` and load it back, as a user would."""
    run_sweep(parse_spec(spec), folder, progress=False)
    return load_results(folder)


def with_outcome(results: Any, values: np.ndarray, outcome: str = "cumulative_benefit") -> SweepData:
    """A copy of ``results`` whose ``outcome`` column is replaced by ``values`` (one per run)."""
    runs = results.runs.copy()
    runs[outcome] = values
    return SweepData(runs, results.bands, results.manifest)


def toy_results(times: list[float], dissolved: list[bool], *, n_steps: int, grant_term: int = 36,
                strategy: str = "stepwise") -> SweepData:
    """A one-point results store with given dissolution times (for hand-computed survival)."""
    n = len(times)
    runs = pd.DataFrame({
        "run_id": np.arange(n), "point_id": 0, "strategy": strategy, "replicate": np.arange(n),
        "n_steps": n_steps, "grant_term": grant_term, "dissolved": dissolved,
        "dissolved_step": [t if d else np.nan for t, d in zip(times, dissolved, strict=True)],
    })
    return SweepData(runs, pd.DataFrame(), {"factors": [], "n_steps": n_steps, "strategies": [strategy]})
