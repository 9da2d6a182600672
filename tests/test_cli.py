"""The command line: run writes a table and a manifest; mistakes get one clear line; help is complete."""

import json
import subprocess
import sys

import pandas as pd
import pytest

import sim
from sim.cli import build_parser, main


def test_run_writes_table_and_manifest(tmp_path, capsys):
    out = tmp_path / "batch"
    assert main(["run", "--strategy", "funder_forced", "--runs", "300", "--seed", "5",
                 "--set", "initial_trust=0.85", "--set", "deadline=12", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "funder_forced" in printed and "run-steps/s" in printed
    runs = pd.read_parquet(out / "runs.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(runs) == 300 and (runs["deadline"] == 12).all() and (runs["initial_trust"] == 0.85).all()
    assert manifest["parameters"]["deadline"] == 12 and manifest["root_seed"] == 5
    assert manifest["seeds"] == [int(s) for s in runs["seed"]]
    assert manifest["model_version"] == sim.MODEL_VERSION and "numpy" in manifest["versions"]
    assert "git_commit" in manifest
    # the table is the API's summary
    api = sim.simulate(n_runs=300, seed=5, strategy="funder_forced", initial_trust=0.85, deadline=12).summary
    pd.testing.assert_frame_equal(runs, api, check_dtype=False)
    # an existing folder is not overwritten without --force
    assert main(["run", "--runs", "10", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["run", "--runs", "10", "--out", str(out), "--force", "--series"]) == 0
    assert len(pd.read_parquet(out / "runs.parquet")) == 10 and (out / "series.npz").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--set", "n_orgs=-3"], "n_orgs = -3 is out of range (allowed: 2..64)"),
        (["run", "--set", "initial_trust=1.5"], "initial_trust = 1.5 is out of range (allowed: 0..1)"),
        (["run", "--strategy", "stepwize"], "did you mean 'stepwise'"),
        (["run", "--set", "initail_trust=0.2"], "did you mean 'initial_trust'"),
        (["run", "--set", "initial_trust"], "expected name=value"),
        (["run", "--runs", "0"], "--runs 0: must be at least 1"),
    ],
)
def test_mistakes_get_one_clear_line(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()  # nothing half-written


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_every_subcommand_and_option_has_help():
    choices = _subcommands()
    assert {"run", "bench"} <= set(choices)
    for name, sub in choices.items():
        assert sub.description, f"{name} has no description"
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"trustladder {name} {action.option_strings or action.dest} has no help"


def test_console_script_help_runs():
    done = subprocess.run([sys.executable, "-m", "sim.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "run" in done.stdout and "bench" in done.stdout


def test_strategy_by_set_or_flag_and_their_conflict(capsys):
    assert main(["run", "--runs", "50", "--set", "strategy=fixed"]) == 0
    assert "fixed" in capsys.readouterr().out
    assert main(["run", "--runs", "50", "--strategy", "stepwise", "--set", "strategy=fixed"]) == 2
    assert "disagree" in capsys.readouterr().err


def test_out_that_is_a_file_and_a_run_folder_given_to_analysis(tmp_path, capsys):
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    assert main(["run", "--runs", "10", "--out", str(afile)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    out = tmp_path / "batch"
    assert main(["run", "--runs", "20", "--out", str(out)]) == 0
    capsys.readouterr()
    for argv in (["analyze"], ["plot"], ["report"], ["export", "--csv"]):
        assert main([*argv, str(out)]) == 2
        err = capsys.readouterr().err
        assert "a `trustladder run` folder, not a sweep's" in err and "Traceback" not in err


def test_params_lists_every_parameter_with_default_range_and_meaning(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    for name, spec in sim.PARAMETERS.items():
        assert f"{name} = " in out and spec.range_text() in out
        assert spec.meaning.split()[0] in out
    assert "n_orgs = 6  (2..64, organizations)" in out
    assert main(["params", "quorum", "grant"]) == 0
    two = capsys.readouterr().out
    quorum, grant = sim.PARAMETERS["quorum"].default, sim.PARAMETERS["grant"].default
    assert two.startswith(f"quorum = {quorum:g}  (0..1)") and f"grant = {grant:g}  (0..1)" in two
    assert "n_orgs" not in two


def test_params_markdown_is_the_table_of_docs_odd():
    from pathlib import Path

    # A fresh interpreter: other tests register strategies and variants, which the table would list.
    done = subprocess.run([sys.executable, "-m", "sim.cli", "params", "--format", "markdown"], capture_output=True,
                          text=True, check=True)
    printed = done.stdout.strip().splitlines()
    odd = (Path(__file__).resolve().parents[1] / "docs" / "ODD.md").read_text().splitlines()
    start = odd.index(printed[0])
    assert odd[start:start + len(printed)] == printed  # docs/ODD.md's table is this command's output


def test_params_json_and_an_unknown_name(capsys):
    assert main(["params", "benefit_target", "n_orgs", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["benefit_target", "n_orgs"]
    assert rows[0]["low"] == 0 and rows[0]["high"] is None and rows[0]["range"] == ">= 0"  # JSON has no inf
    assert rows[1] == {"name": "n_orgs", "type": "int", "default": 6, "low": 2, "high": 64, "range": "2..64",
                       "unit": "organizations", "meaning": sim.PARAMETERS["n_orgs"].meaning}
    assert main(["params", "n_org"]) == 2
    assert "did you mean 'n_orgs'" in capsys.readouterr().err


def _messages_of_errors() -> list[tuple[str, int, str]]:
    """Every string constant in a ``raise`` or a problem report (``pr.add(...)``) of sim's source."""
    import ast
    from pathlib import Path

    found = []
    for path in Path(sim.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            is_report = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add"
            if isinstance(node, ast.Raise) or is_report:
                for c in ast.walk(node):
                    if isinstance(c, ast.Constant) and isinstance(c.value, str):
                        found.append((path.name, c.lineno, c.value))
    return found


def test_error_messages_point_inside_the_repository(tmp_path, capsys):
    messages = _messages_of_errors()
    assert any("trustladder params" in m for _, _, m in messages)  # the scan sees the messages
    outside = [f"{f}:{n}: {m}" for f, n, m in messages if "MODEL.md" in m or "../shared" in m]
    assert not outside, outside
    with pytest.raises(sim.ParamError, match="`trustladder params` lists them"):
        sim.Params().replace(n_org=3)
    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\nstrategies = ["stepwise"]\n[base]\nn_org = 3\n')
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'n_orgs'" in err and "trustladder params lists them" in err and "MODEL.md" not in err
    assert "trustladder params" in build_parser().format_help()


@pytest.mark.parametrize("argv, message", [
    (["analyze", "DIR", "--window", "0"], "--window 0: must be at least 1 month"),
    (["plot", "DIR", "--window", "-3"], "--window -3: must be at least 1 month"),
    (["report", "DIR", "--window", "0"], "--window 0: must be at least 1 month"),
    (["analyze", "DIR", "--resamples", "10"], "--resamples 10: must be at least 100"),
    (["analyze", "DIR", "--confidence", "1.5"], "--confidence 1.5: must be between 0 and 1"),
    (["analyze", "DIR", "--where", "initial_trust"], "--where 'initial_trust': expected name=value"),
    (["analyze", "DIR", "--where", "initial_trust=2"], "initial_trust = 2.0 is out of range"),
])
def test_analysis_options_are_checked_before_anything_is_read(argv, message, tmp_path, capsys):
    """The shared preamble of analyze, plot and report: one check of each option, for every command."""
    folder = tmp_path / "not-yet-read"
    folder.mkdir()
    assert main([str(folder) if a == "DIR" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
