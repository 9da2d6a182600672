"""The project's colours, in one place: the analysis figures, the classroom drawings and the page read them here.

The base is the Okabe-Ito palette (Okabe and Ito 2002; Wong 2011, Nature
Methods 8:441), which stays distinguishable under the common colour-vision
deficiencies. Nothing here imports matplotlib: colours are hex strings, so
the browser side of the classroom page can be handed the same values.
"""

from __future__ import annotations

from .levels import SECTORS

__all__ = [
    "OKABE_ITO",
    "SECTOR_COLOURS",
    "GONE_COLOUR",
    "TRUST_STOPS",
    "HIGHLIGHT",
    "WOOD",
    "DISSOLVED_COLOUR",
    "RUN_COLOURS",
]

#: The Okabe-Ito palette, by its usual names.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}

#: Sector colours of the classroom's network (members who left are :data:`GONE_COLOUR`).
SECTOR_COLOURS: dict[str, str] = dict(zip(
    SECTORS,
    (OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["reddish_purple"], OKABE_ITO["bluish_green"]),
    strict=True,
))
#: The colour of a member who has left the partnership.
GONE_COLOUR = "#d0d0d0"
#: Trust colour scale, evenly spaced stops from 0 to 1: red (none) through grey to blue (full),
#: never pale enough to vanish on white.
TRUST_STOPS: tuple[str, ...] = ("#c0392b", "#e08e45", "#a0a0a0", "#2166ac")
#: The rung a partnership stands on.
HIGHLIGHT = "#e6550d"
#: The ladder's rails and rungs.
WOOD = "#8c6d46"
#: The stamp on a dissolved partnership.
DISSOLVED_COLOUR = "#b2182b"
#: Line colours of the runs in the classroom's time series (left, right).
RUN_COLOURS: tuple[str, str] = (OKABE_ITO["blue"], OKABE_ITO["vermillion"])
