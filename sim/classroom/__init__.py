"""The classroom: the live teaching page, its lessons and the slide animation.

A small package in layers, each importing only those above it:

* :mod:`sim.classroom.models`: the models the page runs (one partnership, or
  two side by side for a comparison), the page's seed and view checks;
* :mod:`sim.classroom.lessons`: ready lessons and the story each must show;
* :mod:`sim.classroom.state`: the page's shareable state (what its address
  carries), read defensively from any query string, and its widgets;
* :mod:`sim.classroom.drawings`: the matplotlib drawings (network, ladder,
  time series) shared by the page and the GIFs of :mod:`sim.animate`;
* :mod:`sim.classroom.page`: the Solara page (``trustladder demo``).

Only :mod:`~sim.classroom.page` imports Solara; the rest is plain Python and
is tested without a browser. Nothing is imported here, so importing one layer
never loads another.
"""
