"""Every chunk verified against the manifest; damaged ones refused (load) or redone (resume) (issue 10, items 3, 4).

Each test damages a copy of a clean sweep the way a crash, a disk or a person could, and checks that loading
refuses with a message naming the file and the repair, and that ``--resume`` repairs it to the clean sweep's
exact bytes.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from safety_support import CHUNK, N_CHUNKS, N_RUNS, SPEC, cli, hashes, manifest, reference, save_manifest, write

import sim
from sim.cli import main as cli_main
from sim.sweep import load_results, run_sweep
from sim.sweep.store import DamagedManifestError, IntegrityError, PartialResultsWarning, SweepWarning

# The notes a repair prints are checked with pytest.warns where they matter; the rest are expected.
pytestmark = pytest.mark.filterwarnings("ignore::sim.sweep.store.SweepWarning")


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    return reference(tmp_path_factory)


@pytest.fixture
def out(ref, tmp_path) -> Path:
    """A fresh copy of the clean, complete sweep to damage."""
    return Path(shutil.copytree(ref[1], tmp_path / "out"))


def chunk(out: Path, i: int) -> Path:
    return out / "runs" / f"chunk-{i:06d}.parquet"


def resume(ref, out: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SweepWarning)
        run_sweep(ref[0], out, resume=True, progress=False)


def assert_repaired(ref, out: Path) -> None:
    assert hashes(out) == hashes(ref[1])
    res = load_results(out)
    pd.testing.assert_frame_equal(res.runs, load_results(ref[1]).runs)
    np.testing.assert_array_equal(res.series("level"), load_results(ref[1]).series("level"))


def rewrite(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path, compression="zstd")


DAMAGE = {
    "deleted": (lambda out: chunk(out, 2).unlink(), "chunk 2: runs/chunk-000002.parquet is missing"),
    "truncated": (lambda out: chunk(out, 2).write_bytes(chunk(out, 2).read_bytes()[:900]),
                  "chunk 2: runs/chunk-000002.parquet is not a readable Parquet file"),
    "copied over another": (lambda out: shutil.copy(chunk(out, 0), chunk(out, 2)),
                            "chunk 2: runs/chunk-000002.parquet holds runs 0..6, but chunk 2 is runs 14..20"),
    "column dropped": (lambda out: rewrite(chunk(out, 2), pq.read_table(chunk(out, 2)).drop(["dissolved"])),
                       "chunk 2: runs/chunk-000002.parquet lacks column(s) dissolved"),
    "rows dropped": (lambda out: rewrite(chunk(out, 2), pq.read_table(chunk(out, 2)).slice(0, 4)),
                     "chunk 2: runs/chunk-000002.parquet has 4 rows, the sweep wrote 7"),
    "value altered": (lambda out: rewrite(chunk(out, 2), pq.read_table(chunk(out, 2)).set_column(
        pq.read_table(chunk(out, 2)).schema.get_field_index("cumulative_benefit"), "cumulative_benefit",
        pa.array(np.arange(7, dtype=np.float64)))), "chunk 2: runs/chunk-000002.parquet differs from what the sweep"),
    "series deleted": (lambda out: (out / "series" / "chunk-000002.npz").unlink(),
                       "chunk 2: series/chunk-000002.npz is missing"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_chunk_is_refused_by_load_and_redone_by_resume(ref, out, damage):
    harm, message = DAMAGE[damage]
    harm(out)
    with pytest.raises(IntegrityError) as err:
        load_results(out)
    text = str(err.value)
    assert message in text, text
    assert f"trustladder sweep {ref[0]} --out {out} --resume" in text and "nothing was loaded" in text
    with pytest.warns(SweepWarning, match="chunk 2: .*running it again"):
        run_sweep(ref[0], out, resume=True, progress=False)
    assert_repaired(ref, out)
    m = manifest(out)
    assert m["status"] == "complete" and m["sessions"][-1]["chunks_run"] == 1  # only the damaged chunk ran


@pytest.mark.parametrize("stray", ["chunk-000000 (1).parquet", "chunk-000099.parquet", "backup/chunk-000000.parquet"])
def test_a_stray_or_duplicated_file_is_refused_and_resume_asks_to_move_it(ref, out, stray):
    target = out / "runs" / stray
    target.parent.mkdir(exist_ok=True)
    shutil.copy(chunk(out, 0), target)
    name = "runs/" + stray.split("/")[0]
    with pytest.raises(IntegrityError, match=r"not a chunk of this sweep") as err:
        load_results(out)  # before: the duplicate was loaded silently, 47 rows with 7 run ids twice
    assert name in str(err.value) and "move the stray files out" in str(err.value)
    with pytest.raises(sim.sweep.ResumeError, match="Move them out"):
        run_sweep(ref[0], out, resume=True, progress=False)
    assert target.exists()  # never deleted: it may be someone's
    shutil.rmtree(target.parent) if target.parent.name == "backup" else target.unlink()
    assert len(load_results(out).runs) == N_RUNS


def test_damaged_results_give_every_command_a_clear_message(ref, out, tmp_path):
    chunk(out, 3).write_bytes(b"PAR1 not really")
    for argv in (["analyze", str(out), "--quiet"], ["report", str(out), "--resamples", "100"],
                 ["export", str(out), "--csv"], ["plot", str(out), "--figure", "survival"]):
        r = cli(argv)
        assert r.returncode == 2, (argv, r.stderr)
        assert "chunk 3: runs/chunk-000003.parquet is not a readable Parquet file" in r.stderr, r.stderr
        assert "--resume" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (out / "csv").exists() and not (out / "analysis").exists() and not (out / "report.html").exists()


def test_complete_sweep_with_a_missing_chunk_is_not_called_complete(ref, out, capsys):
    # The reproduction: --resume said "already complete" on a complete sweep with a deleted chunk.
    chunk(out, 4).unlink()
    assert cli_main(["sweep", str(ref[0]), "--out", str(out), "--resume", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "chunk 4: runs/chunk-000004.parquet is missing: running it again" in err
    assert_repaired(ref, out)


class Boom(RuntimeError):
    pass


def partial(ref, out: Path, n: int, monkeypatch, checkpoint: float = 0.0) -> None:
    """Stop a fresh sweep into ``out`` after ``n`` chunks (checkpointing after each chunk by default)."""
    import sim.sweep.runner as runner

    monkeypatch.setattr(runner, "CHECKPOINT_SECONDS", checkpoint)
    seen = []

    def stop(result, runs_done):
        seen.append(result.index)
        if len(seen) == n:
            raise Boom()

    with pytest.raises(Boom):
        run_sweep(ref[0], out, chunk_size=CHUNK, progress=False, on_chunk=stop)


def test_a_truncated_chunk_of_a_partial_sweep_is_redone_not_skipped(ref, tmp_path, monkeypatch, capsys):
    # The reproduction: a truncated chunk in a partial sweep was skipped by --resume, which then marked the sweep
    # complete, and analyze later failed with a raw pyarrow error.
    out = tmp_path / "out"
    partial(ref, out, 3, monkeypatch)
    chunk(out, 1).write_bytes(chunk(out, 1).read_bytes()[:500])
    with pytest.raises(IntegrityError, match="chunk 1: runs/chunk-000001.parquet is not a readable"):
        load_results(out)
    assert cli_main(["sweep", str(ref[0]), "--out", str(out), "--resume", "--quiet"]) == 0
    assert "chunk 1: runs/chunk-000001.parquet is not a readable Parquet file" in capsys.readouterr().err
    assert_repaired(ref, out)
    assert cli_main(["analyze", str(out), "--quiet", "--resamples", "100"]) == 0


def test_an_unrecorded_chunk_is_left_out_of_a_partial_load_and_redone(ref, tmp_path, monkeypatch):
    out = tmp_path / "out"
    partial(ref, out, 2, monkeypatch)
    # A chunk file the manifest does not record (as after a kill between two checkpoints), here also damaged.
    chunk(out, 4).write_bytes(b"half")
    with pytest.warns(PartialResultsWarning, match="1 stored chunk.*not yet recorded"):
        res = load_results(out)
    assert len(res.runs) == 2 * CHUNK and not res.complete
    resume(ref, out)
    assert_repaired(ref, out)


def test_series_are_aligned_by_run_id_and_a_missing_file_refused(ref, out):
    res = load_results(out)
    runs = res.runs
    level = res.series("level")
    again = sim.simulate(seeds=runs["seed"].to_numpy(np.uint64), keep=["level"],
                         **{p: runs[p].to_numpy() for p in sim.PARAMETERS})
    np.testing.assert_array_equal(level, again.series("level"))  # row i is run i's series
    # The reproduction: with series/ missing a file, row 0 belonged to another run.
    (out / "series" / "chunk-000000.npz").unlink()
    with pytest.raises(IntegrityError, match="series/chunk-000000.npz is missing"):
        load_results(out)
    unverified = load_results(out, verify=False)
    with pytest.raises(IntegrityError, match="series/chunk-000000.npz is missing"):
        unverified.series("level")


def test_an_altered_series_file_is_refused_when_read(ref, out):
    shutil.copy(out / "series" / "chunk-000001.npz", out / "series" / "chunk-000002.npz")
    res = load_results(out)  # series files are hashed when first read (they can be large)
    with pytest.raises(IntegrityError, match="series/chunk-000002.npz differs from what the sweep wrote"):
        res.series("mean_trust")


@pytest.mark.parametrize("name", ["bands.parquet", "points.parquet", "sample.npy"])
def test_the_design_and_bands_files_are_verified(ref, out, name):
    (out / name).write_bytes((out / name).read_bytes()[:-20])
    with pytest.raises(IntegrityError, match=f"{name} differs from what the sweep wrote"):
        load_results(out)
    if name == "bands.parquet":  # rebuilt by running the chunks again for their bands
        with pytest.warns(SweepWarning, match="bands.parquet is missing or damaged"):
            run_sweep(ref[0], out, resume=True, progress=False)
        assert_repaired(ref, out)
        assert manifest(out)["sessions"][-1]["chunks_run"] == N_CHUNKS


def test_a_damaged_band_checkpoint_is_rebuilt_from_the_chunks(ref, tmp_path, monkeypatch):
    out = tmp_path / "out"
    partial(ref, out, 3, monkeypatch)
    state = out / "state" / "bands.npz"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.warns(SweepWarning, match=r"state/bands.npz is unreadable .* rebuilt by running the stored chunks"):
        run_sweep(ref[0], out, resume=True, progress=False)
    assert_repaired(ref, out)
    assert manifest(out)["sessions"][-1]["chunks_run"] == N_CHUNKS  # 3 for their bands only, 3 new


def test_a_truncated_manifest_gives_a_clear_message(ref, out):
    text = (out / "manifest.json").read_text()
    (out / "manifest.json").write_text(text[: len(text) // 2])
    with pytest.raises(DamagedManifestError, match="manifest.json is damaged"):
        load_results(out)
    for argv in (["analyze", str(out)], ["sweep", str(ref[0]), "--out", str(out), "--resume", "--quiet"],
                 ["export", str(out), "--csv"]):
        r = cli(argv)
        assert r.returncode == 2 and "manifest.json is damaged" in r.stderr and "restore it" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr


def test_a_partial_load_warns_and_holds_only_verified_chunks(ref, tmp_path, monkeypatch):
    out = tmp_path / "out"
    partial(ref, out, 3, monkeypatch, checkpoint=1e9)  # the checkpoint on the way out records the three
    with pytest.warns(PartialResultsWarning, match="not complete"):
        res = load_results(out)
    assert res.runs["run_id"].tolist() == list(range(3 * CHUNK))


def test_folders_from_before_integrity_records_still_load_and_resume(ref, out):
    m = manifest(out)
    del m["integrity"], m["files"]
    for c in m["chunks"]:
        for key in ("sha256", "series_sha256", "rows"):
            c.pop(key)
    save_manifest(out, m)
    with pytest.warns(SweepWarning, match="before integrity records"):
        assert len(load_results(out).runs) == N_RUNS
    resume(ref, out)  # nothing to run: the chunks are adopted, their hashes recorded
    assert all("sha256" in c for c in manifest(out)["chunks"]) and manifest(out)["integrity"] == 1
    assert len(manifest(out)["sessions"]) == 1
    load_results(out)
    m = manifest(out)
    del m["integrity"]
    for c in m["chunks"]:
        for key in ("sha256", "series_sha256", "rows"):
            c.pop(key)
    save_manifest(out, m)
    chunk(out, 1).unlink()
    with pytest.raises(IntegrityError, match="chunk 1: runs/chunk-000001.parquet is missing"):
        load_results(out)
    resume(ref, out)
    assert_repaired(ref, out)
    assert all("sha256" in c for c in manifest(out)["chunks"])


def test_a_complete_manifest_missing_a_chunk_record_is_refused(ref, out):
    m = manifest(out)
    del m["chunks"][3]["sha256"]
    save_manifest(out, m)
    with pytest.raises(IntegrityError, match="chunk 3: the manifest has no record of it"):
        load_results(out)


def test_a_clean_spec_stays_fast_to_verify(tmp_path):
    spec = write(tmp_path, SPEC.replace("save_series = true", "save_series = false"))
    out = run_sweep(spec, tmp_path / "o", chunk_size=CHUNK, progress=False)
    res = load_results(out)
    assert [c["index"] for c in res.chunks] == list(range(N_CHUNKS))
    assert sum(c["rows"] for c in res.chunks) == N_RUNS
    assert all(len(c["sha256"]) == 64 and "series_sha256" not in c for c in res.chunks)
