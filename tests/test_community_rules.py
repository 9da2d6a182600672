"""The community's rule functions and random-draw layouts (community-design sections 4, 8 and 13)."""

from __future__ import annotations

import numpy as np
import pytest

from sim import community_rules as cr
from sim import rng
from sim.community_params import community_params
from sim.params import ParamError


def test_reputation_hand_built_three_organizations():
    # i = 0 knows k = 1, k knows j = 2, i does not know j: T_ij' = T_ij + g (T_kj - T_ij)
    t = np.array([[0.0, 0.8, 0.2], [0.6, 0.0, 0.9], [0.1, 0.7, 0.0]])
    k = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool)
    g = 0.25
    out = cr.gossip_trust(t, k, g)
    assert out[0, 2] == t[0, 2] + g * (t[1, 2] - t[0, 2])
    assert out[2, 0] == t[2, 0] + g * (t[1, 0] - t[2, 0])
    # acquainted pairs and the diagonal never change
    assert np.array_equal(out[k], t[k]) and np.array_equal(np.diag(out), np.diag(t))


def test_reputation_weights_referees_by_trust_and_needs_both_acquainted():
    rs = np.random.default_rng(1)
    n = 7
    t = rs.random((n, n))
    np.fill_diagonal(t, 0)
    k = rs.random((n, n)) < 0.4
    k = k | k.T
    np.fill_diagonal(k, False)
    rho, has = cr.reputation(t, k)
    for i in range(n):
        for j in range(n):
            ref = [m for m in range(n) if k[i, m] and k[m, j]]
            w = np.array([t[i, m] for m in ref])
            if w.sum() > 0:
                assert has[i, j] and rho[i, j] == pytest.approx(np.dot(w, [t[m, j] for m in ref]) / w.sum())
            else:
                assert not has[i, j] and rho[i, j] == 0.0


def test_gossip_zero_is_identity_and_batch_invariant():
    rs = np.random.default_rng(2)
    t = rs.random((9, 30, 30))
    k = rs.random((9, 30, 30)) < 0.2
    k = k | k.transpose(0, 2, 1)
    assert np.array_equal(cr.gossip_trust(t, k, 0.0), t)
    g = rs.random(9) * 0.3
    whole = cr.gossip_trust(t, k, g)
    for lo, hi in ((0, 1), (1, 8), (8, 9)):
        assert np.array_equal(cr.gossip_trust(t[lo:hi], k[lo:hi], g[lo:hi]), whole[lo:hi])
    assert ((whole >= 0) & (whole <= 1)).all()


def _gossip_reference(t: np.ndarray, k: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The gossip step written plainly, as the engine first had it (masked writes; the twin docked to it)."""
    kf = k.astype(np.float64)
    a = kf * t
    num, den = a @ a, a @ kf
    has = den > 0
    rho = np.where(has, num / np.where(has, den, 1.0), 0.0)
    n = t.shape[-1]
    stranger = ~k & has & ~np.eye(n, dtype=bool)
    new = np.clip(t + g[:, None, None] * (rho - t), 0.0, 1.0)
    return np.where(stranger, new, t)


@pytest.mark.parametrize("n", [4, 7, 30])
def test_gossip_equals_the_plain_masked_step_bit_for_bit(n):
    """The fused passes (a zeroed step added to every pair, den floored at the smallest double), a block of runs at
    a time, give the plain masked step's bits, in place or not, with and without work arrays, in one block or
    several, with isolated organizations (no referee), tiny trust (a subnormal weight) and trust at 0 and 1."""
    rs = np.random.default_rng(n)
    r = 12
    t = rs.random((r, n, n)) ** 2
    t[rs.random((r, n, n)) < 0.1] = 1.0
    t[rs.random((r, n, n)) < 0.1] = 0.0
    t[0] *= 1e-300  # products of weights underflow to subnormals and to 0
    k = rs.random((r, n, n)) < 0.35
    k[:, :, -1] = k[:, -1, :] = False  # the last organization knows no one
    k = k | k.transpose(0, 2, 1)
    k[:, np.arange(n), np.arange(n)] = False
    t[:, np.arange(n), np.arange(n)] = 0.0
    g = rs.random(r)
    g[1] = 1.0
    ref = _gossip_reference(t, k, g)
    assert not np.array_equal(ref, t)  # some pairs move
    assert np.array_equal(cr.gossip_trust(t, k, g), ref)
    w = cr.GossipScratch(t.shape)
    assert np.array_equal(cr.gossip_trust(t, k, g, scratch=w), ref)
    inplace = t.copy()
    assert cr.gossip_trust(inplace, k, g, out=inplace, scratch=w) is inplace
    assert np.array_equal(inplace, ref)
    assert np.array_equal(np.signbit(inplace), np.signbit(ref))  # not even a zero's sign differs
    blocks = cr.GossipScratch(t.shape, block=5 * n * n)  # blocks of 5, 5 and 2 runs
    assert blocks.k.shape == (5, n, n)
    inplace = t.copy()
    cr.gossip_trust(inplace, k, g, out=inplace, scratch=blocks)
    assert np.array_equal(inplace, ref)
    assert np.array_equal(cr.gossip_trust(t, k, 0.3, scratch=blocks), _gossip_reference(t, k, np.full(r, 0.3)))


def test_convener_is_smallest_u_candidate_and_none_without_candidates():
    u = np.array([[0.5, 0.02, 0.01, 0.03], [0.9, 0.9, 0.9, 0.9]])
    p = np.full((2, 4), 0.04)
    can = np.array([[True, True, False, True], [True] * 4])
    assert cr.choose_convener(u, p, can).tolist() == [1, -1]
    lead = np.array([[0.0, 0.5, 1.0]])
    assert np.allclose(cr.convene_probability(lead, np.array([0.02])), [[0.01, 0.02, 0.03]])


def test_invitees_most_trusted_first_ties_to_lower_index():
    t = np.array([[0.0, 0.4, 0.9, 0.4, 0.05, 0.7]])
    ok = np.array([[False, True, True, True, False, True]])
    assert cr.invitees(t, ok, 3).tolist() == [[2, 5, 1]]
    assert cr.invitees(t, ok, 6).tolist() == [[2, 5, 1, 3, -1, -1]]


def test_acceptance_and_recruit_candidate():
    a = cr.acceptance_probability(np.array([0.1, 0.6]), 0.1, 0.3, np.array([0, 2]), 3, 2.0)
    assert a[0] == pytest.approx(1 / (1 + np.exp(-(2.0 - 0.9))))
    assert a[1] == pytest.approx(1 / (1 + np.exp(-(2.0 + 2.0 - 0.9))) / 3)
    assert cr.acceptance_probability(0.9, 0.1, 0.3, 3, 3, 2.0) == 0.0
    score = np.array([[0.3, 0.8, 0.8, 0.1], [0.3, 0.8, 0.8, 0.1]])
    ok = np.array([[True, True, True, True], [False] * 4])
    assert cr.recruit_candidate(score, ok).tolist() == [1, -1]


def test_gini():
    assert cr.gini(np.array([1.0, 1.0, 1.0])) == pytest.approx(0.0)
    assert cr.gini(np.array([0.0, 0.0, 3.0])) == pytest.approx(2 / 3)
    assert np.isnan(cr.gini(np.zeros(4)))


def test_community_layouts_match_the_partnership_model_below_64_and_are_injective():
    i, j = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    assert np.array_equal(rng.community_index(i, j), rng.pair_index(64))
    t, o = np.meshgrid(np.arange(4), np.arange(64), indexing="ij")
    assert np.array_equal(rng.community_trait_index(t, o), rng.trait_index(64))
    i, j = np.meshgrid(np.arange(300), np.arange(300), indexing="ij")
    idx = rng.community_index(i, j)
    assert np.unique(idx).size == idx.size and int(idx.max()) < 2**33
    t, o = np.meshgrid(np.arange(4), np.arange(300), indexing="ij")
    assert np.unique(rng.community_trait_index(t, o)).size == 1200
    p, s, s2 = np.meshgrid(np.arange(64), np.arange(64), np.arange(64), indexing="ij")
    assert np.unique(rng.slot_pair_index(p, s, s2)).size == 64**3
    assert np.array_equal(rng.slot_pair_index(0, s[0], s2[0]), rng.pair_index(64))
    assert np.array_equal(rng.slot_org_index(0, np.arange(64)), np.arange(64))
    assert np.unique(rng.slot_org_index(p[:, :, 0], s[:, :, 0])).size == 64 * 64
    assert len({int(v) for v in rng.Purpose}) == len(rng.Purpose)


@pytest.mark.parametrize("bad, field", [
    ({"n_community": 4, "n_orgs": 6}, "n_community = 4 is smaller than n_orgs = 6"),
    ({"funder_budget": -1.0}, "funder_budget = -1.0 is out of range"),
    ({"grant_size": 0.0}, "grant_size = 0.0 is out of range (allowed: > 0)"),
    ({"funder_policy": "mandat"}, "did you mean 'mandate'"),
    ({"setup": "one", "n_orgs": 6, "n_community": 8}, "setup = 'one' needs n_orgs = n_community"),
    ({"call_size": 8, "n_orgs": 6, "funder_policy": "mandate"}, "call_size = 8 is larger than n_orgs = 6"),
    ({"free_riders": 40, "n_orgs": 6}, "free_riders = 40 is larger than n_community = 30"),
    ({"gosip": 0.1}, "did you mean 'gossip'"),
])
def test_bad_community_input_names_the_field(bad, field):
    with pytest.raises(ParamError, match=field.replace("(", r"\(").replace(")", r"\)")):
        community_params(2, bad)


def test_community_params_per_run_values():
    p = community_params(3, {"n_community": [6, 10, 30], "gossip": 0.0, "funder_policy": ["none", "mandate", "none"]})
    assert p["n_community"].tolist() == [6, 10, 30] and p["funder_policy"].tolist() == ["none", "mandate", "none"]
    with pytest.raises(ParamError, match=r"n_community = 5 \(run 1\) is smaller"):
        community_params(2, {"n_community": [6, 5]})
