"""An animated GIF of one run, for slides: the classroom's drawings, month by month.

Each frame shows what the page shows for one partnership (the network, the
ladder with its trust gauge, and the three time series), drawn by the same
functions (:mod:`sim.classroom.drawings`), so a slide and the live page look alike.
Frames are rendered with matplotlib's Agg canvas and reduced to a 256-colour
palette at once (a third of the memory of a full-colour frame); Pillow writes
them with a duration per frame, so the pause on the last frame costs one frame,
not copies of it. The file is written under a temporary name and renamed into
place, only once every frame is drawn, and a SIGTERM is turned into a clean
stop: a GIF is either complete or absent, never a hidden partial file.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from .classroom.drawings import draw_partnership, draw_series
from .classroom.models import parse_seed
from .manifest import atomic_path
from .model import PartnershipModel
from .params import ParamError

__all__ = ["animate_run", "draw_frame", "MAX_FPS", "HOLD_SECONDS"]

#: Seconds the last frame is held, so a loop pauses on the outcome before starting again.
HOLD_SECONDS = 2.0
#: Most frames (months) a second: GIF players round frame times to 10 ms, and a class cannot follow more.
MAX_FPS = 30.0
#: Least frames a second (a month shown for 10 s).
MIN_FPS = 0.1


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


@contextmanager
def _stop_cleanly_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt for the block (main thread only), so clean-up code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt("terminated")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _grab(canvas: FigureCanvasAgg) -> Image.Image:
    canvas.draw()
    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    return rgba.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)


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
        The GIF to write (must end in ``.gif``, in a folder that exists).
    seed : int
        The run's seed (as on the page and in ``sim.simulate(seeds=[seed])``).
    steps : int, optional
        Months to show (default: the run's ``n_steps``); the animation stops
        early if the partnership dissolves.
    fps : float
        Frames (months) per second, from 0.1 to :data:`MAX_FPS`.
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
    if not out.parent.is_dir():
        raise ParamError(f"out = {str(out)!r}: the folder {str(out.parent)!r} does not exist (create it first)")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not MIN_FPS <= fps <= MAX_FPS:
        raise ParamError(f"fps = {fps!r} is out of range (allowed: {MIN_FPS:g}..{MAX_FPS:g} frames a second)")
    model = PartnershipModel(seed=parse_seed(seed), **params)
    if steps is None:
        steps = model.n_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= model.n_steps:
        raise ParamError(f"steps = {steps!r} is out of range (allowed: 1..{model.n_steps}, the run's n_steps)")
    title = title if title is not None else model.params.strategy

    fig = Figure(figsize=(14.0, 9.0), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    frames: list[Image.Image] = []
    with _stop_cleanly_on_sigterm():
        draw_frame(fig, model, title)
        frames.append(_grab(canvas))
        while model.steps_played < steps and not model.dissolved:
            model.step()
            draw_frame(fig, model, title)
            frames.append(_grab(canvas))
        month_ms = 10 * max(1, round(100 / fps))  # GIF frame times are whole hundredths of a second
        durations = [month_ms] * (len(frames) - 1) + [max(month_ms, round(HOLD_SECONDS * 1000))]
        with atomic_path(out) as tmp:  # the temporary file exists only while the finished frames are saved
            frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations,
                           loop=0, disposal=1)
    return len(frames)
