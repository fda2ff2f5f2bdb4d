"""The daily schedule's run requests and the contacts-change sensor, against the simulator."""

import time
from datetime import date, datetime, timezone

import dagster as dg
import pytest

from aircall_assets.assets import build_extract_assets
from aircall_assets.schedules import (
    CONTACTS_SENSOR,
    FULL_JOB,
    KEYED_JOB,
    build_contacts_sensor,
    build_daily_schedule,
    changed_contact_partitions,
    daily_run_requests,
)
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import WarehouseIOManager
from aircall_assets_tests.helpers import client_for, resource_for

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# What a named account's settings add to the default account's.
NAMED = {
    "eu": {
        "account": "eu",
        "api_id": "{{ env.EU_AIRCALL_API_ID }}",
        "api_token": "{{ env.EU_AIRCALL_API_TOKEN }}",
    }
}


def test_daily_run_covers_yesterday_plus_lookback_and_full_tables():
    settings = parse_settings({"history_start": "2026-06-01", "lookback_days": 3})
    keyed, full = daily_run_requests(settings, date(2026, 7, 10))
    assert keyed.job_name == KEYED_JOB
    assert (keyed.tags[RANGE_START], keyed.tags[RANGE_END]) == ("2026-07-06", "2026-07-09")
    assert full.job_name == FULL_JOB
    assert keyed.run_key != daily_run_requests(settings, date(2026, 7, 11))[0].run_key


def test_a_named_accounts_runs_are_its_own_jobs_with_its_own_lookback():
    eu = parse_settings({"history_start": "2026-06-01", "lookback_days": 1, **NAMED["eu"]})
    keyed, full = daily_run_requests(eu, date(2026, 7, 10))
    assert (keyed.job_name, full.job_name) == (f"{KEYED_JOB}_eu", f"{FULL_JOB}_eu")
    assert (keyed.tags[RANGE_START], keyed.tags[RANGE_END]) == ("2026-07-08", "2026-07-09")
    default = parse_settings({"history_start": "2026-06-01", "lookback_days": 1})
    assert keyed.run_key != daily_run_requests(default, date(2026, 7, 10))[0].run_key
    schedule = build_daily_schedule(eu)
    assert (schedule.name, schedule.job_name) == ("aircall_daily_eu", f"{KEYED_JOB}_eu")


def test_lookback_is_clipped_to_history_start_and_nothing_before_it():
    settings = parse_settings({"history_start": "2026-06-01", "lookback_days": 3})
    keyed = daily_run_requests(settings, date(2026, 6, 2))[0]
    assert (keyed.tags[RANGE_START], keyed.tags[RANGE_END]) == ("2026-06-01", "2026-06-01")
    assert [r.job_name for r in daily_run_requests(settings, date(2026, 6, 1))] == [FULL_JOB]


def test_disabled_tables_are_not_scheduled():
    settings = parse_settings(
        {
            "history_start": "2026-06-01",
            "tables": {
                n: {"enabled": False}
                for n in ["tags", "teams", "company_info", "user_availability", "webhooks"]
            },
        }
    )
    assert [r.job_name for r in daily_run_requests(settings, date(2026, 7, 1))] == [KEYED_JOB]


def test_schedule_evaluates_with_its_scheduled_time():
    settings = parse_settings({"history_start": "2026-06-01", "schedule": {"running": False}})
    schedule = build_daily_schedule(settings)
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 7, 10, 3, tzinfo=timezone.utc)
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert requests[0].tags[RANGE_END] == "2026-07-09"


def test_changed_contacts_map_to_their_created_partitions(simulator):
    settings = parse_settings({"history_start": simulator.config.first_day.isoformat()})
    client = client_for(simulator)
    cursor = simulator.store.now()
    quiet = changed_contact_partitions(client, settings, cursor, utc_today())
    assert (quiet.partitions, quiet.newest, quiet.reached_cursor) == (set(), cursor, True)
    assert client.stats.requests == 1, "a quiet account costs one request"
    contacts = sorted(simulator.store.all("contacts"), key=lambda c: c["created_at"])
    old, older = contacts[-1], contacts[0]  # one inside the range, one created before it
    time.sleep(1.1)
    simulator.store.update_contact(old["id"], information="edited")
    simulator.store.update_contact(older["id"], information="edited too")
    changes = changed_contact_partitions(client, settings, cursor, utc_today())
    created = datetime.fromtimestamp(old["created_at"], tz=timezone.utc).date()
    assert changes.partitions == {created.isoformat(), settings.history_start.isoformat()}
    assert changes.newest > cursor and changes.reached_cursor
    assert changes.total == len(contacts)


@pytest.mark.parametrize("account", [None, "eu"])
def test_contacts_sensor_requests_one_run_per_changed_partition(simulator, account):
    settings = parse_settings(
        {"history_start": simulator.config.first_day.isoformat(), **NAMED.get(account, {})}
    )
    names = settings.names
    sensor = build_contacts_sensor(settings)
    assert sensor.name == (CONTACTS_SENSOR if account is None else f"{CONTACTS_SENSOR}_eu")
    resources = {names.aircall_resource_key: resource_for(simulator)}
    defs = dg.Definitions(
        assets=build_extract_assets(settings),
        sensors=[sensor],
        resources={**resources, names.io_manager_key: WarehouseIOManager()},
    )

    def tick(instance: dg.DagsterInstance, cursor: str | None = None):
        simulator.stats.reset()
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources, definitions=defs
        ) as ctx:
            return sensor.evaluate_tick(ctx)

    def partition_of(contact: dict) -> str:
        created = datetime.fromtimestamp(contact["created_at"], tz=timezone.utc).date()
        return max(created, settings.history_start).isoformat()

    with dg.instance_for_test() as instance:
        first = tick(instance)
        assert not first.run_requests and first.cursor
        assert simulator.stats.requests == 0, "the first tick only sets the cursor"
        time.sleep(1.1)
        contacts = sorted(simulator.store.all("contacts"), key=lambda c: c["created_at"])
        edited = [contacts[-1], contacts[len(contacts) // 2]]
        assert partition_of(edited[0]) != partition_of(edited[1])
        for contact in edited:
            simulator.store.update_contact(contact["id"], last_name="Changed")
        second = tick(instance, first.cursor)
        assert simulator.stats.requests == 1
        assert sorted(r.partition_key for r in second.run_requests) == sorted(
            partition_of(c) for c in edited
        )
        assert all(RANGE_START not in r.tags for r in second.run_requests)
        # the contacts with their child tables, written together
        contacts = [
            dg.AssetKey([names.extract_schema, name])
            for name in ("contacts", "contact_number", "contact_email")
        ]
        assert all(r.asset_selection == contacts for r in second.run_requests)
        assert int(second.cursor) > int(first.cursor)
        third = tick(instance, second.cursor)
        assert not third.run_requests, "the same change is not requested twice"
        assert simulator.stats.requests == 1, "a quiet account costs one request"
        assert third.cursor == second.cursor
