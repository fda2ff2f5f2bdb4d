"""Sending keeps to the shared rate budget; the rows-per-minute figure is printed, not asserted
(the benchmark suite measures it against the budget)."""

from __future__ import annotations

import time

import dagster as dg

from aircall_assets_tests.reverse_sync.helpers import (
    contacts_with,
    output_metadata,
    run_sync,
    settings_with,
    write_source,
)

CREATE = {"name": "bulk", "source": "crm.bulk", "template": "create_contacts"}


def rows(n: int) -> list[dict]:
    return [
        {
            "id": i,
            "first_name": "Rate",
            "last_name": f"T{i}",
            "phone_numbers": [{"label": "Work", "value": f"+34 600 {i:06d}"}],
        }
        for i in range(n)
    ]


def measure(simulator_factory, db, capsys, *, limit: int, window: float, n: int) -> dict:
    sim = simulator_factory(
        seed=2, days=1, calls_per_day=1, contacts=3, rpm=limit, rate_window_seconds=window
    )
    data = rows(n)
    write_source(db, "crm.bulk", data)
    started = time.monotonic()
    result = run_sync(
        settings_with(CREATE),
        sim,
        db,
        "bulk",
        resource_overrides={"requests_per_minute": limit, "rate_window_seconds": window},
    )
    wall = time.monotonic() - started
    assert result.success
    meta = output_metadata(result)
    assert meta["sent"] == n
    # The client paces (a sliding window with a small margin); the simulator counts arrivals
    # in fixed windows. On a loaded machine an arrival can lag its send by more than the
    # margin, and one 429 may appear (waited out by the client); more means no pacing.
    assert sim.stats.rate_limited <= 1, "the client must pace, not collect 429s"
    assert set(contacts_with(sim, [r["phone_numbers"][0]["value"] for r in data]).values()) == {1}
    stamps = [
        t
        for t, method, path, _ in sim.stats.request_log
        if (method, path) == ("POST", "/v1/contacts")
    ]
    # Throughput with the pipe full: the first k whole budgets, from the first request to the
    # first request of the next window (the last, partial window would flatter the figure).
    k = (len(stamps) - 1) // limit
    steady = k * limit / (stamps[k * limit] - stamps[0]) * 60
    budget = limit / window * 60
    busiest = max(sum(1 for t in stamps if s <= t < s + window) for s in stamps)
    figures = {
        "rows": n,
        "seconds": round(wall, 2),
        "budget_per_min": budget,
        "steady_rows_per_min": round(steady, 1),
        "ratio": round(steady / budget, 3),
        "average_rows_per_min": round(n / (stamps[-1] - stamps[0]) * 60, 1),
        "max_in_any_window": busiest,
        "429s": sim.stats.rate_limited,
    }
    with capsys.disabled():
        print(f"\n[reverse sync rate] limit {limit}/{window}s: {figures}")
    assert busiest <= limit + sim.stats.rate_limited
    return figures


def test_rows_per_minute_against_the_budget(simulator_factory, db, capsys):
    measure(simulator_factory, db, capsys, limit=30, window=2.0, n=91)


def test_unpaced_sync_sends_every_row_once(simulator_factory, db, capsys):
    sim = simulator_factory(seed=2, days=1, calls_per_day=1, contacts=3)
    write_source(db, "crm.bulk", rows(150))
    result = run_sync(settings_with(CREATE), sim, db, "bulk")
    meta = output_metadata(result)
    with capsys.disabled():
        print(
            f"\n[reverse sync unpaced] {meta['sent']} rows in {meta['seconds']}s = "
            f"{meta['rows_per_minute']} rows/min (state + responses committed per request)"
        )
    assert meta["sent"] == 150
    phones = [r["phone_numbers"][0]["value"] for r in rows(150)]
    assert set(contacts_with(sim, phones).values()) == {1}


def test_a_long_sync_says_how_far_it_is(simulator_factory, db, monkeypatch):
    monkeypatch.setattr("aircall_assets.progress.PROGRESS_SECONDS", 0.0)
    sim = simulator_factory(seed=2, days=1, calls_per_day=1, contacts=3)
    write_source(db, "crm.bulk", rows(12))
    instance = dg.DagsterInstance.ephemeral()
    overrides = {"requests_per_minute": 10, "rate_window_seconds": 1.0}  # 600 a minute
    result = run_sync(
        settings_with(CREATE), sim, db, "bulk", instance=instance, resource_overrides=overrides
    )
    assert result.success
    lines = [
        e.user_message for e in instance.all_logs(result.run_id) if "rows sent" in e.user_message
    ]
    print("\n".join(["", *lines[:2], "...", lines[-1]]))
    assert lines[0].startswith("bulk: 1 of 12 rows sent (8%), ")
    assert "ETA 1s at 600 requests/min" in lines[0] and "waiting for the budget" in lines[0]
    assert lines[-1].startswith("sync done: bulk: 12 of 12 rows sent (100%)")
