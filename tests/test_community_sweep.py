"""Community sweeps (``model = "community"``) through the one sweep layer: the same numbers whatever the chunking,
executor or worker count, the same numbers as ``sim.simulate_community``, the partnership and organization tables
stored per chunk and verified, resume, precision, bands, CRN, and bad specs refused with the field and the range."""

from __future__ import annotations

import re
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.sweep import IntegrityError, PoolExecutor, SpecError, load_results, parse_spec, plan_sweep, run_sweep
from sim.sweep.chunk import run_columns, table_columns
from sim.sweep.plan import seeds_for
from sim.sweep.store import SweepWarning

SPEC = """
name = "community-small"
model = "community"
strategies = ["stepwise"]
replicates = 5
n_steps = 24
seed = 15
crn = true
keep_series = ["partnerships", "mean_trust", "net_benefit", "members", "ready_level_3"]
[base]
n_community = 12
max_partnerships = 3
convene_rate = 0.05
[factors]
funder_policy = ["none", "mandate"]
gossip = [0.0, 0.2]
"""


def _write(tmp: Path, text: str = SPEC, name: str = "spec.toml") -> Path:
    p = tmp / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("community-ref")
    spec = _write(d)
    return spec, load_results(run_sweep(spec, d / "out", progress=False))


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.partnerships, b.partnerships)
    pd.testing.assert_frame_equal(a.organizations, b.organizations)
    pd.testing.assert_frame_equal(a.memberships, b.memberships)
    pd.testing.assert_frame_equal(a.bands, b.bands)


def test_community_sweep_matches_simulate_community(reference):
    spec, res = reference
    runs = res.runs
    assert res.model == "community" and res.manifest["model"] == "community"
    assert list(runs.columns) == run_columns("community") and len(runs) == 4 * 5
    assert list(res.partnerships.columns) == table_columns("community", "partnerships")
    assert list(res.organizations.columns) == table_columns("community", "organizations")
    assert list(res.memberships.columns) == table_columns("community", "memberships")
    assert res.manifest["tables"] == ["partnerships", "organizations", "memberships"]
    assert all(set(c["tables"]) == set(res.manifest["tables"]) for c in res.manifest["chunks"])
    # CRN: replicate k of every cell has one seed
    assert (runs.groupby("replicate")["seed"].nunique() == 1).all()
    assert np.array_equal(runs["seed"].to_numpy(), seeds_for(15, runs["run_id"].to_numpy(), 4))
    # the same numbers as the API, run by run
    api = sim.simulate_community(seeds=runs["seed"].to_numpy(), n_steps=24, n_community=12, max_partnerships=3,
                                 convene_rate=0.05, funder_policy=runs["funder_policy"].to_numpy(),
                                 gossip=runs["gossip"].to_numpy(), keep=["partnerships"])
    for name in ("cumulative_benefit", "net_benefit", "n_formed", "final_mean_trust", "funder_spent"):
        assert np.array_equal(runs[name].to_numpy(), api.summary[name].to_numpy(), equal_nan=True), name
    mine = res.partnerships.drop(columns="run_id").reset_index(drop=True)
    theirs = api.partnerships.assign(run_id=runs["run_id"].to_numpy()[api.partnerships["run"].to_numpy()])
    theirs = theirs.sort_values("run_id", kind="stable")
    assert np.array_equal(res.partnerships["run_id"].to_numpy(), theirs["run_id"].to_numpy())
    pd.testing.assert_frame_equal(mine, theirs[mine.columns].reset_index(drop=True), check_dtype=False)
    assert (res.organizations.groupby("run_id").size() == 12).all()
    # the membership table: the API's, run by run, each membership in a partnership of its run
    mine = res.memberships.drop(columns="run_id").reset_index(drop=True)
    theirs = api.memberships.assign(run_id=runs["run_id"].to_numpy()[api.memberships["run"].to_numpy()])
    theirs = theirs.sort_values("run_id", kind="stable")
    assert len(mine) > 0 and np.array_equal(res.memberships["run_id"].to_numpy(), theirs["run_id"].to_numpy())
    pd.testing.assert_frame_equal(mine, theirs[mine.columns].reset_index(drop=True), check_dtype=False)
    assert res.table("memberships") is res.memberships
    # bands: one row per cell, series and step; the partnerships band's mean is the runs' mean
    b = res.bands[(res.bands["series"] == "partnerships") & (res.bands["point_id"] == 1)]
    assert len(b) == 24 and (b["n"] == 5).all()
    want = api.series("partnerships")[runs["point_id"].to_numpy() == 1].mean(axis=0)
    assert np.allclose(b["mean"].to_numpy(), want, rtol=0, atol=1e-9)
    net = res.bands[res.bands["series"] == "net_benefit"]
    assert (net["q05"] <= net["q95"]).all()
    assert res.runs.groupby("funder_policy")["funder_spent"].sum()["none"] == 0
    assert res.runs.groupby("funder_policy")["funder_spent"].sum()["mandate"] > 0


@pytest.mark.slow
def test_chunking_and_workers_do_not_change_a_number(reference, tmp_path):
    spec, ref = reference
    _same(load_results(run_sweep(spec, tmp_path / "k3", chunk_size=3, progress=False)), ref)
    with PoolExecutor(2) as pool:
        res = load_results(run_sweep(spec, tmp_path / "pool", chunk_size=7, executor=pool, progress=False))
    _same(res, ref)
    assert res.manifest["sessions"][0]["executor"] == "2 local worker processes"


def test_resume_after_an_interruption_and_repair_of_a_damaged_table(reference, tmp_path):
    spec, ref = reference
    out = tmp_path / "out"

    def stop(result, done):
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, chunk_size=4, progress=False, on_chunk=stop)
    assert load_results(out, verify=False).manifest["status"] == "running"
    run_sweep(spec, out, resume=True, progress=False)
    _same(load_results(out), ref)
    # a damaged organizations file is found by the loader, named, and run again by --resume
    victim = out / "organizations" / "chunk-000001.parquet"
    victim.write_bytes(victim.read_bytes()[:-40])
    with pytest.raises(IntegrityError, match=r"organizations/chunk-000001.parquet is not a readable Parquet"):
        load_results(out)
    (out / "partnerships" / "chunk-000002.parquet").unlink()
    (out / "partnerships" / "chunk-000099.parquet").write_bytes(b"stray")
    with pytest.raises(IntegrityError, match=r"partnerships/chunk-000099.parquet: not a chunk of this sweep"):
        load_results(out)
    (out / "partnerships" / "chunk-000099.parquet").unlink()
    with pytest.raises(IntegrityError, match=r"partnerships/chunk-000002.parquet is missing"):
        load_results(out)
    member = out / "memberships" / "chunk-000003.parquet"
    member.write_bytes(member.read_bytes().replace(b"PAR1", b"PAR2", 1))
    with pytest.raises(IntegrityError, match=r"memberships/chunk-000003.parquet"):
        load_results(out)
    with pytest.warns(SweepWarning, match="running them again"):
        run_sweep(spec, out, resume=True, progress=False)
    _same(load_results(out), ref)


def test_a_folder_stored_before_the_membership_table_loads_and_resumes_without_it(reference, tmp_path):
    import json
    import shutil

    spec, ref = reference
    out = tmp_path / "old"

    def stop(result, done):
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, chunk_size=4, progress=False, on_chunk=stop)
    # what a sweep wrote before it kept memberships: no manifest["tables"], no memberships/ records or files
    m = json.loads((out / "manifest.json").read_text())
    del m["tables"]
    for c in m["chunks"]:
        c.get("tables", {}).pop("memberships", None)
    (out / "manifest.json").write_text(json.dumps(m))
    shutil.rmtree(out / "memberships")
    run_sweep(spec, out, resume=True, progress=False)
    old = load_results(out)
    assert not (out / "memberships").exists() and "tables" not in old.manifest
    pd.testing.assert_frame_equal(old.runs, ref.runs)
    pd.testing.assert_frame_equal(old.partnerships, ref.partnerships)
    with pytest.raises(KeyError, match="stored before sweeps kept it .*--force"):
        old.table("memberships")


def test_precision_on_a_community_outcome(tmp_path):
    text = SPEC.replace("replicates = 5", "").replace("[base]", textwrap.dedent("""
        [precision]
        outcome = "final_mean_trust"
        half_width = 0.01
        min_replicates = 3
        max_replicates = 9
        [base]"""))
    spec = _write(tmp_path, text)
    a = load_results(run_sweep(spec, tmp_path / "a", progress=False))
    b = load_results(run_sweep(spec, tmp_path / "b", chunk_size=4, progress=False))
    _same(a, b)
    per_cell = a.runs.groupby("point_id").size()
    assert per_cell.min() >= 3 and per_cell.max() <= 9 and len(a.manifest["rounds"]) >= 2
    assert a.manifest["replicates_per_cell"] == per_cell.sort_index().tolist()


def _problems(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(tomllib.loads(textwrap.dedent(text)))
    return "\n".join(info.value.problems)


@pytest.mark.parametrize("edit, expected", [
    (('model = "community"', 'model = "communty"'), r"model: model = 'communty' is not a model; did you mean "
                                                    r"'community'\? \(allowed: partnership, community\)"),
    (("convene_rate = 0.05", "funder_budget = -1.0"),
     r"base.funder_budget: funder_budget = -1.0 is out of range \(allowed: >= 0\)"),
    (('funder_policy = ["none", "mandate"]', 'funder_policy = ["none", "lavish"]'),
     r"factors.funder_policy\[1\]: funder_policy = 'lavish' is not allowed .*allowed: one of none, mandate"),
    (('"partnerships", "mean_trust"', '"level", "mean_trust"'), r"keep_series\[0\]: unknown series of the community "
                                                                r"model 'level'"),
    (("gossip = [0.0, 0.2]", "gossip = [0.0, 2.0]"),
     r"factors.gossip\[1\]: gossip = 2.0 is out of range \(allowed: 0..1\)"),
])
def test_bad_community_specs_name_the_field(edit, expected):
    assert re.search(expected, _problems(SPEC.replace(*edit)))


def test_cross_field_rules_are_checked_per_point_before_anything_runs(tmp_path):
    small = _write(tmp_path, SPEC.replace("n_community = 12", "n_community = 4\nn_orgs = 6"), "small.toml")
    with pytest.raises(SpecError, match=r"n_community = 4 is smaller than n_orgs = 6"):
        plan_sweep(small)
    grid = _write(tmp_path, SPEC.replace("n_community = 12\n", "").replace(
        "gossip = [0.0, 0.2]", "n_community = [12, 5]"), "grid.toml")
    with pytest.raises(SpecError, match=r"n_community = 5 \(point_id 1\) is smaller than n_orgs = 6"):
        plan_sweep(grid)
    assert not (tmp_path / "results").exists()


def test_model_key_and_vocabularies():
    part = parse_spec({"name": "p", "strategies": ["stepwise"], "replicates": 2})
    assert part.model == "partnership" and "model" not in part.to_dict()  # partnership hashes as before the key
    com = parse_spec({"name": "p", "strategies": ["stepwise"], "replicates": 2, "model": "community"})
    assert com.to_dict()["model"] == "community" and com.hash() != part.hash()
    assert com.keep_series == ("partnerships", "mean_trust", "benefit")
    msg = _problems('name = "p"\nstrategies = ["stepwise"]\nreplicates = 2\n[base]\ngossip = 0.1\n')
    assert "base.gossip: a parameter of the community model, not of the partnership model: set model = " in msg
    msg = _problems('name = "p"\nmodel = "community"\nstrategies = ["stepwise"]\nreplicates = 2\n'
                    '[precision]\noutcome = "dissolved"\nhalf_width = 0.1\nmax_replicates = 9\n')
    assert "precision.outcome: 'dissolved' is not an outcome of the community model" in msg
    # a partnership sweep may now keep (and band) its net series, which can be negative
    assert parse_spec({"name": "p", "strategies": ["stepwise"], "replicates": 2,
                       "keep_series": ["net_benefit", "joined"]}).keep_series == ("net_benefit", "joined")


@pytest.mark.slow
def test_a_dead_pool_worker_loses_no_community_run(reference, tmp_path, monkeypatch):
    """A pool worker that dies (os._exit) while starting chunk 2 is replaced, the chunk runs again, and every table
    is the clean run's."""
    from sim.sweep.executors import CRASH_ENV

    spec, ref = reference
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ENV, f"2:{marker}")
    with PoolExecutor(2) as pool, pytest.warns(SweepWarning, match="a worker process died .* running them again"):
        res = load_results(run_sweep(spec, tmp_path / "out", chunk_size=4, executor=pool, progress=False))
    assert marker.exists(), "no worker died"
    _same(res, ref)


@pytest.mark.slow
@pytest.mark.xdist_group("dask")
def test_dask_gives_the_same_community_numbers(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    from sim.sweep import DaskExecutor

    spec, ref = reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster, distributed.Client(cluster) as client, \
            DaskExecutor(client=client) as ex:
        res = load_results(run_sweep(spec, tmp_path / "dask", chunk_size=6, executor=ex, progress=False))
    _same(res, ref)


# --- the command line (through sim.cli.main) ---------------------------------------------------------------------


def test_cli_run_community_writes_its_tables(tmp_path, capsys):
    from sim.cli import main

    out = tmp_path / "run"
    assert main(["run", "--model", "community", "--runs", "6", "--seed", "4", "--set", "n_steps=12",
                 "--set", "n_community=10", "--set", "funder_policy=mandate", "--set", "call_size=3",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "6 communities x 12 steps" in text and "mandate" in text
    runs = pd.read_parquet(out / "runs.parquet")
    api = sim.simulate_community(n_runs=6, seed=4, n_steps=12, n_community=10, funder_policy="mandate", call_size=3)
    pd.testing.assert_frame_equal(runs, api.summary)
    for name in ("partnerships", "organizations", "memberships"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{name}.parquet"), getattr(api, name))
    manifest = __import__("json").loads((out / "manifest.json").read_text())
    assert manifest["model"] == "community" and manifest["parameters"]["funder_policy"] == "mandate"
    assert main(["run", "--model", "community", "--runs", "2", "--out", str(out), "--force"]) == 0  # ours: replaced


@pytest.mark.parametrize("argv, message", [
    (["run", "--model", "community", "--runs", "2", "--set", "funder_budget=-3"],
     "funder_budget = -3.0 is out of range (allowed: >= 0)"),
    (["run", "--model", "community", "--runs", "2", "--set", "n_community=4"],
     "n_community = 4 is smaller than n_orgs = 6"),
    (["run", "--model", "community", "--runs", "2", "--set", "funder_policy=lavish"],
     "funder_policy = 'lavish' is not allowed (allowed: one of none, mandate"),
    (["run", "--runs", "2", "--set", "gossip=0.1"], "--set gossip: a parameter of the community model; pass --model "
                                                   "community"),
])
def test_cli_run_bad_community_input(argv, message, capsys):
    from sim.cli import main

    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_validate_and_sweep_a_community_spec(reference, tmp_path, capsys):
    from sim.cli import main

    spec, ref = reference
    assert main(["validate", str(spec)]) == 0
    assert "'community-small' (community model): 4 points (grid) x 1 strategies = 4 cells; 20 runs" in (
        capsys.readouterr().out)
    bad = _write(tmp_path, SPEC.replace('model = "community"', 'model = "village"'), "bad.toml")
    assert main(["validate", str(bad)]) == 2
    assert "model = 'village' is not a model (allowed: partnership, community)" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    assert "runs:    20" in capsys.readouterr().out
    out = tmp_path / "cli"
    assert main(["sweep", str(spec), "--out", str(out), "--quiet", "--chunk-size", "6"]) == 0
    _same(load_results(out), ref)


def test_cli_analyze_plot_report_export_a_community_sweep(reference, tmp_path, capsys):
    from sim.analysis.community import community_outcome_table, partnership_summary
    from sim.cli import main

    spec, ref = reference
    out = tmp_path / "res"
    run_sweep(spec, out, progress=False)
    res = load_results(out)
    assert main(["analyze", str(out), "--resamples", "200", "--quiet"]) == 0
    table = pd.read_csv(out / "analysis" / "community_outcomes.csv")
    mean = res.runs[res.runs["point_id"] == 2]["cumulative_benefit"].mean()
    row = table[(table["point_id"] == 2) & (table["outcome"] == "cumulative_benefit")].iloc[0]
    assert row["mean"] == pytest.approx(mean) and row["ci_low"] <= mean <= row["ci_high"] and row["n"] == 5
    assert row["cell"] == "funder_policy = mandate, gossip = 0"
    pd.testing.assert_frame_equal(table, community_outcome_table(res, n_resamples=200).reset_index(drop=True),
                                  check_dtype=False)
    parts = partnership_summary(res)
    mandated = parts[(parts["origin"] == "mandate")]
    assert set(mandated["point_id"]) == {2, 3} and (mandated["share_funded"] == 1).all()
    formed = res.partnerships.merge(res.runs[["run_id", "point_id"]], on="run_id").groupby("point_id").size()
    assert np.allclose(parts.groupby("point_id")["partnerships"].sum().to_numpy() * 5, formed.to_numpy())
    assert main(["analyze", str(out), "--reference", "stepwise"]) == 2
    assert "--reference: not for a community sweep" in capsys.readouterr().err

    assert main(["plot", str(out), "--format", "png"]) == 0
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["community_outcomes.png", "community_series.png"]
    assert main(["plot", str(out), "--figure", "survival"]) == 2
    assert main(["report", str(out), "--resamples", "200"]) == 0
    text = (out / "report.html").read_text()
    assert "What became of the partnerships" in text and "funder_policy = mandate, gossip = 0.2" in text
    assert text.count("data:image/png;base64,") == 2 and "Partial results" not in text
    assert main(["export", str(out), "--csv"]) == 0
    assert len(pd.read_csv(out / "csv" / "partnerships.csv")) == len(res.partnerships)
    assert len(pd.read_csv(out / "csv" / "organizations.csv")) == 20 * 12
    assert len(pd.read_csv(out / "csv" / "memberships.csv")) == len(res.memberships)


def test_the_example_community_spec_is_valid():
    plan = plan_sweep(Path(__file__).parent.parent / "experiments" / "community-example.toml")
    assert plan.spec.model == "community" and plan.n_cells == 8 and plan.min_runs == 400 and plan.chunk_size == 256
    assert plan.spec.crn and set(plan.design.points["funder_policy"]) == {"none", "mandate", "patient", "staged"}
    assert set(plan.design.points["funder_policy"]) <= set(sim.policy_names())


def test_cli_params_lists_the_community_vocabulary(capsys):
    from sim.cli import main
    from sim.community_params import COMMUNITY_PARAMETERS, COMMUNITY_VOCABULARY

    assert main(["params", "--model", "community", "--format", "json"]) == 0
    listed = [d["name"] for d in __import__("json").loads(capsys.readouterr().out)]
    assert listed == list(COMMUNITY_VOCABULARY)
    assert main(["params", "--model", "community-only", "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert text.count("\n") == len(COMMUNITY_PARAMETERS) + 2 and "| `grant_size` | 20 | > 0 | benefit units |" in text
    assert main(["params", "gossip"]) == 0 and "gossip = 0.05  (0..1, 1/month)" in capsys.readouterr().out
    assert main(["params", "gosip"]) == 2 and "did you mean 'gossip'" in capsys.readouterr().err


def test_a_chunk_too_big_for_memory_is_refused_before_anything_runs(tmp_path):
    big = _write(tmp_path, SPEC.replace("n_community = 12", "n_community = 1024").replace(
        "replicates = 5", "replicates = 100000"), "big.toml")
    with pytest.raises(SpecError, match=r"chunk_size: a chunk of 100,000 runs of the community model needs about .* "
                                        r"above half this machine's memory .*: use --chunk-size \d"):
        plan_sweep(big, chunk_size=100_000)
    assert plan_sweep(big, chunk_size=4).chunk_size == 4
    assert not (tmp_path / "results").exists()
