"""A whole community's run, computed at once and handed to the browser to play (the page's community view).

The community engine (:func:`sim.simulate_community`) runs a community of
organizations for ten years: partnerships form (convened by an organization,
or mandated by a funder), climb the ladder, recruit, and fall apart. The
engine reports partnerships, memberships and per-slot series; this module
turns them into what the player (``static/player.js``) draws month by month:
organizations as nodes coloured by sector, and between two organizations an
edge coloured by the rung of the strongest partnership they share that month.
Nothing here changes the engine: the per-month picture is rebuilt from the
tables :func:`sim.simulate_community` returns.

Month ``m`` of a payload is the community after ``m`` months (month 0: the
start). A partnership is alive after month ``m`` when it formed in month
``m`` or before and had not ended by month ``m``; a member belongs to it after
month ``m`` when it joined in month ``m`` or before and had not left by then;
its rung is the level it played in month ``m`` (the slot series).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..community_params import COMMUNITY_PARAMETERS
from ..levels import LEVEL_NAMES, N_LEVELS, NEED, SECTORS
from ..outputs import community_outputs
from ..palette import DISSOLVED_COLOUR, GONE_COLOUR, HIGHLIGHT, RUN_COLOURS, SECTOR_COLOURS, TRUST_STOPS, WOOD
from .drawings import month_tick
from .models import community_runs, is_community
from .trajectory import payload, payload_json

__all__ = [
    "RUNG_COLOURS",
    "BROKEN_MONTHS",
    "COMMUNITY_PANELS",
    "community_runs",
    "community_record",
    "community_payload",
    "page_payload",
    "page_payload_json",
    "edge_rungs",
]

#: Edge colour by rung 1..5 (networking to multisector collaboration): a light-to-dark ramp, with the edge's
#: width growing too, so the rung does not rest on colour alone.
RUNG_COLOURS: tuple[str, ...] = ("#bdbdbd", "#9ecae1", "#4292c6", "#08519c", "#08306b")
_MONEY = community_outputs("series")["cumulative_benefit"].unit
#: Months a partnership that fell apart stays drawn (dashed) after its end, so a class sees it go.
BROKEN_MONTHS = 3
#: The community plots, top to bottom (the last one the class may switch to any other series).
COMMUNITY_PANELS = ("partnerships", "collaborating", "cumulative_benefit")
#: The series the player may plot (all from the engine but "collaborating", the sum of its rung 4 and 5 counts).
_SERIES = ("partnerships", "collaborating", "cumulative_benefit", "members", "formed", "mean_trust",
           "mean_trust_worked", "budget")


def edge_rungs(members: Sequence[Sequence[int]], levels: Sequence[int], n: int) -> dict[int, int]:
    """Each pair's rung of the strongest partnership it shares: ``{a * n + b: rung}`` for a < b.

    ``members[k]`` are the organizations of partnership ``k`` and ``levels[k]`` its rung.
    """
    out: dict[int, int] = {}
    for orgs, rung in zip(members, levels, strict=True):
        orgs = sorted(orgs)
        for x, a in enumerate(orgs):
            for b in orgs[x + 1:]:
                key = a * n + b
                if out.get(key, 0) < rung:
                    out[key] = int(rung)
    return out


def _value(v: Any) -> Any:
    v = float(v)
    return None if math.isnan(v) else round(v, 4)


def community_record(results: Any, run: int, label: str, tooltip: str) -> dict[str, Any]:
    """One community's trajectory for the player: who is in which partnership at which rung, month by month.

    Per month: ``edges`` (each pair sharing a partnership, coded ``(a * n + b) * 8 + rung``), ``belongs``
    (each organization's memberships, a digit each, 9 at most) and ``rung_counts`` (partnerships with members
    on each rung 1..5); ``broke``: the pairs (``a * n + b``) of partnerships that fell apart in the last
    :data:`BROKEN_MONTHS` months, as they were the month before (pairs still sharing another partnership
    left out); ``formed`` and ``ended`` count partnerships so far.
    """
    n_steps = int(results.n_steps)
    summary = results.summary.iloc[run]
    n = int(summary["n_community"])
    parts = results.partnerships[results.partnerships["run"] == results.summary["run"].iloc[run]]
    mem = results.memberships[results.memberships["run"] == results.summary["run"].iloc[run]]
    orgs = results.organizations[results.organizations["run"] == results.summary["run"].iloc[run]]
    level = results.slot_series["level"][run]  # (slots, months)
    formed = parts["formed_step"].to_numpy(dtype=float)
    ended = parts["ended_step"].to_numpy(dtype=float)
    slots = parts["slot"].to_numpy(dtype=int)
    number = parts["partnership"].to_numpy(dtype=int)
    by_number = {int(p): g for p, g in mem.groupby("partnership")}
    edges, belongs, rung_counts = [], [], []
    for t in range(n_steps + 1):
        alive = (formed <= t) & ~(ended <= t)
        members, levels = [], []
        count = np.zeros(n, dtype=int)
        for k in np.flatnonzero(alive):
            g = by_number.get(int(number[k]))
            if g is None or t == 0:
                continue
            on = (g["joined_step"].to_numpy() <= t) & ~(g["left_step"].to_numpy(dtype=float) <= t)
            who = g["org"].to_numpy()[on].tolist()
            rung = int(level[slots[k], t - 1])
            if rung < 1 or not who:
                continue
            members.append(who)
            levels.append(rung)
            count[who] += 1
        rungs = edge_rungs(members, levels, n)
        edges.append(sorted(key * 8 + rung for key, rung in rungs.items()))
        belongs.append("".join(str(min(c, 9)) for c in count))
        rung_counts.append(np.bincount(levels, minlength=N_LEVELS + 1)[1:].tolist())
    broke = _broken(formed, ended, number, by_number, n, n_steps, edges)
    series = _series(results, run, n_steps)
    return {
        "label": label,
        "tooltip": tooltip,
        "policy": str(summary["funder_policy"]),
        "n_orgs": n,
        "org_sectors": "".join(str(int(s)) for s in orgs.sort_values("org")["sector"]),
        "edges": edges,
        "belongs": belongs,
        "rung_counts": rung_counts,
        "broke": broke,
        "formed": [int((formed <= t).sum()) for t in range(n_steps + 1)],
        "ended": [int((ended <= t).sum()) for t in range(n_steps + 1)],
        "series": series,
        "end": n_steps,
        "dissolved_step": None,
        "summary": {k: _value(summary[k]) for k in ("durable", "n_formed", "n_ended", "cumulative_benefit",
                                                      "net_benefit", "funder_spent")},
    }


def _broken(formed: np.ndarray, ended: np.ndarray, number: np.ndarray, by_number: Mapping[int, Any], n: int,
            n_steps: int, edges: Sequence[Sequence[int]]) -> list[list[int]]:
    broke: list[set[int]] = [set() for _ in range(n_steps + 1)]
    for k in np.flatnonzero(np.isfinite(ended)):
        end = int(ended[k])
        g = by_number.get(int(number[k]))
        if g is None or end - 1 < formed[k]:  # ended the month it formed: never on screen
            continue
        before = end - 1
        on = (g["joined_step"].to_numpy() <= before) & ~(g["left_step"].to_numpy(dtype=float) <= before)
        who = sorted(g["org"].to_numpy()[on].tolist())
        pairs = {a * n + b for x, a in enumerate(who) for b in who[x + 1:]}
        for m in range(end, min(end + BROKEN_MONTHS, n_steps + 1)):
            broke[m] |= pairs
    return [sorted(pairs - {code // 8 for code in edges[m]}) for m, pairs in enumerate(broke)]


def _series(results: Any, run: int, n_steps: int) -> dict[str, list]:
    budget = float(results.summary["funder_budget"].iloc[run])
    start = {"partnerships": 0, "collaborating": 0, "cumulative_benefit": 0.0, "members": 0, "formed": 0,
             "mean_trust": None, "mean_trust_worked": None, "budget": budget}
    out: dict[str, list] = {}
    for name in _SERIES:
        if name == "collaborating":
            values = results.series("partnerships_level_4")[run] + results.series("partnerships_level_5")[run]
        else:
            values = results.series(name)[run]
        out[name] = [start[name], *(_value(v) for v in values)]
    # a community of no partnerships has no partnerships' trust at month 0; the engine's series start at month 1
    return out


def _series_info() -> dict[str, dict[str, Any]]:
    spec = community_outputs("series")
    info = {}
    for name in _SERIES:
        if name == "collaborating":
            info[name] = {"name": "partnerships_level_4 + partnerships_level_5",
                          "title": "partnerships collaborating (rung 4 or 5)", "unit": "partnerships",
                          "meaning": "partnerships playing collaboration or multisector collaboration this month",
                          "step": True, "range": None}
            continue
        o = spec[name]
        info[name] = {"name": name, "title": o.axis_label() if o.unit == _MONEY else o.label,
                      "unit": o.unit, "meaning": o.meaning, "step": bool(np.issubdtype(o.dtype, np.integer)),
                      "range": [0, 1] if o.unit == "0..1" else None}
    return info


def community_payload(mode: str, seed: int, params: Mapping[str, Any], *, link: str = "") -> dict[str, Any]:
    """The player's payload for a community view, seed and parameters: its communities, played to the end."""
    results, labels = community_runs(mode, seed, params)
    records = [community_record(results, k, label, tip) for k, (label, tip) in enumerate(labels)]
    n_steps = int(results.n_steps)
    return {
        "kind": "community",
        "n_steps": n_steps,
        "end": n_steps,
        "month_tick": month_tick(n_steps),
        "link": link,
        "notes": [],
        "levels": {"names": list(LEVEL_NAMES), "short": [name.split()[0] for name in LEVEL_NAMES],
                   "need": [None if math.isinf(x) else float(x) for x in NEED]},
        "sectors": list(SECTORS),
        "palette": {"sectors": dict(SECTOR_COLOURS), "gone": GONE_COLOUR, "trust": list(TRUST_STOPS),
                    "highlight": HIGHLIGHT, "wood": WOOD, "runs": list(RUN_COLOURS), "dissolved": DISSOLVED_COLOUR,
                    "rungs": list(RUNG_COLOURS)},
        "broken_months": BROKEN_MONTHS,
        "series": _series_info(),
        "panels": list(COMMUNITY_PANELS),
        "runs": records,
        "n_rungs": N_LEVELS,
    }


def page_payload(mode: str, seed: int, params: Mapping[str, Any], *, link: str = "") -> dict[str, Any]:
    """The player's payload for any page view: a partnership view's (:func:`payload`) or a community's."""
    if is_community(mode):
        return community_payload(mode, seed, params, link=link)
    return payload(mode, seed, params, link=link)


def page_payload_json(mode: str, seed: int, params: Mapping[str, Any]) -> str:
    """:func:`page_payload` as compact JSON text, remembered for the last runs asked for (as :func:`payload_json`)."""
    if not is_community(mode):
        return payload_json(mode, seed, params)
    return _community_json(mode, int(seed), tuple(sorted(params.items())))


@functools.lru_cache(maxsize=16)
def _community_json(mode: str, seed: int, items: tuple[tuple[str, Any], ...]) -> str:
    return json.dumps(community_payload(mode, seed, dict(items)), separators=(",", ":"))


# community settings the page offers must exist in the engine's vocabulary
assert {"funder_policy", "prior_ties", "gossip"} <= set(COMMUNITY_PARAMETERS)
