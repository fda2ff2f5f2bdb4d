"""The PostgreSQL warehouse: the user's own server, written by many runs at once.

A load gives the same guarantees as on DuckDB (``duckdb_file.py``), in one transaction:

* the spooled records are typed by DuckDB with the DuckDB warehouse's own SQL (a value that
  does not fit fails the load with the same message) and streamed with ``COPY`` into a
  temporary table of typed columns (``postgres_types.py``), a batch of rows at a time: the
  client holds a batch and DuckDB a bounded buffer, never the range; this is done before any
  lock;
* then, under a transaction-scoped advisory lock of the table (two loads of one table merge in
  turn; other tables, and readers, are never blocked): the table is created or given its newly
  selected columns (deselected ones are kept), the range is deleted (keeping the rows of days
  the API no longer serves unless their key comes again), the staged rows are inserted, older
  rows whose key moved into the range are deleted, and the result is verified as on DuckDB
  before the commit. Any error rolls back: the previous rows stay.

The URL's password never leaves this module in a text: errors are re-raised with it masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb
from psycopg.types.string import TextLoader

from aircall_assets.catalog import ChildTable, Field
from aircall_assets.children import LISTS, child_refusal, child_rows_sql, lists_sql
from aircall_assets.normalize import refusal
from aircall_assets.read_ahead import read_ahead
from aircall_assets.spool import Spool
from aircall_assets.sql import quote
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
from aircall_assets.warehouse.duckdb_file import DEFAULT_MEMORY_LIMIT, validate_memory_limit
from aircall_assets.warehouse.postgres_types import (
    column_ddl,
    copy_lines_of,
    copy_lines_sql,
    from_stage_sql,
    pg_type,
    stage_ddl,
)
from aircall_assets.warehouse.url import check_url, mask, scrub

STAGE = "aircall_staged_records"  # temp table of a load's typed rows
COPY_BATCH = 500  # rows per COPY write (under a MB: more rows cost memory, not speed)
COPY_AHEAD = 2  # batches DuckDB may type ahead of the one being sent
CONNECT_TIMEOUT_S = 30
MARK = "%s"


class WarehouseConnectionError(ConnectionError):
    """The PostgreSQL warehouse could not be reached (the message has no password)."""


class PostgresWarehouse(TableStore):
    """A PostgreSQL database, shared by every run; see the module docstring."""

    kind = "postgres"

    def __init__(self, url: str, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> None:
        self._url = check_url(url)
        self.memory_limit = validate_memory_limit(memory_limit)  # DuckDB's, typing a load

    def __repr__(self) -> str:
        return f"PostgresWarehouse({mask(self._url)})"

    @property
    def address(self) -> str:
        """The URL, its password masked: for messages."""
        return mask(self._url)

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection in autocommit (transactions are explicit), time zone UTC, JSONB read
        as its text (as DuckDB hands JSON over)."""
        failure = None
        try:
            con = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            failure = scrub(str(exc).strip(), self._url)
        if failure is not None:  # raised outside the handler: the driver's error is not chained
            raise WarehouseConnectionError(
                f"could not connect to the PostgreSQL warehouse {self.address}: {failure}"
            )
        try:
            con.execute("SET TIME ZONE 'UTC'")
            for name in ("json", "jsonb"):
                con.adapters.register_loader(name, TextLoader)
            yield con
        finally:
            con.close()

    def table_exists(self, schema: str, table: str) -> bool:
        with self.connect() as con:
            return _table_exists(con, schema, table)

    def key_counts(self, schema: str, table: str, column: str) -> KeyCounts:
        with self.connect() as con:
            target = f"{quote(schema)}.{quote(table)}"
            (duplicates, nulls) = con.execute(key_counts_sql(target, column)).fetchone()
        return KeyCounts(duplicates, nulls)

    # -- loads -----------------------------------------------------------------------------

    def _merge(self, spool: Spool, schema: str, table: str, load: TableLoad) -> WriteResult:
        target = f"{quote(schema)}.{quote(table)}"
        rows_written = spool.manifest.rows
        loaded = Replaced.of(load.replace, mark=MARK)
        with self.connect() as con:
            _ensure_schema(con, schema)
            with con.transaction():
                staged = _stage(con, spool, target, table, load, self.memory_limit)
                if staged != rows_written:
                    raise RuntimeError(
                        f"{target}: {staged} records staged from a spool of {rows_written}"
                    )
                staged_children = _stage_children(con, spool, schema, load, self.memory_limit)
                _lock(con, f"{schema}.{table}")
                _ensure_columns(con, schema, table, load.fields)
                aside = _set_aside_unserved(con, target, load)
                deleted = con.execute(
                    f"DELETE FROM {target} WHERE {loaded.where}", loaded.params
                ).rowcount
                if rows_written:
                    inserted = _insert_staged(con, target, load)
                    if inserted != rows_written:
                        raise RuntimeError(
                            f"{target}: {inserted} rows inserted from a spool of {rows_written}"
                        )
                kept = _restore_unserved(con, target, load) if aside else 0
                if rows_written and load.primary_key and load.replace is not None:
                    # A record whose date moved since it was loaded still has its old row
                    # outside the range, while its key now lives inside.
                    key = quote(load.primary_key)
                    deleted += con.execute(
                        f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM {target} "
                        f"WHERE {loaded.where}) AND NOT coalesce({loaded.where}, false)",
                        loaded.params * 2,
                    ).rowcount
                children = _write_children(con, schema, table, load, staged_children)
                result = _verify(con, target, load, loaded, rows_written, kept)
                result.rows_replaced = deleted - kept
                result.children = children
        return result

    def replace_frame(self, schema: str, table: str, frame: pd.DataFrame) -> int:
        """Replace a whole table with a DataFrame (downstream assets), in one transaction."""
        target = f"{quote(schema)}.{quote(table)}"
        types = [_frame_type(frame[name]) for name in frame.columns]
        ddl = ", ".join(f"{quote(str(n))} {t}" for n, t in zip(frame.columns, types, strict=True))
        with self.connect() as con:
            _ensure_schema(con, schema)
            with con.transaction():
                _lock(con, f"{schema}.{table}")
                con.execute(f"DROP TABLE IF EXISTS {target}")
                con.execute(f"CREATE TABLE {target} ({ddl})")
                with con.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:
                    copy.set_types([t.lower() for t in types])
                    for row in _frame_rows(frame, types):
                        copy.write_row(row)
        return len(frame)

    def read_frame(self, schema: str, table: str) -> pd.DataFrame:
        with self._reading(schema, table) as con:
            cursor = con.execute(f"SELECT * FROM {quote(schema)}.{quote(table)}")
            return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])

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
        sql = read_range_sql(target, columns, date_column, start is not None, "%s")
        with self._reading(schema, table) as con:
            return con.execute(sql, [start, end] if start is not None else [end]).fetchall()

    def replace_with_query(self, schema: str, table: str, select_sql: str) -> int:
        target = f"{quote(schema)}.{quote(table)}"
        with self.connect() as con:
            _ensure_schema(con, schema)
            with con.transaction():
                _lock(con, f"{schema}.{table}")
                con.execute(f"DROP TABLE IF EXISTS {target}")
                con.execute(f"CREATE TABLE {target} AS {select_sql}")
                ((rows,),) = con.execute(f"SELECT count(*) FROM {target}").fetchall()
        return rows

    @contextmanager
    def _reading(self, schema: str, table: str) -> Iterator[psycopg.Connection]:
        """A connection to an existing table, else a LookupError saying what to do."""
        with self.connect() as con:
            if not _table_exists(con, schema, table):
                raise LookupError(
                    f"table {schema}.{table} does not exist in the PostgreSQL warehouse "
                    f"{self.address}: materialize it first"
                )
            yield con


def _table_exists(con: psycopg.Connection, schema: str, table: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = %s AND table_name = %s",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def _lock(con: psycopg.Connection, name: str) -> None:
    """Wait for, then hold until the transaction ends, the project's advisory lock of ``name``."""
    con.execute("SELECT pg_advisory_xact_lock(hashtext('aircall_assets'), hashtext(%s))", [name])


def _ensure_schema(con: psycopg.Connection, schema: str) -> None:
    """The schema, created in a short transaction of its own: two loads creating it at once
    would otherwise collide (``CREATE SCHEMA IF NOT EXISTS`` is not safe against a race)."""
    with con.transaction():
        _lock(con, schema)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")


def _ensure_columns(
    con: psycopg.Connection, schema: str, table: str, fields: Sequence[Field]
) -> None:
    """Create the typed table, or add the newly selected columns (old ones are kept)."""
    target = f"{quote(schema)}.{quote(table)}"
    existing = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            [schema, table],
        ).fetchall()
    }
    if not existing:
        con.execute(f"CREATE TABLE {target} ({column_ddl(fields)})")
        return
    for f in fields:
        if f.name not in existing:
            con.execute(f"ALTER TABLE {target} ADD COLUMN {quote(f.name)} {pg_type(f)}")


def _stage(
    con: psycopg.Connection,
    spool: Spool,
    target: str,
    table: str,
    load: TableLoad,
    memory_limit: str,
) -> int:
    """COPY the spooled records, typed by DuckDB, into the load's temporary table; how many.

    A value that does not fit stops the COPY, before the lock."""
    con.execute(f"CREATE TEMP TABLE {STAGE} ({stage_ddl(load.fields)}) ON COMMIT DROP")
    if not spool.manifest.rows:
        return 0
    lines_sql = copy_lines_sql(spool.files, table, load.fields, load.primary_key)
    with _typing(target, memory_limit, lambda exc: refusal(exc, table)) as typing:
        return _copy(con, typing, STAGE, lines_sql)


def _child_stage(child: ChildTable) -> str:
    return quote(f"aircall_staged_{child.name}")


def _stage_children(
    con: psycopg.Connection, spool: Spool, schema: str, load: TableLoad, memory_limit: str
) -> dict[str, int]:
    """COPY the rows of the load's child tables, typed by DuckDB from the same spool (read
    once for them all, ``children.lists_sql``), into a temporary table each
    (``_child_stage``), before the lock; how many rows each."""
    parent, staged = load.children_of, {}
    for child in load.children:
        stage = _child_stage(child)
        con.execute(f"CREATE TEMP TABLE {stage} ({stage_ddl(child.fields)}) ON COMMIT DROP")
        staged[child.name] = 0
    if parent is None or not parent.children or not spool.manifest.rows:
        return staged
    target = f"{quote(schema)}.{parent.name}'s child tables"
    with _typing(target, memory_limit, lambda exc: child_refusal(exc, parent.children)) as typing:
        typing.execute(f"CREATE TEMP TABLE {LISTS} AS {lists_sql(spool.files, parent)}")
        for child in parent.children:
            lines_sql = copy_lines_of(child_rows_sql(LISTS, parent, child), child.fields)
            staged[child.name] = _copy(con, typing, _child_stage(child), lines_sql)
    return staged


@contextmanager
def _typing(
    target: str, memory_limit: str, refused: Callable[[duckdb.Error], Exception | None]
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection that types records for ``target``; its errors that are a value
    that does not fit (``refused``) or DuckDB's memory budget are raised as such, without
    the driver's context."""
    failure: Exception | None
    typing = duckdb.connect(
        config={"memory_limit": memory_limit, "threads": 1, "preserve_insertion_order": False}
    )
    try:
        yield typing
        return
    except duckdb.OutOfMemoryException:
        failure = MemoryError(  # worded as on DuckDB, which types the records here too
            f"DuckDB needed more than its {memory_limit} budget to load {target}; nothing was "
            "written. Set AIRCALL_DUCKDB_MEMORY_LIMIT higher (e.g. 512MB) and re-run."
        )
    except duckdb.Error as exc:
        failure = refused(exc)
        if failure is None:
            raise
    finally:
        typing.close()
    raise failure from None  # no driver context chained


def _copy(
    con: psycopg.Connection, typing: duckdb.DuckDBPyConnection, stage: str, lines_sql: str
) -> int:
    """COPY the lines DuckDB makes of ``lines_sql`` into ``stage``; how many rows.

    The server reads a batch while DuckDB types the next one; DuckDB hands each row over as
    the bytes of its line (``postgres_types.copy_lines_of``), so that the only Python work
    per row is joining the batch."""
    with con.cursor() as cur:
        with cur.copy(f"COPY {stage} FROM STDIN") as copy:
            for lines in read_ahead(_batches(typing, lines_sql), depth=COPY_AHEAD):
                copy.write(lines)
        return cur.rowcount  # read before the cursor closes, which forgets it


def _batches(typing: duckdb.DuckDBPyConnection, lines_sql: str) -> Iterator[bytes]:
    """The COPY lines of ``lines_sql``, ``COPY_BATCH`` rows at a time."""
    lines = typing.execute(lines_sql)
    while batch := lines.fetchmany(COPY_BATCH):
        yield b"".join([line for (line,) in batch])


def _insert_staged(con: psycopg.Connection, target: str, load: TableLoad) -> int:
    """Insert the staged rows into the table; the number of rows inserted."""
    names = ", ".join(quote(f.name) for f in load.fields)
    return con.execute(
        f"INSERT INTO {target} ({names}) SELECT {from_stage_sql(load.fields)} FROM {STAGE}"
    ).rowcount


def _write_children(
    con: psycopg.Connection, schema: str, table: str, load: TableLoad, staged: dict[str, int]
) -> dict[str, ChildWrite]:
    """Replace the load's child tables' rows of its parents (``warehouse/child_tables.py``)
    with the staged ones, in the load's transaction, once the parent holds its final rows."""
    parent, written = load.children_of, {}
    for child in load.children:
        assert parent is not None
        target = f"{quote(schema)}.{quote(child.name)}"
        _ensure_columns(con, schema, child.name, child.fields)
        replaced = remove_stale_children(
            lambda sql, params: con.execute(sql, params).rowcount,
            schema,
            table,
            parent,
            child,
            load.replace,
            f"SELECT {quote(load.primary_key or '')} FROM {STAGE}",
            MARK,
        )
        names = ", ".join(quote(f.name) for f in child.fields)
        inserted = con.execute(
            f"INSERT INTO {target} ({names}) SELECT {from_stage_sql(child.fields)} "
            f"FROM {_child_stage(child)}"
        ).rowcount
        if inserted != staged[child.name]:
            raise RuntimeError(f"{target}: {inserted} rows inserted of {staged[child.name]} staged")
        written[child.name] = child_write(
            lambda sql, params: con.execute(sql, params).fetchall(),
            _day_of,
            schema,
            parent,
            child,
            load.replace,
            inserted,
            replaced,
            MARK,
        )
    return written


def _day_of(column: str) -> str:
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def _set_aside_unserved(con: psycopg.Connection, target: str, load: TableLoad) -> bool:
    """Copy the range's rows dated before ``keep_before`` aside (the whole range is deleted
    next); whether there were any."""
    replace = load.replace
    if replace is None or replace.keep_before is None:
        return False
    unserved = Replaced.of(replace, until=replace.keep_before, mark=MARK)
    rows = con.execute(
        f"CREATE TEMP TABLE {UNSERVED} ON COMMIT DROP AS SELECT * FROM {target} "
        f"WHERE {unserved.where}",
        unserved.params,
    ).rowcount
    return rows > 0


def _restore_unserved(con: psycopg.Connection, target: str, load: TableLoad) -> int:
    """Put back the rows set aside whose key the load did not bring again; how many."""
    missing = not_reloaded(target, UNSERVED, load.primary_key)
    # the rows were copied from the table after its columns were ensured: same columns, in order
    return con.execute(f"INSERT INTO {target} SELECT * FROM {UNSERVED} {missing}").rowcount


def _verify(
    con: psycopg.Connection,
    target: str,
    load: TableLoad,
    loaded: Replaced,
    rows_written: int,
    kept: int,
) -> WriteResult:
    def preview(sql: str, params: list[Any]) -> pd.DataFrame:
        cursor = con.execute(sql, params)
        return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])

    return verify_load(
        lambda sql, params: con.execute(sql, params).fetchall(),
        preview,
        _day_of,
        target,
        load,
        loaded,
        rows_written,
        kept,
    )


def _frame_type(column: pd.Series) -> str:
    """The PostgreSQL type of a DataFrame column (structures as JSONB, anything else as text)."""
    types = pd.api.types
    if types.is_bool_dtype(column):
        return "BOOLEAN"
    if types.is_integer_dtype(column):
        return "BIGINT"
    if types.is_float_dtype(column):
        return "FLOAT8"
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return "TIMESTAMPTZ"
    if types.is_datetime64_dtype(column):
        return "TIMESTAMP"
    values = column.dropna()
    if len(values) and all(isinstance(v, (dict, list)) for v in values):
        return "JSONB"
    return "TEXT"


def _frame_rows(frame: pd.DataFrame, types: list[str]) -> Iterator[list[Any]]:
    """The frame's rows as Python values for COPY: missing values as NULL, structures as
    JSONB, text columns as ``str``."""
    columns = []
    for name, kind in zip(frame.columns, types, strict=True):
        values = frame[name].astype(object).where(frame[name].notna(), None).tolist()
        if kind == "JSONB":
            values = [None if v is None else Jsonb(v) for v in values]
        elif kind == "TEXT":
            values = [None if v is None else str(v) for v in values]
        columns.append(values)
    return (list(row) for row in zip(*columns, strict=True))
