"""The counter-based streams: the published SplitMix64, keying, and statistical quality (scipy.stats)."""

import numpy as np
import pytest
from scipy import stats

from sim import rng
from sim.rng import Purpose

MASK = 2**64 - 1


def splitmix64_reference(state: int, n: int) -> list[int]:
    """Vigna's reference C SplitMix64, in plain Python integers."""
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def test_splitmix64_published_vector():
    # First outputs of SplitMix64 seeded with 0 (as used to seed xoshiro generators).
    assert [int(v) for v in rng.splitmix64(0, 3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.mark.parametrize("state", [0, 1, 12345, 2**63 + 17, MASK])
def test_splitmix64_matches_reference_bit_for_bit(state):
    assert [int(v) for v in rng.splitmix64(state, 50)] == splitmix64_reference(state, 50)


def test_draws_are_splitmix_of_the_step_key():
    keys = rng.run_keys(rng.run_seeds(9, 4))
    got = rng.bits(keys, 5, Purpose.MISJUDGE, np.arange(10, dtype=np.uint64))
    for r, key in enumerate(rng.step_keys(keys, 5, Purpose.MISJUDGE)):
        assert [int(v) for v in got[r]] == splitmix64_reference(int(key), 10)


def test_run_seeds_do_not_depend_on_batch():
    all_ = rng.run_seeds(42, 1000)
    assert np.array_equal(rng.run_seeds(42, 10), all_[:10])
    assert np.array_equal(rng.run_seeds(42, 5, start=500), all_[500:505])
    assert len(np.unique(all_)) == 1000


def test_step_uniforms_equal_separate_draws():
    keys = rng.run_keys(rng.run_seeds(3, 50))
    idx = np.arange(7, dtype=np.uint64)
    a, b = rng.step_uniforms(keys, 11, [(Purpose.CONTRIBUTE, idx), (Purpose.MISJUDGE, rng.pair_index(7))])
    assert np.array_equal(a, rng.uniforms(keys, 11, Purpose.CONTRIBUTE, idx))
    assert np.array_equal(b, rng.uniforms(keys, 11, Purpose.MISJUDGE, rng.pair_index(7)))


def test_scalar_key_equals_batch_row():
    seeds = rng.run_seeds(5, 8)
    keys = rng.run_keys(seeds)
    batch = rng.uniforms(keys, 3, Purpose.EXIT, np.arange(6))
    one = rng.uniforms(rng.run_keys(seeds[5]), 3, Purpose.EXIT, np.arange(6))
    assert np.array_equal(batch[5], one)


def _u(step, purpose, n_runs=20000, index=0, root=1):
    keys = rng.run_keys(rng.run_seeds(root, n_runs))
    return rng.uniforms(keys, step, purpose, index)


def test_uniformity_ks_and_chi2():
    u = _u(1, Purpose.SUCCESS, 100_000)
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    counts = np.bincount((u * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_normals_are_standard_normal():
    keys = rng.run_keys(rng.run_seeds(2, 50_000))
    z = rng.normals(keys, 0, Purpose.TRUST, 3)
    assert np.isfinite(z).all()
    assert stats.kstest(z, "norm").pvalue > 1e-3


@pytest.mark.parametrize(
    "a, b",
    [
        ((1, Purpose.CONTRIBUTE, 0), (1, Purpose.EXIT, 0)),  # purposes
        ((1, Purpose.SUCCESS, 0), (2, Purpose.SUCCESS, 0)),  # consecutive steps
        ((7, Purpose.MISJUDGE, 0), (7, Purpose.MISJUDGE, 1)),  # neighbouring indices
    ],
)
def test_streams_are_independent(a, b):
    x, y = _u(a[0], a[1], index=a[2]), _u(b[0], b[1], index=b[2])
    assert abs(stats.pearsonr(x, y).statistic) < 0.03
    assert stats.spearmanr(x, y).pvalue > 1e-3
    # joint uniformity on a 10 x 10 grid
    joint = np.histogram2d(x, y, bins=10, range=[[0, 1], [0, 1]])[0].ravel()
    assert stats.chisquare(joint).pvalue > 1e-3


def test_neighbouring_runs_are_independent():
    u = _u(4, Purpose.CONTRIBUTE, 40_000)
    assert abs(stats.pearsonr(u[:-1], u[1:]).statistic) < 0.03
    assert stats.kstest(np.abs(u[:-1] - u[1:]), stats.triang(c=0, loc=0, scale=1).cdf).pvalue > 1e-3


def test_bad_root_seed():
    with pytest.raises(ValueError, match="seed"):
        rng.run_seeds(-1, 3)


def test_step_layout_follows_the_declared_draws():
    n = 5
    layout = rng.step_layout(n)
    assert [p for p, _ in layout] == [p for p, _ in rng.STEP_DRAWS]
    shapes = {"org": (n,), "run": (1,), "pair": (n, n)}
    for (purpose, idx), (_, kind) in zip(layout, rng.STEP_DRAWS, strict=True):
        assert idx.shape == shapes[kind], purpose
    np.testing.assert_array_equal(layout[2][1], rng.pair_index(n))
    keys = rng.run_keys(rng.run_seeds(4, 3))
    drawn = rng.step_draws(keys, 9, layout)
    for purpose, idx in layout:
        np.testing.assert_array_equal(drawn[purpose], rng.uniforms(keys, 9, purpose, idx))


def test_trait_index_is_trait_times_max_orgs_plus_org():
    idx = rng.trait_index(3)
    assert idx.shape == (len(rng.TRAITS), 3)
    assert idx[2, 1] == 2 * rng.MAX_ORGS + 1
    assert rng.TRAITS == ("communication", "leadership", "individualism", "identity")


def _mix_plain(z: np.ndarray) -> np.ndarray:
    """The mix as first written (whole-array passes), the reference of the blocked one."""
    z = z.copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _uniforms_plain(keys, step, purpose, index) -> np.ndarray:
    k = rng.step_keys(keys, step, purpose)
    idx = (np.asarray(index, dtype=np.uint64).reshape(-1) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = _mix_plain(np.add.outer(k, idx))
    return ((z >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(np.shape(keys) + np.shape(index))


@pytest.mark.parametrize("extra", [-1, 0, 1, 2 * rng._MIX_BLOCK + 5])
def test_blocked_mix_and_uniforms_give_the_plain_bits(extra):
    """The mix and the uniforms go through large arrays a cache-sized block at a time; every value is the plain
    whole-array computation's (and the pure-Python SplitMix64's), on each side of a block's edge, contiguous or not."""
    n = rng._MIX_BLOCK + extra
    rs = np.random.default_rng(n)
    z = rs.integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + rs.integers(0, 2, size=n, dtype=np.uint64)
    want = _mix_plain(z)
    assert np.array_equal(rng._mix_inplace(z.copy()), want)
    assert np.array_equal(rng._mix_inplace(z.copy().reshape(-1, 1)).reshape(-1), want)  # any contiguous shape
    wide = np.stack([z, z], axis=1)
    assert np.array_equal(rng._mix_inplace(wide[:, 0]), want)  # a strided view, mixed in place
    assert np.array_equal(wide[:, 0], want) and np.array_equal(wide[:, 1], z)
    for i in rs.integers(0, n, 5):
        assert int(want[i]) == splitmix64_reference((int(z[i]) - 0x9E3779B97F4A7C15) % 2**64, 1)[0]
    keys = rng.run_keys(rng.run_seeds(11, 3))
    index = np.arange(n // 3 + 1, dtype=np.uint64)
    u = rng.uniforms(keys, 7, Purpose.MISJUDGE, index)
    assert np.array_equal(u, _uniforms_plain(keys, 7, Purpose.MISJUDGE, index))
    assert np.array_equal(rng.uniforms(keys[1], 7, Purpose.MISJUDGE, index), u[1])
    layout = [(Purpose.CONTRIBUTE, np.arange(5, dtype=np.uint64)), (Purpose.MISJUDGE, index)]
    for (purpose, idx), got in zip(layout, rng.step_uniforms(keys, 7, layout), strict=True):
        assert np.array_equal(got, _uniforms_plain(keys, 7, purpose, idx))
    at = rng.uniforms_at(keys[:, None], 7, Purpose.MISJUDGE, index[None, :])
    assert np.array_equal(at, u)
