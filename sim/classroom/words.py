"""The classroom's words: plain-language names for the model's parameters and strategies.

The page and the exported lessons show these; the model's own name (what
``--set``, specs and ``sim.simulate`` take) and its meaning from
:mod:`sim.params` go in the tooltip, so nothing is renamed in the model and a
teacher can still find the parameter in the docs.
"""

from __future__ import annotations

from ..params import PARAMETERS
from ..strategies import strategy_names

__all__ = ["PARAM_LABELS", "STRATEGY_LABELS", "param_label", "param_tooltip", "strategy_label"]

#: What the page calls the parameters a class changes (the rest keep the model's name).
PARAM_LABELS: dict[str, str] = {
    "strategy": "How the partnership climbs",
    "n_orgs": "Organizations in the partnership",
    "initial_trust": "Trust at the start",
    "cultural_distance": "Cultural distance between the two groups",
    "cultural_learning": "Learning each other's culture (per month)",
    "communication": "Communication skill",
    "leadership": "Leadership",
    "individualism": "Going it alone pays (belief)",
    "free_rider_penalty": "Trust lost on seeing a partner hold back",
    "gain_rate": "Trust gained from a success",
    "loss_rate": "Trust lost from a failure",
    "deadline": "Funder reviews the grant at month",
    "prejudice": "Prejudice against the other group",
    "free_riders": "Members who never do their share",
    "quorum": "Share of members the partnership needs to go on",
    "misperception": "Misjudging partners across the culture line",
}

#: What the page calls the built-in strategies.
STRATEGY_LABELS: dict[str, str] = {
    "stepwise": "Step by step",
    "funder_forced": "Forced by the funder",
    "funder_schedule": "Funder's climbing schedule",
    "fixed": "Stays on one rung",
    "funder_patient": "Patient funder",
}


def param_label(name: str) -> str:
    """The plain name of a parameter (its model name when it has none)."""
    return PARAM_LABELS.get(name, name)


def param_tooltip(name: str) -> str:
    """The model's name, meaning and range of a parameter, for a tooltip."""
    spec = PARAMETERS[name]
    if name == "strategy":
        return f"strategy in the model: {spec.meaning} ({', '.join(strategy_names())})"
    unit = f" {spec.unit}" if spec.unit else ""
    return f"{name} in the model: {spec.meaning} ({spec.range_text()}{unit})"


def strategy_label(name: str) -> str:
    """The plain name of a strategy with its model name, e.g. ``Step by step (stepwise)``."""
    plain = STRATEGY_LABELS.get(name)
    return f"{plain} ({name})" if plain else name
