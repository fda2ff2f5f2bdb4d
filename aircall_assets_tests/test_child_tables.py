"""The Fivetran-named child tables (call_tag, team_user, contact_email, ...) against the
simulator, row by row on both warehouses: materialized with their parents, replaced with them,
never left with rows of a parent version that is gone. The expected rows are computed here from
the simulator's records, without the catalog's column sources."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import dagster as dg
import pytest

from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import CALLS, CONTACTS, NUMBERS, TABLES, TEAMS
from aircall_assets.definitions import build_definitions
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import ReplaceRange, TableLoad
from aircall_assets.warehouse.io_manager import range_run_figures
from aircall_assets_tests.helpers import query, resource_for
from aircall_assets_tests.warehouses import io_manager_for

START = utc_today() - timedelta(days=4)
DAYS = 3
HISTORY = START + timedelta(days=1)  # the first partition also holds START's calls
LAST = START + timedelta(days=DAYS - 1)


def moment(value: Any) -> datetime:
    """A date as the API sends it (UNIX seconds or ISO 8601) as a UTC instant."""
    if isinstance(value, int):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def id_of(value: Any) -> Any:
    """A user or team, sent whole or as its id."""
    return value["id"] if isinstance(value, dict) else value


def expected(name: str, parents: list[dict[str, Any]]) -> list[tuple]:
    """The rows of child table ``name`` for these parent records."""
    rows: list[tuple] = []
    for p in parents:
        if name == "call_tag":
            rows += [
                (p["id"], t["id"], moment(t["created_at"]), id_of(t["tagged_by"]))
                + (moment(p["started_at"]),)
                for t in p["tags"]
            ]
        elif name == "call_comment":
            rows += [
                (p["id"], c["id"], c["content"], moment(c["posted_at"]), id_of(c["posted_by"]))
                + (moment(p["started_at"]),)
                for c in p["comments"]
            ]
        elif name == "call_team":
            rows += [(p["id"], id_of(t), moment(p["started_at"])) for t in p["teams"]]
        elif name == "team_user":
            rows += [(p["id"], id_of(u)) for u in p["users"]]
        elif name == "user_number":
            rows += [(p["id"], id_of(u), moment(p["created_at"])) for u in p["users"]]
        elif name in ("contact_number", "contact_email"):
            details = p["phone_numbers" if name == "contact_number" else "emails"]
            rows += [
                (p["id"], d["id"], d["label"], d["value"], moment(p["created_at"])) for d in details
            ]
        else:
            raise KeyError(name)
    return sorted(rows, key=repr)


def stored(db: str, name: str) -> list[tuple]:
    child = next(c for t in TABLES.values() for c in t.children if c.name == name)
    columns = ", ".join(f'"{n}"' for n in child.field_names)
    return sorted(query(db, f"SELECT {columns} FROM aircall.{name}"), key=repr)


def assert_children_match(db: str, table: str, parents: list[dict[str, Any]]) -> None:
    for child in TABLES[table].children:
        rows = expected(child.name, parents)
        assert stored(db, child.name) == rows, child.name


def calls_of(sim, first: date, end: date) -> list[dict[str, Any]]:
    """The calls served from ``first`` to ``end`` (exclusive); ``first=None``: all older."""

    def ts(d: date) -> int:
        return int(datetime.combine(d, datetime.min.time(), timezone.utc).timestamp())

    return sim.store.calls_between(ts(first), ts(end))


def materialize(sim, db, names, *, first=None, last=None, settings=None, run_config=None):
    settings = settings or parse_settings({"history_start": HISTORY.isoformat()})
    tags = {}
    partition = None
    if first == last and first is not None:
        partition = first.isoformat()
    elif first is not None:
        tags = {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
    return dg.materialize(
        [build_extract_asset(TABLES[n], settings) for n in names],
        resources={"aircall": resource_for(sim), "warehouse_io_manager": io_manager_for(db)},
        tags=tags,
        partition_key=partition,
        run_config=run_config,
        raise_on_error=False,
    )


@pytest.fixture
def sim(simulator_factory):
    return simulator_factory(seed=3, start_date=START, days=DAYS, calls_per_day=40, contacts=30)


def row_counts(result, key: dg.AssetKey) -> dict[str | None, int]:
    return {
        e.partition: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == key
    }


def test_children_are_loaded_and_replaced_with_their_parents(sim, warehouse):
    db = warehouse.address
    keyed = ["numbers", "contacts", "calls"]
    result = materialize(sim, db, keyed, first=HISTORY, last=LAST)  # a range, first partition
    assert result.success
    assert materialize(sim, db, ["teams"]).success
    every_call = calls_of(sim, START, LAST + timedelta(days=1))
    assert_children_match(db, "calls", every_call)
    assert any(c["tags"] for c in every_call) and any(c["comments"] for c in every_call)
    assert any(c["teams"] for c in every_call)
    for table in ("teams", "numbers", "contacts"):
        assert_children_match(db, table, sim.store.all(table))
        assert stored(db, TABLES[table].children[0].name), f"{table}: no child rows to compare"

    # each partition of a child counts its own rows; the range's figures are one observation
    tags = dg.AssetKey(["aircall", "call_tag"])
    per_day = row_counts(result, tags)
    assert per_day == {
        HISTORY.isoformat(): len(
            expected("call_tag", calls_of(sim, START, HISTORY + timedelta(1)))
        ),
        LAST.isoformat(): len(expected("call_tag", calls_of(sim, LAST, LAST + timedelta(1)))),
    }
    figures = range_run_figures(result, tags)
    assert figures["rows_loaded"] == figures["table_rows"] == sum(per_day.values())
    assert figures["parent"] == "aircall.calls"

    # a re-run of one day replaces its calls' tags and comments, the other days keep theirs
    day = calls_of(sim, LAST, LAST + timedelta(days=1))[0]["id"]
    user = sim.store.all("users")[0]
    sim.store.update_call(
        day,
        tags=[{"id": 7, "name": "vip", "created_at": "2026-01-02T03:04:05.000Z", "tagged_by": 9}],
        comments=[
            {"id": 5, "content": "called\tback", "posted_at": 1_700_000_000, "posted_by": user}
        ],
    )
    for changed in ({}, {"tags": [], "comments": []}):
        sim.store.update_call(day, **changed)
        rerun = materialize(sim, db, ["calls"], first=LAST, last=LAST)
        assert rerun.success
        truth = calls_of(sim, START, LAST + timedelta(days=1))
        assert_children_match(db, "calls", truth)
        in_day = expected("call_tag", calls_of(sim, LAST, LAST + timedelta(days=1)))
        assert row_counts(rerun, tags) == {LAST.isoformat(): len(in_day)}
    assert not query(db, "SELECT * FROM aircall.call_comment WHERE call_id = ?", [day])
    # the changed call lost its tags; every other call keeps those of the first load
    others = [c for c in every_call if c["id"] != day]
    assert stored(db, "call_tag") == expected("call_tag", others)

    # a contact deleted in Aircall loses its numbers and emails with its row
    gone = next(c for c in sim.store.all("contacts") if c["phone_numbers"] and c["emails"])
    assert sim.store.delete_contact(gone["id"])
    assert materialize(sim, db, ["contacts"], first=HISTORY, last=LAST).success
    assert_children_match(db, "contacts", sim.store.all("contacts"))
    assert not query(db, "SELECT * FROM aircall.contact_email WHERE contact_id = ?", [gone["id"]])

    # a full table's children are replaced whole
    team = sim.store.all("teams")[0]
    assert team["users"]
    metadata = next(
        e.materialization.metadata
        for e in materialize(sim, db, ["teams"]).get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["aircall", "team_user"])
    )
    assert metadata["dagster/row_count"].value == len(expected("team_user", sim.store.all("teams")))


def test_the_calls_column_selection_does_not_empty_the_children(sim, tmp_path):
    db = tmp_path / "w.duckdb"
    settings = parse_settings(
        {
            "history_start": HISTORY.isoformat(),
            "tables": {"calls": {"columns": ["id", "started_at", "direction"]}},
        }
    )
    assert materialize(sim, db, ["calls"], first=HISTORY, last=LAST, settings=settings).success
    columns = [
        r[0]
        for r in query(
            db, "SELECT column_name FROM information_schema.columns WHERE table_name = 'calls'"
        )
    ]
    assert "tags" not in columns
    every_call = calls_of(sim, START, LAST + timedelta(days=1))
    assert_children_match(db, "calls", every_call)
    # and a run's own column selection (run config, keyed by the parent's op name)
    config = {"ops": {"aircall__calls": {"config": {"columns": ["id", "started_at"]}}}}
    assert materialize(sim, db, ["calls"], first=LAST, last=LAST, run_config=config).success
    assert_children_match(db, "calls", every_call)


def test_a_failed_load_leaves_the_parent_and_its_children_as_before(sim, warehouse, monkeypatch):
    db = warehouse.address
    assert materialize(sim, db, ["calls"], first=HISTORY, last=LAST).success
    before = {n: stored(db, n) for n in ("call_tag", "call_comment", "call_team")}
    parents = query(db, "SELECT id, archived FROM aircall.calls ORDER BY id")

    # a child value of the wrong type is refused with its parent's message style
    day_calls = calls_of(sim, LAST, LAST + timedelta(days=1))
    sim.store.update_call(day_calls[0]["id"], archived=not day_calls[0]["archived"])
    sim.store.update_call(
        day_calls[1]["id"],
        tags=[{"id": 1, "name": "x", "created_at": "yesterday", "tagged_by": 2}],
    )
    result = materialize(sim, db, ["calls"], first=LAST, last=LAST)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = str(failure.step_failure_data.error)
    assert 'call_tag.created_at: value "yesterday"' in message
    assert f"of record call_id={day_calls[1]['id']}" in message
    assert "cannot be stored as TIMESTAMPTZ" in message
    assert query(db, "SELECT id, archived FROM aircall.calls ORDER BY id") == parents
    assert {n: stored(db, n) for n in before} == before

    # a failure once the children are written rolls them back with the parent
    sim.store.update_call(day_calls[1]["id"], tags=[])
    module = "postgres" if warehouse.kind == "postgres" else "duckdb_file"

    def fail(*args, **kwargs):
        raise RuntimeError("verification failed")

    monkeypatch.setattr(f"aircall_assets.warehouse.{module}.verify_load", fail)
    result = materialize(sim, db, ["calls"], first=LAST, last=LAST)
    assert not result.success
    assert query(db, "SELECT id, archived FROM aircall.calls ORDER BY id") == parents
    assert {n: stored(db, n) for n in before} == before


def _call(call_id: int, day: date, tags: list[int]) -> dict[str, Any]:
    started = int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp()) + 3600
    return {
        "id": call_id,
        "started_at": started,
        "tags": [{"id": t, "created_at": started, "tagged_by": {"id": 1}} for t in tags],
        "comments": [],
        "teams": [],
    }


def test_children_follow_moved_deleted_and_unserved_parents(warehouse):
    """The warehouse's merge itself, with records made here: what the simulator cannot do
    (move a call's date, stop serving a day)."""
    store = warehouse.store
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)

    def midnight(d: date) -> datetime:
        return datetime.combine(d, datetime.min.time(), timezone.utc)

    def load(records, first: date, last: date, keep_before: date | None = None):
        replace = ReplaceRange(
            "started_at",
            midnight(first),
            midnight(last + timedelta(days=1)),
            keep_before=midnight(keep_before) if keep_before else None,
        )
        fields = CALLS.resolve_columns(["id", "started_at", "tags"])
        load = TableLoad(fields, "id", replace, pages=[records], children_of=CALLS)
        return store.replace("aircall", "calls", load)

    def tags() -> list[tuple]:
        return query(
            warehouse.address, "SELECT call_id, tag_id FROM aircall.call_tag ORDER BY 1, 2"
        )

    result = load([_call(1, d1, [10, 11]), _call(2, d1, [20]), _call(3, d2, [30])], d1, d2)
    assert result.children["call_tag"].rows_written == 4
    assert tags() == [(1, 10), (1, 11), (2, 20), (3, 30)]
    # call 1 moved to d2 with other tags; call 2 is gone from Aircall; only d2 is read
    load([_call(1, d2, [12]), _call(3, d2, [30])], d2, d2)
    assert tags() == [(1, 12), (2, 20), (3, 30)], "d1 was not replaced: call 2 stays"
    written = load([_call(3, d2, [31])], d1, d2).children["call_tag"]
    assert tags() == [(3, 31)], "calls 1 and 2 are gone, and their tags"
    assert (written.rows_written, written.rows_in_table) == (1, 1)
    # the API no longer serves d1: its calls are kept with their tags, d2's are replaced
    load([_call(4, d1, [40]), _call(5, d2, [50])], d1, d2)
    result = load([_call(5, d2, [51])], d1, d2, keep_before=d2)
    assert result.rows_kept == 1
    assert tags() == [(4, 40), (5, 51)]
    assert result.children["call_tag"].rows_per_day == {"2026-03-01": 1, "2026-03-02": 1}


def test_child_assets_keys_lineage_and_metadata():
    settings = parse_settings({"history_start": "2026-06-01"})
    eu = parse_settings(
        {
            "history_start": "2026-06-01",
            "account": "eu",
            "api_id": "{{ env.EU_AIRCALL_API_ID }}",
            "api_token": "{{ env.EU_AIRCALL_API_TOKEN }}",
        }
    )
    defs = build_definitions(settings, eu)
    graph = defs.resolve_asset_graph()
    for prefix in ("aircall", "aircall_eu"):
        for table in (CALLS, TEAMS, NUMBERS, CONTACTS):
            parent = dg.AssetKey([prefix, table.name])
            assets_def = defs.resolve_assets_def(parent)
            assert assets_def.op.name == f"{prefix}__{table.name}"
            for child in table.children:
                key = dg.AssetKey([prefix, child.name])
                node = graph.get(key)
                assert defs.resolve_assets_def(key) is assets_def, "materialized together"
                assert node.parent_keys == {parent}
                assert node.partitions_def == graph.get(parent).partitions_def
                assert node.group_name == prefix
                assert node.description == child.purpose
                schema = node.metadata["dagster/column_schema"]
                assert [c.name for c in schema.columns] == list(child.field_names)
                assert node.metadata["dagster/table_name"] == f"{prefix}.{child.name}"
    # the daily jobs hold the children with their parents
    job = defs.resolve_job_def("aircall_keyed_tables_job")
    assert dg.AssetKey(["aircall", "call_tag"]) in job.asset_layer.selected_asset_keys


def test_a_selection_of_the_parent_alone_still_writes_and_records_its_children(sim, tmp_path):
    db = tmp_path / "w.duckdb"
    settings = parse_settings({"history_start": HISTORY.isoformat()})
    calls = build_extract_asset(CALLS, settings)
    resources = {"aircall": resource_for(sim), "warehouse_io_manager": io_manager_for(db)}
    tags = {
        "dagster/asset_partition_range_start": HISTORY.isoformat(),
        "dagster/asset_partition_range_end": LAST.isoformat(),
    }
    result = dg.materialize(
        [calls], selection=[dg.AssetKey(["aircall", "calls"])], resources=resources, tags=tags
    )
    assert result.success
    assert_children_match(db, "calls", calls_of(sim, START, LAST + timedelta(days=1)))
    tag_days = row_counts(result, dg.AssetKey(["aircall", "call_tag"]))
    assert set(tag_days) == {HISTORY.isoformat(), LAST.isoformat()}
    assert sum(tag_days.values()) == len(stored(db, "call_tag"))

    # a child alone cannot be loaded: its rows come from the parent's records
    alone = dg.materialize(
        [calls],
        selection=[dg.AssetKey(["aircall", "call_tag"])],
        resources=resources,
        tags=tags,
        raise_on_error=False,
    )
    assert not alone.success
    (failure,) = alone.get_step_failure_events()
    assert "select it too" in failure.step_failure_data.user_failure_data.description
