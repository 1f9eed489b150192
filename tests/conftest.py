"""Settings shared by every test of the kit."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI: reproducible (derandomized) and bounded; dev: random, a few more examples.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
