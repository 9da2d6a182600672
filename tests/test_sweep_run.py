"""Sweeps end to end: identical results whatever the chunking or executor, resumable, exact bands, precision."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main as cli_main
from sim.engine import SUMMARY_OUTCOMES
from sim.params import PARAMETERS
from sim.rng import run_seeds
from sim.sweep import PoolExecutor, ResumeError, load_results, run_sweep
from sim.sweep.bands import QUANTILES

SPEC = """
name = "small"
strategies = ["stepwise", "funder_forced", "fixed"]
replicates = 10
n_steps = 40
seed = 2024
keep_series = ["level", "mean_trust", "cumulative_benefit", "success"]
save_series = true
[base]
fixed_level = 3
[factors]
initial_trust = [0.3, 0.85]
n_orgs = [4, 7]
"""
N_CELLS = 4 * 3
N_RUNS = N_CELLS * 10


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("spec"), SPEC)


@pytest.fixture(scope="module")
def reference(spec_path, tmp_path_factory):
    """The sweep run in-process in one chunk, uninterrupted."""
    out = run_sweep(spec_path, tmp_path_factory.mktemp("ref") / "out", chunk_size=10_000, progress=False)
    return load_results(out)


def test_runs_table_has_the_contract_columns_and_ids(reference):
    runs = reference.runs
    params = [p for p in PARAMETERS if p != "strategy"]
    assert list(runs.columns) == ["run_id", "point_id", "strategy", "replicate", "seed", *params, *SUMMARY_OUTCOMES]
    assert runs["run_id"].tolist() == list(range(N_RUNS))
    cell = runs["run_id"] % N_CELLS
    strategies = reference.manifest["strategies"]
    assert (runs["replicate"] == runs["run_id"] // N_CELLS).all()
    assert (runs["point_id"] == cell // 3).all()
    assert (runs["strategy"] == np.array(strategies, dtype=object)[cell % 3]).all()
    np.testing.assert_array_equal(runs["seed"].to_numpy(np.uint64), run_seeds(2024, N_RUNS))
    pts = reference.points.set_index("point_id")
    np.testing.assert_array_equal(runs["initial_trust"], pts.loc[runs["point_id"], "initial_trust"])
    np.testing.assert_array_equal(runs["n_orgs"], pts.loc[runs["point_id"], "n_orgs"])
    assert (runs["fixed_level"] == 3).all() and (runs["n_steps"] == 40).all()
    m = reference.manifest
    assert m["factors"] == ["initial_trust", "n_orgs"] and m["status"] == "complete"
    assert m["sampling"]["method"] == "grid" and m["sampling"]["problem"]["names"] == ["initial_trust", "n_orgs"]
    assert m["model_version"] == sim.MODEL_VERSION and len(m["spec_hash"]) == 64


def test_each_run_is_what_simulate_gives_for_its_seed_and_parameters(reference):
    runs = reference.runs
    params = {p: runs[p].to_numpy() for p in PARAMETERS}
    res = sim.simulate(seeds=runs["seed"].to_numpy(np.uint64), keep=["level"], **params)
    for name in SUMMARY_OUTCOMES:
        np.testing.assert_array_equal(res.summary[name].to_numpy(), runs[name].to_numpy(), err_msg=name)
    np.testing.assert_array_equal(res.series("level"), reference.series("level"))


def test_bands_agree_with_the_full_series(reference):
    runs, bands = reference.runs, reference.bands
    cell = (runs["point_id"] * 3 + runs["strategy"].map({"stepwise": 0, "funder_forced": 1, "fixed": 2})).to_numpy()
    shares = {f"level_share_{k}" for k in range(6)}
    assert set(bands["series"]) == {"level", "mean_trust", "cumulative_benefit", "success"} | shares
    assert len(bands) == N_CELLS * (4 + 6) * 40
    assert {"initial_trust", "n_orgs"} <= set(bands.columns)
    tolerance = {"level": 0.0, "success": 0.0, "mean_trust": 0.0005, "cumulative_benefit": None,
                 **{s: 0.0 for s in shares}}
    for series, tol in tolerance.items():
        if series.startswith("level_share_"):  # the 0/1 indicator of playing that level (0 = dissolved)
            values = (reference.series("level") == int(series[-1])).astype(float)
        else:
            values = reference.series(series).astype(float)
        b = bands[bands["series"] == series]
        for c in range(N_CELLS):
            rows = b[(b["point_id"] == c // 3) & (b["strategy"] == reference.manifest["strategies"][c % 3])]
            assert rows["step"].tolist() == list(range(1, 41))
            v = values[cell == c]
            n = (~np.isnan(v)).sum(axis=0)
            np.testing.assert_array_equal(rows["n"], n)
            with np.errstate(invalid="ignore"):
                np.testing.assert_allclose(rows["mean"], np.nanmean(v, axis=0) if n.min() else
                                           np.where(n > 0, np.nansum(v, axis=0) / np.maximum(n, 1), np.nan),
                                           rtol=0, atol=1e-8)
            for col, pct in QUANTILES.items():
                ok = n > 0
                exact = np.array([np.quantile(v[:, t][~np.isnan(v[:, t])], pct / 100, method="inverted_cdf")
                                  for t in np.flatnonzero(ok)])
                got = rows[col].to_numpy()[ok]
                if tol is None:  # log bins: within 1.2 % (and 0 exactly)
                    np.testing.assert_allclose(got, exact, rtol=0.012, atol=1e-2)
                else:
                    np.testing.assert_allclose(got, exact, rtol=0, atol=tol)
                assert np.isnan(rows[col].to_numpy()[~ok]).all()


def test_identical_whatever_the_chunking_or_local_workers(spec_path, reference, tmp_path):
    out = run_sweep(spec_path, tmp_path / "k7", chunk_size=7, progress=False)
    k7 = load_results(out)
    assert len(list((out / "runs").glob("chunk-*.parquet"))) == -(-N_RUNS // 7)
    pd.testing.assert_frame_equal(k7.runs, reference.runs)
    pd.testing.assert_frame_equal(k7.bands, reference.bands)
    np.testing.assert_array_equal(k7.series("mean_trust"), reference.series("mean_trust"))
    with PoolExecutor(2) as pool:
        out = run_sweep(spec_path, tmp_path / "pool", chunk_size=13, executor=pool, progress=False)
    pooled = load_results(out)
    pd.testing.assert_frame_equal(pooled.runs, reference.runs)
    pd.testing.assert_frame_equal(pooled.bands, reference.bands)


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("checkpoint_every", [0.0, 1e9])
def test_interrupted_then_resumed_equals_uninterrupted(spec_path, reference, tmp_path, monkeypatch, checkpoint_every):
    import sim.sweep.runner as runner

    monkeypatch.setattr(runner, "CHECKPOINT_SECONDS", checkpoint_every)
    seen = []

    def fail_after_three(result, runs_done):
        seen.append(result.index)
        if len(seen) == 3:
            raise Boom("injected failure")

    with pytest.raises(Boom):
        run_sweep(spec_path, tmp_path / "out", chunk_size=N_CELLS, progress=False, on_chunk=fail_after_three)
    partial = pd.read_parquet(tmp_path / "out" / "runs")
    assert len(partial) == 3 * N_CELLS
    # Replicate-major order: the finished part is a balanced sample, every cell has replicates 0..2.
    reps = partial.groupby(["point_id", "strategy"])["replicate"].apply(sorted)
    assert len(reps) == N_CELLS and all(r == [0, 1, 2] for r in reps)
    with pytest.raises(ResumeError, match="exists and is not empty"):
        run_sweep(spec_path, tmp_path / "out", chunk_size=N_CELLS, progress=False)
    run_sweep(spec_path, tmp_path / "out", resume=True, progress=False)
    res = load_results(tmp_path / "out")
    assert res.runs["run_id"].is_unique
    pd.testing.assert_frame_equal(res.runs, reference.runs)
    pd.testing.assert_frame_equal(res.bands, reference.bands)
    # The band checkpoint written on the way out holds the three stored chunks: only seven are left to run.
    assert [s["chunks_run"] for s in res.manifest["sessions"]] == [3, 10 - 3]
    assert not (tmp_path / "out" / "state").exists()


def test_killed_process_resumes_without_losing_or_duplicating_runs(tmp_path):
    spec = write(tmp_path, """
    name = "killme"
    strategies = ["stepwise", "funder_patient"]
    replicates = 120
    n_steps = 120
    seed = 5
    keep_series = ["level", "mean_trust"]
    [factors]
    initial_trust = [0.3, 0.6, 0.9]
    """)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(spec), "--out", str(out),
                             "--chunk-size", "60", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while len(list((out / "runs").glob("chunk-*.parquet"))) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running"
    n_done = len(list((out / "runs").glob("chunk-*.parquet")))
    assert 2 <= n_done < 12
    assert cli_main(["sweep", str(spec), "--out", str(out), "--resume", "--quiet"]) == 0
    resumed = load_results(out)
    whole = load_results(run_sweep(spec, tmp_path / "whole", chunk_size=100_000, progress=False))
    assert resumed.runs["run_id"].is_unique and len(resumed.runs) == 720
    pd.testing.assert_frame_equal(resumed.runs, whole.runs)
    pd.testing.assert_frame_equal(resumed.bands, whole.bands)


def test_resume_refuses_a_changed_spec_or_model_version(spec_path, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(Boom):
        run_sweep(spec_path, out, chunk_size=50, progress=False,
                  on_chunk=lambda r, n: (_ for _ in ()).throw(Boom()))
    changed = write(tmp_path, SPEC.replace("replicates = 10", "replicates = 11"), "changed.toml")
    with pytest.raises(ResumeError, match="the spec changed"):
        run_sweep(changed, out, resume=True, progress=False)
    assert cli_main(["sweep", str(changed), "--out", str(out), "--resume", "--quiet"]) == 2
    with pytest.raises(ResumeError, match="chunks of 50"):
        run_sweep(spec_path, out, resume=True, chunk_size=60, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["model_version"] = "0-old"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResumeError, match="MODEL_VERSION '0-old'"):
        run_sweep(spec_path, out, resume=True, progress=False)
    # --force starts over.
    run_sweep(spec_path, out, force=True, progress=False)
    assert load_results(out).manifest["model_version"] == sim.MODEL_VERSION


def test_cli_sweep_refuses_an_existing_folder_and_dry_run_runs_nothing(spec_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_main(["sweep", str(spec_path), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert f"runs:    {N_RUNS}" in text and "chunks:  1 of 4,096" in text and "runs/s" in text
    assert not out.exists()
    assert cli_main(["sweep", str(spec_path), "--out", str(out), "--quiet", "--chunk-size", "50"]) == 0
    assert cli_main(["sweep", str(spec_path), "--out", str(out), "--quiet"]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert cli_main(["sweep", str(spec_path), "--out", str(out), "--quiet", "--resume"]) == 0  # complete: no-op
    assert len(load_results(out).runs) == N_RUNS
    bad = write(tmp_path, SPEC.replace('"fixed"]', '"fixd"]').replace("replicates = 10", "replicates = -1"), "b.toml")
    assert cli_main(["sweep", str(bad), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert "strategies[2]: unknown strategy 'fixd'" in err and "replicates: -1" in err
    assert not (tmp_path / "never").exists()


def test_export_csv_round_trips(reference, tmp_path, capsys):
    assert cli_main(["export", str(reference.path), "--csv", "--to", str(tmp_path / "csv")]) == 0
    runs = pd.read_csv(tmp_path / "csv" / "runs.csv")
    assert list(runs.columns) == list(reference.runs.columns) and len(runs) == N_RUNS
    np.testing.assert_allclose(runs["cumulative_benefit"], reference.runs["cumulative_benefit"], rtol=1e-14)
    bands = pd.read_csv(tmp_path / "csv" / "bands.csv")
    np.testing.assert_allclose(bands["q50"], reference.bands["q50"], rtol=1e-14)
    level = pd.read_csv(tmp_path / "csv" / "series_level.csv")
    np.testing.assert_array_equal(level.iloc[:, 1:].to_numpy(), reference.series("level"))


def test_load_results_errors_are_clear(tmp_path, spec_path):
    with pytest.raises(FileNotFoundError, match="not a sweep results folder"):
        load_results(tmp_path)
    spec = write(tmp_path, SPEC.replace("save_series = true", "save_series = false"), "nosave.toml")
    res = load_results(run_sweep(spec, tmp_path / "o", progress=False))
    with pytest.raises(KeyError, match="save_series = true"):
        res.series("level")
    with pytest.raises(KeyError, match="was not kept"):
        res.series("grant")


PRECISION = """
name = "prec"
strategies = ["stepwise", "funder_forced"]
n_steps = 60
seed = 11
keep_series = ["level"]
[factors]
initial_trust = [0.3, 0.85]
[precision]
outcome = "dissolved"
half_width = 0.08
confidence = 0.9
min_replicates = 20
max_replicates = 150
"""


def test_precision_adds_replicates_until_each_cell_is_precise(tmp_path):
    from scipy.stats import binomtest

    spec = write(tmp_path, PRECISION)
    a = load_results(run_sweep(spec, tmp_path / "a", chunk_size=1000, progress=False))
    b = load_results(run_sweep(spec, tmp_path / "b", chunk_size=9, progress=False))
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.bands, b.bands)
    assert len(a.manifest["rounds"]) >= 2
    n_cells = 4
    for (point, strategy), g in a.runs.groupby(["point_id", "strategy"]):
        n = len(g)
        assert g["replicate"].tolist() == list(range(n))  # a cell's replicates are 0..n-1, no gaps
        cell = point * 2 + ["stepwise", "funder_forced"].index(strategy)
        assert (g["run_id"] == g["replicate"] * n_cells + cell).all()
        ci = binomtest(int(g["dissolved"].sum()), n).proportion_ci(confidence_level=0.9, method="wilson")
        assert (ci.high - ci.low) / 2 <= 0.08 + 1e-12 or n == 150, (point, strategy, n, ci)
    counts = a.runs.groupby(["point_id", "strategy"]).size()
    assert counts.min() < counts.max()  # cells get different numbers of replicates
    # A cell's k-th replicate is the same run whatever the rounds: compare with a plain sweep.
    plain = write(tmp_path, "replicates = 20\n" + PRECISION.split("[precision]")[0], "plain.toml")
    p = load_results(run_sweep(plain, tmp_path / "p", progress=False)).runs
    pd.testing.assert_frame_equal(a.runs[a.runs["replicate"] < 20].reset_index(drop=True), p)


def test_precision_resumes_mid_round_identically(tmp_path):
    spec = write(tmp_path, PRECISION)
    whole = load_results(run_sweep(spec, tmp_path / "whole", chunk_size=17, progress=False))
    calls = []

    def stop_in_round_two(result, runs_done):
        calls.append(result.index)
        if runs_done > 120:
            raise Boom()

    with pytest.raises(Boom):
        run_sweep(spec, tmp_path / "out", chunk_size=17, progress=False, on_chunk=stop_in_round_two)
    run_sweep(spec, tmp_path / "out", resume=True, progress=False)
    res = load_results(tmp_path / "out")
    pd.testing.assert_frame_equal(res.runs, whole.runs)
    pd.testing.assert_frame_equal(res.bands, whole.bands)
    assert res.manifest["rounds"] == whole.manifest["rounds"]
    assert os.path.exists(tmp_path / "out" / "bands.parquet")
