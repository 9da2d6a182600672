"""The headline study (grows into the full study): stepwise building against funder-forced collaboration.

Run with ``make run`` (or ``.venv/bin/python experiments/headline.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import sim
from sim.commands.run import summary_table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "headline"


def quick_comparison(runs: int = 5000, seed: int = 20261125) -> pd.DataFrame:
    """Stepwise against funder_forced at low and high initial trust, ``runs`` runs each."""
    rows = []
    for trust in (0.3, 0.85):
        for strategy in ("stepwise", "funder_forced"):
            r = sim.simulate(n_runs=runs, seed=seed, strategy=strategy, initial_trust=trust)
            t = summary_table(r.summary, r.n_steps)
            t.insert(0, "initial_trust", trust)
            t["benefit in first 24 steps"] = r.series("benefit")[:, :24].sum(axis=1).mean().round(1)
            rows.append(t)
    return pd.concat(rows)


def main() -> int:
    table = quick_comparison()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string())
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "quick_comparison.csv")
    print(f"wrote {OUT.relative_to(ROOT)}/quick_comparison.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
