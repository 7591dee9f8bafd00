"""Hypothesis profiles: ``dev`` (the default, fast), ``ci`` (derandomized, no deadline,
prints the blob that reproduces a failure) and ``thorough`` (many examples).

Pick one with ``pytest --hypothesis-profile=ci`` or ``HYPOTHESIS_PROFILE=thorough``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many calls the API fuzzer (test_fuzz_api.py) made, when it ran."""
    fuzz = sys.modules.get("fuzz_api_core")
    if fuzz is not None and fuzz.CALLS["valid"] + fuzz.CALLS["invalid"]:
        calls = fuzz.CALLS
        terminalreporter.write_line(
            f"API fuzzer: {calls['valid'] + calls['invalid']} calls ({calls['valid']} valid, "
            f"{calls['invalid']} invalid) through {len(calls) - 2} entry points"
        )
