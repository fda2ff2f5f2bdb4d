import pytest

from aircall_assets.catalog import TABLES, Replication, get_table

SEED_TABLES = {"users", "tags", "numbers", "teams", "contacts", "calls", "company_info"}


def test_catalog_lists_the_seven_seed_tables_and_every_other_list_the_api_has():
    assert set(TABLES) == SEED_TABLES | {"user_availability", "webhooks"}


@pytest.mark.parametrize(
    ("name", "replication", "date_field", "path"),
    [
        ("users", Replication.KEY_BASED, "created_at", "/v2/users"),
        ("numbers", Replication.KEY_BASED, "created_at", "/v1/numbers"),
        ("contacts", Replication.KEY_BASED, "created_at", "/v1/contacts"),
        ("calls", Replication.KEY_BASED, "started_at", "/v1/calls"),
        ("tags", Replication.FULL, None, "/v1/tags"),
        ("teams", Replication.FULL, None, "/v1/teams"),
        ("company_info", Replication.FULL, None, "/v1/company"),
    ],
)
def test_replication_and_paths(name, replication, date_field, path):
    table = get_table(name)
    assert table.replication is replication
    assert table.date_field == date_field
    assert table.path == path


def test_seed_fields_are_the_default_selection_and_extras_are_selectable():
    calls = get_table("calls")
    assert "sid" in calls.field_names and "sid" not in calls.default_columns
    assert len(calls.default_columns) == 23  # the Daton spec lists 23 call fields
    assert {"state", "wrap_up_time", "extension", "default_number_id", "substatus"} <= set(
        get_table("users").field_names
    )
    assert "priority" in get_table("numbers").field_names


def test_seed_types_map_to_warehouse_types():
    calls = get_table("calls")
    assert calls.field("id").warehouse_type == "BIGINT"
    assert calls.field("started_at").warehouse_type == "TIMESTAMPTZ"
    assert calls.field("archived").warehouse_type == "BOOLEAN"
    assert calls.field("tags").warehouse_type == "JSON"
    assert calls.field("direction").warehouse_type == "VARCHAR"
    # the spec says STRING for a structure: kept whole as JSON
    assert calls.field("teams").warehouse_type == "JSON"


def test_resolve_columns_keeps_key_and_partition_column():
    calls = get_table("calls")
    names = [f.name for f in calls.resolve_columns(["duration"])]
    assert names == ["id", "started_at", "duration"]


def test_unknown_column_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['nope'\].*valid columns are: id"):
        get_table("calls").resolve_columns(["nope"])


def test_unknown_table_lists_valid_names():
    with pytest.raises(ValueError, match="unknown table 'call'; valid tables are: users, tags"):
        get_table("call")
