"""What several commands share: ``NAME=VALUE`` options and the preambles that check a command's input.

* ``--set NAME=VALUE`` (``run``, ``animate``) and ``--where NAME=VALUE``
  (``analyze``, ``plot``) are parsed by one function, :func:`parse_assignments`,
  each value checked against the parameter vocabulary (``trustladder params``).
* :func:`run_params` is the preamble of the commands that run partnerships:
  the ``--set`` parameters with ``--strategy`` added.
* :func:`open_results` is the preamble of the commands that read a sweep's
  results folder (``analyze``, ``plot``, ``report``): the folder must exist,
  the statistics options be in range, and the folder is loaded.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..community_params import COMMUNITY_PARAMETERS
from ..errors import UserError
from ..params import PARAMETERS, ParamSpec, coerce_value

__all__ = ["add_set_option", "parse_assignments", "parse_sets", "parse_where", "with_strategy", "run_params",
           "add_results_dir", "open_results", "results_model", "MIN_RESAMPLES"]

#: The fewest bootstrap resamples an interval may rest on.
MIN_RESAMPLES = 100


def add_set_option(p: argparse.ArgumentParser) -> None:
    """``--set NAME=VALUE`` (repeatable): a parameter by its name, parsed by :func:`parse_sets`."""
    p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                   help="set a parameter by its name (trustladder params lists them); repeat for several "
                        "(e.g. --set initial_trust=0.5)")


def parse_assignments(items: list[str] | None, option: str,
                      specs: Mapping[str, ParamSpec] | None = None) -> dict[str, Any]:
    """``["initial_trust=0.3", "strategy=stepwise"]`` -> ``{"initial_trust": 0.3, ...}``, each value checked.

    ``option`` (``"--set"``, ``"--where"``) names the option in the error of an
    item without ``=``; ``specs`` is the vocabulary (default: the partnership
    model's; the community model's is ``COMMUNITY_VOCABULARY``).
    """
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{option} {item!r}: expected name=value, e.g. {option} initial_trust=0.5")
        name, text = (s.strip() for s in item.split("=", 1))
        if name in COMMUNITY_PARAMETERS and name not in (PARAMETERS if specs is None else specs):
            raise UserError(f"{option} {name}: a parameter of the community model; pass --model community "
                            "(or model = \"community\" in a spec)")
        out[name] = coerce_value(name, text, specs)
    return out


def parse_sets(items: list[str] | None, specs: Mapping[str, ParamSpec] | None = None) -> dict[str, Any]:
    """The ``--set`` options as validated ``{name: value}`` (``specs``: the vocabulary, :func:`parse_assignments`)."""
    return parse_assignments(items, "--set", specs)


def parse_where(items: list[str] | None, specs: Mapping[str, ParamSpec] | None = None) -> dict[str, Any]:
    """The ``--where`` options as validated ``{name: value}`` (``specs``: the vocabulary)."""
    return parse_assignments(items, "--where", specs)


def with_strategy(params: dict[str, Any], strategy: str | None) -> dict[str, Any]:
    """Add ``--strategy`` to the ``--set`` parameters; both may name it, if they agree."""
    if strategy is not None:
        if "strategy" in params and params["strategy"] != strategy:
            raise UserError(f"--strategy {strategy} and --set strategy={params['strategy']} disagree")
        params["strategy"] = coerce_value("strategy", strategy)
    return params


def run_params(args: argparse.Namespace, specs: Mapping[str, ParamSpec] | None = None) -> dict[str, Any]:
    """The preamble of ``run`` and ``animate``: the parameters of ``--set`` and ``--strategy``, checked."""
    return with_strategy(parse_sets(args.set, specs), args.strategy)


def add_results_dir(p: argparse.ArgumentParser) -> None:
    """The positional ``DIR`` of the commands that read a sweep's results folder."""
    p.add_argument("dir", type=Path, help="results folder written by 'trustladder sweep'")


def results_model(folder: Path) -> str:
    """The model of the sweep in ``folder`` as its manifest says (``"partnership"`` when it cannot be read: then
    :func:`open_results` reports why), read before anything else so options are checked in its vocabulary."""
    try:
        manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
        return str(manifest.get("model", "partnership")) if isinstance(manifest, dict) else "partnership"
    except (OSError, ValueError):
        return "partnership"


def open_results(args: argparse.Namespace) -> Any:
    """The preamble of ``analyze``, ``plot`` and ``report``: check ``args`` and load ``args.dir``.

    Checks the options the command has (``--resamples``, ``--window``,
    ``--confidence``) before anything is read, then loads the folder (as
    :func:`sim.load_results`; a ``trustladder run`` folder is refused with a
    message saying so).
    """
    if not args.dir.is_dir():
        raise UserError(f"{args.dir} is not a results folder")
    resamples = getattr(args, "resamples", None)
    if resamples is not None and resamples < MIN_RESAMPLES:
        raise UserError(f"--resamples {resamples}: must be at least {MIN_RESAMPLES}")
    window = getattr(args, "window", None)
    if window is not None and window < 1:
        raise UserError(f"--window {window}: must be at least 1 month")
    confidence = getattr(args, "confidence", None)
    if confidence is not None and not 0 < confidence < 1:
        raise UserError(f"--confidence {confidence}: must be between 0 and 1")
    # Lazy: analysis imports scipy.stats and matplotlib; `trustladder --help` and `run` do not need them.
    from ..analysis.data import as_results

    return as_results(args.dir)
