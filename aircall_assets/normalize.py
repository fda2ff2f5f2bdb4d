"""Typing API records into the catalog's warehouse types, in DuckDB SQL, for both warehouses.

Records reach the warehouse as the JSON the API sent (``spool.py``) and are typed by the SQL
built here (``typed_records_sql``: DuckDB's JSON reader over the spooled chunks), so no Python
code touches each value: the per-value conversions used to cost more CPU than fetching and
parsing the pages themselves. The DuckDB file inserts these typed rows; PostgreSQL is sent
them by ``COPY`` (``warehouse/postgres_types.py``): one set of rules, so that both warehouses
hold the same values and refuse the same ones with the same message.

The types come from the catalog, never from inference: a column that happens to be all null
still has its declared type, timestamps sent as UNIX seconds and as ISO strings both become UTC
instants, and structures stay JSON. A value that cannot be converted stops the load with an
error naming the table, field, record and value (DuckDB's ``error()``), never a silent NULL;
the load's transaction is rolled back, so nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from aircall_assets.catalog import Field
from aircall_assets.sql import literal, quote


class NormalizationError(ValueError):
    """A value the API sent does not fit its declared type."""


def epoch_micros(value: Any) -> int | None:
    """A record's date as UTC microseconds (windows and cursors compare dates in Python)."""
    if type(value) is int:  # UNIX seconds, what the API sends for most dates: checked first
        return value * 1_000_000
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError("boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return int(value * 1_000_000)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text) * 1_000_000
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError("timestamp without a time zone")
        return int(parsed.timestamp() * 1_000_000)
    raise TypeError(f"{type(value).__name__} is not a timestamp")


UTC_OFFSET_AT_END = "(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
ERROR_END = "The API sent a value of an unexpected type; nothing was written."
INTEGER = "[+-]?[0-9]+"
DECIMAL = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?"  # as JSON writes numbers
# The earliest instant PostgreSQL holds (4713 BC), in UNIX seconds: DuckDB reaches further back,
# and both warehouses must refuse the same values.
EARLIEST_EPOCH_S = -210_866_803_200
MAX_RECORD_BYTES = 4 * 1024 * 1024
# A NUL character, as a JSON text writes it: the escape, not an escaped backslash before "u0000"
# (the regular expression consumes backslashes in pairs, so an escape always starts a match).
NUL_ESCAPE = r"(\\\\)|\\u0000"


def _without_nul(value: str) -> str:
    """A JSON text without NUL characters in its strings (PostgreSQL's JSONB refuses them)."""
    text = f"CAST({value} AS VARCHAR)"
    return (
        f"CASE WHEN contains({text}, '\\u0000') "
        f"THEN CAST(regexp_replace({text}, {literal(NUL_ESCAPE)}, '\\1', 'g') AS JSON) "
        f"ELSE {value} END"
    )


def _conversion(field: Field) -> tuple[str, tuple[str, str] | None]:
    """(typed value or NULL when not convertible, and for types that refuse values: the
    condition that the raw value means NULL and why a value is refused) for a raw column:

    * BIGINT: integers, integral floats, and strings of a decimal number (as JSON writes one,
      spaces around it allowed) whose value is an integer: "12", " 9 ", "12.0", "1e3"; not
      "12.5", "0x10", "1_000"; "" is NULL;
    * TIMESTAMPTZ: UNIX seconds (number or digit string), ISO 8601 with an offset or Z;
      "" is NULL; an ISO time without an offset is refused (its instant is unknown), and so
      is a time before 4713 BC (PostgreSQL's earliest);
    * DOUBLE: numbers, and strings of a decimal number (as JSON writes one, spaces around it
      allowed): "12.54", " 3 ", "1e3"; not "0x10", "1_000", "nan"; a value too large for a
      double is refused; "" is NULL;
    * BOOLEAN: true/false, 0/1, and "true"/"false"/"1"/"0"/"yes"/"no" in any case;
    * VARCHAR: strings as they are; numbers, booleans and structures as their JSON text (the
      JSON reader does this itself);
    * JSON: any value, kept as JSON.

    Text and JSON strings lose their NUL characters (``\\u0000``): PostgreSQL cannot store
    them in TEXT or JSONB, and both warehouses hold the same values. Nothing else is changed.
    """
    v = quote(field.name)
    wtype = field.warehouse_type
    if wtype == "VARCHAR":  # read as text already (``raw_columns``)
        return f"replace({v}, chr(0), '')", None
    kind = f"json_type({v})"
    text = f"trim(({v}) ->> '$')"
    null = f"{v} IS NULL OR {kind} = 'NULL'"
    empty_is_null = f"{null} OR ({kind} = 'VARCHAR' AND {text} = '')"
    if wtype == "BIGINT":
        double = f"TRY_CAST({text} AS DOUBLE)"
        typed = (
            f"CASE WHEN {kind} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST({v} AS BIGINT) "
            f"WHEN {kind} = 'DOUBLE' AND CAST({v} AS DOUBLE) = floor(CAST({v} AS DOUBLE)) "
            f"THEN TRY_CAST(CAST({v} AS DOUBLE) AS BIGINT) "
            f"WHEN {kind} = 'VARCHAR' AND regexp_full_match({text}, {literal(INTEGER)}) "
            f"THEN TRY_CAST({text} AS BIGINT) "
            f"WHEN {kind} = 'VARCHAR' AND regexp_full_match({text}, {literal(DECIMAL)}) "
            f"AND {double} = floor({double}) THEN TRY_CAST({double} AS BIGINT) END"
        )
        return typed, (empty_is_null, "not an integer")
    if wtype == "TIMESTAMPTZ":
        seconds = f"TRY_CAST({v} AS BIGINT)"
        digits = f"TRY_CAST({text} AS BIGINT)"
        typed = (
            f"CASE WHEN {kind} IN ('BIGINT', 'UBIGINT') AND {seconds} >= {EARLIEST_EPOCH_S} "
            f"THEN TRY(make_timestamptz({seconds} * 1000000)) "
            f"WHEN {kind} = 'DOUBLE' AND CAST({v} AS DOUBLE) >= {EARLIEST_EPOCH_S} "
            f"THEN TRY(make_timestamptz(CAST(CAST({v} AS DOUBLE) * 1000000 AS BIGINT))) "
            f"WHEN {kind} = 'VARCHAR' AND regexp_full_match({text}, '-?[0-9]+') "
            f"AND {digits} >= {EARLIEST_EPOCH_S} "
            f"THEN TRY(make_timestamptz({digits} * 1000000)) "
            f"WHEN {kind} = 'VARCHAR' AND regexp_matches({text}, {literal(UTC_OFFSET_AT_END)}) "
            f"THEN TRY_CAST({text} AS TIMESTAMPTZ) END"
        )
        return typed, (empty_is_null, "neither UNIX seconds nor an ISO 8601 time with its offset")
    if wtype == "DOUBLE":
        number = f"TRY_CAST({v} AS DOUBLE)"
        double = f"TRY_CAST({text} AS DOUBLE)"
        typed = (
            f"CASE WHEN {kind} IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND isfinite({number}) "
            f"THEN {number} "
            f"WHEN {kind} = 'VARCHAR' AND regexp_full_match({text}, {literal(DECIMAL)}) "
            f"AND isfinite({double}) THEN {double} END"
        )
        return typed, (empty_is_null, "not a number")
    if wtype == "BOOLEAN":
        typed = (
            f"CASE WHEN {kind} = 'BOOLEAN' THEN CAST({v} AS BOOLEAN) "
            f"WHEN {kind} IN ('BIGINT', 'UBIGINT') AND TRY_CAST({v} AS BIGINT) IN (0, 1) "
            f"THEN TRY_CAST({v} AS BIGINT) = 1 "
            f"WHEN {kind} = 'VARCHAR' AND lower({text}) IN ('true', '1', 'yes') THEN true "
            f"WHEN {kind} = 'VARCHAR' AND lower({text}) IN ('false', '0', 'no') THEN false END"
        )
        return typed, (null, "not a boolean")
    if wtype == "JSON":
        return f"CASE WHEN NOT ({null}) THEN {_without_nul(v)} END", None
    raise ValueError(f"{field.name}: no conversion for warehouse type {wtype}")


def typed_columns_sql(fields: Sequence[Field], table: str, primary_key: str | None) -> str:
    """The SELECT list typing raw JSON columns named like ``fields``: one output column per
    field, of its warehouse type, or ``error()`` at the first value that does not fit."""
    record = (
        f"'of record {primary_key}=' || coalesce(CAST({quote(primary_key)} AS VARCHAR), '?')"
        if primary_key
        else "'of the record'"
    )
    columns = []
    for field in fields:
        typed, refusal = _conversion(field)
        if refusal is None:
            columns.append(f"{typed} AS {quote(field.name)}")
            continue
        is_null, why = refusal
        message = (
            f"{literal(f'{table}.{field.name}: value ')} || CAST({quote(field.name)} AS VARCHAR)"
            f" || ' ' || {record} || "
            f"{literal(f' cannot be stored as {field.warehouse_type} ({why}). {ERROR_END}')}"
        )
        columns.append(
            f"coalesce({typed}, CASE WHEN {is_null} THEN NULL ELSE error({message}) END) "
            f"AS {quote(field.name)}"
        )
    return ",\n".join(columns)


def typed_records_sql(
    files: Sequence[Path], table: str, fields: Sequence[Field], primary_key: str | None
) -> str:
    """A subquery of the spooled records (the chunk files) typed by the catalog, one column
    per field."""
    columns = ", ".join(
        f"{literal(name)}: {literal(kind)}"
        for name, kind in raw_columns(fields, primary_key).items()
    )
    source = (
        f"read_json([{', '.join(literal(str(f)) for f in files)}], format = 'array', "
        f"compression = 'zstd', maximum_object_size = {MAX_RECORD_BYTES}, "
        f"columns = {{{columns}}})"
    )
    return f"(SELECT {typed_columns_sql(fields, table, primary_key)} FROM {source})"


def refusal(exc: duckdb.Error, table: str) -> NormalizationError | None:
    """The ``NormalizationError`` a failed typing query stands for, if it is one (a value of
    ``table`` that does not fit, ``typed_columns_sql``); else None."""
    if not isinstance(exc, duckdb.InvalidInputException):
        return None
    text = str(exc).removeprefix("Invalid Input Error: ")
    if text.startswith(f"{table}.") and " cannot be stored as " in text:
        return NormalizationError(text)
    return None


def raw_columns(fields: Sequence[Field], primary_key: str | None) -> dict[str, str]:
    """The columns to read from spooled records, as the JSON reader should hand them over:
    text for text fields, the JSON value for every other (typed by ``typed_columns_sql``)."""
    columns = {f.name: "VARCHAR" if f.warehouse_type == "VARCHAR" else "JSON" for f in fields}
    if primary_key:
        columns.setdefault(primary_key, "JSON")
    return columns


class SchemaDrift:
    """Collects the fields the API sent that the catalog does not know, and counts the
    selected fields it left out (they load as NULL: Aircall omits some empty fields)."""

    def __init__(self, known: Iterable[str], selected: Iterable[str] = ()) -> None:
        self.known = frozenset(known)
        self.selected = frozenset(selected)
        self.unknown: set[str] = set()
        self.missing: Counter[str] = Counter()

    def observe(self, records: Iterable[dict[str, Any]]) -> None:
        # Records of a page nearly always share one key set: compare each distinct set once.
        for keys, count in Counter(map(tuple, records)).items():
            if not self.known.issuperset(keys):
                self.unknown.update(k for k in keys if k not in self.known)
            if not self.selected.issubset(keys):
                for name in self.selected.difference(keys):
                    self.missing[name] += count

    def track(self, pages: Iterable[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        """``pages`` unchanged, observed on the way."""
        for records in pages:
            self.observe(records)
            yield records
