"""TrustLadder: trust between organizations along the relationship ladder.

An agent-based model (specified in docs/ODD.md) with two implementations of
one model: a vectorized NumPy engine for batches of runs (:func:`simulate`) and
a Mesa 3 model for reading, teaching and checking. Both draw their randomness
from the same counter-based streams (:mod:`sim.rng`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from . import levels, rng, rules, variants
from .community_results import CommunityResults, simulate_community
from .errors import ParamError, UserError
from .funder import policy_names, register_policy
from .params import PARAMETERS, Params, param_names
from .results import Results, simulate
from .strategies import StrategyState, register, strategy_names, unregister
from .variants import REFERENCE_VARIANTS, register_variant, variant_names
from .version import MODEL_VERSION

if TYPE_CHECKING:
    from .sweep.store import SweepResults

__version__ = "0.1.0"


def load_results(path: str | os.PathLike[str]) -> SweepResults:
    """Load a sweep's results folder: ``.runs``, ``.bands``, ``.manifest`` (see :func:`sim.sweep.load_results`)."""
    # Lazy: the sweep package imports scipy.stats (about 0.3 s); `import sim` does not need it.
    from .sweep.store import load_results as _load

    return _load(path)


__all__ = [
    "CommunityResults",
    "MODEL_VERSION",
    "PARAMETERS",
    "ParamError",
    "Params",
    "REFERENCE_VARIANTS",
    "Results",
    "StrategyState",
    "UserError",
    "levels",
    "load_results",
    "param_names",
    "policy_names",
    "register",
    "register_policy",
    "register_variant",
    "rng",
    "rules",
    "simulate",
    "simulate_community",
    "simulate_community",
    "CommunityResults",
    "register_policy",
    "policy_names",
    "strategy_names",
    "unregister",
    "variant_names",
    "variants",
    "__version__",
]
