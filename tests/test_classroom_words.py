"""The classroom speaks a teacher's words: model names only in tooltips (issue 14, item 5)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from sim.classroom.export import export_html
from sim.classroom.lessons import LESSONS
from sim.classroom.models import COMPARISONS
from sim.classroom.state import SETTINGS, PageState, settings_html, slider_specs
from sim.classroom.words import terms_html, terms_named, terms_plain
from sim.funder import policy_names
from sim.strategies import strategy_names

#: What a code name looks like on screen: a parameter or strategy name with an underscore (``initial_trust``).
CODE_NAMES = sorted({n for n in [*SETTINGS, *strategy_names(), *policy_names()] if "_" in n}, key=len, reverse=True)


class _Visible(HTMLParser):
    """The text a reader sees in HTML (tags and attributes such as tooltips left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style", "title")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style", "title")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)


def code_names_in(text: str) -> list[str]:
    return [n for n in CODE_NAMES if re.search(rf"\b{n}\b", text)]


@pytest.mark.parametrize("name", list(LESSONS))
def test_a_lessons_text_reads_in_plain_words_with_model_names_in_tooltips(name):
    lesson = LESSONS[name]
    for text in (lesson.predict, lesson.watch, lesson.note):
        assert code_names_in(terms_plain(text)) == [], text
        assert code_names_in(visible(terms_html(text))) == [], text
        for term in terms_named(text):
            assert term in SETTINGS, f"{name}: [..]({term}) names no parameter"
            assert f'title="{term} in the model' in terms_html(text)  # the model name is in the tooltip


def test_terms_markup_escapes_and_keeps_the_words():
    text = "a [b < c](initial_trust) & [d](leadership)"
    assert terms_plain(text) == "a b < c & d"
    html = terms_html(text)
    assert " ".join(visible(html).split()) == "a b < c & d"
    assert "&lt;" in html and "&amp;" in html and terms_named(text) == ["initial_trust", "leadership"]


def test_comparison_labels_and_controls_are_plain_words():
    for c in COMPARISONS.values():
        for side in (c.left, c.right):
            assert code_names_in(side[0]) == [] and "(" not in side[0], side[0]
            assert c.tooltip(side).endswith("in the model") and all(k in c.tooltip(side) for k in side[1])
    for item in slider_specs(PageState()):
        assert code_names_in(item["label"]) == [], item
        assert item["tooltip"].startswith(f"{item['name']} in the model")
        for label in item.get("choices", {}).values():
            assert code_names_in(label) == [], label


@pytest.mark.parametrize("name", ["little_red_hen", "culture_gap"])
def test_the_run_on_screen_is_plain_with_the_record_in_its_tooltip(name):
    state = PageState.of_lesson(LESSONS[name])
    html = settings_html(state)
    assert code_names_in(visible(html)) == [], visible(html)
    for param in state.params:
        assert param in html  # the record, in the model's names, is the tooltip


def test_an_exported_lessons_visible_text_has_no_code_names():
    page = export_html(LESSONS["little_red_hen"], {"seed": [5]})
    body = page.split('<script type="application/json"')[0]
    assert code_names_in(visible(body)) == [], code_names_in(visible(body))
