"""Per-cell, per-step quantile bands from mergeable fixed-bin histograms.

Each chunk turns its kept series into a :class:`BandPart`: one histogram bin
per (run, step) value and exact integer sums per (cell, step). The driver adds
parts into a :class:`BandAccumulator` (integer additions, so the result does
not depend on the order, the chunking or the worker count) and turns it into
the long ``bands`` table at the end. Memory is bounded by cells x steps x bins,
never by the number of runs.

Resolution (``binning``): integer series (level, active, success, joined,
left; the community's counts of partnerships and members) get one bin per
value and exact quantiles; shares in [0, 1] 1000 bins; ``sd_trust`` 1000
bins on [0, 0.5]; money series 0 exactly plus 100 log bins per decade on
[1e-2, 1e6] (within 1.2 %), mirrored below 0 for the net series
(``net_benefit``, ``member_payoff``) that can be negative; the community's
larger counts (memberships, recruits and exits a month) log bins too.
Quantiles are the inverted CDF (numpy ``method="inverted_cdf"``) reported
at the bin's (geometric, for log bins) midpoint. Means are exact: each value
is split into an integer part and a 32-bit fraction, both summed as
integers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..manifest import write_bytes_atomic

__all__ = ["Binning", "binning", "BandPart", "band_part", "BandAccumulator", "QUANTILES"]

#: Quantile columns and their level in percent.
QUANTILES = {"q05": 5, "q25": 25, "q50": 50, "q75": 75, "q95": 95}
_NAN_BIN = np.uint16(65535)
_FRAC = 2.0**32


@dataclass(frozen=True)
class Binning:
    """Fixed bins of one series.

    ``kind`` is ``"int"`` (one bin per whole number from 0), ``"linear"``
    (``n`` equal bins on [0, ``hi``]), ``"log"`` (0; (0, 1e-2); 100 bins per
    decade on [1e-2, 1e6); >= 1e6) or ``"signed_log"`` (the log bins of
    ``|v|``, mirrored below 0 around the bin of 0).
    """

    kind: str
    n_bins: int
    hi: float = 1.0

    def index(self, v: np.ndarray) -> np.ndarray:
        """Bin of each value (uint16); NaN gets a sentinel that :meth:`BandAccumulator.add` skips."""
        nan = np.isnan(v) if v.dtype.kind == "f" else None
        if self.kind == "int":
            idx = np.clip(v, 0, self.n_bins - 1)
        elif self.kind == "linear":
            with np.errstate(invalid="ignore"):
                idx = np.clip(np.floor(v * (self.n_bins / self.hi)), 0, self.n_bins - 1)
        elif self.kind == "log":
            idx = _log_index(v)
        else:
            idx = _LOG_SIDE - 1 + np.sign(v) * _log_index(np.abs(v))
        if nan is not None:
            idx = np.where(nan, 0, idx)
        out = idx.astype(np.uint16)
        if nan is not None:
            out[nan] = _NAN_BIN
        return out

    def values(self) -> np.ndarray:
        """The value reported for each bin."""
        i = np.arange(self.n_bins, dtype=np.float64)
        if self.kind == "int":
            return i
        if self.kind == "linear":
            return (i + 0.5) * (self.hi / self.n_bins)
        if self.kind == "signed_log":
            side = Binning("log", _LOG_SIDE).values()
            return np.concatenate([-side[:0:-1], side])
        out = np.empty(self.n_bins)
        out[0], out[1] = 0.0, 10.0**_LOG_LO / 2
        j = np.arange(_LOG_BINS + 1, dtype=np.float64)
        out[2:] = 10.0 ** (_LOG_LO + (j + 0.5) / _LOG_PER_DECADE)
        out[-1] = 10.0 ** (_LOG_LO + _LOG_BINS / _LOG_PER_DECADE)
        return out


_LOG_LO = -2  # log10 of the lowest log bin's edge
_LOG_PER_DECADE = 100
_LOG_BINS = 8 * _LOG_PER_DECADE  # 1e-2 .. 1e6; bin _LOG_BINS is the overflow
_LOG_SIDE = _LOG_BINS + 3  # the log bins: 0, (0, 1e-2), the decades' bins, the overflow


def _log_index(v: np.ndarray) -> np.ndarray:
    """The log bin of each value (0 for v <= 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.floor((np.log10(v) - _LOG_LO) * _LOG_PER_DECADE)
    return np.where(v <= 0, 0, np.where(v < 10.0**_LOG_LO, 1, np.clip(j, 0, _LOG_BINS) + 2))


_MONEY = Binning("log", _LOG_SIDE)
_NET = Binning("signed_log", 2 * _LOG_SIDE - 1)
_SHARE = Binning("linear", 1000, 1.0)
_SLOTS = Binning("int", 65)  # max_partnerships <= 64
_BINNINGS = {
    "level": Binning("int", 6),
    "active": Binning("int", 65),
    "success": Binning("int", 2),
    "joined": Binning("int", 65),
    "left": Binning("int", 65),
    "net_benefit": _NET,
    "member_payoff": _NET,
    "mean_trust": Binning("linear", 1000, 1.0),
    "min_trust": Binning("linear", 1000, 1.0),
    "contribution_rate": Binning("linear", 1000, 1.0),
    "sd_trust": Binning("linear", 1000, 0.5),
    "benefit": Binning("log", _LOG_BINS + 3),
    "cumulative_benefit": Binning("log", _LOG_BINS + 3),
    "grant": Binning("log", _LOG_BINS + 3),
}
#: The community's series (``sim.outputs.community_outputs("series")``): a name shared with the partnership model
#: keeps its bins unless its range differs (the community's recruits and exits are counted over every partnership).
_COMMUNITY_BINNINGS = {
    **{name: _BINNINGS[name] for name in ("benefit", "cumulative_benefit", "grant", "net_benefit", "mean_trust",
                                          "contribution_rate")},
    **{name: _SLOTS for name in ("partnerships", "funded", "formed", "awarded", "ended",
                                 *(f"partnerships_level_{k}" for k in range(1, 6)))},
    "members": Binning("int", 1025),  # n_community <= 1024
    "memberships": _MONEY,
    "joined": _MONEY,
    "left": _MONEY,
    "budget": _MONEY,
    "committed": _MONEY,
    "mean_trust_worked": _SHARE,
    **{f"ready_level_{k}": _SHARE for k in range(1, 6)},
}
_MODEL_BINNINGS = {"partnership": _BINNINGS, "community": _COMMUNITY_BINNINGS}


def binning(series: str, model: str = "partnership") -> Binning:
    """The fixed bins of a series of ``model`` (:data:`sim.outputs.SERIES`, or the community's series)."""
    return _MODEL_BINNINGS[model][series]


@dataclass
class BandPart:
    """One chunk's contribution to the bands of one series.

    ``bins`` (runs x steps, uint16) is each value's bin; ``cells`` the sorted
    distinct cells of the chunk; ``hi`` / ``lo`` (cells x steps, int64) the sums
    of the values' integer parts and 32-bit fractions.
    """

    bins: np.ndarray
    cells: np.ndarray
    hi: np.ndarray
    lo: np.ndarray


def band_part(values: np.ndarray, cell: np.ndarray, series: str, model: str = "partnership") -> BandPart:
    """Bin a chunk's series (runs x steps) of ``model`` and sum it per cell exactly."""
    bins = binning(series, model).index(values)
    v = values.astype(np.float64)
    ok = ~np.isnan(v)
    v = np.where(ok, v, 0.0)
    whole = np.floor(v)
    hi = whole.astype(np.int64)
    lo = np.rint((v - whole) * _FRAC).astype(np.int64)
    order = np.argsort(cell, kind="stable")
    cells, starts = np.unique(cell[order], return_index=True)
    return BandPart(bins, cells, np.add.reduceat(hi[order], starts, axis=0), np.add.reduceat(lo[order], starts, axis=0))


class BandAccumulator:
    """Histograms and exact sums per (cell, step) of each kept series, merged from chunks."""

    def __init__(self, n_cells: int, n_steps: int, series: Sequence[str], model: str = "partnership"):
        self.n_cells, self.n_steps, self.series, self.model = int(n_cells), int(n_steps), list(series), model
        self.hist = {s: np.zeros((self.n_cells, self.n_steps, binning(s, model).n_bins), dtype=np.uint32)
                     for s in series}
        self.hi = {s: np.zeros((self.n_cells, self.n_steps), dtype=np.int64) for s in series}
        self.lo = {s: np.zeros((self.n_cells, self.n_steps), dtype=np.int64) for s in series}

    def add(self, cell: np.ndarray, parts: dict[str, BandPart]) -> None:
        """Add one chunk's parts; ``cell`` is each of its runs' cell (the rows of ``part.bins``)."""
        steps = np.arange(self.n_steps, dtype=np.int64)
        for s in self.series:
            part = parts[s]
            nb = binning(s, self.model).n_bins
            keys = (cell.astype(np.int64)[:, None] * self.n_steps + steps[None, :]) * nb + part.bins
            ok = part.bins != _NAN_BIN
            # A uint32 scalar (not a Python int) keeps np.add.at on its fast path: about 25 times faster.
            np.add.at(self.hist[s].reshape(-1), keys[ok] if not ok.all() else keys.reshape(-1), np.uint32(1))
            self.hi[s][part.cells] += part.hi
            self.lo[s][part.cells] += part.lo

    def save(self, path: Path, **extra: np.ndarray) -> None:
        """Write the state and ``extra`` arrays (uncompressed npz, atomically) for a resumed sweep."""
        arrays = dict(extra)
        for s in self.series:
            arrays[f"hist/{s}"] = self.hist[s]
            arrays[f"hi/{s}"] = self.hi[s]
            arrays[f"lo/{s}"] = self.lo[s]
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_bytes_atomic(path, buf.getvalue())

    def clear(self) -> None:
        """Back to no chunks (zero counts and sums)."""
        for s in self.series:
            self.hist[s][...] = 0
            self.hi[s][...] = 0
            self.lo[s][...] = 0

    def load(self, path: Path) -> None:
        """Read the state :meth:`save` wrote (raises if the file is damaged or of another shape)."""
        with np.load(path) as z:
            for s in self.series:
                self.hist[s][...] = z[f"hist/{s}"]
                self.hi[s][...] = z[f"hi/{s}"]
                self.lo[s][...] = z[f"lo/{s}"]

    def stats(self, series: str, block: int = 64) -> dict[str, np.ndarray]:
        """``n``, ``mean`` and the quantiles of one series, each cells x steps."""
        hist = self.hist[series]
        values = binning(series, self.model).values()
        n = hist.sum(axis=-1, dtype=np.int64)
        out = {"n": n}
        with np.errstate(invalid="ignore", divide="ignore"):
            out["mean"] = (self.hi[series].astype(np.float64) + self.lo[series].astype(np.float64) / _FRAC) / n
        for col in QUANTILES:
            out[col] = np.full(n.shape, np.nan)
        for a in range(0, self.n_cells, block):
            cum = np.cumsum(hist[a:a + block], axis=-1, dtype=np.int64)
            nn = n[a:a + block, :, None]
            for col, pct in QUANTILES.items():
                # Inverted CDF: the first bin where at least pct% of the values lie at or below.
                first = np.argmax(cum * 100 >= pct * nn, axis=-1)
                out[col][a:a + block] = np.where(nn[..., 0] > 0, values[first], np.nan)
        return out

    def _level_shares(self, frame: dict, n: np.ndarray) -> list[pd.DataFrame]:
        """Series ``level_share_k``: the share of a cell's runs playing level k (0 = dissolved) at each step.

        The level histogram is exact, so are these shares (``mean``); their quantiles are those of
        the 0/1 indicator (inverted CDF: 1 where more than 1 - q of the runs are at level k).
        """
        out = []
        with np.errstate(invalid="ignore", divide="ignore"):
            for k in range(self.hist["level"].shape[-1]):
                share = (self.hist["level"][..., k] / n).reshape(-1)
                quant = {col: np.where(np.isnan(share), np.nan, (1.0 - share < pct / 100.0).astype(float))
                         for col, pct in QUANTILES.items()}
                out.append(pd.DataFrame({**frame, "series": f"level_share_{k}", "n": n.reshape(-1),
                                         "mean": share, **quant}))
        return out

    def table(self, strategies: Sequence[str], points: pd.DataFrame) -> pd.DataFrame:
        """The long ``bands`` table: point_id, strategy, series, step, n, mean, q05..q95, factor columns."""
        n_strat = len(strategies)
        cells = np.arange(self.n_cells)
        frames = []
        for s in self.series:
            st = self.stats(s)
            frame = {
                "point_id": np.repeat(cells // n_strat, self.n_steps),
                "strategy": np.repeat(np.asarray(strategies, dtype=object)[cells % n_strat], self.n_steps),
                "series": s,
                "step": np.tile(np.arange(1, self.n_steps + 1), self.n_cells),
                **{k: v.reshape(-1) for k, v in st.items()},
            }
            frames.append(pd.DataFrame(frame))
            if s == "level" and self.model == "partnership":
                frames.extend(self._level_shares(frame, st["n"]))
        cols = ["point_id", "strategy", "series", "step", "n", "mean", *QUANTILES]
        if not frames:
            out = pd.DataFrame({"point_id": np.zeros(0, dtype=np.int64), "strategy": np.zeros(0, dtype=object),
                                "series": np.zeros(0, dtype=object), "step": np.zeros(0, dtype=np.int64),
                                "n": np.zeros(0, dtype=np.int64),
                                **{c: np.zeros(0) for c in ["mean", *QUANTILES]}})
        else:
            out = pd.concat(frames, ignore_index=True)
            order = np.lexsort((out["step"].to_numpy(), np.repeat(np.arange(len(frames)), len(frames[0])),
                                out["point_id"].to_numpy() * n_strat
                                + pd.Categorical(out["strategy"], categories=list(strategies)).codes))
            out = out.iloc[order].reset_index(drop=True)
        factor_cols = [c for c in points.columns if c != "point_id"]
        out = out[cols]
        if factor_cols:
            out = out.merge(points, on="point_id", how="left", sort=False)
        return out
