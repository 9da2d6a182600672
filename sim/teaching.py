"""Classroom pieces shared by the live page (:mod:`sim.app`) and the slide animation (:mod:`sim.animate`).

Nothing here imports Solara: the models the page runs, the side-by-side
comparisons, the page's shareable state (what its address's query string
carries) and the drawings (network, ladder, time series) are plain Python and
matplotlib, so they are tested without a browser and reused for GIFs.

The drawings are made for a projector: large type, colour plus line width
(not colour alone) for trust, and a ladder whose rungs sit at the trust each
level needs, so the class sees whether trust can bear the weight of the rung
the partnership stands on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import matplotlib.colors as mcolors
import mesa
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .levels import LEVEL_NAMES, N_LEVELS, NEED, SECTORS
from .model import PartnershipModel
from .params import PARAMETERS, ParamError, check_name, check_value, coerce_value
from .strategies import strategy_names

__all__ = [
    "Comparison",
    "COMPARISONS",
    "MODES",
    "DEFAULT_SEED",
    "ClassroomModel",
    "SideBySideModel",
    "PageState",
    "parse_seed",
    "build_model",
    "runs_of",
    "widget_specs",
    "SLIDER_PARAMS",
    "draw_network",
    "draw_ladder",
    "draw_series",
    "partnership_figure",
    "series_figure",
    "settings_text",
    "SECTOR_COLOURS",
    "TRUST_CMAP",
]

#: The seed the page starts with when its address names none.
DEFAULT_SEED = 0

#: Sector colours (Okabe-Ito, safe for colour-blind viewers); dropped members are grey.
SECTOR_COLOURS = dict(zip(SECTORS, ("#E69F00", "#56B4E9", "#CC79A7", "#009E73"), strict=True))
GONE_COLOUR = "#d0d0d0"
#: Trust colour scale: red (none) through grey to blue (full), never pale enough to vanish on white.
TRUST_CMAP = mcolors.LinearSegmentedColormap.from_list("trust", ["#c0392b", "#e08e45", "#a0a0a0", "#2166ac"])
HIGHLIGHT = "#e6550d"
WOOD = "#8c6d46"
#: Line colours of the runs in the time series (left, right).
RUN_COLOURS = ("#1f4e9c", "#d95f02")

# Type sizes in points: read from the back of a room once the page scales the figure to the screen.
_TITLE, _TEXT, _SMALL = 20, 17, 14


# --- comparisons and modes ------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Two runs with the same seed and parameters except a few, stepped together.

    Attributes
    ----------
    name : str
        Its name in the page's address (``mode=NAME``).
    title : str
        What the selector shows.
    left, right : tuple of (label, overrides)
        Each side's label and the parameters (MODEL.md names) it sets.
    """

    name: str
    title: str
    left: tuple[str, Mapping[str, Any]]
    right: tuple[str, Mapping[str, Any]]

    @property
    def varied(self) -> tuple[str, ...]:
        """The parameters the two sides set differently (the page hides their sliders)."""
        return tuple(dict.fromkeys([*self.left[1], *self.right[1]]))


COMPARISONS: dict[str, Comparison] = {
    c.name: c
    for c in (
        Comparison(
            "stepwise_vs_forced",
            "Pair: stepwise vs funder_forced",
            ("stepwise", {"strategy": "stepwise"}),
            ("funder_forced", {"strategy": "funder_forced"}),
        ),
        Comparison(
            "culture_learning",
            "Pair: cultural_learning 0 vs 0.1",
            ("cultural_learning 0", {"cultural_learning": 0.0}),
            ("cultural_learning 0.1", {"cultural_learning": 0.1}),
        ),
        Comparison(
            "leadership",
            "Pair: leadership 0.1 vs 0.9",
            ("leadership 0.1 (weak)", {"leadership": 0.1}),
            ("leadership 0.9 (strong)", {"leadership": 0.9}),
        ),
    )
}

#: What the page can show: one partnership, or one of the comparisons.
MODES: dict[str, str] = {"single": "One partnership", **{c.name: c.title for c in COMPARISONS.values()}}


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ParamError(f"mode = {mode!r} is not a page mode (allowed: {', '.join(MODES)})")
    return mode


def parse_seed(seed: Any) -> int:
    """A run seed from an int or the text of the page's seed box.

    Solara's text box hands the seed over as a string, and a string would seed
    differently from the number it spells, so it is converted here, once.
    """
    if isinstance(seed, str):
        text = seed.strip()
        if not text.isdigit():
            raise ParamError(f"seed = {seed!r} must be a whole number in 0..2**64-1")
        seed = int(text)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
        raise ParamError(f"seed = {seed!r} must be a whole number in 0..2**64-1")
    return int(seed)


# --- the models the page runs ----------------------------------------------------------------


class ClassroomModel(PartnershipModel):
    """:class:`sim.model.PartnershipModel` whose seed may arrive as the text of the page's seed box.

    Mesa's Reset rebuilds the model as ``type(model)(**widget_values)``; this
    class is what makes the typed-in seed the same number as in the address.
    """

    # Mesa's widget check accepts extra keywords only through a parameter named exactly ``kwargs``.
    def __init__(self, *, seed: Any = DEFAULT_SEED, **kwargs: Any) -> None:
        super().__init__(seed=parse_seed(seed), **kwargs)


class SideBySideModel(mesa.Model):
    """Two partnerships with the same seed and parameters but for a :class:`Comparison`, stepped together.

    SolaraViz controls one model; this wrapper is that model, so Play, Step
    and Reset drive both sides at once and they can never drift apart in
    time. Because every random number is keyed by (seed, step, purpose,
    index), the two sides draw the same luck: they part only where the
    compared setting makes them part.

    Parameters
    ----------
    compare : str
        A name in :data:`COMPARISONS`.
    seed : int or str
        The shared run seed.
    **kwargs
        MODEL.md parameters shared by both sides (a compared one is overridden per side).

    Attributes
    ----------
    left, right : PartnershipModel
        The two runs; ``left.label`` and ``right.label`` name them.
    params : sim.params.Params
        The shared parameters, as given.
    """

    def __init__(self, *, compare: str = "stepwise_vs_forced", seed: Any = DEFAULT_SEED, **kwargs: Any) -> None:
        if compare not in COMPARISONS:
            raise ParamError(f"compare = {compare!r} is not a comparison (allowed: {', '.join(COMPARISONS)})")
        seed = parse_seed(seed)
        super().__init__(seed=seed)
        self.seed = seed
        self.comparison = COMPARISONS[compare]
        self.left = PartnershipModel(seed=seed, **{**kwargs, **self.comparison.left[1]})
        self.right = PartnershipModel(seed=seed, **{**kwargs, **self.comparison.right[1]})
        self.left.label, self.right.label = self.comparison.left[0], self.comparison.right[0]
        given = {name: kwargs.get(name, PARAMETERS[name].default) for name in self.comparison.varied}
        self.params = self.left.params.replace(**given)

    @property
    def n_steps(self) -> int:
        return self.left.n_steps

    @property
    def steps_played(self) -> int:
        return max(self.left.steps_played, self.right.steps_played)

    def step(self) -> None:
        """One month on both sides (a side that has ended stays as it is)."""
        self.left.step()
        self.right.step()
        self.running = self.left.running or self.right.running


def runs_of(model: mesa.Model) -> list[PartnershipModel]:
    """The partnerships a page model shows: one, or the two sides of a comparison."""
    if isinstance(model, SideBySideModel):
        return [model.left, model.right]
    return [model]


# --- the page's state and its address ---------------------------------------------------------


@dataclass(frozen=True)
class PageState:
    """What the page's address carries: enough to rebuild exactly the run the class saw.

    Attributes
    ----------
    mode : str
        ``"single"`` or a :data:`COMPARISONS` name.
    lesson : str or None
        The chosen lesson (its text only; its parameters are carried explicitly).
    seed : int
        The run seed.
    params : dict
        Parameters that differ from their defaults (MODEL.md names, validated).
    """

    mode: str = "single"
    lesson: str | None = None
    seed: int = DEFAULT_SEED
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_mode(self.mode)
        object.__setattr__(self, "seed", parse_seed(self.seed))
        for name, value in self.params.items():
            check_name(name)
            check_value(name, value)
        # vocabulary order, so equal states give equal addresses
        cleaned = {n: self.params[n] for n in PARAMETERS
                   if n in self.params and self.params[n] != PARAMETERS[n].default}
        object.__setattr__(self, "params", cleaned)

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the model this state shows."""
        kwargs: dict[str, Any] = {**self.params, "seed": self.seed}
        if self.mode != "single":
            kwargs["compare"] = self.mode
        return kwargs

    def to_query(self) -> str:
        """The query string: ``mode``, ``lesson``, ``seed``, then every non-default parameter.

        Floats are written with ``repr``, the shortest text that reads back as
        the same number, so a shared link reproduces the run bit for bit.
        """
        items: list[tuple[str, str]] = [("mode", self.mode)]
        if self.lesson:
            items.append(("lesson", self.lesson))
        items.append(("seed", str(self.seed)))
        items += [(k, v if isinstance(v, str) else repr(v)) for k, v in self.params.items()]
        return urlencode(items)

    @classmethod
    def from_query(cls, search: str | None) -> tuple[PageState, list[str]]:
        """Read an address's query string; return the state and the problems found.

        A bad entry is reported (naming it, its value and what is allowed) and
        left out, so a mistyped link still opens the page.
        """
        from .lessons import LESSONS

        problems: list[str] = []
        mode, lesson, seed = "single", None, DEFAULT_SEED
        params: dict[str, Any] = {}
        for key, text in parse_qsl((search or "").lstrip("?"), keep_blank_values=True):
            try:
                if key == "mode":
                    mode = check_mode(text)
                elif key == "lesson":
                    if text not in LESSONS:
                        raise ParamError(f"lesson = {text!r} is not a lesson (allowed: {', '.join(LESSONS)})")
                    lesson = text
                elif key == "seed":
                    seed = parse_seed(text)
                else:
                    params[key] = coerce_value(key, text)
            except ParamError as exc:
                problems.append(str(exc))
        return cls(mode=mode, lesson=lesson, seed=seed, params=params), problems

    @classmethod
    def from_model(cls, model: mesa.Model, *, lesson: str | None = None) -> PageState:
        """The state of a model the page runs (after Mesa's Reset rebuilt it from the widgets)."""
        mode = model.comparison.name if isinstance(model, SideBySideModel) else "single"
        params = model.params.to_dict()
        if isinstance(model, SideBySideModel):
            for name in model.comparison.varied:
                params.pop(name)
        return cls(mode=mode, lesson=lesson, seed=model.seed, params=params)


def build_model(state: PageState) -> mesa.Model:
    """The model a page state shows."""
    if state.mode == "single":
        return ClassroomModel(**state.model_kwargs())
    return SideBySideModel(**state.model_kwargs())


#: The parameters a class changes on the page (the rest travel in the address and lessons).
SLIDER_PARAMS = (
    "strategy",
    "n_orgs",
    "initial_trust",
    "cultural_distance",
    "cultural_learning",
    "communication",
    "leadership",
    "individualism",
    "free_rider_penalty",
    "gain_rate",
    "loss_rate",
    "deadline",
)


def _slider_step(name: str) -> float:
    spec = PARAMETERS[name]
    if spec.kind is int:
        return 1
    # Fine enough to hit every default exactly (0.01 for cultural_learning, 0.05 elsewhere).
    return 0.01 if round(spec.default / 0.05, 9) % 1 else 0.05


def widget_specs(state: PageState) -> dict[str, Any]:
    """Mesa ``model_params`` for a page state: widgets for :data:`SLIDER_PARAMS`, fixed values for the rest.

    The seed is a fixed value too: Mesa's text box would hand it over as
    unchecked text, and a mistyped seed would crash its Reset; the page has
    its own seed box, which checks what is typed.

    Ranges and defaults come from :data:`sim.params.PARAMETERS`; month-valued
    sliders stop at the default run length, as a class watches one run of it.
    Parameters a comparison varies get no widget (each side sets its own).
    """
    varied = COMPARISONS[state.mode].varied if state.mode != "single" else ()
    values = {name: spec.default for name, spec in PARAMETERS.items()} | dict(state.params)
    out: dict[str, Any] = {}
    for name in SLIDER_PARAMS:
        if name in varied:
            continue
        spec = PARAMETERS[name]
        if name == "strategy":
            out[name] = {"type": "Select", "value": values[name], "values": strategy_names(), "label": name}
        elif spec.kind is int:
            high = spec.high if spec.unit != "months" else min(spec.high, PARAMETERS["n_steps"].default)
            out[name] = {"type": "SliderInt", "value": int(values[name]), "min": int(spec.low), "max": int(high),
                         "step": 1, "label": name}
        else:
            out[name] = {"type": "SliderFloat", "value": float(values[name]), "min": spec.low, "max": spec.high,
                         "step": _slider_step(name), "label": name}
    out["seed"] = state.seed  # fixed here: the page's own seed box (validated) sets it
    for name, value in state.params.items():
        if name not in out and name not in varied:
            out[name] = value  # a fixed parameter: passed to the model as it is
    if state.mode != "single":
        out["compare"] = state.mode
    return out


def settings_text(model: mesa.Model) -> str:
    """One line naming the settings the run on screen was built with (the sliders may have moved since)."""
    p = model.params.to_dict()
    varied = model.comparison.varied if isinstance(model, SideBySideModel) else ()
    shown = [n for n in SLIDER_PARAMS if n not in varied]
    shown += [n for n, v in p.items() if n not in SLIDER_PARAMS and n not in varied and v != PARAMETERS[n].default]
    return " · ".join([f"seed {model.seed}"] + [f"{n} {_fmt(p[n])}" for n in shown])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# --- drawings --------------------------------------------------------------------------------


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
    orgs = list(model.organizations)
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
                fontsize=_TITLE + 2, fontweight="bold", color="#b2182b", rotation=15, zorder=5,
                bbox=dict(boxstyle="round,pad=0.4", fc="white", ec="#b2182b", lw=3))
    ax.set_xlim(0, width)
    ax.set_ylim(-0.1, 1.02)
    ax.axis("off")


def _rect(x, y, w, h, **kw):
    from matplotlib.patches import Rectangle

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
    for ax in axes:
        ax.set_xlim(0, n_steps)
        ax.tick_params(labelsize=_SMALL)
        ax.grid(alpha=0.3)
    if labels and len(runs) > 1:
        ax_trust.legend(fontsize=_SMALL, loc="upper left", ncol=len(runs), frameon=False)


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
