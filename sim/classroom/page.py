"""The classroom page: watch trust build step by step, or forced collaboration collapse, live.

Run it with ``trustladder demo`` (or ``solara run sim.classroom.page``). It is Mesa's
SolaraViz on :class:`sim.model.PartnershipModel`: SolaraViz supplies the
sidebar's Play / Step / Reset, the speed controls and the parameter widgets
(ranges and defaults from :mod:`sim.params`); this module adds what a class
watches in the main area:

* the network of organizations (colour = sector, edges coloured and
  thickened by trust, members who left greyed out) next to the ladder of
  levels with the current rung highlighted and a trust gauge on the rungs'
  scale;
* live plots of mean trust (against what the rung needs), level and
  cumulative benefit;
* a view selector: one partnership, or two side by side (the same seed and
  parameters under stepwise and funder_forced, or with and without cultural
  learning, or weak and strong leadership), stepping together;
* ready lessons (:mod:`sim.classroom.lessons`), each with a question for the class;
* an address that carries the view, lesson, seed and every non-default
  parameter, with a "copy link" box, so a link reproduces the run.

How SolaraViz is used: the page owns the model as a ``solara.Reactive`` and
hands it to SolaraViz with no components of its own; SolaraViz's controls
replace the reactive's value on Reset and step it on Play/Step, and the main
area below draws whatever model the reactive holds. A side-by-side view is a
:class:`sim.classroom.models.SideBySideModel` holding the two partnerships, so the
one set of controls steps both. Choosing a lesson or a view rebuilds the
model and remounts SolaraViz (a new ``key``), because Mesa reads its widget
values only once, when it mounts.
"""

from __future__ import annotations

import io
import secrets
import warnings
from collections.abc import Callable
from html import escape
from typing import Any

import ipyvuetify as v
import mesa
import solara
import solara.lab
import traitlets
from matplotlib.figure import Figure

# SolaraViz given no components returns early from a component that uses hooks after the return;
# the hook order is still the same on every render (the list is always empty), so solara's
# rules-of-hooks warning about it, raised when Mesa's module is imported, is noise in a teacher's terminal.
warnings.filterwarnings("ignore", message=r"(?s).*ComponentsView: `use_state` found despite early return",
                        category=UserWarning)

from mesa.visualization import SolaraViz  # noqa: E402
from mesa.visualization.utils import update_counter  # noqa: E402

from sim.classroom.drawings import partnership_figure, series_figure  # noqa: E402
from sim.classroom.lessons import LESSONS  # noqa: E402
from sim.classroom.models import MODES, SideBySideModel, parse_seed, runs_of  # noqa: E402
from sim.classroom.state import PageState, settings_text, widget_specs  # noqa: E402
from sim.params import ParamError  # noqa: E402

__all__ = ["Page", "TITLE", "PLAY_INTERVAL_MS"]


TITLE = "TrustLadder: trust along the relationship ladder"
#: Milliseconds between months when playing: slow enough to follow each step aloud (Mesa's slider
#: moves in tens from 1, so a round number would show as its neighbour).
PLAY_INTERVAL_MS = 251
#: Pixels per inch of the figures' PNGs: sharp when a projector scales them up.
FIGURE_DPI = 110
NO_LESSON = "(no lesson: free play)"

# Sized for a projector: everything a class reads is 18 px or more; slider values always shown.
CSS = """
.v-application { font-size: 18px; }
.v-toolbar__title { font-size: 26px !important; }
.v-card__title { font-size: 22px !important; }
.v-application .v-label, .v-input input, .v-select__selection, .v-list-item__title,
.v-application .v-btn, .v-navigation-drawer .v-card div { font-size: 18px !important; }
.v-application .v-label--active { font-size: 16px !important; }
.v-slider__thumb-label-container { display: block !important; }
.v-slider__thumb-label { width: 40px !important; height: 40px !important; font-size: 14px !important; }
.v-slider { margin-top: 26px; }
.tl-predict { font-size: 22px; line-height: 1.3; color: #111; }
.tl-lesson-title { font-weight: 700; color: #e6550d; }
.tl-watch { font-size: 19px; line-height: 1.3; white-space: pre-line; margin-top: 4px; color: #222; }
.tl-note { font-size: 16px; font-style: italic; color: #555; margin-top: 2px; }
.tl-caption { font-size: 19px; }
.tl-hint { font-size: 16px !important; color: #555; margin-top: 8px; }
.tl-settings { font-size: 17px; color: #333; }
.tl-figure { max-width: 100%; height: auto; }
.tl-link input { font-size: 16px !important; }
.v-navigation-drawer.solara-content-main { min-width: 340px !important; max-width: 340px !important; }
"""


class CopyLinkButton(v.VuetifyTemplate):
    """A button that copies ``text`` (the link to the run on screen) to the clipboard."""

    text = traitlets.Unicode("").tag(sync=True)

    template = traitlets.Unicode("""
<template>
  <v-btn color="primary" class="tl-copy" @click="copy">{{ copied ? 'Copied!' : 'Copy link' }}</v-btn>
</template>
<script>
module.exports = {
  data() { return { copied: false }; },
  methods: {
    copy() {
      const text = this.text;
      const done = () => { this.copied = true; setTimeout(() => { this.copied = false; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, () => this.fallback(text, done));
      } else {
        this.fallback(text, done);
      }
    },
    fallback(text, done) {
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      document.body.removeChild(area);
      done();
    },
  },
};
</script>
""").tag(sync=True)


def figure_png(figure: Figure) -> bytes:
    """A figure as PNG bytes (made without pyplot, so drawing in the play thread is safe)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()


@solara.component
def FigureView(make: Callable[[], Figure], dependencies: list[Any]):
    """A matplotlib figure scaled to its column; redrawn only when ``dependencies`` change."""
    png = solara.use_memo(lambda: figure_png(make()), dependencies)
    solara.Image(png, width="100%", classes=["tl-figure"])


@solara.component
def RunView(model: mesa.Model):
    """The live view of the model on screen: network and ladder per partnership, and the time series.

    One partnership: its network and ladder beside the three plots stacked. Two: their networks and
    ladders side by side, so the paths are seen to part, above a strip of the three plots.
    """
    update_counter.get()  # SolaraViz bumps this after every step it plays
    runs = runs_of(model)
    played = [run.steps_played for run in runs]
    if len(runs) == 1:
        # beside each other only on a wide screen: narrower, they would shrink below legibility
        with solara.ColumnsResponsive(12, xlarge=6):
            FigureView(lambda: partnership_figure(runs[0], height=5.2), dependencies=[model, *played]).key("one")
            FigureView(lambda: series_figure(runs), dependencies=[model, *played]).key("series")
        return
    labels = [run.label for run in runs]
    with solara.ColumnsResponsive(12, large=6):
        for k, run in enumerate(runs):
            FigureView(lambda run=run, k=k: partnership_figure(run, title=labels[k]),
                       dependencies=[run, played[k]]).key(f"side-{k}")
    FigureView(lambda: series_figure(runs, labels, wide=True), dependencies=[model, *played]).key("strip")


@solara.component
def LessonCard(state: PageState):
    """The chosen lesson's question for the class and what to watch for."""
    if state.lesson is None:
        return
    lesson = LESSONS[state.lesson]
    with solara.Card(style={"padding": "4px 8px"}):
        solara.HTML(tag="div", classes=["tl-predict"], unsafe_innerHTML=(
            f"<span class='tl-lesson-title'>{escape(lesson.title)}.</span> "
            f"<b>Before you press ▶, ask the class:</b> {escape(lesson.predict)}"))
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>Watch for:</b> {escape(lesson.watch)}", classes=["tl-watch"])
        if lesson.note:
            solara.HTML(tag="div", unsafe_innerHTML=escape(lesson.note), classes=["tl-note"])
        if state != PageState.of_lesson(lesson):
            solara.HTML(tag="div", classes=["tl-note", "tl-changed"], unsafe_innerHTML=(
                "The seed, view or settings have changed since the lesson was chosen: this run may tell a "
                "different story."))


@solara.component
def ShareLink(state: PageState, model: mesa.Model):
    """The settings of the run on screen and a link that reproduces it."""
    router = solara.use_router()
    headers = solara.lab.headers.value or {}
    host = (headers.get("host") or [""])[0]
    scheme = (headers.get("x-forwarded-proto") or ["http"])[0]
    query = state.to_query()
    path = f"{router.root_path}{router.path or '/'}"
    link = f"{scheme}://{host}{path}?{query}" if host else f"{path}?{query}"
    solara.HTML(tag="div", unsafe_innerHTML=f"<b>Run on screen:</b> {escape(settings_text(model))}",
                classes=["tl-settings"])
    with solara.Row(style={"align-items": "center"}):
        solara.v.TextField(v_model=link, label="Link to this run (view, lesson, seed, parameters)", readonly=True,
                    outlined=True, hide_details=True, class_="tl-link", style_="min-width: 60%")
        CopyLinkButton.element(text=link)


@solara.component
def Page():
    """The classroom page."""
    router = solara.use_router()
    opened, opened_problems = solara.use_memo(lambda: PageState.from_query(router.search), [])
    state = solara.use_reactive(opened)
    problems = solara.use_reactive(opened_problems)
    first_model = solara.use_memo(lambda: opened.build(), [])
    model = solara.use_reactive(first_model)
    generation = solara.use_reactive(0)
    seed_error = solara.use_reactive("")

    def show(new: PageState) -> None:
        problems.set([])
        state.set(new)
        model.set(new.build())
        generation.set(generation.value + 1)

    def choose_lesson(title: str) -> None:
        chosen = [lesson for lesson in LESSONS.values() if lesson.title == title]
        if chosen:
            show(PageState.of_lesson(chosen[0]))
        else:
            show(PageState(mode=state.value.mode, seed=state.value.seed, params=state.value.params))

    def choose_mode(title: str) -> None:
        mode = next(name for name, text in MODES.items() if text == title)
        show(PageState(mode=mode, lesson=state.value.lesson, seed=state.value.seed, params=state.value.params))

    def apply_seed(value: Any) -> None:
        try:
            seed = parse_seed(value)
        except ParamError as exc:
            seed_error.set(str(exc))
            return
        seed_error.set("")
        s = state.value
        show(PageState(mode=s.mode, lesson=s.lesson, seed=seed, params=s.params))

    def new_seed() -> None:
        apply_seed(secrets.randbelow(1_000_000))

    def follow_model() -> None:
        # Mesa's Reset builds a new model from its widgets: the page's state (and address) follow it.
        now = PageState.from_model(model.value, lesson=state.value.lesson)
        if now != state.value:
            state.set(now)

    solara.use_effect(follow_model, [model.value])

    # The address and the state are kept equal both ways. The page writes its state into the address
    # whenever the state changes; an address the page did not write (the browser's Back) is read and its
    # run shown. The browser also reports, late, the address it opened with: that is not a request for
    # another run, so the page writes its own address again.
    opened_query = solara.use_memo(lambda: router.search, [])

    def write_address() -> None:
        if router.set_path is not None and (router.search or "") != state.value.to_query():
            router.push(f"{router.path or '/'}?{state.value.to_query()}")

    def read_address() -> None:
        if router.set_path is None:  # rendered outside a browser (tests)
            return
        wanted, found = PageState.from_query(router.search)
        if wanted != state.value and router.search != opened_query:
            show(wanted)
            problems.set(found)
        else:
            write_address()

    solara.use_effect(write_address, [state.value])
    solara.use_effect(read_address, [router.search])

    solara.Style(CSS)
    solara.Title(TITLE)
    SolaraViz(
        model,
        components=[],
        model_params=widget_specs(state.value),
        play_interval=PLAY_INTERVAL_MS,
        name=TITLE,
    ).key(f"viz-{generation.value}")

    with solara.Sidebar():
        with solara.Card("Lesson and view"):
            lesson = state.value.lesson
            solara.Select("Lesson", value=LESSONS[lesson].title if lesson else NO_LESSON,
                          values=[NO_LESSON] + [lesson.title for lesson in LESSONS.values()], on_value=choose_lesson)
            solara.Select("View", value=MODES[state.value.mode], values=list(MODES.values()), on_value=choose_mode)
            with solara.Row(style={"align-items": "center"}):
                solara.InputInt("seed", value=state.value.seed, on_value=apply_seed, style={"max-width": "140px"})
                solara.Button("New seed", icon_name="mdi-dice-5", color="secondary", on_click=new_seed)
            if seed_error.value:
                solara.Error(seed_error.value)
            solara.HTML(tag="div", classes=["tl-hint"], unsafe_innerHTML=(
                "A new seed starts the run again with the settings on screen. Slider changes take effect "
                "when you press <b>Reset</b>."))

    with solara.Column(gap="8px", style={"padding": "0 12px"}):
        for problem in problems.value:
            solara.Warning(f"The link had a setting the page could not use, so it was left at its default: "
                           f"{problem}")
        LessonCard(state.value)
        if isinstance(model.value, SideBySideModel):
            varied = " and ".join(model.value.comparison.varied)
            solara.HTML(tag="div", classes=["tl-caption"], unsafe_innerHTML=(
                f"Same seed, same settings, same luck on both sides: only <b>{escape(varied)}</b> differs. "
                "Where the paths part, that is why."))
        RunView(model.value)
        ShareLink(state.value, model.value)
