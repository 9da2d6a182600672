"""Shared fixtures and settings for the test suite."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Property tests are derandomized so a CI run is reproducible; raise the budget locally with
# HYPOTHESIS_PROFILE=thorough.
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
