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
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import numpy as np

from .funder import policy_names
from .params import PARAMETERS, ParamError, ParamSpec, batch_params, did_you_mean

__all__ = [
    "CommunityParams",
    "COMMUNITY_PARAMETERS",
    "SETUPS",
    "community_params",
    "community_param_names",
    "check_partnership_names",
]

#: Partnerships on day one: none, or one of all members (the partnership model; needs n_orgs = n_community).
SETUPS = ("empty", "one")


def _p(default: Any, low: float | None, high: float | None, meaning: str, unit: str = "") -> Any:
    return field(default=default, metadata={"low": low, "high": high, "meaning": meaning, "unit": unit})


@dataclass(frozen=True)
class CommunityParams:
    """The community-only parameters (design section 12). Ranges are inclusive."""

    n_community: int = _p(30, 2, 1024, "organizations in the community", "organizations")
    max_partnerships: int = _p(8, 1, 64, "partnerships that can exist at once (slots)", "partnerships")
    max_memberships: int = _p(3, 1, 64, "partnerships an organization can belong to at once", "partnerships")
    setup: str = _p("empty", None, None, "partnerships on day one: empty (none) or one (of all members)")
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
    funder_policy: str = _p("none", None, None, "how the funder spends its budget: a registered funding policy")
    funder_budget: float = _p(120.0, 0.0, math.inf, "the funder's money over the run", "benefit units")
    grant_size: float = _p(20.0, 1e-12, math.inf, "one full award", "benefit units")
    grants_per_call: int = _p(2, 0, 64, "most awards per call", "awards")
    n_calls: int = _p(3, 0, 1000, "calls for proposals", "calls")
    call_start: int = _p(1, 1, 10000, "month of the first call", "month")
    call_interval: int = _p(12, 1, 10000, "months between calls", "months")
    call_size: int = _p(4, 2, 64, "fewest members an awarded partnership must have", "organizations")
    call_sectors: int = _p(2, 1, 4, "fewest sectors among an awarded partnership's members", "sectors")
    staged_share: float = _p(0.25, 0.0, 1.0, "staged: networking award as a share of grant_size")
    staged_level: int = _p(3, 2, 5, "staged: rung a networking grantee must reach for collaboration money", "level")


#: The community-only parameters by name.
COMMUNITY_PARAMETERS: dict[str, ParamSpec] = {
    f.name: ParamSpec(
        f.name,
        {"int": int, "float": float, "str": str}[f.type] if isinstance(f.type, str) else f.type,
        f.default if f.default is not MISSING else None,
        f.metadata["low"],
        f.metadata["high"],
        f.metadata["meaning"],
        f.metadata["unit"],
    )
    for f in fields(CommunityParams)
}


def community_param_names() -> list[str]:
    """The community model's parameter names: the partnership vocabulary, then the community-only ones."""
    return list(PARAMETERS) + list(COMMUNITY_PARAMETERS)


def _range_text(spec: ParamSpec) -> str:
    if spec.name == "setup":
        return "one of " + ", ".join(SETUPS)
    if spec.name == "funder_policy":
        return "one of " + ", ".join(policy_names())
    if spec.name == "grant_size":
        return "> 0"
    if spec.high == math.inf:
        return f">= {spec.low:g}"
    return f"{spec.low:g}..{spec.high:g}"


def check_partnership_names(params: Mapping[str, Any]) -> None:
    """Refuse a community parameter given to the partnership model (design section 12)."""
    for name in params:
        if name in COMMUNITY_PARAMETERS:
            raise ParamError(f"{name} is a community parameter; set model = \"community\" (sim.simulate_community)")


def _check_name(name: str) -> None:
    if name in PARAMETERS or name in COMMUNITY_PARAMETERS:
        return
    known = community_param_names()
    raise ParamError(f"unknown parameter {name!r}{did_you_mean(name, known)} (known: {', '.join(known)})")


def _check_community_values(name: str, spec: ParamSpec, value: Any, n_runs: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.broadcast_to(arr, (n_runs,))
    elif arr.shape != (n_runs,):
        raise ParamError(f"{name}: got {arr.shape[0] if arr.ndim == 1 else arr.shape} values for {n_runs} runs")
    where = (lambda i: f" (run {i})") if np.ndim(value) else (lambda i: "")
    if spec.kind is str:
        if name == "setup":
            allowed = SETUPS
        else:
            allowed = tuple(policy_names())
        for i, v in enumerate(arr.reshape(-1)):
            if not isinstance(v, str) or v not in allowed:
                hint = did_you_mean(v, allowed)
                raise ParamError(f"{name} = {v!r}{where(i)} is not allowed{hint} (allowed: {_range_text(spec)})")
            if i > 0 and np.ndim(value) == 0:
                break
        return arr.astype(object)
    if arr.dtype.kind not in "iuf" or arr.dtype.kind == "b":
        first = arr.reshape(-1)[0]
        raise ParamError(f"{name} = {first!r} is not a number (allowed: {_range_text(spec)})")
    bad = ~((arr >= spec.low) & (arr <= spec.high))
    if spec.kind is int:
        bad |= arr != np.round(arr)
    if bad.any():
        i = int(np.argmax(bad))
        in_range = bool(spec.low <= arr[i] <= spec.high)
        what = "must be a whole number" if spec.kind is int and in_range else "is out of range"
        raise ParamError(f"{name} = {arr[i].item()!r}{where(i)} {what} (allowed: {_range_text(spec)})")
    return arr.astype(np.int64 if spec.kind is int else np.float64)


def _where(mask: np.ndarray, per_run: bool) -> str:
    return f" (run {int(np.argmax(mask))})" if per_run else ""


def community_params(n_runs: int, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate a batch of community runs' parameters; each value a scalar or one per run.

    Returns a dict name -> array of ``n_runs`` for every partnership and community parameter (defaults for the
    missing ones). Raises :class:`~sim.params.ParamError` naming the field and the allowed range.
    """
    for name in params:
        _check_name(name)
    partnership = {k: v for k, v in params.items() if k in PARAMETERS}
    out = batch_params(n_runs, partnership)
    for name, spec in COMMUNITY_PARAMETERS.items():
        out[name] = _check_community_values(name, spec, params.get(name, spec.default), n_runs)
    per_run = any(np.ndim(v) for v in params.values())
    n, s = out["n_community"], out["n_orgs"]
    bad = n < s
    if bad.any():
        i = int(np.argmax(bad))
        raise ParamError(f"n_community = {n[i]}{_where(bad, per_run)} is smaller than n_orgs = {s[i]}, the seats of "
                         f"one partnership (allowed: n_community >= n_orgs)")
    one = out["setup"] == "one"
    bad = one & ((s != n) | (n > 64))
    if bad.any():
        i = int(np.argmax(bad))
        raise ParamError(f"setup = 'one'{_where(bad, per_run)} needs n_orgs = n_community <= 64 (got n_orgs = {s[i]}, "
                         f"n_community = {n[i]})")
    bad = (out["call_size"] > s) & (out["funder_policy"] != "none")  # read only by a policy other than none
    if bad.any():
        i = int(np.argmax(bad))
        raise ParamError(f"call_size = {out['call_size'][i]}{_where(bad, per_run)} is larger than n_orgs = {s[i]}, the "
                         f"seats of one partnership (allowed: 2..n_orgs)")
    bad = out["free_riders"] > n
    if bad.any():
        i = int(np.argmax(bad))
        raise ParamError(f"free_riders = {out['free_riders'][i]}{_where(bad, per_run)} is larger than n_community = "
                         f"{n[i]} (allowed: 0..n_community)")
    return out
