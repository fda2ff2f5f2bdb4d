"""``python -m aircall_assets status``: pending before the first load, active after, paused when
the daily schedule is stopped; rows, partitions and the warehouse read without blocking; a
failed last run with its one-line reason."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import duckdb
import psycopg
import pytest

from aircall_assets import run_failures, status_text
from aircall_assets import status as status_module
from aircall_assets.__main__ import main as cli_main
from aircall_assets.definitions import build_definitions
from aircall_assets.demo import INSTANCE_YAML
from aircall_assets.schedules import DAILY_SCHEDULE, FULL_JOB, KEYED_JOB
from aircall_assets.settings import load_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse.duckdb_file import _file_lock
from aircall_assets.warehouse.url import WAREHOUSE_URL_ENV, mask
from aircall_assets_tests.warehouses import KINDS

DAYS = 4
KEYED = ["users", "numbers", "contacts", "calls"]
FULL = ["tags", "teams", "company_info", "user_availability", "webhooks"]
UNKNOWN_CALLERS = dg.AssetKey(["aircall_reverse", "unknown_callers"])


@pytest.fixture
def account(simulator_factory):
    return simulator_factory(
        seed=3,
        start_date=utc_today() - timedelta(days=DAYS),
        days=DAYS,
        calls_per_day=20,
        contacts=25,
    )


@pytest.fixture
def project(request, account, tmp_path, monkeypatch):
    """A temporary DAGSTER_HOME, warehouse and settings file, the environment at the simulator;
    the warehouse is a DuckDB file, or (``ON_BOTH``) each warehouse in turn."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    settings_file = tmp_path / "aircall.yaml"
    settings_file.write_text(
        f"history_start: {account.config.first_day}\n"
        "tables:\n  teams: {enabled: false}\n"
        "destinations:\n"
        "  - {name: unknown_callers, source: aircall_reverse/unknown_callers, "
        "template: create_contacts}\n"
        "  - {name: crm, source: crm.people, template: create_contacts, key: id}\n"
    )
    db = tmp_path / "wh" / "aircall.duckdb"
    env = {
        "DAGSTER_HOME": str(home),
        "AIRCALL_SETTINGS": str(settings_file),
        "AIRCALL_DUCKDB_PATH": str(db),
        "AIRCALL_API_BASE_URL": account.base_url,
        "AIRCALL_API_ID": account.config.api_id,
        "AIRCALL_API_TOKEN": account.config.api_token,
        "AIRCALL_REQUESTS_PER_MINUTE": "0",
    }
    kind = getattr(request, "param", "duckdb")
    url = request.getfixturevalue("postgres_database") if kind == "postgres" else None
    if url:
        env[WAREHOUSE_URL_ENV] = url
    monkeypatch.delenv("AIRCALL_START_DATE", raising=False)
    monkeypatch.delenv(WAREHOUSE_URL_ENV, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    instance = dg.DagsterInstance.from_config(str(home))
    yield {
        "home": home,
        "db": db,
        "url": url,
        "warehouse": url or db,
        "instance": instance,
        "settings_file": settings_file,
    }
    instance.dispose()


ON_BOTH = pytest.mark.parametrize("project", KINDS, indirect=True)


def collect(**options) -> status_module.Status:
    """The status of the default account of the project's settings file, as the CLI shows it."""
    return status_module.collect([load_settings()], **options)


@contextmanager
def holding_the_warehouse(project):
    """What a load holds that a count must wait for: the DuckDB file's lock, or on PostgreSQL
    the lock of a table whose columns a load is changing."""
    if project["url"] is None:
        with _file_lock(Path(project["db"]), timeout=1):
            yield
        return
    with psycopg.connect(project["url"]) as con:
        con.execute("LOCK TABLE aircall.calls IN ACCESS EXCLUSIVE MODE")
        yield


def execute(project, statements):
    """Write to the project's warehouse outside the project's code."""
    if project["url"]:
        with psycopg.connect(project["url"], autocommit=True) as con:
            for statement in statements:
                con.execute(statement)
        return
    project["db"].parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(project["db"])) as con:
        for statement in statements:
            con.execute(statement)


def run_job(instance, job_name, first=None, last=None, succeed=True, ops=None):
    defs = build_definitions(load_settings())
    tags = {}
    if first:
        tags = {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        tags=tags,
        run_config={
            "loggers": {"console": {"config": {"log_level": "WARNING" if succeed else "CRITICAL"}}},
            **({"ops": ops} if ops else {}),
        },
        raise_on_error=False,
    )
    assert result.success is succeed


def load_everything(project, account):
    first = account.config.first_day
    run_job(project["instance"], KEYED_JOB, first, first + timedelta(days=DAYS - 1))
    run_job(project["instance"], FULL_JOB)


@contextmanager
def code_location(instance, project):
    """The code location as the webserver and daemon load it, to toggle its schedule."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext

    # Built from this test's settings file (the package's module-level defs were built at import).
    module = project["home"].parent / "location_defs.py"
    module.write_text(
        "from aircall_assets.definitions import build_definitions\n"
        "from aircall_assets.settings import load_settings\n"
        "defs = build_definitions(load_settings())\n"
    )
    target = LoadableTargetOrigin(python_file=str(module), attribute="defs")
    origin = InProcessCodeLocationOrigin(target, location_name="aircall_assets")
    with WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as context:
        location = context.create_request_context().get_code_location("aircall_assets")
        yield location.get_repository("__repository__")


@ON_BOTH
def test_pending_before_the_first_load(project, account):
    status = collect()
    assert status.instance_found and status.warehouse_state == "missing"
    assert status.account().schedule == DAILY_SCHEDULE and status.account().schedule_running
    assert status.account().history_start == account.config.first_day
    for name in KEYED + [n for n in FULL if n != "teams"]:  # teams: disabled
        table = status.account().table(name)
        assert table.state == "pending", name
        assert table.last_load is None and table.rows is None
    calls = status.account().table("calls")
    assert (calls.partitions_loaded, calls.partitions_total) == (0, DAYS)
    assert calls.missing[0] == account.config.first_day.isoformat()
    assert status.account().table("teams").state == "disabled"
    assert status.account().table("tags").partitions_total is None


def test_nothing_ran_yet_without_a_dagster_home(project, monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "never_created"))
    status = collect()
    assert not status.instance_found
    assert {t.state for t in status.account().tables} == {"pending", "disabled"}
    assert not (tmp_path / "never_created").exists(), "status must not create an instance"


@ON_BOTH
def test_active_after_the_first_load_with_rows_and_partitions(project, account):
    load_everything(project, account)
    status = collect()
    assert status.warehouse_state == "ok"
    expected_rows = {
        "users": len(account.store.all("users")),
        "numbers": len(account.store.all("numbers")),
        "contacts": len(account.store.all("contacts")),
        "calls": DAYS * 20,
        "tags": len(account.store.all("tags")),
        "company_info": 1,
        "user_availability": len(account.store.all("users")),
        "webhooks": len(account.store.all("webhooks")),
    }
    for name, rows in expected_rows.items():
        table = status.account().table(name)
        assert table.state == "active", name
        assert table.rows == rows, name
        assert table.last_run_status == "SUCCESS"
        assert table.last_load is not None
    calls = status.account().table("calls")
    assert (calls.partitions_loaded, calls.partitions_total, calls.missing) == (DAYS, DAYS, [])


def test_missing_partitions_are_listed(project, account):
    first = account.config.first_day
    run_job(project["instance"], KEYED_JOB, first + timedelta(days=1), first + timedelta(days=1))
    calls = collect().account().table("calls")
    assert calls.state == "active"
    assert calls.partitions_loaded == 1
    assert calls.missing == [(first + timedelta(days=d)).isoformat() for d in range(DAYS) if d != 1]
    assert status_text.compress_days(calls.missing) == [
        first.isoformat(),
        f"{first + timedelta(days=2)}..{first + timedelta(days=DAYS - 1)}",
    ]
    assert collect().account().table("tags").state == "pending"


def test_paused_when_the_schedule_is_stopped_and_active_again_when_restarted(project, account):
    load_everything(project, account)
    instance = project["instance"]
    with code_location(instance, project) as repository:
        schedule = repository.get_schedule(DAILY_SCHEDULE)
        instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
        status = collect()
        assert not status.account().schedule_running
        assert {t.state for t in status.account().tables} == {"paused", "disabled"}
        assert status.account().table("calls").rows == DAYS * 20, "a paused table keeps its data"

        instance.start_schedule(schedule)
        assert {t.state for t in collect().account().tables} == {"active", "disabled"}


def test_paused_by_the_settings_file_default(project, account):
    project["settings_file"].write_text(
        f"history_start: {account.config.first_day}\nschedule: {{running: false}}\n"
    )
    status = collect()
    assert not status.account().schedule_running
    assert status.account().table("calls").state == "paused"


def test_switching_the_warehouse_path_shows_pending_again(project, account, monkeypatch, tmp_path):
    load_everything(project, account)
    monkeypatch.setenv("AIRCALL_DUCKDB_PATH", str(tmp_path / "elsewhere.duckdb"))
    status = collect()
    assert status.warehouse_state == "missing"
    calls = status.account().table("calls")
    assert calls.state == "pending"
    assert calls.last_load is not None, "the instance still knows the last run"


@ON_BOTH
def test_a_run_holding_the_warehouse_does_not_block_status(project, account):
    load_everything(project, account)
    started = time.monotonic()
    with holding_the_warehouse(project):
        status = collect(lock_timeout=0.3)
    assert time.monotonic() - started < 15
    assert status.warehouse_state == "busy"
    calls = status.account().table("calls")
    assert calls.state == "active" and calls.rows is None


@ON_BOTH
def test_cli_prints_the_table_and_json(project, account, capsys):
    assert cli_main(["status"]) == 0
    text = capsys.readouterr().out
    assert "calls" in text and "pending" in text and "not created yet" in text
    load_everything(project, account)
    assert cli_main(["status", "--json"]) == 0
    printed = capsys.readouterr().out
    data = json.loads(printed)
    calls = next(t for t in data["accounts"][0]["tables"] if t["name"] == "calls")
    assert calls["state"] == "active" and calls["rows"] == DAYS * 20
    assert cli_main(["status"]) == 0
    text = capsys.readouterr().out
    line = next(line for line in text.splitlines() if line.startswith("calls"))
    assert "active" in line and f"{DAYS}/{DAYS}" in line and str(DAYS * 20) in line
    shown = str(project["db"]) if project["url"] is None else mask(project["url"])
    assert f"Warehouse:        {shown}\n" in text and data["warehouse"] == shown
    if project["url"]:
        password = urlsplit(project["url"]).password
        assert password not in text and password not in printed


def test_an_unreachable_postgres_is_said_without_its_password(project, monkeypatch, capsys):
    url = "postgresql://aircall:hunter2-s3cret@127.0.0.1:9/aircall"  # nothing listens on 9
    monkeypatch.setenv(WAREHOUSE_URL_ENV, url)
    status = collect()
    assert status.warehouse_state == "unreachable" and status.warehouse == mask(url)
    assert status.warehouse_problem.startswith(
        f"could not connect to the PostgreSQL warehouse {mask(url)}"
    )
    assert {t.state for t in status.account().tables} == {"pending", "disabled"}
    assert cli_main(["status"]) == 0 and cli_main(["status", "--json"]) == 0
    printed = capsys.readouterr().out
    assert "(unreachable: rows not counted)" in printed and "could not connect" in printed
    assert "hunter2" not in printed


@ON_BOTH
def test_the_sync_counts_each_destinations_rows_by_latest_outcome(project):
    from aircall_assets.account import DEFAULT_ACCOUNT
    from aircall_assets.reverse_sync.state import STATE_COLUMNS, STATE_TABLE

    schema = DEFAULT_ACCOUNT.sync_schema
    columns = ", ".join(f"{name} {ddl}" for name, ddl in STATE_COLUMNS.items())
    rows = [("crm", "sent")] * 3 + [("crm", "invalid"), ("crm", "rejected"), ("crm", "sending")]
    rows += [("unknown_callers", "uncertain"), ("unknown_callers", "sent")]
    execute(
        project,
        [
            f"CREATE SCHEMA IF NOT EXISTS {schema}",
            f"CREATE TABLE {schema}.{STATE_TABLE} ({columns})",
        ]
        + [
            f"INSERT INTO {schema}.{STATE_TABLE} (destination, row_key, status, attempts, "
            f"updated_at) VALUES ('{destination}', '{i}', '{outcome}', 1, now())"
            for i, (destination, outcome) in enumerate(rows)
        ],
    )
    status = collect()
    assert status.warehouse_state == "ok"
    default = status.account()
    crm, unknown = default.destination("crm"), default.destination("unknown_callers")
    assert (crm.sent, crm.rejected, crm.failed) == (3, 2, 1)
    assert (unknown.sent, unknown.rejected, unknown.failed) == (1, 0, 1)
    line = next(r for r in status_text.render(status).splitlines() if r.startswith("crm"))
    assert line.split()[-3:] == ["3", "2", "1"]


@ON_BOTH
def test_destinations_inactive_until_activated_then_counts_after_a_sync(project, account):
    from aircall_assets.reverse_sync.definitions import (
        DESTINATION_TAG,
        REVERSE_SYNC_JOB,
        SENSOR_PREFIX,
        SYNC_OP,
    )
    from aircall_assets_tests.reverse_sync.helpers import write_source

    status = collect()
    assert [d.name for d in status.account().destinations] == ["unknown_callers", "crm"]
    assert not any(d.active for d in status.account().destinations), "destinations start inactive"
    assert status.account().destination("crm").last_run_id is None

    load_everything(project, account)
    instance = project["instance"]
    defs = build_definitions(load_settings())
    assert dg.materialize([defs.resolve_assets_def(UNKNOWN_CALLERS)], instance=instance).success
    write_source(
        project["warehouse"],
        "crm.people",
        [
            {"id": 1, "first_name": "Ada", "phone_numbers": [{"label": "m", "value": "+4477"}]},
            {"id": 2, "first_name": "Bob", "phone_numbers": [{"label": "m", "value": "+4488"}]},
            {"id": 3, "first_name": "Nobody", "phone_numbers": []},  # fails validation
        ],
    )
    with code_location(instance, project) as repository:
        instance.start_sensor(repository.get_sensor(SENSOR_PREFIX + "crm"))
        status = collect()
        assert status.account().destination("crm").active
        assert not status.account().destination("unknown_callers").active

    job = defs.resolve_job_def(REVERSE_SYNC_JOB)
    for name in ("crm", "unknown_callers"):
        result = job.execute_in_process(
            instance=instance,
            run_config={"ops": {SYNC_OP: {"config": {"destination": name}}}},
            tags={DESTINATION_TAG: name},
            raise_on_error=False,
        )
        assert result.success or name == "crm"

    status = collect()
    crm = status.account().destination("crm")
    assert (crm.sent, crm.rejected, crm.failed) == (2, 1, 0)
    assert crm.last_run_status in ("SUCCESS", "FAILURE") and crm.last_run_at is not None
    unknown = status.account().destination("unknown_callers")
    assert unknown.sent > 0 and unknown.last_run_status == "SUCCESS"
    assert (unknown.rejected, unknown.failed) == (0, 0)
    text = status_text.render(status)
    assert "crm" in text and "unknown_callers" in text


def test_a_history_older_than_aircall_serves_names_the_oldest_day_served(project):
    settings_file = project["settings_file"]
    old = utc_today() - timedelta(days=200)
    settings_file.write_text(f"history_start: {old}\n")
    status = collect()
    served = utc_today() - timedelta(days=180)
    assert status.calls_served_from == served
    assert f"Calls served:     from {served} on" in status_text.render(status)
    settings_file.write_text(f"history_start: {served}\n")
    assert "Calls served" not in status_text.render(collect())


def test_a_failed_run_shows_its_one_line_reason_until_a_later_success(
    project, account, monkeypatch, capsys
):
    first, last = account.config.first_day, account.config.first_day + timedelta(days=DAYS - 1)
    wrong_token = "wrong-token-0123456789abcdef"
    monkeypatch.setenv("AIRCALL_API_TOKEN", wrong_token)  # the simulator answers 403
    before = datetime.now(timezone.utc).replace(microsecond=0)
    run_job(project["instance"], KEYED_JOB, first, last, succeed=False)

    status = collect()
    calls = status.account().table("calls")
    assert calls.last_run_status == "FAILURE"
    failure = calls.last_failure
    assert failure.reason.startswith(
        "Aircall rejected the credentials (403 on GET /v1/calls). Set AIRCALL_API_ID"
    ), failure.reason
    assert failure.reason.endswith("...") and len(failure.reason) <= run_failures.REASON_WIDTH
    assert before <= failure.at <= datetime.now(timezone.utc)
    assert (
        status.account()
        .table("users")
        .last_failure.reason.startswith("Aircall rejected the credentials (403 on GET /v2/users).")
    )
    assert status.account().table("tags").last_failure is None, "tags never ran"

    text = status_text.render(status)
    failed_at = failure.at.strftime("%Y-%m-%d %H:%M UTC")
    assert f"calls: failed {failed_at}: {failure.reason}" in text.splitlines()
    assert cli_main(["status", "--json"]) == 0
    printed = capsys.readouterr().out
    data = next(t for t in json.loads(printed)["accounts"][0]["tables"] if t["name"] == "calls")
    assert data["last_failure"] == {"at": failure.at.isoformat(), "reason": failure.reason}
    for output in (text, printed):
        assert "Error occurred while handling output" not in output
        assert "AircallAuthError" not in output
        assert wrong_token not in output and account.config.api_token not in output

    monkeypatch.setenv("AIRCALL_API_TOKEN", account.config.api_token)
    run_job(project["instance"], KEYED_JOB, first, last)
    status = collect()
    assert status.account().table("calls").last_run_status == "SUCCESS"
    assert all(t.last_failure is None for t in status.account().tables)
    assert ": failed " not in status_text.render(status)


def test_a_failure_elsewhere_in_the_run_names_the_failed_step(project, account):
    first = account.config.first_day
    run_job(
        project["instance"],
        KEYED_JOB,
        first,
        first,
        succeed=False,
        ops={"aircall__calls": {"config": {"columns": ["no_such_column"]}}},
    )
    status = collect()
    calls = status.account().table("calls").last_failure
    assert calls.reason.startswith("run config: unknown column(s) ['no_such_column']"), calls
    users = status.account().table("users")
    assert users.last_run_status == "FAILURE" and users.last_load is not None
    assert users.last_failure.reason == (
        f"Execution of run for \"{KEYED_JOB}\" failed. Steps failed: ['aircall__calls']."
    )


def test_a_failed_sync_shows_its_reason(project, account):
    from aircall_assets.reverse_sync.definitions import DESTINATION_TAG, REVERSE_SYNC_JOB, SYNC_OP
    from aircall_assets_tests.reverse_sync.helpers import write_source

    load_everything(project, account)
    job = build_definitions(load_settings()).resolve_job_def(REVERSE_SYNC_JOB)

    def sync() -> None:
        job.execute_in_process(
            instance=project["instance"],
            run_config={
                "ops": {SYNC_OP: {"config": {"destination": "crm"}}},
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
            tags={DESTINATION_TAG: "crm"},
            raise_on_error=False,
        )

    sync()  # crm.people does not exist yet
    status = collect()
    crm = status.account().destination("crm")
    assert crm.last_run_status == "FAILURE"
    assert crm.last_failure.reason.startswith("destination 'crm': "), crm.last_failure
    assert "crm.people" in crm.last_failure.reason and "\n" not in crm.last_failure.reason
    assert status.account().destination("unknown_callers").last_failure is None
    assert f"crm: failed {crm.last_failure.at:%Y-%m-%d %H:%M} UTC: " in status_text.render(status)

    write_source(
        project["db"],
        "crm.people",
        [{"id": 1, "first_name": "Ada", "phone_numbers": [{"label": "m", "value": "+4477"}]}],
    )
    sync()
    crm = collect().account().destination("crm")
    assert crm.last_run_status == "SUCCESS" and crm.last_failure is None


def test_one_line_reasons():
    from dagster._utils.error import SerializableErrorInfo

    def error(message, cls_name, cause=None):
        return SerializableErrorInfo(message, [], cls_name, cause=cause)

    wrapped = error(
        "dagster._core.errors.DagsterExecutionHandleOutputError: Error occurred while handling "
        'output "result" of step "aircall__calls":\n',
        "DagsterExecutionHandleOutputError",
        cause=error(
            "aircall_assets.client.errors.AircallUnavailable: GET /v1/calls: timeout\n",
            "AircallUnavailable",
        ),
    )
    assert run_failures.error_reason(wrapped) == "GET /v1/calls: timeout"
    assert run_failures.error_reason(error("KeyError: 'id'\n", "KeyError")) == "KeyError: 'id'"
    assert run_failures.error_reason(error("Failure\n", "Failure")) == "Failure"
    assert run_failures.one_line("first line\nsecond line") == "first line"
    long = "word " * 40
    cut = run_failures.one_line(long, width=30)
    assert cut == "word word word word word..." and len(cut) <= 30
    assert run_failures.one_line("x" * 50, width=20) == "x" * 17 + "..."
