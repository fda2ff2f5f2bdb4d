"""Two Aircall accounts in one code location: the default one and ``eu``, two simulated companies
with different data, credentials and history. Each lands in its own schema, cell by cell, with
its own partitions, jobs, schedule and sensors, and ``make status`` shows both."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest

from aircall_assets import status as status_module
from aircall_assets.catalog import TABLES
from aircall_assets.definitions import build_definitions
from aircall_assets.schedules import daily_schedule, full_job, keyed_job
from aircall_assets.settings import Settings, parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.status_text import render
from aircall_assets_tests.helpers import assert_table_matches, query

KEYED = ["users", "numbers", "contacts", "calls"]
FULL = ["tags", "teams", "company_info"]
# Different seeds, sizes and first days: every table differs between the two companies, and
# so do the partitions of the two accounts.
COMPANIES = {
    None: {"seed": 11, "days": 4, "calls_per_day": 12, "contacts": 20, "api_token": "tok-default"},
    "eu": {"seed": 12, "days": 3, "calls_per_day": 7, "contacts": 15, "api_token": "tok-eu"},
}


def _midnight(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp())


def _range(first: date, last: date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


@pytest.fixture
def accounts(simulator_factory, tmp_path, monkeypatch):
    """The two companies' simulators and the two accounts' settings, the environment naming
    each account's own credentials and one DuckDB warehouse for both."""
    sims = {}
    for name, shape in COMPANIES.items():
        first = utc_today() - timedelta(days=shape["days"])
        sims[name] = simulator_factory(start_date=first, api_id=f"id-{name or 'default'}", **shape)
    default_sim, eu_sim = sims[None], sims["eu"]
    for variable, value in {
        "AIRCALL_API_ID": default_sim.config.api_id,
        "AIRCALL_API_TOKEN": default_sim.config.api_token,
        "AIRCALL_API_BASE_URL": default_sim.base_url,
        "AIRCALL_REQUESTS_PER_MINUTE": "0",
        "EU_AIRCALL_API_ID": eu_sim.config.api_id,
        "EU_AIRCALL_API_TOKEN": eu_sim.config.api_token,
        "AIRCALL_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AIRCALL_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("AIRCALL_START_DATE", raising=False)
    settings = {
        None: parse_settings({"history_start": default_sim.config.first_day.isoformat()}),
        "eu": parse_settings(
            {
                "account": "eu",
                "api_id": "{{ env.EU_AIRCALL_API_ID }}",
                "api_token": "{{ env.EU_AIRCALL_API_TOKEN }}",
                "base_url": eu_sim.base_url,
                "requests_per_minute": 0,
                "history_start": eu_sim.config.first_day.isoformat(),
                "lookback_days": 1,
                "schedule": {"cron": "30 5 * * *", "timezone": "Europe/Paris"},
            }
        ),
    }
    return sims, settings


def _load(defs: dg.Definitions, settings: Settings, sim, instance: dg.DagsterInstance) -> None:
    """Every table of the account: its key-based ones over its simulator's days in one run."""
    first = sim.config.first_day
    last = first + timedelta(days=sim.config.days - 1)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    for job, tags in ((keyed_job(settings), _range(first, last)), (full_job(settings), {})):
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, tags=tags, run_config=quiet, raise_on_error=False
        )
        assert result.success, job


def test_two_accounts_each_load_their_own_company_into_their_own_schema(accounts, tmp_path):
    sims, settings = accounts
    defs = build_definitions(settings[None], settings["eu"])
    db = tmp_path / "w.duckdb"
    with dg.instance_for_test() as instance:
        for name in settings:
            _load(defs, settings[name], sims[name], instance)
        for name, schema in ((None, "aircall"), ("eu", "aircall_eu")):
            sim = sims[name]
            end = _midnight(sim.config.first_day + timedelta(days=sim.config.days))
            for table in KEYED[:3]:
                # the first partition also holds everything created before the history start
                assert_table_matches(db, TABLES[table], sim.store.all(table), schema=schema)
            calls = sim.store.calls_between(0, end)
            assert assert_table_matches(db, TABLES["calls"], calls, schema=schema) == len(calls)
            for table in ("tags", "teams"):
                assert_table_matches(db, TABLES[table], sim.store.all(table), schema=schema)
            assert_table_matches(db, TABLES["company_info"], [sim.store.company()], schema=schema)
        # the test means something only if the companies differ, table by table
        for table in ("calls", "contacts", "users"):
            first, second = (
                query(db, f"SELECT * FROM {schema}.{table} ORDER BY id")
                for schema in ("aircall", "aircall_eu")
            )
            assert first != second, table

        # each account's partitions are its own: its history start, its days loaded
        for name in settings:
            key = settings[name].names.extract_key("calls")
            partitions = defs.resolve_assets_def(key).partitions_def
            first = sims[name].config.first_day
            expected = [
                (first + timedelta(days=d)).isoformat() for d in range(sims[name].config.days)
            ]
            assert partitions.get_partition_keys() == expected
            assert instance.get_materialized_partitions(key) == set(expected)

        status = status_module.collect(
            list(settings.values()), defs=defs, instance=instance, home=tmp_path
        )
    assert [a.account for a in status.accounts] == [None, "eu"]
    for name, schema in ((None, "aircall"), ("eu", "aircall_eu")):
        shown = status.account(name)
        sim = sims[name]
        assert shown.schema == schema
        assert shown.schedule == daily_schedule(settings[name]) and shown.schedule_running
        assert shown.history_start == sim.config.first_day
        calls = shown.table("calls")
        assert calls.state == "active"
        assert calls.rows == sim.config.days * sim.config.calls_per_day
        assert (calls.partitions_loaded, calls.partitions_total) == (sim.config.days,) * 2
        assert shown.table("contacts").rows == len(sim.store.all("contacts"))
    text = render(status)
    assert "Account:          default (schema aircall)" in text
    assert "Account:          eu (schema aircall_eu)" in text
    assert "Schedule:         aircall_daily_eu running" in text


def test_the_accounts_names_never_collide_and_follow_their_own_settings(accounts):
    _, settings = accounts
    defs = build_definitions(settings[None], settings["eu"])
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    for table in TABLES:
        assert {f"aircall/{table}", f"aircall_eu/{table}"} <= keys
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey(["aircall_eu", "calls"])).group_name == "aircall_eu"
    assert graph.get(dg.AssetKey(["aircall", "calls"])).group_name == "aircall"

    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"aircall_keyed_tables_job", "aircall_keyed_tables_job_eu"} <= jobs
    assert {"aircall_full_tables_job", "aircall_full_tables_job_eu"} <= jobs
    schedules = {s.name: s for s in defs.schedules}
    assert set(schedules) == {"aircall_daily", "aircall_daily_eu"}
    assert (
        schedules["aircall_daily"].cron_schedule,
        schedules["aircall_daily"].execution_timezone,
    ) == ("0 3 * * *", "UTC")
    eu_schedule = schedules["aircall_daily_eu"]
    assert (eu_schedule.cron_schedule, eu_schedule.execution_timezone) == (
        "30 5 * * *",
        "Europe/Paris",
    )
    assert eu_schedule.job_name == "aircall_keyed_tables_job_eu"
    sensors = {s.name: s for s in defs.sensors}
    assert {"aircall_contacts_changes", "aircall_contacts_changes_eu"} <= set(sensors)
    # each account's automation evaluates its own assets (one sensor per asset at most)
    automated = {
        name: {k.path[0] for k in sensors[name].asset_selection.resolve(graph)}
        for name in ("aircall_automation", "aircall_automation_eu")
    }
    assert automated["aircall_automation"] == {"aircall", "aircall_reverse", "aircall_analytics"}
    assert automated["aircall_automation_eu"] == {
        "aircall_eu",
        "aircall_eu_reverse",
        "aircall_eu_analytics",
    }

    # each account's extract assets need its own client and IO manager, never the other's
    eu_calls_key = dg.AssetKey(["aircall_eu", "calls"])
    eu_calls = defs.resolve_assets_def(eu_calls_key)
    assert {"aircall_eu", "warehouse_io_manager_eu"} <= eu_calls.required_resource_keys
    assert not {"aircall", "warehouse_io_manager"} & eu_calls.required_resource_keys
    assert eu_calls.op.name == "aircall_eu__calls"
    assert eu_calls.check_specs and all(
        spec.asset_key == eu_calls_key for spec in eu_calls.check_specs
    )
    assert eu_calls.metadata_by_key[eu_calls_key]["dagster/table_name"] == "aircall_eu.calls"
    freshness = graph.get(eu_calls_key).freshness_policy
    assert freshness.timezone == "Europe/Paris"
