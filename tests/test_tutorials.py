"""The tutorial notebooks (docs/tutorials/*.ipynb) run from top to bottom, and are committed without outputs.

Each notebook is executed by a Jupyter kernel of this interpreter in a scratch folder (the notebooks write
only to temporary folders of their own); a cell that raises fails the test, and the notebooks check what
their text claims with asserts. One test per notebook, so pytest-xdist runs them in parallel.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))


def test_there_are_tutorials() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 3, names
    index = (TUTORIALS / "index.md").read_text(encoding="utf-8")
    assert all(p.stem in index for p in NOTEBOOKS), "every notebook is listed in docs/tutorials/index.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    elapsed = time.perf_counter() - t0
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    print(f"{path.name}: {elapsed:.1f} s")
