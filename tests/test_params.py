"""The parameter vocabulary: defaults, ranges and the errors for each kind of mistake."""

import math

import numpy as np
import pytest

import sim
from sim.params import PARAMETERS, ParamError, Params, batch_params, coerce_value

MODEL_MD_NAMES = """n_orgs n_steps strategy initial_trust trust_noise cultural_distance prejudice cultural_learning
communication ground_rules leadership individualism identity gain_rate loss_rate free_rider_penalty celebration
capacity_growth climb_margin climb_patience retreat_after fixed_level forced_level grant deadline benefit_target
schedule_interval grant_term quorum trait_spread miscommunication misperception contribution_bias success_bias
success_slope exit_base exit_gap identity_weight""".split()


#: Parameters the project added to MODEL.md's vocabulary (documented in docs/ODD.md): free riders, then Model 5's
#: rule variants and their constants (read only by the non-reference variants: docs/model-notes.md).
ADDED = ["free_riders", "dissolution", "membership", "capacity_rule", "review", "payoffs", "recruit_rate", "memory",
         "payoff_weight", "exit_payoff", "dissolve_base", "dissolve_trust", "dissolve_fail", "dissolve_payoff",
         "dissolve_leadership", "capacity_ceiling", "review_share"]


def test_vocabulary_is_model_md():
    assert list(PARAMETERS) == MODEL_MD_NAMES + ADDED
    assert PARAMETERS["free_riders"].default == 0  # an addition must leave MODEL.md's model unchanged
    for spec in PARAMETERS.values():
        assert spec.meaning
        if spec.kind is not str:
            assert spec.low <= spec.default <= spec.high


def test_defaults_validate_and_roundtrip():
    p = Params()
    assert p.n_orgs == 6 and p.strategy == "stepwise"
    assert Params(**p.to_dict()) == p
    assert p.replace(initial_trust=0.7).initial_trust == 0.7


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("n_orgs", -3, "n_orgs = -3 is out of range (allowed: 2..64)"),
        ("n_orgs", 65, "allowed: 2..64"),
        ("n_orgs", 2.5, "n_orgs = 2.5 must be a whole number"),
        ("initial_trust", 1.5, "initial_trust = 1.5 is out of range (allowed: 0..1)"),
        ("loss_rate", float("nan"), "loss_rate = nan is out of range"),
        ("benefit_target", -1.0, "(allowed: >= 0)"),
        ("strategy", "stepwize", "did you mean 'stepwise'"),
        ("strategy", 3, "is not a registered strategy"),
        ("grant", "half", "grant = 'half' is not a number"),
        ("contribution_bias", 11, "allowed: -10..10"),
    ],
)
def test_bad_values_name_the_parameter_and_range(name, value, fragment):
    with pytest.raises(ParamError) as err:
        Params(**{name: value})
    assert fragment in str(err.value)
    with pytest.raises(ParamError) as err:
        sim.simulate(n_runs=2, **{name: value})
    assert name in str(err.value)


def test_unknown_name_suggests_closest():
    with pytest.raises(ParamError, match="did you mean 'initial_trust'"):
        sim.simulate(n_runs=2, initail_trust=0.3)
    with pytest.raises(ParamError, match="did you mean 'leadership'"):
        Params().replace(leadershp=0.3)
    with pytest.raises(TypeError):
        Params(leadershp=0.3)


def test_batch_per_run_values_and_errors():
    p = batch_params(3, {"initial_trust": [0.1, 0.5, 0.9], "n_orgs": 8})
    assert p["initial_trust"].tolist() == [0.1, 0.5, 0.9]
    assert p["n_orgs"].dtype == np.int64 and p["n_orgs"].tolist() == [8, 8, 8]
    assert p["quorum"].tolist() == [PARAMETERS["quorum"].default] * 3
    with pytest.raises(ParamError, match=r"initial_trust = 1.2 \(run 1\) is out of range"):
        batch_params(3, {"initial_trust": [0.1, 1.2, 0.9]})
    with pytest.raises(ParamError, match="got 2 values for 3 runs"):
        batch_params(3, {"initial_trust": [0.1, 0.2]})
    with pytest.raises(ParamError, match="n_runs = 0"):
        batch_params(0, {})
    with pytest.raises(ParamError, match="not a registered strategy"):
        batch_params(2, {"strategy": ["stepwise", "nope"]})


def test_cli_text_coercion():
    assert coerce_value("n_orgs", "12") == 12 and isinstance(coerce_value("n_orgs", "12"), int)
    assert coerce_value("initial_trust", "0.25") == 0.25
    assert coerce_value("benefit_target", "1e3") == 1000.0
    with pytest.raises(ParamError, match="initial_trust = 'abc' is not a number"):
        coerce_value("initial_trust", "abc")
    with pytest.raises(ParamError, match="allowed: 1..5"):
        coerce_value("fixed_level", "6")


def test_ranges_include_infinite_upper_bound():
    assert PARAMETERS["benefit_target"].high == math.inf
    assert Params(benefit_target=1e9).benefit_target == 1e9


BAD_VALUES = [
    ("n_orgs", -3), ("n_orgs", 2.5), ("n_orgs", 65.5), ("n_orgs", float("inf")), ("n_orgs", 10**400),
    ("n_orgs", True), ("n_orgs", None), ("initial_trust", 1.5), ("loss_rate", float("nan")), ("grant", "half"),
    ("benefit_target", -1.0), ("contribution_bias", np.float64(11)), ("fixed_level", np.int64(6)),
]


@pytest.mark.parametrize("name, value", BAD_VALUES)
def test_one_range_check_for_one_value_and_for_a_batch(name, value):
    """A run's value and a batch's per-run values get the same verdict and the same words."""
    with pytest.raises(ParamError) as one:
        Params(**{name: value})
    good = PARAMETERS[name].default
    with pytest.raises(ParamError) as batch:
        batch_params(2, {name: [good, value]})
    assert "(run 1)" in str(batch.value) and str(batch.value).replace(" (run 1)", "", 1) == str(one.value)
    with pytest.raises(ParamError) as shared:
        batch_params(2, {name: value})
    assert str(shared.value) == str(one.value)


def test_huge_and_infinite_values_are_param_errors_not_crashes():
    """Once an OverflowError (int(inf), float(10**400)) or a ValueError (int(nan)) escaped."""
    for value in (float("inf"), float("nan"), 10**400, -(10**400)):
        with pytest.raises(ParamError, match="n_orgs = .* is out of range"):
            Params(n_orgs=value)
    with pytest.raises(ParamError, match="characters"):  # 401 digits are not printed in full
        Params(n_orgs=10**400)
    for text in ("inf", "1e400", "nan"):
        with pytest.raises(ParamError, match="n_orgs = .* is out of range"):
            coerce_value("n_orgs", text)
    with pytest.raises(ParamError, match=r"n_orgs = 1000000000000000000000000000000 \(run 1\) is out of range"):
        batch_params(2, {"n_orgs": [6, 10**30]})
