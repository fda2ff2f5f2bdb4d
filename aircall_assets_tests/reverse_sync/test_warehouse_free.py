"""A long sync leaves the warehouse to others: it opens the DuckDB file only between requests.

The file lock is per process in practice (an extract and a sync are separate Dagster runs), so
the tests of two runs at once use two processes, the sync kept slow by a small rate budget. The
extract reads its own simulated company: the budget is per company, and these tests are about
the warehouse, not about sharing a budget. Freeing the warehouse between requests must not let
two runs of one destination send the same rows: those take turns.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import Warehouse
from aircall_assets_tests.reverse_sync.helpers import (
    contacts_with,
    failure_text,
    output_metadata,
    responses,
    run_sync,
    settings_with,
    state,
    write_source,
)

DESTINATION = {"name": "leads", "source": "crm.leads", "template": "create_contacts"}
SYNC_CHILD = """
import os, sys
import orjson
from aircall_assets_tests.reverse_sync.helpers import output_metadata, run_sync, settings_with

class Sim:
    base_url = os.environ["SIM_URL"]
    class config:
        api_id = os.environ["SIM_API_ID"]
        api_token = os.environ["SIM_API_TOKEN"]

settings = settings_with(orjson.loads(os.environ["DESTINATION"]))
budget = {"requests_per_minute": int(os.environ["BUDGET"]), "rate_window_seconds": 1.0}
result = run_sync(settings, Sim, os.environ["DB"], "leads", resource_overrides=budget)
print("METADATA " + orjson.dumps(output_metadata(result)).decode(), flush=True)
sys.exit(0 if result.success else 1)
"""


def leads(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "first_name": "Long",
            "last_name": f"Sync{i:04d}",
            "phone_numbers": [{"label": "Work", "value": f"+44 20 7946 {i:04d}"}],
        }
        for i in range(n)
    ]


def numbers(rows: list[dict[str, Any]]) -> list[str]:
    return [r["phone_numbers"][0]["value"] for r in rows]


def spawn_sync(sim, db: Path | str, budget: int, log: Path) -> subprocess.Popen:
    """A sync run in a child process; its log (stderr) goes to ``log``, read at the end."""
    env = {
        **os.environ,
        "SIM_URL": sim.base_url,
        "SIM_API_ID": sim.config.api_id,
        "SIM_API_TOKEN": sim.config.api_token,
        "DB": str(db),
        "BUDGET": str(budget),
        "DESTINATION": orjson.dumps(DESTINATION).decode(),
    }
    with open(log, "w", encoding="utf-8") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", SYNC_CHILD],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    return child


def finished(child: subprocess.Popen, log: Path, timeout: float) -> tuple[dict[str, Any], str]:
    """The child's run metadata and its log, once it exited 0."""
    out, _ = child.communicate(timeout=timeout)
    text = log.read_text(encoding="utf-8")
    assert child.returncode == 0, text[-3000:]
    line = next(x for x in out.splitlines() if x.startswith("METADATA "))
    return orjson.loads(line.removeprefix("METADATA ")), text


def day_ts(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp())


def contacts_created(sim, rows) -> int:
    return sum(contacts_with(sim, numbers(rows)).values())


def test_an_extract_lands_and_is_readable_while_a_long_sync_runs(
    simulator_factory, tmp_path, capsys
):
    rows, budget = leads(360), 12  # 360 creates at 12 a second: 30 s at least
    crm = simulator_factory(seed=4, days=1, calls_per_day=2, contacts=5)
    first = utc_today() - timedelta(days=3)
    calls = simulator_factory(
        seed=6, api_id="other-company", start_date=first, days=2, calls_per_day=150, contacts=10
    )
    db = tmp_path / "aircall.duckdb"
    write_source(db, "crm.leads", rows)
    home = tmp_path / "dagster_home"
    home.mkdir()
    extract_env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "AIRCALL_API_BASE_URL": calls.base_url,
        "AIRCALL_API_ID": calls.config.api_id,
        "AIRCALL_API_TOKEN": calls.config.api_token,
        "AIRCALL_REQUESTS_PER_MINUTE": "0",
        "AIRCALL_DUCKDB_PATH": str(db),
        "AIRCALL_START_DATE": first.isoformat(),
    }
    extract = ["dagster", "asset", "materialize", "-m", "aircall_assets"]
    extract += ["--select", "aircall/calls", "--partition", first.isoformat()]
    expected_calls = len(calls.store.calls_between(0, day_ts(first + timedelta(days=1))))

    spawned = time.monotonic()
    log = tmp_path / "sync.log"
    sync = spawn_sync(crm, db, budget, log)
    try:
        while contacts_created(crm, rows) < 2 * budget:  # two seconds into its sends
            assert sync.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() - spawned < 60, "the sync never got going"
            time.sleep(0.02)
        extract_started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", *extract],
            env=extract_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        extract_done = time.monotonic()
        assert out.returncode == 0, out.stderr[-3000:]
        with Warehouse(db).connect(read_only=True) as con:
            (loaded,) = con.execute("SELECT count(*) FROM aircall.calls").fetchone()
        readable = time.monotonic()
        sent_by_then = contacts_created(crm, rows)
        still_running = sync.poll() is None
        meta, _ = finished(sync, log, timeout=120)
    finally:
        if sync.poll() is None:
            sync.kill()
    ended = time.monotonic()

    posts = [
        t
        for t, method, path, _ in crm.stats.request_log
        if (method, path) == ("POST", "/v1/contacts")
    ]
    timings = {
        "sync_sending_s": round(posts[-1] - posts[0], 1),
        "sync_process_s": round(ended - spawned, 1),
        "extract_started_after_first_send_s": round(extract_started - posts[0], 1),
        "extract_s": round(extract_done - extract_started, 1),
        "readable_before_last_send_s": round(posts[-1] - readable, 1),
        "rows_sent_when_readable": sent_by_then,
    }
    with capsys.disabled():
        print(f"\n[sync vs extract] {timings}")
    assert loaded == expected_calls > 0
    assert posts[0] < extract_started, "the extract must start while the sync is sending"
    assert still_running and readable < posts[-1], (
        f"the extract's rows must be readable before the sync ends: {timings}"
    )
    assert sent_by_then < len(rows)
    assert (meta["sent"], meta["failed"], meta["uncertain"]) == (len(rows), 0, 0)
    assert set(contacts_with(crm, numbers(rows)).values()) == {1}, "each row created once"
    assert len(crm.store.all("contacts")) == 5 + len(rows)
    assert {s["status"] for s in state(db, "leads").values()} == {"sent"}
    assert len(posts) == len(rows)


def test_two_runs_of_one_destination_take_turns(simulator_factory, each_db, tmp_path):
    rows = leads(80)
    sim = simulator_factory(seed=8, days=1, calls_per_day=2, contacts=5)
    write_source(each_db, "crm.leads", rows)
    logs = [tmp_path / f"sync-{i}.log" for i in range(2)]
    children = [spawn_sync(sim, each_db, 20, log) for log in logs]
    try:
        results = [finished(child, log, 120) for child, log in zip(children, logs, strict=True)]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert set(contacts_with(sim, numbers(rows)).values()) == {1}, "a row was sent twice"
    assert len(sim.store.all("contacts")) == 5 + len(rows)
    counts = sorted((m["sent"], m["unchanged"]) for m, _ in results)
    assert counts == [(0, len(rows)), (len(rows), 0)]
    waited = [log for m, log in results if m["sent"] == 0]
    assert "'leads' is being synced by run " in waited[0], "the runs did not overlap"


def test_the_warehouse_is_free_whenever_a_request_is_at_aircall(simulator_factory, tmp_path):
    # Lost answers make the sync look its creates up: lookups are requests too.
    sim = simulator_factory(
        seed=11, days=1, calls_per_day=2, contacts=5, fault_rate=0.3, fault_kinds=("drop",)
    )
    db = tmp_path / "aircall.duckdb"
    rows = leads(40)
    write_source(db, "crm.leads", rows)
    gateway = sim._server.gateway
    handle = gateway.handle
    seen: list[tuple[str, str, bool]] = []

    def handle_while_checking_the_lock(method, path, authorization, body):
        with open(db.with_name(db.name + ".lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append((method, path, False))
            else:
                fcntl.flock(lock, fcntl.LOCK_UN)
                seen.append((method, path, True))
        return handle(method, path, authorization, body)

    gateway.handle = handle_while_checking_the_lock
    result = run_sync(settings_with(DESTINATION), sim, db, "leads")
    assert result.success, failure_text(result)
    assert any(r["outcome"] == "recovered" for r in responses(db, "leads")), "no lookup happened"
    assert {m for m, _, _ in seen} == {"GET", "POST"} and len(seen) > len(rows)
    held = [(m, p) for m, p, free in seen if not free]
    assert not held, f"{len(held)} of {len(seen)} requests reached Aircall with the file locked"
    assert output_metadata(result)["sent"] + output_metadata(result)["recovered"] == len(rows)


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_connection_outside_the_project_delays_a_write_and_fails_nothing(
    simulator_factory, tmp_path
):
    # A notebook's DuckDB connection does not take the project's lock: DuckDB refuses the
    # sync's attach while it is open, between two requests of a run that may last hours.
    sim = simulator_factory(seed=9, days=1, calls_per_day=2, contacts=5)
    db = tmp_path / "aircall.duckdb"
    rows = leads(12)
    write_source(db, "crm.leads", rows)
    gateway = sim._server.gateway
    handle = gateway.handle
    hold_s, posts = 1.5, []
    holder: list[subprocess.Popen] = []

    def open_the_file_during_the_fifth_create(method, path, authorization, body):
        if method == "POST":
            posts.append(time.monotonic())
            if len(posts) == 5:  # the sync waits for this answer: the file is free
                holder.append(
                    subprocess.Popen(
                        [sys.executable, "-c", HOLDER, str(db), str(hold_s)],
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
                assert holder[0].stdout.readline().strip() == "open"
        return handle(method, path, authorization, body)

    gateway.handle = open_the_file_during_the_fifth_create
    try:
        result = run_sync(settings_with(DESTINATION), sim, db, "leads")
    finally:
        for process in holder:
            process.wait(30)
    assert result.success, failure_text(result)
    assert output_metadata(result)["sent"] == len(rows)
    assert set(contacts_with(sim, numbers(rows)).values()) == {1}
    assert posts[5] - posts[4] > hold_s * 0.8, "the sixth create left before its intent was kept"
