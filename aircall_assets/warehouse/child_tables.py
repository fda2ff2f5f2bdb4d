"""How a load keeps its parent's child tables consistent with the parent, on either database.

Run inside the parent's transaction, once the parent table holds its final rows: a child table
then holds exactly the children of the parent rows now in the parent table.

* Children of the parents the load brought (``loaded_keys``) are deleted wherever they are
  dated, then the load's children inserted: a reloaded call has exactly its current tags, a
  call whose date moved keeps no children under its old date.
* Children of parents no longer in the parent table are deleted: the parents the range
  replacement removed (gone from Aircall). Those can only be in the replaced range (a child
  carries its parent's date as it was loaded), so only that range of the child is looked at.
* Children of the other parent rows stay: among them those of the days the API no longer
  serves, kept with their parents (``ReplaceRange.keep_before``).

A full parent (``replace`` None) has its children replaced whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace as replaced
from typing import Any

from aircall_assets.catalog import ChildTable, Table
from aircall_assets.children import date_column
from aircall_assets.sql import quote
from aircall_assets.warehouse.base import ChildWrite, Replaced, ReplaceRange

Fetch = Callable[[str, list[Any]], list[tuple[Any, ...]]]
Execute = Callable[[str, list[Any]], int]  # a statement's row count


def child_range(
    table: Table, child: ChildTable, replace: ReplaceRange | None, mark: str
) -> Replaced | None:
    """The child's rows dated in the load's replaced range, by its copy of the parent's date
    (None: the child has none, the whole table is looked at)."""
    column = date_column(table, child)
    if replace is None or column is None:
        return None
    return Replaced.of(replaced(replace, column=column, keep_before=None), mark=mark)


def remove_stale_children(
    execute: Execute,
    schema: str,
    parent_table: str,
    table: Table,
    child: ChildTable,
    replace: ReplaceRange | None,
    loaded_keys: str,
    mark: str,
) -> int:
    """Delete the child rows the load replaces (see the module docstring); how many.

    ``parent_table`` is the parent's table (of ``table`` in the catalog), ``loaded_keys`` a
    query of the parent keys the load wrote."""
    target = f"{quote(schema)}.{quote(child.name)}"
    if replace is None:
        return execute(f"DELETE FROM {target}", [])
    assert table.primary_key is not None
    key, parent_key = quote(child.parent_key.field.name), quote(table.primary_key)
    deleted = execute(f"DELETE FROM {target} WHERE {key} IN ({loaded_keys})", [])
    dated = child_range(table, child, replace, mark)
    where = f"{dated.where} AND " if dated else ""
    orphans = (
        f"DELETE FROM {target} WHERE {where}NOT EXISTS (SELECT 1 FROM "
        f"{quote(schema)}.{quote(parent_table)} AS p WHERE p.{parent_key} = {target}.{key})"
    )
    return deleted + execute(orphans, dated.params if dated else [])


def child_write(
    fetch: Fetch,
    day_of: Callable[[str], str],
    schema: str,
    table: Table,
    child: ChildTable,
    replace: ReplaceRange | None,
    rows_written: int,
    rows_replaced: int,
    mark: str,
) -> ChildWrite:
    """The figures of a child's write, read inside the load's transaction."""
    target = f"{quote(schema)}.{quote(child.name)}"
    ((rows_in_table,),) = fetch(f"SELECT count(*) FROM {target}", [])
    rows_per_day: dict[str, int] = {}
    dated = child_range(table, child, replace, mark)
    if dated is not None:
        day = day_of(quote(date_column(table, child) or ""))
        rows_per_day = dict(
            fetch(
                f"SELECT {day} AS d, count(*) FROM {target} WHERE {dated.where} "
                "GROUP BY d ORDER BY d",
                dated.params,
            )
        )
    return ChildWrite(rows_written, rows_in_table, rows_per_day, rows_replaced)
