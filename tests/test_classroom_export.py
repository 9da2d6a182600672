"""``trustladder lesson``: a lesson exported as one self-contained HTML file (played in Chromium by
``tests/test_browser.py``), and the listing of lessons."""

from __future__ import annotations

import json
import re
from html import escape

import pytest

from sim.classroom.export import MAX_RUNS, default_grid, export_html, lesson_grid
from sim.classroom.lessons import LESSONS
from sim.classroom.trajectory import payload
from sim.classroom.words import terms_html
from sim.cli import main as cli
from sim.params import ParamError


def embedded(html: str) -> dict:
    blob = re.search(r'<script type="application/json" id="tl-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(blob.replace("<\\/", "</"))


def test_export_writes_one_file_with_the_lessons_text_and_every_run_of_its_grid(tmp_path, capsys):
    out = tmp_path / "lesson.html"
    assert cli(["lesson", "export", "slow_and_steady", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    lesson = LESSONS["slow_and_steady"]
    assert escape(lesson.title) in html and terms_html(lesson.predict) in html
    data = embedded(html)
    grid = default_grid(lesson)
    assert [c["name"] for c in data["choices"]] == list(grid)
    assert len(data["runs"]) == len(grid["strategy"]) * len(grid["initial_trust"]) * len(grid["seed"])
    # the lesson's own choice is preselected and holds exactly the run the page shows for the lesson
    own = "|".join(c["values"][c["default"]] for c in data["choices"])
    assert data["runs"][own]["runs"] == payload(lesson.mode, lesson.seed, lesson.params)["runs"]
    # nothing to fetch: no external script, style, font or image (the SVG namespace is a name, not a request)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:|@import|url\(\s*["']?https?:|<link\b""", html)
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.html"]  # written atomically: no temporary file


def test_export_varies_what_it_is_told_and_refuses_what_it_cannot(tmp_path, capsys):
    out = tmp_path / "hen.html"
    assert cli(["lesson", "export", "little_red_hen", "--out", str(out), "--vary", "initial_trust=0.2,0.6",
                "--vary", "seed=30,31"]) == 0
    data = embedded(out.read_text(encoding="utf-8"))
    assert {c["name"]: c["query"] for c in data["choices"]}["initial_trust"] == ["0.2", "0.6"]
    assert len(data["runs"]) == 2 * 2 * 2  # strategy (stepwise, funder_forced) x initial_trust x seed
    cases = [
        (["nope", "--out", str(tmp_path / "x.html")], "lesson 'nope' is not a lesson"),
        (["bad_yea", "--out", str(tmp_path / "x.html")], "did you mean 'bad_year'"),
        (["bad_year", "--out", str(tmp_path / "missing" / "x.html")], "does not exist (create it first)"),
        (["bad_year", "--out", str(tmp_path / "x.txt")], "must be an .html file"),
        (["little_red_hen", "--out", str(out)], "exists; pass --force"),
        (["bad_year", "--out", str(tmp_path / "x.html"), "--vary", "leadership=0.1,0.5"],
         "leadership is what this lesson's two sides differ in"),
        (["bad_year", "--out", str(tmp_path / "x.html"), "--vary", "initial_trust=2"], "initial_trust = 2.0 is out"),
        (["bad_year", "--out", str(tmp_path / "x.html"), "--vary", "initial_trust"], "expected name=value"),
        (["bad_year", "--out", str(tmp_path / "x.html"), "--vary", "seed=-1"], "seed = '-1' must be a whole"),
    ]
    for argv, message in cases:
        assert cli(["lesson", "export", *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hen.html"]


def test_a_grid_too_large_for_one_file_is_refused_before_any_run():
    lesson = LESSONS["slow_and_steady"]
    with pytest.raises(ParamError, match=f"at most {MAX_RUNS} fit in one file"):
        lesson_grid(lesson, {"seed": list(range(100)), "initial_trust": [0.1, 0.5, 0.9]})


def test_the_page_and_the_file_carry_one_player():
    html = export_html(LESSONS["forced_marriage"], {"initial_trust": [0.3], "seed": [12]})
    from sim.classroom.trajectory import player_script

    assert player_script().replace("</script", "<\\/script") in html


def test_lesson_list_names_every_lesson(capsys):
    assert cli(["lesson", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out and lesson.title in out for name, lesson in LESSONS.items())
