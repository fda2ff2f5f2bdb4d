"""The code location loads, with the asset contract other tools rely on."""

import os
import subprocess
import sys

import dagster as dg

from aircall_assets.catalog import TABLES
from aircall_assets.definitions import defs as code_location
from aircall_assets.resources import DUCKDB_POOL

defs = code_location()  # the repository's code location, as Dagster loads it

KEYS = [f"aircall/{name}" for name in TABLES]


def test_every_table_is_an_asset_with_the_contracted_key():
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert set(KEYS) <= keys


def test_asset_metadata_partitions_and_policy():
    graph = defs.resolve_asset_graph()
    for name, table in TABLES.items():
        node = graph.get(dg.AssetKey(["aircall", name]))
        assert node.group_name == "aircall"
        assert {"aircall", "duckdb"} <= set(node.kinds)
        assert node.description == table.purpose
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == list(table.default_columns)
        assets_def = defs.resolve_assets_def(dg.AssetKey(["aircall", name]))
        assert assets_def.op.pool == DUCKDB_POOL
        if table.is_partitioned:
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
            assert node.partitions_def.timezone == "UTC"
            assert assets_def.backfill_policy == dg.BackfillPolicy.single_run()
        else:
            assert node.partitions_def is None
        assert node.freshness_policy.deadline_cron == "0 6 * * *"
        checks = {c.name for c in assets_def.check_specs}
        assert "row_count_matches_api" in checks


def test_schedule_and_sensors_are_defined():
    assert defs.resolve_schedule_def("aircall_daily")
    assert defs.resolve_sensor_def("aircall_contacts_changes")
    automation = defs.resolve_sensor_def("aircall_automation")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING


def test_unknown_callers_is_rebuilt_when_calls_or_contacts_land():
    node = defs.resolve_asset_graph().get(dg.AssetKey(["aircall_reverse", "unknown_callers"]))
    assert node.automation_condition is not None
    assert {k.to_user_string() for k in node.parent_keys} == {"aircall/calls", "aircall/contacts"}


def test_dagster_cli_loads_the_module():
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "list", "-m", "aircall_assets"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert all(k in out.stdout for k in KEYS)


def test_on_postgresql_the_assets_show_its_kind_and_write_in_no_pool(monkeypatch):
    from aircall_assets.definitions import build_definitions
    from aircall_assets.settings import load_settings

    monkeypatch.setenv("AIRCALL_WAREHOUSE_URL", "postgresql://u:secret@127.0.0.1:1/w")
    on_postgres = build_definitions(load_settings())
    graph = on_postgres.resolve_asset_graph()
    for key in [*KEYS, "aircall_reverse/unknown_callers"]:
        asset_key = dg.AssetKey.from_user_string(key)
        assert (
            "postgres" in graph.get(asset_key).kinds and "duckdb" not in graph.get(asset_key).kinds
        )
        assert on_postgres.resolve_assets_def(asset_key).op.pool is None


def test_dagster_started_in_another_folder_reads_the_projects_settings(tmp_path):
    """The project's ``aircall.yaml``, not the working directory's, as ``dagster dev`` would
    load it from a shell anywhere."""
    (tmp_path / "aircall.yaml").write_text("tables: {calls: {enabled: false}}\n")
    env = {
        k: v for k, v in os.environ.items() if k not in ("AIRCALL_SETTINGS", "AIRCALL_START_DATE")
    }
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "list", "-m", "aircall_assets"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert all(k in out.stdout.split() for k in KEYS)


def test_what_the_settings_accept_dagster_builds():
    """A timezone and crons other than the defaults pass the settings and Dagster alike."""
    from aircall_assets.definitions import build_definitions
    from aircall_assets.settings import parse_settings

    schedule = {
        "timezone": "America/Argentina/Buenos_Aires",
        "cron": "30 2 * * 1-5",
        "freshness_deadline_cron": "0 7 * * 1-5",
    }
    built = build_definitions(parse_settings({"history_start": "2026-06-01", "schedule": schedule}))
    daily = built.resolve_schedule_def("aircall_daily")
    assert (daily.cron_schedule, daily.execution_timezone) == ("30 2 * * 1-5", schedule["timezone"])
    policy = built.resolve_asset_graph().get(dg.AssetKey(["aircall", "calls"])).freshness_policy
    assert (policy.deadline_cron, policy.timezone) == ("0 7 * * 1-5", schedule["timezone"])
