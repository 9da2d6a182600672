"""TrustLadder: trust between organizations along the relationship ladder.

An agent-based model (specified in MODEL.md) with two implementations of one
model: a vectorized NumPy engine for batches of runs (:func:`simulate`) and a
Mesa 3 model for reading, teaching and checking. Both draw their randomness
from the same counter-based streams (:mod:`sim.rng`).
"""

from . import levels, rng, rules, variants
from .community_results import CommunityResults, simulate_community
from .funder import policy_names, register_policy
from .params import PARAMETERS, ParamError, Params, param_names
from .results import Results, simulate
from .strategies import StrategyState, register, strategy_names, unregister
from .variants import REFERENCE_VARIANTS, register_variant, variant_names


def load_results(path: "str | os.PathLike[str]") -> "sweep.SweepResults":  # noqa: F821 (imported on use)
    """Load a sweep's results folder: ``.runs``, ``.bands``, ``.manifest`` (see :func:`sim.sweep.load_results`)."""
    from .sweep.store import load_results as _load  # imported on use: keeps `import sim` light

    return _load(path)

__version__ = "0.1.0"
#: Bumped whenever a change alters any run's numbers (sweeps record it to refuse a stale resume).
MODEL_VERSION = "5"

__all__ = [
    "PARAMETERS",
    "ParamError",
    "Params",
    "Results",
    "StrategyState",
    "levels",
    "param_names",
    "register",
    "rng",
    "rules",
    "simulate",
    "simulate_community",
    "CommunityResults",
    "register_policy",
    "policy_names",
    "strategy_names",
    "unregister",
    "MODEL_VERSION",
    "REFERENCE_VARIANTS",
    "register_variant",
    "variant_names",
    "variants",
    "__version__",
]
