"""The warehouse as the reverse sync and ``aircall_reverse/unknown_callers`` use it: one interface
(``SyncWarehouse``), a DuckDB file (``duckdb_store.py``) and a PostgreSQL database
(``postgres_store.py``).

The sync's SQL (``state.py``, ``unknown_callers.py``) is written once, in what both databases
accept. What they spell differently (parameter marks, column types, JSON functions, replacing a
table, inserting many rows, telling which result columns are JSON) and what each offers a run
for its many short transactions and its one-run-per-destination lock are implemented per
database, behind this interface, so that the sync never asks which one it talks to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aircall_assets.account import Account
from aircall_assets.sql import quote

if TYPE_CHECKING:
    from aircall_assets.warehouse import TableStore

Columns = dict[str, str]  # name -> the catalog's type (DuckDB's names), maybe with NOT NULL


@dataclass(frozen=True)
class Sql:
    """One connection to a warehouse, with the warehouse that knows how it spells things."""

    con: Any  # a DuckDB connection or a psycopg one
    warehouse: SyncWarehouse

    @property
    def mark(self) -> str:
        """The parameter placeholder of this database's driver."""
        return self.warehouse.mark

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run ``sql``; a cursor (``fetchone``, ``fetchall``, ``fetchmany``, ``description``)."""
        return self.con.execute(sql, params) if params else self.con.execute(sql)

    def insert_many(self, statement: str, rows: Sequence[tuple]) -> None:
        self.warehouse.insert_many(self, statement, rows)

    def column_names(self, schema: str, table: str) -> set[str]:
        """The columns of ``schema.table`` in this database; empty if it does not exist."""
        found = self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = "
            f"current_database() AND table_schema = {self.mark} AND table_name = {self.mark}",
            [schema, table],
        ).fetchall()
        return {name for (name,) in found}


class SyncSession(ABC):
    """A run's use of the warehouse: reads, then many short writes, the warehouse left to other
    runs and readers in between (a sync spends its time waiting for Aircall)."""

    @abstractmethod
    def connect(self) -> AbstractContextManager[Sql]:
        """A connection for reads (and DDL), given back at the end of the block."""

    @abstractmethod
    def transaction(self, work: Callable[[Sql], None]) -> None:
        """Run ``work`` in one short transaction, committed when this returns; on any error
        rolled back and raised."""


class SyncWarehouse(ABC):
    """What the reverse sync and ``unknown_callers`` need of a warehouse; see the module
    docstring."""

    kind: str  # "duckdb" or "postgres"
    mark: str  # the driver's parameter placeholder

    @abstractmethod
    def connect(self, read_only: bool = False) -> AbstractContextManager[Sql]:
        """One connection for the block (``FileNotFoundError`` for a read of a warehouse that
        does not exist yet); ``read_only`` refuses any write."""

    @abstractmethod
    def session(self) -> AbstractContextManager[SyncSession]:
        """The session of one run (see ``SyncSession``)."""

    @abstractmethod
    def destination_lock(self, name: str, holder: str, log: Any) -> AbstractContextManager[None]:
        """Hold the destination ``name`` (``lock_name``) for the block, against every other run
        of it wherever it runs; a run that finds it held logs ``'<name>' is being synced by
        <holder>`` and waits (no timeout: the run waited for may rightly take hours)."""

    # -- what the two databases spell differently ------------------------------------------

    @abstractmethod
    def column_type(self, catalog_type: str) -> str:
        """A catalog type (``VARCHAR``, ``JSON``, ``DOUBLE``...) as this database's column."""

    @abstractmethod
    def ensure_tables(
        self, sql: Sql, schema: str, tables: dict[str, tuple[Columns, Sequence[str]]]
    ) -> None:
        """``schema`` and its ``tables`` (name -> columns, row key), if missing; safe when
        several runs do it at once."""

    @abstractmethod
    def replace_table(
        self, sql: Sql, schema: str, table: str, columns: Columns, query: str
    ) -> None:
        """Replace the rows of ``schema.table`` (``columns``, created if missing) by the
        ``query``'s, in one transaction; readers see the old rows until it commits."""

    @abstractmethod
    def insert_many(self, sql: Sql, statement: str, rows: Sequence[tuple]) -> None:
        """Run an ``INSERT ... VALUES`` of one row's marks for each of ``rows``."""

    @abstractmethod
    def is_json(self, column: Any) -> bool:
        """Whether a result column (an entry of ``cursor.description``) holds JSON text."""

    @abstractmethod
    def array_field_texts(self, table: str, column: str, field: str, alias: str) -> str:
        """A SELECT of ``alias``: the text of ``field`` in each element of the JSON array in
        ``column`` of ``table``'s rows (rows whose value is no array give none)."""

    @abstractmethod
    def json_array_of_object(self, pairs: Iterable[tuple[str, str]]) -> str:
        """SQL of a JSON array holding one object of these (key, SQL value) pairs."""

    @abstractmethod
    def utc_minute(self, column: str) -> str:
        """SQL of a TIMESTAMPTZ as its UTC ``YYYY-MM-DD HH:MM`` text."""


def lock_name(account: Account, destination: str) -> str:
    """The name of one account's destination among every account's, for its one-run-at-a-time
    lock: the destination's own for the default account, ``<account>.<destination>`` for a
    named one. No destination's name holds a dot, so two accounts never share a lock, nor wait
    for each other, whatever their destinations are called."""
    return destination if account.name is None else f"{account.name}.{destination}"


def column_ddl(warehouse: SyncWarehouse, columns: Columns, key: Sequence[str] = ()) -> str:
    """``"name" TYPE, ...`` of a CREATE TABLE in this database's types, with ``key`` as the
    primary key when given."""
    parts = []
    for name, spec in columns.items():
        kind, _, rest = spec.partition(" ")
        parts.append(f"{quote(name)} {warehouse.column_type(kind)}{' ' + rest if rest else ''}")
    if key:
        parts.append(f"PRIMARY KEY ({', '.join(quote(k) for k in key)})")
    return ", ".join(parts)


def sync_warehouse(store: TableStore) -> SyncWarehouse:
    """The sync's interface to the warehouse ``store`` is (the IO manager's choice)."""
    if store.kind == "postgres":
        # imported here: a DuckDB deployment never loads the PostgreSQL driver
        from aircall_assets.reverse_sync.postgres_store import PostgresSyncWarehouse

        return PostgresSyncWarehouse(store)  # type: ignore[arg-type]
    from aircall_assets.reverse_sync.duckdb_store import DuckDBSyncWarehouse

    return DuckDBSyncWarehouse(store)  # type: ignore[arg-type]
