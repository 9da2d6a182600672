"""The classroom package is in layers: each module imports only the layers before it, and only the page Solara."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: The layers, in the order they may import each other.
LAYERS = ["models", "lessons", "state", "drawings", "trajectory", "community", "page"]
#: What each layer may not load: the layers after it (drawings needs neither lessons nor state; the
#: community view's runs are loaded by a community lesson only when it is played).
FORBIDDEN = {
    "models": ["lessons", "state", "drawings", "community", "page"],
    "lessons": ["state", "drawings", "community", "page"],
    "state": ["drawings", "community", "page"],
    "drawings": ["lessons", "state", "page"],
    "community": ["lessons", "state", "page"],
}


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_a_layer_loads_no_later_layer_and_no_solara(layer):
    loaded = loaded_after_import(f"sim.classroom.{layer}")
    assert not {f"sim.classroom.{name}" for name in FORBIDDEN[layer]} & loaded
    assert "solara" not in loaded and "sim.animate" not in loaded


def test_the_slide_animation_does_not_load_the_page():
    loaded = loaded_after_import("sim.animate")
    assert "sim.classroom.drawings" in loaded and "sim.classroom.page" not in loaded and "solara" not in loaded
