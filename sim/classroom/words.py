"""The classroom's words: plain-language names for the model's parameters and strategies.

The page and the exported lessons show these; the model's own name (what
``--set``, specs and ``sim.simulate`` take) and its meaning from
:mod:`sim.params` go in the tooltip, so nothing is renamed in the model and a
teacher can still find the parameter in the docs.
"""

from __future__ import annotations

import re
from html import escape

from ..community_params import COMMUNITY_PARAMETERS
from ..funder import policy_names
from ..params import PARAMETERS
from ..strategies import strategy_names

__all__ = [
    "PARAM_LABELS",
    "STRATEGY_LABELS",
    "param_label",
    "param_tooltip",
    "strategy_label",
    "strategy_tooltip",
    "POLICY_LABELS",
    "policy_label",
    "terms_html",
    "terms_plain",
    "terms_named",
]

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
    # the community's own settings
    "funder_policy": "How the funder spends its money",
    "prior_ties": "Pairs who worked together before",
    "gossip": "Word of mouth about strangers (per month)",
    "n_community": "Organizations in the community",
    "funder_budget": "The funder's money over ten years",
}

#: What the page calls the funder's policies (:mod:`sim.funder`).
POLICY_LABELS: dict[str, str] = {
    "none": "No funder",
    "mandate": "Mandate consortia now",
    "patient": "Fund what grew",
    "staged": "Networking money first, then fund",
    "applicant_led": "Require consortia, partners chosen",
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
    """The model's name, meaning and range of a parameter (the partnership's or the community's), for a tooltip."""
    spec = PARAMETERS[name] if name in PARAMETERS else COMMUNITY_PARAMETERS[name]
    if name == "strategy":
        return f"strategy in the model: {spec.meaning} ({', '.join(strategy_names())})"
    if name == "funder_policy":
        return f"funder_policy in the model: {spec.meaning} ({', '.join(policy_names())})"
    unit = f" {spec.unit}" if spec.unit else ""
    return f"{name} in the model: {spec.meaning} ({spec.range_text()}{unit})"


def strategy_label(name: str) -> str:
    """The plain name of a strategy, e.g. ``Step by step`` (its model name when it has none)."""
    return STRATEGY_LABELS.get(name, name)


def policy_label(name: str) -> str:
    """The plain name of a funding policy, e.g. ``Fund what grew`` (its model name when it has none)."""
    return POLICY_LABELS.get(name, name)


def strategy_tooltip(name: str) -> str:
    """The model's name of a strategy, for a tooltip: ``strategy = stepwise in the model``."""
    return f"strategy = {name} in the model"


# --- a teacher's words, the model's names in tooltips ------------------------------------------------

#: A term in a lesson's text: ``[the words a class reads](model_name)``, as a Markdown link is written.
_TERM = re.compile(r"\[([^\[\]]+)\]\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _term_tooltip(name: str) -> str:
    if name in PARAMETERS or name in COMMUNITY_PARAMETERS:
        return param_tooltip(name)
    return f"{name} in the model"


def terms_plain(text: str) -> str:
    """A lesson's text as a class reads it: each ``[words](model_name)`` becomes its words."""
    return _TERM.sub(lambda m: m.group(1), text)


def terms_html(text: str) -> str:
    """A lesson's text as HTML: each ``[words](model_name)`` its words, with the model's name in a tooltip."""
    out, end = [], 0
    for m in _TERM.finditer(text):
        out.append(escape(text[end:m.start()]))
        out.append(f'<span class="tl-term" title="{escape(_term_tooltip(m.group(2)))}">{escape(m.group(1))}</span>')
        end = m.end()
    out.append(escape(text[end:]))
    return "".join(out)


def terms_named(text: str) -> list[str]:
    """The model names a lesson's text refers to (in its tooltips)."""
    return [m.group(2) for m in _TERM.finditer(text)]
