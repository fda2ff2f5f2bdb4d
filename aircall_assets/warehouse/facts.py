"""What ``make status`` and the demo read of the warehouse, on either database: per account, the
rows of each of its extract tables and its reverse sync's outcomes per destination.

One short read-only connection, SQL that DuckDB and PostgreSQL both accept (the catalog of
tables from ``information_schema``), and a reader that never waits long: a DuckDB file is read
under its file lock, given up after ``lock_timeout`` seconds; PostgreSQL's readers are not
blocked by loads, except by one changing a table's columns (which locks the table until it
commits), so a count waits at most ``lock_timeout`` there too. Either way a warehouse in use is
reported ``busy`` rather than waited for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aircall_assets.sql import quote
from aircall_assets.warehouse.base import TableStore
from aircall_assets.warehouse.duckdb_file import Warehouse

STATE_TABLE = "state"
# <sync schema>.state statuses → the three counts shown (anything else counts as failed).
SYNC_OUTCOMES = {
    "sent": "sent",
    "rejected": "rejected",
    "invalid": "rejected",
    "failed": "failed",
    "uncertain": "failed",
    "sending": "failed",
}


@dataclass(frozen=True)
class AccountTables:
    """Where one account's tables are: its extract schema and tables, its sync state's schema."""

    schema: str
    tables: tuple[str, ...]
    sync_schema: str


@dataclass
class WarehouseFacts:
    state: str  # ok | missing (no account's tables yet) | busy | unreachable
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # schema -> tables present
    sync: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # sync schema ->
    # destination -> outcome counts
    problem: str | None = None  # why it is unreachable (no password in it)

    def rows_of(self, account: AccountTables) -> dict[str, int]:
        """The account's extract tables present, with their rows."""
        return self.rows.get(account.schema, {})

    def sync_of(self, account: AccountTables) -> dict[str, dict[str, int]]:
        """The account's destinations that have sync state, with their counts."""
        return self.sync.get(account.sync_schema, {})


class _Busy(Exception):
    """A load holds what the read needs for longer than the reader waits."""


def address(store: TableStore) -> str:
    """Where the warehouse is, to be shown: the DuckDB file, or the URL with its password
    masked."""
    return str(store.path) if isinstance(store, Warehouse) else store.address


def read_warehouse(
    store: TableStore, accounts: Iterable[AccountTables], lock_timeout: float
) -> WarehouseFacts:
    """Row counts of each account's tables (those that exist) and its reverse-sync outcomes,
    in one short read-only connection."""
    try:
        with _read_only(store, lock_timeout) as con:
            if con is None:
                return WarehouseFacts("missing")
            return _facts(con, accounts)
    except _Busy:
        return WarehouseFacts("busy")
    except ConnectionError as exc:  # the PostgreSQL server is down or refuses the URL
        return WarehouseFacts("unreachable", problem=str(exc))


@contextmanager
def _read_only(store: TableStore, lock_timeout: float) -> Iterator[Any]:
    """A connection for reads only, ``None`` for a DuckDB file not created yet."""
    if isinstance(store, Warehouse):
        import duckdb

        if not store.path.exists():
            yield None
            return
        try:
            with Warehouse(store.path, lock_timeout=lock_timeout).connect(read_only=True) as con:
                yield con
        except (TimeoutError, duckdb.IOException):
            raise _Busy from None
        return
    import psycopg

    with store.connect() as con:
        con.execute("SET default_transaction_read_only = on")
        con.execute(f"SET lock_timeout = {int(lock_timeout * 1000)}")
        try:
            yield con
        except psycopg.errors.LockNotAvailable:
            raise _Busy from None


def _facts(con: Any, accounts: Iterable[AccountTables]) -> WarehouseFacts:
    present = set(
        con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchall()
    )
    facts = WarehouseFacts("ok")
    for account in accounts:
        rows = {
            table: con.execute(
                f"SELECT count(*) FROM {quote(account.schema)}.{quote(table)}"
            ).fetchone()[0]
            for table in account.tables
            if (account.schema, table) in present
        }
        if rows:
            facts.rows[account.schema] = rows
        if (account.sync_schema, STATE_TABLE) in present:
            facts.sync[account.sync_schema] = _sync_counts(con, account.sync_schema)
    if not facts.rows and not facts.sync:
        facts.state = "missing"
    return facts


def _sync_counts(con: Any, schema: str) -> dict[str, dict[str, int]]:
    """Per destination, rows by their latest outcome in the account's ``<sync schema>.state``.

    ``sent``: Aircall accepted the row's current payload (or it was found already applied);
    ``rejected``: Aircall answered 4xx, or the row failed the template's validation (not
    retried until the row changes); ``failed``: no definitive answer yet (network errors after
    retries, a run killed mid-request, or an uncertain create): the next run retries them.
    """
    counts: dict[str, dict[str, int]] = {}
    for destination, status, rows in con.execute(
        f"SELECT destination, status, count(*) FROM {quote(schema)}.{quote(STATE_TABLE)} "
        "GROUP BY destination, status"
    ).fetchall():
        bucket = SYNC_OUTCOMES.get(status, "failed")
        per = counts.setdefault(destination, {"sent": 0, "rejected": 0, "failed": 0})
        per[bucket] += rows
    return counts
