"""The classroom's drawings: the network, the ladder and the time series of a partnership, in matplotlib.

Shared by the page (:mod:`sim.classroom.page`) and the slide GIFs
(:mod:`sim.animate`), so a slide and the live page look alike. The drawings
are made for a projector: large type, colour plus line width (not colour
alone) for trust, and a ladder whose rungs sit at the trust each level needs,
so the class sees whether trust can bear the weight of the rung the
partnership stands on. Colours come from :mod:`sim.palette`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from ..levels import LEVEL_NAMES, N_LEVELS, NEED
from ..model import PartnershipModel
from ..palette import DISSOLVED_COLOUR, GONE_COLOUR, HIGHLIGHT, RUN_COLOURS, SECTOR_COLOURS, TRUST_STOPS, WOOD

__all__ = [
    "TRUST_CMAP",
    "draw_network",
    "draw_ladder",
    "draw_series",
    "draw_partnership",
    "month_tick",
    "partnership_figure",
    "series_figure",
]

#: Trust colour scale (:data:`sim.palette.TRUST_STOPS`) as a matplotlib colour map.
TRUST_CMAP = mcolors.LinearSegmentedColormap.from_list("trust", list(TRUST_STOPS))

# Type sizes in points: read from the back of a room once the page scales the figure to the screen.
_TITLE, _TEXT, _SMALL = 20, 17, 14



def _positions(n: int) -> np.ndarray:
    """Organizations on a circle, the first at the top, clockwise: fixed, so nobody moves between frames."""
    angle = math.pi / 2 - 2 * math.pi * np.arange(n) / n
    return np.column_stack([np.cos(angle), np.sin(angle)])


def draw_network(ax, model: PartnershipModel) -> ScalarMappable:
    """The partnership as a network: a node per organization, an edge per pair of active members.

    Node colour is the sector (legend below); members who left are grey with
    a dashed rim; edge colour and width are the pair's trust (the mean of
    the two directions). Returns the colour scale, for a colour bar.
    """
    orgs = list(model.by_index)  # one node per seat: its member, or the last to leave it
    n = len(orgs)
    pos = _positions(n)
    trust = model.trust_matrix()
    pair = (trust + trust.T) / 2.0
    i, j = np.triu_indices(n, k=1)
    values = pair[i, j]
    keep = ~np.isnan(values)
    i, j, values = i[keep], j[keep], values[keep]
    order = np.argsort(values)  # strongest ties on top
    i, j, values = i[order], j[order], values[order]
    norm = mcolors.Normalize(0.0, 1.0)
    scale = min(1.0, 8.0 / n)
    ax.add_collection(LineCollection(
        np.stack([pos[i], pos[j]], axis=1), colors=TRUST_CMAP(norm(values)),
        linewidths=(1.0 + 9.0 * values) * scale, zorder=1, capstyle="round",
    ))
    size = 2400.0 * min(1.0, 6.0 / n)
    active = np.array([o.active for o in orgs])
    face = [SECTOR_COLOURS[o.sector] for o in orgs if o.active]
    ax.scatter(pos[active, 0], pos[active, 1], s=size, c=face,
               edgecolors="black", linewidths=1.5, zorder=2)
    if (~active).any():
        ax.scatter(pos[~active, 0], pos[~active, 1], s=size, c=GONE_COLOUR, edgecolors="#777777",
                   linewidths=2.0, linestyles="--", zorder=2)
    if n <= 24:
        for k, o in enumerate(orgs):
            ax.text(pos[k, 0], pos[k, 1], str(o.index + 1), ha="center", va="center", zorder=3,
                    fontsize=_TEXT if n <= 12 else _SMALL, fontweight="bold",
                    color="black" if o.active else "#777777")
    handles = [Line2D([], [], marker="o", ls="", ms=15, mfc=c, mec="black", label=s) for s, c in SECTOR_COLOURS.items()]
    handles.append(Line2D([], [], marker="o", ls="", ms=15, mfc=GONE_COLOUR, mec="#777777", label="left"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=_SMALL,
              frameon=False, handletextpad=0.1, columnspacing=0.6, borderaxespad=0.0)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return ScalarMappable(norm=norm, cmap=TRUST_CMAP)


def _grant_text(model: PartnershipModel) -> str:
    if model.dissolved:
        return ""
    if not model.strategy.funded:
        return "no grant"
    return "grant: paying" if model.funded else "grant: ended"


def draw_ladder(ax, model: PartnershipModel) -> None:
    """The ladder: rungs at the trust each level needs, the current rung highlighted, and a trust gauge.

    The gauge beside the ladder is the partnership's mean trust on the same
    scale, so a rung above the gauge's top is one the partnership's trust
    cannot yet bear. A dissolved partnership is stamped DISSOLVED.
    The x axis is laid out in inches of the axes' own width, so the labels
    fit whatever the figure's size.
    """
    level = int(model.level)
    dissolved = bool(model.dissolved)
    trust = model.mean_trust
    faded = 0.35 if dissolved else 1.0
    width = ax.get_position().width * ax.figure.get_figwidth()
    gauge, rails, text_x = (0.05, 0.27), (0.82, 1.38), 1.52
    for x in rails:
        ax.plot([x, x], [0.0, 0.92], color=WOOD, lw=6, alpha=faded, solid_capstyle="round")
    for k in range(1, N_LEVELS + 1):
        y = NEED[k]
        now = k == level and not dissolved
        ax.plot(rails, [y, y], color=HIGHLIGHT if now else WOOD, lw=13 if now else 5, alpha=faded,
                solid_capstyle="round", zorder=2)
        name = LEVEL_NAMES[k].replace("multisector collaboration", "multisector\ncollaboration")
        ax.text(text_x, y, f"{k} {name}", va="center", ha="left", fontsize=_TEXT,
                fontweight="bold" if now else "normal", alpha=faded, color="white" if now else "black",
                bbox=dict(boxstyle="round,pad=0.3", fc=HIGHLIGHT, ec="none") if now else None)
    ax.add_patch(_rect(gauge[0], 0.0, gauge[1] - gauge[0], 1.0, fc="none", ec="#555555", lw=1.5))
    if not math.isnan(trust):
        ax.add_patch(_rect(gauge[0], 0.0, gauge[1] - gauge[0], trust, fc=TRUST_CMAP(trust), ec="none"))
        ax.text(gauge[1] + 0.04, min(trust, 0.97), f"{trust:.2f}", ha="left", va="center", fontsize=_SMALL,
                fontweight="bold", zorder=4, bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    ax.text(sum(gauge) / 2, -0.03, "trust", ha="center", va="top", fontsize=_SMALL)
    ax.text(rails[0], -0.03, _grant_text(model), ha="left", va="top", fontsize=_SMALL, color="#444444")
    if dissolved:
        ax.text(width / 2, 0.48, f"DISSOLVED\nin month {model.dissolved_step}", ha="center", va="center",
                fontsize=_TITLE + 2, fontweight="bold", color=DISSOLVED_COLOUR, rotation=15, zorder=5,
                bbox=dict(boxstyle="round,pad=0.4", fc="white", ec=DISSOLVED_COLOUR, lw=3))
    ax.set_xlim(0, width)
    ax.set_ylim(-0.1, 1.02)
    ax.axis("off")


def _rect(x, y, w, h, **kw):
    return Rectangle((x, y), w, h, **kw)


def _status(model: PartnershipModel) -> str:
    n = model.params.n_orgs
    return f"month {model.steps_played} of {model.n_steps} · {model.n_active} of {n} members"


def draw_series(axes: Sequence, runs: Sequence[PartnershipModel], labels: Sequence[str] | None = None) -> None:
    """Mean trust (with the trust the rung needs), level and cumulative benefit of each run, month by month.

    ``axes`` are three axes (trust, level, benefit); the x axis spans the
    whole run from the start, so the lines grow like a clock's hand.
    """
    ax_trust, ax_level, ax_benefit = axes
    n_steps = max(r.n_steps for r in runs)
    for k, run in enumerate(runs):
        data = run.datacollector.model_vars
        months = np.arange(len(data["level"]))
        level = np.asarray(data["level"], dtype=float)
        colour = RUN_COLOURS[k % len(RUN_COLOURS)]
        label = labels[k] if labels else None
        ax_trust.plot(months, np.asarray(data["mean_trust"], dtype=float), color=colour, lw=3, label=label)
        need = np.where(level > 0, NEED[np.clip(level.astype(int), 0, N_LEVELS)], np.nan)
        ax_trust.step(months, need, where="post", color=colour, lw=1.5, ls="--", alpha=0.7)
        ax_level.step(months, level, where="post", color=colour, lw=3)
        ax_benefit.plot(months, np.asarray(data["cumulative_benefit"], dtype=float), color=colour, lw=3)
        if run.dissolved:
            for ax in axes:
                ax.axvline(run.dissolved_step, color=colour, lw=1.5, ls=":")
    ax_trust.set_ylim(0, 1)
    ax_trust.set_title("mean trust (dashed: the rung's need)", fontsize=_TEXT, loc="left")
    ax_level.set_ylim(-0.3, N_LEVELS + 0.3)
    ax_level.set_yticks(range(N_LEVELS + 1))
    ax_level.set_yticklabels([name.split()[0] for name in LEVEL_NAMES], fontsize=_SMALL)
    ax_level.set_title("level on the ladder", fontsize=_TEXT, loc="left")
    ax_benefit.set_ylim(bottom=0)
    ax_benefit.set_title("community benefit so far", fontsize=_TEXT, loc="left")
    ax_benefit.set_xlabel("month", fontsize=_TEXT)
    ticks = np.arange(0, n_steps + 1, month_tick(n_steps))
    for ax in axes:
        ax.set_xlim(0, n_steps)
        ax.set_xticks(ticks)  # the same months on every panel, whatever its width
        ax.tick_params(labelsize=_SMALL)
        ax.grid(alpha=0.3)
    if labels and len(runs) > 1:
        ax_trust.legend(fontsize=_SMALL, loc="upper left", ncol=len(runs), frameon=False)


def month_tick(n_steps: int) -> int:
    """Months between x ticks for a run of ``n_steps`` months (12, 24, then powers of ten): the page's too."""
    if n_steps <= 60:
        return 12
    if n_steps <= 240:
        return 24
    return int(10 ** math.ceil(math.log10(n_steps / 6)))


def partnership_figure(model: PartnershipModel, *, title: str | None = None, width: float = 9.0,
                       height: float = 4.5) -> Figure:
    """One partnership now: the network (left) and the ladder (right), with a status line on top."""
    fig = Figure(figsize=(width, height), dpi=100)
    draw_partnership(fig, model, title=title, box=(0.0, 0.0, 1.0, 1.0))
    return fig


def draw_partnership(fig: Figure, model: PartnershipModel, *, title: str | None,
                     box: tuple[float, float, float, float]) -> None:
    """Draw the network, its colour bar, the ladder and the status line into ``box`` (figure fractions)."""
    x0, y0, w, h = box
    head = f"{title}: " if title else ""
    fig.text(x0 + w / 2, y0 + h - 0.01 * h, head + _status(model), ha="center", va="top",
             fontsize=_TITLE, fontweight="bold")
    net = fig.add_axes((x0, y0 + 0.17 * h, 0.5 * w, 0.74 * h))
    sm = draw_network(net, model)
    bar_ax = fig.add_axes((x0 + 0.5 * w, y0 + 0.25 * h, 0.014 * w, 0.55 * h))
    bar = fig.colorbar(sm, cax=bar_ax)
    bar.set_label("trust in the pair", fontsize=_SMALL)
    bar.ax.tick_params(labelsize=_SMALL)
    ladder = fig.add_axes((x0 + 0.6 * w, y0 + 0.03 * h, 0.4 * w, 0.82 * h))
    draw_ladder(ladder, model)


def series_figure(runs: Sequence[PartnershipModel], labels: Sequence[str] | None = None, *,
                  wide: bool = False) -> Figure:
    """Mean trust, level and cumulative benefit of one or two runs so far (one figure, three panels).

    The panels are stacked (a column beside one partnership) or, with
    ``wide``, side by side (a strip under two partnerships shown side by side).
    """
    # Fixed margins rather than constrained layout: a third of the drawing time, and the panels never jump.
    if wide:
        fig = Figure(figsize=(16.0, 3.4), dpi=100)
        axes = fig.subplots(1, 3, gridspec_kw=dict(left=0.04, right=0.99, top=0.88, bottom=0.2, wspace=0.36))
    else:
        fig = Figure(figsize=(8.0, 7.5), dpi=100)
        axes = fig.subplots(3, 1, sharex=True, gridspec_kw=dict(left=0.19, right=0.97, top=0.95, bottom=0.09,
                                                                 hspace=0.32))
    draw_series(axes, runs, labels)
    if wide:
        for ax in axes:
            ax.set_xlabel("month", fontsize=_TEXT)
    return fig
