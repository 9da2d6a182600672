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
