"""The results store: one folder per experiment, and :func:`load_results` to read it back.

Layout (the schema is documented in ``docs/sweeps.md``, a contract with
:mod:`sim.analysis`)::

    manifest.json           the spec as run, hashes, seeds, versions, times, chunks
    points.parquet          point_id and each factor's value as run
    sample.npy              the sampler's matrix (rows = point_id)
    runs/chunk-NNNNNN.parquet   the per-run table, one file per chunk
    series/chunk-NNNNNN.npz     full per-run series (only with save_series = true)
    bands.parquet           per-cell, per-step quantile bands (written when the sweep completes)
    state/bands.npz         band accumulator checkpoint of an unfinished sweep

A chunk is done when its Parquet file exists: it is written to a temporary
file and renamed, after its series file.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SweepResults",
    "load_results",
    "export_csv",
    "chunk_path",
    "series_path",
    "done_chunks",
    "read_manifest",
    "MANIFEST",
    "BANDS",
    "POINTS",
    "SAMPLE",
]

MANIFEST = "manifest.json"
BANDS = "bands.parquet"
POINTS = "points.parquet"
SAMPLE = "sample.npy"
RUNS_DIR = "runs"
SERIES_DIR = "series"
STATE = "state/bands.npz"


def chunk_path(out: Path, index: int) -> Path:
    return Path(out) / RUNS_DIR / f"chunk-{index:06d}.parquet"


def series_path(out: Path, index: int) -> Path:
    return Path(out) / SERIES_DIR / f"chunk-{index:06d}.npz"


def done_chunks(out: Path) -> set[int]:
    """Indices of the chunks whose per-run table is on disk."""
    d = Path(out) / RUNS_DIR
    if not d.is_dir():
        return set()
    return {int(p.stem.split("-")[1]) for p in d.glob("chunk-*.parquet")}


def read_manifest(out: str | Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{out}: no {MANIFEST} (not a sweep results folder)")
    with open(path) as fh:
        manifest = json.load(fh)
    if manifest.get("kind") == "run":
        raise NotASweepError(f"{out}: a `trustladder run` folder, not a sweep's: read its runs.parquet with "
                             "pandas; analyze, plot, report and export take a folder written by `trustladder sweep`")
    return manifest


class NotASweepError(FileNotFoundError):
    """The folder holds results, but not a sweep's."""


@dataclass
class SweepResults:
    """A sweep's results, loaded from its folder by :func:`load_results`.

    Attributes
    ----------
    path : Path
        The results folder.
    manifest : dict
        ``manifest.json``.
    runs : pandas.DataFrame
        One row per run, sorted by ``run_id`` (columns: run_id, point_id,
        strategy, replicate, seed, every parameter, the summary outcomes).
    bands : pandas.DataFrame
        Long format: point_id, strategy, series, step, n, mean, q05, q25, q50,
        q75, q95, then the factor columns.
    points : pandas.DataFrame
        point_id and each factor's value as run.
    sample : ndarray
        The sample matrix (rows = point_id, columns = ``manifest["factors"]``).
    """

    path: Path
    manifest: dict[str, Any]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    @cached_property
    def runs(self) -> pd.DataFrame:
        files = sorted((self.path / RUNS_DIR).glob("chunk-*.parquet"))
        if not files:
            from .chunk import run_columns

            return pd.DataFrame({c: [] for c in run_columns()})
        df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        return df.sort_values("run_id", kind="stable").reset_index(drop=True)

    @cached_property
    def bands(self) -> pd.DataFrame:
        path = self.path / BANDS
        if not path.exists():
            from .bands import QUANTILES

            return pd.DataFrame({c: [] for c in ["point_id", "strategy", "series", "step", "n", "mean", *QUANTILES]})
        return pd.read_parquet(path)

    @cached_property
    def points(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / POINTS)

    @cached_property
    def sample(self) -> np.ndarray:
        return np.load(self.path / SAMPLE)

    @property
    def series_names(self) -> list[str]:
        return list(self.manifest.get("keep_series", [])) if self.manifest.get("save_series") else []

    def series(self, name: str) -> np.ndarray:
        """Full per-run series ``name`` (runs x steps), rows aligned with :attr:`runs`; needs ``save_series = true``."""
        if name not in self.manifest.get("keep_series", []):
            raise KeyError(f"series {name!r} was not kept (kept: {', '.join(self.manifest.get('keep_series', []))})")
        if not self.manifest.get("save_series"):
            raise KeyError(f"full series were not saved (set save_series = true in the spec); "
                           f"the quantile bands of {name!r} are in .bands")
        if name not in self._cache:
            ids, parts = [], []
            for f in sorted((self.path / SERIES_DIR).glob("chunk-*.npz")):
                with np.load(f) as z:
                    ids.append(z["run_id"])
                    parts.append(z[name])
            if not parts:
                self._cache[name] = np.zeros((0, int(self.manifest["n_steps"])))
            else:
                run_id = np.concatenate(ids)
                order = np.argsort(run_id, kind="stable")
                self._cache[name] = np.concatenate(parts)[order]
        return self._cache[name]


def load_results(path: str | Path) -> SweepResults:
    """Load a sweep's results folder (see :class:`SweepResults`).

    Examples
    --------
    >>> res = load_results("results/trust-by-deadline")  # doctest: +SKIP
    >>> res.runs.groupby("strategy")["dissolved"].mean()  # doctest: +SKIP
    """
    path = Path(path)
    manifest = read_manifest(path)
    res = SweepResults(path, manifest)
    if not res.complete:
        warnings.warn(f"{path}: the sweep is not complete (status {manifest.get('status')!r}); runs holds the "
                      "finished chunks and bands are written only at the end (finish it with --resume)",
                      stacklevel=2)
    return res


def _write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_csv(path: str | Path, to: str | Path | None = None) -> list[Path]:
    """Write ``runs.csv``, ``bands.csv`` and ``points.csv`` (and each saved series) as plain CSV.

    Files go to ``to`` (default: ``<path>/csv``). Returns the files written.
    """
    res = load_results(path)
    dest = Path(to) if to is not None else Path(path) / "csv"
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in (("runs", res.runs), ("bands", res.bands), ("points", res.points)):
        p = dest / f"{name}.csv"
        _write_csv_atomic(df, p)
        written.append(p)
    for name in res.series_names:
        arr = res.series(name)
        df = pd.DataFrame(arr, columns=[f"step_{t}" for t in range(1, arr.shape[1] + 1)])
        df.insert(0, "run_id", res.runs["run_id"].to_numpy())
        p = dest / f"series_{name}.csv"
        _write_csv_atomic(df, p)
        written.append(p)
    return written
