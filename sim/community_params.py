"""The community's parameters (issue 15; ``docs/community-design`` section 12), declared like :mod:`sim.params`.

The community model takes every partnership parameter of :class:`sim.params.Params` (``n_orgs`` becomes the
seats of one partnership, ``strategy`` the strategy of self-formed partnerships, the funder's ``deadline``,
``grant_term`` and so on count from an award) plus the community-only parameters declared here. Each field
carries its default, allowed range and meaning in the dataclass metadata, as in :mod:`sim.params`, so the
validation, the docs table and the CLI help come from one place.

:func:`community_params` validates one batch of community runs: every value may be a scalar or one per run,
and the cross-field rules of the design (a community smaller than a partnership, ``setup = "one"`` with a
partial community, ``call_size`` above the seats) raise a :class:`~sim.params.ParamError` naming the fields
and the allowed range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .funder import policy_names
from .params import PARAMETERS, ParamError, ParamSpec, check_params, chunk_params, param_field, vocabulary

__all__ = [
    "CommunityParams",
    "COMMUNITY_PARAMETERS",
    "COMMUNITY_VOCABULARY",
    "SETUPS",
    "community_params",
    "check_community_params",
    "community_param_names",
    "check_partnership_names",
]

#: Partnerships on day one: none, or one of all members (the partnership model; needs n_orgs = n_community).
SETUPS = ("empty", "one")

_p = param_field


@dataclass(frozen=True)
class CommunityParams:
    """The community-only parameters (design section 12). Ranges are inclusive unless stated."""

    n_community: int = _p(30, 2, 1024, "organizations in the community", "organizations")
    max_partnerships: int = _p(8, 1, 64, "partnerships that can exist at once (slots)", "partnerships")
    max_memberships: int = _p(3, 1, 64, "partnerships an organization can belong to at once", "partnerships")
    setup: str = _p("empty", None, None, "partnerships on day one: empty (none) or one (of all members)",
                    choices=lambda: SETUPS)
    prior_ties: float = _p(0.1, 0.0, 1.0, "share of pairs who have networked before (acquainted on day one)")
    tie_trust: float = _p(0.5, 0.0, 1.0, "base initial trust of a prior tie, replacing initial_trust")
    convene_rate: float = _p(
        0.01, 0.0, 1.0, "chance a month that an organization of leadership 0.5 convenes a partnership", "1/month"
    )
    accept_bias: float = _p(
        2.0, -10.0, 10.0, "propensity to accept an invitation when trust in the inviter meets the rung's need",
        "log-odds",
    )
    gossip: float = _p(
        0.05, 0.0, 1.0, "share of the gap to a stranger's reputation among one's partners closed each month",
        "1/month",
    )
    funder_policy: str = _p("none", None, None, "how the funder spends its budget: a registered funding policy",
                            choices=policy_names)
    funder_budget: float = _p(120.0, 0.0, math.inf, "the funder's money over the run", "benefit units")
    grant_size: float = _p(20.0, 0.0, math.inf, "one full award", "benefit units", open_low=True)
    grants_per_call: int = _p(2, 0, 64, "most awards per call", "awards")
    n_calls: int = _p(3, 0, 1000, "calls for proposals", "calls")
    call_start: int = _p(1, 1, 10000, "month of the first call", "month")
    call_interval: int = _p(12, 1, 10000, "months between calls", "months")
    call_size: int = _p(4, 2, 64, "fewest members an awarded partnership must have", "organizations")
    call_sectors: int = _p(2, 1, 4, "fewest sectors among an awarded partnership's members", "sectors")
    staged_share: float = _p(0.25, 0.0, 1.0, "staged: networking award as a share of grant_size")
    staged_level: int = _p(3, 2, 5, "staged: rung a networking grantee must reach for collaboration money", "level")


#: The community-only parameters by name.
COMMUNITY_PARAMETERS: dict[str, ParamSpec] = vocabulary(CommunityParams)
#: The community model's whole vocabulary: the partnership parameters, then the community-only ones.
COMMUNITY_VOCABULARY: dict[str, ParamSpec] = {**PARAMETERS, **COMMUNITY_PARAMETERS}


def community_param_names() -> list[str]:
    """The community model's parameter names: the partnership vocabulary, then the community-only ones."""
    return list(COMMUNITY_VOCABULARY)


def check_partnership_names(params: Mapping[str, Any]) -> None:
    """Refuse a community parameter given to the partnership model (design section 12)."""
    for name in params:
        if name in COMMUNITY_PARAMETERS:
            raise ParamError(f"{name} is a community parameter; set model = \"community\" (sim.simulate_community)")


def _where(mask: np.ndarray) -> str:
    return f" (run {int(np.argmax(mask))})" if np.ndim(mask) else ""


def _at(a: np.ndarray, mask: np.ndarray) -> Any:
    """The value of ``a`` (one shared value, or one per run) at the first run where ``mask`` holds."""
    return (a[int(np.argmax(mask))] if np.ndim(a) else a[()]).item()


def check_community_params(n_runs: int, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate a batch of community runs' parameters without spreading them over the runs.

    As :func:`sim.params.check_params` over :data:`COMMUNITY_VOCABULARY` (a 0-d array for a value shared by every
    run, else one per run; :func:`sim.params.chunk_params` gives a chunk's rows), plus the design's cross-field
    rules: a community smaller than a partnership, ``setup = "one"`` with a partial community, ``call_size`` above
    the seats, more free riders than organizations. Raises :class:`~sim.params.ParamError` naming the field and
    the allowed range.
    """
    out = check_params(n_runs, params, COMMUNITY_VOCABULARY)
    n, s = out["n_community"], out["n_orgs"]
    bad = n < s
    if bad.any():
        raise ParamError(f"n_community = {_at(n, bad)}{_where(bad)} is smaller than n_orgs = {_at(s, bad)}, the seats "
                         f"of one partnership (allowed: n_community >= n_orgs)")
    bad = (out["setup"] == "one") & ((s != n) | (n > 64))
    if bad.any():
        raise ParamError(f"setup = 'one'{_where(bad)} needs n_orgs = n_community <= 64 (got n_orgs = {_at(s, bad)}, "
                         f"n_community = {_at(n, bad)})")
    size = out["call_size"]
    bad = (size > s) & (out["funder_policy"] != "none")  # read only by a policy other than none
    if bad.any():
        raise ParamError(f"call_size = {_at(size, bad)}{_where(bad)} is larger than n_orgs = {_at(s, bad)}, the "
                         f"seats of one partnership (allowed: 2..n_orgs)")
    riders = out["free_riders"]
    bad = riders > n
    if bad.any():
        raise ParamError(f"free_riders = {_at(riders, bad)}{_where(bad)} is larger than n_community = "
                         f"{_at(n, bad)} (allowed: 0..n_community)")
    return out


def community_params(n_runs: int, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate a batch of community runs' parameters; each value a scalar or one per run.

    Returns a dict name -> array of ``n_runs`` for every partnership and community parameter (defaults for the
    missing ones), as :func:`sim.community.run_community_batch` takes them. A large batch is better checked with
    :func:`check_community_params` and spread chunk by chunk (:func:`sim.params.chunk_params`).
    """
    return chunk_params(check_community_params(n_runs, params), 0, int(n_runs))
