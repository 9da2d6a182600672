"""One atomic-write helper, used for every file the code base writes (issue 11: atomic writes, four styles)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.manifest import (
    atomic_path,
    is_temp_name,
    write_bytes_atomic,
    write_frame_atomic,
    write_json_atomic,
    write_text_atomic,
)

SIM = Path(sim.__file__).resolve().parent


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_each_kind_of_content_round_trips(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan]})
    write_frame_atomic(tmp_path / "d" / "t.parquet", df)  # folders are created
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "d" / "t.parquet"), df)
    write_frame_atomic(tmp_path / "t.csv", df)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), df)
    write_json_atomic(tmp_path / "m.json", {"n": np.int64(3), "x": np.float64(0.5), "v": np.arange(2)})
    assert (tmp_path / "m.json").read_text() == '{\n  "n": 3,\n  "x": 0.5,\n  "v": [\n    0,\n    1\n  ]\n}\n'
    write_text_atomic(tmp_path / "r.md", "é")
    assert (tmp_path / "r.md").read_bytes() == "é".encode()
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(ValueError, match="allowed: parquet, csv"):
        write_frame_atomic(tmp_path / "t.xlsx", df)


def test_files_get_the_permissions_of_a_new_file(tmp_path):
    old = os.umask(0o027)
    try:
        write_bytes_atomic(tmp_path / "x", b"1")
    finally:
        os.umask(old)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o640


def test_temporary_names_are_recognised(tmp_path):
    with atomic_path(tmp_path / "chunk-000001.parquet") as tmp:
        assert is_temp_name(tmp.name) and tmp.parent == tmp_path
    with atomic_path(tmp_path / "a.gif", keep_suffix=True) as tmp:
        assert tmp.suffix == ".gif" and is_temp_name(tmp.name)
    assert not is_temp_name("chunk-000001.parquet") and not is_temp_name(".trustladder.lock")


def test_nothing_else_in_the_package_writes_files_its_own_way():
    pattern = re.compile(r"\btempfile\b|os\.replace\(|os\.rename\(|\.to_parquet\(|\.to_csv\([^)]")
    offenders = []
    files = sorted(SIM.rglob("*.py"))
    assert len(files) > 30  # the package itself, not an empty folder
    for path in files:
        if path.name == "manifest.py" and path.parent == SIM:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and "frame_bytes" not in line:
                offenders.append(f"{path.relative_to(SIM.parent)}:{n}: {line.strip()}")
    # df.to_csv(index=False) with no path returns text: allowed when it goes through write_bytes_atomic.
    offenders = [o for o in offenders if "write_bytes_atomic" not in o]
    assert not offenders, "write files with sim.manifest's atomic helpers:\n" + "\n".join(offenders)
