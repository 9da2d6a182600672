"""--force deletes only what is provably ours (issue 10, item 1). Every test works in tmp_path, never a real folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from safety_support import CHUNK, hashes, reference, write

from sim.cli import main as cli_main
from sim.sweep import load_results, run_sweep
from sim.sweep.folder import LOCK_NAME, ForceRefused, removable_files


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    return reference(tmp_path_factory)


def result_copy(ref, where: Path) -> Path:
    """A copy of the reference sweep's folder at ``where`` (a TrustLadder result, ours to replace)."""
    shutil.copytree(ref[1], where, dirs_exist_ok=True)
    return where


def listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_force_into_the_working_directory_is_refused(ref, tmp_path, monkeypatch, capsys):
    # The reproduction: `trustladder sweep SPEC --out . --force` emptied the working directory.
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.tex").write_text("two years of work")
    monkeypatch.chdir(work)
    assert cli_main(["sweep", str(ref[0]), "--out", ".", "--force", "--quiet"]) == 2
    assert "working directory" in capsys.readouterr().err
    assert (work / "thesis.tex").read_text() == "two years of work"
    # Even when . is itself a sweep folder (ours), it is never emptied.
    result_copy(ref, work)
    (work / "thesis.tex").unlink()
    before = listing(work)
    with pytest.raises(ForceRefused, match="the working directory"):
        run_sweep(ref[0], ".", force=True, chunk_size=CHUNK, progress=False)
    assert listing(work) == before


def test_force_on_an_ancestor_of_the_working_directory_is_refused(ref, tmp_path, monkeypatch):
    top = result_copy(ref, tmp_path / "top")
    (top / "deeper").mkdir()
    monkeypatch.chdir(top / "deeper")
    before = listing(top)
    with pytest.raises(ForceRefused, match="ancestor of the working directory"):
        run_sweep(ref[0], top, force=True, chunk_size=CHUNK, progress=False)
    assert cli_main(["run", "--runs", "5", "--out", str(top), "--force"]) == 2
    assert listing(top) == before


def test_force_on_the_home_folder_is_refused(ref, tmp_path, monkeypatch, capsys):
    home = result_copy(ref, tmp_path / "home")  # even a home folder that looks like a sweep result
    monkeypatch.setenv("HOME", str(home))
    assert Path.home() == home
    before = listing(home)
    assert cli_main(["sweep", str(ref[0]), "--out", str(home), "--force", "--quiet"]) == 2
    assert "your home folder" in capsys.readouterr().err
    with pytest.raises(ForceRefused, match="holding your home folder"):
        removable_files(tmp_path)
    assert listing(home) == before


def test_force_never_touches_a_filesystem_root(tmp_path):
    # removable_files only looks (it deletes nothing): the root is refused before anything else.
    with pytest.raises(ForceRefused, match="filesystem root"):
        removable_files(Path(tmp_path.anchor))


def test_force_refuses_a_folder_without_a_trustladder_manifest(ref, tmp_path, capsys):
    foreign = tmp_path / "experiments"
    (foreign / "old").mkdir(parents=True)
    (foreign / "old" / "data.csv").write_text("1,2,3")
    (foreign / "notes.md").write_text("keep me")
    before = listing(foreign)
    # The reproduction: --out some/folder/with/other/experiments --force deleted them all.
    assert cli_main(["sweep", str(ref[0]), "--out", str(foreign), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no manifest.json" in err and "notes.md" in err and "old/" in err
    assert listing(foreign) == before
    assert not (foreign / LOCK_NAME).exists()  # refused before anything was written, not even the lock
    (foreign / "manifest.json").write_text('{"kind": "something else"}')
    with pytest.raises(ForceRefused, match="kind 'something else'"):
        run_sweep(ref[0], foreign, force=True, progress=False)
    (foreign / "manifest.json").write_text('{"kind": "swe')  # damaged: not provably ours either
    with pytest.raises(ForceRefused, match="unreadable"):
        run_sweep(ref[0], foreign, force=True, progress=False)


@pytest.mark.parametrize(("extra", "named"), [("notes.txt", "notes.txt"), ("analysis/outcomes.csv", "analysis/"),
                                              ("runs/mine.parquet", "runs/mine.parquet"),
                                              ("state/keep.txt", "state/keep.txt")])
def test_force_refuses_a_sweep_folder_holding_anything_else(ref, tmp_path, extra, named):
    out = result_copy(ref, tmp_path / "out")
    (out / extra).parent.mkdir(exist_ok=True)
    (out / extra).write_text("not TrustLadder's")
    before = listing(out)
    with pytest.raises(ForceRefused, match=named.replace(".", r"\.")):
        run_sweep(ref[0], out, force=True, chunk_size=CHUNK, progress=False)
    assert listing(out) == before


def test_force_refuses_a_symbolic_link_inside(ref, tmp_path):
    out = result_copy(ref, tmp_path / "out")
    precious = tmp_path / "precious.parquet"
    precious.write_text("elsewhere")
    (out / "runs" / "chunk-000999.parquet").symlink_to(precious)
    with pytest.raises(ForceRefused, match="chunk-000999"):
        run_sweep(ref[0], out, force=True, chunk_size=CHUNK, progress=False)
    assert precious.read_text() == "elsewhere"


def test_force_replaces_our_own_sweep_folder(ref, tmp_path):
    spec = write(tmp_path, (ref[0]).read_text().replace("replicates = 10", "replicates = 3"), "three.toml")
    out = run_sweep(spec, tmp_path / "out", chunk_size=CHUNK, progress=False)
    (out / "runs" / ".chunk-000000.parquet.x1y2.tmp").write_bytes(b"half a write")  # leftovers count as ours
    run_sweep(ref[0], out, force=True, chunk_size=CHUNK, progress=False)
    assert hashes(out) == hashes(ref[1])
    pd.testing.assert_frame_equal(load_results(out).runs, load_results(ref[1]).runs)
    assert not (out / "runs" / ".chunk-000000.parquet.x1y2.tmp").exists()
    names = {p.name for p in out.iterdir()}
    assert names == {"manifest.json", "points.parquet", "sample.npy", "bands.parquet", "runs", "series", LOCK_NAME}


def test_run_force_refuses_unrelated_files_and_replaces_its_own(tmp_path, capsys):
    out = tmp_path / "batch"
    out.mkdir()
    (out / "field-notes.txt").write_text("interviews")
    # The reproduction: `trustladder run --runs 5 --out DIR --force` deleted a DIR holding unrelated files.
    assert cli_main(["run", "--runs", "5", "--out", str(out), "--force"]) == 2
    assert "field-notes.txt" in capsys.readouterr().err
    assert (out / "field-notes.txt").read_text() == "interviews" and len(list(out.iterdir())) == 1
    assert cli_main(["run", "--runs", "5", "--out", str(tmp_path / "mine")]) == 0
    assert cli_main(["run", "--runs", "7", "--out", str(tmp_path / "mine")]) == 2  # no --force: refused
    assert cli_main(["run", "--runs", "7", "--out", str(tmp_path / "mine"), "--force", "--series"]) == 0
    assert len(pd.read_parquet(tmp_path / "mine" / "runs.parquet")) == 7
    assert (tmp_path / "mine" / "series.npz").exists()
    import json

    assert json.loads((tmp_path / "mine" / "manifest.json").read_text())["status"] == "complete"


def test_sweep_force_may_replace_a_run_folder(ref, tmp_path):
    assert cli_main(["run", "--runs", "5", "--out", str(tmp_path / "o"), "--series"]) == 0
    run_sweep(ref[0], tmp_path / "o", force=True, chunk_size=CHUNK, progress=False)
    assert not (tmp_path / "o" / "runs.parquet").exists() and not (tmp_path / "o" / "series.npz").exists()
    assert hashes(tmp_path / "o") == hashes(ref[1])
