"""Multiple comparisons: Holm and Benjamini-Hochberg adjustment of a family of p values.

A study that tests every cell of a design (96 cells, say) and calls each
``p < 0.05`` a finding expects about five false ones. The adjustment here
is :func:`statsmodels.stats.multitest.multipletests`:

- ``"holm"``: Holm's step-down method (Holm 1979), which controls the
  family-wise error rate (the chance of *any* false rejection) at ``alpha``
  under any dependence between the tests;
- ``"bh"``: Benjamini and Hochberg's step-up method (1995), which controls
  the false discovery rate (the expected share of false rejections among the
  rejections) at ``alpha`` for independent or positively dependent tests.

NaN p values (a cell with nothing to test) are not members of the family:
they stay NaN and are not counted in its size. Every result states the
method and the family size, so a table can say "Holm over 96 tests".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import AnalysisError

__all__ = ["ADJUST_METHODS", "MultipleTests", "adjust_pvalues", "adjust_table"]

#: Our names -> statsmodels' names, and how each is described in a table.
ADJUST_METHODS = {"holm": ("holm", "Holm (family-wise error rate)"),
                  "bh": ("fdr_bh", "Benjamini-Hochberg (false discovery rate)")}


@dataclass(frozen=True)
class MultipleTests:
    """Adjusted p values of one family of tests.

    Attributes
    ----------
    p_values, p_adjusted : ndarray
        The raw and adjusted p values, in the order given (NaN where the raw
        one is NaN).
    reject : ndarray of bool
        ``p_adjusted < alpha`` (False where NaN).
    method : str
        ``"holm"`` or ``"bh"``.
    alpha : float
        The family-wise error rate (Holm) or false discovery rate (BH) controlled.
    n_tests : int
        Size of the family (p values that are not NaN).
    """

    p_values: np.ndarray
    p_adjusted: np.ndarray
    reject: np.ndarray
    method: str
    alpha: float
    n_tests: int

    @property
    def statement(self) -> str:
        """One line for a table or a text: e.g. "Holm (family-wise error rate) over 96 tests, alpha 0.05"."""
        return f"{ADJUST_METHODS[self.method][1]} over {self.n_tests} tests, alpha {self.alpha:g}"


def _check_method(method: str) -> str:
    if method not in ADJUST_METHODS:
        raise AnalysisError(f"adjust = {method!r} is not allowed (allowed: {', '.join(ADJUST_METHODS)})")
    return method


def _check_alpha(alpha: float) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise AnalysisError(f"alpha = {alpha!r} is out of range (allowed: strictly between 0 and 1)")


def adjust_pvalues(p_values: Sequence[float] | np.ndarray, method: str = "holm", *,
                   alpha: float = 0.05) -> MultipleTests:
    """Adjust a family of p values for multiple comparisons.

    Parameters
    ----------
    p_values : array_like
        One p value per test, in [0, 1]; NaN values are left out of the family.
    method : {"holm", "bh"}
        Holm's step-down (family-wise error rate) or Benjamini-Hochberg
        (false discovery rate).
    alpha : float
        Level at which ``reject`` is decided.

    Returns
    -------
    MultipleTests

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.005], "holm").p_adjusted
    array([0.03, 0.06, 0.06, 0.02])
    """
    # Lazy: statsmodels takes seconds to import; only an adjustment needs it.
    from statsmodels.stats.multitest import multipletests

    _check_method(method)
    _check_alpha(alpha)
    p = np.asarray(p_values, dtype=float).reshape(-1)
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        bad = float(p[ok][(p[ok] < 0) | (p[ok] > 1)][0])
        raise AnalysisError(f"p value {bad!r} is out of range (allowed: 0 to 1, or NaN for no test)")
    adjusted = np.full(p.shape, np.nan)
    reject = np.zeros(p.shape, dtype=bool)
    if ok.any():
        rej, q, _, _ = multipletests(p[ok], alpha=alpha, method=ADJUST_METHODS[method][0])
        adjusted[ok] = q
        reject[ok] = rej
    return MultipleTests(p, adjusted, reject, method, float(alpha), int(ok.sum()))


def adjust_table(table: pd.DataFrame, method: str = "holm", *, p_column: str = "p_value",
                 family: Sequence[str] | str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """A copy of ``table`` with its p values adjusted, and the adjustment stated on every row.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per test (e.g. :func:`~sim.analysis.compare_strategies` or
        :func:`~sim.analysis.compare_paired` per cell).
    method : {"holm", "bh"}
    p_column : str
        The column of raw p values.
    family : str or list of str, optional
        Columns whose values define separate families (e.g. ``"outcome"``:
        adjust across the cells of each outcome separately). Default: the
        whole table is one family.
    alpha : float

    Returns
    -------
    pandas.DataFrame
        The table with ``p_adjusted``, ``significant_adjusted``
        (``p_adjusted < alpha``), ``adjustment`` (e.g. "Holm (family-wise
        error rate) over 96 tests, alpha 0.05") and ``n_tests`` columns;
        ``attrs["adjustment"]`` records method, alpha and family.
    """
    _check_method(method)
    _check_alpha(alpha)
    if p_column not in table.columns:
        raise AnalysisError(f"p_column = {p_column!r} is not a column of the table "
                            f"(columns: {', '.join(map(str, table.columns))})")
    family = [family] if isinstance(family, str) else list(family or [])
    missing = [c for c in family if c not in table.columns]
    if missing:
        raise AnalysisError(f"family: {missing[0]!r} is not a column of the table")
    out = table.copy()
    out["p_adjusted"] = np.nan
    out["significant_adjusted"] = False
    out["adjustment"] = ""
    out["n_tests"] = 0
    groups = [(None, out.index)] if not family else [(k, g.index) for k, g in out.groupby(family, sort=False,
                                                                                           dropna=False)]
    for _, index in groups:
        res = adjust_pvalues(out.loc[index, p_column].to_numpy(dtype=float), method, alpha=alpha)
        out.loc[index, "p_adjusted"] = res.p_adjusted
        out.loc[index, "significant_adjusted"] = res.reject
        out.loc[index, "adjustment"] = res.statement
        out.loc[index, "n_tests"] = res.n_tests
    out.attrs = {**table.attrs, "adjustment": {"method": method, "alpha": float(alpha), "family": family,
                                               "p_column": p_column}}
    return out
