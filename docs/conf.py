"""Sphinx configuration: the TrustLadder documentation site (``make docs``, checked by tests/test_docs.py).

Sphinx with numpydoc and MyST-NB, the stack of the scientific Python projects whose conventions this
project follows (NumPy, SciPy, pandas, SALib, Mesa): the docstrings are NumPy-style, the pages are
Markdown (MyST), the tutorials are Jupyter notebooks executed at build time (MyST-NB, ``nb_execution_mode``;
``-D nb_execution_mode=off`` renders them without running them, as the docs test does).
"""

from __future__ import annotations

import json
from pathlib import Path

import sim

ROOT = Path(__file__).resolve().parents[1]

project = "TrustLadder"
author = "The TrustLadder developers"
copyright = "TrustLadder developers, BSD-3-Clause"  # noqa: A001 (Sphinx's name)
version = release = sim.__version__

extensions = [
    "myst_nb",  # Markdown pages (MyST) and Jupyter notebooks; brings myst_parser
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",  # NumPy-style docstrings
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]

# --- MyST -----------------------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "substitution", "deflist"]
# Anchors for headings down to ###, so the pages' own links (sweeps.md#what-is-safe) resolve as on GitHub.
myst_heading_anchors = 3
myst_substitutions = {"version": sim.__version__, "model_version": sim.MODEL_VERSION}


def _headline_facts() -> dict[str, str]:
    """What the committed headline study's manifest says (docs/reproduce.md quotes it, so a rerun updates it)."""
    manifest = json.loads((ROOT / "results" / "headline" / "manifest.json").read_text(encoding="utf-8"))
    sweeps = manifest["sweeps"]
    seconds = float(manifest["elapsed_seconds"])
    return {
        "headline_date": manifest["finished"][:10],
        "headline_seconds": f"{seconds:.0f} s ({seconds / 60:.1f} min)",
        "headline_runs": f"{sweeps['headline']['n_runs']:,}",
        "sobol_runs": f"{sweeps['practices-sobol']['n_runs']:,}",
        "headline_model_version": str(sweeps["headline"]["model_version"]),
    }


myst_substitutions.update(_headline_facts())

# --- notebooks (MyST-NB) --------------------------------------------------------------------------------------
# Outputs are not committed: `make docs` executes each tutorial, caching the result until the notebook changes.
nb_execution_mode = "cache"
nb_execution_cache_path = str(ROOT / "build" / "docs" / ".jupyter_cache")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_merge_streams = True

# --- API reference --------------------------------------------------------------------------------------------
autodoc_typehints = "none"  # numpydoc's Parameters sections give the types, in words
autodoc_member_order = "bysource"
autosummary_generate = False
numpydoc_show_class_members = False  # each class page lists the members it documents
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()
# Every cross-reference must resolve (a broken one fails the build, -W); only other projects' names are let
# through, as there is no network to fetch their inventories from.
nitpicky = True
_OTHER_PROJECTS = "numpy|np|pandas|pd|scipy|matplotlib|mesa|SALib|statsmodels|dask|distributed"
nitpick_ignore_regex = [(r"py:.*", rf"({_OTHER_PROJECTS})(\..*)?")]

# --- HTML -----------------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"TrustLadder {release}"
html_theme_options = {"show_toc_level": 2, "navigation_with_keys": False, "header_links_before_dropdown": 4}
html_static_path: list[str] = []


# --- the README on the front page -----------------------------------------------------------------------------
# index.md includes ../README.md (docs/ links made relative by `:relative-docs:`); the README's links to the
# committed findings point into results/, outside the site, so they are pointed at the page that includes them.
README_LINKS = {"](results/headline/findings.md)": "](findings.md)",
                "](results/community/findings.md)": "](community-study.md)"}


def _readme_links(app, relative_path, parent_docname, content) -> None:  # noqa: ANN001 (Sphinx's event)
    if relative_path.name == "README.md":
        text = content[0]
        for old, new in README_LINKS.items():
            if old not in text:
                raise ValueError(f"docs/conf.py: README.md no longer links {old[2:-1]}: update README_LINKS")
            text = text.replace(old, new)
        content[0] = text


# --- cross-references by the names the code uses ---------------------------------------------------------------
# The reference documents each object once, under its public name (sim.register, sim.sweep.Spec,
# sim.analysis.outcome_table). The docstrings also name objects where they are defined
# (sim.strategies.register, sim.analysis.catalog.figure_specs) or by their bare name inside their own module
# (``DEFAULT_OUTCOMES`` in sim.analysis.stats). Such a reference resolves to the documented entry when it is the
# same Python object, or when exactly one documented name ends with the bare name; anything else stays a broken
# reference (and fails the build).


def _import_object(path: str):  # noqa: ANN202
    import importlib

    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _documented(env) -> dict[str, str]:  # noqa: ANN001
    return {name: entry.objtype for name, entry in env.get_domain("py").objects.items()}


def _resolve_alias(app, env, node, contnode):  # noqa: ANN001, ANN202
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    domain = env.get_domain("py")
    kinds = set(domain.objtypes_for_role(node.get("reftype", "obj")) or ())  # :func: -> function, method, ...
    documented = {name: kind for name, kind in _documented(env).items() if not kinds or kind in kinds}
    candidates: list[str] = []
    if "." not in target:
        candidates = [name for name in documented if name.endswith("." + target)]
    else:
        obj = _import_object(target)
        if obj is not None and not isinstance(obj, (str, int, float, bool)):
            candidates = [name for name in documented if name.rsplit(".", 1)[-1] == target.rsplit(".", 1)[-1]
                          and _import_object(name) is obj]
    # a class documented under its public name is also entered under its defining module's (canonical) name
    places = {(domain.objects[name].docname, domain.objects[name].node_id) for name in candidates}
    if len(places) != 1:
        return None
    from sphinx.util.nodes import make_refnode

    name = candidates[0]
    entry = domain.objects[name]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name)


def setup(app) -> None:  # noqa: ANN001
    app.connect("include-read", _readme_links)
    app.connect("missing-reference", _resolve_alias)
