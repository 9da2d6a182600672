"""Text-valued factors (a rule variant such as ``dissolution = ["quorum", "decision"]``) through analyze, plot and
report: every place that prints or places a factor value goes through :func:`sim.analysis.data.format_value` /
:func:`match_value`, so a factor that is not a number is printed as it is instead of failing on ``f"{v:g}"``."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from sim.analysis.data import format_value, match_value, same_value
from sim.cli import main

SPEC = """
name = "text-factor"
strategies = ["stepwise", "funder_forced"]
replicates = 4
n_steps = 24
seed = 3
[base]
n_orgs = 4
[factors]
dissolution = ["quorum", "decision"]
initial_trust = [0.3, 0.6]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    d = tmp_path_factory.mktemp("text-factor")
    spec = d / "spec.toml"
    spec.write_text(textwrap.dedent(SPEC))
    out = d / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--quiet"]) == 0
    return out


def test_format_value_prints_numbers_and_text():
    assert format_value(0.30000000000000004) == "0.3"
    assert format_value(np.float64(1e-5)) == "1e-05"
    assert format_value(np.int64(24)) == "24" and format_value(24) == "24"
    assert format_value("quorum") == "quorum" and format_value(np.str_("decision")) == "decision"
    assert format_value(np.bool_(True)) == "True"
    assert format_value(0.123456789, 3) == "0.123"
    col = pd.Series(["quorum", "decision", "quorum"])
    assert match_value(col, "quorum").tolist() == [True, False, True]
    assert match_value(pd.Series([0.1 + 0.2, 0.5]), 0.3).tolist() == [True, False]
    assert same_value("decision", "decision") and not same_value("decision", "quorum") and same_value(0.3, 0.3)


def test_report_of_a_text_factor_sweep(swept, capsys):
    assert main(["report", str(swept), "--resamples", "100"]) == 0
    text = (swept / "report.html").read_text()
    assert 'factor dissolution</th><td class="text">decision, quorum<' in text
    assert 'factor initial_trust</th><td class="text">0.3, 0.6<' in text
    assert "Per cell (dissolution x initial_trust)" in text


def test_analyze_by_a_text_factor(swept, capsys):
    assert main(["analyze", str(swept), "--resamples", "100", "--quiet", "--by", "dissolution",
                 "--where", "initial_trust=0.3"]) == 0
    outcomes = pd.read_csv(swept / "analysis" / "outcomes.csv")
    assert sorted(outcomes["dissolution"].unique()) == ["decision", "quorum"]
    benefit = outcomes[outcomes["outcome"] == "cumulative_benefit"]
    assert len(benefit) == 4 and (benefit["n"] == 4).all()  # 4 replicates per strategy and rule, at trust 0.3
    record = json.loads((swept / "analysis" / "analysis.json").read_text())
    assert record["by"] == ["dissolution"] and record["where"] == {"initial_trust": 0.3}


def test_plot_phase_and_survival_facets_on_a_text_factor(swept, tmp_path, capsys):
    assert main(["plot", str(swept), "--figure", "phase", "--figure", "survival", "--figure", "benefit",
                 "--facet", "dissolution", "--format", "png", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"phase-cumulative_benefit-dissolution-initial_trust.png", "survival.png",
            "distribution-cumulative_benefit.png"} <= names
    assert main(["plot", str(swept), "--figure", "survival", "--where", "dissolution=quorum", "--format", "png",
                 "--out", str(tmp_path / "q")]) == 0
