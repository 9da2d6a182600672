"""A run's whole trajectory, computed at once and handed to the browser to play.

The page used to step the model and redraw matplotlib figures on the server,
month by month (half a second of server time a month). A run of 120 months
takes the model about 60 ms, so the page now computes it at once and sends it
to the browser as JSON (:func:`payload`); the player (``static/player.js``)
draws every month in SVG from that, with no further request. The exported
lesson file (:mod:`sim.classroom.export`) carries the same payloads.

Month ``m`` of a payload is the partnership after ``m`` months: the trust
between the active pairs after month ``m``'s update and exits, and the series
of :mod:`sim.outputs` as recorded for month ``m`` (``level`` is the rung
*played* in month ``m``, so the ladder and the level plot show the same rung).
Month 0 is the start: the trust set up, and the rung the partnership starts on.
Every series of :data:`sim.outputs.SERIES` is sent, with its label, unit and
meaning, so a series added to the model can be shown without changing the page.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np

from .. import outputs
from ..levels import LEVEL_NAMES, NEED, SECTORS
from ..model import PartnershipModel
from ..palette import (
    DISSOLVED_COLOUR,
    GONE_COLOUR,
    HIGHLIGHT,
    RUN_COLOURS,
    SECTOR_COLOURS,
    TRUST_STOPS,
    WOOD,
)
from .drawings import month_tick
from .models import SideBySideModel, build_model
from .words import strategy_label, strategy_tooltip

__all__ = ["PANELS", "record_run", "payload", "payload_for", "payload_json", "player_script", "starting_note"]

#: The plots the player shows, top to bottom (the last one the class may switch to any other series).
PANELS = ("mean_trust", "level", "cumulative_benefit")
#: Trust is sent as whole thousandths (-1: the pair is no longer together): a third of the text of floats.
_TRUST_SCALE = 1000


def player_script() -> str:
    """The player's JavaScript (``static/player.js``), to put in a page or a file."""
    return resources.files(__package__).joinpath("static/player.js").read_text(encoding="utf-8")


def _value(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    return None if math.isnan(v) else round(v, 4)


def _grant_text(model: PartnershipModel) -> str:
    if not model.strategy.funded:
        return "no grant"
    return "grant: paying" if model.funded else "grant: ended"


def record_run(model: PartnershipModel, label: str, tooltip: str = "") -> dict[str, Any]:
    """Play ``model`` (fresh, at month 0) to its end and return its trajectory for the player.

    ``label`` names the run in a teacher's words; ``tooltip`` gives its settings in the model's names.

    The run ends when the partnership dissolves or after ``n_steps`` months;
    ``end`` is that month, and every per-month list has ``end + 1`` entries.
    """
    if model.steps_played:
        raise ValueError("record_run needs a model at month 0")
    n = model.params.n_orgs
    i, j = np.triu_indices(n, k=1)
    trust, active, grant, sectors = [], [], [], []

    def snapshot() -> None:
        t = model.trust_matrix()
        pair = (t + t.T)[i, j] / 2.0
        trust.append(np.where(np.isnan(pair), -1, np.rint(np.nan_to_num(pair) * _TRUST_SCALE)).astype(int).tolist())
        active.append("".join("1" if o.active else "0" for o in model.by_index))
        # a seat's member may change (a newcomer takes a leaver's seat), and with it the sector
        sectors.append("".join(str(SECTORS.index(o.sector)) for o in model.by_index))
        grant.append("" if model.dissolved else _grant_text(model))

    snapshot()
    while not model.finished:
        model.step()
        snapshot()
    collected = model.datacollector.model_vars
    series = {name: [_value(v) for v in collected[name]] for name in outputs.SERIES if name in collected}
    return {
        "label": label,
        "tooltip": tooltip,
        "strategy": model.params.strategy,
        "n_orgs": n,
        "sectors": sectors,
        "pairs": np.column_stack([i, j]).tolist(),
        "trust": trust,
        "active": active,
        "grant": grant,
        "series": series,
        "end": model.steps_played,
        "dissolved_step": model.dissolved_step,
    }


def starting_note(model: PartnershipModel) -> str:
    """Why the trust gauge starts below the trust set up, when it does ("" when it does not)."""
    p = model.params
    start = model.mean_trust
    lowered = p.prejudice * p.cultural_distance
    if lowered <= 0 or not start < p.initial_trust - 0.005:
        return ""
    return (f"Trust starts at {start:.2f}, not {p.initial_trust:g}: the other cultural group is trusted less at "
            f"first (prejudice {p.prejudice:g} × cultural distance {p.cultural_distance:g}).")


def _series_info(n_orgs: int) -> dict[str, dict[str, Any]]:
    info = {}
    for name, o in outputs.SERIES.items():
        if name == "level":
            rng: list[float] | None = [0, len(LEVEL_NAMES) - 1]
        elif o.unit == "0..1":
            rng = [0, 1]
        elif name == "active":
            rng = [0, n_orgs]
        else:
            rng = None  # the player takes the run's own range
        info[name] = {"name": name, "title": o.axis_label() if o.unit not in ("0..1",) else o.label,
                      "unit": o.unit, "meaning": o.meaning, "step": bool(np.issubdtype(o.dtype, np.integer)),
                      "range": rng}
    return info


def payload_for(runs: Sequence[tuple[PartnershipModel, str]], *, link: str = "",
                panels: Sequence[str] = PANELS) -> dict[str, Any]:
    """The player's payload for fresh models (one, or two to show side by side) and their labels.

    A model's ``tooltip`` attribute, when it has one, is its label's tooltip.
    """
    notes = list(dict.fromkeys(note for note in (starting_note(m) for m, _ in runs) if note))
    records = [record_run(m, label, getattr(m, "tooltip", "")) for m, label in runs]
    n_steps = max(m.n_steps for m, _ in runs)
    return {
        "n_steps": n_steps,
        "end": max(r["end"] for r in records),
        "month_tick": month_tick(n_steps),
        "link": link,
        "notes": notes,
        "levels": {"names": list(LEVEL_NAMES), "short": [name.split()[0] for name in LEVEL_NAMES],
                   "need": [None if math.isinf(x) else float(x) for x in NEED]},
        "sectors": list(SECTORS),
        "palette": {"sectors": dict(SECTOR_COLOURS), "gone": GONE_COLOUR, "trust": list(TRUST_STOPS),
                    "highlight": HIGHLIGHT, "wood": WOOD, "runs": list(RUN_COLOURS), "dissolved": DISSOLVED_COLOUR},
        "series": _series_info(max(m.params.n_orgs for m, _ in runs)),
        "panels": [p for p in panels if p in outputs.SERIES],
        "runs": records,
    }


def payload(mode: str, seed: int, params: Mapping[str, Any], *, link: str = "") -> dict[str, Any]:
    """The player's payload for a view, seed and parameters: the runs the page shows, played to their end."""
    model = build_model(mode, seed, params)
    if isinstance(model, SideBySideModel):
        runs = [(model.left, model.left.label), (model.right, model.right.label)]
    else:
        model.tooltip = strategy_tooltip(model.params.strategy)
        runs = [(model, strategy_label(model.params.strategy))]
    return payload_for(runs, link=link)


def payload_json(mode: str, seed: int, params: Mapping[str, Any]) -> str:
    """:func:`payload` as compact JSON text, remembered for the last runs asked for.

    The page sends the player this text: a string is compared and sent as it
    is, where a nested dict would be walked value by value by the page's
    renderer on every change (most of a lesson switch's server time). A class
    switching between lessons, or many tabs opening the same lesson, asks for
    the same few runs, so they are computed once (a run's JSON is 25-50 KB;
    :data:`_CACHED` of them are kept).
    """
    return _payload_json(mode, int(seed), tuple(sorted(params.items())))


#: How many runs' JSON :func:`payload_json` keeps (about 3 MB at most).
_CACHED = 64


@functools.lru_cache(maxsize=_CACHED)
def _payload_json(mode: str, seed: int, items: tuple[tuple[str, Any], ...]) -> str:
    return json.dumps(payload(mode, seed, dict(items)), separators=(",", ":"))
