"""The community's rules (issue 15; community-design sections 4.F, 4.P phase 0, 4.G and 7), as plain functions.

Each function works elementwise over a leading run axis, so the vectorized community engine calls it with a
whole batch and the Mesa twin with arrays of one run. The partnership rules (contribution, outcome, trust
update, ...) stay in :mod:`sim.rules`; these are the rules only a community has: who convenes, who is
invited and accepts, who is recruited, and how reputation reaches strangers.
"""

from __future__ import annotations

import numpy as np

from .rules import sigmoid

__all__ = [
    "convene_probability",
    "acceptance_probability",
    "choose_convener",
    "invitees",
    "recruit_candidate",
    "reputation",
    "gossip_trust",
    "GossipScratch",
    "GOSSIP_BLOCK",
    "benefit_share",
    "gini",
]


def convene_probability(leadership: np.ndarray, convene_rate: np.ndarray) -> np.ndarray:
    """Chance a month that an organization convenes a partnership: ``convene_rate * (0.5 + l)``.

    ``convene_rate`` is a scalar or one value per run (R,) against ``leadership`` (R, N). The guide:
    "Organizations need strong leaders with vision, commitment, and the ability to win others
    over"; CCAT proposition 4: a lead agency convenes.
    """
    rate = np.asarray(convene_rate, dtype=np.float64)
    if 0 < rate.ndim < np.ndim(leadership):
        rate = rate[..., None]
    return rate * (0.5 + leadership)


def acceptance_probability(trust_in_inviter: np.ndarray, need: np.ndarray, individualism: np.ndarray,
                           memberships: np.ndarray, max_memberships: np.ndarray,
                           accept_bias: np.ndarray) -> np.ndarray:
    """Chance an invitee accepts: ``sigmoid(accept_bias + 4 (T - need) - 3 u) * (M - m) / M``.

    A threshold decision on trust (Castelfranchi & Falcone), held back by individualism (the guide: "many
    people think they can do better if they fight their battles alone") and by a lack of spare capacity.
    All arguments broadcast together.
    """
    spare = (max_memberships - memberships) / max_memberships
    return sigmoid(accept_bias + 4.0 * (trust_in_inviter - need) - 3.0 * individualism) * np.maximum(spare, 0.0)


def choose_convener(u: np.ndarray, p: np.ndarray, can: np.ndarray) -> np.ndarray:
    """This month's convener of each run: the candidate with the smallest ``u``, or -1 when there is none.

    Parameters
    ----------
    u : ndarray (R, N)
        The CONVENE uniforms.
    p : ndarray (R, N)
        :func:`convene_probability`.
    can : ndarray of bool (R, N)
        Who may convene (spare capacity).
    """
    candidate = can & (u < p)
    key = np.where(candidate, u, np.inf)
    c = np.argmin(key, axis=-1)
    return np.where(candidate.any(axis=-1), c, -1)


def invitees(trust_of_convener: np.ndarray, eligible: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """The ``k`` eligible organizations the convener trusts most, most trusted first (-1 padded).

    Ties go to the lower index (a stable sort of -T). ``k`` may differ per run; the result has
    ``max(k)`` columns.

    Parameters
    ----------
    trust_of_convener : ndarray (R, N)
        ``T[c, j]``.
    eligible : ndarray of bool (R, N)
    k : int or ndarray of int (R,)
    """
    k = np.broadcast_to(np.asarray(k, dtype=np.int64), trust_of_convener.shape[:-1])
    width = int(k.max()) if k.size else 0
    key = np.where(eligible, -trust_of_convener, np.inf)
    order = np.argsort(key, axis=-1, kind="stable")[..., :width]
    rank = np.arange(width)
    ok = np.take_along_axis(eligible, order, axis=-1) & (rank < k[..., None])
    return np.where(ok, order, -1)


def recruit_candidate(score: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """The eligible organization with the largest score (ties: the lower index), or -1 when none is eligible."""
    key = np.where(eligible, score, -np.inf)
    j = np.argmax(key, axis=-1)
    return np.where(eligible.any(axis=-1), j, -1)


_SMALLEST = float(np.nextafter(0.0, 1.0))  # 5e-324, the smallest positive double


def reputation(trust: np.ndarray, acquainted: np.ndarray, *,
               scratch: GossipScratch | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What i's acquaintances think of j: ``rho = (A @ A) / (A @ K)`` with ``A = K * T``.

    ``rho[i, j]`` is the mean, over referees k who have worked with both i and j, of k's trust in j, weighted
    by i's trust in k (a one-step normalised propagation of the EigenTrust kind; Sabater-Mir & Sierra's
    social reputation where "interaction is scarce"). Referees speak from direct experience only, so
    hearsay does not echo.

    Always multiplies (..., N, N) by (..., N, N): BLAS blocks by shape, so this keeps a run's numbers the
    same in any batch (a stacked product equals each product alone, bit for bit).

    With ``scratch`` (a :class:`GossipScratch` of ``trust``'s shape, ``block=None``) the results are written into
    its arrays, which are returned (valid until its next use), instead of into new ones: the same operations in
    the same order, so the same numbers bit for bit.

    Returns
    -------
    rho : ndarray (..., N, N)
        The reputation (0 where there is no referee).
    has_referee : ndarray of bool (..., N, N)
        Whether some referee with nonzero weight knows both.
    """
    w = GossipScratch(trust.shape, block=None) if scratch is None else scratch
    if w.k.shape != trust.shape:
        raise ValueError(f"scratch has shape {w.k.shape}, trust {trust.shape}: they must match")
    return _reputation(trust, acquainted, w.k, w.a, w.num, w.den, w.has)


def _reputation(trust: np.ndarray, acquainted: np.ndarray, k: np.ndarray, a: np.ndarray, num: np.ndarray,
                den: np.ndarray, has: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    np.copyto(k, acquainted)
    np.multiply(k, trust, out=a)
    np.matmul(a, a, out=num)
    np.matmul(a, k, out=den)
    np.greater(den, 0.0, out=has)
    # Without a referee every term of both sums is 0 (a, k >= 0), so num is 0 there: dividing it by the smallest
    # positive double keeps it 0, and max(den, that) is den wherever den > 0: one unmasked pass replaces patching
    # den and num through masks (masked passes are slow).
    np.maximum(den, _SMALLEST, out=den)
    num /= den
    return num, has


#: Pairs per block of the gossip step (whole runs, at least one): a block's arrays (64 runs of 30 x 30 pairs, 460 KB
#: a float array) stay in the core's cache through the step's dozen passes, which then cost about half as much as
#: over the whole batch.
GOSSIP_BLOCK = 64 * 30 * 30


class GossipScratch:
    """Work arrays for :func:`reputation` and :func:`gossip_trust` on trust of one shape (R, N, N) (or (N, N)).

    They hold a block of runs of about ``block`` pairs (at least one run; all of them with ``block=None``):
    :func:`gossip_trust` goes through the batch a block at a time. The engine keeps one for its whole run and
    reuses it every month, so the gossip step allocates nothing (about ten (R, N, N) temporaries a month
    otherwise)."""

    def __init__(self, shape: tuple[int, ...], block: int | None = GOSSIP_BLOCK):
        self.shape = tuple(shape)
        held = self.shape
        if block is not None and len(held) == 3:
            held = (min(held[0], max(1, block // (held[1] * held[2]))),) + held[1:]
        self.k, self.a, self.num, self.den = (np.empty(held) for _ in range(4))
        self.has = np.empty(held, dtype=bool)
        self.mask = np.empty(held, dtype=bool)


def gossip_trust(trust: np.ndarray, acquainted: np.ndarray, gossip: np.ndarray | float, *,
                 out: np.ndarray | None = None, scratch: GossipScratch | None = None) -> np.ndarray:
    """Trust after one month of reputation: strangers' trust moves ``gossip`` of the way toward ``rho``.

    Only pairs that have not worked together (and have a referee) change:
    ``T + g (rho - T)``, clipped to [0, 1] (a convex step, so the clip only guards rounding). Third-party
    gossip after Burt & Knez (1995); "common third parties" after Gulati & Gargiulo. ``gossip`` is a
    scalar or one value per run. With ``out`` (``trust`` itself, or an array holding a copy of it) the result
    is written into ``out``, which is returned: the engine updates its trust in place rather than building a
    new (R, N, N) array every month. ``scratch`` (a :class:`GossipScratch` of ``trust``'s shape) holds the work
    arrays; without it they are allocated for this call.

    Trust of shape (R, N, N) is updated a block of runs at a time (:data:`GOSSIP_BLOCK`): every operation is
    elementwise or a stacked product, which equals each run's product alone, so the blocks change no number.
    """
    w = GossipScratch(trust.shape) if scratch is None else scratch
    if w.shape != trust.shape:
        raise ValueError(f"scratch has shape {w.shape}, trust {trust.shape}: they must match")
    if out is None:
        out = np.empty_like(trust)
    g = np.asarray(gossip, dtype=np.float64)
    if g.ndim:
        g = g.reshape(g.shape + (1, 1))
    c = w.k.shape[0] if trust.ndim == 3 else None
    if c is None or c == len(trust):
        _gossip_block(trust, acquainted, g, out, w, len(w.k) if c else None)
        return out
    per_run = g.ndim == 3 and len(g) == len(trust)
    for s in range(0, len(trust), c):
        e = min(s + c, len(trust))
        _gossip_block(trust[s:e], acquainted[s:e], g[s:e] if per_run else g, out[s:e], w, e - s)
    return out


def _gossip_block(trust: np.ndarray, acquainted: np.ndarray, g: np.ndarray, out: np.ndarray, w: GossipScratch,
                  m: int | None) -> None:
    """:func:`gossip_trust` on one block (``m`` runs of the scratch's arrays; all of them when None)."""
    k, a, num, den, has, mask = (x if m is None else x[:m] for x in (w.k, w.a, w.num, w.den, w.has, w.mask))
    rho, has = _reputation(trust, acquainted, k, a, num, den, has)
    n = trust.shape[-1]
    stranger = np.less(acquainted, has, out=mask)  # a referee, and they have not worked together
    stranger.reshape(-1, n * n)[:, :: n + 1] = False  # nor is anyone a stranger to itself
    # The step g (rho - T), zeroed off the strangers (rho is finite everywhere), is added to every pair: T + 0 is T
    # to the bit, and the sum commutes, so this is T + g (rho - T) on the strangers and T elsewhere, as a masked
    # write would give, in plain passes (np.putmask cost about five of them).
    step = rho
    step -= trust
    step *= g
    step *= stranger
    np.add(trust, step, out=out)
    np.clip(out, 0.0, 1.0, out=out)  # trust, and so every T + 0, is within [0, 1]: only the step can move


def benefit_share(benefit: np.ndarray, capacity: np.ndarray, total_capacity: np.ndarray) -> np.ndarray:
    """A member's gross share of its partnership's benefit, ``B c_i / sum_A c_j`` (the benefit part of
    :func:`sim.rules.member_payoffs`), summed into the organization's ``benefit_received``."""
    return benefit * capacity / total_capacity


def gini(x: np.ndarray) -> np.ndarray:
    """Gini coefficient of each row: ``2 sum(i x_(i)) / (N sum x) - (N + 1) / N``, NaN where ``sum x = 0``."""
    x = np.sort(np.asarray(x, dtype=np.float64), axis=-1)
    n = x.shape[-1]
    total = x.sum(axis=-1)
    i = np.arange(1, n + 1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = 2.0 * (x * i).sum(axis=-1) / (n * total) - (n + 1.0) / n
    return np.where(total > 0, g, np.nan)
