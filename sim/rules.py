"""The model's equations (MODEL.md, "One step"), as plain functions over arrays.

Both implementations call these: the vectorized engine with whole batches
(run axis first), the Mesa model with one organization's or one pair's
numbers. Keeping the equations here, once, is what lets the two agree run for
run. Every function works elementwise with NumPy broadcasting and returns
float64; none keeps state.
"""

from __future__ import annotations

import numpy as np

from .levels import MIN_SECTORS_LEVEL_5

__all__ = [
    "initial_trait",
    "initial_trust",
    "funder_payment",
    "grown_capacity",
    "learned_distance",
    "sigmoid",
    "contribution_probability",
    "pair_misunderstanding",
    "derail_probability",
    "success_probability",
    "community_benefit",
    "misjudge_probability",
    "trust_after_success",
    "trust_after_failure",
    "trust_after_free_riding",
    "exit_probability",
    "quorum_size",
    "level_for_sectors",
]


def initial_trait(mean, trait_spread, z):
    """Set-up: a trait drawn around its mean, ``clip(mean + trait_spread z, 0, 1)``."""
    return np.clip(mean + trait_spread * z, 0.0, 1.0)


def initial_trust(initial_trust, prejudice, distance, trust_noise, z):
    """Set-up: ``T_ij = clip(initial_trust - prejudice d_ij + trust_noise z_ij, 0, 1)``."""
    return np.clip(initial_trust - prejudice * distance + trust_noise * z, 0.0, 1.0)


def sigmoid(x):
    """The logistic function 1 / (1 + exp(-x))."""
    return 1.0 / (1.0 + np.exp(-x))


def contribution_probability(tau, need, individualism, contribution_bias):
    """Phase 1: chance a member contributes, from its mean trust ``tau`` in its partners."""
    return sigmoid(contribution_bias + 4.0 * (tau - need) - 3.0 * individualism)


def pair_misunderstanding(miscommunication, mean_communication, ground_rules):
    """Phase 2: chance ``e`` that one pair misunderstands in a step."""
    return miscommunication * (1.0 - mean_communication) * (1.0 - ground_rules)


def derail_probability(e, n_active):
    """Phase 2: chance ``q`` the project is derailed, growing with the number of pairs."""
    n_pairs = n_active * (n_active - 1)
    return 1.0 - (1.0 - e) ** (n_pairs / 2.0)


def success_probability(mean_trust, need, share, q, success_bias, success_slope):
    """Phase 2: chance of a joint success."""
    return sigmoid(success_bias + success_slope * (mean_trust - need) + 3.0 * (share - 0.8)) * (1.0 - q)


def community_benefit(success, mult, contributed_capacity, n_orgs, level, n_sectors):
    """Phase 3: benefit ``B`` of the step; at level 5 scaled by the sectors at the table / 3."""
    b = success * mult * contributed_capacity / n_orgs
    return np.where(level == 5, b * n_sectors / 3.0, b)


def funder_payment(grant, cost, contributed_capacity):
    """Phase 3: what the funder pays while funded, ``grant`` times the cost of the contributions."""
    return grant * cost * contributed_capacity


def misjudge_probability(misperception, k_i, k_j, d_ij):
    """Phase 4: chance ``i`` misjudges whether ``j`` contributed."""
    return misperception * (1.0 - (k_i + k_j) / 2.0) * (0.5 + d_ij)


def trust_after_success(trust, gain_rate, stakes, celebration):
    """Phase 5, success: trust rises toward 1."""
    return trust + gain_rate * stakes * (1.0 + celebration) * (1.0 - trust)


def trust_after_failure(trust, loss_rate, stakes, leadership_i):
    """Phase 5, failure: trust falls toward 0, softened by the truster's leadership."""
    return trust - loss_rate * stakes * (1.0 - 0.6 * leadership_i) * trust


def trust_after_free_riding(trust, free_rider_penalty, stakes, seen_free):
    """Phase 5: trust lost in a partner seen not doing its share, then clipped to [0, 1]."""
    return np.clip(trust - free_rider_penalty * stakes * trust * seen_free, 0.0, 1.0)


def learned_distance(distance, cultural_learning):
    """Phase 5, level >= 2: working together wears the perceived cultural distance down."""
    return distance * (1.0 - cultural_learning)


def grown_capacity(capacity, capacity_growth):
    """Phase 6: a contributor's capacity after a success at level >= 4."""
    return capacity * (1.0 + capacity_growth)


def exit_probability(
    tau, need, level, individualism, identity, leadership, funded, *, exit_base, exit_gap, identity_weight, grant
):
    """Phase 7: chance an active member leaves this step."""
    pressure = (
        exit_base
        + exit_gap * np.maximum(0.0, need - tau) * (0.5 + individualism)
        + identity_weight * identity * np.maximum(0, level - 3) / 2.0
    )
    return pressure * (1.0 - 0.5 * leadership) * np.where(funded, 1.0 - grant, 1.0)


def quorum_size(quorum, n_orgs):
    """Phase 7: fewest members a partnership can keep: max(2, ceil(quorum * n_orgs))."""
    return np.maximum(2, np.ceil(np.asarray(quorum) * n_orgs - 1e-9)).astype(np.int64)


def level_for_sectors(level, n_sectors):
    """Phase 8: level 5 needs active members from at least three sectors, else 4."""
    return np.where((level == 5) & (n_sectors < MIN_SECTORS_LEVEL_5), 4, level)
