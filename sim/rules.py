"""The model's equations (MODEL.md, "One step"), as plain functions over arrays.

Both implementations call these: the vectorized engine with whole batches
(run axis first), the Mesa model with one organization's or one pair's
numbers. Keeping the equations here, once, is what lets the two agree run for
run. Every function works elementwise with NumPy broadcasting and returns
float64; none keeps state. The phase-4 and phase-5 rules, the engine's hot
path, are written in place (``out=``) in one fixed order of floating-point
operations; the Mesa agent calls the very same functions on its row, so the
two implementations agree to the bit by construction.
"""

from __future__ import annotations

import numpy as np

from .levels import MIN_SECTORS_LEVEL_5, MULT, N_LEVELS

#: Phase 4: the misjudging chance at zero perceived distance is scaled by this (``0.5 + d_ij``).
MISJUDGE_FLOOR = 0.5
#: Phase 5: a failure's trust loss is scaled by ``1 - LEADERSHIP_SOFTENING * l_i`` (the truster's leadership).
LEADERSHIP_SOFTENING = 0.6

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
    "MISJUDGE_FLOOR",
    "LEADERSHIP_SOFTENING",
    "misjudge_scale",
    "misjudge_probability",
    "failure_softening",
    "update_trust",
    "exit_probability",
    "quorum_size",
    "level_for_sectors",
    "member_payoffs",
    "moving_average",
    "mean_member_payoff",
    "payoff_shortfall",
    "payoff_term",
    "dissolution_hazard",
    "saturated_capacity",
    "promised_benefit",
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


def contribution_probability(tau, need, individualism, contribution_bias, hold_back=0.0):
    """Phase 1: chance a member contributes, from its mean trust ``tau`` in its partners.

    ``hold_back`` (Model 5, ``payoffs = "weighed"``: :func:`payoff_term` of ``payoff_weight``) is subtracted
    from the log-odds last; at its default 0.0 the result is MODEL.md's to the bit.
    """
    x = contribution_bias + 4.0 * (tau - need) - 3.0 * individualism
    if np.ndim(hold_back) or hold_back != 0.0:  # x - 0.0 is x: skip the pass over the array
        x = x - hold_back
    return sigmoid(x)


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


def misjudge_scale(misperception, k_i, k_j, *, out=None):
    """Phase 4: the part of the misjudging chance fixed for a run, ``misperception (1 - (k_i + k_j) / 2)``.

    With ``out`` (an array of the broadcast shape) the same operations, in the same order, are done in it: the
    same numbers, without three temporaries."""
    if out is None:
        return misperception * (1.0 - (k_i + k_j) / 2.0)
    np.add(k_i, k_j, out=out)
    out /= 2.0
    np.subtract(1.0, out, out=out)
    out *= misperception
    return out


def misjudge_probability(scale, distance, *, out=None):
    """Phase 4: chance ``i`` misjudges whether ``j`` contributed, ``scale (0.5 + d_ij)``.

    Parameters
    ----------
    scale : array_like
        :func:`misjudge_scale` of the pair.
    distance : array_like
        The cultural distance ``d_ij`` that ``i`` perceives to ``j``.
    out : ndarray, optional
        Where to write the result (may be ``distance`` itself).
    """
    out = np.add(distance, MISJUDGE_FLOOR, out=out)
    out *= scale
    return out


def failure_softening(leadership):
    """Phase 5: the factor ``1 - 0.6 l_i`` by which the truster's leadership softens a failure's trust loss."""
    return 1.0 - LEADERSHIP_SOFTENING * leadership


def update_trust(trust, success, stakes, *, gain_rate, celebration, loss_rate, softening, free_rider_penalty,
                 seen_free, out=None):
    """Phase 5: trust after the joint outcome and the free riding seen, clipped to [0, 1].

    With ``s`` the level's stakes::

        success: T_ij += gain_rate s (1 + celebration) (1 - T_ij)
        failure: T_ij -= loss_rate s softening_i T_ij
        then     T_ij -= free_rider_penalty s T_ij   where seen_free_ij

    The first two lines are computed as one expression, ``T += g (1 - T) - L T``
    with ``g`` or ``L`` zero (exact for both: the zero term vanishes), in a fixed
    order of operations: the engine calls this on (runs x n x n) arrays, the
    Mesa agent on its row, and both get the same bits.

    Parameters
    ----------
    trust : ndarray
        Trust of truster ``i`` (second-to-last axis, or the agent itself) in ``j`` (last axis).
        NaN (the agent's "no partner") stays NaN.
    success : array_like of bool
        The joint outcome, broadcastable to ``trust`` (engine: shape (R, 1, 1)).
    stakes, gain_rate, celebration, loss_rate, free_rider_penalty : array_like
        The level's stakes and the run's parameters, broadcastable to ``trust``.
    softening : array_like
        :func:`failure_softening` of the truster's leadership (engine: shape (R, n, 1)).
    seen_free : array_like of bool
        Partners ``i`` saw not doing their share.
    out : ndarray, optional
        Where to write the result; ``trust`` itself updates it in place.

    Returns
    -------
    ndarray
        ``out``, or a new array.
    """
    gain = np.where(success, gain_rate * stakes * (1.0 + celebration), 0.0)
    loss = np.where(success, 0.0, loss_rate * stakes) * softening
    change = np.subtract(1.0, trust)
    change *= gain
    change -= trust * loss
    out = np.add(trust, change, out=out)
    penalty = out * (free_rider_penalty * stakes)
    penalty *= seen_free
    out -= penalty
    return np.clip(out, 0.0, 1.0, out=out)


def learned_distance(distance, cultural_learning):
    """Phase 5, level >= 2: working together wears the perceived cultural distance down."""
    return distance * (1.0 - cultural_learning)


def grown_capacity(capacity, capacity_growth):
    """Phase 6: a contributor's capacity after a success at level >= 4."""
    return capacity * (1.0 + capacity_growth)


def exit_probability(
    tau, need, level, individualism, identity, leadership, funded, *, exit_base, exit_gap, identity_weight, grant,
    payoff_pressure=0.0,
):
    """Phase 7: chance an active member leaves this step.

    ``payoff_pressure`` (Model 5, ``payoffs = "weighed"``: :func:`payoff_term` of ``exit_payoff``) is added to
    the pressure last; at its default 0.0 the result is MODEL.md's to the bit.
    """
    pressure = (
        exit_base
        + exit_gap * np.maximum(0.0, need - tau) * (0.5 + individualism)
        + identity_weight * identity * np.maximum(0, level - 3) / 2.0
    )
    if np.ndim(payoff_pressure) or payoff_pressure != 0.0:  # y + 0.0 is y (y >= 0): skip the pass
        pressure = pressure + payoff_pressure
    return pressure * (1.0 - 0.5 * leadership) * np.where(funded, 1.0 - grant, 1.0)


def quorum_size(quorum, n_orgs):
    """Phase 7: fewest members a partnership can keep: max(2, ceil(quorum * n_orgs))."""
    return np.maximum(2, np.ceil(np.asarray(quorum) * n_orgs - 1e-9)).astype(np.int64)


def level_for_sectors(level, n_sectors):
    """Phase 8: level 5 needs active members from at least three sectors, else 4."""
    return np.where((level == 5) & (n_sectors < MIN_SECTORS_LEVEL_5), 4, level)


# --- Model 5: turnover, costs that matter, the partnership's own decision -------------------------


def member_payoffs(benefit, capacity, total_capacity, cost, grant, funded, contributed):
    """Phase 3: each member's net payoff ``pi_i`` this step.

    ``pi_i = B c_i / sum_A c_j + (grant [funded] - 1) cost c_i x_i``: a capacity-weighted share of the
    community benefit, minus the cost of its contribution less the part the funder pays. Summed over the
    members ``A`` it is ``B + paid - cost C``.
    """
    return benefit * capacity / total_capacity + (grant * funded - 1.0) * cost * capacity * contributed


def mean_member_payoff(net_benefit, grant_paid, n_members):
    """The members' mean net payoff, ``(B - cost C + grant paid) / |A|``: the mean of :func:`member_payoffs`
    over the members ``A`` who shared the step, which sum to that."""
    return (net_benefit + grant_paid) / np.maximum(n_members, 1)


def moving_average(average, value, memory):
    """An exponential moving average with horizon ``memory`` (weight ``1 / memory``)."""
    return average + (value - average) / memory


def payoff_shortfall(recent_payoff, cost, capacity):
    """``delta_i = min(1, max(0, -recent_payoff) / (cost c_i))``: recent loss as a share of what a member stakes."""
    return np.minimum(1.0, np.maximum(0.0, -recent_payoff) / (cost * capacity))


def payoff_term(weight, shortfall, individualism):
    """How much a payoff shortfall weighs: ``weight delta_i (0.5 + u_i)``, more for the more individualist."""
    return weight * shortfall * (0.5 + individualism)


def dissolution_hazard(trust_gap, fail_rate, shortfall, mean_leadership, funded, *, dissolve_base, dissolve_trust,
                       dissolve_fail, dissolve_payoff, dissolve_leadership, grant):
    """Phase 7b (``dissolution = "decision"``): the monthly chance ``h`` that the partnership decides to end.

    ``x = dissolve_trust G + dissolve_fail phi + dissolve_payoff U - dissolve_leadership (L - 0.5)``,
    ``lambda = dissolve_base exp(x) (1 - grant if funded)`` and ``h = 1 - exp(-lambda)``, in [0, 1).

    Parameters
    ----------
    trust_gap : array_like
        ``G = max(0, need - m)``, mean trust's shortfall against the rung played.
    fail_rate : array_like
        ``phi``, the moving average of failures.
    shortfall : array_like
        ``U``, the members' mean payoff shortfall (:func:`payoff_shortfall`).
    mean_leadership : array_like
        ``L``, the members' mean leadership.
    funded : array_like of bool
        Whether the funder pays this step.
    """
    x = (dissolve_trust * trust_gap + dissolve_fail * fail_rate + dissolve_payoff * shortfall
         - dissolve_leadership * (mean_leadership - 0.5))
    rate = dissolve_base * np.exp(x) * np.where(funded, 1.0 - grant, 1.0)
    return -np.expm1(-rate)


def saturated_capacity(capacity, capacity_growth, capacity_ceiling):
    """Phase 6 (``capacity_rule = "saturating"``): logistic growth toward the ceiling, never above it."""
    return np.minimum(capacity_ceiling, capacity + capacity_growth * capacity * (1.0 - capacity / capacity_ceiling))


def promised_benefit(deadline, start_level, schedule_interval=None):
    """The benefit a grant's required rungs promise over ``deadline`` steps, everyone contributing at capacity 1.

    Without ``schedule_interval``: ``deadline MULT[start_level]`` (a rung held from day one). With it: level 1
    for the first interval, one rung up every interval after, up to level 5.
    """
    deadline = np.asarray(deadline, dtype=np.float64)
    if schedule_interval is None:
        return deadline * MULT[np.asarray(start_level, dtype=np.int64)]
    k = np.asarray(schedule_interval, dtype=np.float64)
    total = np.zeros(np.broadcast(deadline, k).shape)
    for level in range(1, N_LEVELS):
        total = total + MULT[level] * np.clip(deadline - (level - 1) * k, 0.0, k)
    return total + MULT[N_LEVELS] * np.maximum(0.0, deadline - (N_LEVELS - 1) * k)
