"""The calibrated defaults against the patterns of coalition survival (docs/calibration.md, experiments/calibrate.py).

Each pattern of ``calibrate.TARGETS`` is measured on fresh engine runs at the defaults of sim/params.py (the runs
pass only the setting, never a dissolve_* constant), so the tests check the values actually applied. A fitted
pattern passes when its 99% interval (Wilson; Newcombe for differences; MOVER on the logit scale for P5) reaches
into its tolerance band: the model is not shown to lie outside it. The checks P6, P9, P10 are directional.
P6 and P9 do not hold in Model 5 (functioning is not a lasting trait of a run under the stepwise rules; see
docs/calibration.md): they are strict xfails, so the day they hold the suite says so.

Run sizes: 6,000 runs of the calibration setting and 3,000 of each variation (leadership 0.1 / 0.9, n_orgs 4 /
12), the same seeds for every setting. That gives 99% half-widths of about 0.010 on S(36), 0.016 on S(102),
0.05 on the P8 difference and 0.15 on P5's logit difference: each well inside its band's width, so a pattern
off by a band's width fails.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "experiments" / "calibration.toml"
BASE_RUNS, VARIATION_RUNS = 6000, 3000
SEED = 2012  # not one of calibrate.py's seeds: a fresh check
LEVEL = 0.99

pytestmark = pytest.mark.xdist_group("calibration")  # one worker builds the runs once


def _load_calibrate():
    """experiments/calibrate.py as a module (it is a script, not part of the package)."""
    if "calibrate" in sys.modules:
        return sys.modules["calibrate"]
    spec = importlib.util.spec_from_file_location("calibrate", ROOT / "experiments" / "calibrate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibrate"] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["calibrate"]
        raise
    return module


cal = _load_calibrate()
FITTED = [t.id for t in cal.TARGETS if t.in_loss]


def _setting() -> dict:
    return cal.setting(cal.load_calibration_spec(SPEC))


@pytest.fixture(scope="module")
def measured() -> dict:
    """Every pattern at the defaults, with 99% intervals."""
    seeds = sim.rng.run_seeds(SEED, BASE_RUNS)
    cohorts = {}
    for name, change in cal.COHORTS.items():
        runs = BASE_RUNS if name == "base" else VARIATION_RUNS
        r = sim.simulate(seeds=seeds[:runs], keep=["left", "success", "contribution_rate"], **{**_setting(), **change})
        cohorts[name] = cal.Cohort.from_results(r)
    return cal.measure(cohorts, level=LEVEL)


def _defaults() -> str:
    return ", ".join(f"{n}={sim.PARAMETERS[n].default}" for n in cal.HAZARD_CONSTANTS)


@pytest.mark.parametrize("pattern", FITTED)
def test_calibrated_defaults_reproduce_the_fitted_pattern(measured, pattern):
    t, m = cal.TARGET[pattern], measured[pattern]
    assert math.isfinite(m.low) and math.isfinite(m.high)
    assert m.high >= t.low and m.low <= t.high, (
        f"{pattern} ({t.statistic}) = {m.value:.3f}, {LEVEL:.0%} interval [{m.low:.3f}, {m.high:.3f}], lies outside "
        f"its band [{t.low:.3f}, {t.high:.3f}] ({t.source}); defaults now: {_defaults()}")


def test_survival_20_months_after_the_grant_is_above_gloppens_lower_bound(measured):
    # P10: 11 of 12 CTC coalitions still existed 20 months after support ended (Wilson lower bound 0.65).
    m = measured["P10"]
    assert m.low > cal.TARGET["P10"].low, f"S(56) = {m.value:.3f} [{m.low:.3f}, {m.high:.3f}]"


@pytest.mark.xfail(strict=True, reason="functioning is not a lasting trait of a run under the stepwise rules "
                                       "(docs/calibration.md, P6)")
def test_functioning_in_the_grants_last_year_predicts_survival(measured):
    # P6: among runs operating at 36, the top half by success share in steps 25-36 survives to 84 more.
    m = measured["P6"]
    assert m.value > 0 and m.p < cal.TARGET["P6"].alpha


@pytest.mark.xfail(strict=True, reason="contribution is not a lasting trait of a run under the stepwise rules "
                                       "(docs/calibration.md, P9)")
def test_contribution_in_the_grants_last_year_predicts_survival(measured):
    # P9: Spearman(mean contribution rate in steps 25-36, operating at 102) > 0 among runs operating at 36.
    m = measured["P9"]
    assert m.value > 0 and m.p < cal.TARGET["P9"].alpha


def test_the_pattern_test_rejects_a_hazard_twice_as_high():
    # Power of the band test: with dissolve_base doubled, S(36) and S(102) leave their bands.
    r = sim.simulate(n_runs=3000, seed=SEED + 1, keep=[], **_setting(),
                     dissolve_base=2 * sim.PARAMETERS["dissolve_base"].default)
    c = cal.Cohort.from_dissolved(r.summary["dissolved_step"].to_numpy(dtype=float))
    for pattern, step in (("P1", 36), ("P4", 102)):
        t = cal.TARGET[pattern]
        low, high = cal.wilson(c.at(step).sum(), len(c.alive), LEVEL)
        assert high < t.low, f"{pattern}: S({step}) in [{low:.3f}, {high:.3f}] still reaches {t.low:.3f}"


# --- the calibration's own machinery ----------------------------------------------------------------------------


def test_reweighted_runs_give_exactly_the_engines_dissolution():
    # The recorded hazard inputs with the engine's own DISSOLVE draws give the engine's dissolved_step, run for
    # run, for any values of the hazard's constants: the fit's shortcut is exact.
    setting = {**_setting(), "n_orgs": 3}  # small partnerships: some runs also end with fewer than two members
    seeds = sim.rng.run_seeds(77, 400)
    tr = cal.record("test", seeds, setting)
    assert np.isfinite(tr.ended).any()
    for constants in ({n: sim.PARAMETERS[n].default for n in cal.HAZARD_CONSTANTS},
                      {"dissolve_base": 0.02, "dissolve_trust": 20.0, "dissolve_fail": 6.0, "dissolve_payoff": 0.0,
                       "dissolve_leadership": 0.5}):
        engine = sim.simulate(seeds=seeds, keep=[], **setting, **constants).summary["dissolved_step"].to_numpy(float)
        np.testing.assert_array_equal(tr.realised_dissolution(constants), engine)
        # and the re-weighted survival is the mean of the engine's over the DISSOLVE draws: close on 400 runs
        s102 = float(np.mean(~(engine <= 102)))
        assert abs(tr.cohort_for(constants).survival(102) - s102) < 4 * math.sqrt(0.25 / 400)


def test_measures_on_a_hand_made_cohort():
    # Ten runs: never dissolved (NaN) x4, and dissolved at steps 10, 36, 37, 48, 50, 84.
    ds = np.array([np.nan, np.nan, np.nan, np.nan, 10, 36, 37, 48, 50, 84], dtype=float)
    assert cal.survival_at(ds, 36) == pytest.approx(8 / 10)  # 10 and 36 are gone by the end of step 36
    assert cal.survival_at(ds, 84) == pytest.approx(4 / 10)
    hazard, ended, at_risk = cal.yearly_hazards(ds)
    # Year 4 (37-48): 8 at risk, 37 and 48 end. Year 5 (49-60): 6 at risk, 50 ends. Year 6: 5, none.
    # Year 7 (73-84): 5 at risk, 84 ends.
    np.testing.assert_array_equal(at_risk, [8, 6, 5, 5])
    np.testing.assert_array_equal(ended, [2, 1, 0, 1])
    np.testing.assert_allclose(hazard, [2 / 8, 1 / 6, 0.0, 1 / 5])


def test_conditional_patterns_on_a_hand_made_cohort():
    # P8 among runs operating at 36: with a departure, 2 of 3 operate at 102; without, 1 of 2. A run that ended
    # before 36 (with a departure) is left out.
    ds = np.array([np.nan, np.nan, 80, np.nan, 90, 20], dtype=float)
    c = cal.Cohort.from_dissolved(ds)
    c.departures = np.array([1, 2, 1, 0, 0, 3], dtype=float)
    c.success_late = np.array([1.0, 0.9, 0.5, 0.9, 0.2, np.nan])
    c.contribution_late = np.array([0.9, 0.8, 0.5, 0.7, 0.3, np.nan])
    cohorts = {name: c for name in cal.COHORTS}
    m = cal.measure(cohorts)
    assert m["P8"].value == pytest.approx(2 / 3 - 1 / 2)
    # P6 at 84: the top half by success share is what lies above the median (0.9): run 0 alone, operating at 84.
    # The bottom four: runs 1 and 3 never dissolve, run 2 ends at 80, run 4 at 90, so 3 of 4 operate at 84.
    top = cal.median_split(c.success_late[:5])
    np.testing.assert_array_equal(top, [True, False, False, False, False])
    assert m["P6"].value == pytest.approx(1.0 - 3 / 4)
    assert m["P7"].value == 0.0 and m["P5"].value == 0.0  # the same cohort on both sides


def test_loss_is_zero_on_the_targets_and_counts_target_sds_off_them():
    on_target = {t.id: (t.target if t.kind == "point" else (t.low + t.high) / 2 if math.isfinite(t.high) else 1.0)
                 for t in cal.TARGETS}
    assert cal.loss(on_target) == pytest.approx(0.0)
    sd36, _, sdh = cal.target_sds()
    assert sd36 == pytest.approx(math.sqrt(0.9 * 0.1 / 110))
    assert cal.loss({**on_target, "P1": 0.90 + sd36}) == pytest.approx(1.0)
    # a band costs nothing inside, and (distance past its edge / sd)^2 outside
    assert cal.loss({**on_target, "P3.4": 0.079}) == pytest.approx(0.0)
    assert cal.loss({**on_target, "P3.4": 0.10}) == pytest.approx((0.02 / sdh[0]) ** 2)
    # checks are not in the loss; an undefined fitted value is far off
    assert cal.loss({**on_target, "P6": -1.0, "P9": -1.0, "P10": 0.0}) == pytest.approx(0.0)
    assert cal.loss({**on_target, "P5": math.nan}) >= cal.FAR ** 2


def test_logit_difference_interval():
    d, low, high = cal.logit_difference(840, 1000, 480, 1000)
    assert d == pytest.approx(math.log(0.84 / 0.16) - math.log(0.48 / 0.52))
    assert low < d < high
    # near the Wald interval for large samples
    se = math.sqrt(1 / 840 + 1 / 160 + 1 / 480 + 1 / 520)
    assert low == pytest.approx(d - 1.96 * se, abs=0.02) and high == pytest.approx(d + 1.96 * se, abs=0.02)


def test_calibration_spec_fits_only_the_hazards_constants():
    spec = cal.load_calibration_spec(SPEC)
    assert list(spec.strategies) == ["funder_patient"]
    assert spec.base["grant_term"] == 36 and spec.n_steps >= 102
    assert set(spec.factor_names) <= set(cal.HAZARD_CONSTANTS)
    # the documented values lie inside the bounds, and are the defaults applied in sim/params.py
    for f in spec.factors:
        assert f.low <= cal.CALIBRATED[f.name] <= f.high
        assert sim.PARAMETERS[f.name].default == cal.CALIBRATED[f.name]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("leadership = {min = 0.2, max = 0.8}", "[factors]"), "lever"),
        (("exit_base = {min = 0.001, max = 0.01}", "[factors]"), "only the dissolution hazard"),
        (('strategies = ["stepwise"]', 'strategies = ["funder_patient"]'), "funder_patient"),
        (("grant_term = 24", "grant_term = 36"), "grant_term"),
        (("dissolve_bass = {min = 0.0, max = 2.0}", "[factors]"), "dissolve_bass"),
    ],
)
def test_calibration_spec_errors_name_the_problem(tmp_path, change, message):
    new, anchor = change
    text = SPEC.read_text()
    assert anchor in text
    text = text.replace(anchor, f"{anchor}\n{new}" if anchor == "[factors]" else new, 1)
    bad = tmp_path / "calibration.toml"
    bad.write_text(text)
    with pytest.raises(cal.CalibrationError, match=message):
        cal.load_calibration_spec(bad)
