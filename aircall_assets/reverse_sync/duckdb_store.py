"""The reverse sync on the DuckDB file (``store.SyncWarehouse``), which one process at a time opens.

A run keeps one DuckDB instance (``warehouse.Session``) and attaches the file only for each read
or write, under the warehouse's file lock, so that extracts and readers get the file between
two requests to Aircall; one run per destination at a time is an ``flock`` beside the file
(``lock.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import duckdb

from aircall_assets.reverse_sync import lock
from aircall_assets.reverse_sync.store import Columns, Sql, SyncSession, SyncWarehouse, column_ddl
from aircall_assets.sql import literal, quote
from aircall_assets.warehouse import Session, Warehouse

HELD_OUTSIDE_RETRY_S = 0.5  # how often a write retries a file held outside the project's lock


class DuckDBSyncWarehouse(SyncWarehouse):
    kind = "duckdb"
    mark = "?"

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Sql]:
        with self.warehouse.connect(read_only=read_only) as con:
            yield Sql(con, self)

    @contextmanager
    def session(self) -> Iterator[DuckDBSyncSession]:
        with self.warehouse.session() as session:
            yield DuckDBSyncSession(self, session)

    def destination_lock(self, name: str, holder: str, log: Any) -> AbstractContextManager[None]:
        return lock.destination_lock(self.warehouse.path, name, holder, log)

    def column_type(self, catalog_type: str) -> str:
        return catalog_type

    def ensure_tables(
        self, sql: Sql, schema: str, tables: dict[str, tuple[Columns, Sequence[str]]]
    ) -> None:
        """Without the row key's constraint, as these tables always were in DuckDB files: a
        write's delete finds its rows by a scan as fast, and the key stays unique because one
        run at a time writes a destination's rows, each key deleted before it is inserted."""

        def create() -> None:
            sql.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            for table, (columns, _) in tables.items():
                sql.execute(
                    f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table)} "
                    f"({column_ddl(self, columns)})"
                )

        _transaction(sql, create)

    def replace_table(
        self, sql: Sql, schema: str, table: str, columns: Columns, query: str
    ) -> None:
        """``CREATE OR REPLACE``: the query types every column, and no reader can have the file
        while it is written anyway."""

        def create() -> None:
            sql.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            sql.execute(f"CREATE OR REPLACE TABLE {quote(schema)}.{quote(table)} AS {query}")

        _transaction(sql, create)

    def insert_many(self, sql: Sql, statement: str, rows: Sequence[tuple]) -> None:
        sql.con.executemany(statement, rows)

    def is_json(self, column: Any) -> bool:
        return str(column[1]) == "JSON"

    def array_field_texts(self, table: str, column: str, field: str, alias: str) -> str:
        return (
            f"SELECT unnest(json_extract_string({column}, {literal('$[*].' + field)})) AS {alias} "
            f"FROM {table} WHERE {column} IS NOT NULL"
        )

    def json_array_of_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        arguments = ", ".join(f"{literal(key)}, {value}" for key, value in pairs)
        return f"json_array(json_object({arguments}))"

    def utc_minute(self, column: str) -> str:
        return f"strftime({column}, '%Y-%m-%d %H:%M')"  # the connection's time zone is UTC


class DuckDBSyncSession(SyncSession):
    """The run's DuckDB instance; the file attached for each block only."""

    def __init__(self, warehouse: DuckDBSyncWarehouse, session: Session) -> None:
        self.warehouse = warehouse
        self._session = session

    @contextmanager
    def connect(self) -> Iterator[Sql]:
        with self._session.connect() as con:
            yield Sql(con, self.warehouse)

    def transaction(self, work: Callable[[Sql], None]) -> None:
        """One transaction with the file attached for it.

        The project's runs queue on the warehouse's file lock, but a DuckDB connection of the
        user's (a notebook, the ``duckdb`` CLI) does not take it, and DuckDB refuses the attach
        while it is open. A sync may then be hours into its run with answers to record, so it
        waits for that connection to close, as long as it would wait for a run of the project.
        """
        deadline = time.monotonic() + self._session.warehouse.lock_timeout
        while True:
            try:
                with self.connect() as sql:
                    _transaction(sql, lambda: work(sql))
                return
            except duckdb.IOException as exc:
                if "Could not set lock on file" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(HELD_OUTSIDE_RETRY_S)


def _transaction(sql: Sql, work: Callable[[], Any]) -> None:
    sql.execute("BEGIN TRANSACTION")
    try:
        work()
        sql.execute("COMMIT")
    except BaseException:
        sql.execute("ROLLBACK")
        raise
