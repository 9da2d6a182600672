"""Designs too big to run are refused arithmetically, in milliseconds, before any allocation (issue 10, item 5)."""

from __future__ import annotations

import time

import pytest
from safety_support import write

import sim.sweep.runner as runner
from sim.cli import main as cli_main
from sim.sweep import SpecError, build_design, load_spec, plan_sweep
from sim.sweep.size import DEFAULT_MAX_POINTS, DEFAULT_MAX_RUNS, check_design_size

HUGE_REPLICATES = """
name = "huge"
strategies = ["stepwise", "funder_forced"]
replicates = 1_000_000_000_000
[factors]
initial_trust = [0.2, 0.5]
"""
# 8 factors x 10 values: 10**8 points (keep_series = [] so the band check does not catch it first).
BIG_GRID = """
name = "grid8"
strategies = ["stepwise"]
replicates = 1
keep_series = []
[factors]
initial_trust = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
cultural_distance = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
deadline = [6, 12, 18, 24, 30, 36, 42, 48, 54, 60]
n_orgs = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
communication = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
leadership = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
ground_rules = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
celebration = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
"""
BIG_SOBOL = """
name = "sobol40"
strategies = ["stepwise"]
replicates = 1
keep_series = []
[factors]
initial_trust = {min = 0.1, max = 0.9}
leadership = {min = 0.1, max = 0.9}
[sampling]
method = "sobol"
n = 1_099_511_627_776
dummy = false
"""


def timed_cli(argv: list[str]) -> tuple[int, float]:
    t0 = time.perf_counter()
    status = cli_main(argv)
    return status, time.perf_counter() - t0


@pytest.mark.parametrize(("text", "expected"), [
    (HUGE_REPLICATES, ["replicates: the design has 4,000,000,000,000 runs (4 cells x 1,000,000,000,000 replicates)",
                       f"above the limit of {DEFAULT_MAX_RUNS:,}", "--max-runs 4000000000000"]),
    (BIG_GRID, ["factors: the design has 100,000,000 points (10 x 10 x 10 x 10 x 10 x 10 x 10 x 10 values)",
                f"above the limit of {DEFAULT_MAX_POINTS:,}", "--max-points 100000000"]),
    (BIG_SOBOL, ["sampling.n: the design has 6,597,069,766,656 points (sobol with n = 1,099,511,627,776)",
                 "--max-points"]),
])
def test_validate_dry_run_and_sweep_refuse_a_design_too_big_in_milliseconds(tmp_path, capsys, monkeypatch, text,
                                                                             expected):
    # The reproduction: these passed validate (or made validate itself use 12 GB), then sweep and --dry-run
    # crashed with NumPy's ArrayMemoryError and left a folder marked running.
    spec = write(tmp_path, text)
    monkeypatch.setattr(runner, "build_design", lambda s: pytest.fail("the design was built before its size check"))
    out = tmp_path / "out"
    for argv in (["validate", str(spec)], ["sweep", str(spec), "--out", str(out), "--dry-run"],
                 ["sweep", str(spec), "--out", str(out), "--quiet"]):
        status, seconds = timed_cli(argv)
        err = capsys.readouterr().err
        assert status == 2, argv
        assert seconds < 2.0, (argv, seconds)  # milliseconds in fact; generous for a loaded machine
        for piece in expected:
            assert piece in err, (piece, err)
        assert "Traceback" not in err and "MemoryError" not in err
    assert not out.exists()


def test_the_limits_can_be_raised(tmp_path, capsys):
    spec = write(tmp_path, """
    name = "cube"
    strategies = ["stepwise"]
    replicates = 2
    n_steps = 5
    keep_series = []
    [factors]
    initial_trust = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    deadline = [6, 12, 18, 24, 30, 36, 42, 48, 54, 60, 66]
    """)
    assert cli_main(["validate", str(spec), "--max-points", "100"]) == 2
    assert "121 points" in capsys.readouterr().err
    assert cli_main(["validate", str(spec), "--max-runs", "241"]) == 2
    assert "242 runs (121 cells x 2 replicates)" in capsys.readouterr().err
    assert cli_main(["validate", str(spec), "--max-points", "121", "--max-runs", "242"]) == 0
    assert cli_main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--max-runs", "10", "--quiet"]) == 2
    assert not (tmp_path / "o").exists()
    assert cli_main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--max-runs", "242", "--quiet"]) == 0
    with pytest.raises(SpecError, match="242 runs"):
        plan_sweep(spec, max_runs=100)


def test_precision_designs_are_sized_by_their_cap(tmp_path):
    spec = write(tmp_path, """
    name = "prec"
    strategies = ["stepwise", "funder_forced"]
    [factors]
    initial_trust = [0.3, 0.85]
    [precision]
    outcome = "dissolved"
    half_width = 0.01
    max_replicates = 100_000_000
    """)
    with pytest.raises(SpecError, match=r"precision.max_replicates: the design has 400,000,000 runs \(4 cells x up to "
                                        r"100,000,000 replicates\)"):
        plan_sweep(spec)
    assert load_spec(spec).size.runs == 4 * 100_000_000


@pytest.mark.parametrize(("factors", "sampling"), [
    ("a = [0.1, 0.2, 0.3]\nb = [6, 12]", ""),
    ("a = {min = 0.1, max = 0.9}\nb = {min = 6, max = 60}", "method = 'lhs'\nn = 13"),
    ("a = {min = 0.1, max = 0.9}\nb = {min = 6, max = 60}\nc = {min = 0.0, max = 0.5}", "method = 'sobol'\nn = 8"),
    ("a = {min = 0.1, max = 0.9}\nb = {min = 6, max = 60}", "method = 'sobol'\nn = 16\ncalc_second_order = false"),
    ("a = {min = 0.1, max = 0.9}\nb = {min = 6, max = 60}\nc = {min = 0.0, max = 0.5}", "method = 'morris'\nn = 5"),
    ("a = {min = 0.1, max = 0.9}\nb = {min = 6, max = 60}",
     "method = 'morris'\nn = 10\noptimal_trajectories = 4"),
])
def test_the_arithmetic_is_the_size_of_the_design_built(tmp_path, factors, sampling):
    names = {"a": "initial_trust", "b": "deadline", "c": "cultural_distance"}
    for short, name in names.items():
        factors = factors.replace(f"{short} = ", f"{name} = ")
    spec = load_spec(write(tmp_path, f"""
name = "size"
strategies = ["stepwise", "funder_forced", "fixed"]
replicates = 3
[factors]
{factors}
[sampling]
{sampling or "method = 'grid'"}
"""))
    size = check_design_size(spec)
    design = build_design(spec)
    assert size == spec.size and size.points == design.n_points
    assert size.cells == 3 * design.n_points and size.runs == 3 * size.cells
