"""The reverse sync on the PostgreSQL warehouse (``store.SyncWarehouse``), shared by every run.

A run keeps one connection for its reads and writes; each ``SyncStore.write`` is one short
transaction of it, so readers (MVCC) and the runs of other destinations never wait for a sync,
whose idle connection holds no lock between two requests to Aircall. One run per destination of
each account (``store.lock_name``) at a time is a session-level advisory lock held on a
connection of its own for the whole sync: it works across pods, and PostgreSQL releases it when
the run's process dies (its connection closes), so a killed run never leaves the destination
locked. The holder is found by the lock connection's ``application_name``.

Schema and table creation, and ``replace_table``, take the transaction-scoped advisory lock of
the warehouse (``postgres.py``), so runs that create or rebuild the same table do it in turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from aircall_assets.reverse_sync.store import Columns, Sql, SyncSession, SyncWarehouse, column_ddl
from aircall_assets.sql import literal, quote
from aircall_assets.warehouse.postgres import PostgresWarehouse, _ensure_schema, _lock
from aircall_assets.warehouse.postgres_types import PG_TYPES

JSON_TYPES = {114, 3802}  # the OIDs of json and jsonb
TYPES = {**PG_TYPES, "INTEGER": "INTEGER", "DOUBLE": "DOUBLE PRECISION"}
LOCK_SPACE = "aircall_assets.reverse_sync"  # the destination locks' first key: apart from tables'
LOCK_POLL_S = 0.5  # how often a run waiting for its destination tries the lock again
APPLICATION_PREFIX = "aircall sync "
# PostgreSQL 14+ may end idle sessions (idle_session_timeout): not the sync's, idle while Aircall
# answers, whose lock would otherwise go with it while the run goes on.
NEVER_IDLE_OUT = (
    "SELECT set_config('idle_session_timeout', '0', false) "
    "WHERE current_setting('server_version_num')::int >= 140000"
)


class PostgresSyncWarehouse(SyncWarehouse):
    kind = "postgres"
    mark = "%s"

    def __init__(self, warehouse: PostgresWarehouse) -> None:
        self.warehouse = warehouse

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Sql]:
        with self.warehouse.connect() as con:
            if read_only:
                con.execute("SET default_transaction_read_only = on")
            yield Sql(con, self)

    @contextmanager
    def session(self) -> Iterator[PostgresSyncSession]:
        with self.warehouse.connect() as con:
            con.execute(NEVER_IDLE_OUT)
            yield PostgresSyncSession(Sql(con, self))

    @contextmanager
    def destination_lock(self, name: str, holder: str, log: Any) -> Iterator[None]:
        with self.warehouse.connect() as con:
            con.execute(NEVER_IDLE_OUT)
            # application_name is cut at 63 bytes: a run id fits
            con.execute(
                "SELECT set_config('application_name', %s, false)", [APPLICATION_PREFIX + holder]
            )
            key = "hashtext(%s), hashtext(%s)"
            params = [LOCK_SPACE, name]
            if not _fetch_bool(con, f"SELECT pg_try_advisory_lock({key})", params):
                other = _holder(con, params) or "another run"
                log.info(f"'{name}' is being synced by {other}: waiting for it to finish")
                began = time.monotonic()
                while not _fetch_bool(con, f"SELECT pg_try_advisory_lock({key})", params):
                    time.sleep(LOCK_POLL_S)
                log.info(f"'{name}' is free after {time.monotonic() - began:.1f}s of waiting")
            try:
                yield
            finally:
                if not con.broken:
                    con.execute(f"SELECT pg_advisory_unlock({key})", params)

    def column_type(self, catalog_type: str) -> str:
        return TYPES.get(catalog_type, catalog_type)

    def ensure_tables(
        self, sql: Sql, schema: str, tables: dict[str, tuple[Columns, Sequence[str]]]
    ) -> None:
        """With the row key as the primary key: a write's delete finds its rows by the index."""
        _ensure_schema(sql.con, schema)
        for table, (columns, key) in tables.items():
            with sql.con.transaction():
                _lock(sql.con, f"{schema}.{table}")
                sql.execute(
                    f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table)} "
                    f"({column_ddl(self, columns, key)})"
                )

    def replace_table(
        self, sql: Sql, schema: str, table: str, columns: Columns, query: str
    ) -> None:
        """DELETE and INSERT, not DROP: a dropped table would make readers wait for the commit
        (and then fail), where these leave them the old rows until it."""
        target = f"{quote(schema)}.{quote(table)}"
        names = ", ".join(quote(name) for name in columns)
        _ensure_schema(sql.con, schema)
        with sql.con.transaction():
            _lock(sql.con, f"{schema}.{table}")
            sql.execute(f"CREATE TABLE IF NOT EXISTS {target} ({column_ddl(self, columns)})")
            sql.execute(f"DELETE FROM {target}")
            sql.execute(f"INSERT INTO {target} ({names}) {query}")

    def insert_many(self, sql: Sql, statement: str, rows: Sequence[tuple]) -> None:
        with sql.con.cursor() as cursor:
            cursor.executemany(statement, rows)

    def is_json(self, column: Any) -> bool:
        return column.type_code in JSON_TYPES

    def array_field_texts(self, table: str, column: str, field: str, alias: str) -> str:
        array = f"{column}::jsonb"
        return (
            f"SELECT element ->> {literal(field)} AS {alias} FROM {table} CROSS JOIN LATERAL "
            f"jsonb_array_elements(CASE WHEN jsonb_typeof({array}) = 'array' THEN {array} "
            "ELSE '[]'::jsonb END) AS element"
        )

    def json_array_of_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        arguments = ", ".join(f"{literal(key)}, {value}" for key, value in pairs)
        return f"jsonb_build_array(jsonb_build_object({arguments}))"

    def utc_minute(self, column: str) -> str:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"


class PostgresSyncSession(SyncSession):
    """The run's connection, in autocommit between the transactions of its writes."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    @contextmanager
    def connect(self) -> Iterator[Sql]:
        yield self._sql

    def transaction(self, work: Callable[[Sql], None]) -> None:
        with self._sql.con.transaction():
            work(self._sql)


def _fetch_bool(con: psycopg.Connection, statement: str, params: list[Any]) -> bool:
    row = con.execute(statement, params).fetchone()
    return bool(row and row[0])


def _holder(con: psycopg.Connection, params: list[Any]) -> str | None:
    """Who holds the lock of these keys: what its connection's application_name says."""
    row = con.execute(
        "SELECT a.application_name FROM pg_locks AS l JOIN pg_stat_activity AS a "
        "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
        "AND l.classid = hashtext(%s)::oid AND l.objid = hashtext(%s)::oid "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        params,
    ).fetchone()
    name = row[0] if row else None
    return name.removeprefix(APPLICATION_PREFIX) if name else None
