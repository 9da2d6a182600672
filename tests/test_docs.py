"""The documentation site builds with no warning, and says how to cite the version that is installed.

The build is the one `make docs` runs (Sphinx, warnings as errors, every cross-reference checked), but with
the tutorial notebooks rendered without executing them: tests/test_tutorials.py executes them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("docs") / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-W", "--keep-going", "-q",
         "-D", "nb_execution_mode=off", "-d", str(out.parent / "doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"the docs build failed (a warning is an error):\n{log}"
    return out, log


def test_docs_build_without_warning(site: tuple[Path, str]) -> None:
    out, log = site
    assert "WARNING" not in log and "ERROR" not in log, log
    assert (out / "index.html").is_file()


def test_every_docs_page_is_in_the_site(site: tuple[Path, str]) -> None:
    out, _ = site
    pages = sorted(p.relative_to(DOCS).with_suffix(".html") for p in DOCS.rglob("*.md"))
    pages += sorted(p.relative_to(DOCS).with_suffix(".html") for p in DOCS.rglob("*.ipynb"))
    missing = [str(p) for p in pages if not (out / p).is_file()]
    assert not missing, f"pages not built: {missing}"
    # Sphinx builds a page left out of every toctree too, but warns; the front page carries the README's story
    front = (out / "index.html").read_text(encoding="utf-8")
    assert "Three main findings" in front and "crossover.png" in front


@pytest.mark.parametrize("anchor, page", [
    ("sim.simulate", "api/running.html"),
    ("sim.Results", "api/running.html"),
    ("sim.model.PartnershipModel", "api/mesa.html"),
    ("sim.agents.Organization", "api/mesa.html"),
    ("sim.community_model.CommunityModel", "api/community.html"),
    ("sim.register", "api/strategies.html"),
    ("sim.variants.register_variant", "api/variants.html"),
    ("sim.sweep.load_spec", "api/sweeps.html"),
    ("sim.sweep.Spec", "api/sweeps.html"),
    ("sim.sweep.run_sweep", "api/sweeps.html"),
    ("sim.load_results", "api/sweeps.html"),
    ("sim.sweep.SweepResults", "api/sweeps.html"),
    ("sim.analysis.stats.compare_strategies", "api/analysis.html"),
    ("sim.analysis.sensitivity.sobol_indices", "api/analysis.html"),
    ("sim.analysis.survival.kaplan_meier", "api/analysis.html"),
])
def test_api_reference_documents_the_public_api(site: tuple[Path, str], anchor: str, page: str) -> None:
    html = (site[0] / page).read_text(encoding="utf-8")
    assert f'id="{anchor}"' in html, f"{anchor} is not documented in {page}"


def test_every_public_name_is_in_the_reference(site: tuple[Path, str]) -> None:
    """Each name in sim.__all__, sim.sweep.__all__ and sim.analysis.__all__ has an entry (a new one needs a line)."""
    import sim.analysis
    import sim.sweep

    html = "".join(p.read_text(encoding="utf-8") for p in (site[0] / "api").glob("*.html"))
    missing = []
    for module in (sim, sim.sweep, sim.analysis):
        for name in module.__all__:
            if name in ("levels", "rng", "rules", "variants"):  # modules: each documented whole
                assert f'id="module-sim.{name}"' in html
                continue
            # documented under this name, or in the submodule that defines it (sim.variants.REFERENCE_VARIANTS)
            if not re.search(rf'id="{re.escape(module.__name__)}(\.\w+)*\.{re.escape(name)}"', html):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, f"not in docs/api/: {missing}"


def _cff_field(text: str, key: str) -> str:
    m = re.search(rf"^{key}:\s*\"?([^\"\n]+)\"?\s*$", text, re.M)
    assert m, f"CITATION.cff has no {key}"
    return m.group(1).strip()


def test_citation_names_this_version_and_model_version() -> None:
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert _cff_field(cff, "cff-version") == "1.2.0"
    assert _cff_field(cff, "version") == sim.__version__
    citing = (DOCS / "citing.md").read_text(encoding="utf-8")
    assert f"version = {{{sim.__version__}}}" in citing
    for name, text in (("CITATION.cff", cff), ("docs/citing.md", citing)):
        named = set(re.findall(r"model version (\d+)", text, re.I))
        assert named == {sim.MODEL_VERSION}, f"{name} names model version {sorted(named)}, not {sim.MODEL_VERSION}"


def _compare_tables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "compare-tables.py"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_compare_tables_tells_a_changed_table(tmp_path: Path) -> None:
    """docs/reproduce.md's check: identical tables pass; a changed number fails, named; last digits pass."""
    import pandas as pd

    committed = ROOT / "results" / "headline" / "tables"
    names = sorted(p.name for p in committed.glob("*.csv"))
    assert len(names) >= 3, names
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for name in names:
        (fresh / name).write_bytes((committed / name).read_bytes())
    same = _compare_tables(str(fresh), "--ref-dir", str(committed))
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.count("identical") == len(names)

    def first_float_column(table: pd.DataFrame) -> str:
        floats = [c for c in table.columns if table[c].dtype.kind == "f" and table[c].notna().all()
                  and (table[c] != 0).any()]
        assert floats, "no column of real numbers to change"
        return floats[0]

    changed_name, digits_name, gone_name = names[0], names[1], names[2]
    changed = pd.read_csv(fresh / changed_name)
    col = first_float_column(changed)
    changed.loc[0, col] += 0.5
    changed.to_csv(fresh / changed_name, index=False)
    digits = pd.read_csv(fresh / digits_name)
    digits[first_float_column(digits)] *= 1 + 1e-12  # another build's last digits
    digits.to_csv(fresh / digits_name, index=False)
    (fresh / gone_name).unlink()
    result = _compare_tables(str(fresh), "--ref-dir", str(committed))
    assert result.returncode == 1
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()}
    assert lines[f"DIFF {changed_name}"].endswith(f"differs in {col} (1 rows, up to 0.5)")
    assert "equal within" in lines[f"ok   {digits_name}"]
    assert "missing from the fresh tables" in lines[f"DIFF {gone_name}"]
    assert _compare_tables(str(tmp_path / "nowhere")).returncode == 2
