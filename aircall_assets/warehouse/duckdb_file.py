"""The DuckDB warehouse: one file, opened by one process at a time.

Why not the stock ``DuckDBPandasIOManager``: it deletes a partition and inserts by position in
two statements, so a failure in between loses the old rows and a column-order change corrupts
them; and an all-null first load creates columns of type "NULL". Here:

* DDL comes from the catalog (typed columns, JSON, TIMESTAMPTZ in UTC), columns are added when a
  selection grows and kept when it shrinks, inserts are by column name;
* a load's records are in a spool (``spool.py``: the records as the API sent them, memory
  bounded by a page, the main file not locked for the length of an API read), merged in one
  transaction: delete the replaced range (keeping the rows of days the API no longer serves),
  insert the records typed by SQL (``normalize.py``), delete older rows whose key was just
  loaded, verify, commit; any error (a value of the wrong type included) rolls back and the
  previous data stays;
* only one process opens the file at a time (an ``flock`` beside it): parallel runs queue.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from aircall_assets.catalog import Field
from aircall_assets.children import LISTS, child_refusal, child_rows_sql, lists_sql
from aircall_assets.normalize import refusal, typed_records_sql
from aircall_assets.spool import Spool
from aircall_assets.sql import column_ddl, literal, quote
from aircall_assets.warehouse.base import (
    UNSERVED,
    ChildWrite,
    KeyCounts,
    Replaced,
    TableLoad,
    TableStore,
    WriteResult,
    key_counts_sql,
    not_reloaded,
    read_range_sql,
    verify_load,
)
from aircall_assets.warehouse.child_tables import child_write, remove_stale_children

LOADED_KEYS = "aircall_loaded_keys"  # temp table of the parent keys a load wrote
DEFAULT_DUCKDB_PATH = "data/aircall.duckdb"
LOCK_TIMEOUT_SECONDS = 3600.0
# DuckDB's buffer pool defaults to 80% of RAM and keeps written pages cached, so a long backfill
# would grow with its range; a fixed budget makes it spill and evict instead. The JSON reader
# takes about 32 MB of buffers per thread: one thread fits the default budget, which loaded
# every benchmark and test load (10k to 1M calls); wider records may need more.
DEFAULT_MEMORY_LIMIT = "96MB"
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
CATALOG = "warehouse"


@contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{path} stayed locked by another run for {timeout:.0f}s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def validate_memory_limit(value: str) -> str:
    if not _MEMORY.fullmatch(value.strip()):
        raise ValueError(
            f"AIRCALL_DUCKDB_MEMORY_LIMIT '{value}' is not a size; use e.g. 96MB, 512MB or 2GB"
        )
    return value.strip()


def _settings(memory_limit: str) -> str:
    return (
        f"SET TimeZone = 'UTC'; SET memory_limit = '{memory_limit}'; "
        "SET threads = 1; SET preserve_insertion_order = false"
    )


class Session:
    """One DuckDB instance for many short ``connect()`` blocks of one process.

    ``Warehouse.connect`` makes and closes a DuckDB instance per call (20-60 ms). A process that
    writes briefly and often, and must leave the file to others between writes (the reverse
    sync, between two requests to Aircall), keeps one instance instead and attaches the file
    for each block only (about 10 ms a write), under the same file lock.
    """

    def __init__(self, warehouse: Warehouse, con: duckdb.DuckDBPyConnection) -> None:
        self.warehouse = warehouse
        self._con = con

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Like ``Warehouse.connect()``: the file locked and attached until the block ends."""
        warehouse = self.warehouse
        with _file_lock(warehouse.path, warehouse.lock_timeout):
            self._con.execute(f"ATTACH {literal(str(warehouse.path))} AS {CATALOG}")
            try:
                self._con.execute(f"USE {CATALOG}")
                yield self._con
            finally:
                self._con.execute("USE memory")
                self._con.execute(f"DETACH {CATALOG}")  # checkpoints, frees the file


class Warehouse(TableStore):
    """A DuckDB file, opened by one process at a time."""

    kind = "duckdb"

    def __init__(
        self,
        path: str | os.PathLike[str],
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
    ):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.memory_limit = validate_memory_limit(memory_limit)  # spliced into SQL

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """An exclusive connection (DuckDB allows one writing process per file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.path, self.lock_timeout):
            if read_only and not self.path.exists():
                raise FileNotFoundError(f"no warehouse at {self.path} yet: run a load first")
            # Attached under a fixed alias: a file named aircall.duckdb would otherwise be a
            # catalog "aircall" and make every "aircall.<table>" reference ambiguous.
            con = duckdb.connect()
            try:
                con.execute(_settings(self.memory_limit))
                mode = " (READ_ONLY)" if read_only else ""
                con.execute(f"ATTACH {literal(str(self.path))} AS {CATALOG}{mode}")
                con.execute(f"USE {CATALOG}")
                yield con
            finally:
                con.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A ``Session`` on this warehouse, its DuckDB instance closed at the end of the block."""
        con = duckdb.connect()
        try:
            con.execute(_settings(self.memory_limit))
            yield Session(self, con)
        finally:
            con.close()

    def table_exists(self, schema: str, table: str) -> bool:
        if not self.path.exists():
            return False
        with self.connect(read_only=True) as con:
            return table_exists_in(con, schema, table)

    def key_counts(self, schema: str, table: str, column: str) -> KeyCounts:
        with self.connect(read_only=True) as con:
            target = f"{quote(schema)}.{quote(table)}"
            (duplicates, nulls) = con.execute(key_counts_sql(target, column)).fetchone()
        return KeyCounts(duplicates, nulls)

    # -- loads -----------------------------------------------------------------------------

    def _merge(self, spool: Spool, schema: str, table: str, load: TableLoad) -> WriteResult:
        target = f"{quote(schema)}.{quote(table)}"
        rows_written = spool.manifest.rows
        loaded = Replaced.of(load.replace)
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
                _ensure_columns(con, schema, table, load.fields)
                aside = _set_aside_unserved(con, target, load)
                (deleted,) = con.execute(
                    f"DELETE FROM {target} WHERE {loaded.where}", loaded.params
                ).fetchone()
                if rows_written:
                    inserted = _insert_typed(con, target, spool.files, table, load)
                    if inserted != rows_written:
                        raise RuntimeError(
                            f"{target}: {inserted} rows inserted from a spool of {rows_written}"
                        )
                if load.children:
                    # the range now holds exactly the rows just loaded
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE {LOADED_KEYS} AS SELECT "
                        f"{quote(load.primary_key)} AS k FROM {target} WHERE {loaded.where}",
                        loaded.params,
                    )
                kept = _restore_unserved(con, target, load) if aside else 0
                if rows_written and load.primary_key and load.replace is not None:
                    # A record whose date moved since it was loaded still has its old row
                    # outside the range, while its key now lives inside.
                    key = quote(load.primary_key)
                    (moved,) = con.execute(
                        f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM {target} "
                        f"WHERE {loaded.where}) AND NOT coalesce({loaded.where}, false)",
                        loaded.params * 2,
                    ).fetchone()
                    deleted += moved
                children = _write_children(con, spool, schema, table, load)
                result = _verify(con, target, load, loaded, rows_written, kept)
                result.rows_replaced = deleted - kept
                result.children = children
                con.execute("COMMIT")
            except duckdb.OutOfMemoryException:
                con.execute("ROLLBACK")
                raise MemoryError(
                    f"DuckDB needed more than its {self.memory_limit} budget to load "
                    f"{target}; nothing was written. Set AIRCALL_DUCKDB_MEMORY_LIMIT higher "
                    "(e.g. 512MB) and re-run."
                ) from None
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return result

    def replace_frame(self, schema: str, table: str, frame: pd.DataFrame) -> int:
        """Replace a whole table with a DataFrame (downstream assets), in one transaction."""
        target = f"{quote(schema)}.{quote(table)}"
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
                con.register("frame", frame)
                con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM frame")
                con.unregister("frame")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return len(frame)

    def read_frame(self, schema: str, table: str) -> pd.DataFrame:
        with self._reading(schema, table) as con:
            return con.execute(f"SELECT * FROM {quote(schema)}.{quote(table)}").df()

    def read_range(
        self,
        schema: str,
        table: str,
        columns: Sequence[str],
        date_column: str,
        start: datetime | None,
        end: datetime,
    ) -> list[tuple[Any, ...]]:
        target = f"{quote(schema)}.{quote(table)}"
        sql = read_range_sql(target, columns, date_column, start is not None, "?")
        with self._reading(schema, table) as con:
            return con.execute(sql, [start, end] if start is not None else [end]).fetchall()

    def replace_with_query(self, schema: str, table: str, select_sql: str) -> int:
        target = f"{quote(schema)}.{quote(table)}"
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
                con.execute(f"CREATE OR REPLACE TABLE {target} AS {select_sql}")
                (rows,) = con.execute(f"SELECT count(*) FROM {target}").fetchone()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return rows

    @contextmanager
    def _reading(self, schema: str, table: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to an existing table, else a LookupError saying what to do."""
        if not self.path.exists():
            raise LookupError(f"no warehouse at {self.path} yet: materialize {schema}.{table}")
        with self.connect(read_only=True) as con:
            if not table_exists_in(con, schema, table):
                raise LookupError(
                    f"table {schema}.{table} does not exist in {self.path}: materialize it first"
                )
            yield con


def table_exists_in(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists in the attached warehouse (not in a staging file)."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def _ensure_columns(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, fields: Sequence[Field]
) -> None:
    """Create the typed table, or add the newly selected columns (old ones are kept)."""
    target = f"{quote(schema)}.{quote(table)}"
    if not table_exists_in(con, schema, table):
        con.execute(f"CREATE TABLE {target} ({column_ddl(fields)})")
        return
    existing = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }
    for f in fields:
        if f.name not in existing:
            con.execute(f"ALTER TABLE {target} ADD COLUMN {quote(f.name)} {f.warehouse_type}")


def _set_aside_unserved(con: duckdb.DuckDBPyConnection, target: str, load: TableLoad) -> bool:
    """Copy the range's rows dated before ``keep_before`` aside (the whole range is deleted
    next); whether there were any."""
    replace = load.replace
    if replace is None or replace.keep_before is None:
        return False
    unserved = Replaced.of(replace, until=replace.keep_before)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {UNSERVED} AS SELECT * FROM {target} WHERE {unserved.where}",
        unserved.params,
    )
    (rows,) = con.execute(f"SELECT count(*) FROM {UNSERVED}").fetchone()
    return rows > 0


def _restore_unserved(con: duckdb.DuckDBPyConnection, target: str, load: TableLoad) -> int:
    """Put back the rows set aside whose key the load did not bring again; how many."""
    missing = not_reloaded(target, UNSERVED, load.primary_key)
    (restored,) = con.execute(
        f"INSERT INTO {target} BY NAME SELECT * FROM {UNSERVED} {missing}"
    ).fetchone()
    con.execute(f"DROP TABLE {UNSERVED}")
    return restored


def _insert_typed(
    con: duckdb.DuckDBPyConnection,
    target: str,
    files: Sequence[Path],
    table: str,
    load: TableLoad,
) -> int:
    """Insert the spooled records typed by the catalog; the number of rows inserted."""
    records = typed_records_sql(files, table, load.fields, load.primary_key)
    try:
        (inserted,) = con.execute(
            f"INSERT INTO {target} BY NAME SELECT * FROM {records}"
        ).fetchone()
    except duckdb.InvalidInputException as exc:
        failure = refusal(exc, table)
        if failure is not None:
            raise failure from None
        raise
    return inserted


def _write_children(
    con: duckdb.DuckDBPyConnection, spool: Spool, schema: str, table: str, load: TableLoad
) -> dict[str, ChildWrite]:
    """Replace the load's child tables' rows of its parents (``warehouse/child_tables.py``),
    in the load's transaction, once the parent table holds its final rows."""
    parent = load.children_of
    written: dict[str, ChildWrite] = {}
    if parent is None or not parent.children:
        return written

    def execute(sql: str, params: list[Any]) -> int:
        (rows,) = con.execute(sql, params).fetchone()
        return rows

    if spool.manifest.rows:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {LISTS} AS {lists_sql(spool.files, parent)}")
    for child in parent.children:
        target = f"{quote(schema)}.{quote(child.name)}"
        _ensure_columns(con, schema, child.name, child.fields)
        replaced = remove_stale_children(
            execute, schema, table, parent, child, load.replace, f"SELECT k FROM {LOADED_KEYS}", "?"
        )
        inserted = 0
        if spool.manifest.rows:
            rows = child_rows_sql(LISTS, parent, child)
            try:
                inserted = execute(f"INSERT INTO {target} BY NAME SELECT * FROM {rows}", [])
            except duckdb.InvalidInputException as exc:
                failure = child_refusal(exc, [child])
                if failure is not None:
                    raise failure from None
                raise
        written[child.name] = child_write(
            lambda sql, params: con.execute(sql, params).fetchall(),
            _day_of,
            schema,
            parent,
            child,
            load.replace,
            inserted,
            replaced,
            "?",
        )
    con.execute(f"DROP TABLE IF EXISTS {LOADED_KEYS}; DROP TABLE IF EXISTS {LISTS}")
    return written


def _day_of(column: str) -> str:
    return f"strftime(date_trunc('day', {column}), '%Y-%m-%d')"


def _verify(
    con: duckdb.DuckDBPyConnection,
    target: str,
    load: TableLoad,
    loaded: Replaced,
    rows_written: int,
    kept: int,
) -> WriteResult:
    return verify_load(
        lambda sql, params: con.execute(sql, params).fetchall(),
        lambda sql, params: con.execute(sql, params).df(),
        _day_of,
        target,
        load,
        loaded,
        rows_written,
        kept,
    )
