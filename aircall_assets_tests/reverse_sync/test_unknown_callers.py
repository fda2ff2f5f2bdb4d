"""The demo asset: inbound numbers that match no contact, computed in DuckDB."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from aircall_assets.assets import IO_MANAGER_KEY, build_extract_asset
from aircall_assets.catalog import TABLES
from aircall_assets.reverse_sync.unknown_callers import build_unknown_callers_asset
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import Warehouse, WarehouseIOManager
from aircall_assets_tests.helpers import query, resource_for

UNKNOWN = dg.AssetKey(["aircall_reverse", "unknown_callers"])


def materialize_unknown(db, instance=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_unknown_callers_asset()],
        resources={IO_MANAGER_KEY: WarehouseIOManager(path=str(db))},
        instance=instance,
        raise_on_error=False,
    )


def load_extracts(sim, db, start, days, instance=None) -> None:
    settings = parse_settings({"history_start": start.isoformat()})
    result = dg.materialize(
        [build_extract_asset(TABLES[n], settings) for n in ("calls", "contacts")],
        resources={"aircall": resource_for(sim), IO_MANAGER_KEY: WarehouseIOManager(path=str(db))},
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": (start + timedelta(days=days - 1)).isoformat(),
        },
        instance=instance,
    )
    assert result.success


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def expected_unknown(sim, start, days) -> Counter:
    """Ground truth from the API's own records, independent of the asset's SQL."""
    known = {digits(p["value"]) for c in sim.store.all("contacts") for p in c["phone_numbers"]}
    begin = int(datetime.combine(start, datetime.min.time(), timezone.utc).timestamp())
    calls = sim.store.calls_between(begin, begin + days * 86_400)
    return Counter(
        "+" + digits(c["raw_digits"])
        for c in calls
        if c["direction"] == "inbound"
        and c["raw_digits"] != "anonymous"
        and digits(c["raw_digits"]) not in known
    )


def test_unknown_callers_match_the_api_ground_truth(simulator_factory, db):
    start = utc_today() - timedelta(days=3)
    sim = simulator_factory(seed=21, start_date=start, days=3, calls_per_day=60, contacts=40)
    load_extracts(sim, db, start, 3)
    result = materialize_unknown(db)
    assert result.success
    rows = query(
        db,
        "SELECT key, first_name, last_name, phone_numbers, call_count, information "
        "FROM aircall_reverse.unknown_callers",
    )
    expected = expected_unknown(sim, start, 3)
    assert expected, "the simulator always has unknown callers"
    assert {r[0]: r[4] for r in rows} == dict(expected)
    key, first, last, phones, count, info = rows[0]
    assert (first, last) == ("Unknown caller", key)
    assert json.loads(phones) == [{"label": "Caller", "value": key}]
    assert info.startswith(f"Called {count} time")
    event = result.get_asset_materialization_events()[0]
    assert event.materialization.metadata["dagster/row_count"].value == len(rows)


def test_normalisation_direction_and_anonymous(db):
    with Warehouse(db).connect() as con:
        con.execute("CREATE SCHEMA aircall")
        con.execute(
            "CREATE TABLE aircall.calls (id BIGINT, direction VARCHAR, raw_digits VARCHAR, "
            "started_at TIMESTAMPTZ)"
        )
        con.execute("CREATE TABLE aircall.contacts (id BIGINT, phone_numbers JSON)")
        con.execute("""INSERT INTO aircall.calls VALUES
            (1, 'inbound', '+33 1 23 45 67 89', '2026-01-01 10:00:00+00'),
            (2, 'inbound', '+1 202-555-0100', '2026-01-01 11:00:00+00'),
            (3, 'inbound', '+1 (202) 555 0100', '2026-01-02 09:30:00+00'),
            (4, 'outbound', '+44 20 1234 5678', '2026-01-02 10:00:00+00'),
            (5, 'inbound', 'anonymous', '2026-01-02 11:00:00+00'),
            (6, 'inbound', '06 12 34 56 78', '2026-01-03 08:00:00+00'),
            (7, 'inbound', NULL, '2026-01-03 08:00:00+00')""")
        con.execute("""INSERT INTO aircall.contacts VALUES
            (1, '[{"id": 1, "label": "Work", "value": "+33123456789"}]'),
            (2, NULL), (3, '[]')""")
    assert materialize_unknown(db).success
    rows = query(
        db,
        "SELECT key, call_count, first_call_at, last_call_at "
        "FROM aircall_reverse.unknown_callers ORDER BY key",
    )
    assert [(k, n) for k, n, *_ in rows] == [("+12025550100", 2), ("0612345678", 1)]
    assert rows[0][2] < rows[0][3]


def test_empty_tables_give_an_empty_typed_table(db):
    with Warehouse(db).connect() as con:
        con.execute("CREATE SCHEMA aircall")
        con.execute(
            "CREATE TABLE aircall.calls (direction VARCHAR, raw_digits VARCHAR, "
            "started_at TIMESTAMPTZ)"
        )
        con.execute("CREATE TABLE aircall.contacts (phone_numbers JSON)")
    assert materialize_unknown(db).success
    types = dict(
        query(
            db,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'unknown_callers'",
        )
    )
    assert types["phone_numbers"] == "JSON" and types["last_call_at"] == "TIMESTAMP WITH TIME ZONE"
    assert query(db, "SELECT count(*) FROM aircall_reverse.unknown_callers") == [(0,)]


@pytest.mark.parametrize("missing", ["calls", "contacts"])
def test_missing_inputs_fail_with_what_to_do(db, missing):
    with Warehouse(db).connect() as con:
        con.execute("CREATE SCHEMA aircall")
        if missing != "calls":
            con.execute(
                "CREATE TABLE aircall.calls (direction VARCHAR, raw_digits VARCHAR, "
                "started_at TIMESTAMPTZ)"
            )
        if missing != "contacts":
            con.execute("CREATE TABLE aircall.contacts (id BIGINT)")
    result = materialize_unknown(db)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error.message) + str(
        failure.event_specific_data.user_failure_data.description
    )
    if missing == "calls":
        assert "aircall.calls does not exist: materialize aircall/calls first" in message
    else:
        assert "aircall.contacts does not exist" in message


def test_contacts_without_phone_numbers_column_is_explained(db):
    with Warehouse(db).connect() as con:
        con.execute("CREATE SCHEMA aircall")
        con.execute(
            "CREATE TABLE aircall.calls (direction VARCHAR, raw_digits VARCHAR, "
            "started_at TIMESTAMPTZ)"
        )
        con.execute("CREATE TABLE aircall.contacts (id BIGINT)")
    result = materialize_unknown(db)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert (
        "no column(s) ['phone_numbers']"
        in failure.event_specific_data.user_failure_data.description
    )


def test_lineage_calls_and_contacts_feed_unknown_callers():
    from aircall_assets import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(UNKNOWN)
    assert node.parent_keys == {
        dg.AssetKey(["aircall", "calls"]),
        dg.AssetKey(["aircall", "contacts"]),
    }
    assert node.group_name == "aircall_reverse" and "duckdb" in node.kinds
    assert defs.resolve_assets_def(UNKNOWN).op.pool == "aircall_duckdb"
    responses = graph.get(dg.AssetKey(["aircall_sync", "responses"]))
    assert UNKNOWN in responses.parent_keys
