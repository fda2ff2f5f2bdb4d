"""The reverse sync and ``unknown_callers`` on a PostgreSQL warehouse, as a deployment runs them:
definitions built from ``AIRCALL_WAREHOUSE_URL``. Every table lands in that database and no
DuckDB file is written; the URL's password shows nowhere; readers and other destinations never
wait for a sync, nor for a rebuild of ``unknown_callers``.

The exactly-once, changed-rows, responses and take-turns tests run on both warehouses in their
own modules (the ``each_db`` fixture); these are what only PostgreSQL has.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest

from aircall_assets.definitions import build_definitions
from aircall_assets.reverse_sync.definitions import (
    REVERSE_SYNC_JOB,
    SYNC_OP,
    TEST_SEND_JOB,
    TEST_SEND_OP,
)
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse.url import WAREHOUSE_URL_ENV, mask
from aircall_assets_tests.helpers import query
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
from aircall_assets_tests.reverse_sync.test_sensor import DEMO
from aircall_assets_tests.reverse_sync.test_unknown_callers import (
    load_extracts,
    materialize_unknown,
)

CALLS, CONTACTS = dg.AssetKey(["aircall", "calls"]), dg.AssetKey(["aircall", "contacts"])
UNKNOWN_CALLERS = dg.AssetKey(["aircall_reverse", "unknown_callers"])
WAIT_S = 30  # far longer than the run waited for takes: more means it waited


@pytest.fixture
def account(simulator_factory):
    start = utc_today() - timedelta(days=2)
    return start, simulator_factory(seed=12, start_date=start, days=2, calls_per_day=30)


@pytest.fixture
def deployment(account, postgres_database, tmp_path, monkeypatch) -> dg.Definitions:
    """The code location as a deployment builds it from its environment: the PostgreSQL URL,
    a DuckDB path that must stay unused, the simulated account; the working directory is
    empty (the DuckDB default is relative to it)."""
    start, sim = account
    monkeypatch.chdir(tmp_path)
    for name, value in {
        WAREHOUSE_URL_ENV: postgres_database,
        "AIRCALL_DUCKDB_PATH": str(tmp_path / "unused" / "aircall.duckdb"),
        "AIRCALL_API_BASE_URL": sim.base_url,
        "AIRCALL_API_ID": sim.config.api_id,
        "AIRCALL_API_TOKEN": sim.config.api_token,
        "AIRCALL_REQUESTS_PER_MINUTE": "0",
    }.items():
        monkeypatch.setenv(name, value)
    settings = parse_settings({"history_start": start.isoformat(), "destinations": [DEMO]})
    return build_definitions(settings)


def materialize(defs: dg.Definitions, keys, instance, start) -> dg.ExecuteInProcessResult:
    """The extracts of the account's two days, or ``unknown_callers`` (the location's assets
    come with its resources)."""
    return dg.materialize(
        [defs.resolve_assets_def(key) for key in keys],
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": (start + timedelta(days=1)).isoformat(),
        },
        raise_on_error=False,
    )


def run_job(defs: dg.Definitions, job: str, op: str, instance, **config: Any):
    return defs.resolve_job_def(job).execute_in_process(
        run_config={"ops": {op: {"config": {"destination": DEMO["name"], **config}}}},
        instance=instance,
        raise_on_error=False,
    )


def demo_flow(defs: dg.Definitions, start, instance) -> list[dg.ExecuteInProcessResult]:
    """Extracts, unknown_callers, a dry run, a sync, a test send and a sync with nothing new."""
    runs = [
        materialize(defs, [CALLS, CONTACTS], instance, start),
        materialize(defs, [UNKNOWN_CALLERS], instance, start),
        run_job(defs, REVERSE_SYNC_JOB, SYNC_OP, instance, dry_run=True),
        run_job(defs, REVERSE_SYNC_JOB, SYNC_OP, instance),
        run_job(defs, TEST_SEND_JOB, TEST_SEND_OP, instance),
        run_job(defs, REVERSE_SYNC_JOB, SYNC_OP, instance),
    ]
    assert [r.success for r in runs] == [True] * len(runs), [failure_text(r) for r in runs]
    return runs


def test_the_demo_flow_keeps_every_table_in_postgres_and_writes_no_duckdb_file(
    deployment, account, postgres_database, tmp_path
):
    start, sim = account
    with dg.instance_for_test() as instance:
        runs = demo_flow(deployment, start, instance)
    numbers = [
        k for (k,) in query(postgres_database, "SELECT key FROM aircall_reverse.unknown_callers")
    ]
    assert numbers and output_metadata(runs[3])["sent"] == len(numbers)
    assert output_metadata(runs[5])["unchanged"] == len(numbers)
    assert set(contacts_with(sim, numbers).values()) == {1}, "each caller created once"
    tables = query(
        postgres_database,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema LIKE 'aircall%' ORDER BY 1",
    )
    assert {"aircall_reverse.unknown_callers", "aircall_sync.state", "aircall_sync.responses"} <= {
        t for (t,) in tables
    }
    assert len(state(postgres_database, DEMO["name"])) == len(numbers)
    assert len(responses(postgres_database, DEMO["name"])) == len(numbers) + 1  # + the test send
    assert not (tmp_path / "unused").exists() and not (tmp_path / "data").exists()
    assert list(tmp_path.rglob("*duckdb*")) == []


def test_the_password_shows_in_no_log_metadata_or_error_of_the_sync(
    deployment, account, postgres_database, monkeypatch, caplog, capfd
):
    start, _ = account
    secret = postgres_database.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    caplog.set_level(logging.DEBUG)
    texts = []
    with dg.instance_for_test() as instance:
        runs = demo_flow(deployment, start, instance)
        monkeypatch.setenv(WAREHOUSE_URL_ENV, postgres_database.replace(secret, secret + "-no"))
        failed = [
            materialize(deployment, [UNKNOWN_CALLERS], instance, start),
            run_job(deployment, REVERSE_SYNC_JOB, SYNC_OP, instance),
            run_job(deployment, REVERSE_SYNC_JOB, SYNC_OP, instance, dry_run=True),
            run_job(deployment, TEST_SEND_JOB, TEST_SEND_OP, instance),
        ]
        assert not any(r.success for r in failed)
        for run in runs + failed:
            texts += [repr(event) for event in run.all_events]
            texts.append(failure_text(run))
        for record in instance.get_runs():
            texts += [dg.serialize_value(entry) for entry in instance.all_logs(record.run_id)]
    out, err = capfd.readouterr()
    texts += [out, err, caplog.text]
    texts += [str(r) for r in query(postgres_database, "SELECT * FROM aircall_sync.responses")]
    everything = "\n".join(texts)
    for run in failed:
        assert "could not connect to the PostgreSQL warehouse" in failure_text(run)
    assert mask(postgres_database) in everything  # the URL is shown, masked
    assert len(everything) > 50_000, "the search covered real output"
    assert secret not in everything


def test_other_destinations_and_readers_never_wait_for_a_sync(sim, postgres_database):
    url = postgres_database

    def people(prefix: str) -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "first_name": "P",
                "last_name": str(i),
                "phone_numbers": [{"label": "Work", "value": f"{prefix} {i:02d}"}],
            }
            for i in range(6)
        ]

    leads, others = people("+33 6 11 22 33"), people("+33 6 44 55 66")
    write_source(url, "crm.leads", leads)
    write_source(url, "crm.others", others)
    settings = settings_with(
        {"name": "leads", "source": "crm.leads", "template": "create_contacts"},
        {"name": "others", "source": "crm.others", "template": "create_contacts"},
    )
    assert run_sync(settings, sim, url, "leads").success  # the tables exist from here on
    write_source(url, "crm.leads", [dict(r, company_name="Changed") for r in leads])
    # A reader in the middle of a long transaction: it holds its snapshot and table locks.
    reader = psycopg.connect(url)
    reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    (before,) = reader.execute("SELECT count(*) FROM aircall_sync.responses").fetchone()
    gateway = sim._server.gateway
    handle = gateway.handle
    seen: list[Any] = []

    def during_the_first_update(method, path, authorization, body):
        if method == "POST" and path.startswith("/v1/contacts/") and not seen:
            other = threading.Thread(  # 'leads' is running: it waits for this answer
                target=lambda: seen.append(run_sync(settings, sim, url, "others")), daemon=True
            )
            other.start()
            other.join(WAIT_S)
            with psycopg.connect(url) as con:
                con.execute("SET lock_timeout = '2s'")
                seen.append(con.execute("SELECT count(*) FROM aircall_sync.state").fetchone())
        return handle(method, path, authorization, body)

    gateway.handle = during_the_first_update
    try:
        result = run_sync(settings, sim, url, "leads")
    finally:
        gateway.handle = handle
    assert result.success, failure_text(result)
    assert output_metadata(result)["sent"] == 6
    assert len(seen) == 2, f"the sync of 'others' waited for 'leads' over {WAIT_S}s"
    other_run, (states,) = seen
    assert other_run.success and output_metadata(other_run)["sent"] == 6
    assert states == 12
    assert reader.execute("SELECT count(*) FROM aircall_sync.responses").fetchone() == (before,)
    reader.rollback()
    numbers = [r["phone_numbers"][0]["value"] for r in leads + others]
    assert set(contacts_with(sim, numbers).values()) == {1}


def test_a_rebuild_of_unknown_callers_waits_for_no_reader(account, postgres_database):
    start, sim = account
    load_extracts(sim, postgres_database, start, 2)
    assert materialize_unknown(postgres_database).success
    reader = psycopg.connect(postgres_database)
    reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    (rows,) = reader.execute("SELECT count(*) FROM aircall_reverse.unknown_callers").fetchone()
    with psycopg.connect(postgres_database, autocommit=True) as con:
        con.execute("DELETE FROM aircall.contacts")  # every caller is unknown now
    done: list[bool] = []
    rebuild = threading.Thread(
        target=lambda: done.append(materialize_unknown(postgres_database).success), daemon=True
    )
    rebuild.start()
    rebuild.join(WAIT_S)
    try:
        assert done == [True], "the rebuild waited for a reader's transaction"
        again = reader.execute("SELECT count(*) FROM aircall_reverse.unknown_callers").fetchone()
        assert again == (rows,), "the reader's snapshot keeps the rows it saw"
    finally:
        reader.rollback()
        rebuild.join(60)
    (now,) = query(postgres_database, "SELECT count(*) FROM aircall_reverse.unknown_callers")[0]
    assert now > rows
