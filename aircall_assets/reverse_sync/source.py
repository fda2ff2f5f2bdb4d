"""A destination's source rows, read from the warehouse as the payloads need them.

The whole current table, not one partition: an asset sensor sees only the latest
materialization, so the sync always pushes the table's present state. Rows are held in memory;
a source is rows *to push*, and at 60 requests a minute a day holds ~86k of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from aircall_assets.reverse_sync.payloads import json_safe
from aircall_assets.reverse_sync.store import Sql
from aircall_assets.sql import quote

FETCH_ROWS = 10_000


class SourceMissing(LookupError):
    """The destination's source table does not exist yet."""


@dataclass(frozen=True)
class Source:
    """The source table's columns, and its rows as JSON-ready dicts."""

    columns: list[str]
    rows: list[dict[str, Any]]


def read_source(sql: Sql, schema: str, table: str) -> Source:
    """Every row of ``schema.table`` as JSON-ready dicts (JSON columns parsed)."""
    if not sql.column_names(schema, table):
        raise SourceMissing(f"source table {schema}.{table} does not exist: materialize it first")
    cursor = sql.execute(f"SELECT * FROM {quote(schema)}.{quote(table)}")
    description = cursor.description or []
    names = [d[0] for d in description]
    json_columns = {i for i, d in enumerate(description) if sql.warehouse.is_json(d)}
    rows: list[dict[str, Any]] = []
    while True:
        chunk = cursor.fetchmany(FETCH_ROWS)
        if not chunk:
            break
        for values in chunk:
            row = {}
            for i, (name, value) in enumerate(zip(names, values, strict=True)):
                if i in json_columns and isinstance(value, str):
                    value = _parse_json(value)
                row[name] = json_safe(value)
            rows.append(row)
    return Source(names, rows)


def _parse_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text  # not JSON after all: sent as the text it is
