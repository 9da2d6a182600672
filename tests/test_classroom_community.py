"""The classroom's community view without a browser: its trajectory, lesson, link and page (issue 16)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.classroom.community import BROKEN_MONTHS, community_payload, community_record, community_runs, edge_rungs
from sim.classroom.export import default_grid, export_html
from sim.classroom.lessons import LESSONS, story_problems
from sim.classroom.state import PageState, slider_specs
from sim.levels import N_LEVELS


@pytest.fixture(scope="module")
def funders_call():
    lesson = LESSONS["funders_call"]
    return community_runs(lesson.mode, lesson.seed, lesson.params)


def test_an_edge_has_the_rung_of_the_strongest_partnership_its_pair_shares():
    rungs = edge_rungs([[0, 1, 2], [2, 1], [3, 0]], [2, 4, 1], n=5)
    assert rungs == {0 * 5 + 1: 2, 0 * 5 + 2: 2, 1 * 5 + 2: 4, 0 * 5 + 3: 1}


def test_the_month_by_month_picture_matches_the_engines_own_counts(funders_call):
    """Rebuilt from the engine's tables, the picture agrees with the series the engine records each month."""
    results, labels = funders_call
    for k in range(2):
        rec = community_record(results, k, *labels[k])
        counts = np.array(rec["rung_counts"])
        assert counts.shape == (results.n_steps + 1, N_LEVELS) and not counts[0].any()  # month 0: none yet
        for level in range(1, N_LEVELS + 1):
            assert (counts[1:, level - 1] == results.series(f"partnerships_level_{level}")[k]).all(), level
        assert (counts[1:].sum(axis=1) == results.series("partnerships")[k]).all()
        held = np.array([sum(int(c) for c in month) for month in rec["belongs"][1:]])
        assert (held == results.series("memberships")[k]).all()
        n = rec["n_orgs"]
        for month in (12, 60, 120):
            codes = rec["edges"][month]
            rungs = [c % 8 for c in codes]
            pairs = [(c // 8 // n, c // 8 % n) for c in codes]
            assert all(a < b < n for a, b in pairs) and all(1 <= r <= N_LEVELS for r in rungs)
            # a pair on rung r exists only if some partnership stands on rung r that month
            assert set(rungs) <= {lvl + 1 for lvl in np.flatnonzero(counts[month])}
        assert rec["formed"][-1] == rec["summary"]["n_formed"] and rec["ended"][-1] == rec["summary"]["n_ended"]


def test_partnerships_that_fell_apart_stay_drawn_for_a_few_months(funders_call):
    results, labels = funders_call
    rec = community_record(results, 0, *labels[0])  # the mandate: its consortia fall apart within months
    n = rec["n_orgs"]
    parts, mem = results.partnerships, results.memberships
    parts, mem = parts[parts["run"] == 0], mem[mem["run"] == 0]
    assert sum(map(len, rec["broke"])) > 0 and rec["broke"][0] == []
    for m, keys in enumerate(rec["broke"]):
        recent = parts[(parts["ended_step"] <= m) & (parts["ended_step"] > m - BROKEN_MONTHS)]["partnership"]
        current = {code // 8 for code in rec["edges"][m]}
        for key in keys:
            a, b = divmod(key, n)
            assert key not in current  # a pair still together elsewhere is drawn as such
            # both were members of one partnership that ended in the last BROKEN_MONTHS months
            together = [p for p in recent
                        if {a, b} <= set(mem[(mem["partnership"] == p) & (mem["why_left"] == "ended")]["org"])]
            assert together, (m, a, b)


def test_both_sides_share_the_community_and_differ_in_the_funders_policy(funders_call):
    results, labels = funders_call
    assert list(results.summary["funder_policy"]) == ["mandate", "patient"]
    assert results.summary["seed"].nunique() == 1
    orgs = results.organizations
    assert (orgs[orgs["run"] == 0]["sector"].to_numpy() == orgs[orgs["run"] == 1]["sector"].to_numpy()).all()
    assert [label for label, _ in labels] == ["Mandate consortia now", "Fund what grew"]
    assert labels[0][1] == "funder_policy = mandate in the model"


def test_the_funders_call_tells_its_story_and_the_check_can_fail():
    lesson = LESSONS["funders_call"]
    assert story_problems(lesson) == []
    assert story_problems(lesson, seed=0)  # seed 0: patient ends with fewer lasting collaborations


def test_a_community_link_round_trips_and_a_partnership_view_refuses_community_settings():
    state, problems = PageState.from_query("mode=community&seed=7&funder_policy=staged&prior_ties=0.3&month=40")
    assert problems == [] and state.params == {"prior_ties": 0.3, "funder_policy": "staged"} and state.month == 40
    assert PageState.from_query(state.to_query()) == (state, [])
    names = [item["name"] for item in slider_specs(state)]
    assert names[0] == "funder_policy" and "strategy" not in names
    _, problems = PageState.from_query("mode=single&funder_policy=mandate")
    assert problems == ["funder_policy is a setting of a community, so this view ('single') does not use it"]
    pair, problems = PageState.from_query("lesson=funders_call&mode=mandate_vs_patient&seed=28&funder_policy=none")
    assert "each side sets its own funder_policy" in problems[0] and "funder_policy" not in pair.params
    assert [item["name"] for item in slider_specs(pair)][0] == "prior_ties"  # the compared setting has no control
    _, problems = PageState.from_query("mode=community&funder_policy=bribe")
    assert "funder_policy = 'bribe'" in problems[0] and "mandate" in problems[0]


def test_the_page_sends_a_community_view_to_the_player():
    from test_app import html_text, render, sent

    box, _ = render("mode=mandate_vs_patient&lesson=funders_call&seed=28&month=36")
    data = sent(box)
    assert data["kind"] == "community" and data["start_month"] == 36 and len(data["runs"]) == 2
    assert [r["policy"] for r in data["runs"]] == ["mandate", "patient"]
    assert len(data["runs"][0]["edges"]) == data["n_steps"] + 1
    assert "how the funder spends its money" in html_text(box, "tl-caption")
    assert "ask the class" in html_text(box, "tl-predict")


def test_a_community_lesson_exports_with_its_draws_of_luck():
    lesson = LESSONS["funders_call"]
    assert default_grid(lesson) == {"seed": [28, 0, 1]}
    page = export_html(lesson, {"seed": [28]})
    data = json.loads(page.split('id="tl-data">')[1].split("</script>")[0].replace("<\\/", "</"))
    assert data["common"]["kind"] == "community" and list(data["runs"]) == ["28"]
    assert data["runs"]["28"]["runs"][1]["label"] == "Fund what grew"


def test_a_community_payload_is_the_same_for_the_same_seed():
    a = community_payload("community", 3, {"funder_policy": "staged", "n_steps": 24})
    b = community_payload("community", 3, {"funder_policy": "staged", "n_steps": 24})
    assert a == b and a["n_steps"] == 24 and a["runs"][0]["label"] == "Networking money first, then fund"
