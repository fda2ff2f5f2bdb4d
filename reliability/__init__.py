"""The reliability suite: faults, crashes, concurrency, bad input and secrets, measured.

``python -m reliability [--full]`` (``make reliability``) runs every scenario
and prints one table; the tests in ``aircall_assets_tests/reliability`` run the same scenario
functions on the small profile. Each scenario returns a ``ScenarioResult`` whose mismatches,
duplicates, secret hits and failed checks must all be zero.
"""

from .profiles import FULL, SMALL, Profile
from .report import ScenarioResult

__all__ = ["FULL", "SMALL", "Profile", "ScenarioResult"]
