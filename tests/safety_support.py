"""Helpers of the fault-injection suite (tests/test_safety_*.py): small specs, reference sweeps, file hashes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sim.sweep import run_sweep

#: 2 points x 2 strategies x 10 replicates = 40 runs; chunks of 7 give 6 chunks (the last of 5 runs).
SPEC = """
name = "safety"
strategies = ["stepwise", "funder_forced"]
replicates = 10
n_steps = 30
seed = 7
keep_series = ["level", "mean_trust"]
save_series = true
[factors]
initial_trust = [0.3, 0.85]
"""
CHUNK = 7
N_RUNS = 40
N_CHUNKS = 6

#: A sweep that takes several seconds (for kills and concurrent writers): 12 chunks of 60 runs x 120 steps.
SLOW_SPEC = """
name = "slow"
strategies = ["stepwise", "funder_patient"]
replicates = 120
n_steps = 120
seed = 5
keep_series = ["level", "mean_trust"]
[factors]
initial_trust = [0.3, 0.6, 0.9]
"""
SLOW_CHUNK = 60
SLOW_CHUNKS = 12


def write(folder: Path, text: str, name: str = "spec.toml") -> Path:
    p = Path(folder) / name
    p.write_text(textwrap.dedent(text))
    return p


def hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every result file (runs/, series/, bands, points, sample) by relative path."""
    folder = Path(folder)
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and (rel.startswith(("runs/", "series/")) or rel in ("bands.parquet", "points.parquet",
                                                                            "sample.npy")):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def reference(tmp_path_factory: pytest.TempPathFactory, text: str = SPEC, chunk: int = CHUNK) -> tuple[Path, Path]:
    """(spec, folder) of a clean, uninterrupted in-process sweep."""
    d = tmp_path_factory.mktemp("reference")
    spec = write(d, text)
    return spec, run_sweep(spec, d / "out", chunk_size=chunk, progress=False)


def manifest(folder: Path) -> dict:
    return json.loads((Path(folder) / "manifest.json").read_text())


def save_manifest(folder: Path, m: dict) -> None:
    (Path(folder) / "manifest.json").write_text(json.dumps(m))


#: ``trustladder`` in a fresh interpreter. (Not ``python -m sim.cli``: that runs cli.py as ``__main__``, whose
#: ``UserError`` is then another class than the one the commands raise.)
TRUSTLADDER = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main(sys.argv[1:]))"]


def cli(argv: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 300
        ) -> subprocess.CompletedProcess:
    """``trustladder ARGV`` in a fresh interpreter (output captured)."""
    return subprocess.run([*TRUSTLADDER, *argv], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def start_cli(argv: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*TRUSTLADDER, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def wait_for(condition, proc: subprocess.Popen | None = None, timeout: float = 120, what: str = "") -> None:
    """Poll ``condition()`` until true; fail if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended before {what}: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
