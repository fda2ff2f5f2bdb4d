"""Scenario 1 on the small profile: faults change nothing in the warehouse or in Aircall."""

from __future__ import annotations

from reliability.scenarios.faults import run_extract_faults, run_reverse_faults


def test_extract_under_faults_equals_the_fault_free_warehouse_cell_for_cell(profile, workdir):
    result = run_extract_faults(profile, workdir)
    assert result.ok, result.explain()
    assert result.runs > len(profile.fault_runs) and result.faults > 0
    assert result.rows_compared > 0


def test_reverse_sync_under_faults_creates_each_contact_exactly_once(profile, workdir):
    result = run_reverse_faults(profile, workdir)
    assert result.ok, result.explain()
    assert result.faults > 0
    assert result.rows_compared == profile.reverse_contacts * (
        len(profile.reverse_fault_runs) + bool(profile.reverse_gateway_rate)
    )
