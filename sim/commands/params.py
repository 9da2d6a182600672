"""``trustladder params``: the parameter vocabulary, with each parameter's default, range, unit and meaning."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import textwrap
from typing import Any

from ..community_params import COMMUNITY_PARAMETERS, COMMUNITY_VOCABULARY
from ..params import PARAMETERS, ParamSpec, check_name

_FORMATS = ("text", "markdown", "json")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "params",
        help="list the parameters: name, default, allowed range, unit and meaning",
        description=(
            "List the model's parameters (the names used by --set, experiment specs, sim.simulate and the Mesa "
            "model), each with its default, its allowed range (inclusive), its unit and its meaning. The model "
            "that uses them is specified in docs/ODD.md; 'markdown' prints its parameter table."
        ),
    )
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="only these parameters, of either model (default: every one of --model's)")
    p.add_argument("--model", choices=("partnership", "community", "community-only"), default="partnership",
                   help="whose parameters to list: the partnership model's (default), the community model's (the "
                        "partnership's and its own), or only the community's own")
    p.add_argument("--format", choices=_FORMATS, default="text",
                   help="text (one entry each), markdown (a table) or json (default: %(default)s)")
    p.set_defaults(func=main)


def _default_text(spec: ParamSpec) -> str:
    return spec.default if isinstance(spec.default, str) else f"{spec.default:g}"


def _bound(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) else x


def describe(spec: ParamSpec) -> dict[str, Any]:
    """One parameter as a JSON-ready record (an infinite bound is ``null``)."""
    return {"name": spec.name, "type": spec.kind.__name__, "default": spec.default, "low": _bound(spec.low),
            "high": _bound(spec.high), "range": spec.range_text(), "unit": spec.unit, "meaning": spec.meaning}


def markdown_table(specs: list[ParamSpec]) -> str:
    """The parameter table of docs/ODD.md: ``| name | default | range | unit | meaning |``."""
    rows = ["| name | default | range | unit | meaning |", "|---|---|---|---|---|"]
    rows += [f"| `{s.name}` | {_default_text(s)} | {s.range_text()} | {s.unit} | {s.meaning} |" for s in specs]
    return "\n".join(rows)


def text_table(specs: list[ParamSpec], width: int | None = None) -> str:
    """One entry per parameter: ``name = default  (range, unit)`` and its meaning, wrapped to the terminal."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    out = []
    for s in specs:
        unit = f", {s.unit}" if s.unit else ""
        out.append(f"{s.name} = {_default_text(s)}  ({s.range_text()}{unit})")
        out += textwrap.wrap(s.meaning, max(40, width - 4), initial_indent="    ", subsequent_indent="    ")
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    every = {"partnership": PARAMETERS, "community": COMMUNITY_VOCABULARY, "community-only": COMMUNITY_PARAMETERS}
    model = getattr(args, "model", "partnership")
    specs = ([check_name(n, COMMUNITY_VOCABULARY) for n in args.names] if args.names
             else list(every[model].values()))
    if args.format == "json":
        print(json.dumps([describe(s) for s in specs], indent=1))
    elif args.format == "markdown":
        print(markdown_table(specs))
    else:
        print(text_table(specs))
    return 0
