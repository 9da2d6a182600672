"""Model 5's reference variants reproduce Model 4's numbers to the bit.

``tests/data/model4_digests.json`` was recorded once, by the Model 4 engine
(commit 29863d7, before any Model 5 change): the twin test's 240 random
parameter sets (every Model 4 parameter given explicitly), their seeds, and a
SHA-256 digest of every series and outcome array. The Model 5 engine run on the
same sets with :data:`sim.REFERENCE_VARIANTS` must give the same digests: no new
rule, draw or output may move an old number. Never regenerate the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

import sim

DATA = Path(__file__).resolve().parent / "data" / "model4_digests.json"


def digest(values: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (C order)."""
    a = np.ascontiguousarray(values)
    h = hashlib.sha256(str(a.dtype).encode())
    h.update(str(a.shape).encode())
    h.update(a.tobytes())
    return h.hexdigest()


def digests(results: sim.Results, series: list[str], outcomes: list[str]) -> dict[str, dict[str, str]]:
    """The digest of each series (runs x steps) and of each outcome column, and of each run's row of all of them."""
    whole = {name: digest(results.series(name)) for name in series}
    whole.update({name: digest(results.summary[name].to_numpy()) for name in outcomes})
    runs = {}
    for run in range(len(results)):
        h = hashlib.sha256()
        for name in series:
            h.update(np.ascontiguousarray(results.series(name)[run]).tobytes())
        for name in outcomes:
            h.update(np.ascontiguousarray(results.summary[name].to_numpy()[run:run + 1]).tobytes())
        runs[str(run)] = h.hexdigest()
    return {"outputs": whole, "runs": runs}


def _record() -> None:  # pragma: no cover - run once, on Model 4
    from tests.test_twin import N_SETS, draw_parameters

    rng = np.random.default_rng(19960101)
    sets = [draw_parameters(rng, k) for k in range(N_SETS)]
    seeds = [int(s) for s in rng.integers(0, 2**63, size=N_SETS, dtype=np.int64)]
    names = list(sets[0])
    results = sim.simulate(seeds=seeds, **{name: [p[name] for p in sets] for name in names})
    series, outcomes = list(sim.engine.SERIES), list(sim.engine.SUMMARY_OUTCOMES)
    record = {"model_version": sim.MODEL_VERSION, "commit": "29863d7", "series": series, "outcomes": outcomes,
              "seeds": seeds, "sets": sets, **digests(results, series, outcomes)}
    DATA.write_text(json.dumps(record, indent=0, sort_keys=False) + "\n")


if __name__ == "__main__":  # pragma: no cover
    _record()


def test_reference_variants_reproduce_model4_to_the_bit():
    record = json.loads(DATA.read_text())
    sets, seeds = record["sets"], record["seeds"]
    assert record["model_version"] == "4" and len(sets) == 240
    params = {name: [p[name] for p in sets] for name in sets[0]}
    results = sim.simulate(seeds=seeds, **params, **sim.REFERENCE_VARIANTS)
    got = digests(results, record["series"], record["outcomes"])
    differ = [name for name, d in record["outputs"].items() if got["outputs"][name] != d]
    runs = [run for run, d in record["runs"].items() if got["runs"][run] != d]
    assert not differ and not runs, f"outputs {differ} differ from Model 4 in runs {runs[:10]} (of {len(runs)})"
    # a batch mixing the reference rules with Model 5's must not move the reference runs either
    mixed = {kind: [name if k % 2 else sim.REFERENCE_VARIANTS[kind] for k in range(len(sets))]
             for kind, name in sim.variants.MODEL5_VARIANTS.items()}
    results = sim.simulate(seeds=seeds, **params, **mixed)
    got = digests(results, record["series"], record["outcomes"])["runs"]
    assert all(got[str(k)] == record["runs"][str(k)] for k in range(0, len(sets), 2))
