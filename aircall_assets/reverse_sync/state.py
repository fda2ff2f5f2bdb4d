"""The reverse sync's memory in the warehouse: the state and responses tables, their rows, and
their reads and writes.

Both tables are in the account's sync schema (``Account.sync_schema``: ``aircall_sync`` for the
default account, ``aircall_eu_sync`` for an account ``eu``), so the state of one account's
destination is never read or written by another's, even under the same destination name.

``state`` has one row per (destination, row key): what was last attempted, what was last sent
successfully (a payload hash), the id Aircall gave the record, and a status. The status is the
exactly-once protocol: ``sending`` is committed *before* a request leaves and replaced by the
outcome after the answer, before anything else leaves (``record.py`` commits the outcome of one
request with the intent of the next). A run killed in between leaves ``sending`` behind, which
tells the next run to look the record up in Aircall before sending it again (``plan.py``).

``responses`` is append-only: one row per attempt and per row of the request (rows of a batch
share a ``request_id``), with Aircall's status and body or the error. It is the seed's
"response webhook" as a table the user can query.

Both tables live in the warehouse (``store.py``: the DuckDB file or the PostgreSQL database).
A sync spends nearly all its time waiting for Aircall (at 60 requests a minute, 10,000 rows take
three hours), so it never holds the warehouse while it waits: the run reads its plan, then each
``SyncStore.write`` is one short transaction of the run's ``SyncSession`` (on DuckDB the file is
attached for it and detached, so an extract queued on the file lock gets its turn between two
requests; on PostgreSQL it is a transaction of the run's connection, which readers and other
runs never wait for). The state read at the start stays this run's to change because one run at
a time syncs a destination (``SyncWarehouse.destination_lock``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import orjson

from aircall_assets.reverse_sync.payloads import json_safe
from aircall_assets.reverse_sync.store import Sql, SyncSession
from aircall_assets.sql import quote

STATE_TABLE = "state"
RESPONSES_TABLE = "responses"
STATE_KEY = ("destination", "row_key")
MAX_BODY_BYTES = 64_000

STATE_COLUMNS: dict[str, str] = {
    "destination": "VARCHAR NOT NULL",
    "row_key": "VARCHAR NOT NULL",
    "status": "VARCHAR NOT NULL",  # sending | sent | rejected | invalid | failed | uncertain
    "payload_hash": "VARCHAR",  # of the last attempt (or validation)
    "sent_hash": "VARCHAR",  # of the last payload Aircall accepted
    "aircall_id": "VARCHAR",  # id of the record Aircall created or updated
    "request_id": "VARCHAR",
    "http_status": "INTEGER",
    "last_error": "VARCHAR",
    "attempts": "INTEGER NOT NULL",
    "first_sent_at": "TIMESTAMPTZ",
    "updated_at": "TIMESTAMPTZ NOT NULL",
}
RESPONSE_COLUMNS: dict[str, str] = {
    "destination": "VARCHAR NOT NULL",
    "row_key": "VARCHAR",
    "run_id": "VARCHAR",
    "request_id": "VARCHAR",
    "mode": "VARCHAR",  # sync | test
    "method": "VARCHAR",
    "path": "VARCHAR",
    "status": "INTEGER",  # HTTP status; NULL when there was no answer
    "outcome": "VARCHAR",  # sent | recovered | rejected | invalid | failed | lost | uncertain
    "response": "JSON",  # Aircall's body (truncated past 64 kB)
    "error": "VARCHAR",
    "aircall_id": "VARCHAR",
    "rows_in_request": "INTEGER",
    "duration_ms": "DOUBLE",
    "attempted_at": "TIMESTAMPTZ NOT NULL",
}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class StateRow:
    destination: str
    row_key: str
    status: str
    payload_hash: str | None = None
    sent_hash: str | None = None
    aircall_id: str | None = None
    request_id: str | None = None
    http_status: int | None = None
    last_error: str | None = None
    attempts: int = 0
    first_sent_at: datetime | None = None
    updated_at: datetime | None = None

    def as_tuple(self) -> tuple:
        values = {c: getattr(self, c) for c in STATE_COLUMNS}
        values["last_error"] = without_nul(self.last_error)
        return tuple(values.values())


@dataclass(frozen=True)
class ResponseRow:
    destination: str
    row_key: str | None
    run_id: str | None
    request_id: str | None
    mode: str
    method: str | None
    path: str | None
    status: int | None
    outcome: str
    response: Any = None
    error: str | None = None
    aircall_id: str | None = None
    rows_in_request: int = 1
    duration_ms: float | None = None
    attempted_at: datetime | None = None

    def as_tuple(self) -> tuple:
        values = {c: getattr(self, c) for c in RESPONSE_COLUMNS}
        values["response"] = _body_json(self.response)
        values["error"] = without_nul(self.error)
        values["attempted_at"] = self.attempted_at or now_utc()
        return tuple(values.values())


def without_nul(value: Any) -> Any:
    """Texts of Aircall's answers (bodies, errors) without NUL characters, which PostgreSQL
    stores in neither text nor JSONB: dropped on both warehouses, as the extracts drop them."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def _body_json(body: Any) -> str | None:
    if body is None:
        return None
    blob = orjson.dumps(without_nul(json_safe(body)))
    if len(blob) > MAX_BODY_BYTES:
        blob = orjson.dumps({"truncated": blob[:MAX_BODY_BYTES].decode("utf-8", "ignore")})
    return blob.decode()


def ensure_tables(sql: Sql, schema: str) -> None:
    """The sync ``schema`` and both its tables, in a warehouse that never ran a sync."""
    sql.warehouse.ensure_tables(
        sql,
        schema,
        {STATE_TABLE: (STATE_COLUMNS, STATE_KEY), RESPONSES_TABLE: (RESPONSE_COLUMNS, ())},
    )


def load_state(sql: Sql, schema: str, destination: str) -> dict[str, StateRow]:
    """The state of every row key of one destination in the sync ``schema`` (empty before the
    first run)."""
    if not sql.column_names(schema, STATE_TABLE):
        return {}
    names = ", ".join(quote(c) for c in STATE_COLUMNS)
    rows = sql.execute(
        f"SELECT {names} FROM {quote(schema)}.{quote(STATE_TABLE)} WHERE destination = {sql.mark}",
        [destination],
    ).fetchall()
    return {r[1]: StateRow(*r) for r in rows}


class SyncStore:
    """Writes state and responses, each call one short transaction of the run's session.

    The ledger (``record.py``) calls this only between requests, so the warehouse is free while
    a request is in flight or waits for budget.
    """

    def __init__(self, session: SyncSession, schema: str) -> None:
        self.session = session
        self.schema = schema
        self.responses_written = 0  # this run's rows of the responses table

    def write(self, states: Sequence[StateRow] = (), responses: Sequence[ResponseRow] = ()) -> None:
        """Replace these state rows and append these responses, in one transaction."""
        self.session.transaction(
            lambda sql: _replace_and_append(sql, self.schema, states, responses)
        )
        self.responses_written += len(responses)


def _replace_and_append(
    sql: Sql, schema: str, states: Sequence[StateRow], responses: Sequence[ResponseRow]
) -> None:
    if states:
        by_destination: dict[str, list[str]] = {}
        for s in states:
            by_destination.setdefault(s.destination, []).append(s.row_key)
        for destination, keys in by_destination.items():
            sql.execute(
                f"DELETE FROM {quote(schema)}.{quote(STATE_TABLE)} "
                f"WHERE destination = {sql.mark} AND row_key = ANY({sql.mark})",
                [destination, keys],
            )
        _insert(sql, schema, STATE_TABLE, STATE_COLUMNS, [s.as_tuple() for s in states])
    _insert(sql, schema, RESPONSES_TABLE, RESPONSE_COLUMNS, [r.as_tuple() for r in responses])


def _insert(
    sql: Sql, schema: str, table: str, columns: dict[str, str], values: Sequence[tuple]
) -> None:
    if not values:
        return
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(sql.mark for _ in columns)
    sql.insert_many(
        f"INSERT INTO {quote(schema)}.{quote(table)} ({names}) VALUES ({marks})", values
    )


def updated(state: StateRow, **changes: Any) -> StateRow:
    return replace(state, **changes)
