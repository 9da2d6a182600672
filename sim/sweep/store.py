"""The results store: one folder per experiment, and :func:`load_results` to read it back.

Layout (the schema is documented in ``docs/sweeps.md``, a contract with
:mod:`sim.analysis`)::

    manifest.json           the spec as run, hashes, seeds, versions, times, chunks
    points.parquet          point_id and each factor's value as run
    sample.npy              the sampler's matrix (rows = point_id)
    runs/chunk-NNNNNN.parquet   the per-run table, one file per chunk
    partnerships/chunk-NNNNNN.parquet, organizations/chunk-NNNNNN.parquet, memberships/chunk-NNNNNN.parquet
                            the community model's partnership and organization tables (model = "community")
    series/chunk-NNNNNN.npz     full per-run series (only with save_series = true)
    bands.parquet           per-cell, per-step quantile bands (written when the sweep completes)
    state/bands.npz         band accumulator checkpoint of an unfinished sweep
    .trustladder.lock       the writer's lock (see :mod:`sim.sweep.folder`)

Every file is written atomically. **Integrity**: the manifest records, for
each finished chunk, its row count and the SHA-256 of its file's bytes (and of
its series file, and of each of its model's tables), and the SHA-256 of ``points.parquet``, ``sample.npy`` and
``bands.parquet`` under ``"files"``. :func:`load_results` checks them all
(series files when first read) and refuses a missing, extra, duplicated,
truncated or altered file with an :class:`IntegrityError` that names it and
says how to repair it; ``--resume`` runs such chunks again.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..manifest import is_temp_name, sha256_file, write_frame_atomic
from .bands import QUANTILES
from .chunk import run_columns, table_columns
from .models import DEFAULT_MODEL, get_model

__all__ = [
    "SweepResults",
    "load_results",
    "export_csv",
    "chunk_path",
    "series_path",
    "table_path",
    "read_manifest",
    "check_chunk",
    "stored_tables",
    "check_file",
    "stray_files",
    "ResultsError",
    "IntegrityError",
    "DamagedManifestError",
    "NotASweepError",
    "PartialResultsWarning",
    "SweepWarning",
    "MANIFEST",
    "BANDS",
    "POINTS",
    "SAMPLE",
    "STATE",
]

MANIFEST = "manifest.json"
BANDS = "bands.parquet"
POINTS = "points.parquet"
SAMPLE = "sample.npy"
RUNS_DIR = "runs"
SERIES_DIR = "series"
STATE = "state/bands.npz"
#: Version of the integrity records in the manifest (``manifest["integrity"]``).
INTEGRITY_VERSION = 1


class ResultsError(OSError):
    """A results folder that cannot be read as it is (the message says why and what to do)."""


class NotASweepError(ResultsError, FileNotFoundError):
    """The folder holds no sweep (no manifest, or a ``trustladder run`` folder)."""


class DamagedManifestError(ResultsError):
    """``manifest.json`` is not valid JSON (truncated or overwritten)."""


class IntegrityError(ResultsError):
    """Stored files do not match what the manifest recorded (``problems`` lists each)."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = list(problems)


class SweepWarning(UserWarning):
    """Something a sweep's user should know (a chunk run again, a state file ignored, a worker restarted)."""


class PartialResultsWarning(SweepWarning):
    """The sweep is not complete: its tables hold the finished part only."""


def chunk_path(out: Path, index: int) -> Path:
    return Path(out) / RUNS_DIR / f"chunk-{index:06d}.parquet"


def series_path(out: Path, index: int) -> Path:
    return Path(out) / SERIES_DIR / f"chunk-{index:06d}.npz"


def table_path(out: Path, table: str, index: int) -> Path:
    """Where chunk ``index``'s part of the model's extra table ``table`` (e.g. ``partnerships``) is stored."""
    return Path(out) / table / f"chunk-{index:06d}.parquet"


def _model(manifest: dict[str, Any]) -> str:
    return manifest.get("model", DEFAULT_MODEL)


def read_manifest(out: str | Path) -> dict[str, Any]:
    """A sweep folder's ``manifest.json`` (raises a clear :class:`ResultsError` if it is missing or damaged)."""
    path = Path(out) / MANIFEST
    if not path.exists():
        raise NotASweepError(f"{out}: no {MANIFEST} (not a sweep results folder)")
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DamagedManifestError(
            f"{path} is damaged ({exc}): it is written atomically, so something else truncated or overwrote it. "
            "Without it the chunks cannot be verified: restore it from a backup, or delete the folder yourself "
            "and run the sweep again (--force refuses a folder it cannot prove is a TrustLadder result)") from None
    if manifest.get("kind") == "run":
        raise NotASweepError(f"{out}: a `trustladder run` folder, not a sweep's: read its runs.parquet with "
                             "pandas; analyze, plot, report and export take a folder written by `trustladder sweep`")
    return manifest


def resume_command(out: Path, manifest: dict[str, Any]) -> str:
    """The command that continues (and repairs) the sweep in ``out``."""
    spec = manifest.get("spec_path") or "SPEC"
    return f"trustladder sweep {spec} --out {out} --resume"


def _diagnose(path: Path, entry: dict[str, Any], columns: list[str], rows: int, sub: str = RUNS_DIR) -> str:
    """Why a chunk's table (its runs, or a part of a model's extra table) does not hash to what was recorded."""
    rel = f"{sub}/{path.name}"
    try:
        md = pq.read_metadata(path)
    except Exception:  # pyarrow raises several types for a damaged file
        return f"{rel} is not a readable Parquet file (truncated or overwritten)"
    if md.num_rows != rows:
        return f"{rel} has {md.num_rows} rows, the sweep wrote {rows} (truncated, or replaced by another file)"
    names = md.schema.names
    missing = [c for c in columns if c not in names]
    if missing:
        return f"{rel} lacks column(s) {', '.join(missing)} (edited after it was written)"
    try:
        ids = pq.read_table(path, columns=["run_id"]).column("run_id").to_numpy()
        first, last = entry["first_run_id"], entry["last_run_id"]
        if sub == RUNS_DIR and len(ids) and (int(ids.min()) != first or int(ids.max()) != last):
            return (f"{rel} holds runs {int(ids.min())}..{int(ids.max())}, but chunk {entry['index']} is runs "
                    f"{entry['first_run_id']}..{entry['last_run_id']} (a copy of another chunk?)")
    except Exception:
        return f"{rel} is not a readable Parquet file (truncated or overwritten)"
    return f"{rel} differs from what the sweep wrote (its SHA-256 changed: edited or replaced)"


def check_file(out: Path, name: str, recorded: str | None) -> str | None:
    """What is wrong with a top-level file whose hash the manifest recorded (None if it matches)."""
    path = Path(out) / name
    if recorded is None:
        return None
    if not path.exists():
        return f"{name} is missing"
    if sha256_file(path) != recorded:
        return f"{name} differs from what the sweep wrote (its SHA-256 changed: edited, truncated or replaced)"
    return None


#: The extra tables a sweep of each model stored before ``manifest["tables"]`` recorded them (a community sweep
#: then kept no membership table).
_LEGACY_TABLES: dict[str, tuple[str, ...]] = {"community": ("partnerships", "organizations")}


def stored_tables(manifest: dict[str, Any]) -> tuple[str, ...]:
    """The model's extra tables this sweep stores per chunk: ``manifest["tables"]``, or, for a folder written
    before that record, the tables its model stored then."""
    if "tables" in manifest:
        return tuple(manifest["tables"])
    model = _model(manifest)
    return _LEGACY_TABLES.get(model, get_model(model).tables)


def check_chunk(out: Path, entry: dict[str, Any], series: str | None = None,
                model: str = DEFAULT_MODEL, tables: Sequence[str] | None = None) -> str | None:
    """What is wrong with a finished chunk's files, or None if they are as recorded.

    Parameters
    ----------
    out : Path
        The results folder.
    entry : dict
        The chunk's manifest entry (``index``, ``rows``, ``sha256``, ``tables``, ...).
    series : {None, "exists", "hash"}
        Also check the chunk's series file: that it exists, or its hash too.
    model : str
        The sweep's model: its extra tables (each recorded under ``entry["tables"]``) are checked too.
    tables : sequence of str, optional
        The extra tables the sweep stores (:func:`stored_tables`; default: every table of ``model``).
    """
    path = chunk_path(out, entry["index"])
    rel = f"{RUNS_DIR}/{path.name}"
    if not path.is_file():
        return f"{rel} is missing"
    want = entry.get("sha256")
    if want is None:  # written before integrity records: check what can be checked
        try:
            rows = pq.read_metadata(path).num_rows
        except Exception:
            return f"{rel} is not a readable Parquet file (truncated or overwritten)"
        if rows != entry["n_runs"]:
            return f"{rel} has {rows} rows, the sweep planned {entry['n_runs']}"
    elif sha256_file(path) != want:
        return _diagnose(path, entry, run_columns(model), entry.get("rows", entry.get("n_runs")))
    recorded = entry.get("tables", {})
    for table in get_model(model).tables if tables is None else tables:
        tpath = table_path(out, table, entry["index"])
        trel = f"{table}/{tpath.name}"
        if table not in recorded:
            return f"the manifest has no record of {trel} (edited by hand?)"
        if not tpath.is_file():
            return f"{trel} is missing (the {table} of chunk {entry['index']}'s runs)"
        if sha256_file(tpath) != recorded[table]["sha256"]:
            return _diagnose(tpath, entry, table_columns(model, table), recorded[table]["rows"], table)
    if series:
        spath = series_path(out, entry["index"])
        srel = f"{SERIES_DIR}/{spath.name}"
        if not spath.is_file():
            return f"{srel} is missing (the series of chunk {entry['index']}'s runs)"
        swant = entry.get("series_sha256")
        if series == "hash" and swant is not None and sha256_file(spath) != swant:
            return f"{srel} differs from what the sweep wrote (its SHA-256 changed: edited, truncated or replaced)"
    return None


def stray_files(out: Path, manifest: dict[str, Any]) -> list[str]:
    """Files in ``runs/`` and ``series/`` that are not chunks of this sweep (temporary files aside)."""
    indices = {int(c["index"]) for c in manifest.get("chunks", [])}
    out = Path(out)
    stray = []
    tables = [(t, lambda o, i, t=t: table_path(o, t, i)) for t in stored_tables(manifest)]
    for sub, path_of in ((RUNS_DIR, chunk_path), (SERIES_DIR, series_path), *tables):
        d = out / sub
        if not d.is_dir():
            continue
        own = {path_of(out, i).name for i in indices}
        for p in sorted(d.iterdir()):
            if is_temp_name(p.name):
                continue
            if p.name not in own or not p.is_file() or (sub == SERIES_DIR and not manifest.get("save_series")):
                stray.append(f"{sub}/{p.name}")
    return stray


def _verify(path: Path, manifest: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Check a folder against its manifest: (verified chunk entries, problems, notes)."""
    complete = manifest.get("status") == "complete"
    legacy = "integrity" not in manifest
    series = "exists" if manifest.get("save_series") else None
    problems = [f"{name}: not a chunk of this sweep (a stray or duplicated file): move it out of the folder"
                for name in stray_files(path, manifest)]
    verified, pending = [], 0
    for entry in manifest.get("chunks", []):
        if "sha256" not in entry and complete and not legacy:
            problems.append(f"chunk {entry['index']}: the manifest has no record of it (edited by hand?)")
            continue
        if "sha256" not in entry and not (legacy and complete):  # not finished, or not yet recorded
            pending += chunk_path(path, entry["index"]).exists()
            continue
        problem = check_chunk(path, entry, series, _model(manifest), stored_tables(manifest))
        if problem:
            problems.append(f"chunk {entry['index']}: {problem}")
        else:
            verified.append(entry)
    files = manifest.get("files", {})
    for name in (POINTS, SAMPLE) + ((BANDS,) if complete else ()):
        problem = check_file(path, name, files.get(name))
        if problem:
            problems.append(problem)
    if complete and not legacy:
        rows = sum(e["rows"] for e in verified)
        if not problems and rows != manifest.get("n_runs"):
            problems.append(f"the chunks hold {rows} runs, the manifest says {manifest.get('n_runs')}")
    notes = []
    if legacy and complete:
        notes.append(f"{path} was written before integrity records (no SHA-256 per chunk): only the chunks' "
                     "presence and row counts were checked")
    if pending:
        notes.append(f"{pending} stored chunk(s) of {path} are not yet recorded in its manifest (written after its "
                     "last checkpoint) and are left out; --resume verifies them or runs them again")
    return verified, problems, notes


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
        strategy, replicate, seed, every parameter, the summary outcomes of
        the sweep's model).
    partnerships, organizations, memberships : pandas.DataFrame
        A community sweep's partnership, organization and membership tables
        (``run_id`` first; join them to ``runs`` on it), see ``table(name)``.
    bands : pandas.DataFrame
        Long format: point_id, strategy, series, step, n, mean, q05, q25, q50,
        q75, q95, then the factor columns.
    points : pandas.DataFrame
        point_id and each factor's value as run.
    sample : ndarray
        The sample matrix (rows = point_id, columns = ``manifest["factors"]``).
    chunks : list of dict
        The manifest entries of the chunks that were verified (and are loaded).
    """

    path: Path
    manifest: dict[str, Any]
    chunks: list[dict[str, Any]] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.chunks is None:
            self.chunks = [c for c in self.manifest.get("chunks", []) if chunk_path(self.path, c["index"]).exists()]

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    @property
    def model(self) -> str:
        """The model the sweep ran (``"partnership"`` or ``"community"``)."""
        return _model(self.manifest)

    def table(self, name: str) -> pd.DataFrame:
        """One of the model's extra tables (a community sweep's ``partnerships``, ``organizations`` or
        ``memberships``), sorted by ``run_id`` (within a run, in the engine's order)."""
        columns = table_columns(self.model, name)  # KeyError naming the tables the model has
        if name not in stored_tables(self.manifest):
            raise KeyError(f"{self.path} has no {name} table: the sweep was stored before sweeps kept it (tables: "
                           f"{', '.join(stored_tables(self.manifest))}); run it again with --force to have it")
        key = f"table {name}"
        if key not in self._cache:
            parts = []
            for c in self.chunks:
                p = table_path(self.path, name, c["index"])
                try:
                    parts.append(pd.read_parquet(p))
                except Exception as exc:
                    raise self._damaged(f"{name}/{p.name}", exc) from None
            df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: [] for c in columns})
            self._cache[key] = df.sort_values("run_id", kind="stable").reset_index(drop=True)
        return self._cache[key]

    @property
    def partnerships(self) -> pd.DataFrame:
        """A community sweep's partnership table (``table(name)``)."""
        return self.table("partnerships")

    @property
    def organizations(self) -> pd.DataFrame:
        """A community sweep's organization table (``table(name)``)."""
        return self.table("organizations")

    @property
    def memberships(self) -> pd.DataFrame:
        """A community sweep's membership table (``table(name)``): one row per membership of each run, who was in
        which partnership, from when to when, and why it ended."""
        return self.table("memberships")

    def _damaged(self, what: str, exc: Exception) -> IntegrityError:
        problem = f"{what} cannot be read ({type(exc).__name__}: {exc})"
        return IntegrityError(f"{self.path}: {problem}; repair it with: {resume_command(self.path, self.manifest)}",
                              [problem])

    @cached_property
    def runs(self) -> pd.DataFrame:
        if not self.chunks:
            return pd.DataFrame({c: [] for c in run_columns(self.model)})
        parts = []
        for c in self.chunks:
            p = chunk_path(self.path, c["index"])
            try:
                parts.append(pd.read_parquet(p))
            except Exception as exc:  # verified, yet unreadable: changed since, or a broken library
                raise self._damaged(f"{RUNS_DIR}/{p.name}", exc) from None
        df = pd.concat(parts, ignore_index=True)
        return df.sort_values("run_id", kind="stable").reset_index(drop=True)

    @cached_property
    def bands(self) -> pd.DataFrame:
        path = self.path / BANDS
        if not path.exists():
            return pd.DataFrame({c: [] for c in ["point_id", "strategy", "series", "step", "n", "mean", *QUANTILES]})
        try:
            return pd.read_parquet(path)
        except Exception as exc:
            raise self._damaged(BANDS, exc) from None

    @cached_property
    def points(self) -> pd.DataFrame:
        try:
            return pd.read_parquet(self.path / POINTS)
        except Exception as exc:
            raise self._damaged(POINTS, exc) from None

    @cached_property
    def sample(self) -> np.ndarray:
        try:
            return np.load(self.path / SAMPLE)
        except Exception as exc:
            raise self._damaged(SAMPLE, exc) from None

    @property
    def series_names(self) -> list[str]:
        return list(self.manifest.get("keep_series", [])) if self.manifest.get("save_series") else []

    def series(self, name: str) -> np.ndarray:
        """Full per-run series ``name`` (runs x steps), row ``i`` the run of ``runs.iloc[i]``.

        Needs ``save_series = true``. Rows are matched by ``run_id``; each
        series file is checked against its recorded hash on first use, and a
        missing or damaged one is an :class:`IntegrityError`.
        """
        if name not in self.manifest.get("keep_series", []):
            raise KeyError(f"series {name!r} was not kept (kept: {', '.join(self.manifest.get('keep_series', []))})")
        if not self.manifest.get("save_series"):
            raise KeyError(f"full series were not saved (set save_series = true in the spec); "
                           f"the quantile bands of {name!r} are in .bands")
        if name not in self._cache:
            self._cache[name] = self._load_series(name)
        return self._cache[name]

    def _load_series(self, name: str) -> np.ndarray:
        if not self._cache.get("series verified"):
            problems = [f"chunk {c['index']}: {p}" for c in self.chunks
                        if (p := check_chunk(self.path, c, "hash", self.model, stored_tables(self.manifest)))]
            if problems:
                raise IntegrityError(f"{self.path}: {len(problems)} series file(s) are not as the sweep wrote them:"
                                     "\n  " + "\n  ".join(problems) + "\nRepair them with: "
                                     + resume_command(self.path, self.manifest), problems)
            self._cache["series verified"] = True
        run_id = self.runs["run_id"].to_numpy(np.int64)
        out: np.ndarray | None = None
        filled = np.zeros(len(run_id), dtype=bool)
        for c in self.chunks:
            p = series_path(self.path, c["index"])
            try:
                with np.load(p) as z:
                    ids, values = z["run_id"].astype(np.int64), z[name]
            except Exception as exc:
                raise self._damaged(f"{SERIES_DIR}/{p.name}", exc) from None
            rows = np.searchsorted(run_id, ids)
            if len(ids) != c["n_runs"] or (rows >= len(run_id)).any() or (run_id[np.minimum(rows, len(run_id) - 1)]
                                                                           != ids).any():
                problem = f"{SERIES_DIR}/{p.name} holds runs that are not chunk {c['index']}'s"
                raise IntegrityError(f"{self.path}: {problem}; repair it with: "
                                     f"{resume_command(self.path, self.manifest)}", [problem])
            if out is None:
                out = np.empty((len(run_id), values.shape[1]), dtype=values.dtype)
            out[rows] = values
            filled[rows] = True
        if out is None:
            return np.zeros((0, int(self.manifest["n_steps"])))
        if not filled.all():
            missing = run_id[~filled]
            problem = f"{len(missing)} runs have no series (first run_id {int(missing[0])})"
            raise IntegrityError(f"{self.path}: {problem}", [problem])
        return out


def load_results(path: str | Path, *, verify: bool = True) -> SweepResults:
    """Load a sweep's results folder (see :class:`SweepResults`), checking every file against the manifest.

    Parameters
    ----------
    path : path
        The results folder.
    verify : bool
        Check each chunk's hash and row count, stray files and the hashes of
        points, sample and bands (default). ``False`` skips the checks (and
        loads every recorded chunk whose file exists): for inspecting a damaged
        folder only.

    Raises
    ------
    IntegrityError
        A file is missing, extra, duplicated, truncated or altered; the message
        names each and how to repair them (``trustladder sweep ... --resume``).
    NotASweepError, DamagedManifestError
        No sweep here, or its manifest is damaged.

    Examples
    --------
    >>> res = load_results("results/trust-by-deadline")  # doctest: +SKIP
    >>> res.runs.groupby("strategy")["dissolved"].mean()  # doctest: +SKIP
    """
    path = Path(path)
    manifest = read_manifest(path)
    if not verify:
        return SweepResults(path, manifest)
    verified, problems, notes = _verify(path, manifest)
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise IntegrityError(
            f"{path}: {len(problems)} problem{'s' if len(problems) > 1 else ''} with the stored results "
            "(nothing was loaded):\n  " + "\n  ".join(shown)
            + "\nTo repair: " + ("move the stray files out of the folder, then " if any(
                "not a chunk of this sweep" in p for p in problems) else "")
            + f"run: {resume_command(path, manifest)} (it checks every chunk and runs the missing or damaged "
            "ones again)", problems)
    res = SweepResults(path, manifest, verified)
    for note in notes:
        warnings.warn(note, PartialResultsWarning, stacklevel=2)
    if not res.complete:
        warnings.warn(f"{path}: the sweep is not complete (status {manifest.get('status')!r}); runs holds the "
                      f"finished chunks and bands are written only at the end (finish it with: "
                      f"{resume_command(path, manifest)})", PartialResultsWarning, stacklevel=2)
    return res


def export_csv(path: str | Path, to: str | Path | None = None) -> list[Path]:
    """Write ``runs.csv``, ``bands.csv`` and ``points.csv`` (a community sweep's ``partnerships.csv`` and
    ``organizations.csv``, and each saved series) as plain CSV.

    Files go to ``to`` (default: ``<path>/csv``). Returns the files written.
    The folder is verified first (see :func:`load_results`).
    """
    res = load_results(path)
    dest = Path(to) if to is not None else Path(path) / "csv"
    written = []
    tables = [(name, res.table(name)) for name in stored_tables(res.manifest)]
    for name, df in (("runs", res.runs), ("bands", res.bands), ("points", res.points), *tables):
        p = dest / f"{name}.csv"
        write_frame_atomic(p, df)
        written.append(p)
    for name in res.series_names:
        arr = res.series(name)
        df = pd.DataFrame(arr, columns=[f"step_{t}" for t in range(1, arr.shape[1] + 1)])
        df.insert(0, "run_id", res.runs["run_id"].to_numpy())
        p = dest / f"series_{name}.csv"
        write_frame_atomic(p, df)
        written.append(p)
    return written
