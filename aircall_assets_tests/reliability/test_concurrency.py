"""Scenario 3 on the small profile: runs started at once on one DuckDB file all succeed."""

from __future__ import annotations

from reliability.scenarios.concurrency import run_concurrency


def test_runs_and_a_backfill_at_once_queue_and_all_succeed(profile, workdir):
    result = run_concurrency(profile, workdir)
    assert result.ok, result.explain()
    assert result.runs == profile.concurrent_runs and result.rows_compared > 0
