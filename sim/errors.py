"""The ground floor: the errors a user can fix, and the did-you-mean hint they carry.

Every other module of :mod:`sim` may import from here; this module imports
nothing of :mod:`sim`, so no import cycle can pass through it.

:class:`ParamError` is a parameter name or value outside the vocabulary (see
``trustladder params`` and docs/ODD.md); :class:`UserError` is any other
mistake in a command's input (a missing folder, a bad option). The command
line prints either as one line and exits with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ParamError", "UserError", "did_you_mean"]


class ParamError(ValueError):
    """A parameter name or value outside the vocabulary or its range."""


class UserError(Exception):
    """A mistake in the user's input: printed as one line, exit status 2."""


def did_you_mean(name: object, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to ``name``, or ``""`` when none is close.

    Examples
    --------
    >>> did_you_mean("stepwize", ["stepwise", "fixed"])
    "; did you mean 'stepwise'?"
    >>> did_you_mean("zzz", ["stepwise", "fixed"])
    ''
    """
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""
