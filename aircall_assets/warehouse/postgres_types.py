"""The catalog's types as PostgreSQL columns, and the typed records as ``COPY`` text.

PostgreSQL is sent rows already typed: DuckDB reads the spooled chunks and types them with the
DuckDB warehouse's own SQL (``normalize.typed_records_sql``), so both warehouses accept,
convert and refuse exactly alike, with the same message; the query built here writes each typed
row as one line of ``COPY``'s text format, which the load streams to the server. Typing in
PostgreSQL instead would make the server parse each record more than once (the staged JSON,
its split into fields, then each JSONB value); here it parses only the JSONB columns, as a
bare ``COPY`` of typed rows would.

Timestamps travel as integer microseconds since the epoch (``stage_ddl``) and become
TIMESTAMPTZ in the merge (``from_stage_sql``): an integer is cheaper for the server to read
than a date text, and has no formatting corner (years before 1 AD, microseconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aircall_assets.catalog import Field
from aircall_assets.normalize import typed_records_sql
from aircall_assets.sql import quote

# The catalog's warehouse types (DuckDB's names) as PostgreSQL columns.
PG_TYPES = {
    "BIGINT": "BIGINT",
    "VARCHAR": "TEXT",
    "DOUBLE": "DOUBLE PRECISION",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
    "JSON": "JSONB",
}
EPOCH_MICROS = "BIGINT"  # a TIMESTAMPTZ column's type in the stage


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


def _is_timestamp(field: Field) -> bool:
    return field.warehouse_type == "TIMESTAMPTZ"


def stage_ddl(fields: Sequence[Field]) -> str:
    """The columns of the temporary table the typed rows are copied into."""
    return ", ".join(
        f"{quote(f.name)} {EPOCH_MICROS if _is_timestamp(f) else pg_type(f)}" for f in fields
    )


def _from_epoch_micros(column: str) -> str:
    """Whole seconds and the rest apart: an interval is multiplied as a double, exact up to
    2^53, which microseconds pass in the year 2255."""
    return (
        f"timestamptz 'epoch' + ({column} / 1000000) * interval '1 second' "
        f"+ ({column} % 1000000) * interval '1 microsecond'"
    )


def from_stage_sql(fields: Sequence[Field]) -> str:
    """The SELECT list turning the stage's columns into the table's (PostgreSQL SQL)."""
    return ", ".join(
        _from_epoch_micros(quote(f.name)) if _is_timestamp(f) else quote(f.name) for f in fields
    )


def _copy_text(value: str) -> str:
    """A text as a field of COPY's text format: backslash, newline, return and tab escaped."""
    escaped = f"replace({value}, '\\', '\\\\')"
    for char, escape in ((10, "\\n"), (13, "\\r"), (9, "\\t")):
        escaped = f"replace({escaped}, chr({char}), '{escape}')"
    return escaped


def _cell(field: Field) -> str:
    """A typed column (DuckDB SQL) as its COPY text, ``\\N`` for NULL."""
    v = quote(field.name)
    wtype = field.warehouse_type
    if _is_timestamp(field):
        text = f"CAST(epoch_us({v}) AS VARCHAR)"
    elif wtype in ("BIGINT", "DOUBLE", "BOOLEAN"):
        text = f"CAST({v} AS VARCHAR)"  # digits, 1.5e+20, true, false: nothing to escape
    elif wtype == "JSON":
        # A JSON text holds no raw control character (JSON escapes them inside strings, and
        # DuckDB writes no whitespace between tokens): only its backslashes need escaping.
        text = f"replace(CAST({v} AS VARCHAR), '\\', '\\\\')"
    else:
        text = _copy_text(v)
    return f"coalesce({text}, '\\N')"


def copy_lines_sql(
    files: Sequence[Path], table: str, fields: Sequence[Field], primary_key: str | None
) -> str:
    """DuckDB SQL: one BLOB per spooled record, its typed row as a line of COPY's text format
    for a table of ``stage_ddl``'s columns (bytes: no text decoding on the way)."""
    return copy_lines_of(typed_records_sql(files, table, fields, primary_key), fields)


def copy_lines_of(typed_rows: str, fields: Sequence[Field]) -> str:
    """DuckDB SQL: each row of the subquery ``typed_rows`` (one typed column per field) as a
    line of COPY's text format, a BLOB."""
    # One concat: a chain of || would build every prefix of the line as a string of its own.
    cells = ", chr(9), ".join(_cell(f) for f in fields)
    return f"SELECT encode(concat({cells}, chr(10))) FROM {typed_rows}"
