"""The warehouse contract on a real DuckDB file and a real PostgreSQL server (the ``warehouse``
fixture runs each test on both): typed DDL, transactional replace, evolution, concurrency."""

import multiprocessing
import os
import signal
import time
from datetime import datetime, timezone

import duckdb
import pandas as pd
import psycopg
import pytest

from aircall_assets.catalog import get_table
from aircall_assets.normalize import NormalizationError
from aircall_assets.spool import spool_root
from aircall_assets.warehouse import (
    KeyCounts,
    ReplaceRange,
    TableLoad,
    Warehouse,
    WarehouseIOManager,
)
from aircall_assets_tests.warehouses import WarehouseUnderTest

CALLS = get_table("calls")


def day(d: int) -> datetime:
    return datetime(2026, 6, d, tzinfo=timezone.utc)


def call(i: int, d: int, **extra) -> dict:
    return {"id": i, "started_at": int(day(d).timestamp()) + i, **extra}


def load(records, columns=("duration",), start=1, end=3, pages=None):
    return TableLoad(
        fields=CALLS.resolve_columns(list(columns)),
        pages=iter(pages if pages is not None else [records]),
        primary_key="id",
        replace=ReplaceRange("started_at", day(start) if start else None, day(end)),
    )


def rows(wh, sql="SELECT id, duration FROM aircall.calls ORDER BY id"):
    return wh.query(sql)


def duckdb_rows(path, sql="SELECT id, duration FROM aircall.calls ORDER BY id"):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_all_null_first_load_gets_declared_types(warehouse):
    warehouse.store.replace(
        "aircall", "calls", load([call(1, 1)], columns=("duration", "tags", "archived"))
    )
    types = warehouse.column_types("aircall", "calls")
    assert types == {
        "id": "BIGINT",
        "started_at": "TIMESTAMPTZ",
        "duration": "BIGINT",
        "archived": "BOOLEAN",
        "tags": "JSON",
    }
    # a later non-null load works (the stock IO manager fails here)
    warehouse.store.replace(
        "aircall",
        "calls",
        load([call(1, 1, duration=5, tags=[{"id": 1}])], columns=("duration", "tags", "archived")),
    )
    assert rows(warehouse) == [(1, 5)]


def test_empty_result_still_creates_typed_table(warehouse):
    result = warehouse.store.replace("aircall", "calls", load([], pages=[]))
    assert result.rows_written == 0
    assert warehouse.column_types("aircall", "calls")["duration"] == "BIGINT"


def test_replace_range_touches_only_that_range(warehouse):
    wh = warehouse.store
    wh.replace(
        "aircall",
        "calls",
        load([call(1, 1, duration=1), call(2, 2, duration=2), call(3, 3, duration=3)], end=4),
    )
    wh.replace("aircall", "calls", load([call(2, 2, duration=20)], start=2, end=3))
    assert rows(warehouse) == [(1, 1), (2, 20), (3, 3)]


def test_no_lower_bound_replaces_everything_older(warehouse):
    wh = warehouse.store
    wh.replace("aircall", "calls", load([call(1, 1), call(2, 2), call(3, 3)], end=4))
    wh.replace("aircall", "calls", load([call(9, 1)], start=None, end=3))
    assert [r[0] for r in rows(warehouse)] == [3, 9]


def test_failure_mid_load_rolls_back_and_keeps_previous_rows(warehouse, own_spool_dir):
    wh = warehouse.store
    wh.replace("aircall", "calls", load([call(1, 1, duration=1), call(2, 2, duration=2)]))

    def exploding_pages():
        yield [call(1, 1, duration=100)]
        raise RuntimeError("API died mid-read")

    with pytest.raises(RuntimeError, match="mid-read"):
        wh.replace("aircall", "calls", load(None, pages=exploding_pages()))
    assert rows(warehouse) == [(1, 1), (2, 2)]
    assert not list(spool_root().iterdir()), "the load's spool is cleaned up"


def test_selecting_a_new_column_adds_it_and_deselecting_keeps_old_data(warehouse):
    wh = warehouse.store
    wh.replace("aircall", "calls", load([call(1, 1, duration=7)]))
    wh.replace("aircall", "calls", load([call(2, 2, sid="CA2")], columns=("sid",), start=2, end=3))
    assert rows(warehouse, "SELECT id, duration, sid FROM aircall.calls ORDER BY id") == [
        (1, 7, None),
        (2, None, "CA2"),
    ]


def test_a_record_whose_date_moved_leaves_no_row_behind(warehouse):
    wh = warehouse.store
    wh.replace("aircall", "calls", load([call(1, 1, duration=1), call(2, 1, duration=2)]))
    result = wh.replace("aircall", "calls", load([call(1, 3, duration=10)], start=3, end=4))
    assert rows(warehouse) == [(1, 10), (2, 2)]
    assert result.rows_per_day == {"2026-06-03": 1}
    assert wh.key_counts("aircall", "calls", "id") == KeyCounts(duplicates=0, nulls=0)


def test_a_record_dated_outside_the_range_fails_the_load_and_writes_nothing(warehouse):
    wh = warehouse.store
    wh.replace("aircall", "calls", load([call(1, 1, duration=1)]))
    with pytest.raises(RuntimeError, match="dated outside the range it was read for"):
        wh.replace("aircall", "calls", load([call(2, 1), call(3, 5)], start=1, end=2))
    assert rows(warehouse) == [(1, 1)]


def test_a_value_of_the_wrong_type_fails_the_load_and_writes_nothing(warehouse):
    wh = warehouse.store
    wh.replace("aircall", "calls", load([call(1, 1, duration=1)]))
    with pytest.raises(NormalizationError, match=r"^calls.duration: value \"abc\" of record id=2 "):
        wh.replace("aircall", "calls", load([call(1, 1, duration=5), call(2, 1, duration="abc")]))
    assert rows(warehouse) == [(1, 1)]


def test_a_load_over_the_memory_budget_fails_clearly_and_writes_nothing(warehouse, own_spool_dir):
    """DuckDB types the records on both warehouses: the IO manager's budget bounds both."""
    address = {"url" if warehouse.kind == "postgres" else "path": warehouse.address}
    warehouse.store.replace("aircall", "calls", load([call(1, 1, duration=1)]))
    big = [call(i, 1, duration=i, comments=[{"content": "x" * 500}] * 20) for i in range(2, 4000)]
    store = WarehouseIOManager(**address, memory_limit="4MB").store
    with pytest.raises(MemoryError) as err:
        store.replace("aircall", "calls", load(big, end=2))
    assert str(err.value) == (
        'DuckDB needed more than its 4MB budget to load "aircall"."calls"; nothing was written. '
        "Set AIRCALL_DUCKDB_MEMORY_LIMIT higher (e.g. 512MB) and re-run."
    )
    assert rows(warehouse) == [(1, 1)]
    assert not list(spool_root().iterdir())


@pytest.mark.parametrize("limit", ["lots", "96", "96MB; DROP TABLE x"])
def test_a_memory_budget_that_is_not_a_size_is_refused(tmp_path, limit):
    with pytest.raises(ValueError, match="is not a size; use e.g. 96MB"):
        Warehouse(tmp_path / "w.duckdb", memory_limit=limit)


def test_rows_stay_unique_by_primary_key_across_reruns(warehouse):
    wh = warehouse.store
    for _ in range(3):
        result = wh.replace("aircall", "calls", load([call(1, 1), call(2, 2)]))
    assert result.rows_in_table == 2
    assert result.rows_per_day == {"2026-06-01": 1, "2026-06-02": 1}
    assert wh.key_counts("aircall", "calls", "id") == KeyCounts(duplicates=0, nulls=0)


def test_key_counts_find_repeated_and_missing_keys_in_the_stored_table(warehouse):
    """What the primary-key checks read: the table as stored, whoever wrote it."""
    warehouse.execute(
        "CREATE SCHEMA s",
        "CREATE TABLE s.t (id BIGINT)",
        "INSERT INTO s.t VALUES (1), (1), (1), (2), (NULL), (NULL)",
    )
    assert warehouse.store.key_counts("s", "t", "id") == KeyCounts(duplicates=4, nulls=2)


def _write_in_child(kind: str, address: str, ident: int) -> None:
    WarehouseUnderTest(kind, address).store.replace(
        "aircall",
        "calls",
        TableLoad(
            CALLS.resolve_columns(["duration"]),
            "id",
            ReplaceRange("started_at", day(10 + ident), day(11 + ident)),
            pages=iter([[call(ident, 10 + ident, duration=ident)]]),
        ),
    )


def test_parallel_writers_from_several_processes_all_land(warehouse):
    """DuckDB queues them on its file lock; PostgreSQL merges them in turn per table."""
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_write_in_child, args=(warehouse.kind, warehouse.address, i))
        for i in range(1, 7)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 6
    assert sorted(r[0] for r in rows(warehouse)) == [1, 2, 3, 4, 5, 6]


def test_replace_frame_and_read_frame_roundtrip(warehouse):
    wh = warehouse.store
    wh.replace_frame("aircall_reverse", "x", pd.DataFrame({"a": [1, 2]}))
    assert list(wh.read_frame("aircall_reverse", "x")["a"]) == [1, 2]
    with pytest.raises(LookupError, match="materialize it first"):
        wh.read_frame("aircall", "nope")


def test_replace_frame_keeps_each_column_type_and_replaces_the_whole_table(warehouse):
    wh = warehouse.store
    wh.replace_frame("aircall_reverse", "x", pd.DataFrame({"old": [1, 2, 3]}))
    frame = pd.DataFrame(
        {
            "n": [1, 2],
            "text": ["Zoë", None],
            "ratio": [0.5, 2.25],
            "flag": [True, False],
            "at": pd.to_datetime(["2026-06-01T10:00:00Z", "2026-06-02T00:00:01Z"], utc=True),
        }
    )
    assert wh.replace_frame("aircall_reverse", "x", frame) == 2
    back = wh.read_frame("aircall_reverse", "x")
    assert list(back.columns) == list(frame.columns)
    assert back.to_dict("records") == frame.astype(object).where(frame.notna(), None).to_dict(
        "records"
    )


def test_days_the_api_no_longer_serves_are_kept_and_updated_by_key(warehouse):
    wh = warehouse.store
    wh.replace(
        "aircall",
        "calls",
        load(
            [
                call(1, 1, duration=1),
                call(2, 2, duration=2),
                call(3, 3, duration=3),
                call(4, 4, duration=4),
            ],
            end=5,
        ),
    )
    # days 1-2 are no longer served: call 1 is not sent again, call 2 comes back changed;
    # days 3-4 are served: call 3 is gone from Aircall, call 4 is unchanged
    later = TableLoad(
        fields=CALLS.resolve_columns(["duration"]),
        pages=iter([[call(2, 2, duration=20), call(4, 4, duration=4)]]),
        primary_key="id",
        replace=ReplaceRange("started_at", day(1), day(5), keep_before=day(3)),
    )
    result = wh.replace("aircall", "calls", later)
    assert rows(warehouse) == [(1, 1), (2, 20), (4, 4)]
    assert result.rows_kept == 1 and result.rows_written == 2
    assert result.rows_per_day == {"2026-06-01": 1, "2026-06-02": 1, "2026-06-04": 1}


def _load_in_child(url: str) -> None:
    # call 5 moved into the range: its old row, outside, is deleted last
    WarehouseUnderTest("postgres", url).store.replace(
        "aircall", "calls", load([call(9, 1, duration=9), call(5, 2, duration=50)])
    )


def test_a_load_killed_inside_its_postgres_transaction_leaves_the_previous_rows(
    postgres_database,
):
    """Killed after its delete and insert, holding the table's merge lock: the server rolls
    the transaction back and frees the lock with the dead connection."""
    wh = WarehouseUnderTest("postgres", postgres_database)
    before = [call(1, 1, duration=1), call(2, 2, duration=2), call(5, 5, duration=5)]
    wh.store.replace("aircall", "calls", load(before, end=6))
    child = multiprocessing.get_context("spawn").Process(
        target=_load_in_child, args=(postgres_database,)
    )
    with psycopg.connect(postgres_database) as blocker:
        # the old row of call 5 stays locked: the child's last delete waits for it
        blocker.execute("SELECT 1 FROM aircall.calls WHERE id = 5 FOR UPDATE")
        child.start()
        deadline = time.monotonic() + 60
        while not wh.query(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            'AND query LIKE \'DELETE FROM "aircall"."calls" WHERE "id" IN%\''
        )[0][0]:
            assert child.is_alive() and time.monotonic() < deadline, "the load never blocked"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
    assert rows(wh) == [(1, 1), (2, 2), (5, 5)]
    result = wh.store.replace("aircall", "calls", load([call(3, 1, duration=3)]))
    assert rows(wh) == [(3, 3), (5, 5)] and result.rows_replaced == 2


def test_read_range_gives_the_rows_of_a_window_oldest_first(warehouse):
    wh = warehouse.store
    with pytest.raises(LookupError, match="materialize"):
        wh.read_range("aircall", "calls", ["id"], "started_at", None, day(9))
    wh.replace("aircall", "calls", load([call(3, 3), call(1, 1), call(2, 2)], end=4))
    assert wh.read_range("aircall", "calls", ["id"], "started_at", day(2), day(4)) == [(2,), (3,)]
    assert wh.read_range("aircall", "calls", ["id", "duration"], "started_at", None, day(2)) == [
        (1, None)
    ]


def test_replace_with_query_builds_a_table_from_sql_both_databases_run(warehouse):
    wh = warehouse.store
    wh.replace("aircall", "calls", load([call(1, 1, duration=5), call(2, 1, duration=7)], end=4))
    select = "SELECT count(*) AS calls, sum(duration) AS seconds FROM aircall.calls"
    assert wh.replace_with_query("aircall_analytics", "totals", select) == 1
    assert wh.replace_with_query("aircall_analytics", "totals", select) == 1
    assert warehouse.query("SELECT calls, seconds FROM aircall_analytics.totals") == [(2, 12)]
