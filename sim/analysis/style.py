"""One figure style for every TrustLadder plot.

Colours come from the Okabe-Ito palette (:data:`sim.palette.OKABE_ITO`, the
project's one home for colours), which stays distinguishable under the common colour-vision
deficiencies. Each built-in strategy has a fixed colour *and* a fixed line
style, so a strategy looks the same in every figure and the figures still read
in greyscale print. Strategies registered later get the remaining colours in
a stable order (by name), never the colour of a built-in one.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np

from ..manifest import write_bytes_atomic
from ..palette import OKABE_ITO

__all__ = [
    "OKABE_ITO",
    "STRATEGY_COLORS",
    "STRATEGY_LINESTYLES",
    "LEVEL_COLORS",
    "NOT_SIGNIFICANT_HATCH",
    "strategy_color",
    "strategy_linestyle",
    "strategy_label",
    "text_color_on",
    "figure_style",
    "save_figure",
    "figure_bytes",
]

#: Fixed colour of each built-in strategy (MODEL.md "Strategies").
STRATEGY_COLORS: dict[str, str] = {
    "stepwise": OKABE_ITO["blue"],
    "funder_forced": OKABE_ITO["vermillion"],
    "funder_schedule": OKABE_ITO["orange"],
    "fixed": OKABE_ITO["reddish_purple"],
    "funder_patient": OKABE_ITO["bluish_green"],
}
STRATEGY_LINESTYLES: dict[str, object] = {
    "stepwise": "-",
    "funder_forced": "--",
    "funder_schedule": "-.",
    "fixed": ":",
    "funder_patient": (0, (6, 1.5, 1, 1.5, 1, 1.5)),
}
# Yellow is last: it is the hardest to see as a thin line on white.
_SPARE_COLORS = (OKABE_ITO["sky_blue"], OKABE_ITO["black"], "#777777", OKABE_ITO["yellow"])
_SPARE_LINESTYLES: tuple[object, ...] = ((0, (3, 1)), (0, (1, 2)), (0, (8, 2)), (0, (2, 1, 2, 4)))

#: Level 0 (dissolved) is neutral grey; levels 1..5 follow viridis, which is
#: monotone in lightness, so the ladder reads bottom-to-top in any colour vision.
LEVEL_COLORS: tuple[str, ...] = ("#BBBBBB",) + tuple(
    mpl.colors.to_hex(c) for c in mpl.colormaps["viridis"](np.linspace(0.92, 0.08, 5))
)

NOT_SIGNIFICANT_HATCH = "///"


def _spare_index(name: str, known: Sequence[str] | None) -> int:
    extra = sorted({s for s in (known or [name]) if s not in STRATEGY_COLORS} | {name})
    return extra.index(name)


def strategy_color(name: str, known: Sequence[str] | None = None) -> str:
    """The colour of strategy ``name`` (fixed for built-ins; stable among ``known`` for others)."""
    if name in STRATEGY_COLORS:
        return STRATEGY_COLORS[name]
    return _SPARE_COLORS[_spare_index(name, known) % len(_SPARE_COLORS)]


def strategy_linestyle(name: str, known: Sequence[str] | None = None) -> object:
    """The line style of strategy ``name`` (a redundant cue next to its colour)."""
    if name in STRATEGY_LINESTYLES:
        return STRATEGY_LINESTYLES[name]
    return _SPARE_LINESTYLES[_spare_index(name, known) % len(_SPARE_LINESTYLES)]


def strategy_label(name: str) -> str:
    """``funder_forced`` -> ``funder forced`` for legends (the name stays recognisable)."""
    return name.replace("_", " ")


def text_color_on(color: str) -> str:
    """Black or white, whichever reads better on ``color`` (WCAG relative luminance)."""
    r, g, b = mpl.colors.to_rgb(color)

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "black" if lum > 0.18 else "white"


_RC = {
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.08,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9.5,
    "legend.frameon": False,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "lines.linewidth": 1.8,
    "hatch.linewidth": 0.8,
    "svg.fonttype": "none",
    "svg.hashsalt": "trustladder",  # stable element ids: the same figure gives the same SVG file
    "figure.constrained_layout.use": True,
}


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Matplotlib settings of every TrustLadder figure, applied for the ``with`` block only."""
    with mpl.rc_context(_RC):
        yield


def save_figure(fig: mpl.figure.Figure, stem: str | Path, formats: Iterable[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` to ``stem.png``, ``stem.svg`` ... atomically; return the paths written."""
    stem = Path(stem)
    out = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        write_bytes_atomic(path, figure_bytes(fig, fmt))
        out.append(path)
    return out


def figure_bytes(fig: mpl.figure.Figure, fmt: str = "png", dpi: float | None = None) -> bytes:
    """The figure encoded as ``fmt`` (``png``, ``svg``, ``pdf``), in the house style."""
    buf = io.BytesIO()
    with figure_style():
        fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()
