"""Sweeps on Dask: one shared 2-worker LocalCluster (processes, loopback), same results, no run lost to a dead worker.

The cluster is module-scoped: it starts once per test worker that runs these tests. (The xdist group mark is
kept for ``--dist loadgroup``; ``make test`` uses ``--dist load``, see the Makefile.)
"""

from __future__ import annotations

import os
import textwrap

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from sim.sweep import DaskExecutor, load_results, run_sweep  # noqa: E402

pytestmark = pytest.mark.xdist_group("dask")

SPEC = """
name = "dask"
strategies = ["stepwise", "funder_schedule"]
replicates = 12
n_steps = 50
seed = 99
keep_series = ["level", "mean_trust"]
[factors]
initial_trust = [0.2, 0.5, 0.8]
"""


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask-ref")
    (d / "spec.toml").write_text(textwrap.dedent(SPEC))
    return d / "spec.toml", load_results(run_sweep(d / "spec.toml", d / "out", chunk_size=1000, progress=False))


def test_dask_cluster_gives_identical_results(client, reference, tmp_path):
    spec, ref = reference
    with DaskExecutor(client=client) as ex:
        assert ex.workers == 2
        out = run_sweep(spec, tmp_path / "out", chunk_size=11, executor=ex, progress=False)
    res = load_results(out)
    pd.testing.assert_frame_equal(res.runs, ref.runs)
    pd.testing.assert_frame_equal(res.bands, ref.bands)
    assert res.manifest["sessions"][0]["executor"] == "Dask client"


class KillOnce(distributed.WorkerPlugin):
    """Kill the worker process the first time any worker starts a sweep chunk (a marker file makes it once)."""

    name = "trustladder-kill-once"

    def __init__(self, marker: str):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "trustladder-chunk" in str(key):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, str(key).encode())
            os.close(fd)
            os._exit(1)


def test_a_worker_killed_mid_sweep_loses_no_runs(client, reference, tmp_path):
    spec, ref = reference
    marker = tmp_path / "killed"
    client.register_plugin(KillOnce(str(marker)))
    try:
        with DaskExecutor(client=client) as ex:
            out = run_sweep(spec, tmp_path / "out", chunk_size=9, executor=ex, progress=False)
    finally:
        client.unregister_worker_plugin(KillOnce.name)
    assert marker.exists(), "no worker was killed"
    assert "trustladder-chunk" in marker.read_text()
    res = load_results(out)
    assert res.runs["run_id"].is_unique
    pd.testing.assert_frame_equal(res.runs, ref.runs)
    pd.testing.assert_frame_equal(res.bands, ref.bands)


def test_dask_local_from_the_command_line(reference, tmp_path, capsys):
    from sim.cli import main

    spec, ref = reference
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--dask-local", "1", "--chunk-size", "40"]) == 0
    assert "Dask LocalCluster of 1 worker on 127.0.0.1" in capsys.readouterr().err
    pd.testing.assert_frame_equal(load_results(tmp_path / "out").runs, ref.runs)


def test_own_cluster_tracks_its_futures_on_its_own_loop_while_another_client_is_current(client, reference, tmp_path,
                                                                                        monkeypatch):
    """A regression: ``as_completed([])`` without ``loop`` follows the *default* client, here the module's (its
    ``with`` block makes it current), so a sweep on an executor's own LocalCluster had its completions tracked on
    another client's loop and could wait forever (seen once in a full run of the suite)."""
    import distributed

    assert distributed.default_client() is client  # the situation: another client is current
    loops = []
    real = distributed.as_completed

    def spy(*args, **kwargs):
        ac = real(*args, **kwargs)
        loops.append(ac.loop)
        return ac

    monkeypatch.setattr(distributed, "as_completed", spy)
    spec, ref = reference
    with DaskExecutor(n_workers=1) as ex:
        out = run_sweep(spec, tmp_path / "out", chunk_size=40, executor=ex, progress=False)
        assert ex.client is not client and ex.client.loop is not client.loop
        assert loops and all(loop is ex.client.loop for loop in loops)
    pd.testing.assert_frame_equal(load_results(out).runs, ref.runs)
