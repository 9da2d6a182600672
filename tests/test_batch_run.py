"""Mesa's own batch_run drives the twin unchanged, and reports what the engine computes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mesa import batch_run

import sim
from sim.engine import SERIES
from sim.model import AGENT_REPORTERS, PartnershipModel

GRID = {
    "seed": range(3),
    "strategy": ["stepwise", "funder_forced"],
    "initial_trust": [0.3, 0.85],
    "n_orgs": 5,
    "n_steps": 40,
    "membership": "closed",  # one row per founding organization and step (newcomers would add agents)
}


def engine_for(rows: pd.DataFrame) -> sim.Results:
    """The engine's runs for the (seed, strategy, initial_trust) of each batch_run run, in RunId order."""
    runs = rows.groupby("RunId").first().sort_index()
    return sim.simulate(seeds=runs["seed"].tolist(), strategy=runs["strategy"].tolist(),
                        initial_trust=runs["initial_trust"].tolist(), n_orgs=5, n_steps=40, membership="closed")


@pytest.fixture(scope="module")
def every_step() -> pd.DataFrame:
    return pd.DataFrame(batch_run(PartnershipModel, parameters=GRID, iterations=1, max_steps=1000,
                                  data_collection_period=1, display_progress=False))


@pytest.mark.xdist_group(name="batch_run_every_step")
def test_columns(every_step):
    expected = {"RunId", "iteration", "Step", "AgentID", *GRID, *SERIES, *AGENT_REPORTERS}
    assert expected <= set(every_step.columns)
    assert every_step["RunId"].nunique() == 3 * 2 * 2


@pytest.mark.xdist_group(name="batch_run_every_step")
def test_every_step_equals_the_engine(every_step):
    engine = engine_for(every_step)
    for run_id, rows in every_step.groupby("RunId"):
        per_step = rows.groupby("Step").first().sort_index()
        steps = per_step.index.to_numpy()
        last = int(engine.summary["dissolved_step"].iloc[run_id]) if engine.summary["dissolved"].iloc[run_id] else 40
        # Step 0 (set-up) through the last step played: the dissolving step, or n_steps
        assert steps.tolist() == list(range(last + 1)), run_id
        assert (rows.groupby("Step").size() == 5).all()  # one row per organization and step
        for name in SERIES:
            got = per_step[name].to_numpy(dtype=float)[1:]
            want = engine.series(name)[run_id, :last].astype(float)
            np.testing.assert_allclose(got, want, atol=1e-9, rtol=0, equal_nan=True, err_msg=f"{run_id} {name}")
    assert engine.summary["dissolved"].any() and not engine.summary["dissolved"].all()


def test_final_rows_equal_the_engine_outcomes():
    """The default collection period reports each run's final state only: the engine's outcomes."""
    rows = pd.DataFrame(batch_run(PartnershipModel, parameters=GRID, max_steps=1000, display_progress=False))
    engine = engine_for(rows)
    final = rows.groupby("RunId").first().sort_index()
    s = engine.summary
    np.testing.assert_allclose(final["cumulative_benefit"], s["cumulative_benefit"], atol=1e-9)
    np.testing.assert_array_equal(final["Step"], np.where(s["dissolved"], s["dissolved_step"], 40))
    np.testing.assert_array_equal(final["level"], s["final_level"])
    np.testing.assert_allclose(final["mean_trust"], s["final_trust"], atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(final["active"] == 0, s["dissolved"])


def test_replicates_of_a_fixed_seed_are_identical_so_sweep_the_seed():
    rows = pd.DataFrame(batch_run(PartnershipModel, parameters={"seed": 7, "n_steps": 30}, iterations=2,
                                  max_steps=1000, display_progress=False))
    a, b = (r.drop(columns=["RunId", "iteration"]).reset_index(drop=True) for _, r in rows.groupby("iteration"))
    pd.testing.assert_frame_equal(a, b)
    swept = pd.DataFrame(batch_run(PartnershipModel, parameters={"seed": [7, 8], "n_steps": 30},
                                   max_steps=1000, display_progress=False))
    assert swept.groupby("RunId")["cumulative_benefit"].first().nunique() == 2


def test_max_steps_below_n_steps_stops_early():
    # Mesa runs while model.steps <= max_steps, so max_steps=5 plays 6 steps.
    rows = pd.DataFrame(batch_run(PartnershipModel, parameters={"seed": 1, "n_steps": 40, "n_orgs": 3, "quorum": 0.0},
                                  max_steps=5, data_collection_period=1, display_progress=False))
    assert rows["Step"].max() == 5
