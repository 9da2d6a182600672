"""An animated GIF of one run, for slides: the classroom page's drawings, month by month.

Each frame shows what the page shows for one partnership (the network, the
ladder with its trust gauge, and the three time series), drawn by the same
functions (:mod:`sim.classroom.drawings`), so a slide and the live page look alike.
Frames are written with matplotlib's :class:`~matplotlib.animation.PillowWriter`
(Pillow comes with matplotlib); the file is written under a temporary name
and renamed into place, so a GIF is either complete or absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.animation import PillowWriter
from matplotlib.figure import Figure

from .classroom.drawings import draw_partnership, draw_series
from .classroom.models import parse_seed
from .manifest import atomic_path
from .model import PartnershipModel
from .params import ParamError

__all__ = ["animate_run", "draw_frame"]

#: Seconds the last frame is held, so a loop pauses on the outcome before starting again.
HOLD_SECONDS = 2.0


def draw_frame(fig: Figure, model: PartnershipModel, title: str | None = None) -> None:
    """Draw one frame: the partnership (top) and its three time series (bottom)."""
    fig.clear()
    draw_partnership(fig, model, title=title, box=(0.0, 0.4, 1.0, 0.6))
    # the level panel's left margin holds the level names
    axes = [fig.add_axes((left, 0.08, width, 0.25)) for left, width in ((0.05, 0.26), (0.43, 0.24), (0.74, 0.24))]
    draw_series(axes, [model])
    for ax in axes:
        ax.set_xlabel("month", fontsize=15)
        ax.title.set_fontsize(15)


def animate_run(
    out: str | Path,
    *,
    seed: int | str,
    steps: int | None = None,
    fps: float = 4.0,
    dpi: int = 80,
    title: str | None = None,
    **params: Any,
) -> int:
    """Write a GIF of one run to ``out`` and return the number of frames drawn.

    Parameters
    ----------
    out : path
        The GIF to write (must end in ``.gif``); its folder is created if needed.
    seed : int
        The run's seed (as on the page and in ``sim.simulate(seeds=[seed])``).
    steps : int, optional
        Months to show (default: the run's ``n_steps``); the animation stops
        early if the partnership dissolves.
    fps : float
        Frames (months) per second.
    dpi : int
        Pixels per inch of the 14 x 9 inch frame.
    title : str, optional
        Shown before the month in each frame's heading (default: the strategy).
    **params
        MODEL.md parameters of the run.
    """
    out = Path(out)
    if out.suffix.lower() != ".gif":
        raise ParamError(f"out = {str(out)!r} must be a .gif file")
    if not fps > 0:
        raise ParamError(f"fps = {fps!r} must be above 0")
    model = PartnershipModel(seed=parse_seed(seed), **params)
    if steps is None:
        steps = model.n_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= model.n_steps:
        raise ParamError(f"steps = {steps!r} is out of range (allowed: 1..{model.n_steps}, the run's n_steps)")
    title = title if title is not None else model.params.strategy

    fig = Figure(figsize=(14.0, 9.0), dpi=dpi)
    writer = PillowWriter(fps=fps)
    frames = 0
    with atomic_path(out, keep_suffix=True) as tmp:  # Pillow picks the format from the suffix
        with writer.saving(fig, tmp, dpi):
            draw_frame(fig, model, title)
            writer.grab_frame()
            frames += 1
            while model.steps_played < steps and not model.dissolved:
                model.step()
                draw_frame(fig, model, title)
                writer.grab_frame()
                frames += 1
            for _ in range(max(1, round(HOLD_SECONDS * fps)) - 1):
                writer.grab_frame()
    return frames
