"""Experiment specs and designs: every mistake gets its clear error; samplers match SALib / scipy.stats.qmc."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main as cli_main
from sim.rng import run_seeds
from sim.sweep import SpecError, build_design, load_spec
from sim.sweep.design import round_integer
from sim.sweep.plan import run_ids_for, seeds_for

GOOD = """
name = "t"
strategies = ["stepwise", "funder_forced"]
replicates = 3
n_steps = 12
seed = 42
keep_series = ["mean_trust", "level"]
[base]
n_orgs = 6
[factors]
initial_trust = [0.1, 0.3, 0.5]
deadline = [12, 24]
[sampling]
method = "grid"
"""


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    for line in info.value.problems:
        assert line.startswith(str(path) + ":"), line  # every problem names the file
    return info.value.problems


def test_good_spec_loads_with_its_values(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.strategies == ("stepwise", "funder_forced")
    assert spec.factor_names == ["initial_trust", "deadline"]
    assert spec.replicates == 3 and spec.n_steps == 12 and spec.seed == 42
    assert spec.base == {"n_orgs": 6}


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (("n_orgs = 6", "n_orgz = 6"), "base.n_orgz", ["unknown parameter", "did you mean 'n_orgs'"]),
        (("n_orgs = 6", "n_orgs = 99"), "base.n_orgs", ["99", "out of range", "2..64"]),
        (("[0.1, 0.3, 0.5]", "[0.1, 1.3, 0.5]"), "factors.initial_trust[1]", ["1.3", "out of range", "0..1"]),
        (('"funder_forced"]', '"funder_farced"]'), "strategies[1]", ["unknown strategy", "funder_forced",
                                                                    "stepwise, funder_forced"]),
        (('method = "grid"', 'method = "halton"'), "sampling.method", ["halton", "grid, lhs, sobol, morris"]),
        (("replicates = 3", "replicates = 0"), "replicates", ["0", ">= 1"]),
        (('"level"]', '"levels"]'), "keep_series[1]", ["unknown series", "did you mean 'level'"]),
        (("deadline = [12, 24]", "deadline = [12.5, 24]"), "factors.deadline[0]", ["whole number"]),
        (("deadline = [12, 24]", "strategy = ['fixed']"), "factors.strategy", ["top-level `strategies`"]),
        (("n_orgs = 6", "initial_trust = 0.4"), "factors.initial_trust", ["also set in [base]"]),
    ],
)
def test_each_mistake_gets_a_clear_error(tmp_path, change, key, words):
    old, new = change
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new))
    assert len(found) == 1, found
    assert f": {key}: " in found[0]
    for w in words:
        assert w in found[0], (w, found[0])


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    text = (GOOD.replace("n_orgs = 6", "n_orgz = 6").replace("replicates = 3", "replicates = 0")
            .replace('method = "grid"', 'method = "grd"').replace('"funder_forced"]', '"nope"]'))
    found = problems(tmp_path, "colour = 1\n" + text)
    keys = {line.split(": ")[1] for line in found}
    assert keys == {"base.n_orgz", "replicates", "sampling.method", "strategies[1]", "colour"}


def test_malformed_toml_and_missing_file(tmp_path):
    found = problems(tmp_path, 'name = "x"\nstrategies = ["stepwise"]\nreplicates = = 3\n')
    assert len(found) == 1 and "malformed TOML" in found[0] and "line 3" in found[0]
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nothing.toml")


def test_sampled_factor_mistakes(tmp_path):
    sobol = """
    name = "s"
    strategies = ["stepwise"]
    replicates = 1
    [factors]
    initial_trust = {min = 0.2, max = 0.9}
    deadline = [12, 24]
    leadership = {min = 0.8, max = 0.2}
    prejudice = {min = 0.1}
    [sampling]
    method = "sobol"
    n = 100
    """
    found = problems(tmp_path, sobol)
    text = "\n".join(found)
    assert "sampling.n: 100 is not a power of two" in text and "64 or 128" in text
    assert "factors.deadline: sampling method 'sobol' takes bounds" in text
    assert "factors.leadership: min (0.8) must be below max (0.2)" in text
    assert "factors.prejudice: needs both min and max" in text
    grid_bounds = GOOD.replace("deadline = [12, 24]", "deadline = {min = 12, max = 24}")
    assert "grid sampling takes a list" in problems(tmp_path, grid_bounds)[0]
    no_n = sobol.replace("n = 100\n", "").replace("deadline = [12, 24]\n", "")
    assert any("sampling.n: missing" in p for p in problems(tmp_path, no_n))


def test_precision_mistakes(tmp_path):
    text = GOOD.replace("replicates = 3", "") + """
    [precision]
    outcome = "dissolvd"
    half_width = -1
    confidence = 95
    max_replicates = 5
    """
    found = "\n".join(problems(tmp_path, text))
    for key in ("precision.outcome", "precision.half_width", "precision.confidence", "precision.max_replicates"):
        assert key in found
    both = GOOD + "\n[precision]\noutcome = 'dissolved'\nhalf_width = 0.05\nmax_replicates = 100\n"
    assert "either replicates or a [precision]" in problems(tmp_path, both)[0]


def test_validate_command_lists_every_problem(tmp_path, capsys):
    good = write(tmp_path, GOOD, "good.toml")
    assert cli_main(["validate", str(good)]) == 0
    assert "6 points (grid) x 2 strategies = 12 cells; 36 runs" in capsys.readouterr().out
    bad = write(tmp_path, GOOD.replace("n_orgs = 6", "n_orgs = 1").replace("n_steps = 12", "n_steps = 0"), "bad.toml")
    assert cli_main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: base.n_orgs: n_orgs = 1 is out of range (allowed: 2..64)" in err
    assert f"{bad}: n_steps: n_steps = 0 is out of range" in err


def test_grid_design_is_the_cartesian_product_last_factor_fastest(tmp_path):
    d = build_design(load_spec(write(tmp_path, GOOD)))
    assert d.points["initial_trust"].tolist() == [0.1, 0.1, 0.3, 0.3, 0.5, 0.5]
    assert d.points["deadline"].tolist() == [12, 24] * 3
    assert d.points["deadline"].dtype == np.int64
    assert d.sampling["problem"] == {"num_vars": 2, "names": ["initial_trust", "deadline"],
                                     "bounds": [[0.1, 0.5], [12.0, 24.0]]}


def test_sobol_and_morris_designs_are_salibs_sample_matrices(tmp_path):
    from SALib.sample import morris, sobol

    base = """
    name = "s"
    strategies = ["stepwise"]
    replicates = 1
    [factors]
    initial_trust = {min = 0.1, max = 0.9}
    deadline = {min = 6, max = 48}
    [sampling]
    """
    # Without the do-nothing dummy factor (on by default) the designs are SALib's matrices of the spec's factors.
    sobol_spec = base + 'method = "sobol"\nn = 16\nseed = 5\ncalc_second_order = false\ndummy = false\n'
    d = build_design(load_spec(write(tmp_path, sobol_spec)))
    problem = {"num_vars": 2, "names": ["initial_trust", "deadline"], "bounds": [[0.1, 0.9], [6.0, 48.0]]}
    assert d.sampling["problem"] == problem and d.sampling["calc_second_order"] is False
    expected = sobol.sample(problem, 16, calc_second_order=False, seed=5)
    np.testing.assert_array_equal(d.sample, expected)
    assert d.n_points == 16 * (2 + 2)
    np.testing.assert_array_equal(d.points["deadline"], round_integer(expected[:, 1], 6, 48))
    np.testing.assert_array_equal(d.points["initial_trust"], expected[:, 0])

    m = build_design(load_spec(write(tmp_path, base + 'method = "morris"\nn = 10\nseed = 3\nnum_levels = 6\n'
                                                     'dummy = false\n')))
    np.testing.assert_array_equal(m.sample, morris.sample(problem, 10, num_levels=6, seed=3))
    assert m.sampling["num_levels"] == 6 and m.n_points == 30

    lhs = build_design(load_spec(write(tmp_path, base + 'method = "lhs"\nn = 50\nseed = 1\n')))
    x = lhs.sample[:, 0]
    # Latin hypercube: exactly one point in each of the 50 equal strata of every factor.
    np.testing.assert_array_equal(np.sort(np.floor((x - 0.1) / 0.8 * 50)), np.arange(50))


def test_integer_rounding_gives_each_whole_number_an_equal_share():
    x = np.linspace(6, 48, 43 * 1000, endpoint=False) + 42 / 43 / 2000
    k = round_integer(x, 6, 48)
    assert k.min() == 6 and k.max() == 48
    counts = np.bincount(k - 6)
    assert counts.min() == counts.max() == 1000
    assert round_integer(np.array([48.0]), 6, 48)[0] == 48


def test_run_ids_are_replicate_major_and_seeds_come_from_the_root_seed():
    ids = run_ids_for(3, np.zeros(3, dtype=np.int64), np.full(3, 2))
    assert ids.tolist() == [0, 1, 2, 3, 4, 5]  # every cell's replicate 0 before any replicate 1
    # Uneven rounds: cell 1 gets replicates 2..4 only; ids are k * n_cells + cell.
    ids = run_ids_for(3, np.array([2, 2, 2]), np.array([2, 5, 3]))
    assert ids.tolist() == [2 * 3 + 1, 2 * 3 + 2, 3 * 3 + 1, 4 * 3 + 1]
    seeds = seeds_for(42, ids)
    full = run_seeds(42, 20)
    np.testing.assert_array_equal(seeds, full[ids])


# --- the design registry ---------------------------------------------------------------


SAMPLED = """
name = "s"
strategies = ["stepwise", "fixed"]
replicates = 4
[factors]
initial_trust = {min = 0.1, max = 0.9}
deadline = {min = 6, max = 48}
[sampling]
"""


@pytest.fixture
def halton():
    """A design a researcher registers: scrambled Halton points, with a setting of its own."""
    from scipy.stats import qmc

    from sim.sweep import SamplingDesign, register_design, unregister_design

    @register_design("halton")
    class Halton(SamplingDesign):
        keys = ("n", "seed", "scramble")

        def options(self, raw, n, problems):
            scramble = raw.get("scramble", True)
            if not isinstance(scramble, bool):
                problems.add("sampling.scramble", f"{scramble!r} must be true or false")
            return {"scramble": scramble}

        def sample(self, factors, sampling, problem):
            engine = qmc.Halton(d=len(factors), scramble=sampling.options["scramble"],
                                rng=np.random.default_rng(sampling.seed))
            return qmc.scale(engine.random(sampling.n), *np.array(problem["bounds"]).T)

    yield Halton
    unregister_design("halton")


def test_a_registered_design_is_checked_sampled_counted_and_recorded_like_the_built_in_ones(tmp_path, halton,
                                                                                          capsys):
    from scipy.stats import qmc

    from sim.sweep import design_names

    assert design_names() == ["grid", "lhs", "sobol", "morris", "halton"]
    path = write(tmp_path, SAMPLED + 'method = "halton"\nn = 24\nseed = 8\n')
    spec = load_spec(path)
    assert spec.size.points == 24 and spec.size.cells == 48 and spec.size.runs == 192
    d = build_design(spec)
    expected = qmc.scale(qmc.Halton(d=2, rng=np.random.default_rng(8)).random(24), [0.1, 6], [0.9, 48])
    np.testing.assert_array_equal(d.sample, expected)
    np.testing.assert_array_equal(d.points["deadline"], round_integer(expected[:, 1], 6, 48))
    assert d.sampling == {"method": "halton", "n": 24, "seed": 8, "scramble": True, "problem": {
        "num_vars": 2, "names": ["initial_trust", "deadline"], "bounds": [[0.1, 0.9], [6.0, 48.0]]}}
    assert spec.to_dict()["sampling"] == {"method": "halton", "n": 24, "seed": 8, "scramble": True}
    assert cli_main(["validate", str(path)]) == 0
    assert "24 points (halton) x 2 strategies = 48 cells; 192 runs" in capsys.readouterr().out
    # Its own setting is checked, the shared ones (n, seed, unknown keys, factor form) come with the base class.
    found = "\n".join(problems(tmp_path, SAMPLED.replace("deadline = {min = 6, max = 48}", "deadline = [6, 48]")
                               + 'method = "halton"\nscramble = "yes"\nnum_levels = 4\n'))
    assert "sampling.n: missing: method 'halton' needs the number of points n" in found
    assert "sampling.scramble: 'yes' must be true or false" in found
    assert "sampling.num_levels: not used by method 'halton' (allowed: method, n, seed, scramble)" in found
    assert "factors.deadline: sampling method 'halton' takes bounds" in found
    # Grid's complaint about bounds now lists every design that takes them.
    grid_bounds = GOOD.replace("deadline = [12, 24]", "deadline = {min = 12, max = 24}")
    assert "method = lhs, sobol, morris or halton" in problems(tmp_path, grid_bounds)[0]


def test_an_unknown_design_gets_did_you_mean_and_the_registered_names(tmp_path, halton):
    from sim.sweep.design import DesignError, get_design

    found = problems(tmp_path, SAMPLED + 'method = "sobl"\nn = 8\n')
    assert len(found) == 1 and ": sampling.method: unknown method 'sobl'; did you mean 'sobol'?" in found[0]
    assert "(allowed: grid, lhs, sobol, morris, halton)" in found[0]
    with pytest.raises(DesignError, match=r"'haltom'; did you mean 'halton'\?"):
        get_design("haltom")


def test_registering_twice_or_a_non_design_is_refused(halton):
    from sim.sweep import SamplingDesign, register_design

    with pytest.raises(ValueError, match="'halton' is already registered"):
        register_design("halton")(halton)
    with pytest.raises(TypeError, match="SamplingDesign subclass"):
        register_design("nothing")(object)
    with pytest.raises(ValueError, match="must be an identifier"):
        register_design("two words")
    with pytest.raises(ValueError, match="takes = 'lists'"):
        register_design("odd")(type("Odd", (SamplingDesign,), {"takes": "lists"}))


@pytest.mark.parametrize(
    ("sampling", "points"),
    [
        ('method = "lhs"\nn = 37\n', 37),
        ('method = "sobol"\nn = 16\ndummy = false\n', 16 * (2 * 2 + 2)),
        ('method = "sobol"\nn = 16\ncalc_second_order = false\ndummy = false\n', 16 * (2 + 2)),
        ('method = "morris"\nn = 10\ndummy = false\n', 10 * 3),
        ('method = "morris"\nn = 10\noptimal_trajectories = 4\ndummy = false\n', 4 * 3),
        # The do-nothing dummy factor (the default) counts as a third factor.
        ('method = "sobol"\nn = 16\n', 16 * (2 * 3 + 2)),
        ('method = "sobol"\nn = 16\ncalc_second_order = false\n', 16 * (3 + 2)),
        ('method = "morris"\nn = 10\n', 10 * 4),
        ('method = "morris"\nn = 10\noptimal_trajectories = 4\n', 4 * 4),
    ],
)
def test_size_is_the_number_of_points_the_sampler_returns(tmp_path, sampling, points):
    spec = load_spec(write(tmp_path, SAMPLED + sampling))
    assert spec.size.points == points == build_design(spec).n_points
    assert spec.size.runs == points * 2 * 4
    grid = load_spec(write(tmp_path, GOOD))
    assert grid.size.points == build_design(grid).n_points == 6 and grid.size.runs == 6 * 2 * 3


def test_size_of_a_huge_design_is_arithmetic_not_allocation(tmp_path):
    text = (SAMPLED.replace("replicates = 4", "keep_series = []")
            + 'method = "sobol"\nn = 1099511627776\ndummy = false\n'
            + "[precision]\noutcome = 'dissolved'\nhalf_width = 0.01\nmax_replicates = 5000\n")
    size = load_spec(write(tmp_path, text)).size
    assert size.points == 2**40 * 6 and size.cells == 2**41 * 6 and size.runs == 2**41 * 6 * 5000
    ten_by_eight = "".join(f"{p} = {[round(0.05 + 0.1 * i, 2) for i in range(10)]}\n" for p in (
        "initial_trust", "leadership", "communication", "prejudice", "identity", "individualism", "celebration",
        "ground_rules"))
    grid = GOOD.replace('keep_series = ["mean_trust", "level"]', "keep_series = []").replace(
        "initial_trust = [0.1, 0.3, 0.5]\ndeadline = [12, 24]\n", ten_by_eight)
    assert load_spec(write(tmp_path, grid)).size.points == 10**8
