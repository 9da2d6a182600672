"""The strategies, one decision at a time (in the style of Axelrod's ``versus_test``).

Each test plays a strategy against a scripted partnership: the mean trust ``m``
after each step, whether the step's project succeeded and the benefit gathered
so far are given, and the test checks what phase 8 leaves behind: the level of
the next step, the climb counter and whether the funder still pays. The failure
streak and the level-5 sector rule are applied as both implementations apply
them (``sim/engine.py``, ``sim/model.py``); nothing else of the model runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from sim import rules
from sim.levels import NEED, NEXT_NEED
from sim.params import batch_params
from sim.strategies import StrategyState, get_strategy, stepwise_rules

MARGIN = 0.05  # climb_margin's default, passed explicitly where a test depends on it


def up(level: int, margin: float = MARGIN) -> float:
    """The least mean trust at which a run at ``level`` counts towards climbing."""
    return float(NEXT_NEED[level] + margin)


def hold(level: int) -> float:
    """A mean trust at which a run at ``level`` neither counts towards climbing nor steps back."""
    return float(NEED[level])


def below(level: int, margin: float = MARGIN) -> float:
    """A mean trust just low enough for a run at ``level`` to step back."""
    return float(np.nextafter(NEED[level] - margin, -np.inf))


def play(strategy: str, script: Sequence[tuple], *, level: int | None = None, climb_count: int = 0,
         funded: bool | None = None, fail_streak: int = 0, sectors: int = 4, start_step: int = 1,
         **params: float) -> list[tuple[int, int, bool]]:
    """Play ``strategy`` against a scripted partnership of one run.

    Parameters
    ----------
    script
        Per step: ``(m, success)``, ``(m, success, cumulative_benefit)`` or
        ``(m, success, cumulative_benefit, sectors)`` (benefit 0 and
        ``sectors`` when left out).
    level, climb_count, funded, fail_streak
        The state before the first scripted step (default: the strategy's day one).
    sectors
        Sectors among the active members (level 5 needs three), on day one
        and in every step that does not give its own.
    start_step
        The number of the first scripted step.
    params
        Parameters of the run (the rest at their defaults).

    Returns
    -------
    list of (level, climb_count, funded)
        After each step: the level of the next step, the counter, the grant.
    """
    strat = get_strategy(strategy)
    # the funder's review against benefit_target (the reference rule) unless the test says otherwise
    p = batch_params(1, {"climb_margin": MARGIN, "review": "fixed_target", **params, "strategy": strategy})
    lvl = int(strat.start_level(p)[0]) if level is None else level
    lvl = int(rules.level_for_sectors(np.array([lvl]), np.array([sectors]))[0])
    count = np.array([climb_count], dtype=np.int64)
    paid = np.array([strat.funded if funded is None else funded])
    streak = fail_streak
    out = []
    for t, step in enumerate(script, start=start_step):
        m, success, benefit, n_sectors = (*step, *(0.0, sectors)[len(step) - 2:])
        streak = 0 if success else streak + 1  # phase 8: reset on success, else +1
        s = StrategyState(t, np.array([lvl]), np.array([m], dtype=float), np.array([success]),
                          np.array([streak], dtype=np.int64), count, paid, np.array([benefit], dtype=float), p,
                          strat.promised(p))
        chosen = np.clip(np.asarray(strat.rule(s), dtype=np.int64), 1, 5)
        lvl = int(rules.level_for_sectors(chosen, np.array([n_sectors]))[0])
        out.append((lvl, int(count[0]), bool(paid[0])))
    return out


def levels(result: list[tuple[int, int, bool]]) -> list[int]:
    return [r[0] for r in result]


def counts(result: list[tuple[int, int, bool]]) -> list[int]:
    return [r[1] for r in result]


def grants(result: list[tuple[int, int, bool]]) -> list[bool]:
    return [r[2] for r in result]


# --- stepwise ----------------------------------------------------------------------


@pytest.mark.parametrize("patience", [1, 3, 6])
def test_stepwise_climbs_after_climb_patience_steps_ready_and_restarts_its_count(patience):
    got = play("stepwise", [(up(1), True)] * (patience + 1), climb_patience=patience)
    assert counts(got) == [*range(1, patience), 0, 0]
    assert levels(got) == [1] * (patience - 1) + [2, 2]  # at level 2, m = up(1) is not enough to count again
    assert get_strategy("stepwise").start_level(batch_params(1, {}))[0] == 1


def test_stepwise_counts_only_consecutive_steps_at_the_next_need_plus_the_margin():
    just_short = float(np.nextafter(up(1), 0))
    got = play("stepwise", [(up(1), True)] * 5 + [(just_short, True)] + [(up(1), True)] * 6, climb_patience=6)
    assert counts(got) == [1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0]
    assert levels(got) == [1] * 11 + [2]
    # The margin is a parameter: with margin 0.2 the same trust never counts.
    assert counts(play("stepwise", [(up(1), True)] * 3, climb_margin=0.2)) == [0, 0, 0]
    assert counts(play("stepwise", [(up(1, 0.2), True)] * 3, climb_margin=0.2)) == [1, 2, 3]


def test_stepwise_climbs_one_rung_at_a_time_up_to_collaboration_and_multisector():
    script = [(up(lvl), True) for lvl in (1, 2, 3, 4)]
    assert levels(play("stepwise", script, climb_patience=1)) == [2, 3, 4, 5]
    # At level 5 there is no next rung: it holds, and the counter stays 0.
    assert play("stepwise", [(1.0, True)] * 3, level=5) == [(5, 0, False)] * 3


@pytest.mark.parametrize("retreat_after", [1, 2, 3])
def test_stepwise_steps_back_after_retreat_after_failures_and_again_at_each_further_failure(retreat_after):
    script = [(hold(4), False)] * (retreat_after + 4) + [(hold(4), True), (hold(4), False)]
    got = levels(play("stepwise", script, level=4, retreat_after=retreat_after))
    # Only a success resets the streak, so each further failure is one more rung down, never below 1
    # (docs/model-notes.md, "Failure streak after stepping back").
    assert got == [4] * (retreat_after - 1) + [3, 2, 1, 1, 1] + [1, 1]


def test_stepwise_steps_back_when_trust_falls_below_the_need_minus_the_margin():
    assert levels(play("stepwise", [(below(3), True)], level=3)) == [2]
    assert levels(play("stepwise", [(float(NEED[3] - MARGIN), True)], level=3)) == [3]  # "below": strictly
    assert levels(play("stepwise", [(below(3), True), (below(2), True), (0.0, True)], level=3)) == [2, 1, 1]


def test_stepping_back_is_checked_first_and_restarts_the_count():
    # Ready for its sixth step in a row, but a third failure: it steps back instead of climbing.
    got = play("stepwise", [(up(2), False)], level=2, climb_count=5, fail_streak=2)
    assert got == [(1, 0, False)]
    # One success sooner, the same run climbs.
    assert play("stepwise", [(up(2), True)], level=2, climb_count=5, fail_streak=2) == [(3, 0, False)]


def test_at_networking_failures_do_not_stop_the_count():
    # Level 1 cannot step back, so a run of failures with trust above the next need still climbs.
    got = play("stepwise", [(up(1), False)] * 6)
    assert levels(got) == [1] * 5 + [2] and counts(got) == [1, 2, 3, 4, 5, 0]


def test_stepwise_rules_touch_only_the_rows_they_are_given():
    p = batch_params(3, {"climb_margin": MARGIN})
    s = StrategyState(4, np.array([1, 2, 3]), np.array([up(1), up(2), below(3)]), np.ones(3, bool),
                      np.zeros(3, np.int64), np.array([2, 7, 9]), np.zeros(3, bool), np.zeros(3), p)
    nxt = stepwise_rules(s, np.array([True, False, True]))
    assert nxt[[0, 2]].tolist() == [1, 2]
    assert s.climb_count.tolist() == [3, 7, 0]  # row 1 (not given) keeps its count
    # The engine plays a batch at once: each run of a batch decides as it would alone.
    alone = [play("stepwise", [(m, True)], level=lvl, climb_count=c)[0][0]
             for lvl, m, c in ((1, up(1), 5), (2, hold(2), 3), (3, below(3), 1), (5, 1.0, 0))]
    batch = StrategyState(7, np.array([1, 2, 3, 5]), np.array([up(1), hold(2), below(3), 1.0]), np.ones(4, bool),
                          np.zeros(4, np.int64), np.array([5, 3, 1, 0]), np.zeros(4, bool), np.zeros(4),
                          batch_params(4, {"climb_margin": MARGIN}))
    assert get_strategy("stepwise").rule(batch).tolist() == alone == [2, 2, 2, 5]


# --- the funder strategies --------------------------------------------------------


def test_funder_forced_holds_the_forced_level_while_funded_whatever_the_trust():
    got = play("funder_forced", [(0.0, False)] * 5, deadline=24, grant_term=36)
    assert got == [(4, 0, True)] * 5  # no stepping back, no counting
    assert play("funder_forced", [(0.0, False)], forced_level=2) == [(2, 0, True)]


def test_funder_forced_loses_the_grant_at_the_deadline_review_and_follows_the_stepwise_rules():
    # Benefit target missed at the end of step `deadline`: the grant ends, and the stepwise rules
    # already set the next level (the failure streak of 3 steps it back).
    script = [(hold(4), False, 1.0)] * 4
    got = play("funder_forced", script, deadline=3, benefit_target=10.0, grant_term=36)
    assert got == [(4, 0, True), (4, 0, True), (3, 0, False), (2, 0, False)]
    # Target met: kept past the deadline.
    met = play("funder_forced", [(hold(4), False, 10.0)] * 4, deadline=3, benefit_target=10.0, grant_term=36)
    assert grants(met) == [True] * 4 and levels(met) == [4] * 4
    # The review is at the deadline only: a shortfall later does not end the grant.
    late = play("funder_forced", [(hold(4), True, 10.0)] * 3 + [(hold(4), True, 0.0)], deadline=3,
                benefit_target=10.0)
    assert grants(late) == [True] * 4


def test_every_grant_ends_at_grant_term_and_the_climb_starts_from_zero():
    script = [(up(4), True, 100.0)] * 8
    got = play("funder_forced", script, deadline=2, grant_term=3, climb_patience=3)
    assert grants(got) == [True, True] + [False] * 6
    # From step 3 on, stepwise from level 4 with m ready for 5: the count starts at 0 (it was never kept);
    # at 5 there is nothing left to count.
    assert counts(got) == [0, 0, 1, 2, 0, 0, 0, 0]
    assert levels(got) == [4, 4, 4, 4, 5, 5, 5, 5]


def test_funder_schedule_climbs_every_schedule_interval_steps_while_funded_whatever_the_trust():
    script = [(0.0, False, 100.0)] * 12
    got = play("funder_schedule", script, schedule_interval=2, deadline=100, grant_term=100)
    assert levels(got) == [1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 5, 5]  # capped at 5
    assert grants(got) == [True] * 12 and counts(got) == [0] * 12
    # Deadline review (target missed) ends the grant before the scheduled climb of that step.
    missed = play("funder_schedule", [(hold(2), True, 0.0)] * 5, schedule_interval=2, deadline=4, grant_term=100)
    assert levels(missed) == [1, 2, 2, 2, 2] and grants(missed) == [True] * 3 + [False] * 2


def test_funder_schedule_after_its_grant_follows_the_stepwise_rules():
    # Scheduled up to 3 by step 4, grant ends at step 5, then m below need(3) - margin steps it back.
    script = [(0.0, True, 100.0)] * 4 + [(below(3), True, 100.0), (below(2), True, 100.0)]
    got = play("funder_schedule", script, schedule_interval=2, deadline=100, grant_term=5)
    assert levels(got) == [1, 2, 2, 3, 2, 1] and grants(got) == [True] * 4 + [False] * 2


def test_funder_patient_is_stepwise_with_a_grant_and_no_deadline_review():
    script = [(up(1), True, 0.0)] * 4 + [(hold(2), False, 0.0)] * 2
    got = play("funder_patient", script, climb_patience=2, retreat_after=2, deadline=2, benefit_target=10.0,
               grant_term=3)
    assert levels(got) == [1, 2, 2, 2, 2, 1]
    assert counts(got) == [1, 0, 0, 0, 0, 0]
    assert grants(got) == [True, True, False, False, False, False]  # the deadline shortfall does not end it
    # While funded it steps back like stepwise (unlike funder_forced), and its count runs through the grant's end.
    assert levels(play("funder_patient", [(below(3), True)], level=3)) == [2]
    kept = play("funder_patient", [(up(1), True)] * 3, climb_patience=6, grant_term=2)
    assert counts(kept) == [1, 2, 3] and grants(kept) == [True, False, False]


def test_fixed_holds_fixed_level_for_ever_and_returns_a_copy():
    got = play("fixed", [(0.0, False), (1.0, True), (0.0, False)], fixed_level=3)
    assert got == [(3, 0, False)] * 3
    p = batch_params(2, {"fixed_level": [2, 5]})
    s = StrategyState(1, np.array([2, 5]), np.zeros(2), np.zeros(2, bool), np.zeros(2, np.int64),
                      np.zeros(2, np.int64), np.zeros(2, bool), np.zeros(2), p)
    out = get_strategy("fixed").rule(s)
    out[:] = 1
    assert p["fixed_level"].tolist() == [2, 5]


# --- the level-5 sector rule ----------------------------------------------------------


def test_level_5_needs_three_sectors_among_the_active_members():
    lv = np.array([1, 2, 3, 4, 5, 5, 5, 0])
    ns = np.array([1, 1, 2, 2, 2, 3, 4, 1])
    assert rules.level_for_sectors(lv, ns).tolist() == [1, 2, 3, 4, 4, 5, 5, 0]
    assert play("fixed", [(1.0, True)] * 2, fixed_level=5, sectors=2) == [(4, 0, False)] * 2
    assert play("fixed", [(1.0, True)] * 2, fixed_level=5, sectors=3) == [(5, 0, False)] * 2


def test_a_two_sector_partnership_ready_for_level_5_plays_collaboration_and_counts_again():
    got = play("stepwise", [(up(4), True)] * 6, level=4, climb_patience=3, sectors=2)
    # The strategy climbs to 5 every third step; the sector rule plays it at 4, and the count restarts.
    assert got == [(4, 1, False), (4, 2, False), (4, 0, False)] * 2
    assert levels(play("stepwise", [(up(4), True)] * 3, level=4, climb_patience=3, sectors=3)) == [4, 4, 5]
    # funder_forced at 5 on day one with two sectors starts (and holds) at 4.
    assert levels(play("funder_forced", [(0.0, False)] * 2, forced_level=5, sectors=2)) == [4, 4]


# --- the harness is phase 8 as the model plays it ------------------------------------------


@pytest.mark.parametrize("strategy", ["stepwise", "funder_forced", "funder_schedule", "fixed", "funder_patient"])
def test_replaying_a_mesa_run_through_the_harness_gives_its_levels(strategy):
    """Fed a Mesa run's trust, successes, benefit and sectors, ``play`` chooses the levels the run played."""
    from sim.model import PartnershipModel

    params = dict(initial_trust=0.8, n_orgs=4, deadline=6, grant_term=18, schedule_interval=3, climb_patience=2,
                  fixed_level=5, forced_level=5, quorum=0.5, n_steps=60, dissolution="quorum", review="fixed_target")
    compared = 0
    for seed in range(6):
        model = PartnershipModel(seed=seed, strategy=strategy, **params)
        day_one = model.n_sectors
        sectors = []
        for _ in range(params["n_steps"]):
            model.step()
            sectors.append(model.n_sectors)
        series = model.series()
        script = list(zip(series["mean_trust"], series["success"].astype(bool), series["cumulative_benefit"],
                          sectors, strict=True))
        played = series["level"]
        alive = int(np.count_nonzero(played))  # steps played before the partnership dissolved
        got = levels(play(strategy, script[:alive], sectors=day_one, **{k: v for k, v in params.items()
                                                                         if k != "n_steps"}))
        assert got[:alive - 1] == played[1:alive].tolist(), seed
        compared += alive - 1
    assert compared > 100
