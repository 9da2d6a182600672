"""Ready lessons for the classroom page: scenarios a teacher picks in front of a class.

Each lesson sets the page's parameters and seed, asks the class to predict
what will happen before anyone presses play, and says in two lines what to
watch for. Each also states its story as a check (:attr:`Lesson.story`) that
the run must show: the seeds below were picked by running the model, and
``tests/test_app.py`` replays every lesson through the page's own models to
prove the story still shows (a model change that breaks one fails the tests
rather than a class).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import PartnershipModel
from .models import build_model, check_mode, community_runs, is_community, parse_seed, runs_of

__all__ = ["Lesson", "LESSONS", "Played", "PlayedCommunity", "story_problems", "play", "find_seeds"]

#: A story check: the finished runs (one, or left and right) -> what the run fails to show (empty: it shows it).
Story = Callable[[Sequence["Played"]], list[str]]


@dataclass(frozen=True)
class Lesson:
    """A ready scenario.

    Attributes
    ----------
    name : str
        Its name in the page's address (``lesson=NAME``).
    title : str
        What the lesson selector shows.
    mode : str
        ``"single"`` or a comparison of :data:`sim.classroom.models.COMPARISONS`.
    seed : int
        A seed whose run shows the story (checked by :attr:`story`).
    params : dict
        Parameters the lesson sets (MODEL.md names); the rest keep their defaults.
    predict : str
        The question to put to the class before pressing play. Written in a teacher's words: a term the
        model names otherwise is written ``[words](model_name)`` and shown as its words, with the model's
        name in a tooltip (:func:`sim.classroom.words.terms_html`).
    watch : str
        Two lines: what to watch for (the same markup).
    note : str
        How the lesson approximates what the model cannot say directly ("" if nothing; the same markup).
    story : callable
        The check that the run shows what the lesson promises.
    """

    name: str
    title: str
    mode: str
    seed: int
    predict: str
    watch: str
    story: Story
    params: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        check_mode(self.mode)
        parse_seed(self.seed)

    def play(self, seed: int | None = None, steps: int | None = None) -> list[Played]:
        """Its runs (with its own seed, or ``seed``), played to the end or for ``steps`` months."""
        return play(self.mode, self.seed if seed is None else seed, self.params, steps)


@dataclass
class Played:
    """A finished run of a lesson: the model, and its trust matrix at the start and after every month."""

    model: PartnershipModel
    trust: list[np.ndarray] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


@dataclass
class PlayedCommunity:
    """A finished community run of a lesson: its summary (one row of the engine's run table) and partnerships."""

    summary: Mapping[str, Any]
    partnerships: Any  # a pandas DataFrame: the engine's partnership table for this run


def play(mode: str, seed: int, params: Mapping[str, Any], steps: int | None = None) -> list[Any]:
    """Build the page's model for a view, seed and parameters; step it to the end (or ``steps`` months).

    A community view runs the community engine instead and returns :class:`PlayedCommunity` runs.
    """
    if is_community(mode):
        results, _ = community_runs(mode, seed, {**params, **({"n_steps": steps} if steps else {})})
        runs = []
        for k, run_id in enumerate(results.summary["run"]):
            parts = results.partnerships[results.partnerships["run"] == run_id]
            runs.append(PlayedCommunity(results.summary.iloc[k].to_dict(), parts))
        return runs
    model = build_model(mode, seed, params)
    runs = [Played(run, [run.trust_matrix()]) for run in runs_of(model)]
    for _ in range(steps if steps is not None else max(r.n_steps for r in runs)):
        model.step()
        for run in runs:
            run.trust.append(run.model.trust_matrix())
    return runs


def story_problems(lesson: Lesson, seed: int | None = None) -> list[str]:
    """What a lesson's run (with its own seed, or ``seed``) fails to show; empty when the story shows."""
    return lesson.story(lesson.play(seed))


def find_seeds(lesson: Lesson, seeds: Iterable[int] = range(1000), limit: int = 5) -> list[int]:
    """Seeds whose runs show the lesson's story (the first ``limit`` found among ``seeds``).

    When a change to the model stops a lesson's seed from showing its story
    (``tests/test_app.py`` says so), pick a new one from these and check the
    lesson's text still describes its run.
    """
    found = []
    for seed in seeds:
        if not story_problems(lesson, seed):
            found.append(seed)
            if len(found) >= limit:
                break
    return found


# --- the stories -----------------------------------------------------------------------------


def _levels(run: Played) -> np.ndarray:
    return np.asarray(run.datacollector.model_vars["level"][1:], dtype=int)


def _first_at(run: Played, level: int) -> int | None:
    reached = np.flatnonzero(_levels(run) >= level)
    return int(reached[0]) + 1 if reached.size else None


def _forced_marriage(runs: Sequence[Played]) -> list[str]:
    stepwise, forced = runs
    deadline = forced.params.deadline
    out = []
    if not forced.dissolved or forced.dissolved_step > deadline:
        out.append(f"funder_forced should dissolve by the deadline (month {deadline}); dissolved_step = "
                   f"{forced.dissolved_step}")
    elif forced.dissolved_step < 6:
        out.append(f"funder_forced dissolves in month {forced.dissolved_step}: too fast for a class to watch")
    if stepwise.dissolved:
        out.append(f"stepwise should survive all {stepwise.n_steps} months; "
                   f"dissolved in month {stepwise.dissolved_step}")
    if _first_at(stepwise, 4) is None:
        out.append("stepwise should reach collaboration (level 4)")
    return out


def _slow_and_steady(runs: Sequence[Played]) -> list[str]:
    (run,) = runs
    out = []
    levels = _levels(run)
    first = _first_at(run, 4)
    if run.dissolved:
        out.append(f"should survive all {run.n_steps} months; dissolved in month {run.dissolved_step}")
    if first is None:
        out.append("should reach collaboration (level 4)")
    else:
        if first < 24:
            out.append(f"reaches collaboration in month {first}: the lesson says it takes years")
        if (np.diff(levels[:first]) < 0).any():
            out.append("should climb without stepping back before collaboration")
    return out


def _little_red_hen(runs: Sequence[Played]) -> list[str]:
    (run,) = runs
    hen = 0  # free_riders = 1: organization 1 never does its share
    out = []
    for month in (24, 48):
        if len(run.trust) <= month or np.isnan(run.trust[month][:, hen]).all():
            out.append(f"organization {hen + 1} should still be a member at month {month}")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # members who left: an all-NaN column
            received = np.nanmean(run.trust[month], axis=0)  # partners' mean trust in each member
        if np.nanargmin(received) != hen:
            out.append(f"at month {month} partners should trust organization {hen + 1} least")
    member = np.array([not np.isnan(t[:, hen]).all() for t in run.trust[1:]])
    if member.all():
        out.append(f"organization {hen + 1} should leave the partnership in the end")
    if run.dissolved:
        out.append(f"the others should carry on; dissolved in month {run.dissolved_step}")
    held_back = (_levels(run)[member[: len(_levels(run))]] >= 4).mean() if member.any() else 1.0
    if held_back > 0.25:
        out.append(f"while organization {hen + 1} is a member the partnership should rarely collaborate; "
                   f"it does {held_back:.0%} of the months")
    return out


def _culture_gap(runs: Sequence[Played]) -> list[str]:
    without, with_learning = runs
    out = []
    if _first_at(without, 4) is not None:
        out.append(f"without cultural learning the partnership should never reach collaboration; "
                   f"it did in month {_first_at(without, 4)}")
    if without.dissolved:
        out.append("without cultural learning the partnership should stall, not dissolve")
    first = _first_at(with_learning, 4)
    if first is None or first > 60:
        out.append(f"with cultural learning the partnership should reach collaboration (level 4) within five "
                   f"years; first month at it: {first}")
    elif (_levels(with_learning) >= 4).sum() < 24:
        out.append("with cultural learning the partnership should hold collaboration for two years or more")
    if with_learning.dissolved:
        out.append("with cultural learning the partnership should survive")
    return out


def _bad_year(runs: Sequence[Played]) -> list[str]:
    weak, strong = runs
    out = []
    if strong.dissolved:
        out.append(f"strong leadership should weather it; dissolved in month {strong.dissolved_step}")
    if not weak.dissolved:
        out.append("weak leadership should break up")
        return out
    failures = 1 - np.asarray(strong.datacollector.model_vars["success"][1:], dtype=int)
    end = weak.dissolved_step
    window = failures[max(0, end - 18):end]
    worst = max((int(window[k:k + 12].sum()) for k in range(max(1, len(window) - 11))), default=0)
    if worst < 5:
        out.append(f"both sides should have a bad year (5+ failed months in 12) before month {end}; worst {worst}")
    if _first_at(strong, 3) is None or _first_at(strong, 3) > end:
        out.append("the bad year should come after the partnership has climbed to cooperation")
    if end < 24:
        out.append(f"the weak side breaks up in month {end}: before the bad year could be seen")
    return out


def _funders_call(runs: Sequence[PlayedCommunity]) -> list[str]:
    mandate, patient = runs
    out = []
    forced = mandate.partnerships[mandate.partnerships["origin"] == "mandate"]
    if len(forced) < 4:
        out.append(f"the funder should mandate at least 4 consortia; it mandated {len(forced)}")
    lived = (forced["ended_step"] - forced["formed_step"]).fillna(np.inf)
    if (lived > 12).any():
        out.append(f"every mandated consortium should fall apart within a year; the longest lived "
                   f"{lived.max():g} months")
    for name, what in (("durable", "lasting collaborations at month 120"), ("cumulative_benefit", "benefit")):
        if not patient.summary[name] > mandate.summary[name]:
            out.append(f"funding what grew should end with more {what} ({patient.summary[name]:g}) than "
                       f"mandating ({mandate.summary[name]:g})")
    if not mandate.summary["n_ended"] >= patient.summary["n_ended"] + 3:
        out.append(f"more partnerships should fall apart under the mandate ({mandate.summary['n_ended']:g}) than "
                   f"under the patient funder ({patient.summary['n_ended']:g}), by 3 or more")
    return out


LESSONS: dict[str, Lesson] = {
    lesson.name: lesson
    for lesson in (
        Lesson(
            name="forced_marriage",
            title="A forced marriage",
            mode="stepwise_vs_forced",
            seed=1,
            predict=("These partners barely trust each other ([trust at the start: 0.3](initial_trust)). A funder "
                     "[demands full collaboration from day one](strategy) and reviews the grant at month 24. Who "
                     "is still together at the review: the forced partnership (right) or the one that "
                     "[starts by networking](strategy) (left)?"),
            watch=("Right: collaboration's stakes are high, so each failure tears trust down faster than "
                   "successes build it, and members walk out.\n"
                   "Left: small, cheap projects first; the ladder is climbed only once trust holds."),
            story=_forced_marriage,
        ),
        Lesson(
            name="slow_and_steady",
            title="Slow and steady",
            mode="single",
            seed=0,
            predict=("The same wary partners ([trust at the start: 0.3](initial_trust)) "
                     "[start with networking and climb a rung](strategy) only once trust has held above the next "
                     "rung's need for six months. How long until they collaborate, and will they get there at "
                     "all?"),
            watch=("The trust gauge must rise past a rung before the partnership steps onto it: each modest "
                   "success adds a little trust.\n"
                   "Collaboration comes after years, not months, but the partnership holds together."),
            story=_slow_and_steady,
        ),
        Lesson(
            name="little_red_hen",
            title="The Little Red Hen",
            mode="single",
            seed=5,
            params={"free_riders": 1, "free_rider_penalty": 0.3, "quorum": 0.5},
            predict=("One of these six organizations, organization 1, [never does its share of the work]"
                     "(free_riders). What happens to the others' trust in it, and to the partnership?"),
            watch=("Watch organization 1's edges stay red while the other ties turn blue: partners who see "
                   "it hold back trust it less.\n"
                   "The partnership struggles to climb while it carries the free rider; in the end organization "
                   "1 walks out."),
            note=("Organization 1 [holds back every month](free_riders); [seeing a partner hold back costs more "
                  "trust](free_rider_penalty) than usual (0.3), and [half the members are enough](quorum) for the "
                  "others to carry on when one leaves."),
            story=_little_red_hen,
        ),
        Lesson(
            name="culture_gap",
            title="The culture gap",
            mode="culture_learning",
            seed=161,
            params={"initial_trust": 0.5, "cultural_distance": 1.0, "misperception": 0.8,
                    "free_rider_penalty": 0.1},
            predict=("Two cultural groups who [read each other badly](cultural_distance) (as far apart as they "
                     "can be) work together. On the right they [learn each other's ways](cultural_learning) a "
                     "little every month; on the left they never do. Same people, same luck: does learning "
                     "change where they get to?"),
            watch=("Misjudging a partner's effort across the culture line costs trust; learning shrinks "
                   "the misjudging month by month.\n"
                   "Left stalls at cooperation; right climbs to collaboration around month 45 and holds it."),
            note=("[Misjudging partners across the culture line](misperception) is made more likely (0.8) and "
                  "[seeing a partner hold back](free_rider_penalty) costs a little more trust (0.1), so that "
                  "misjudging matters enough to be seen in one run."),
            story=_culture_gap,
        ),
        Lesson(
            name="bad_year",
            title="Strong leadership weathers a bad year",
            mode="leadership",
            seed=53,
            predict=("Both partnerships draw exactly the same luck, including a bad year of failed projects. "
                     "One has [weak leaders, the other strong](leadership). Which survives the bad year?"),
            watch=("For four years the two sides rise together; then, around month 50, a run of failed projects "
                   "hits both.\n"
                   "Strong leaders soften the loss of trust and keep members in: right recovers, left breaks up."),
            story=_bad_year,
        ),
        Lesson(
            name="funders_call",
            title="The funder's call",
            mode="mandate_vs_patient",
            seed=28,
            predict=("A funder has ten years of money for a community of 30 organizations. Left: it "
                     "[mandates consortia now](funder_policy): strangers from different sectors, paid to "
                     "collaborate from day one. Right: it [funds partnerships that grew on their own]"
                     "(funder_policy) and climbed the ladder. Which community has more lasting collaborations "
                     "after ten years?"),
            watch=("Left: each call for proposals puts up consortia of strangers at the top rung at once; every "
                   "one falls apart within a year, and more partnerships end than on the right.\n"
                   "Right: partnerships form slowly and climb from networking; the money goes to those that held, "
                   "and at month 120 more of them are collaborating, with more benefit to the community."),
            note="One community, one draw of luck: New seed shows how often the story holds.",
            story=_funders_call,
        ),
    )
}
