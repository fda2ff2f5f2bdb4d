"""Compare two DuckDB warehouses table by table, column by column, type by type, cell by cell.

Both files are attached read-only in one in-memory DuckDB; a row of one table matches a row of
the other only if every column is equal (``EXCEPT ALL``, so duplicates count too). Types are
compared as DuckDB reports them, so a BIGINT that became VARCHAR, a TIMESTAMPTZ that became
TIMESTAMP or a column that moved is a mismatch even when the values print alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from aircall_assets.catalog import TABLES

# Primary keys of the tables the project writes; tables not listed are compared as multisets.
PRIMARY_KEYS: dict[tuple[str, str], str] = {
    ("aircall", t.name): t.primary_key for t in TABLES.values() if t.primary_key
}


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@dataclass
class Comparison:
    tables: int = 0
    rows_compared: int = 0
    mismatches: int = 0  # rows (by primary key when there is one) that differ, miss or are extra
    duplicates: int = 0  # rows sharing a primary key in the compared warehouse
    problems: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.mismatches or self.duplicates or self.problems)


def _columns(con: duckdb.DuckDBPyConnection, db: str, schema: str, table: str) -> list[tuple]:
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [db, schema, table],
    ).fetchall()


def _tables(con: duckdb.DuckDBPyConnection, db: str, schemas: Iterable[str] | None) -> set:
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [db]
    ).fetchall()
    wanted = None if schemas is None else set(schemas)
    return {(s, t) for s, t in rows if wanted is None or s in wanted}


# Signed links, issued afresh with each answer (a new expiry and signature, the host of the API
# that served them): two loads of the same calls hold the same link only up to its path.
SIGNED_LINKS = {"calls": ("recording", "voicemail")}


def compared(table: str, column: str) -> str:
    """The column as two loads of the same data must hold it alike."""
    if column in SIGNED_LINKS.get(table, ()):
        return f"regexp_replace({_q(column)}, '^[a-z]+://[^/]+|[?].*$', '', 'g') AS {_q(column)}"
    return _q(column)


def open_pair(expected: Path | str, actual: Path | str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{os.fspath(expected)}' AS exp (READ_ONLY)")
    con.execute(f"ATTACH '{os.fspath(actual)}' AS act (READ_ONLY)")
    return con


def compare_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    key: str | None,
    result: Comparison,
    label: str = "",
) -> bool:
    """Compare ``exp.schema.table`` with ``act.schema.table`` into ``result``; True if equal."""
    name = f"{label}{schema}.{table}"
    before = (result.mismatches, result.duplicates, len(result.problems))
    exp_cols = _columns(con, "exp", schema, table)
    act_cols = _columns(con, "act", schema, table)
    if exp_cols != act_cols:
        result.problems.append(f"{name}: columns differ: expected {exp_cols}, got {act_cols}")
    common = [c for c, _ in exp_cols if c in {a for a, _ in act_cols}]
    if not common:
        return False
    cols = ", ".join(compared(table, c) for c in common)
    exp_t = f"exp.{_q(schema)}.{_q(table)}"
    act_t = f"act.{_q(schema)}.{_q(table)}"
    (rows,) = con.execute(f"SELECT count(*) FROM {exp_t}").fetchone()
    result.rows_compared += rows
    result.tables += 1
    diff = (
        f"(SELECT {cols} FROM {exp_t} EXCEPT ALL SELECT {cols} FROM {act_t}) UNION ALL "
        f"(SELECT {cols} FROM {act_t} EXCEPT ALL SELECT {cols} FROM {exp_t})"
    )
    if key and key in common:
        (differ,) = con.execute(f"SELECT count(DISTINCT {_q(key)}) FROM ({diff})").fetchone()
        (dupes,) = con.execute(
            f"SELECT count(*) - count(DISTINCT {_q(key)}) FROM {act_t}"
        ).fetchone()
        if dupes:
            result.duplicates += dupes
            result.problems.append(f"{name}: {dupes} rows share a primary key ({key})")
    else:
        (differ,) = con.execute(f"SELECT count(*) FROM ({diff})").fetchone()
    if differ:
        result.mismatches += differ
        sample = con.execute(f"SELECT * FROM ({diff}) LIMIT 2").fetchall()
        result.problems.append(f"{name}: {differ} rows differ, e.g. {str(sample)[:300]}")
    return before == (result.mismatches, result.duplicates, len(result.problems))


def compare_warehouses(
    expected: Path | str,
    actual: Path | str,
    schemas: Iterable[str] | None = ("aircall",),
    keys: Mapping[tuple[str, str], str] | None = None,
    tables: Iterable[tuple[str, str]] | None = None,
    label: str = "",
) -> Comparison:
    """Every table of ``expected`` (in ``schemas``) must exist in ``actual`` and be equal."""
    keys = {**PRIMARY_KEYS, **(keys or {})}
    result = Comparison()
    con = open_pair(expected, actual)
    try:
        exp_tables = _tables(con, "exp", schemas)
        act_tables = _tables(con, "act", schemas)
        wanted = set(tables) if tables is not None else exp_tables
        for schema, table in sorted(wanted):
            if (schema, table) not in exp_tables:
                result.problems.append(f"{label}{schema}.{table}: missing from the reference")
            elif (schema, table) not in act_tables:
                (rows,) = con.execute(
                    f"SELECT count(*) FROM exp.{_q(schema)}.{_q(table)}"
                ).fetchone()
                result.rows_compared += rows
                result.mismatches += rows
                result.problems.append(f"{label}{schema}.{table}: table missing ({rows} rows)")
            else:
                compare_table(con, schema, table, keys.get((schema, table)), result, label)
        if tables is None:
            for schema, table in sorted(act_tables - exp_tables):
                result.problems.append(f"{label}{schema}.{table}: unexpected extra table")
    finally:
        con.close()
    return result


def table_equals(expected: Path | str, actual: Path | str, schema: str, table: str) -> bool:
    """Whether one table is identical in both files (columns, types, rows)."""
    con = open_pair(expected, actual)
    try:
        if (schema, table) not in _tables(con, "act", [schema]):
            return (schema, table) not in _tables(con, "exp", [schema])
        if (schema, table) not in _tables(con, "exp", [schema]):
            return False
        scratch = Comparison()
        return compare_table(con, schema, table, PRIMARY_KEYS.get((schema, table)), scratch)
    finally:
        con.close()


def table_counts(path: Path | str, schemas: Iterable[str] | None = None) -> dict[str, int]:
    """Rows per table (reads every table in full: proves the file is readable)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{os.fspath(path)}' AS w (READ_ONLY)")
        counts = {}
        for schema, table in sorted(_tables(con, "w", schemas)):
            (n,) = con.execute(f"SELECT count(*) FROM w.{_q(schema)}.{_q(table)}").fetchone()
            con.execute(f"SELECT * FROM w.{_q(schema)}.{_q(table)}").fetchall()
            counts[f"{schema}.{table}"] = n
        return counts
    finally:
        con.close()
