"""The classroom page's shareable state: what its address carries, read defensively, and its widgets.

A link is typed, pasted, mangled by mail programs and shortened by chat apps,
so :meth:`PageState.from_query` never raises: every entry is checked on its
own (its length before anything is converted, only ASCII digits for numbers,
no ``nan`` or ``inf``), and an entry the page cannot use is reported in plain
words and left at its default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

import mesa

from ..community_params import COMMUNITY_PARAMETERS
from ..funder import policy_names
from ..params import PARAMETERS, ParamError, ParamSpec, check_value, coerce_value, did_you_mean
from ..strategies import strategy_names
from .lessons import LESSONS, Lesson
from .models import COMMUNITY_MODES, DEFAULT_SEED, build_model, check_mode, is_community, parse_seed, varied_of
from .words import param_label, param_tooltip, policy_label, strategy_label

__all__ = [
    "PageState",
    "read_setting",
    "SLIDER_PARAMS",
    "COMMUNITY_SLIDER_PARAMS",
    "SETTINGS",
    "sliders_of",
    "MAX_VALUE_CHARS",
    "slider_specs",
    "settings_text",
    "settings_html",
]

#: Every setting a link may carry: the partnership's vocabulary, then the community's (community views only).
SETTINGS: dict[str, ParamSpec] = {**PARAMETERS, **COMMUNITY_PARAMETERS}


def _specs(name: str) -> dict[str, ParamSpec]:
    """The vocabulary a setting belongs to (the partnership's or the community's)."""
    return COMMUNITY_PARAMETERS if name in COMMUNITY_PARAMETERS else PARAMETERS


def _check_view(name: str, mode: str) -> None:
    if name in COMMUNITY_PARAMETERS and not is_community(mode):
        raise ParamError(f"{name} is a setting of a community, not used in the view {mode!r} "
                         f"(community views: {', '.join(COMMUNITY_MODES)})")


#: Longest text an address's value may have: a float's shortest round-trip form has at most 24 characters.
MAX_VALUE_CHARS = 32
_NUMBER_CHARS = frozenset("0123456789+-.eE")


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def read_setting(name: str, text: str) -> Any:
    """The value of parameter ``name`` from its text in an address, checked; raise a ParamError otherwise.

    Unlike :func:`sim.params.coerce_value` (the command line's reader), this
    refuses before converting anything a link should never carry: a name not
    in the vocabulary (with a did-you-mean, not the list of every name), text
    longer than :data:`MAX_VALUE_CHARS`, characters that are not part of a
    plain decimal number, and ``nan`` or ``inf``.
    """
    if name not in SETTINGS:
        raise ParamError(f"unknown parameter {_short(name)!r}{did_you_mean(name, SETTINGS)}")
    spec = SETTINGS[name]
    if len(text) > MAX_VALUE_CHARS:
        raise ParamError(f"{name} = {_short(text)!r} is too long to be a value (allowed: {spec.range_text()})")
    if spec.kind is not str:
        text = text.strip()  # an address's "+" arrives as a space
        if not text or not set(text) <= _NUMBER_CHARS:
            raise ParamError(f"{name} = {text!r} is not a number (allowed: {spec.range_text()})")
        try:
            number = float(text)
        except ValueError:
            raise ParamError(f"{name} = {text!r} is not a number (allowed: {spec.range_text()})") from None
        if not math.isfinite(number):
            raise ParamError(f"{name} = {text!r} is out of range (allowed: {spec.range_text()})")
    return coerce_value(name, text, _specs(name))


def _read_month(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise ParamError(f"month = {_short(text)!r} must be a whole number of months from 0")
    return int(text)


@dataclass(frozen=True)
class PageState:
    """What the page's address carries: enough to rebuild exactly the run the class saw.

    Attributes
    ----------
    mode : str
        ``"single"`` or a :data:`~sim.classroom.models.COMPARISONS` name.
    lesson : str or None
        The chosen lesson (its text only; its parameters are carried explicitly).
    seed : int
        The run seed.
    params : dict
        Parameters that differ from their defaults (MODEL.md names, validated). A parameter the view's
        two sides set for themselves is left out.
    month : int
        The month on screen when the link was made (0: the start); the player shows the run paused there.
    """

    mode: str = "single"
    lesson: str | None = None
    seed: int = DEFAULT_SEED
    params: Mapping[str, Any] = field(default_factory=dict)
    month: int = 0

    def __post_init__(self) -> None:
        check_mode(self.mode)
        if self.lesson is not None:
            if self.lesson not in LESSONS:
                raise ParamError(f"lesson = {_short(str(self.lesson))!r} is not a lesson "
                                 f"(allowed: {', '.join(LESSONS)})")
            if LESSONS[self.lesson].mode != self.mode:
                raise ParamError(f"lesson = {self.lesson!r} is shown in the view {LESSONS[self.lesson].mode!r}, "
                                 f"not {self.mode!r}")
        object.__setattr__(self, "seed", parse_seed(self.seed))
        for name, value in self.params.items():
            check_value(name, value, _specs(name))
            _check_view(name, self.mode)
        varied = varied_of(self.mode)
        # vocabulary order, so equal states give equal addresses
        cleaned = {n: self.params[n] for n in SETTINGS
                   if n in self.params and self.params[n] != SETTINGS[n].default and n not in varied}
        object.__setattr__(self, "params", cleaned)
        n_steps = cleaned.get("n_steps", PARAMETERS["n_steps"].default)
        if isinstance(self.month, bool) or not isinstance(self.month, int) or not 0 <= self.month <= n_steps:
            raise ParamError(f"month = {_short(str(self.month))!r} must be a whole number from 0 to {n_steps}")

    def replace(self, **changes: Any) -> PageState:
        """A copy with ``changes``; the month goes back to 0 unless given (a new run starts at its start)."""
        fields = {"mode": self.mode, "lesson": self.lesson, "seed": self.seed, "params": self.params, "month": 0}
        return PageState(**(fields | changes))

    @classmethod
    def of_lesson(cls, lesson: Lesson) -> PageState:
        """The state a lesson opens: its view, seed and parameters."""
        return cls(mode=lesson.mode, lesson=lesson.name, seed=lesson.seed, params=dict(lesson.params))

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the model this state shows."""
        kwargs: dict[str, Any] = {**self.params, "seed": self.seed}
        if self.mode != "single":
            kwargs["compare"] = self.mode
        return kwargs

    def build(self) -> mesa.Model:
        """The model this state shows."""
        return build_model(self.mode, self.seed, self.params)

    def to_query(self) -> str:
        """The query string: ``mode``, ``lesson``, ``seed``, then every non-default parameter.

        Floats are written with ``repr``, the shortest text that reads back as
        the same number, so a shared link reproduces the run bit for bit.
        """
        items: list[tuple[str, str]] = [("mode", self.mode)]
        if self.lesson:
            items.append(("lesson", self.lesson))
        items.append(("seed", str(self.seed)))
        items += [(k, v if isinstance(v, str) else repr(v)) for k, v in self.params.items()]
        if self.month:
            items.append(("month", str(self.month)))
        return urlencode(items)

    @classmethod
    def from_query(cls, search: str | None) -> tuple[PageState, list[str]]:
        """Read an address's query string; return the state and the problems found. Never raises.

        A bad entry is reported (naming it, its value and what is allowed) and
        left at its default, so a mistyped link still opens the page.
        """
        problems: list[str] = []
        mode, lesson, seed, month = "single", None, DEFAULT_SEED, 0
        params: dict[str, Any] = {}
        try:
            entries = parse_qsl((search or "").lstrip("?"), keep_blank_values=True)
        except ValueError:  # parse_qsl refuses only more fields than its limit
            return cls(), ["the link's settings could not be read, so every setting is at its default"]
        for key, text in entries:
            try:
                if key == "mode":
                    mode = check_mode(text)
                elif key == "lesson":
                    if text not in LESSONS:
                        raise ParamError(f"lesson = {_short(text)!r} is not a lesson (allowed: {', '.join(LESSONS)})")
                    lesson = text
                elif key == "seed":
                    seed = parse_seed(text)
                elif key == "month":
                    month = _read_month(text)
                else:
                    value = read_setting(key, text)
                    params[key] = value
            except (ValueError, OverflowError, TypeError) as exc:  # ParamError is a ValueError
                problems.append(str(exc) if isinstance(exc, ParamError)
                                else f"{_short(key)} = {_short(text)!r} could not be read")
        if lesson is not None and LESSONS[lesson].mode != mode:
            wanted = LESSONS[lesson].mode
            problems.append(f"lesson = {lesson!r} is shown in the view {wanted!r}, so the page shows that view "
                            f"(the link asked for mode = {mode!r})")
            mode = wanted
        varied = varied_of(mode)
        for name in [n for n in params if n in COMMUNITY_PARAMETERS and not is_community(mode)]:
            params.pop(name)
            problems.append(f"{name} is a setting of a community, so this view ({mode!r}) does not use it")
        for name in [n for n in params if n in varied]:
            problems.append(f"{name} = {params.pop(name)!r} is not used: in this view each side sets its own {name}")
        n_steps = params.get("n_steps", PARAMETERS["n_steps"].default)
        if month > n_steps:
            problems.append(f"month = {month} is past the run's last month, so the run starts at month 0 "
                            f"(allowed: 0..{n_steps})")
            month = 0
        return cls(mode=mode, lesson=lesson, seed=seed, params=params, month=month), problems


#: The parameters a class changes on the page (the rest travel in the address and lessons).
SLIDER_PARAMS = (
    "strategy",
    "n_orgs",
    "initial_trust",
    "cultural_distance",
    "cultural_learning",
    "communication",
    "leadership",
    "individualism",
    "free_rider_penalty",
    "gain_rate",
    "loss_rate",
    "deadline",
)


#: The settings a class changes in a community view (the community's own and a few of the partnership's).
COMMUNITY_SLIDER_PARAMS = (
    "funder_policy",
    "prior_ties",
    "initial_trust",
    "cultural_distance",
    "gossip",
)


def sliders_of(mode: str) -> tuple[str, ...]:
    """The settings the page offers a class in a view."""
    return COMMUNITY_SLIDER_PARAMS if is_community(mode) else SLIDER_PARAMS


def _slider_step(name: str) -> float:
    spec = SETTINGS[name]
    if spec.kind is int:
        return 1
    # Fine enough to hit every default exactly (0.01 for cultural_learning, 0.05 elsewhere).
    return 0.01 if round(spec.default / 0.05, 9) % 1 else 0.05


def slider_specs(state: PageState) -> list[dict[str, Any]]:
    """The page's controls for :data:`SLIDER_PARAMS` in a state: plain label, tooltip, range, step and value.

    Ranges and defaults come from :data:`sim.params.PARAMETERS`; month-valued
    sliders stop at the default run length, as a class watches one run of it.
    Parameters a comparison varies get no control (each side sets its own).
    """
    varied = varied_of(state.mode)
    out = []
    for name in sliders_of(state.mode):
        if name in varied:
            continue
        spec = SETTINGS[name]
        value = state.params.get(name, spec.default)
        item = {"name": name, "label": param_label(name), "tooltip": param_tooltip(name), "value": value}
        if name == "strategy":
            item.update(kind="choice", choices={s: strategy_label(s) for s in strategy_names()})
        elif name == "funder_policy":
            item.update(kind="choice", choices={s: policy_label(s) for s in policy_names()})
        elif spec.kind is int:
            high = spec.high if spec.unit != "months" else min(spec.high, PARAMETERS["n_steps"].default)
            item.update(kind="int", min=int(spec.low), max=int(high), step=1)
        else:
            item.update(kind="float", min=spec.low, max=spec.high, step=_slider_step(name))
        out.append(item)
    return out


def settings_text(state: PageState) -> str:
    """One line naming the seed and settings of the run a state shows (model names: it is a record)."""
    p = {name: spec.default for name, spec in SETTINGS.items()} | dict(state.params)
    varied = varied_of(state.mode)
    shown = [n for n in sliders_of(state.mode) if n not in varied]
    shown += [n for n in state.params if n not in shown]
    return " · ".join([f"seed {state.seed}"] + [f"{n} {_fmt(p[n])}" for n in shown])


def settings_html(state: PageState) -> str:
    """The run on screen in a teacher's words: the seed and the settings no slider shows (lessons set them).

    The sliders show the rest; the whole record in the model's names (:func:`settings_text`) is the tooltip.
    """
    parts = [f"seed {state.seed}"]
    for name, value in state.params.items():
        if name not in sliders_of(state.mode):
            parts.append(f'<span class="tl-term" title="{escape(param_tooltip(name))}">'
                         f"{escape(param_label(name))}: {escape(_fmt(value))}</span>")
    return (f'<span title="{escape("In the model: " + settings_text(state))}"><b>Run on screen:</b> '
            + " · ".join(parts) + "</span>")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
