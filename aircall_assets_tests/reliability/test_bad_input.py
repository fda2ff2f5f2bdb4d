"""Scenario 4 on the small profile: every bad input gets its exact message, nothing is harmed."""

from __future__ import annotations

from reliability.scenarios.bad_input import run_bad_input


def test_bad_input_gets_the_exact_error_and_nothing_is_written_or_sent(profile, workdir):
    result = run_bad_input(profile, workdir)
    assert result.ok, result.explain()
    assert result.runs >= 30
