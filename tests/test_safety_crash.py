"""kill -9 of the driver and of a pool worker, resumes under other versions, partial reports (issue 10, item 7)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from safety_support import (
    CHUNK,
    SLOW_CHUNK,
    SLOW_CHUNKS,
    SLOW_SPEC,
    cli,
    hashes,
    manifest,
    reference,
    save_manifest,
    start_cli,
    wait_for,
)

from sim.manifest import package_versions
from sim.sweep import PoolExecutor, ResumeError, load_results, run_sweep
from sim.sweep.executors import CRASH_ENV, WorkerLost
from sim.sweep.store import SweepWarning


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    return reference(tmp_path_factory)


@pytest.fixture(scope="module")
def slow_ref(tmp_path_factory):
    return reference(tmp_path_factory, SLOW_SPEC, SLOW_CHUNK)


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_killing_the_driver_leaves_no_workers_and_resumes_bit_identical(slow_ref, tmp_path):
    psutil = pytest.importorskip("psutil")
    spec, clean = slow_ref
    out = tmp_path / "out"
    proc = start_cli(["sweep", str(spec), "--out", str(out), "--chunk-size", str(SLOW_CHUNK), "--workers", "2",
                      "--quiet"], env={"TRUSTLADDER_CHECKPOINT_SECONDS": "0"})
    children: list = []
    try:
        wait_for(lambda: sum(1 for c in manifest(out)["chunks"] if "sha256" in c) >= 2 if (
            out / "manifest.json").exists() else False, proc, what="two recorded chunks")
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2  # the pool's workers (and multiprocessing's resource tracker)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The reproduction: orphaned workers (about 250 MB each) were still alive minutes later.
        deadline = time.monotonic() + 15
        while any(alive(c.pid) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [c.pid for c in children if alive(c.pid)]
        assert not left, f"orphaned worker processes {left}"
    finally:
        for c in children:  # only the processes this test started
            if alive(c.pid):
                os.kill(c.pid, signal.SIGKILL)
    m = manifest(out)
    assert m["status"] == "running" and m["sessions"][0]["finished"] is None
    recorded = sum(1 for c in m["chunks"] if "sha256" in c)
    r = cli(["sweep", str(spec), "--out", str(out), "--resume", "--quiet"])
    assert r.returncode == 0, r.stderr
    assert hashes(out) == hashes(clean)  # bit-identical to a clean run, file by file
    sessions = manifest(out)["sessions"]
    # The checkpoint writes the bands before the manifest, so every recorded chunk is in the bands: only the
    # others run again, and none is counted twice.
    assert len(sessions) == 2 and sessions[1]["chunks_run"] == SLOW_CHUNKS - recorded


def test_a_dead_pool_worker_is_replaced_and_its_chunk_run_again(ref, tmp_path, monkeypatch):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ENV, f"3:{marker}")  # the worker that starts chunk 3 calls os._exit, once
    with PoolExecutor(2) as pool, pytest.warns(SweepWarning, match="a worker process died .* running them again"):
        out = run_sweep(ref[0], tmp_path / "out", chunk_size=CHUNK, executor=pool, progress=False)
    assert marker.exists(), "no worker died"
    assert hashes(out) == hashes(ref[1])
    assert manifest(out)["status"] == "complete"


def test_workers_that_keep_dying_stop_the_sweep_clearly_and_resumably(ref, tmp_path, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, "4")  # every worker that starts chunk 4 dies
    with PoolExecutor(2, max_restarts=1) as pool, pytest.warns(SweepWarning):
        with pytest.raises(WorkerLost, match=r"died 2 times .*--resume"):
            run_sweep(ref[0], tmp_path / "out", chunk_size=CHUNK, executor=pool, progress=False)
    m = manifest(tmp_path / "out")
    assert m["status"] == "running" and "WorkerLost" in m["sessions"][0]["interrupted"]
    monkeypatch.delenv(CRASH_ENV)
    run_sweep(ref[0], tmp_path / "out", resume=True, progress=False)
    assert hashes(tmp_path / "out") == hashes(ref[1])


def test_the_command_line_reports_dead_workers_without_a_traceback(ref, tmp_path):
    # The reproduction: one dead pool worker aborted the sweep with a raw BrokenProcessPool traceback.
    r = cli(["sweep", str(ref[0]), "--out", str(tmp_path / "out"), "--chunk-size", str(CHUNK), "--workers", "2",
             "--quiet"], env={CRASH_ENV: "2"})
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "BrokenProcessPool" not in r.stderr
    assert "note: a worker process died" in r.stderr
    assert "error: a worker process died 4 times" in r.stderr and "--resume" in r.stderr


class Boom(RuntimeError):
    pass


def stopped(ref, out: Path, n: int = 2) -> Path:
    seen = []

    def stop(result, runs_done):
        seen.append(result.index)
        if len(seen) == n:
            raise Boom()

    with pytest.raises(Boom):
        run_sweep(ref[0], out, chunk_size=CHUNK, progress=False, on_chunk=stop)
    return out


def test_a_resume_under_another_trustladder_version_is_refused_or_recorded(ref, tmp_path):
    out = stopped(ref, tmp_path / "out")
    m = manifest(out)
    m["versions"]["trustladder"] = "0.0.1"
    m["versions"]["numpy"] = "1.0.0"
    save_manifest(out, m)
    ours = package_versions()["trustladder"]
    with pytest.raises(ResumeError, match=f"started with trustladder 0.0.1, this is {ours}.*--allow-version-change"):
        run_sweep(ref[0], out, resume=True, progress=False)
    r = cli(["sweep", str(ref[0]), "--out", str(out), "--resume", "--quiet"])
    assert r.returncode == 2 and "--allow-version-change" in r.stderr and "Traceback" not in r.stderr
    r = cli(["sweep", str(ref[0]), "--out", str(out), "--resume", "--quiet", "--allow-version-change"])
    assert r.returncode == 0, r.stderr
    m = manifest(out)
    assert m["versions"]["trustladder"] == "0.0.1"  # the sweep's start stays recorded
    first, second = m["sessions"]
    # Each session records its own provenance.
    for s in (first, second):
        assert {"versions", "git_commit", "model_version", "host", "pid", "command", "started", "finished"} <= set(s)
    assert second["versions"]["trustladder"] == ours and second["versions"]["numpy"] != "1.0.0"
    assert hashes(out) == hashes(ref[1])


def test_a_partial_sweeps_report_says_so_at_the_top(ref, tmp_path):
    from sim.analysis.report import build_report

    out = stopped(ref, tmp_path / "out", 3)
    with pytest.warns(SweepWarning):
        res = load_results(out)
    page = build_report(res, n_resamples=100, figures=[], cells=False)
    assert 'id="partial"' in page and page.index('id="partial"') < page.index("<nav>")
    assert f"the {3 * CHUNK:,} runs finished of the 40 planned" in page
    assert f"trustladder sweep {ref[0]} --out {out} --resume" in page
    complete = build_report(load_results(ref[1]), n_resamples=100, figures=[], cells=False)
    assert 'id="partial"' not in complete
