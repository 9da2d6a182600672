"""One writer per results folder: an OS-level lock naming its holder (issue 10, item 2)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from safety_support import CHUNK, SLOW_SPEC, SPEC, cli, manifest, start_cli, wait_for, write

from sim.sweep import load_results, run_sweep
from sim.sweep.folder import LOCK_INFO, FolderLock, FolderLocked
from sim.sweep.spec import load_spec

HOLD = textwrap.dedent("""
    import sys, time
    from sim.sweep.folder import FolderLock
    lock = FolderLock(sys.argv[1]).acquire()
    print("held", flush=True)
    sys.stdin.readline()
""")


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/out until the test ends."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield out, proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_a_second_writer_is_refused_with_the_holders_details(holder, tmp_path, capsys):
    out, proc = holder
    spec = write(tmp_path, SPEC)
    with pytest.raises(FolderLocked, match=f"pid {proc.pid} on {socket.gethostname()}") as err:
        run_sweep(spec, out, chunk_size=CHUNK, progress=False)
    assert "since 20" in str(err.value) and "stop that process" in str(err.value)
    for argv in (["sweep", str(spec), "--out", str(out), "--force", "--quiet"],
                 ["sweep", str(spec), "--out", str(out), "--resume", "--quiet"],
                 ["run", "--runs", "5", "--out", str(out)]):
        from sim.cli import main

        assert main(argv) == 2, argv
        assert f"pid {proc.pid}" in capsys.readouterr().err
    # Nothing was written by the refused writers.
    assert sorted(p.name for p in out.iterdir()) == [".trustladder.lock", LOCK_INFO]


def test_two_locks_in_one_process_exclude_each_other(tmp_path):
    with FolderLock(tmp_path / "out"):
        with pytest.raises(FolderLocked):
            FolderLock(tmp_path / "out").acquire()
    with FolderLock(tmp_path / "out") as lock:  # released on exit: free again
        assert lock.held
    assert not (tmp_path / "out" / LOCK_INFO).exists()


class Boom(RuntimeError):
    pass


def test_the_lock_is_released_when_a_sweep_fails(tmp_path):
    spec = write(tmp_path, SPEC)

    def fail(result, runs_done):
        with pytest.raises(FolderLocked):  # held while the sweep runs
            FolderLock(tmp_path / "out").acquire()
        raise Boom()

    with pytest.raises(Boom):
        run_sweep(spec, tmp_path / "out", chunk_size=CHUNK, progress=False, on_chunk=fail)
    FolderLock(tmp_path / "out").acquire().release()


def test_a_concurrent_force_sweep_cannot_mix_two_specs(tmp_path):
    # The reproduction: a second sweep with --force into a folder another sweep is writing left runs/ holding a
    # mix of both specs' chunks under a manifest saying "complete" for the first.
    first = write(tmp_path, SLOW_SPEC.replace("replicates = 120", "replicates = 4000"), "first.toml")
    second = write(tmp_path, SPEC, "second.toml")
    out = tmp_path / "out"
    proc = start_cli(["sweep", str(first), "--out", str(out), "--chunk-size", "1200", "--quiet"])
    try:
        wait_for(lambda: (out / LOCK_INFO).exists(), proc, what="the first sweep to take the lock")
        with pytest.raises(FolderLocked, match=f"pid {proc.pid}"):
            run_sweep(second, out, force=True, progress=False)
        info = json.loads((out / LOCK_INFO).read_text())
        assert info["pid"] == proc.pid and info["host"] == socket.gethostname()
        second_run = cli(["sweep", str(second), "--out", str(out), "--force", "--quiet"])
        assert proc.poll() is None, "the first sweep ended too soon for this test"
        assert second_run.returncode == 2
        assert f"is being written by pid {proc.pid}" in second_run.stderr and "Traceback" not in second_run.stderr
    finally:
        assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()
    res = load_results(out)
    assert res.manifest["spec_hash"] == load_spec(first).hash() and res.complete
    runs = res.runs
    assert len(runs) == 24_000 and runs["run_id"].tolist() == list(range(24_000))
    assert set(runs["strategy"]) == {"stepwise", "funder_patient"} and (runs["n_steps"] == 120).all()
    assert not (out / LOCK_INFO).exists()  # a finished writer removes its details
    assert manifest(out)["sessions"][0]["pid"] == proc.pid


def test_lock_details_survive_a_missing_info_file(tmp_path):
    with FolderLock(tmp_path / "out"):
        os.unlink(tmp_path / "out" / LOCK_INFO)
        with pytest.raises(FolderLocked, match="another process"):
            FolderLock(tmp_path / "out").acquire()


def test_a_folder_that_is_being_started_is_reported_as_locked_not_as_foreign(tmp_path):
    # Seen in a test run: a writer that had taken the lock but not yet written manifest.json (only its
    # temporary file) made a second sweep with --force say "not provably a TrustLadder results folder".
    second = write(tmp_path, SPEC, "second.toml")
    out = tmp_path / "out"
    with FolderLock(out):
        (out / ".manifest.json.sr_0000.tmp").write_text("{")
        with pytest.raises(FolderLocked, match=f"pid {os.getpid()}"):
            run_sweep(second, out, force=True, progress=False)
        with pytest.raises(FolderLocked):
            run_sweep(second, out, resume=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".manifest.json.sr_0000.tmp", ".trustladder.lock"]
