"""Typing raw API records by the catalog, through each warehouse's real load path (the
``warehouse`` fixture: DuckDB and PostgreSQL must type alike and refuse alike)."""

import json
from datetime import datetime, timezone

import pytest

from aircall_assets.catalog import get_table
from aircall_assets.normalize import NormalizationError, SchemaDrift
from aircall_assets.warehouse import TableLoad

CALLS = get_table("calls")
USERS = get_table("users")


def typed(warehouse, table, records, columns):
    """Load ``records`` whole into a fresh warehouse; the typed rows back, by id."""
    fields = table.resolve_columns(columns)
    warehouse.store.replace(
        "aircall", table.name, TableLoad(fields=fields, pages=[records], primary_key="id")
    )
    names = [f.name for f in fields]
    quoted = ", ".join(f'"{n}"' for n in names)
    found = warehouse.query(f"SELECT {quoted} FROM aircall.{table.name} ORDER BY id")
    return {row[0]: dict(zip(names, row, strict=True)) for row in found}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_unix_and_iso_timestamps_become_utc_instants(warehouse):
    rows = typed(
        warehouse,
        USERS,
        [
            {"id": 1, "created_at": "2026-09-28T10:21:09.250Z"},
            {"id": 2, "created_at": "2025-09-15T14:14:21+02:00"},
            {"id": 3, "created_at": 1758000000},
            {"id": 4, "created_at": None},
            {"id": 5, "created_at": "1758000000"},
            {"id": 6, "created_at": ""},
            {"id": 7, "created_at": 1758000000.5},
            {"id": 8, "created_at": "9999-12-31T23:59:59.999999Z"},  # microseconds past 2^53
            {"id": 9, "created_at": -1.5},
        ],
        ["created_at"],
    )
    assert {i: r["created_at"] for i, r in rows.items()} == {
        1: utc(2026, 9, 28, 10, 21, 9, 250_000),
        2: utc(2025, 9, 15, 12, 14, 21),
        3: utc(2025, 9, 16, 5, 20),
        4: None,
        5: utc(2025, 9, 16, 5, 20),
        6: None,
        7: utc(2025, 9, 16, 5, 20, 0, 500_000),
        8: utc(9999, 12, 31, 23, 59, 59, 999_999),
        9: utc(1969, 12, 31, 23, 59, 58, 500_000),
    }


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("yesterday", '"yesterday"'),
        ("2026-09-28T10:21:09", '"2026-09-28T10:21:09"'),
        (True, "true"),
    ],
)
def test_a_timestamp_that_is_not_an_instant_is_refused(warehouse, value, shown):
    with pytest.raises(NormalizationError) as err:
        typed(warehouse, USERS, [{"id": 3, "created_at": value}], ["created_at"])
    assert str(err.value) == (
        f"users.created_at: value {shown} of record id=3 cannot be stored as TIMESTAMPTZ "
        "(neither UNIX seconds nor an ISO 8601 time with its offset). The API sent a value of "
        "an unexpected type; nothing was written."
    )


def test_all_null_and_missing_values_keep_declared_types(warehouse):
    rows = typed(
        warehouse,
        CALLS,
        [{"id": 1, "started_at": 0}, {"id": 2, "started_at": 0, "tags": None, "archived": None}],
        ["duration", "archived", "tags"],
    )
    assert [r["duration"] for r in rows.values()] == [None, None]
    assert [r["tags"] for r in rows.values()] == [None, None]
    types = warehouse.column_types("aircall", "calls")
    assert (types["duration"], types["archived"], types["tags"]) == ("BIGINT", "BOOLEAN", "JSON")


def test_structures_stay_json_and_unicode_survives(warehouse):
    comments = [{"content": "Zoë 李雷 🎉", "posted_at": 1.5, "nested": {"a": [1, None]}}]
    rows = typed(
        warehouse,
        CALLS,
        [{"id": 1, "started_at": 0, "comments": comments, "teams": [], "cost": 12}],
        ["comments", "teams", "cost"],
    )
    assert json.loads(rows[1]["comments"]) == comments
    assert rows[1]["teams"] == "[]"
    assert rows[1]["cost"] == "12"  # a number sent for a text field keeps its JSON text


def test_text_and_json_keep_tabs_newlines_backslashes_and_quotes(warehouse):
    text = 'a\tb\nc\r\\d "e" \\N \\\\'
    comments = [{"content": text, "back\\slash": ["\\", "\t\n"]}]
    rows = typed(
        warehouse,
        CALLS,
        [{"id": 1, "started_at": 0, "direction": text, "comments": comments}],
        ["direction", "comments"],
    )
    assert rows[1]["direction"] == text
    assert json.loads(rows[1]["comments"]) == comments


def test_integers_and_booleans_accept_what_the_api_may_send(warehouse):
    records = [
        {"id": 1, "started_at": 0, "duration": "12", "archived": "yes"},
        {"id": "2", "started_at": 0, "duration": 7.0, "archived": 0},
        {"id": 3, "started_at": 0, "duration": " 9 ", "archived": "False"},
        {"id": 4, "started_at": 0, "duration": "", "archived": True},
    ]
    rows = typed(warehouse, CALLS, records, ["duration", "archived"])
    assert {i: (r["duration"], r["archived"]) for i, r in rows.items()} == {
        1: (12, True),
        2: (7, False),
        3: (9, False),
        4: (None, True),
    }


def test_number_strings_of_an_integer_value_are_integers(warehouse):
    texts = ["+5", "-0", "12.0", "1e3", "1.", " 9223372036854775807 ", "-9223372036854775808"]
    records = [{"id": i, "started_at": 0, "duration": t} for i, t in enumerate(texts)]
    rows = typed(warehouse, CALLS, records, ["duration"])
    assert [r["duration"] for r in rows.values()] == [
        5,
        0,
        12,
        1000,
        1,
        9223372036854775807,
        -9223372036854775808,
    ]


def test_nul_characters_are_dropped_from_text_and_json_alike(warehouse):
    """PostgreSQL stores no NUL in TEXT or JSONB: both warehouses drop it, and nothing else (a
    backslash before "u0000" is text, kept)."""
    literal = "a\\u0000b"  # a backslash, then "u0000": text, not a NUL
    rows = typed(
        warehouse,
        CALLS,
        [
            {
                "id": 1,
                "started_at": 0,
                "direction": "in\x00bound\x00\x00",
                "comments": [{"content\x00": "x\x00\x00y", "kept": "\\u0000"}],
                "raw_digits": literal,
            }
        ],
        ["direction", "comments", "raw_digits"],
    )
    assert rows[1]["direction"] == "inbound"
    assert json.loads(rows[1]["comments"]) == [{"content": "xy", "kept": "\\u0000"}]
    assert rows[1]["raw_digits"] == literal


@pytest.mark.parametrize(
    ("field", "value", "shown", "why"),
    [
        ("duration", "abc", '"abc"', "BIGINT (not an integer)"),
        ("duration", 12.5, "12.5", "BIGINT (not an integer)"),
        ("duration", True, "true", "BIGINT (not an integer)"),
        ("duration", 2**63, str(2**63), "BIGINT (not an integer)"),
        ("duration", 1.5e19, "15000000000000000000.0", "BIGINT (not an integer)"),
        # number strings: only a decimal number whose value is an integer
        ("duration", "12.5", '"12.5"', "BIGINT (not an integer)"),
        ("duration", "0x10", '"0x10"', "BIGINT (not an integer)"),
        ("duration", "1_000", '"1_000"', "BIGINT (not an integer)"),
        ("duration", ".5", '".5"', "BIGINT (not an integer)"),
        ("duration", "1e400", '"1e400"', "BIGINT (not an integer)"),
        # before 4713 BC: PostgreSQL holds no such time, and both warehouses refuse alike
        (
            "answered_at",
            -210_866_803_201,
            "-210866803201",
            "TIMESTAMPTZ (neither UNIX seconds nor an ISO 8601 time with its offset)",
        ),
        ("archived", "maybe", '"maybe"', "BOOLEAN (not a boolean)"),
        ("archived", 2, "2", "BOOLEAN (not a boolean)"),
    ],
)
def test_a_value_that_does_not_fit_names_table_field_record_and_value(
    warehouse, field, value, shown, why
):
    records = [{"id": 7, "started_at": 0}, {"id": 8, "started_at": 0, field: value}]
    with pytest.raises(NormalizationError) as err:
        typed(warehouse, CALLS, records, [field])
    assert str(err.value) == (
        f"calls.{field}: value {shown} of record id=8 cannot be stored as {why}. The API sent "
        "a value of an unexpected type; nothing was written."
    )


def test_schema_drift_collects_unknown_and_missing_fields():
    drift = SchemaDrift(CALLS.field_names, ["duration"])
    pages = [[{"id": i, "started_at": i, "brand_new": 1} for i in range(30)] for _ in range(3)]
    assert list(drift.track(pages)) == pages
    assert drift.unknown == {"brand_new"}
    assert drift.missing == {"duration": 90}
