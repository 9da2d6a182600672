"""``trustladder lesson``: list the classroom's lessons, or export one as a self-contained HTML file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..params import coerce_value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lesson",
        help="list the classroom lessons, or export one as a single HTML file that plays without Python",
        description=(
            "The classroom page's ready lessons. 'lesson list' names them; 'lesson export NAME --out FILE.html' "
            "writes one self-contained HTML file (its text, its question for the class and its runs, computed "
            "now for a small grid of settings: strategy, trust at the start and seed) that plays in any browser "
            "from disk or a class website, with no server and no internet connection."
        ),
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, help="list or export")
    actions.add_parser("list", help="the lessons and their views").set_defaults(func=list_lessons)
    e = actions.add_parser("export", help="write one lesson as a self-contained HTML file")
    e.add_argument("name", metavar="NAME", help="the lesson's name (see 'trustladder lesson list')")
    e.add_argument("--out", type=Path, required=True, metavar="FILE.html", help="the file to write")
    e.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="the choices a class gets for one setting, replacing the default ones "
                        "(e.g. --vary initial_trust=0.2,0.5,0.8 or --vary seed=12,13); repeatable")
    e.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    e.set_defaults(func=export_lesson)


def list_lessons(args: argparse.Namespace) -> int:
    # Lazy: the classroom imports Mesa and matplotlib; other commands do not need them.
    from ..classroom.lessons import LESSONS
    from ..classroom.models import MODES

    width = max(len(name) for name in LESSONS)
    for name, lesson in LESSONS.items():
        print(f"{name:<{width}}  {lesson.title} ({MODES[lesson.mode]}, seed {lesson.seed})")
    return 0


def parse_vary(items: list[str]) -> dict[str, list[Any]]:
    """``["name=v1,v2", ...]`` -> ``{name: [v1, v2]}``, each value read as the parameter's type."""
    # Lazy: the classroom imports Mesa and matplotlib (see list_lessons).
    from ..classroom.models import parse_seed

    out: dict[str, list[Any]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not text.strip():
            raise UserError(f"--vary {item!r}: expected name=value,value,... e.g. --vary initial_trust=0.2,0.5")
        values = [v.strip() for v in text.split(",") if v.strip()]
        out[name] = [parse_seed(v) if name == "seed" else coerce_value(name, v) for v in values]
    return out


def export_lesson(args: argparse.Namespace) -> int:
    # Lazy: the classroom imports Mesa and matplotlib (see list_lessons).
    from ..classroom.export import write_lesson

    t0 = time.perf_counter()
    out = write_lesson(args.name, args.out, vary=parse_vary(args.vary), force=args.force)
    size = out.stat().st_size
    print(f"wrote {out}: {size / 1e6:.1f} MB, in {time.perf_counter() - t0:.1f} s; open it in a browser "
          f"(it needs no server and no internet connection)")
    return 0
