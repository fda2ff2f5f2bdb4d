"""What every warehouse offers the IO manager and the assets, whichever database it talks to.

A load (``TableLoad``) replaces a range of a table (``ReplaceRange``), or the whole table, in one
transaction, and reports what it wrote (``WriteResult``) for the IO manager's metadata; the
asset checks read the stored table itself (``TableStore.key_counts``). ``TableStore`` is the
interface that the DuckDB file (``duckdb_file.py``) and PostgreSQL (``postgres.py``)
implement, so that nothing above them knows which one holds the data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from aircall_assets.catalog import ChildTable, Field, Table
from aircall_assets.spool import Spool, spool_pages
from aircall_assets.sql import quote


@dataclass(frozen=True)
class ReplaceRange:
    """Rows of ``column`` in ``[start, end)`` are replaced; ``start=None`` means no lower bound.

    Rows dated before ``keep_before`` are not deleted (the API no longer serves those days, so
    their absence from the read proves nothing): only the ones whose key was read again are.
    """

    column: str
    start: datetime | None
    end: datetime
    keep_before: datetime | None = None


@dataclass
class ChildWrite:
    """What a load wrote to one child table of its parent (``call_tag`` of ``calls``)."""

    rows_written: int
    rows_in_table: int
    rows_per_day: dict[str, int]  # the replaced range's rows by the child's copy of the date
    rows_replaced: int  # rows deleted: of parents reloaded, or no longer in the parent


@dataclass
class WriteResult:
    rows_written: int
    rows_in_table: int
    rows_per_day: dict[str, int]
    preview: pd.DataFrame
    rows_kept: int = 0  # rows of days the API no longer serves, kept in the range
    rows_replaced: int = 0  # rows the load deleted (older versions, or gone from Aircall)
    children: dict[str, ChildWrite] = field(default_factory=dict)  # by child table name


@dataclass
class TableLoad:
    """What an extract asset hands the IO manager: the API's records and what they replace.

    The records are either already in a ``spool`` (an extract's read) or ``pages`` (lists of
    records as the API sent them) that the write spools first, consuming them once; for a
    ``replace`` range every record must be dated inside it.
    """

    fields: Sequence[Field]
    primary_key: str | None
    replace: ReplaceRange | None = None  # None: the whole table
    pages: Iterable[list[dict[str, Any]]] = ()
    spool: Spool | None = None
    # The catalog table whose child tables (``Table.children``) are written with the load,
    # from the same records and in the same transaction; None: no child tables.
    children_of: Table | None = None

    @property
    def children(self) -> tuple[ChildTable, ...]:
        return self.children_of.children if self.children_of is not None else ()


@dataclass(frozen=True)
class KeyCounts:
    """What the primary-key checks look at in a stored table."""

    duplicates: int  # rows beyond one per distinct key (those without a key included)
    nulls: int  # rows without a key


def read_range_sql(
    target: str, columns: Sequence[str], date_column: str, bounded_below: bool, mark: str
) -> str:
    date = quote(date_column)
    where = f"{date} >= {mark} AND {date} < {mark}" if bounded_below else f"{date} < {mark}"
    names = ", ".join(quote(c) for c in columns)
    return f"SELECT {names} FROM {target} WHERE {where} ORDER BY {date}"


def key_counts_sql(target: str, column: str) -> str:
    key = quote(column)
    return f"SELECT count(*) - count(DISTINCT {key}), count(*) - count({key}) FROM {target}"


class TableStore(ABC):
    """A warehouse: extract loads, downstream DataFrames, and whether a table exists."""

    kind: str  # "duckdb" or "postgres"

    def replace(self, schema: str, table: str, load: TableLoad) -> WriteResult:
        """Swap the load's records in for ``load.replace`` (or the whole table) in one
        transaction, spooling ``load.pages`` first when the read did not; on any error
        nothing is written."""
        if load.spool is not None:
            return self._merge(load.spool, schema, table, load)
        spool = spool_pages(load.pages)
        try:
            return self._merge(spool, schema, table, load)
        finally:
            spool.discard()

    @abstractmethod
    def _merge(self, spool: Spool, schema: str, table: str, load: TableLoad) -> WriteResult:
        """The transaction of ``replace``, from a spool."""

    @abstractmethod
    def replace_frame(self, schema: str, table: str, frame: pd.DataFrame) -> int:
        """Replace a whole table with a DataFrame, in one transaction; the rows written."""

    @abstractmethod
    def read_frame(self, schema: str, table: str) -> pd.DataFrame:
        """A whole table; ``LookupError`` saying to materialize it first when it is missing."""

    @abstractmethod
    def table_exists(self, schema: str, table: str) -> bool: ...

    @abstractmethod
    def read_range(
        self,
        schema: str,
        table: str,
        columns: Sequence[str],
        date_column: str,
        start: datetime | None,
        end: datetime,
    ) -> list[tuple[Any, ...]]:
        """``columns`` of the rows dated in ``[start, end)`` (``start=None``: no lower bound),
        oldest first: what an asset downstream of a range of calls works on. ``LookupError``
        saying to materialize the table first when it is missing."""

    @abstractmethod
    def replace_with_query(self, schema: str, table: str, select_sql: str) -> int:
        """Replace a whole table with the rows of a SELECT over the warehouse's own tables
        (SQL that both databases run), in one transaction; the rows written."""

    @abstractmethod
    def key_counts(self, schema: str, table: str, column: str) -> KeyCounts:
        """Duplicate and missing values of ``column`` in the stored table, read after a load
        (its checks verify what is in the warehouse, not what the writer believes it wrote)."""


@dataclass(frozen=True)
class Replaced:
    """SQL for the rows a load replaces; after its insert, exactly the rows it loaded.

    ``mark`` is the database driver's parameter placeholder (``?`` for DuckDB, ``%s`` for
    psycopg)."""

    where: str
    params: list[Any]

    @classmethod
    def of(
        cls,
        replace: ReplaceRange | None,
        since: datetime | None = None,
        until: datetime | None = None,
        mark: str = "?",
    ) -> Replaced:
        """The range's rows, or those of it dated from ``since`` or before ``until``."""
        if replace is None:
            return cls("true", [])
        column = quote(replace.column)
        start = max(filter(None, (replace.start, since)), default=None)
        end = min(replace.end, until) if until is not None else replace.end
        if start is None:
            return cls(f"{column} < {mark}", [end])
        return cls(f"{column} >= {mark} AND {column} < {mark}", [start, end])


UNSERVED = "aircall_unserved_rows"  # temp table of a load's rows the API no longer serves


def not_reloaded(target: str, aside: str, primary_key: str | None) -> str:
    """The WHERE clause keeping the rows of ``aside`` whose key is not in ``target`` (a load
    brought none again); all of them for a table without a key."""
    if not primary_key:
        return ""
    key = quote(primary_key)
    return f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{key} = {aside}.{key})"


def verify_load(
    fetch: Callable[[str, list[Any]], list[tuple[Any, ...]]],
    preview: Callable[[str, list[Any]], pd.DataFrame],
    day_of: Callable[[str], str],
    target: str,
    load: TableLoad,
    loaded: Replaced,
    rows_written: int,
    kept: int,
) -> WriteResult:
    """Figures of the write for its metadata, read inside the write transaction.

    The databases differ only in how they run a query (``fetch``: rows, ``preview``: a
    DataFrame) and how they name a timestamp's UTC day (``day_of``: SQL of a column)."""
    ((rows_in_table,),) = fetch(f"SELECT count(*) FROM {target}", [])
    rows_per_day: dict[str, int] = {}
    if load.replace is not None:
        day = day_of(quote(load.replace.column))
        rows_per_day = dict(
            fetch(
                f"SELECT {day} AS d, count(*) FROM {target} WHERE {loaded.where} "
                "GROUP BY d ORDER BY d",
                loaded.params,
            )
        )
        if sum(rows_per_day.values()) != rows_written + kept:
            raise RuntimeError(
                f"{target}: {sum(rows_per_day.values())} rows in the replaced range after "
                f"loading {rows_written} and keeping {kept}: a record was dated outside the "
                "range it was read for"
            )
    names = ", ".join(quote(f.name) for f in load.fields)
    sample = preview(f"SELECT {names} FROM {target} WHERE {loaded.where} LIMIT 5", loaded.params)
    return WriteResult(rows_written, rows_in_table, rows_per_day, sample, rows_kept=kept)
