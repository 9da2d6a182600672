"""Counter-based random streams keyed by (run seed, step, purpose, index).

Every random number of the model is a pure function of four integers: the
run's seed, the step (0 for set-up), the purpose of the draw (below) and an
index (an organization ``i``, or a pair ``i * MAX_ORGS + j``). There is no
generator state to carry, so a run draws the same numbers alone or in a batch
of a million, first or last, on any worker, and the Mesa model draws exactly
what the vectorized engine draws.

The generator is SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators"; the finalizer is Stafford's Mix13): the value
at ``index`` is the ``index``-th output of a SplitMix64 sequence whose state
starts at a key derived from (seed, step, purpose). ``tests/test_rng.py``
checks it bit for bit against a pure-Python SplitMix64 and its published
first outputs, and checks uniformity and independence with scipy.stats. It
costs about 9 integer operations a draw over NumPy uint64 arrays, about three
times cheaper than Philox-4x32-10 in NumPy.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from scipy.special import ndtri

from .params import check_seed

__all__ = [
    "Purpose",
    "MAX_ORGS",
    "mix64",
    "splitmix64",
    "run_seeds",
    "run_keys",
    "step_keys",
    "bits",
    "uniforms",
    "normals",
    "pair_index",
    "TRAITS",
    "trait_index",
    "STEP_DRAWS",
    "step_layout",
    "step_uniforms",
    "step_draws",
    "SLOT_STRIDE",
    "community_index",
    "community_trait_index",
    "slot_org_index",
    "slot_pair_index",
    "uniforms_at",
    "slot_uniforms",
]

MAX_ORGS = 64
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


class Purpose(IntEnum):
    """What a draw is for. Values are part of the stream's key: never renumber."""

    SECTOR = 1
    GROUP = 2
    TRAITS = 3  # index = trait * MAX_ORGS + i, traits in the order of TRAITS (k, l, u, h)
    TRUST = 4  # index = i * MAX_ORGS + j
    CONTRIBUTE = 5  # index = i
    SUCCESS = 6  # index = 0
    MISJUDGE = 7  # index = i * MAX_ORGS + j
    EXIT = 8  # index = i
    # Model 5 (never renumber the above; issue 15 adds its purposes after 14)
    RECRUIT = 9  # index = i (the seat): a vacancy is filled (membership = "recruiting")
    NEW_SECTOR = 10  # index = i: a newcomer's sector, floor(4 u)
    NEW_GROUP = 11  # index = i: a newcomer's cultural group, u < 0.5
    NEW_TRAITS = 12  # index = trait * MAX_ORGS + i, traits in the order of TRAITS (normal)
    NEW_TRUST = 13  # index = a * MAX_ORGS + b, an ordered pair with a newcomer in it (normal)
    DISSOLVE = 14  # index = 0: the partnership's decision to end (dissolution = "decision")
    # The community (issue 15; Model 5 holds 9-14)
    CONVENE = 15  # index = i: organization i convenes this month (a free slot exists)
    ACCEPT = 16  # index = j: j accepts this month's convener's invitation
    RECRUIT_ACCEPT = 17  # index = slot_org_index(p, s): the invitee for vacancy (p, s) accepts
    PRIOR_TIE = 18  # step 0, index = community_index(i, j), i < j: the pair networked before
    FUNDER = 19  # index = i: the funder's priority of applicant i at a call


#: The organizations' traits, in the order of their ``Purpose.TRAITS`` streams (trait ``t`` of ``i`` is index
#: ``t * MAX_ORGS + i``): communication ``k``, leadership ``l``, individualism ``u``, identity ``h``.
#: Each is also the name of the parameter giving its mean.
TRAITS = ("communication", "leadership", "individualism", "identity")

#: The draws of one step, in the order they are drawn: each purpose and the kind of its index
#: (``"org"``: ``i``; ``"run"``: 0, one draw per run; ``"pair"``: ``i * MAX_ORGS + j``).
STEP_DRAWS: tuple[tuple[Purpose, str], ...] = (
    (Purpose.CONTRIBUTE, "org"),
    (Purpose.SUCCESS, "run"),
    (Purpose.MISJUDGE, "pair"),
    (Purpose.EXIT, "org"),
)


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer (Stafford Mix13) of uint64 values, in place when ``z`` is an array."""
    z = np.asarray(z, dtype=np.uint64)
    if z.ndim == 0:
        z = z.reshape(1)
        return _mix_inplace(z)[0]
    return _mix_inplace(z)


#: Values per block of the mix: 128 KB of uint64, which stays in the core's cache through the mix's eight
#: passes (over a batch's whole array each pass goes to memory: two to three times the cost at 400,000 values).
_MIX_BLOCK = 16384


def _mix_block(z: np.ndarray, tmp: np.ndarray) -> None:
    np.right_shift(z, _S30, out=tmp)
    z ^= tmp
    z *= _M1
    np.right_shift(z, _S27, out=tmp)
    z ^= tmp
    z *= _M2
    np.right_shift(z, _S31, out=tmp)
    z ^= tmp


def _mix_inplace(z: np.ndarray) -> np.ndarray:
    """Stafford's Mix13 of ``z`` in place (elementwise: a block at a time when ``z`` is large and contiguous)."""
    if z.size <= _MIX_BLOCK or not z.flags.c_contiguous:
        _mix_block(z, np.empty_like(z))
        return z
    flat = z.reshape(-1)
    tmp = np.empty(_MIX_BLOCK, dtype=np.uint64)
    for s in range(0, flat.size, _MIX_BLOCK):
        block = flat[s:s + _MIX_BLOCK]
        _mix_block(block, tmp[:block.size])
    return z


def _mixed_uniforms(z: np.ndarray) -> np.ndarray:
    """The uniforms of SplitMix64 states ``z`` (consumed): ``(mix64(z) >> 11) * 2**-53`` as doubles, same shape."""
    _mix_inplace(z)
    z >>= _S11
    u = z.astype(np.float64)
    u *= _TO_UNIT
    return u


def splitmix64(state: int, n: int) -> np.ndarray:
    """The first ``n`` outputs of SplitMix64 started at ``state`` (as in Vigna's reference C)."""
    z = np.uint64(state) + np.arange(1, n + 1, dtype=np.uint64) * GOLDEN
    return _mix_inplace(z)


def run_seeds(root_seed: int, n_runs: int, start: int = 0) -> np.ndarray:
    """Per-run seeds: run ``i`` of root seed ``s`` is output ``i`` of SplitMix64(s).

    Run ``i``'s seed does not depend on ``n_runs`` or ``start``, so a batch,
    a chunk of a sweep and a single run agree.
    """
    root_seed = check_seed(root_seed)
    i = np.arange(start + 1, start + n_runs + 1, dtype=np.uint64)
    return _mix_inplace(np.uint64(root_seed) + i * GOLDEN)


def run_keys(seeds: np.ndarray | int) -> np.ndarray:
    """A run's key (its seed mixed once); compute it once per run."""
    return mix64(np.array(seeds, dtype=np.uint64, copy=True))


def _step_purpose_key(step: int, purpose: int) -> np.uint64:
    return mix64(np.array([step * 256 + purpose], dtype=np.uint64) + GOLDEN)[0]


def step_keys(keys: np.ndarray, step: int, purpose: Purpose) -> np.ndarray:
    """The SplitMix64 starting state of each run's stream for (step, purpose)."""
    k = np.asarray(keys, dtype=np.uint64) ^ _step_purpose_key(step, int(purpose))
    return mix64(k)


def _states(keys: np.ndarray, step: int, purpose: Purpose, index: np.ndarray) -> np.ndarray:
    """The SplitMix64 states of the draws (before the mix), shape ``(keys.size, index.size)``."""
    k = np.atleast_1d(step_keys(keys, step, purpose))
    idx = (np.atleast_1d(np.asarray(index, dtype=np.uint64)).reshape(-1) + np.uint64(1)) * GOLDEN
    return np.add.outer(k, idx)  # arrays wrap silently on overflow, as SplitMix64 intends


def bits(keys: np.ndarray, step: int, purpose: Purpose, index: np.ndarray) -> np.ndarray:
    """Raw uint64 draws, shape ``keys.shape + index.shape``."""
    return _mix_inplace(_states(keys, step, purpose, index)).reshape(np.shape(keys) + np.shape(index))


def uniforms(keys: np.ndarray, step: int, purpose: Purpose, index: np.ndarray) -> np.ndarray:
    """Uniform doubles in [0, 1) with 53 random bits, shape ``keys.shape + index.shape``.

    ``u < p`` is then an event of probability exactly ``p`` (to 2**-53).
    """
    return _mixed_uniforms(_states(keys, step, purpose, index)).reshape(np.shape(keys) + np.shape(index))


def normals(keys: np.ndarray, step: int, purpose: Purpose, index: np.ndarray) -> np.ndarray:
    """Standard normal draws by the inverse CDF of (0, 1)-uniforms (one uniform each)."""
    u = ((bits(keys, step, purpose, index) >> _S11).astype(np.float64) + 0.5) * _TO_UNIT
    return ndtri(u)


def pair_index(n: int) -> np.ndarray:
    """Indices ``i * MAX_ORGS + j`` of the ordered pairs of an ``n``-organization table, shape (n, n)."""
    i = np.arange(n, dtype=np.uint64)
    return i[:, None] * np.uint64(MAX_ORGS) + i[None, :]


def trait_index(n: int) -> np.ndarray:
    """Indices ``t * MAX_ORGS + i`` of the ``Purpose.TRAITS`` draws of ``n`` organizations, shape (4, n), rows in
    the order of :data:`TRAITS`."""
    return np.arange(len(TRAITS), dtype=np.uint64)[:, None] * np.uint64(MAX_ORGS) + np.arange(n, dtype=np.uint64)


_WIDE = np.uint64(2**32)
_WIDE_STRIDE = np.uint64(2**16)
#: Index stride of a partnership slot in the community: slot p's seat s draws at ``p * SLOT_STRIDE + s``.
SLOT_STRIDE = MAX_ORGS


def community_index(i: np.ndarray | int, j: np.ndarray | int) -> np.ndarray:
    """A pair's index among a community's organizations: ``i * 64 + j`` below 64, else ``2**32 + i * 2**16 + j``.

    Equal to :func:`pair_index` for communities of up to 64 organizations (so a community's set-up draws are the
    partnership model's), injective up to 65,536 organizations, and the two ranges cannot collide (the first is
    below 4096, the second at or above 2**32).
    """
    i, j = np.asarray(i, dtype=np.uint64), np.asarray(j, dtype=np.uint64)
    small = (i < MAX_ORGS) & (j < MAX_ORGS)
    return np.where(small, i * np.uint64(MAX_ORGS) + j, _WIDE + i * _WIDE_STRIDE + j)


def community_trait_index(t: np.ndarray | int, i: np.ndarray | int) -> np.ndarray:
    """Trait ``t`` of organization ``i``: ``t * 64 + i`` below 64 (as :func:`trait_index`), else
    ``2**32 + t * 2**16 + i``."""
    t, i = np.asarray(t, dtype=np.uint64), np.asarray(i, dtype=np.uint64)
    return np.where(i < MAX_ORGS, t * np.uint64(MAX_ORGS) + i, _WIDE + t * _WIDE_STRIDE + i)


def slot_org_index(p: np.ndarray | int, s: np.ndarray | int) -> np.ndarray:
    """Seat ``s`` of slot ``p``: ``p * 64 + s`` (slot 0's seats draw the partnership model's indices)."""
    return np.asarray(p, dtype=np.uint64) * np.uint64(SLOT_STRIDE) + np.asarray(s, dtype=np.uint64)


def slot_pair_index(p: np.ndarray | int, s: np.ndarray | int, s2: np.ndarray | int) -> np.ndarray:
    """Seat pair ``(s, s2)`` of slot ``p``: ``p * 4096 + s * 64 + s2`` (slot 0: :func:`pair_index`)."""
    m = np.uint64(MAX_ORGS)
    return (np.asarray(p, dtype=np.uint64) * m * m + np.asarray(s, dtype=np.uint64) * m
            + np.asarray(s2, dtype=np.uint64))


def step_layout(n: int) -> list[tuple[Purpose, np.ndarray]]:
    """The index arrays of one step's draws (:data:`STEP_DRAWS`) for an ``n``-organization table.

    ``"org"`` draws have shape (n,), the ``"run"`` draw shape (1,), ``"pair"`` draws shape (n, n).
    """
    index = {"org": np.arange(n, dtype=np.uint64), "run": np.zeros(1, dtype=np.uint64), "pair": pair_index(n)}
    return [(purpose, index[kind]) for purpose, kind in STEP_DRAWS]


def step_draws(keys: np.ndarray, step: int, layout: list[tuple[Purpose, np.ndarray]]) -> dict[Purpose, np.ndarray]:
    """One step's uniforms by purpose, shape ``keys.shape + index.shape`` each (``layout``: :func:`step_layout`)."""
    drawn = step_uniforms(keys, step, layout)
    return {purpose: u for (purpose, _), u in zip(layout, drawn, strict=True)}


def step_uniforms(keys: np.ndarray, step: int, layout: list[tuple[Purpose, np.ndarray]]) -> list[np.ndarray]:
    """Several purposes' uniforms for one step in one pass: ``[uniforms(keys, step, p, idx) for p, idx in layout]``.

    The values equal separate :func:`uniforms` calls bit for bit; drawing them
    together just saves NumPy call overhead on the engine's hot path.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    sizes = [int(np.size(idx)) for _, idx in layout]
    z = np.empty((keys.shape[0], sum(sizes)), dtype=np.uint64)
    off = 0
    for (purpose, idx), size in zip(layout, sizes, strict=False):
        k = step_keys(keys, step, purpose)
        flat = (np.asarray(idx, dtype=np.uint64).reshape(-1) + np.uint64(1)) * GOLDEN
        np.add(k[:, None], flat[None, :], out=z[:, off:off + size])
        off += size
    u = _mixed_uniforms(z)
    out, off = [], 0
    for (_, idx), size in zip(layout, sizes, strict=False):
        out.append(u[:, off:off + size].reshape((keys.shape[0],) + np.shape(idx)))
        off += size
    return out


def uniforms_at(keys: np.ndarray, step: int, purpose: Purpose, index: np.ndarray) -> np.ndarray:
    """Uniforms elementwise: ``keys`` and ``index`` broadcast together (not an outer product, as in
    :func:`uniforms`), each value the one :func:`uniforms` draws for that key and index."""
    k = step_keys(np.asarray(keys, dtype=np.uint64), step, purpose)
    z = k + (np.asarray(index, dtype=np.uint64) + np.uint64(1)) * GOLDEN
    u = _mixed_uniforms(np.array(z, dtype=np.uint64, ndmin=1))
    return u.reshape(np.broadcast_shapes(np.shape(keys), np.shape(index)))


def slot_uniforms(keys: np.ndarray, step: int, layout: list[tuple[Purpose, np.ndarray]], rows: np.ndarray,
                  bounds: list[tuple[int, int, int]]) -> list[np.ndarray]:
    """One month's partnership draws for slot-major rows of a community batch, in one pass.

    ``layout`` holds each purpose's indices per slot, shape (P, ...); ``bounds`` lists ``(slot, lo, hi)``: rows
    ``lo:hi`` are partnerships in ``slot`` of the runs ``rows[lo:hi]``. Row ``v`` of the result for a purpose
    is ``uniforms(keys[rows[v]], step, purpose, idx[slot])``, as :func:`step_uniforms` of the whole batch would
    give at ``[rows, slots]``, without drawing the slots no run uses or gathering.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    sizes = [int(np.size(idx[0])) for _, idx in layout]
    k = [step_keys(keys, step, purpose)[rows] for purpose, _ in layout]
    flat = [(np.asarray(idx, dtype=np.uint64).reshape(len(idx), -1) + np.uint64(1)) * GOLDEN for _, idx in layout]
    z = np.empty((len(rows), sum(sizes)), dtype=np.uint64)
    for slot, lo, hi in bounds:
        off = 0
        for kk, ff, size in zip(k, flat, sizes, strict=True):
            np.add(kk[lo:hi, None], ff[slot][None, :], out=z[lo:hi, off:off + size])
            off += size
    u = _mixed_uniforms(z)
    out, off = [], 0
    for (_, idx), size in zip(layout, sizes, strict=True):
        out.append(u[:, off:off + size].reshape((len(rows),) + np.shape(idx)[1:]))
        off += size
    return out
