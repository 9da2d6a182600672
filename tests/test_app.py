"""The classroom page without a browser (``solara.render``, as Mesa tests its own pages), its lessons,
its shareable address, its drawings, and the ``demo`` and ``animate`` commands."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from html import escape

import ipyvuetify as v
import ipywidgets as widgets
import numpy as np
import pytest
import solara
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

import sim
from sim import outputs
from sim.animate import animate_run, draw_frame
from sim.classroom.drawings import draw_ladder, draw_network
from sim.classroom.lessons import LESSONS, find_seeds, story_problems
from sim.classroom.models import COMPARISONS, MODES, ClassroomModel, SideBySideModel, parse_seed
from sim.classroom.page import Page, Player
from sim.classroom.state import SLIDER_PARAMS, PageState, slider_specs
from sim.classroom.words import param_label, param_tooltip, strategy_label
from sim.cli import main as cli
from sim.commands.demo import PAGE_MODULE, server_command, server_environment
from sim.levels import LEVEL_NAMES, NEED
from sim.model import PartnershipModel
from sim.palette import GONE_COLOUR
from sim.params import PARAMETERS, ParamError

# --- the page, rendered without a browser ------------------------------------------------------


def render(search: str | None = None):
    """Render the page as opened at ``/?search`` (no browser: the page then never writes its address)."""

    @solara.component
    def Opened():
        solara.routing.router_context.provide(solara.routing.Router(f"/?{search}" if search else "/", routes=[]))
        # AppLayout, as solara's server wraps a page: it shows what SolaraViz puts in the sidebar.
        return solara.AppLayout(children=[Page()])

    return solara.render(Opened(), handle_error=False)


def find(box, cls, **attrs) -> list:
    """Widgets of a class (and attribute values) in the rendered tree.

    Walks the tree from the top rather than using ``rc.find``: what SolaraViz puts in the sidebar
    travels through a portal, and after a remount ``rc.find`` no longer sees it.
    """
    out, seen, todo = [], set(), [box]
    while todo:
        w = todo.pop()
        if id(w) in seen or not isinstance(w, widgets.Widget):
            continue
        seen.add(id(w))
        if isinstance(w, cls) and all(getattr(w, k, None) == val for k, val in attrs.items()):
            out.append(w)
        todo.extend(getattr(w, "children", None) or [])
        for slot in getattr(w, "v_slots", None) or []:
            children = slot.get("children")
            todo.extend(children if isinstance(children, list) else [children])
    return out


def one(box, cls, **attrs):
    found = find(box, cls, **attrs)
    assert len(found) == 1, f"expected one {cls.__name__} with {attrs}, found {len(found)}"
    return found[0]


def player(box):
    """The page's player widget (its payload is what the browser plays)."""
    return one(box, Player)


def sent(box) -> dict:
    """What the page sent the player: the run, with its start month and link."""
    message = json.loads(player(box).payload)
    return {**message["data"], "start_month": message["start_month"], "link": message["link"]}


def html_text(box, css_class: str) -> str:
    """The HTML of the page's ``solara.HTML`` blocks of a CSS class."""
    return " ".join(w.unsafe_innerHTML for w in find(box, solara.widgets.HTML)
                    if css_class in w.attributes.get("class", ""))


def all_text(widget) -> str:
    """Every string shown in a widget tree."""
    out = []
    for child in getattr(widget, "children", None) or []:
        out.append(child if isinstance(child, str) else all_text(child))
    return " ".join(out)


def button(box, label: str):
    found = [b for b in find(box, v.Btn) if label in b.children]
    assert len(found) == 1, f"expected one {label!r} button, found {len(found)}"
    return found[0]


def select(box, label: str, value: str) -> None:
    one(box, v.Select, label=label).v_model = value


def slider(box, name: str):
    return one(box, v.Slider, class_=f"tl-slider tl-slider-{name}")


def move(box, name: str, value) -> None:
    """Move a slider and let go of it (the page applies a slider when it is released)."""
    s = slider(box, name)
    s.v_model = value
    s.fire_event("change", value)


def test_page_sends_the_whole_run_to_the_player_at_month_0():
    box, _ = render()
    data = sent(box)
    assert data["start_month"] == 0 and data["end"] == data["n_steps"] == 120
    (run,) = data["runs"]
    assert set(run["series"]) == set(outputs.SERIES)  # every series the model records, new ones too
    assert all(len(run["series"][name]) == run["end"] + 1 for name in outputs.SERIES)  # month 0 .. end
    assert len(run["trust"]) == len(run["active"]) == run["end"] + 1
    assert [p["title"] for p in data["series"].values()][:1] == [outputs.SERIES["level"].label]
    assert data["link"].endswith("?mode=single&seed=0")
    assert "seed 0" in html_text(box, "tl-settings") and "strategy stepwise" in html_text(box, "tl-settings")
    assert "Reset" not in all_text(box) and "Use Threads" not in all_text(box)  # no SolaraViz controls


def test_the_run_sent_is_the_engines_run_month_for_month():
    box, _ = render("seed=7&initial_trust=0.6")
    (run,) = sent(box)["runs"]
    engine = sim.simulate(seeds=[7], initial_trust=0.6)
    for name in ("level", "mean_trust", "cumulative_benefit", "active"):
        got = np.array([np.nan if x is None else x for x in run["series"][name][1:]], dtype=float)
        np.testing.assert_allclose(got, engine.series(name)[0, : len(got)], rtol=0, atol=1e-4)
    # the ladder's rung at month m is the level played in month m (the series), never next month's
    assert run["series"]["level"][0] == PartnershipModel(seed=7, initial_trust=0.6).level


def test_controls_speak_plain_words_and_name_the_model_in_their_tooltips():
    box, _ = render()
    labels = " ".join(html_text(box, "tl-control-label").split())
    for name in SLIDER_PARAMS:
        if name != "strategy":
            assert f"<span>{escape(param_label(name))}</span>" in labels
            assert name not in labels  # the model's name is in the tooltip, not on the control
    tooltips = " ".join(all_text(w) for w in find(box, v.Tooltip))
    for name in SLIDER_PARAMS:
        spec = PARAMETERS[name]
        if name == "strategy":
            assert one(box, v.Select, label=param_label("strategy")).items == [strategy_label(s)
                                                                                for s in sim.strategy_names()]
            continue
        s = slider(box, name)
        assert s.v_model == spec.default and s.min == spec.low
        # months run up to the run's length at most (deadline's own range goes to 10000)
        assert s.max == (min(spec.high, PARAMETERS["n_steps"].default) if spec.unit == "months" else spec.high)
        assert param_tooltip(name).startswith(f"{name} in the model: {spec.meaning}")
        assert param_tooltip(name) in tooltips


def test_a_released_slider_shows_the_new_run_at_month_0_and_the_link_follows():
    box, _ = render("seed=3&month=40")
    assert sent(box)["start_month"] == 40
    move(box, "n_orgs", 9)
    data = sent(box)
    assert data["start_month"] == 0 and data["runs"][0]["n_orgs"] == 9
    assert "n_orgs 9" in html_text(box, "tl-settings")
    assert data["link"].endswith("?mode=single&seed=3&n_orgs=9")


def test_seed_box_checks_what_is_typed_and_a_new_seed_keeps_the_moved_sliders():
    box, _ = render()
    move(box, "initial_trust", 0.6)
    seed_box = one(box, v.TextField, label="Seed (a whole number)")
    seed_box.v_model = "-4"
    seed_box.fire_event("keyup.enter", None)
    assert "seed = '-4' must be a whole number from 0 to 18,446,744,073,709,551,615" in " ".join(
        all_text(w) for w in find(box, v.Alert))
    assert "seed 0 " in html_text(box, "tl-settings")  # the run on screen is kept
    seed_box.v_model = "17"
    seed_box.fire_event("keyup.enter", None)
    assert "seed 17 " in html_text(box, "tl-settings") and "initial_trust 0.6" in html_text(box, "tl-settings")
    assert not find(box, v.Alert)  # the stale error is gone
    button(box, "New seed").click()
    assert "initial_trust 0.6" in html_text(box, "tl-settings")  # a new seed keeps the moved slider
    assert sent(box)["runs"][0]["series"]["mean_trust"][0] > 0.4


def test_side_by_side_view_sends_both_runs_and_hides_the_compared_setting():
    box, _ = render()
    select(box, "View", COMPARISONS["stepwise_vs_forced"].title)
    data = sent(box)
    assert [r["strategy"] for r in data["runs"]] == ["stepwise", "funder_forced"]
    assert data["end"] == max(r["end"] for r in data["runs"])
    assert not find(box, v.Select, label=param_label("strategy"))
    caption = html_text(box, "tl-caption")
    assert f'title="strategy in the model">{param_label("strategy").lower()}</b> differs' in caption
    assert "mode=stepwise_vs_forced" in data["link"]


def test_choosing_a_lesson_sets_its_parameters_and_asks_the_class():
    box, _ = render("seed=4&month=30")
    lesson = LESSONS["culture_gap"]
    select(box, "Lesson", lesson.title)
    predict = html_text(box, "tl-predict")
    assert "ask the class" in predict and 'title="cultural_distance in the model' in predict
    settings = html_text(box, "tl-settings")
    assert "misperception 0.8" in settings and f"seed {lesson.seed}" in settings
    assert slider(box, "initial_trust").v_model == lesson.params["initial_trust"]
    assert not find(box, v.Slider, class_="tl-slider tl-slider-cultural_learning")  # each side sets its own
    assert sent(box)["start_month"] == 0  # shown at month 0, ready for the prediction
    assert "have changed" not in html_text(box, "tl-changed")
    button(box, "New seed").click()
    assert "have changed since the lesson was chosen" in html_text(box, "tl-changed")
    select(box, "View", MODES["single"])  # the lesson's text is about two sides: it goes with its view
    assert not html_text(box, "tl-predict") and "lesson=" not in sent(box)["link"]


def test_the_starting_trust_note_explains_prejudice_and_only_then():
    box, _ = render()
    assert "not 0.3: the other cultural group is trusted less at first (prejudice 0.3 × cultural distance 0.5)" in (
        " ".join(sent(box)["notes"]))
    box, _ = render("cultural_distance=0.0")
    assert sent(box)["notes"] == []


# --- the address ------------------------------------------------------------------------------


def test_address_round_trips_exactly():
    state = PageState(mode="leadership", lesson="bad_year", seed=2**64 - 1,
                      params={"initial_trust": 0.1 + 0.2, "n_orgs": 9, "strategy": "funder_patient"})
    back, problems = PageState.from_query(state.to_query())
    assert problems == [] and back == state
    assert back.params["initial_trust"] == 0.1 + 0.2  # not rounded: the link reproduces the run bit for bit
    # defaults are left out of the address
    assert PageState(params={"n_orgs": PARAMETERS["n_orgs"].default}).to_query() == "mode=single&seed=0"


def test_bad_address_entries_are_reported_and_dropped():
    state, problems = PageState.from_query("?seed=x&n_org=5&initial_trust=2&mode=sideways&lesson=nope&loss_rate=0.4")
    assert state == PageState(params={"loss_rate": 0.4})
    text = "\n".join(problems)
    assert "seed = 'x' must be a whole number" in text
    assert "did you mean 'n_orgs'" in text
    assert "initial_trust = 2.0 is out of range (allowed: 0..1)" in text
    assert "mode = 'sideways' is not a page mode" in text and "lesson = 'nope' is not a lesson" in text


def warnings_shown(box) -> str:
    return " ".join(all_text(w) for w in find(box, v.Alert))


# Each: an address as a person (or a mail program) might mangle it, the entry the note must name, and the
# run that must be on screen instead (the entry at its default).
ODD_LINKS = {
    "superscript-seed": ("seed=%C2%B2", "seed = '²' must be a whole number", "seed 0 "),
    "arabic-indic-seed": ("seed=%D9%A3", "seed = '٣' must be a whole number", "seed 0 "),
    "5000-digit-seed": ("seed=" + "7" * 5000, "(5,000 characters)", "seed 0 "),
    "400-digit-n_orgs": ("seed=3&n_orgs=" + "9" * 400,
                         "n_orgs = '999999999999999999999999… (400 characters)' is too long",
                         "seed 3 · strategy stepwise · n_orgs 6 "),
    "empty-n_orgs": ("n_orgs=", "n_orgs = '' is not a number (allowed: 2..64)", "n_orgs 6 "),
    "nan-trust": ("initial_trust=nan", "initial_trust = 'nan' is not a number", "initial_trust 0.3 "),
    "inf-trust": ("initial_trust=inf", "initial_trust = 'inf' is not a number", "initial_trust 0.3 "),
    "huge-exponent-n_orgs": ("n_orgs=1e400", "n_orgs = '1e400' is out of range (allowed: 2..64)", "n_orgs 6 "),
    "minus-inf-deadline": ("deadline=-1e999", "deadline = '-1e999' is out of range", "deadline 24"),
    "fraction-n_orgs": ("n_orgs=6.5", "n_orgs = 6.5 must be a whole number", "n_orgs 6 "),
    "hex-n_orgs": ("n_orgs=0x10", "n_orgs = '0x10' is not a number", "n_orgs 6 "),
    "unknown-key": ("seed=2&colour=red", "unknown parameter 'colour'", "seed 2 "),
    "misspelt-key": ("n_org=5", "unknown parameter 'n_org'; did you mean 'n_orgs'?", "n_orgs 6 "),
    "long-unknown-key": ("x" * 3000 + "=1", "unknown parameter 'xxxxxxxxxxxxxxxxxxxxxxxx… (3,000 characters)'",
                         "seed 0 "),
    "control-character-strategy": ("strategy=%00", "strategy = '\\x00' is not a registered strategy",
                                   "strategy stepwise "),
    "bad-percent-escape": ("seed=%ZZ&mode=single", "seed = '%ZZ' must be a whole number", "seed 0 "),
    "long-lesson": ("lesson=" + "a" * 500, "lesson = 'aaaaaaaaaaaaaaaaaaaaaaaa… (500 characters)' is not a lesson",
                    "seed 0 "),
}


@pytest.mark.parametrize("search, message, shown", list(ODD_LINKS.values()), ids=list(ODD_LINKS))
def test_an_odd_link_opens_the_page_with_a_note_and_the_default(search, message, shown):
    box, _ = render(search)
    note = warnings_shown(box)
    assert "left at its default" in note and message in note
    assert "Traceback" not in all_text(box)
    assert shown in html_text(box, "tl-settings") + " "
    assert sent(box)["runs"]  # the run is sent: the page works
    assert len(note) < 400  # one short note, not the list of every parameter


@pytest.mark.parametrize("search, message, mode, start", [
    ("mode=stepwise_vs_forced&strategy=funder_forced",
     "strategy = 'funder_forced' is not used: in this view each side sets its own strategy", "stepwise_vs_forced", 0),
    ("lesson=forced_marriage&mode=single",
     "lesson = 'forced_marriage' is shown in the view 'stepwise_vs_forced', so the page shows that view",
     "stepwise_vs_forced", 0),
    ("seed=2&month=121", "month = 121 is past the run's last month", "single", 0),
    ("seed=2&month=-3", "month = '-3' must be a whole number of months", "single", 0),
    ("seed=2&month=45", None, "single", 45),
])
def test_a_link_that_cannot_mean_what_it_says_is_told_so(search, message, mode, start):
    box, _ = render(search)
    note = warnings_shown(box)
    assert (message in note) if message else note == ""
    assert f"mode={mode}" in sent(box)["link"] and sent(box)["start_month"] == start
    assert len(sent(box)["runs"]) == (1 if mode == "single" else 2)


def test_the_link_notes_stay_short_and_a_good_entry_beside_a_bad_one_is_kept():
    box, _ = render("seed=5&n_orgs=" + "9" * 400 + "&initial_trust=0.7&bogus=1")
    shown = html_text(box, "tl-settings")
    assert "seed 5 " in shown and "initial_trust 0.7" in shown and "n_orgs 6 " in shown
    notes = [all_text(w) for w in find(box, v.Alert)]
    assert len(notes) == 2 and all(len(n) < 300 for n in notes)


def test_seed_text_seeds_like_the_number():
    assert parse_seed(" 42 ") == 42
    a, b = ClassroomModel(seed="42"), PartnershipModel(seed=42)
    for _ in range(10):
        a.step()
        b.step()
    np.testing.assert_array_equal(a.trust_matrix(), b.trust_matrix())
    for bad in ("4.5", "-1", "", str(2**64)):
        with pytest.raises(ParamError, match="seed = .* must be a whole number"):
            parse_seed(bad)


# --- the side-by-side model ---------------------------------------------------------------------


def test_side_by_side_sides_match_the_engine_run_for_run():
    model = SideBySideModel(compare="stepwise_vs_forced", seed=12, initial_trust=0.5)
    for _ in range(30):
        model.step()
    for side, strategy in ((model.left, "stepwise"), (model.right, "funder_forced")):
        engine = sim.simulate(seeds=[12], strategy=strategy, initial_trust=0.5, n_steps=30)
        got = np.asarray(side.datacollector.model_vars["level"][1:])
        np.testing.assert_array_equal(got, engine.series("level")[0, : len(got)])
    assert model.params.initial_trust == 0.5
    with pytest.raises(ParamError, match="compare = 'x' is not a comparison"):
        SideBySideModel(compare="x")


# --- lessons ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LESSONS))
def test_each_lesson_shows_its_story(name):
    lesson = LESSONS[name]
    assert story_problems(lesson) == []
    assert lesson.predict.rstrip().endswith("?")
    assert len(lesson.watch.splitlines()) == 2


def test_story_checks_tell_a_failing_run_apart():
    lesson = LESSONS["forced_marriage"]
    failing = next(s for s in range(100) if story_problems(lesson, s))
    assert story_problems(lesson, failing)
    assert find_seeds(lesson, range(lesson.seed, lesson.seed + 1), limit=1) == [lesson.seed]


def test_little_red_hen_text_names_the_member_its_seed_makes_the_hen():
    lesson = LESSONS["little_red_hen"]
    (run,) = lesson.play(steps=0)
    u = [o.individualism for o in run.organizations]
    hen = int(np.argmax(u)) + 1
    assert f"organization {hen}" in lesson.watch and f"organization {hen}" in lesson.note.lower()


# --- drawings -----------------------------------------------------------------------------------


def test_network_greys_out_members_who_left_and_draws_one_edge_per_active_pair():
    (run,) = LESSONS["little_red_hen"].play()
    active = np.array([o.active for o in run.by_index])
    assert 0 < active.sum() < len(active)
    ax = Figure().add_subplot()
    draw_network(ax, run.model)
    edges, members, gone = ax.collections
    k = int(active.sum())
    assert len(edges.get_segments()) == k * (k - 1) // 2
    assert len(members.get_offsets()) == k and len(gone.get_offsets()) == (~active).sum()
    assert np.allclose(gone.get_facecolors()[0], to_rgba(GONE_COLOUR))


def test_ladder_highlights_the_current_rung_and_stamps_a_dissolved_run():
    model = PartnershipModel(seed=1, strategy="fixed", fixed_level=3)
    ax = Figure().add_subplot()
    draw_ladder(ax, model)
    rungs = [t for t in ax.texts if t.get_text()[:2] in {f"{k} " for k in range(1, 6)}]
    assert [t.get_text() for t in rungs if t.get_fontweight() == "bold"] == [f"3 {LEVEL_NAMES[3]}"]
    # the gauge shows the mean trust on the rungs' scale
    assert f"{model.mean_trust:.2f}" in [t.get_text() for t in ax.texts]
    assert NEED[3] in [line.get_ydata()[0] for line in ax.lines]
    (run,) = LESSONS["forced_marriage"].play()[1:]
    ax = Figure().add_subplot()
    draw_ladder(ax, run.model)
    assert any(t.get_text() == f"DISSOLVED\nin month {run.dissolved_step}" for t in ax.texts)


# --- commands -----------------------------------------------------------------------------------


def test_animate_writes_a_gif_of_the_run(tmp_path, capsys):
    out = tmp_path / "slides" / "run.gif"
    assert cli(["animate", "--seed", "1", "--out", str(out)]) == 2  # a missing folder is not created silently
    assert "the folder" in capsys.readouterr().err and not out.parent.exists()
    out.parent.mkdir()
    assert cli(["animate", "--strategy", "funder_forced", "--seed", "12", "--out", str(out), "--steps", "3",
                "--fps", "2", "--set", "initial_trust=0.35"]) == 0
    assert "4 frames" in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames == 4 and gif.size == (1120, 720)  # month 0 and months 1..3
        assert gif.info["duration"] == 500  # 2 months a second
        gif.seek(3)
        assert gif.info["duration"] == 2000  # the outcome is held for two seconds
    assert [p.name for p in out.parent.iterdir()] == ["run.gif"]  # no temporary file left behind
    assert cli(["animate", "--seed", "1", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--seed", "x", "--out", "a.gif"], "seed = 'x' must be a whole number"),
    (["--seed", "1", "--out", "a.png"], "must be a .gif file"),
    (["--seed", "1", "--out", "a.gif", "--steps", "121"], "steps = 121 is out of range (allowed: 1..120"),
    (["--seed", "1", "--out", "a.gif", "--set", "quorum=2"], "quorum = 2.0 is out of range"),
    (["--seed", "1", "--out", "a.gif", "--fps", "50"], "fps = 50.0 is out of range (allowed: 0.1..30"),
    (["--seed", "1", "--out", "a.gif", "--fps", "0"], "fps = 0.0 is out of range"),
])
def test_animate_rejects_bad_input(tmp_path, capsys, argv, message):
    argv = [a if not a.endswith((".gif", ".png")) else str(tmp_path / a) for a in argv]
    assert cli(["animate", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_animate_holds_the_last_frame_without_copying_it_at_a_high_fps(tmp_path):
    out = tmp_path / "fast.gif"
    # The hold is one frame with a long duration, not copies of the last frame (it was 100 copies,
    # 59 s and 612 MB at --fps 50): counted here, not timed, so the test cannot flake under load.
    assert animate_run(out, seed=0, steps=3, fps=30, dpi=40) == 4
    with Image.open(out) as gif:
        assert gif.n_frames == 4
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
    assert durations == [30, 30, 30, 2000]  # GIF times are whole hundredths: 1/30 s is 30 ms


def test_animate_stopped_by_sigterm_leaves_no_file(tmp_path):
    out = tmp_path / "stopped.gif"
    # SIGTERM arrives while the third frame is drawn, whatever the machine's speed (a 2 s timer lost the race
    # to the whole animation on an idle machine and then hit the interpreter's shutdown instead).
    code = ("import os, signal, sim.animate as a\n"
            "grab, frames = a._grab, []\n"
            "def grab_then_stop(canvas):\n"
            "    frames.append(1)\n"
            "    if len(frames) == 3:\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "    return grab(canvas)\n"
            "a._grab = grab_then_stop\n"
            f"a.animate_run({str(out)!r}, seed=0, dpi=40)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr
    assert list(tmp_path.iterdir()) == []  # neither the GIF nor a hidden temporary file


def test_slide_panels_share_their_month_ticks():
    fig = Figure(figsize=(14, 9))
    draw_frame(fig, PartnershipModel(seed=0))
    series_axes = [ax for ax in fig.axes if ax.get_xlabel() == "month"]
    assert len(series_axes) == 3
    ticks = {tuple(ax.get_xticks()) for ax in series_axes}
    assert ticks == {(0.0, 24.0, 48.0, 72.0, 96.0, 120.0)}


def test_demo_refuses_a_busy_port_and_serves_the_page_app(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert cli(["demo", "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
    assert cli(["demo", "--port", "70000"]) == 2
    command = server_command("127.0.0.1", 8765)
    assert command[1:4] == ["-m", "solara", "run"] and command[4] == PAGE_MODULE == Page.__module__
    assert "--production" in command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_server(monkeypatch):
    """``demo`` as far as starting the server: the command it would become is recorded instead."""
    started = []

    def execve(path, argv, env):
        started.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr("sim.commands.demo.os.execve", execve)
    return started


def test_demo_on_every_interface_warns_and_prints_the_real_addresses(capsys, no_server):
    import psutil

    port = free_port()
    with pytest.raises(SystemExit):
        cli(["demo", "--host", "0.0.0.0", "--port", str(port)])
    out, err = capsys.readouterr()
    assert "listens on every network interface" in err
    assert "localhost" not in out and "0.0.0.0" not in out
    assert f"http://127.0.0.1:{port}/  (this machine only)" in out
    own = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs if a.family == socket.AF_INET}
    shown = set(re.findall(rf"http://([\d.]+):{port}/", out))
    assert shown == own  # every IPv4 address of this machine, and nothing else
    assert no_server[0][no_server[0].index("--host") + 1] == "0.0.0.0"


def test_demo_on_loopback_prints_one_address_and_no_warning(capsys, no_server):
    port = free_port()
    with pytest.raises(SystemExit):
        cli(["demo", "--port", str(port)])
    out, err = capsys.readouterr()
    assert out.strip() == f"TrustLadder classroom page: http://127.0.0.1:{port}/  (Ctrl+C stops it)"
    assert "warning" not in err


@pytest.mark.parametrize("host, message", [
    ("not-a-host.invalid", "--host 'not-a-host.invalid': not an address or a name this machine knows"),
    ("999.1.1.1", "--host '999.1.1.1': not an address or a name this machine knows"),
    ("203.0.113.7", "--host 203.0.113.7: not an address of this machine"),  # TEST-NET-3: never this machine's
])
def test_demo_names_a_bad_host_not_the_port(capsys, no_server, host, message):
    assert cli(["demo", "--host", host, "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert message in err and "pick another port" not in err
    assert not no_server


def test_demo_server_keeps_solaras_cookie_warning_out_of_the_terminal():
    # the warning solara raises for every browser connection over http to an address other than localhost
    code = ("import warnings; warnings.warn('Cookies with samesite=none require https, but according to the asgi "
            "framework, the scheme is http', UserWarning); warnings.warn('another warning', UserWarning)")
    done = subprocess.run([sys.executable, "-c", code], env=server_environment(), capture_output=True, text=True)
    assert "samesite" not in done.stderr and "another warning" in done.stderr


def test_page_models_build_from_state():
    assert isinstance(PageState().build(), ClassroomModel)
    assert isinstance(PageState(mode="leadership").build(), SideBySideModel)
    assert "leadership" not in [c["name"] for c in slider_specs(PageState(mode="leadership"))]
    assert PageState(mode="leadership", params={"leadership": 0.2}).params == {}  # each side sets its own
