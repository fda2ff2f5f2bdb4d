"""Typing API records into the catalog's types in PostgreSQL SQL: ``normalize.py``'s rules, there.

Records are staged as one JSON text each (``postgres.py``; JSON, not JSONB: it is parsed once
below instead of converted on the way in), split into one JSON value per field in a single pass
(``json_to_record``: reading a field at a time would parse, or for JSONB decompress, the whole
record once per field, several times slower), and typed by the SELECT built here while they are
inserted, exactly as DuckDB types them (``normalize._conversion`` lists the accepted forms of
each type), so that a value of the wrong type fails the load with the same message on both
warehouses. PostgreSQL has neither ``TRY_CAST`` nor ``error()``: two session-local functions
(``pg_temp``, gone with the connection) stand in for them, and every cast is guarded by a
nested ``CASE`` (the only construct whose evaluation order PostgreSQL guarantees).
"""

from __future__ import annotations

from collections.abc import Sequence

from aircall_assets.catalog import Field
from aircall_assets.normalize import ERROR_END, UTC_OFFSET_AT_END
from aircall_assets.sql import literal, quote

# The catalog's warehouse types (DuckDB's names) as PostgreSQL columns.
PG_TYPES = {
    "BIGINT": "BIGINT",
    "VARCHAR": "TEXT",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
    "JSON": "JSONB",
}
RECORD = "aircall_record"  # the staged JSON column
NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
# PostgreSQL's timestamptz range (4713 BC .. 294276 AD) in UNIX seconds
EPOCH_RANGE = (-210_866_803_200, 9_224_318_015_999)

HELPERS = """
CREATE OR REPLACE FUNCTION pg_temp.aircall_timestamptz(t text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
  BEGIN RETURN t::timestamptz; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION pg_temp.aircall_refuse(message text, kind anyelement)
RETURNS anyelement LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '%', message; END $$;
"""


def _integer(n: str) -> str:
    """A numeric as BIGINT if it is an integer that fits, else NULL (inline SQL: no function
    call per value)."""
    return (
        f"CASE WHEN {n} = trunc({n}) AND {n} BETWEEN -9223372036854775808 "
        f"AND 9223372036854775807 THEN {n}::bigint END"
    )


def _epoch(n: str) -> str:
    """UNIX seconds (a numeric) as TIMESTAMPTZ if PostgreSQL can hold it, else NULL."""
    low, high = EPOCH_RANGE
    return (
        f"CASE WHEN {n} BETWEEN {low} AND {high} "
        f"THEN timestamptz 'epoch' + {n} * interval '1 second' END"
    )


def pg_type(field: Field) -> str:
    try:
        return PG_TYPES[field.warehouse_type]
    except KeyError:
        raise ValueError(
            f"{field.name}: no PostgreSQL type for warehouse type {field.warehouse_type}"
        ) from None


def column_ddl(fields: Sequence[Field]) -> str:
    """``"name" TYPE, ...`` for a CREATE TABLE of the fields' PostgreSQL types."""
    return ", ".join(f"{quote(f.name)} {pg_type(f)}" for f in fields)


def _conversion(field: Field) -> tuple[str, tuple[str, str] | None]:
    """(typed value or NULL when not convertible, and for types that refuse values: the
    condition that the raw value means NULL and why a value is refused); see the module
    docstring."""
    v = quote(field.name)
    kind = f"json_typeof({v})"
    text = f"btrim({v} #>> '{{}}')"
    null = f"{v} IS NULL OR {kind} = 'null'"
    empty_is_null = f"{null} OR ({kind} = 'string' AND {text} = '')"
    wtype = field.warehouse_type
    if wtype == "VARCHAR":
        typed = f"CASE {kind} WHEN 'string' THEN {v} #>> '{{}}' WHEN 'null' THEN NULL "
        return typed + f"ELSE {v}::text END", None
    if wtype == "JSON":
        return f"CASE WHEN {kind} <> 'null' THEN {v}::jsonb END", None
    if wtype == "BIGINT":
        typed = (
            f"CASE {kind} WHEN 'number' THEN {_integer(f'{v}::text::numeric')} "
            f"WHEN 'string' THEN CASE WHEN {text} ~ {literal(NUMBER)} "
            f"THEN {_integer(f'{text}::numeric')} END END"
        )
        return typed, (empty_is_null, "not an integer")
    if wtype == "TIMESTAMPTZ":
        typed = (
            f"CASE {kind} WHEN 'number' THEN {_epoch(f'{v}::text::numeric')} "
            f"WHEN 'string' THEN CASE WHEN {text} ~ '^-?[0-9]+$' "
            f"THEN {_epoch(f'{text}::numeric')} "
            f"WHEN {text} ~ {literal(UTC_OFFSET_AT_END)} "
            f"THEN pg_temp.aircall_timestamptz({text}) END END"
        )
        return typed, (empty_is_null, "neither UNIX seconds nor an ISO 8601 time with its offset")
    if wtype == "BOOLEAN":
        typed = (
            f"CASE {kind} WHEN 'boolean' THEN {v}::text::boolean "
            f"WHEN 'number' THEN CASE {v}::text WHEN '1' THEN true WHEN '0' THEN false END "
            f"WHEN 'string' THEN CASE WHEN lower({text}) IN ('true', '1', 'yes') THEN true "
            f"WHEN lower({text}) IN ('false', '0', 'no') THEN false END END"
        )
        return typed, (null, "not a boolean")
    raise ValueError(f"{field.name}: no conversion for warehouse type {wtype}")


def split_records_sql(stage: str, fields: Sequence[Field]) -> str:
    """FROM the staged records, one JSON column per field (NULL where the record has none)."""
    columns = ", ".join(f"{quote(f.name)} json" for f in fields)
    return f"{stage} CROSS JOIN LATERAL json_to_record({RECORD}) AS r({columns})"


def typed_columns_sql(fields: Sequence[Field], table: str, primary_key: str | None) -> str:
    """The SELECT list typing the split records (``split_records_sql``): one output column per
    field, of its PostgreSQL type, or ``aircall_refuse`` (an exception) at the first value that
    does not fit, worded as on DuckDB."""
    key = f"{quote(primary_key)}::text" if primary_key else None
    record = f"'of record {primary_key}=' || coalesce({key}, '?')" if key else "'of the record'"
    columns = []
    for field in fields:
        typed, refusal = _conversion(field)
        if refusal is None:
            columns.append(f"{typed} AS {quote(field.name)}")
            continue
        is_null, why = refusal
        message = (
            f"{literal(f'{table}.{field.name}: value ')} || "
            f"{quote(field.name)}::text || ' ' || {record} || "
            f"{literal(f' cannot be stored as {field.warehouse_type} ({why}). {ERROR_END}')}"
        )
        columns.append(
            f"coalesce({typed}, CASE WHEN {is_null} THEN NULL "
            f"ELSE pg_temp.aircall_refuse({message}, NULL::{pg_type(field)}) END) "
            f"AS {quote(field.name)}"
        )
    return ",\n".join(columns)
