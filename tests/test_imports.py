"""The import structure of ``sim``: no cycles, every module imports alone, lazy imports only where they pay.

Three checks anyone can rerun:

* the import graph of sim's modules, read with :mod:`ast` from the source
  (module-level and function-level imports alike, not those under
  ``if TYPE_CHECKING:``), has no cycle; :mod:`graphlib` then gives an order
  in which every module's imports come first;
* each module, in that order, imports in a fresh interpreter;
* every import inside a function is one of the documented lazy imports of
  :data:`LAZY` (a heavy package most uses never need), and is lazy in fact:
  importing the module alone does not already load it.
"""

from __future__ import annotations

import ast
import graphlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

import sim

SIM = Path(sim.__file__).parent

#: The documented lazy imports: what may be imported inside a function, and why.
LAZY = {
    "sim.sweep": "the sweep package imports scipy.stats (its precision rule); `import sim` and the CLI's "
                 "start-up do not need it",
    "sim.analysis": "analysis imports scipy.stats and matplotlib; commands that draw or test nothing do not",
    "sim.analysis.figures": "the figures import matplotlib; listing the figures a sweep supports does not",
    "sim.model": "the Mesa twin imports Mesa (and Mesa its network and plotting stack)",
    "sim.community_model": "the community's Mesa twin imports Mesa and networkx; the community bench times it",
    "sim.classroom": "the classroom imports Mesa and matplotlib; commands other than demo, lesson and animate do not",
    "sim.animate": "the slide animation imports Mesa and matplotlib's animation writer",
    "matplotlib": "matplotlib is imported only by the code that draws",
    "SALib": "SALib takes seconds to import (it pulls in its plotting); only Sobol and Morris designs and "
             "their analyses use it",
    "statsmodels": "statsmodels takes seconds to import; only multiple-comparison adjustments and McNemar's test "
                   "use it",
    "scipy.sparse": "the community's network components need scipy.sparse (about 0.2 s); `import sim` does not",
    "distributed": "Dask is an optional dependency (pip install 'trustladder[cluster]'), imported only when a "
                   "Dask executor is asked for",
    "tqdm": "the progress bar is imported only when one is shown",
    "psutil": "psutil lists this machine's network addresses, needed only when the page is shared (--host 0.0.0.0)",
}

#: Known structure owned by another engineer's work in progress: each entry must still be present, so the
#: list empties as the work lands. A cycle is a sorted tuple of its modules; an import is (importing module,
#: imported module).
PENDING_CYCLES: dict[tuple[str, ...], str] = {}
PENDING_IMPORTS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (for `from x import name`, x.name when that is a module)
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def sim_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str, path: Path, source: str | None = None) -> list[Import]:
    """Every import statement of ``module`` (its file, or ``source``), resolved to absolute module names."""
    modules = sim_modules()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        return [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    walk(sub, in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.extend(Import(module, t, child.lineno, in_function) for t in dict.fromkeys(targets(child)))
            walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    walk(ast.parse(path.read_text() if source is None else source, filename=str(path)), False)
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(i for m, p in sim_modules().items() for i in imports_of(m, p))


def internal_graph(skip: set[tuple[str, str]] = frozenset()) -> dict[str, set[str]]:
    """module -> the sim modules it imports (anywhere in it), without the edges in ``skip``."""
    graph: dict[str, set[str]] = {m: set() for m in sim_modules()}
    for i in all_imports():
        if i.target in graph and i.target != i.module and (i.module, i.target) not in skip:
            graph[i.module].add(i.target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), each as a sorted tuple."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.add(tuple(sorted(comp)))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _pending_edges() -> set[tuple[str, str]]:
    return {(a, b) for cycle in PENDING_CYCLES for a in cycle for b in cycle if a != b}


def dependency_order() -> list[str]:
    """sim's modules, each after every module it imports."""
    graph = internal_graph(skip=_pending_edges())
    try:  # sorted: the same order in every process (pytest-xdist's workers must collect the same tests)
        return list(graphlib.TopologicalSorter({m: sorted(graph[m]) for m in sorted(graph)}).static_order())
    except graphlib.CycleError:  # reported by test_no_import_cycles_among_sims_modules
        return sorted(graph)


def test_the_parser_sees_every_kind_of_import():
    """The checks below can fail: module-level, function-level and TYPE_CHECKING imports are told apart."""
    src = (
        "from typing import TYPE_CHECKING\n"
        "from . import rules\n"
        "from .sweep import store\n"
        "if TYPE_CHECKING:\n    from .model import PartnershipModel\n"
        "def f():\n    from .engine import run_batch\n    import matplotlib.pyplot\n"
        "class C:\n    def g(self):\n        from .. import something_outside\n"
    )
    got = {(i.target, i.in_function) for i in imports_of("sim.agents", SIM / "agents.py", src)}
    assert got == {("typing", False), ("sim.rules", False), ("sim.sweep.store", False), ("sim.engine", True),
                   ("matplotlib.pyplot", True), ("", True)}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {("a", "b", "c")}
    assert _cycles({"a": {"b"}, "b": set()}) == set()


def test_no_import_cycles_among_sims_modules():
    cycles = _cycles(internal_graph())
    assert cycles == set(PENDING_CYCLES), (
        f"import cycles: {sorted(cycles - set(PENDING_CYCLES))}; gone but still listed as pending: "
        f"{sorted(set(PENDING_CYCLES) - cycles)} (remove them from PENDING_CYCLES)")
    order = dependency_order()
    assert set(order) == set(sim_modules())
    position = {m: k for k, m in enumerate(order)}
    for i in all_imports():
        if i.target in position and i.target != i.module and (i.module, i.target) not in _pending_edges():
            assert position[i.target] < position[i.module]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _lazy_reason(module: str, target: str) -> str | None:
    """Why ``module`` may import ``target`` inside a function; None if it may not.

    A package on the list is heavy for those outside it: inside it, only its
    own listed submodules are.
    """
    for prefix, reason in LAZY.items():
        if _within(target, prefix) and not _within(module, prefix):
            return reason
    return None


def test_function_level_imports_are_documented_lazy_ones():
    inside = [i for i in all_imports() if i.in_function]
    assert inside, "the parser found no function-level import at all: it is broken"
    unlisted = [f"{i.module}:{i.line}: {i.target}" for i in inside
                if _lazy_reason(i.module, i.target) is None and (i.module, i.target) not in PENDING_IMPORTS]
    assert not unlisted, ("imports inside functions that are not documented lazy imports (move them to the top "
                          "of the module, or add the package to LAZY with the reason): " + "; ".join(unlisted))
    found = {(i.module, i.target) for i in inside}
    gone = set(PENDING_IMPORTS) - found
    assert not gone, f"no longer there, remove them from PENDING_IMPORTS: {sorted(gone)}"


_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)))
"""


@pytest.mark.parametrize("module", dependency_order())
def test_each_module_imports_alone_and_its_lazy_imports_are_lazy(module):
    """In a fresh interpreter (modules in dependency order): it imports, and its lazy imports are not loaded yet."""
    lazy = sorted({i.target for i in all_imports() if i.module == module and i.in_function
                   and (i.module, i.target) not in PENDING_IMPORTS})
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", _PROBE, module, json.dumps(lazy)], capture_output=True, text=True,
                          env=env, cwd=SIM.parent, timeout=120)
    assert done.returncode == 0, f"import {module} failed alone:\n{done.stderr[-3000:]}"
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert not loaded, (f"{module} imports {loaded} inside a function, but importing {module} already loads it: "
                        "the lazy import saves nothing (move it to the top of the module)")
