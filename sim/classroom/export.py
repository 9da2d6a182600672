"""A lesson as one self-contained HTML file: its text, its prompts and its runs, played in the browser.

``trustladder lesson export NAME --out lesson.html`` writes it. The file needs
no Python, no server and no network: the runs are computed here, for a small
grid of the settings the lesson lets a class change (the seed, the trust at
the start and, for one partnership, the strategy), and embedded as JSON
beside the player's JavaScript (``static/player.js``, the same player as the
live page). A teacher can mail it or put it on a class website; opened from
disk (``file://``) it plays as the page does.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..manifest import write_bytes_atomic
from ..params import PARAMETERS, ParamError, check_value, did_you_mean
from .community import page_payload
from .lessons import LESSONS, Lesson
from .models import is_community, parse_seed, varied_of
from .trajectory import player_script
from .words import param_label, param_tooltip, strategy_label, terms_html

__all__ = ["default_grid", "lesson_grid", "export_html", "write_lesson"]

#: Trust at the start a class can pick in an exported lesson (the lesson's own value is added).
TRUST_CHOICES = (0.1, 0.3, 0.5, 0.7, 0.9)
#: Strategies a class can pick in an exported one-partnership lesson (the lesson's own is added).
STRATEGY_CHOICES = ("stepwise", "funder_forced")
#: Other draws of luck offered beside the lesson's own seed.
EXTRA_SEEDS = 2
#: Most runs an exported file may hold (each is ~20 KB of JSON).
MAX_RUNS = 200


def default_grid(lesson: Lesson) -> dict[str, list[Any]]:
    """The settings a class can change in the exported lesson, each with its choices (the lesson's first)."""
    varied = varied_of(lesson.mode)
    trust = lesson.params.get("initial_trust", PARAMETERS["initial_trust"].default)
    grid: dict[str, list[Any]] = {}
    if is_community(lesson.mode):  # a community's run takes a second: the draws of luck only
        return {"seed": _seeds(lesson)}
    if "strategy" not in varied:
        own = lesson.params.get("strategy", PARAMETERS["strategy"].default)
        grid["strategy"] = list(dict.fromkeys([own, *STRATEGY_CHOICES]))
    grid["initial_trust"] = sorted({float(trust), *TRUST_CHOICES})
    grid["seed"] = _seeds(lesson)
    return grid


def _seeds(lesson: Lesson) -> list[int]:
    return [lesson.seed, *[s for s in range(EXTRA_SEEDS + 1) if s != lesson.seed][:EXTRA_SEEDS]]


def lesson_grid(lesson: Lesson, vary: Mapping[str, Sequence[Any]] | None = None) -> dict[str, list[Any]]:
    """:func:`default_grid`, with any setting replaced by ``vary`` (checked); refuses a grid over :data:`MAX_RUNS`."""
    grid = default_grid(lesson)
    varied = varied_of(lesson.mode)
    for name, values in (vary or {}).items():
        if name in varied:
            raise ParamError(f"{name} is what this lesson's two sides differ in; it cannot be varied as well")
        values = list(dict.fromkeys(values))
        if not values:
            raise ParamError(f"{name}: give at least one value")
        for value in values:
            if name == "seed":
                parse_seed(value)
            else:
                check_value(name, value)
        grid[name] = values
    size = 1
    for values in grid.values():
        size *= len(values)
    if size > MAX_RUNS:
        raise ParamError(f"the grid has {size} combinations; at most {MAX_RUNS} fit in one file (vary fewer values)")
    return grid


def _choice_label(name: str, value: Any, lesson: Lesson) -> str:
    if name == "strategy":
        text = strategy_label(value)
    elif name == "seed":
        text = f"seed {value}"
    else:
        text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} (the lesson's)" if value == _own(name, lesson) else text


def _own(name: str, lesson: Lesson) -> Any:
    """The lesson's own value of a setting."""
    return lesson.seed if name == "seed" else lesson.params.get(name, PARAMETERS[name].default)


def _own_index(name: str, values: Sequence[Any], lesson: Lesson) -> int:
    own = _own(name, lesson)
    return list(values).index(own) if own in values else 0


def _key(values: Sequence[Any]) -> str:
    return "|".join(repr(v) for v in values)


def export_html(lesson: Lesson, grid: Mapping[str, Sequence[Any]] | None = None) -> str:
    """The lesson's self-contained HTML page, with its runs for every combination of ``grid``."""
    grid = dict(grid or default_grid(lesson))
    names = list(grid)
    runs: dict[str, Any] = {}
    common: dict[str, Any] | None = None
    for combo in itertools.product(*(grid[n] for n in names)):
        chosen = dict(zip(names, combo, strict=True))
        seed = chosen.pop("seed", lesson.seed)
        params = {**lesson.params, **chosen}
        p = page_payload(lesson.mode, seed, params)
        if common is None:
            common = {k: v for k, v in p.items() if k not in ("runs", "end", "notes", "link")}
        runs[_key(combo)] = {"runs": p["runs"], "end": p["end"], "notes": p["notes"]}
    data = {
        "common": common,
        "choices": [{"name": n, "label": param_label(n) if n != "seed" else "Draw of luck",
                     "tooltip": param_tooltip(n) if n != "seed" else "seed in the model: the run's seed",
                     "values": [repr(v) for v in grid[n]],
                     "labels": [_choice_label(n, v, lesson) for v in grid[n]],
                     "query": [str(v) for v in grid[n]],
                     "default": _own_index(n, grid[n], lesson)}
                    for n in names],
        "runs": runs,
    }
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    script = player_script().replace("</script", "<\\/script")
    note = f"<p class='tl-note'>{terms_html(lesson.note)}</p>" if lesson.note else ""
    watch = "<br>".join(terms_html(line) for line in lesson.watch.splitlines())
    return _PAGE.format(
        title=html.escape(lesson.title), predict=terms_html(lesson.predict), watch=watch, note=note,
        data=blob, player=script, app=_APP,
    )


def write_lesson(name: str, out: str | Path, *, vary: Mapping[str, Sequence[Any]] | None = None,
                 force: bool = False) -> Path:
    """Write lesson ``name`` to ``out`` (an ``.html`` file in an existing folder) atomically; return the path."""
    if name not in LESSONS:
        raise ParamError(f"lesson {name!r} is not a lesson{did_you_mean(name, LESSONS)} (lessons: "
                         f"{', '.join(LESSONS)})")
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ParamError(f"--out {out}: must be an .html file")
    if not out.parent.is_dir():
        raise ParamError(f"--out {out}: the folder {out.parent} does not exist (create it first)")
    if out.is_dir():
        raise ParamError(f"--out {out}: is a folder; give a file name ending in .html")
    if out.exists() and not force:
        raise ParamError(f"{out} exists; pass --force to overwrite it")
    lesson = LESSONS[name]
    write_bytes_atomic(out, export_html(lesson, lesson_grid(lesson, vary)).encode("utf-8"))
    return out


_APP = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("tl-data").textContent);
  const params = new URLSearchParams(window.location.search);
  const box = document.getElementById("tl-choices");
  const selects = data.choices.map(choice => {
    const label = document.createElement("label");
    label.title = choice.tooltip;
    label.textContent = choice.label + " ";
    const select = document.createElement("select");
    select.dataset.choice = choice.name;
    choice.values.forEach((v, k) => {
      const o = document.createElement("option");
      o.value = String(k);
      o.textContent = choice.labels[k];
      select.appendChild(o);
    });
    const asked = params.get(choice.name);
    const found = choice.query.indexOf(asked === null ? "" : asked);
    select.value = String(found >= 0 ? found : choice.default);
    label.appendChild(select);
    box.appendChild(label);
    return select;
  });
  const player = new TrustLadderPlayer(document.getElementById("tl-player"), {syncAddress: true});
  window.tlPlayer = player;
  function show(month) {
    const combo = selects.map((s, k) => data.choices[k].values[Number(s.value)]);
    const part = data.runs[combo.join("|")];
    const query = selects.map((s, k) => {
      const choice = data.choices[k];
      return `${choice.name}=${encodeURIComponent(choice.query[Number(s.value)])}`;
    });
    const link = window.location.href.split(/[?#]/)[0] + "?" + query.join("&");
    player.load(Object.assign({}, data.common, part, {link: link}), {month: month, link: link});
  }
  selects.forEach(s => s.addEventListener("change", () => show(0)));
  show(Number(params.get("month")) || 0);
})();
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TrustLadder lesson: {title}</title>
<style>
body {{ margin: 0; padding: 10px 18px; font-family: "DejaVu Sans", Verdana, Arial, sans-serif; color: #111;
       background: #fff; }}
h1 {{ font-size: 24px; margin: 0 0 4px 0; color: #e6550d; }}
.tl-predict {{ font-size: 19px; line-height: 1.3; margin: 2px 0; }}
.tl-watch {{ font-size: 17px; line-height: 1.3; margin: 2px 0; }}
.tl-note {{ font-size: 15px; font-style: italic; color: #555; margin: 2px 0; }}
#tl-choices {{ display: flex; gap: 18px; flex-wrap: wrap; font-size: 17px; margin: 6px 0; }}
#tl-choices select {{ font-size: 17px; padding: 3px 6px; }}
.tl-term {{ border-bottom: 1px dotted #888; cursor: help; }}
footer {{ font-size: 13px; color: #666; margin-top: 4px; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="tl-predict"><b>Before you press ▶ Play, ask the class:</b> {predict}</p>
<details class="tl-watch"><summary><b>What to watch for</b> (after the prediction)</summary>{watch}{note}</details>
<div id="tl-choices"></div>
<div id="tl-player"></div>
<footer>TrustLadder lesson file: everything it shows was computed in advance; it needs no internet connection.</footer>
<script type="application/json" id="tl-data">{data}</script>
<script>{player}</script>
<script>{app}</script>
</body>
</html>
"""
