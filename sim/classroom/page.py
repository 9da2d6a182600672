"""The classroom page: watch trust build step by step, or forced collaboration collapse.

Run it with ``trustladder demo`` (or ``solara run sim.classroom.page``).

The server computes; the browser plays. Whenever the view, lesson, seed or a
setting changes, the page runs the Mesa model (:class:`sim.model.PartnershipModel`,
the twin of the engine) to the end at once (about 60 ms) and sends the whole
trajectory to the browser in one message (:mod:`sim.classroom.trajectory`).
The player (``static/player.js``) then draws every month itself: Play, Pause,
Step, the month scrubber, the speed and the link to the month on screen cost
the server nothing, so nothing can freeze or pile up on it, and a class of 30
can play at once.

What the page shows:

* the sidebar (the teacher's controls): a lesson, the view (one partnership,
  or two side by side that differ in one setting), the seed, and the settings
  in plain words (the model's name in each tooltip); every change shows the
  new run at once, paused at month 0, ready for the class's prediction;
* the lesson's question for the class and what to watch for;
* the player: network and ladder of each partnership, plots of mean trust,
  level and a series of the class's choosing, and a link that reproduces the
  run, month included.
"""

from __future__ import annotations

import json
import secrets
import threading
from html import escape
from typing import Any

import ipyvuetify as v
import reacton.ipyvuetify as rv
import solara
import solara.lab
import traitlets

from sim.classroom.community import page_payload_json
from sim.classroom.lessons import LESSONS
from sim.classroom.models import MODES, is_community, parse_seed, varied_of
from sim.classroom.state import PageState, settings_html, slider_specs
from sim.classroom.trajectory import player_script
from sim.classroom.words import param_label, terms_html
from sim.params import ParamError

__all__ = ["Page", "Player", "TITLE", "player_message", "warm_lessons"]


TITLE = "TrustLadder: trust along the relationship ladder"
NO_LESSON = "(no lesson: free play)"

# Sized for a projector (18 px and more for what a class reads); one light theme.
CSS = """
.v-application { font-size: 18px; }
.v-toolbar__title { font-size: 24px !important; }
.v-application .v-label, .v-input input, .v-select__selection, .v-list-item__title,
.v-application .v-btn { font-size: 17px !important; }
.v-application .v-label--active { font-size: 15px !important; }
.v-navigation-drawer.solara-content-main { min-width: 330px !important; max-width: 330px !important; }
.tl-control { margin-top: 2px; }
.tl-control .tl-control-label { font-size: 15px; color: #222; display: flex; justify-content: space-between; }
.tl-control .tl-control-label b { color: #1f4e9c; }
.tl-control .v-input { margin-top: 0 !important; padding-top: 0 !important; }
.v-card.tl-lesson { padding: 4px 10px; margin: 4px 0 4px 0 !important; }
.tl-predict { font-size: 18px; line-height: 1.3; color: #111; }
.tl-watch summary { cursor: pointer; }
.tl-seed { margin-bottom: 10px; }
.solara-content-main .v-content__wrap > div { padding-top: 6px !important; }
.tl-lesson-title { font-weight: 700; color: #e6550d; }
.tl-watch { font-size: 16px; line-height: 1.3; white-space: pre-line; color: #222; margin-top: 2px; }
.tl-note { font-size: 15px; font-style: italic; color: #555; margin-top: 2px; }
.tl-caption { font-size: 17px; }
.tl-term { border-bottom: 1px dotted #888; cursor: help; }
.tl-hint { font-size: 14px !important; color: #555; margin-top: 6px; }
.tl-settings { font-size: 13px; color: #444; margin-top: 8px; word-break: break-word; }
.tl-main { padding: 0 10px; }
/* a laptop's screen (800 px high or less): the lesson's text a little smaller, so two partnerships fit too */
@media (max-height: 900px) {
  .v-app-bar.v-app-bar--fixed, .v-app-bar .v-toolbar__content { height: 48px !important; }
  .v-content.solara-content-main { padding-top: 48px !important; }
  .v-navigation-drawer--clipped { top: 48px !important; max-height: calc(100% - 48px) !important; }
  .v-toolbar__title { font-size: 21px !important; }
  .tl-predict { font-size: 16px; line-height: 1.25; }
  .tl-watch { font-size: 15px; line-height: 1.25; }
  .tl-caption { font-size: 15px; }
  .v-card.tl-lesson { padding: 2px 8px; margin-top: 2px !important; }
}
"""


class Player(v.VuetifyTemplate):
    """The browser-side player (``static/player.js``) of a trajectory payload.

    ``payload`` is JSON text (:func:`player_message`): the whole run
    (:func:`sim.classroom.trajectory.payload_json`) with ``start_month`` and
    ``link``; setting a new one stops play and shows the new run at its start
    month. Everything else happens in the browser. Text rather than a dict:
    the renderer compares a string at once, where it would walk a dict's
    every value on every change.
    """

    payload = traitlets.Unicode("").tag(sync=True)
    template = traitlets.Unicode("""
<template>
  <div class="tl-player-host"></div>
</template>
<script>
module.exports = {
  mounted() {
    // defines window.TrustLadderPlayer once (the script guards itself)
""" + player_script() + """
    this.player = new window.TrustLadderPlayer(this.$el, {syncAddress: true});
    this.show(this.payload);
  },
  methods: {
    show(text) {
      if (!text) { return; }
      const message = JSON.parse(text);
      this.player.load(message.data, {month: message.start_month || 0, link: message.link});
    },
  },
  watch: {
    payload(value) { this.show(value); },
  },
  beforeDestroy() {
    if (this.player) { this.player.destroy(); }
  },
};
</script>
""").tag(sync=True)


def player_message(data_json: str, start_month: int, link: str) -> str:
    """The player's payload text: a run's JSON (:func:`~sim.classroom.trajectory.payload_json`), its start and link."""
    return f'{{"start_month":{int(start_month)},"link":{json.dumps(link)},"data":{data_json}}}'


def warm_lessons() -> threading.Thread:
    """Compute every lesson's runs in the background, so the first switch to a lesson is as quick as the next."""
    def work() -> None:
        for lesson in LESSONS.values():
            opened = PageState.of_lesson(lesson)  # its parameters as the page holds them (defaults dropped)
            page_payload_json(opened.mode, opened.seed, opened.params)

    thread = threading.Thread(target=work, name="warm-lessons", daemon=True)
    thread.start()
    return thread


@solara.component
def Control(item: dict[str, Any], on_value):
    """One setting in plain words (its model name and range in the tooltip), applied when released."""
    with solara.Tooltip(item["tooltip"]):
        with solara.Column(classes=["tl-control"], gap="0px"):
            if item["kind"] == "choice":
                choices = item["choices"]
                solara.Select(item["label"], value=choices[item["value"]], values=list(choices.values()),
                              on_value=lambda text: on_value(next(k for k, t in choices.items() if t == text)))
            else:
                SliderControl(item, on_value)


@solara.component
def SliderControl(item: dict[str, Any], on_value):
    """A slider that applies its value when released (a drag would otherwise start a run per pixel)."""
    shown = f"{item['value']:g}" if isinstance(item["value"], float) else str(item["value"])
    solara.HTML(tag="div", classes=["tl-control-label"],
                unsafe_innerHTML=f"<span>{escape(item['label'])}</span><b>{escape(shown)}</b>")
    cast = int if item["kind"] == "int" else float
    slider = rv.Slider(v_model=item["value"], min=item["min"], max=item["max"], step=item["step"],
                       hide_details=True, thumb_label=True, class_=f"tl-slider tl-slider-{item['name']}")
    rv.use_event(slider, "change", lambda widget, event, data: on_value(cast(data)))


@solara.component
def LessonCard(state: PageState):
    """The chosen lesson's question for the class and what to watch for."""
    if state.lesson is None:
        return
    lesson = LESSONS[state.lesson]
    with solara.Card(classes=["tl-lesson"], elevation=1):
        solara.HTML(tag="div", classes=["tl-predict"], unsafe_innerHTML=(
            f"<span class='tl-lesson-title'>{escape(lesson.title)}.</span> "
            f"<b>Before you press ▶ Play, ask the class:</b> {terms_html(lesson.predict)}"))
        solara.HTML(tag="div", classes=["tl-watch"], unsafe_innerHTML=(
            f"<details><summary><b>Watch for</b> (after the prediction)</summary>{terms_html(lesson.watch)}"
            "</details>"))
        if lesson.note:
            solara.HTML(tag="div", unsafe_innerHTML=terms_html(lesson.note), classes=["tl-note"])
        if state.replace(month=0) != PageState.of_lesson(lesson):
            solara.HTML(tag="div", classes=["tl-note", "tl-changed"], unsafe_innerHTML=(
                "The seed or settings have changed since the lesson was chosen: this run may tell a "
                "different story."))


def page_link(router, query: str) -> str:
    """The absolute address of the page with ``query`` (as the browser reached it)."""
    headers = solara.lab.headers.value or {}
    host = (headers.get("host") or [""])[0]
    scheme = (headers.get("x-forwarded-proto") or ["http"])[0]
    path = f"{router.root_path}{router.path or '/'}"
    return f"{scheme}://{host}{path}?{query}" if host else f"{path}?{query}"


@solara.component
def Page():
    """The classroom page."""
    router = solara.use_router()
    opened, opened_problems = solara.use_memo(lambda: PageState.from_query(router.search), [])
    state = solara.use_reactive(opened)
    problems = solara.use_reactive(opened_problems)
    seed_error = solara.use_reactive("")
    s = state.value

    def show(new: PageState) -> None:
        problems.set([])
        seed_error.set("")
        state.set(new)

    def choose_lesson(title: str) -> None:
        chosen = [lesson for lesson in LESSONS.values() if lesson.title == title]
        show(PageState.of_lesson(chosen[0]) if chosen else s.replace(lesson=None))

    def choose_mode(title: str) -> None:
        mode = next(name for name, text in MODES.items() if text == title)
        lesson = s.lesson if s.lesson and LESSONS[s.lesson].mode == mode else None
        show(s.replace(mode=mode, lesson=lesson))

    def apply_seed(value: Any) -> None:
        try:
            seed = parse_seed(value)
        except ParamError as exc:
            seed_error.set(str(exc))
            return
        show(s.replace(seed=seed))

    def new_seed() -> None:
        apply_seed(secrets.randbelow(1_000_000))

    def set_param(name: str, value: Any) -> None:
        try:
            show(s.replace(params={**s.params, name: value}))
        except ParamError as exc:  # a control's range comes from the vocabulary: only a bug gets here
            problems.set([str(exc)])

    query = s.replace(month=0).to_query()
    link = page_link(router, query)
    data = solara.use_memo(lambda: page_payload_json(s.mode, s.seed, s.params),
                           [s.mode, s.seed, tuple(s.params.items())])

    # The address and the state are kept equal both ways. The page writes its state into the address
    # whenever the state changes (the player adds the month on screen); an address the page did not write
    # (the browser's Back) is read and its run shown.
    opened_query = solara.use_memo(lambda: router.search, [])

    def write_address() -> None:
        if router.set_path is not None and (router.search or "") != s.to_query():
            router.push(f"{router.path or '/'}?{s.to_query()}")

    def read_address() -> None:
        if router.set_path is None:  # rendered outside a browser (tests)
            return
        wanted, found = PageState.from_query(router.search)
        if wanted.replace(month=0) != s.replace(month=0) and router.search != opened_query:
            show(wanted)
            problems.set(found)
        else:
            write_address()

    solara.use_effect(write_address, [s])
    solara.use_effect(read_address, [router.search])

    PageBody(s, problems, seed_error, data, link, choose_lesson, choose_mode, apply_seed, new_seed, set_param)


@solara.component
def PageBody(s, problems, seed_error, data, link, choose_lesson, choose_mode, apply_seed, new_seed, set_param):
    """What the page shows (the state and its handlers come from :func:`Page`)."""
    with solara.Column(gap="0px"):  # one element: Solara would put a gap after each invisible one
        PageParts(s, problems, seed_error, data, link, choose_lesson, choose_mode, apply_seed, new_seed, set_param)


def PageParts(s, problems, seed_error, data, link, choose_lesson, choose_mode, apply_seed, new_seed, set_param):
    """The page's parts, rendered inside :func:`PageBody`'s column (a plain function: no extra element)."""
    solara.Style(CSS)
    solara.Title(TITLE)
    with solara.AppBarTitle():
        solara.Text(TITLE)
    with solara.Sidebar():
        with solara.Column(gap="4px", style={"padding": "6px 12px"}):
            solara.Select("Lesson", value=LESSONS[s.lesson].title if s.lesson else NO_LESSON,
                          values=[NO_LESSON] + [lesson.title for lesson in LESSONS.values()], on_value=choose_lesson)
            solara.Select("View", value=MODES[s.mode], values=list(MODES.values()), on_value=choose_mode)
            with solara.Row(style={"align-items": "center"}):
                solara.InputText("Seed (a whole number)", value=str(s.seed), on_value=apply_seed,
                                 continuous_update=False, style={"max-width": "170px"}, classes=["tl-seed"])
                solara.Button("New seed", icon_name="mdi-dice-5", color="secondary", on_click=new_seed)
            if seed_error.value:
                solara.Error(seed_error.value)
            for item in slider_specs(s):
                Control(item, on_value=lambda value, name=item["name"]: set_param(name, value)).key(
                    f"{item['name']}-{s.mode}-{item['value']}")
            solara.HTML(tag="div", classes=["tl-hint"], unsafe_innerHTML=(
                "Every change shows the new run at month 0: ask the class first, then press ▶ Play."))
            solara.HTML(tag="div", classes=["tl-settings"],
                        unsafe_innerHTML=settings_html(s))

    with solara.Column(gap="4px", classes=["tl-main"]):
        for problem in problems.value:
            solara.Warning(f"The link had a setting the page could not use, so it was left at its default: "
                           f"{problem}", dense=True)
        LessonCard(s)
        if varied_of(s.mode):
            varied = " and ".join(f'<b class="tl-term" title="{escape(name)} in the model">'
                                  f"{escape(param_label(name).lower())}</b>" for name in varied_of(s.mode))
            same = "same community" if is_community(s.mode) else "same settings"
            solara.HTML(tag="div", classes=["tl-caption"], unsafe_innerHTML=(
                f"Same seed, {same}, same luck on both sides: only {varied} differs. "
                "Where the paths part, that is why."))
        Player.element(payload=player_message(data, s.month, link)).key("player")


#: Started when the page's module is first imported (the server's start): the lessons' runs, computed ahead.
WARMING = warm_lessons()
