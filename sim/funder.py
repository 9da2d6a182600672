"""The funder as an agent: calls for proposals, named funding policies, and a budget it cannot overspend.

A funding policy is one function of a :class:`CallState` (the communities calling this month; read-only
arrays, run axis first) that returns :class:`Awards`: existing partnerships to fund and new consortia to
create. Register one like a strategy::

    import sim
    from sim import funder

    @sim.register_policy("hcap")
    def hcap(call):
        "Fund self-formed consortia that meet the call, at the required rung from day one (HCAP-like)."
        p = call.params
        ok = funder.eligible(call, origin=("convened", "setup"), min_members=p["call_size"],
                             min_sectors=p["call_sectors"], funded=False, ever_awarded=False)
        pick = funder.top(call.mean_trust, ok, k=p["grants_per_call"], amount=p["grant_size"], budget=call.budget)
        return funder.Awards.fund_existing(call, pick, amount=p["grant_size"], strategy="funder_forced",
                                           level=p["forced_level"], tag=2)

The engine checks every policy's answer with :func:`check_awards` (a :class:`PolicyError` names the policy
and the run) and keeps the books: an award *reserves* its amount out of the free budget, payments are capped
at the award's remainder (:func:`pay`), and a remainder returns to the free budget when the grant ends. The
budget therefore cannot be overspent, by construction (community-design section 6).

Built-in policies: ``none`` (no awards), ``mandate`` (the funder assembles consortia of applicants, known
to each other or not, at the required rung from day one: Bitterman & Koliba's "externally mandated
collaboration"), ``patient`` (it funds partnerships that already formed and lets them climb) and ``staged``
(networking money first, collaboration money for those who climbed) and ``applicant_led`` (consortia required as
under ``mandate``, but the lead applicant fills the seats with the organizations it trusts most: HCAP's design).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .community_rules import invitees
from .levels import N_LEVELS
from .params import ParamError, did_you_mean
from .strategies import check_strategy

__all__ = [
    "PolicyError",
    "CallState",
    "Awards",
    "PolicyFn",
    "register_policy",
    "unregister_policy",
    "policy_names",
    "check_policy",
    "get_policy",
    "origin_names",
    "eligible",
    "top",
    "assemble",
    "check_awards",
    "run_policy",
    "call_due",
    "pay",
]


class PolicyError(ParamError):
    """A funding policy returned awards the engine cannot honour (names the policy and the run)."""


#: Where a partnership came from, before the policies' own codes (2 + the policy's index in :func:`origin_names`).
BASE_ORIGINS = ("setup", "convened")


@dataclass(frozen=True)
class CallState:
    """What a funding policy sees at a call: arrays over the ``R_c`` calling communities (read-only).

    Attributes
    ----------
    step : int
        The month of the call.
    call_index : ndarray of int (R_c,)
        Which call of the run this is (0-based).
    params : mapping of str to ndarray (R_c,)
        The runs' parameters.
    budget : ndarray (R_c,)
        The funder's free (unreserved) budget.
    sector, group : ndarray of int (R_c, N)
    leadership, individualism, capacity : ndarray (R_c, N)
    spare : ndarray of int (R_c, N)
        ``max_memberships`` minus the organization's memberships.
    priority : ndarray (R_c, N)
        The funder's uniform draws (purpose FUNDER at index i): a ranking of applicants without trust.
    trust : ndarray (R_c, N, N)
    acquainted : ndarray of bool (R_c, N, N)
    alive, free_slot, funded, funder_money, ever_awarded : ndarray of bool (R_c, P)
    level : ndarray of int (R_c, P)
        The level each partnership plays next (0 for a free slot).
    award_tag, origin : ndarray of int (R_c, P)
        The tag the policy gave the award; where the partnership came from (:meth:`origin_name`).
    award_remaining : ndarray (R_c, P)
        What is left of each slot's award (returned to the budget if a funder award is replaced).
    n_members, n_sectors : ndarray of int (R_c, P)
    mean_trust : ndarray (R_c, P)
        Mean trust over each partnership's active pairs (NaN for a free slot).
    formed_step : ndarray of int (R_c, P)
    members : ndarray of bool (R_c, P, N)
    n_seats : int
        The seats of one partnership (``n_orgs``): new consortia have at most this many members.
    origins : tuple of str
        The names of the origin codes.
    """

    step: int
    call_index: np.ndarray
    params: Mapping[str, np.ndarray]
    budget: np.ndarray
    sector: np.ndarray
    group: np.ndarray
    leadership: np.ndarray
    individualism: np.ndarray
    capacity: np.ndarray
    spare: np.ndarray
    priority: np.ndarray
    trust: np.ndarray
    acquainted: np.ndarray
    alive: np.ndarray
    free_slot: np.ndarray
    level: np.ndarray
    funded: np.ndarray
    funder_money: np.ndarray
    ever_awarded: np.ndarray
    award_tag: np.ndarray
    origin: np.ndarray
    award_remaining: np.ndarray
    n_members: np.ndarray
    n_sectors: np.ndarray
    mean_trust: np.ndarray
    formed_step: np.ndarray
    members: np.ndarray
    n_seats: int
    origins: tuple[str, ...] = field(default_factory=lambda: origin_names())

    @property
    def n_rows(self) -> int:
        return int(self.budget.shape[0])

    @property
    def n_community(self) -> int:
        return int(self.sector.shape[1])

    @property
    def n_slots(self) -> int:
        return int(self.alive.shape[1])

    def origin_name(self, code: int) -> str:
        """The name of an origin code (``"setup"``, ``"convened"`` or a policy's name)."""
        return self.origins[int(code)]

    def origin_code(self, name: str) -> int:
        """The code of an origin name."""
        try:
            return self.origins.index(name)
        except ValueError:
            raise ParamError(f"origin = {name!r} is not an origin{did_you_mean(name, self.origins)} "
                             f"(allowed: {', '.join(self.origins)})") from None


@dataclass
class Awards:
    """A policy's answer for the calling runs (same rows as its :class:`CallState`).

    Attributes
    ----------
    fund : ndarray of bool (R_c, P)
        Existing partnerships to fund (a funder-funded one gets a replacement award).
    fund_amount : ndarray (R_c, P)
    fund_level : ndarray of int (R_c, P)
        The level the funded partnership must play next (0 = keep its level).
    fund_tag : ndarray of int (R_c, P)
    fund_strategy : str
        The strategy funded partnerships follow from the award on.
    new_members : ndarray of int (R_c, K, S)
        New consortia: organizations in seat order, lead first, -1 padded (K may be 0).
    new_amount : ndarray (R_c, K)
    new_level : ndarray of int (R_c, K)
    new_tag : ndarray of int (R_c, K)
    new_strategy : str
    """

    fund: np.ndarray
    fund_amount: np.ndarray
    fund_level: np.ndarray
    fund_tag: np.ndarray
    fund_strategy: str
    new_members: np.ndarray
    new_amount: np.ndarray
    new_level: np.ndarray
    new_tag: np.ndarray
    new_strategy: str

    @property
    def n_new(self) -> np.ndarray:
        """Consortia created per row (those with at least one member)."""
        return (self.new_members >= 0).any(axis=-1).sum(axis=-1)

    @property
    def n_awards(self) -> np.ndarray:
        """Awards per row: funded partnerships plus new consortia."""
        return self.fund.sum(axis=-1) + self.n_new

    @classmethod
    def none(cls, call: CallState) -> Awards:
        """No award."""
        r, p = call.n_rows, call.n_slots
        return cls(np.zeros((r, p), bool), np.zeros((r, p)), np.zeros((r, p), np.int64), np.zeros((r, p), np.int64),
                   "funder_patient", np.full((r, 0, call.n_seats), -1, np.int64), np.zeros((r, 0)),
                   np.zeros((r, 0), np.int64), np.zeros((r, 0), np.int64), "funder_patient")

    @classmethod
    def fund_existing(cls, call: CallState, pick: np.ndarray, *, amount: np.ndarray | float, strategy: str,
                      level: np.ndarray | int = 0, tag: int = 2) -> Awards:
        """Fund the picked slots ((R_c, P) bool) with ``amount`` each (a scalar or one per row)."""
        a = cls.none(call)
        pick = np.asarray(pick, dtype=bool)
        a.fund = pick.copy()
        a.fund_amount = np.where(pick, _per_row(amount, call.n_rows)[:, None], 0.0)
        a.fund_level = np.where(pick, _per_row(level, call.n_rows)[:, None], 0).astype(np.int64)
        a.fund_tag = np.where(pick, int(tag), 0).astype(np.int64)
        a.fund_strategy = strategy
        return a

    @classmethod
    def new_consortia(cls, call: CallState, members: np.ndarray, *, amount: np.ndarray | float, strategy: str,
                      level: np.ndarray | int, tag: int = 2) -> Awards:
        """Create the consortia ``members`` ((R_c, K, S), -1 padded; rows of all -1 create nothing)."""
        a = cls.none(call)
        members = np.asarray(members, dtype=np.int64)
        real = (members >= 0).any(axis=-1)
        a.new_members = members
        a.new_amount = np.where(real, _per_row(amount, call.n_rows)[:, None], 0.0)
        a.new_level = np.where(real, _per_row(level, call.n_rows)[:, None], 0).astype(np.int64)
        a.new_tag = np.where(real, int(tag), 0).astype(np.int64)
        a.new_strategy = strategy
        return a

    @classmethod
    def combine(cls, a: Awards, b: Awards) -> Awards:
        """``a``'s funding of existing slots and ``b``'s, and both sets of new consortia (``a``'s first).

        Where both fund one slot, ``a`` wins. The two may name different strategies only for the side that
        the other leaves empty.
        """
        fund_strategy = a.fund_strategy if a.fund.any() or not b.fund.any() else b.fund_strategy
        if a.fund.any() and b.fund.any() and a.fund_strategy != b.fund_strategy:
            raise ValueError("Awards.combine: both fund existing partnerships, with different strategies")
        a_new, b_new = (a.new_members >= 0).any(), (b.new_members >= 0).any()
        new_strategy = a.new_strategy if a_new or not b_new else b.new_strategy
        if a_new and b_new and a.new_strategy != b.new_strategy:
            raise ValueError("Awards.combine: both create consortia, with different strategies")
        only_b = b.fund & ~a.fund
        return cls(
            a.fund | b.fund,
            np.where(only_b, b.fund_amount, a.fund_amount),
            np.where(only_b, b.fund_level, a.fund_level),
            np.where(only_b, b.fund_tag, a.fund_tag),
            fund_strategy,
            np.concatenate([a.new_members, b.new_members], axis=1),
            np.concatenate([a.new_amount, b.new_amount], axis=1),
            np.concatenate([a.new_level, b.new_level], axis=1),
            np.concatenate([a.new_tag, b.new_tag], axis=1),
            new_strategy,
        )


def _per_row(value: np.ndarray | float | int, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value), (n,))


PolicyFn = Callable[[CallState], Awards]


@dataclass(frozen=True)
class Policy:
    """A registered funding policy."""

    name: str
    rule: PolicyFn
    doc: str


_REGISTRY: dict[str, Policy] = {}


def register_policy(name: str, *, replace: bool = False) -> Callable[[PolicyFn], PolicyFn]:
    """Register a funding policy under ``name`` (a decorator); ``funder_policy = name`` then selects it."""
    if not name.isidentifier():
        raise ValueError(f"policy name {name!r} must be an identifier")
    if name in BASE_ORIGINS:
        raise ValueError(f"policy name {name!r} is reserved (an origin: {', '.join(BASE_ORIGINS)})")

    def deco(fn: PolicyFn) -> PolicyFn:
        if name in _REGISTRY and not replace:
            raise ValueError(f"funding policy {name!r} is already registered (pass replace=True to replace it)")
        _REGISTRY[name] = Policy(name, fn, (fn.__doc__ or "").strip())
        return fn

    return deco


def unregister_policy(name: str) -> None:
    """Remove a registered policy (for tests and notebooks)."""
    _REGISTRY.pop(name, None)


def policy_names() -> list[str]:
    """Names of the registered funding policies."""
    return list(_REGISTRY)


def check_policy(name: object) -> None:
    """Raise a ParamError naming the unknown policy, the closest registered one and the allowed names."""
    if isinstance(name, str) and name in _REGISTRY:
        return
    hint = did_you_mean(name, _REGISTRY)
    raise ParamError(f"funder_policy = {name!r} is not a registered funding policy{hint} "
                     f"(allowed: {', '.join(_REGISTRY)})")


def get_policy(name: str) -> Policy:
    check_policy(name)
    return _REGISTRY[name]


def origin_names() -> tuple[str, ...]:
    """The origin codes' names: setup, convened, then each registered policy (code 2 + its index)."""
    return BASE_ORIGINS + tuple(_REGISTRY)


# --- helpers shared by the policies and both implementations -------------------------------------------------


def eligible(call: CallState, *, origin: Sequence[str] | None = None, min_members: np.ndarray | int = 2,
             min_sectors: np.ndarray | int = 1, funded: bool | None = None, ever_awarded: bool | None = None,
             min_level: np.ndarray | int = 1, max_level: np.ndarray | int = N_LEVELS,
             tag: int | None = None) -> np.ndarray:
    """Alive partnerships meeting a call's requirements, (R_c, P) bool. ``None`` means "either"."""
    def col(v: np.ndarray | int) -> np.ndarray:
        v = np.asarray(v)
        return v[:, None] if v.ndim else v

    ok = call.alive & (call.n_members >= col(min_members)) & (call.n_sectors >= col(min_sectors))
    ok &= (call.level >= col(min_level)) & (call.level <= col(max_level))
    if origin is not None:
        ok &= np.isin(call.origin, [call.origin_code(o) for o in origin])
    if funded is not None:
        ok &= call.funded == funded
    if ever_awarded is not None:
        ok &= call.ever_awarded == ever_awarded
    if tag is not None:
        ok &= call.award_tag == tag
    return ok


def _award_limit(k: np.ndarray | int, amount: np.ndarray | float, budget: np.ndarray) -> np.ndarray:
    """At most ``min(k, floor(budget / amount))`` awards per row."""
    amount = np.asarray(amount, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        afford = np.where(amount > 0, np.floor(budget / np.where(amount > 0, amount, 1.0)), 0.0)
    return np.minimum(np.asarray(k, dtype=np.float64), afford).astype(np.int64)


def top(values: np.ndarray, mask: np.ndarray, *, k: np.ndarray | int, amount: np.ndarray | float,
        budget: np.ndarray) -> np.ndarray:
    """The masked slots with the largest values, at most ``min(k, floor(budget / amount))`` per row.

    Ties (and NaN values, ranked last) go to the lower slot. Returns (R_c, P) bool.
    """
    key = np.where(mask, -np.nan_to_num(values, nan=-np.inf), np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[-1])[None, :].repeat(order.shape[0], 0), axis=-1)
    return mask & (rank < _award_limit(k, amount, budget)[:, None])


def assemble(call: CallState, *, k: np.ndarray | int, size: np.ndarray | int, min_size: np.ndarray | int,
             min_sectors: np.ndarray | int, amount: np.ndarray | float, budget: np.ndarray) -> np.ndarray:
    """The funder assembles consortia of applicants by priority, whether or not they know each other.

    Applicants are organizations with spare capacity, each in at most one new consortium per call. While
    fewer than ``min_sectors`` sectors are covered a seat takes the highest-priority applicant of an
    uncovered sector, then the highest-priority applicant of any sector. A consortium with fewer than
    ``min_size`` members or ``min_sectors`` sectors is dropped. The lead (seat 0) is the member with the
    highest leadership (ties: the lower index), the others follow in pick order. At most
    ``min(k, free slots, floor(budget / amount))`` consortia per row.

    Returns
    -------
    ndarray of int (R_c, max k, n_seats)
        Organization indices, -1 padded.
    """
    r, n, s = call.n_rows, call.n_community, call.n_seats
    limit = np.minimum(_award_limit(k, amount, budget), call.free_slot.sum(axis=-1))
    width = int(limit.max()) if r else 0
    size = np.minimum(_per_row(size, r), s)
    min_size, min_sectors = _per_row(min_size, r), _per_row(min_sectors, r)
    out = np.full((r, width, s), -1, dtype=np.int64)
    available = call.spare >= 1
    rows = np.arange(r)
    sector = call.sector.astype(np.int64)
    for c in range(width):
        on = c < limit
        picked = np.full((r, s), -1, dtype=np.int64)
        covered = np.zeros((r, 4), dtype=bool)
        pool = available & on[:, None]
        for seat in range(s):
            want = pool.any(axis=-1) & (seat < size)
            need_sector = covered.sum(axis=-1) < min_sectors
            uncovered = ~np.take_along_axis(covered, sector, axis=-1)
            choice = pool & np.where(need_sector[:, None], uncovered, True)
            choice = np.where(choice.any(axis=-1)[:, None], choice, pool)  # no uncovered sector left: any sector
            j = np.argmax(np.where(choice, call.priority, -np.inf), axis=-1)
            want &= choice.any(axis=-1)
            picked[want, seat] = j[want]
            pool[rows[want], j[want]] = False
            covered[rows[want], sector[rows[want], j[want]]] = True
        n_members = (picked >= 0).sum(axis=-1)
        keep = on & (n_members >= min_size) & (covered.sum(axis=-1) >= min_sectors)
        # the lead: highest leadership among the picked, then the others in pick order
        lead_key = np.where(picked >= 0, np.take_along_axis(call.leadership, np.maximum(picked, 0), axis=-1),
                            -np.inf)
        lead_seat = np.argmax(lead_key, axis=-1)
        order = np.argsort(np.where(np.arange(s)[None, :] == lead_seat[:, None], -1, np.arange(s)[None, :]),
                           axis=-1, kind="stable")
        picked = np.take_along_axis(picked, order, axis=-1)
        out[keep, c] = picked[keep]
        used = np.zeros((r, n), dtype=bool)
        rr, ss = np.nonzero(picked >= 0)
        used[rr, picked[rr, ss]] = True
        available &= ~used  # members of a dropped consortium are not offered again this call
    return out


# --- checks and books ----------------------------------------------------------------------------------------


def check_awards(call: CallState, awards: Awards, policy: str) -> None:
    """Raise a :class:`PolicyError` naming the policy and the run if ``awards`` cannot be honoured.

    Checks (community-design section 6.3): only alive slots are funded; amounts are finite and > 0; per row
    the new reservations do not exceed the free budget plus the remainders of replaced funder awards; new
    consortia have at least two distinct organizations in 0..N-1, no organization beyond its spare
    capacity, and no more consortia than free slots; levels are 1..5 for new consortia and 0..5 for funded
    ones; the strategies are registered.
    """
    r, n, s = call.n_rows, call.n_community, call.n_seats

    def fail(row: int, what: str) -> PolicyError:
        return PolicyError(f"funding policy {policy!r}, run {int(row)} of the call at step {call.step}: {what}")

    fund, new = awards.fund, awards.new_members
    if fund.shape != call.alive.shape or new.ndim != 3 or new.shape[0] != r or new.shape[2] > s:
        raise PolicyError(f"funding policy {policy!r}: awards of shape fund {fund.shape}, new {new.shape} do not "
                          f"match the call ({r} runs, {call.n_slots} slots, {s} seats)")
    if fund.any():
        check_strategy(awards.fund_strategy)
    real = (new >= 0).any(axis=-1)
    if real.any():
        check_strategy(awards.new_strategy)
    bad = fund & ~call.alive
    if bad.any():
        raise fail(np.argmax(bad.any(-1)), f"funds slot {int(np.argmax(bad[bad.any(-1)][0]))}, which holds no "
                                           f"partnership")
    amounts_ok = np.where(fund, np.isfinite(awards.fund_amount) & (awards.fund_amount > 0), True)
    new_ok = np.where(real, np.isfinite(awards.new_amount) & (awards.new_amount > 0), True)
    bad = ~amounts_ok.all(-1) | ~new_ok.all(-1)
    if bad.any():
        raise fail(np.argmax(bad), "award amounts must be finite and > 0")
    bad = (fund & ((awards.fund_level < 0) | (awards.fund_level > N_LEVELS))).any(-1)
    bad |= (real & ((awards.new_level < 1) | (awards.new_level > N_LEVELS))).any(-1)
    if bad.any():
        raise fail(np.argmax(bad), f"levels must be 0..{N_LEVELS} for funded partnerships and 1..{N_LEVELS} for "
                                   f"new consortia")
    returned = np.where(fund & call.funder_money, call.award_remaining, 0.0).sum(axis=-1)
    reserved = np.where(fund, awards.fund_amount, 0.0).sum(axis=-1) + np.where(real, awards.new_amount, 0.0).sum(-1)
    bad = reserved > call.budget + returned
    if bad.any():
        i = int(np.argmax(bad))
        raise fail(i, f"awards of {reserved[i]:g} exceed the free budget {call.budget[i]:g} plus "
                      f"{returned[i]:g} returned by replaced awards")
    if new.size:
        bad = ((new < -1) | (new >= n)).any(axis=(1, 2))
        if bad.any():
            raise fail(np.argmax(bad), f"a new consortium names an organization outside 0..{n - 1}")
        counts = (new >= 0).sum(axis=-1)
        srt = np.sort(new, axis=-1)
        dup = ((srt[..., 1:] == srt[..., :-1]) & (srt[..., 1:] >= 0)).any(axis=-1)
        bad = (real & ((counts < 2) | dup)).any(axis=-1)
        if bad.any():
            raise fail(np.argmax(bad), "a new consortium needs at least 2 distinct organizations")
        joins = np.zeros((r, n), dtype=np.int64)
        rr, kk, ss = np.nonzero(new >= 0)
        np.add.at(joins, (rr, new[rr, kk, ss]), 1)
        bad = (joins > call.spare).any(axis=-1)
        if bad.any():
            i = int(np.argmax(bad))
            j = int(np.argmax(joins[i] > call.spare[i]))
            raise fail(i, f"organization {j} would join {joins[i, j]} new consortia with {call.spare[i, j]} spare "
                          f"memberships")
        bad = real.sum(axis=-1) > call.free_slot.sum(axis=-1)
        if bad.any():
            i = int(np.argmax(bad))
            raise fail(i, f"{int(real[i].sum())} new consortia for {int(call.free_slot[i].sum())} free slots")


def run_policy(call: CallState, name: str) -> Awards:
    """Call the registered policy ``name`` on ``call`` and check its awards (:func:`check_awards`)."""
    awards = get_policy(name).rule(call)
    if not isinstance(awards, Awards):
        raise PolicyError(f"funding policy {name!r} returned {type(awards).__name__}, not sim.funder.Awards")
    check_awards(call, awards, name)
    return awards


def call_due(step: int, params: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Which runs call at ``step`` and the call's index: ``step = call_start + k call_interval``, ``k < n_calls``.

    Runs with ``funder_policy = "none"`` never call.
    """
    since = step - np.asarray(params["call_start"])
    k = since // np.asarray(params["call_interval"])
    due = (since >= 0) & (since % np.asarray(params["call_interval"]) == 0) & (k < np.asarray(params["n_calls"]))
    due &= np.asarray(params["funder_policy"]) != "none"
    return due, np.where(due, k, -1)


def pay(requested: np.ndarray, remaining: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A payment capped at the award's remainder: returns ``(paid, remaining - paid)``.

    With ``remaining = +inf`` (a prior grant outside the funder's budget) the payment is ``requested``
    exactly, since ``min(x, inf) = x``.
    """
    paid = np.minimum(requested, remaining)
    return paid, remaining - paid


# --- the built-in policies ------------------------------------------------------------------------------------


@register_policy("none")
def none(call: CallState) -> Awards:
    """No awards: the funder does nothing."""
    return Awards.none(call)


@register_policy("mandate")
def mandate(call: CallState) -> Awards:
    """Assemble consortia of applicants (known to each other or not) at the required rung from day one."""
    p = call.params
    members = assemble(call, k=p["grants_per_call"], size=p["n_orgs"], min_size=p["call_size"],
                       min_sectors=p["call_sectors"], amount=p["grant_size"], budget=call.budget)
    return Awards.new_consortia(call, members, amount=p["grant_size"], strategy="funder_forced",
                                level=p["forced_level"], tag=2)


@register_policy("patient")
def patient(call: CallState) -> Awards:
    """Fund partnerships that already formed (by mean trust) and let them climb at their own pace."""
    p = call.params
    ok = eligible(call, origin=("convened", "setup"), min_members=p["call_size"], min_sectors=p["call_sectors"],
                  funded=False, ever_awarded=False)
    pick = top(call.mean_trust, ok, k=p["grants_per_call"], amount=p["grant_size"], budget=call.budget)
    return Awards.fund_existing(call, pick, amount=p["grant_size"], strategy="funder_patient", level=0, tag=2)


@register_policy("staged")
def staged(call: CallState) -> Awards:
    """Networking money to new consortia first; collaboration money to those that climbed to staged_level."""
    p = call.params
    ok = eligible(call, tag=1, min_level=p["staged_level"])
    collab = top(call.mean_trust, ok, k=p["grants_per_call"], amount=p["grant_size"], budget=call.budget)
    a = Awards.fund_existing(call, collab, amount=p["grant_size"], strategy="funder_patient", level=0, tag=2)
    n_a = collab.sum(axis=-1)
    amount = p["staged_share"] * p["grant_size"]
    left = np.maximum(p["grants_per_call"] - n_a, 0)
    budget = call.budget - n_a * p["grant_size"]
    members = assemble(call, k=np.where(amount > 0, left, 0), size=p["n_orgs"], min_size=p["call_size"],
                       min_sectors=p["call_sectors"], amount=amount, budget=budget)
    b = Awards.new_consortia(call, members, amount=amount, strategy="funder_patient", level=1, tag=1)
    return Awards.combine(a, b)


@register_policy("applicant_led")
def applicant_led(call: CallState) -> Awards:
    """Require consortia at the required rung, as ``mandate`` does, but let the applicants choose their partners.

    HCAP's design (grants "given only to consortia of local providers", who formed them; NORC for ASPE 2012)
    and the guide's "an organizational relationship is built on many one-to-one relationships". Per consortium
    (at most ``min(grants_per_call, free slots, floor(budget / grant_size))`` a call): the lead applicant is the
    available organization (spare capacity, in no other consortium of this call) with the highest funder
    priority, the same organization ``mandate`` would pick first; it then fills the seats one at a time with the
    available organization it trusts most (the convener's invitation rule, :func:`sim.community_rules.invitees`),
    taken from a sector the consortium does not cover yet while it covers fewer than ``call_sectors``. Invitees
    join (the grant is the incentive, as under ``mandate``), so there is no acceptance draw and no trust
    threshold: the call, not the partners' trust, sets the rung. A consortium short of ``call_size`` members or
    ``call_sectors`` sectors is dropped (its members are not offered again this call). The lead takes seat 0, the
    invitees follow in invitation order; the consortium plays ``forced_level`` from day one under
    ``funder_forced`` (the deadline review), with ``grant_size`` each.
    """
    p = call.params
    r, s = call.n_rows, call.n_seats
    limit = np.minimum(_award_limit(p["grants_per_call"], p["grant_size"], call.budget), call.free_slot.sum(axis=-1))
    width = int(limit.max()) if r else 0
    size = np.minimum(_per_row(p["n_orgs"], r), s)
    min_size, min_sectors = _per_row(p["call_size"], r), _per_row(p["call_sectors"], r)
    sector = call.sector.astype(np.int64)
    n_sectors = int(sector.max()) + 1 if sector.size else 1
    rows = np.arange(r)
    out = np.full((r, width, s), -1, dtype=np.int64)
    available = call.spare >= 1
    for c in range(width):
        pool = available & (c < limit)[:, None]
        go = pool.any(axis=-1)
        lead = np.argmax(np.where(pool, call.priority, -np.inf), axis=-1)
        picked = np.full((r, s), -1, dtype=np.int64)
        covered = np.zeros((r, n_sectors), dtype=bool)
        picked[go, 0] = lead[go]
        pool[rows[go], lead[go]] = False
        covered[rows[go], sector[rows[go], lead[go]]] = True
        trust_of_lead = call.trust[rows, lead]  # T[lead, j]
        for seat in range(1, s):
            need_sector = covered.sum(axis=-1) < min_sectors
            uncovered = ~np.take_along_axis(covered, sector, axis=-1)
            choice = pool & np.where(need_sector[:, None], uncovered, True)
            choice = np.where(choice.any(axis=-1)[:, None], choice, pool)  # no uncovered sector left: any sector
            j = invitees(trust_of_lead, choice & (go & (seat < size))[:, None], 1)[:, 0]
            want = j >= 0
            picked[want, seat] = j[want]
            pool[rows[want], j[want]] = False
            covered[rows[want], sector[rows[want], j[want]]] = True
        keep = go & ((picked >= 0).sum(axis=-1) >= min_size) & (covered.sum(axis=-1) >= min_sectors)
        out[keep, c] = picked[keep]
        rr, ss = np.nonzero(picked >= 0)
        available[rr, picked[rr, ss]] = False
    return Awards.new_consortia(call, out, amount=p["grant_size"], strategy="funder_forced",
                                level=p["forced_level"], tag=2)
