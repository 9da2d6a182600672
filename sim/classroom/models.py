"""The models the classroom page runs: one partnership, or two side by side for a comparison.

Also the two checks every way into the page shares: the seed (a box's text or
an address's value) and the view (``mode``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np

from ..community_results import CommunityResults, simulate_community
from ..model import PartnershipModel
from ..params import PARAMETERS, ParamError, check_seed
from .words import policy_label

__all__ = [
    "Comparison",
    "COMPARISONS",
    "COMMUNITY_COMPARISONS",
    "COMMUNITY_MODES",
    "MODES",
    "is_community",
    "comparison_of",
    "varied_of",
    "DEFAULT_SEED",
    "SEED_LIMIT",
    "check_mode",
    "parse_seed",
    "ClassroomModel",
    "SideBySideModel",
    "build_model",
    "community_runs",
    "runs_of",
]

#: The seed the page starts with when its address names none.
DEFAULT_SEED = 0
#: Seeds are whole numbers below this (2**64), written out for people rather than programmers.
SEED_LIMIT = 2**64
_SEED_RULE = f"must be a whole number from 0 to {SEED_LIMIT - 1:,}"


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
        Each side's label (a teacher's words) and the parameters (MODEL.md names) it sets; the page shows
        the parameters in the label's tooltip (:meth:`tooltip`).
    """

    name: str
    title: str
    left: tuple[str, Mapping[str, Any]]
    right: tuple[str, Mapping[str, Any]]

    @property
    def varied(self) -> tuple[str, ...]:
        """The parameters the two sides set differently (the page hides their sliders)."""
        return tuple(dict.fromkeys([*self.left[1], *self.right[1]]))

    def tooltip(self, side: tuple[str, Mapping[str, Any]]) -> str:
        """The model's settings of one side, for its label's tooltip: ``strategy = stepwise in the model``."""
        return ", ".join(f"{k} = {v}" if isinstance(v, str) else f"{k} = {v:g}" for k, v in side[1].items()) + \
            " in the model"


COMPARISONS: dict[str, Comparison] = {
    c.name: c
    for c in (
        Comparison(
            "stepwise_vs_forced",
            "Side by side: step by step vs forced by the funder",
            ("Step by step", {"strategy": "stepwise"}),
            ("Forced by the funder", {"strategy": "funder_forced"}),
        ),
        Comparison(
            "culture_learning",
            "Side by side: without and with cultural learning",
            ("No cultural learning", {"cultural_learning": 0.0}),
            ("Learning each other's culture", {"cultural_learning": 0.1}),
        ),
        Comparison(
            "leadership",
            "Side by side: weak vs strong leadership",
            ("Weak leadership", {"leadership": 0.1}),
            ("Strong leadership", {"leadership": 0.9}),
        ),
    )
}

#: Two runs of a whole community (:mod:`sim.community`) with the same seed and settings but the funder's policy.
COMMUNITY_COMPARISONS: dict[str, Comparison] = {
    c.name: c
    for c in (
        Comparison(
            "mandate_vs_patient",
            "A community, side by side: mandate consortia now vs fund what grew",
            ("Mandate consortia now", {"funder_policy": "mandate"}),
            ("Fund what grew", {"funder_policy": "patient"}),
        ),
    )
}
#: The community views: one community and its funder, or two side by side.
COMMUNITY_MODES: dict[str, str] = {"community": "A community and its funder",
                                   **{c.name: c.title for c in COMMUNITY_COMPARISONS.values()}}

#: What the page can show: one partnership, one of the comparisons, or a community view.
MODES: dict[str, str] = {"single": "One partnership", **{c.name: c.title for c in COMPARISONS.values()},
                         **COMMUNITY_MODES}


def is_community(mode: str) -> bool:
    """Whether a page mode shows a whole community (:data:`COMMUNITY_MODES`) rather than one partnership."""
    return mode in COMMUNITY_MODES


def comparison_of(mode: str) -> Comparison | None:
    """The comparison a mode shows side by side (None for one partnership or one community)."""
    return COMPARISONS.get(mode) or COMMUNITY_COMPARISONS.get(mode)


def varied_of(mode: str) -> tuple[str, ...]:
    """The parameters the two sides of a mode set for themselves (none for a single view)."""
    comparison = comparison_of(mode)
    return comparison.varied if comparison else ()


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a page mode; otherwise raise a ParamError listing the modes."""
    if mode not in MODES:
        raise ParamError(f"mode = {mode!r} is not a page mode (allowed: {', '.join(MODES)})")
    return mode


def parse_seed(seed: Any) -> int:
    """A run seed from an int or the text of the page's seed box or address.

    Solara's text box hands the seed over as a string, and a string would seed
    differently from the number it spells, so it is converted here, once.
    Only the ASCII digits 0-9 count (Python's ``int`` would also read ``²``'s
    neighbours such as Arabic-Indic digits), and the length is checked before
    converting, so a 5,000-digit seed is refused in constant time.

    Raises
    ------
    ParamError
        Naming the seed and what is allowed.
    """
    if isinstance(seed, str):
        text = seed.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(SEED_LIMIT)):
            raise ParamError(f"seed = {_short(seed)!r} {_SEED_RULE}")
        seed = int(text)
    return check_seed(seed)


def _short(value: Any, limit: int = 24) -> Any:
    """A value as a message shows it: long text is cut, with its length said."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return value
    return f"{text[:limit]}… ({len(text):,} characters)"


class ClassroomModel(PartnershipModel):
    """:class:`sim.model.PartnershipModel` whose seed may arrive as text (the page's seed box, an address).

    A string would seed differently from the number it spells; this class
    reads it with :func:`parse_seed`, so a typed-in seed is the same number
    as in the address.
    """

    def __init__(self, *, seed: Any = DEFAULT_SEED, **kwargs: Any) -> None:
        super().__init__(seed=parse_seed(seed), **kwargs)


class SideBySideModel(mesa.Model):
    """Two partnerships with the same seed and parameters but for a :class:`Comparison`, stepped together.

    One model steps both sides, so they can never drift apart in time (the
    page plays each side's whole run; :meth:`step` is for Mesa-style use,
    e.g. ``batch_run``). Because every random number is keyed by (seed, step, purpose,
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
        self.left.tooltip = self.comparison.tooltip(self.comparison.left)
        self.right.tooltip = self.comparison.tooltip(self.comparison.right)
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


def build_model(mode: str, seed: Any, params: Mapping[str, Any]) -> mesa.Model:
    """The model the page shows for a partnership view, a seed and the parameters that differ from their defaults.

    A community view runs the community engine instead (:mod:`sim.classroom.community`).
    """
    if is_community(check_mode(mode)):
        raise ParamError(f"mode = {mode!r} shows a community: its runs come from sim.classroom.community")
    if mode == "single":
        return ClassroomModel(seed=seed, **params)
    return SideBySideModel(compare=mode, seed=seed, **params)


def runs_of(model: mesa.Model) -> list[PartnershipModel]:
    """The partnerships a page model shows: one, or the two sides of a comparison."""
    if isinstance(model, SideBySideModel):
        return [model.left, model.right]
    return [model]


def community_runs(mode: str, seed: int,
                   params: Mapping[str, Any]) -> tuple[CommunityResults, list[tuple[str, str]]]:
    """Run a community view's communities with the engine: one, or the two sides of a comparison.

    Returns the :class:`sim.community_results.CommunityResults` (one run per side, same seed) and each
    side's label and tooltip.
    """
    if not is_community(mode):
        raise ValueError(f"mode = {mode!r} is not a community view (allowed: {', '.join(COMMUNITY_MODES)})")
    comparison = comparison_of(mode)
    sides = [comparison.left, comparison.right] if comparison else [("", {})]
    overrides: dict[str, Any] = {}
    for name in dict.fromkeys(k for _, o in sides for k in o):
        overrides[name] = np.array([o.get(name, params.get(name)) for _, o in sides], dtype=object
                                   if isinstance(sides[0][1].get(name), str) else None)
    kwargs = {**params, **overrides}
    results = simulate_community(seeds=[seed] * len(sides), keep_slot_series=True, **kwargs)
    labels = []
    for k, side in enumerate(sides):
        policy = str(results.summary["funder_policy"].iloc[k])
        labels.append((side[0] or policy_label(policy),
                       comparison.tooltip(side) if comparison else f"funder_policy = {policy} in the model"))
    return results, labels
