"""The demo asset: inbound numbers that match no contact, computed in the warehouse (DuckDB or
PostgreSQL), the same table on both."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from aircall_assets.account import DEFAULT_ACCOUNT
from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import TABLES
from aircall_assets.reverse_sync.unknown_callers import build_unknown_callers_asset
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.helpers import query, resource_for
from aircall_assets_tests.warehouses import WarehouseUnderTest, io_manager_for

UNKNOWN = dg.AssetKey(["aircall_reverse", "unknown_callers"])


def materialize_unknown(db, instance=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_unknown_callers_asset(DEFAULT_ACCOUNT)],
        resources={DEFAULT_ACCOUNT.io_manager_key: io_manager_for(db)},
        instance=instance,
        raise_on_error=False,
    )


def load_extracts(sim, db, start, days, instance=None) -> None:
    settings = parse_settings({"history_start": start.isoformat()})
    result = dg.materialize(
        [build_extract_asset(TABLES[n], settings) for n in ("calls", "contacts")],
        resources={
            DEFAULT_ACCOUNT.aircall_resource_key: resource_for(sim),
            DEFAULT_ACCOUNT.io_manager_key: io_manager_for(db),
        },
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


def test_unknown_callers_match_the_api_ground_truth(simulator_factory, each_db):
    start = utc_today() - timedelta(days=3)
    sim = simulator_factory(seed=21, start_date=start, days=3, calls_per_day=60, contacts=40)
    load_extracts(sim, each_db, start, 3)
    result = materialize_unknown(each_db)
    assert result.success
    rows = query(
        each_db,
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


def sql_values(rows: list[tuple]) -> str:
    """Rows as an SQL ``VALUES`` list (numbers, texts and NULLs)."""

    def cell(value) -> str:
        if value is None:
            return "NULL"
        return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"

    return ", ".join("(" + ", ".join(map(cell, row)) + ")" for row in rows)


def make_inputs(
    warehouse: WarehouseUnderTest, calls: list[tuple] = (), contacts: list[tuple] = ()
) -> None:
    """``aircall.calls`` (id, direction, raw_digits, started_at) and ``aircall.contacts`` (id,
    phone_numbers) typed as the extracts make them, holding these rows."""
    json_type = "JSONB" if warehouse.kind == "postgres" else "JSON"
    statements = [
        "CREATE SCHEMA aircall",
        "CREATE TABLE aircall.calls (id BIGINT, direction TEXT, raw_digits TEXT, "
        "started_at TIMESTAMPTZ)",
        f"CREATE TABLE aircall.contacts (id BIGINT, phone_numbers {json_type})",
    ]
    warehouse.execute(*statements, *add_rows(calls, contacts))


def add_rows(calls: list[tuple], contacts: list[tuple]) -> list[str]:
    statements = []
    if calls:
        statements.append(
            "INSERT INTO aircall.calls (id, direction, raw_digits, started_at) VALUES "
            + sql_values(calls)
        )
    if contacts:
        statements.append(
            "INSERT INTO aircall.contacts (id, phone_numbers) VALUES " + sql_values(contacts)
        )
    return statements


# Negative ids: beside a simulator's records, never one of theirs.
AWKWARD_CALLS = [
    (-1, "inbound", "+33 1 23 45 67 89", "2026-01-01 10:00:00+00"),
    (-2, "inbound", "+1 202-555-0100", "2026-01-01 11:00:00+00"),
    (-3, "inbound", "+1 (202) 555 0100", "2026-01-02 09:30:00+00"),
    (-4, "outbound", "+44 20 1234 5678", "2026-01-02 10:00:00+00"),
    (-5, "inbound", "anonymous", "2026-01-02 11:00:00+00"),
    (-6, "inbound", "06 12 34 56 78", "2026-01-03 08:00:00+00"),
    (-7, "inbound", None, "2026-01-03 08:00:00+00"),
    (-8, "inbound", " Unknown ", "2026-01-03 09:00:00+00"),
    (-9, "inbound", "+49 30 901820", "2026-01-03 10:00:00+01"),
    (-10, "inbound", "+41 44 668 18 00", "2026-01-04 10:00:00+00"),
    (-11, "inbound", "1 202 555 0199", "2026-01-04 10:00:00+00"),
    (-12, "inbound", "+44 20 1234 5678", "2026-01-04 11:00:00+00"),
]
# One contact per odd shape a phone_numbers value can take: none, empty, no array, elements that
# are no object or have no value, a number as the value.
AWKWARD_CONTACTS = [
    (-1, '[{"id": 1, "label": "Work", "value": "+33123456789"}]'),
    (-2, None),
    (-3, "[]"),
    (-4, '{"value": "+41 44 668 18 00"}'),
    (-5, '["+44 20 1234 5678", {"label": "no value"}, {"value": null}]'),
    (-6, '[{"value": 12025550199}]'),
]


def test_normalisation_direction_and_anonymous(warehouse):
    make_inputs(warehouse, AWKWARD_CALLS, AWKWARD_CONTACTS)
    assert materialize_unknown(warehouse.address).success
    rows = warehouse.query(
        "SELECT key, call_count, first_call_at, last_call_at, information "
        "FROM aircall_reverse.unknown_callers ORDER BY key"
    )
    assert [(k, n) for k, n, *_ in rows] == [
        ("+12025550100", 2),
        ("+41446681800", 1),  # that contact's phone_numbers is an object, not a list
        ("+442012345678", 1),  # that contact's list holds the number as a bare string
        ("+4930901820", 1),
        ("0612345678", 1),
    ]
    times = {key: (first, last, information) for key, _, first, last, information in rows}
    first, last, _ = times["+12025550100"]
    assert (first.isoformat(), last.isoformat()) == (
        "2026-01-01T11:00:00+00:00",
        "2026-01-02T09:30:00+00:00",
    )
    assert times["+4930901820"][2] == "Called 1 time, last on 2026-01-03 09:00 UTC."


def test_the_table_is_the_same_on_both_warehouses(postgres_database, tmp_path, simulator_factory):
    start = utc_today() - timedelta(days=2)
    sim = simulator_factory(seed=23, start_date=start, days=2, calls_per_day=50, contacts=30)
    tables = []
    for warehouse in (
        WarehouseUnderTest("duckdb", str(tmp_path / "w.duckdb")),
        WarehouseUnderTest("postgres", postgres_database),
    ):
        load_extracts(sim, warehouse.address, start, 2)
        warehouse.execute(*add_rows(AWKWARD_CALLS, AWKWARD_CONTACTS))
        assert materialize_unknown(warehouse.address).success
        rows = warehouse.query("SELECT * FROM aircall_reverse.unknown_callers ORDER BY key")
        tables.append([(*row[:4], json.loads(row[4]), *row[5:]) for row in rows])
        assert warehouse.column_types("aircall_reverse", "unknown_callers") == {
            "key": "VARCHAR",
            "first_name": "VARCHAR",
            "last_name": "VARCHAR",
            "information": "VARCHAR",
            "phone_numbers": "JSON",
            "call_count": "BIGINT",
            "first_call_at": "TIMESTAMPTZ",
            "last_call_at": "TIMESTAMPTZ",
        }
    duckdb_rows, postgres_rows = tables
    assert len(duckdb_rows) > 10
    assert postgres_rows == duckdb_rows


def test_empty_tables_give_an_empty_typed_table(warehouse):
    make_inputs(warehouse)
    assert materialize_unknown(warehouse.address).success
    types = warehouse.column_types("aircall_reverse", "unknown_callers")
    assert types["phone_numbers"] == "JSON" and types["last_call_at"] == "TIMESTAMPTZ"
    assert warehouse.query("SELECT count(*) FROM aircall_reverse.unknown_callers") == [(0,)]


@pytest.mark.parametrize("missing", ["calls", "contacts"])
def test_missing_inputs_fail_with_what_to_do(warehouse, missing):
    statements = ["CREATE SCHEMA aircall"]
    if missing != "calls":
        statements.append(
            "CREATE TABLE aircall.calls (direction TEXT, raw_digits TEXT, started_at TIMESTAMPTZ)"
        )
    if missing != "contacts":
        statements.append("CREATE TABLE aircall.contacts (id BIGINT)")
    warehouse.execute(*statements)
    result = materialize_unknown(warehouse.address)
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
    WarehouseUnderTest("duckdb", str(db)).execute(
        "CREATE SCHEMA aircall",
        "CREATE TABLE aircall.calls (direction TEXT, raw_digits TEXT, started_at TIMESTAMPTZ)",
        "CREATE TABLE aircall.contacts (id BIGINT)",
    )
    result = materialize_unknown(db)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert (
        "no column(s) ['phone_numbers']"
        in failure.event_specific_data.user_failure_data.description
    )


def test_lineage_calls_and_contacts_feed_unknown_callers():
    from aircall_assets.definitions import defs as code_location

    defs = code_location()
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
