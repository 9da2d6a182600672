"""The engine, with the reference constants, reproduces the reference regime table (sim.regime)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim import regime
from sim.cli import main as cli_main
from sim.params import PARAMETERS, REFERENCE_DEFAULTS, ParamError

pytestmark = pytest.mark.xdist_group("regime")


def test_the_quick_rows_agree_with_the_reference_regime():
    result = regime.compare_regime("quick", runs=2000)
    failing = result.table.loc[~result.table["ok"], ["strategy", "initial_trust"]].values.tolist()
    assert result.ok, f"rows outside tolerance: {failing}\n{result.format()}"
    assert len(result.table) == 10
    assert set(result.table["strategy"]) == {"stepwise", "funder_forced", "funder_schedule", "fixed", "funder_patient"}
    assert set(result.table["initial_trust"]) == {0.3, 0.85}


@pytest.mark.slow
def test_every_row_agrees_with_the_reference_regime():
    result = regime.compare_regime("all", runs=2000)
    assert len(result.table) == 25
    assert result.ok, result.format()


def test_the_reference_constants_are_the_reference_defaults():
    consts = regime.REFERENCE_CONSTANTS
    assert set(consts) <= set(PARAMETERS)
    for name, ref in REFERENCE_DEFAULTS.items():
        assert consts[name] == ref, name  # the calibrated constants at their reference values
    others = {n: v for n, v in consts.items() if n not in REFERENCE_DEFAULTS}
    assert others == {n: PARAMETERS[n].default for n in others}  # calibration moved only those four
    # Model 5's rule variants are added by sim.REFERENCE_VARIANTS; their constants are read only by Model 5's rules
    model5 = set(sim.REFERENCE_VARIANTS) | {c for cs in sim.variants.VARIANT_CONSTANTS.values() for c in cs}
    assert not set(PARAMETERS) - set(consts) - {"strategy", "initial_trust", "free_riders"} - model5


def test_the_table_in_docs_odd_is_the_table_compared():
    text = (Path(__file__).resolve().parents[1] / "docs" / "ODD.md").read_text()
    section = text[text.index("## 9. Reference specification"):text.index("## References")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[0] in {s for s, _ in regime.TABLE}:
            rows[(cells[0], float(cells[1]))] = tuple(float(c) for c in cells[2:])
    assert rows == regime.TABLE


def test_tolerance_is_about_four_standard_errors_of_both_samples():
    # ref 0.39 at 2,000 runs: 4 (sqrt(v / 2000) + sqrt(v / 5000)) + 0.005 = 0.0762 with v = 0.39 * 0.61
    assert regime.share_ok(0.39 + 0.076, 0.39, 2000) and not regime.share_ok(0.39 + 0.077, 0.39, 2000)
    # Fewer runs, wider band.
    assert regime.share_ok(0.39 + 0.1, 0.39, 500) and not regime.share_ok(0.39 + 0.1, 0.39, 2000)
    # A reference share of 0 still allows a little (the floor 0.5 / n).
    assert regime.share_ok(0.003, 0.0, 2000) and not regime.share_ok(0.02, 0.0, 2000)
    assert regime.mean_ok(398 * 1.08 + 0.99, 398) and not regime.mean_ok(398 * 1.08 + 1.01, 398)
    assert regime.mean_ok(-0.99, 0) and not regime.mean_ok(1.01, 0)


def test_a_figure_outside_tolerance_is_marked_and_fails_the_command(monkeypatch, capsys):
    row = ("stepwise", 0.3)
    monkeypatch.setitem(regime.TABLE, row, (0.01, 0.39, 0.99, 28.2, 600))  # benefit over 120 far off
    result = regime.compare_regime([row], runs=300)
    assert not result.ok and result.n_differ == 1
    assert not result.table["benefit_120_ok"].item() and result.table["benefit_24_ok"].item()
    text = result.format()
    assert "/600.0 X" in text and "1 row(s) differ" in text
    monkeypatch.setattr(regime, "QUICK", (row,))
    assert cli_main(["regime", "--runs", "300"]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 3 and "stepwise         0.3" in out and "X" in out


def test_the_command_prints_engine_over_reference_for_every_quick_row(monkeypatch, capsys):
    monkeypatch.setattr(regime, "QUICK", regime.QUICK[:2])
    assert cli_main(["regime", "--runs", "400"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["strategy", "trust"]
    assert [ln.split()[:2] for ln in lines[1:3]] == [["stepwise", "0.3"], ["stepwise", "0.85"]]
    assert lines[-1].endswith("All rows agree with the reference regime.") and "400 runs a row" in lines[-1]
    assert lines[1].split()[2] == f"{regime.compare_regime([('stepwise', 0.3)], runs=400).table.iloc[0, 2]:.2f}/0.01"


def test_reference_variants_of_the_package_are_passed_with_the_constants(monkeypatch):
    seen = []
    real = sim.simulate

    def spy(**kwargs):
        seen.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(sim, "simulate", spy)
    plain = regime.compare_regime([("fixed", 0.85)], runs=50)
    assert plain.variants == sim.REFERENCE_VARIANTS and seen[-1]["quorum"] == 0.5 and seen[-1]["exit_base"] == 0.007
    assert seen[-1]["dissolution"] == "quorum" and seen[-1]["membership"] == "closed"
    harsher = {**sim.REFERENCE_VARIANTS, "quorum": 0.9}
    monkeypatch.setattr(sim, "REFERENCE_VARIANTS", harsher, raising=False)
    varied = regime.compare_regime([("fixed", 0.85)], runs=50)
    assert varied.variants == harsher and seen[-1]["quorum"] == 0.9
    assert seen[-1]["strategy"] == "fixed" and seen[-1]["initial_trust"] == 0.85
    assert varied.table["dissolved_by_36"].item() > plain.table["dissolved_by_36"].item()


def test_bad_requests_are_refused_with_the_allowed_values():
    with pytest.raises(ParamError, match="runs = 0 must be a whole number >= 1"):
        regime.compare_regime(runs=0)
    with pytest.raises(ParamError, match="rows = 'some' is not allowed"):
        regime.compare_regime("some")
    with pytest.raises(ParamError, match=r"\('stepwise', 0.4\) is not a row.*0.15, 0.3, 0.5, 0.7, 0.85"):
        regime.compare_regime([("stepwise", 0.4)])
