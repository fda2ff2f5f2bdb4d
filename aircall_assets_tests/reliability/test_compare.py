"""The comparison the suite relies on catches every kind of difference it claims to."""

from __future__ import annotations

import duckdb
import pytest

from reliability.compare import compare_warehouses, table_counts, table_equals

ROWS = "(1, 'a', TIMESTAMPTZ '2026-06-01 00:00:00+00', '{\"x\": 1}'), (2, 'b', NULL, NULL)"


def make(path, ddl="id BIGINT, name VARCHAR, ts TIMESTAMPTZ, extra JSON", rows=ROWS):
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE SCHEMA aircall")
        con.execute(f"CREATE TABLE aircall.calls ({ddl})")
        if rows:
            con.execute(f"INSERT INTO aircall.calls VALUES {rows}")
    return path


def test_identical_files_are_equal(tmp_path):
    result = compare_warehouses(make(tmp_path / "a.duckdb"), make(tmp_path / "b.duckdb"))
    assert result.equal and result.rows_compared == 2 and result.tables == 1
    assert table_equals(tmp_path / "a.duckdb", tmp_path / "b.duckdb", "aircall", "calls")


@pytest.mark.parametrize(
    ("ddl", "rows", "problem"),
    [
        (
            None,
            "(1, 'a', TIMESTAMPTZ '2026-06-01 00:00:00+00', '{\"x\": 1}'), (2, 'B', NULL, NULL)",
            "rows differ",
        ),
        (
            None,
            "(1, 'a', TIMESTAMPTZ '2026-06-01 00:00:01+00', '{\"x\": 1}'), (2, 'b', NULL, NULL)",
            "rows differ",
        ),
        (
            None,
            "(1, 'a', TIMESTAMPTZ '2026-06-01 00:00:00+00', '{\"x\": 2}'), (2, 'b', NULL, NULL)",
            "rows differ",
        ),
        (None, "(1, 'a', TIMESTAMPTZ '2026-06-01 00:00:00+00', '{\"x\": 1}')", "rows differ"),
        ("id BIGINT, name VARCHAR, ts TIMESTAMP, extra JSON", None, "columns differ"),
        ("id VARCHAR, name VARCHAR, ts TIMESTAMPTZ, extra JSON", None, "columns differ"),
        ("id BIGINT, ts TIMESTAMPTZ, name VARCHAR, extra JSON", None, "columns differ"),
    ],
)
def test_any_cell_type_or_column_difference_is_a_mismatch(tmp_path, ddl, rows, problem):
    expected = make(tmp_path / "a.duckdb")
    if ddl and rows is None:
        order = [c.split()[0] for c in ddl.split(", ")]
        values = {
            "id": "1",
            "name": "'a'",
            "ts": "'2026-06-01 00:00:00+00'",
            "extra": "'{\"x\": 1}'",
        }
        rows = "(" + ", ".join(values[c] for c in order) + ")"
    actual = make(
        tmp_path / "b.duckdb", ddl or "id BIGINT, name VARCHAR, ts TIMESTAMPTZ, extra JSON", rows
    )
    result = compare_warehouses(expected, actual)
    assert not result.equal
    assert any(problem in p for p in result.problems), result.problems
    assert not table_equals(expected, actual, "aircall", "calls")


def test_duplicates_and_missing_tables_are_counted(tmp_path):
    expected = make(tmp_path / "a.duckdb")
    doubled = make(tmp_path / "b.duckdb", rows=ROWS + ", (2, 'b', NULL, NULL)")
    result = compare_warehouses(expected, doubled)
    assert result.duplicates == 1 and result.mismatches == 1
    empty = tmp_path / "c.duckdb"
    duckdb.connect(str(empty)).close()
    missing = compare_warehouses(expected, empty)
    assert missing.mismatches == 2 and "table missing" in missing.problems[0]


def test_table_counts_reads_every_table(tmp_path):
    assert table_counts(make(tmp_path / "a.duckdb")) == {"aircall.calls": 2}
