"""Scenario 2 on the small profile: SIGKILLed runs lose nothing and re-runs converge."""

from __future__ import annotations

from reliability.scenarios.crashes import run_backfill_crashes, run_reverse_crashes


def test_backfill_killed_anywhere_keeps_previous_data_and_converges(profile, workdir):
    result = run_backfill_crashes(profile, workdir)
    assert result.ok, result.explain()
    assert result.kills == profile.backfill_kills


def test_reverse_sync_killed_anywhere_never_creates_a_contact_twice(profile, workdir):
    result = run_reverse_crashes(profile, workdir)
    assert result.ok, result.explain()
    assert result.kills == profile.reverse_kills
