"""The ``trustladder`` command line: a thin layer over the Python API.

Each subcommand lives in its own module under :mod:`sim.commands` and provides
``add_parser(subparsers)``, which registers the subcommand and sets its
handler (``parser.set_defaults(func=...)``). A handler takes the parsed
arguments and returns an exit status. Errors a user can fix (a bad parameter,
a missing file: :class:`sim.errors.ParamError`, :class:`sim.errors.UserError`,
an ``OSError``) print one clear line and exit with status 2. Helpers several
commands share live in :mod:`sim.commands._common`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands
from .errors import ParamError, UserError

__all__ = ["build_parser", "main", "UserError"]


def build_parser() -> argparse.ArgumentParser:
    """The ``trustladder`` parser, with every subcommand of :mod:`sim.commands`."""
    parser = argparse.ArgumentParser(
        prog="trustladder",
        description=(
            "TrustLadder: simulate trust between organizations along the relationship ladder "
            "(networking, coordination, cooperation, collaboration, multisector collaboration)."
        ),
        epilog=("Run 'trustladder COMMAND --help' for a command's options. "
                "Parameters use the model's vocabulary: 'trustladder params' lists them (see docs/ODD.md)."),
    )
    parser.add_argument("--version", action="version", version=f"trustladder {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``trustladder`` with ``argv`` (default: the command line); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ParamError, UserError, OSError) as exc:
        # OSError: a missing file, an --out that is a file, a folder we may not write...
        text = str(exc) if not isinstance(exc, OSError) or not exc.filename else f"{exc.strerror}: {exc.filename}"
        print(f"trustladder {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = "; finished chunks are kept: run it again with --resume" if args.command == "sweep" else ""
        print(f"trustladder {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
