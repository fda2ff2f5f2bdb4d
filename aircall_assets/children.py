"""The rows of a parent's child tables (``calls.tags`` → ``call_tag``), typed in DuckDB SQL.

A child's rows come from its parent's spooled records, as the API sent them (the spool keeps
every field, whatever columns are selected for the parent): one row per element of the list
field, each column taken from where the catalog says (``ChildColumn.source``) and typed by the
parents' own rules and refusal messages (``normalize.typed_columns_sql``), so both warehouses
hold and refuse the same values. Nothing is done per value in Python: the JSON reader hands
over the parent's key, the fields the children copy and the lists (read once for all the
children, ``lists_sql``), and SQL unnests them.

A list that is missing or null has no children; an element that is null is skipped (it says
nothing); a list field that holds something else than a list is refused, like a value of the
wrong type, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from aircall_assets.catalog import ChildColumn, ChildTable, Table
from aircall_assets.normalize import (
    ERROR_END,
    MAX_RECORD_BYTES,
    NormalizationError,
    refusal,
    typed_columns_sql,
)
from aircall_assets.sql import literal, quote

ITEM = "aircall child item"  # the list element, in the unnesting query
POSITION = "aircall child position"  # its 0-based index
LISTS = "aircall_child_lists"  # temporary table of ``lists_sql`` during a load


def _path(dotted: str) -> str:
    """A JSON path literal for a dotted path (``a.b`` → ``'$.a.b'``)."""
    return literal("$." + dotted)


def _parent_column(name: str) -> str:
    return quote(f"parent {name}")


def parent_fields(child: ChildTable) -> list[str]:
    """The parent fields the child's columns copy (``parent.<field>``)."""
    prefix = "parent."
    return [c.source.removeprefix(prefix) for c in child.columns if c.source.startswith(prefix)]


def date_column(table: Table, child: ChildTable) -> str | None:
    """The child's copy of its parent's date (``call_started_at``): its partition column."""
    if table.date_field is None:
        return None
    source = f"parent.{table.date_field}"
    return next((c.field.name for c in child.columns if c.source == source), None)


def _raw_value(column: ChildColumn) -> str:
    """The column's value as the JSON reader would hand it over: JSON, or text for VARCHAR."""
    source = column.source
    if source == "position":
        value = f"to_json({quote(POSITION)})"
    elif source.startswith("parent."):
        value = _parent_column(source.removeprefix("parent."))
    elif source == "item" or source.startswith("item."):
        path = source.removeprefix("item").removeprefix(".")
        if column.id_of_object:
            # a user (or team) sent whole or as its id: the object is at the path without its
            # trailing ``.id`` (``item.id``: the element itself)
            path = path.removesuffix("id").removesuffix(".")
        item = quote(ITEM)
        value = f"json_extract({item}, {_path(path)})" if path else item
        if column.id_of_object:
            value = (
                f"CASE WHEN json_type({value}) = 'OBJECT' THEN {value} -> '$.id' ELSE {value} END"
            )
    else:
        raise ValueError(f"{column.field.name}: unknown child column source '{source}'")
    if column.field.warehouse_type == "VARCHAR":
        kind = f"json_type({value})"
        return (
            f"CASE WHEN {kind} = 'VARCHAR' THEN {value} ->> '$' WHEN {kind} = 'NULL' THEN NULL "
            f"ELSE CAST({value} AS VARCHAR) END"
        )
    return value


def _list_column(child: ChildTable) -> str:
    return quote(f"list {child.name}")


def lists_sql(files: Sequence[Path], table: Table) -> str:
    """One read of the spooled records for every child of ``table``: the parent's key, the
    fields the children copy and each child's list, as JSON, of the records that have a child
    (or a list field that is not a list, to be refused). Loads keep it in a temporary table
    (``LISTS``) that each child's rows are made from (``child_rows_sql``): the spool is parsed
    once, not once per child."""
    assert table.primary_key is not None, f"{table.name} has children but no primary key"
    copied = [table.primary_key, *(f for c in table.children for f in parent_fields(c))]
    tops = [c.list_field.split(".")[0] for c in table.children]
    wanted = dict.fromkeys([*copied, *tops])
    columns = ", ".join(f"{literal(name)}: 'JSON'" for name in wanted)
    source = (
        f"read_json([{', '.join(literal(str(f)) for f in files)}], format = 'array', "
        f"compression = 'zstd', maximum_object_size = {MAX_RECORD_BYTES}, "
        f"columns = {{{columns}}})"
    )
    selected, has_rows = [], []
    for child in table.children:
        top, *rest = child.list_field.split(".", 1)
        listed = f"json_extract({quote(top)}, {_path(rest[0])})" if rest else quote(top)
        selected.append(f"{listed} AS {_list_column(child)}")
        # compared as text: a JSON function would parse every record's list again
        has_rows.append(
            f"({listed} IS NOT NULL AND CAST({listed} AS VARCHAR) NOT IN ('[]', 'null'))"
        )
    selected += [f"{quote(name)} AS {_parent_column(name)}" for name in dict.fromkeys(copied)]
    return f"SELECT {', '.join(selected)} FROM {source} WHERE {' OR '.join(has_rows)}"


def _not_a_list(table: Table, child: ChildTable) -> str:
    """The refusal of a list field that holds something else than a list."""
    key = table.primary_key
    return (
        f"{literal(f'{child.name}.{child.list_field}: value ')} || "
        f"CAST({_list_column(child)} AS VARCHAR) || "
        f"{literal(f' of record {table.name}.{key}=')} || "
        f"coalesce(CAST({_parent_column(key or '')} AS VARCHAR), '?') || "
        f"{literal(f' cannot be stored as rows of {child.name} (not a list). {ERROR_END}')}"
    )


def child_rows_sql(lists: str, table: Table, child: ChildTable) -> str:
    """A subquery of the child's rows from ``lists`` (the relation of ``lists_sql``), one
    column per child field, of its warehouse type (or ``error()`` at the first value that
    does not fit)."""
    listed = _list_column(child)
    kind = f"json_type({listed})"
    is_list = (
        f"CASE WHEN {kind} = 'ARRAY' THEN true "
        f"WHEN {listed} IS NULL OR {kind} = 'NULL' THEN false "
        f"ELSE error({_not_a_list(table, child)}) END"
    )
    as_list = f"CAST({listed} AS JSON[])"
    unnested = (
        f"SELECT *, unnest({as_list}) AS {quote(ITEM)}, "
        f"generate_subscripts({as_list}, 1) - 1 AS {quote(POSITION)} "
        f"FROM {lists} WHERE {is_list}"
    )
    raw = ", ".join(f"{_raw_value(c)} AS {quote(c.field.name)}" for c in child.columns)
    rows = f"SELECT {raw} FROM ({unnested}) WHERE {quote(ITEM)} IS NOT NULL"
    key = child.parent_key.field.name
    return f"(SELECT {typed_columns_sql(child.fields, child.name, key)} FROM ({rows}))"


def child_refusal(exc: duckdb.Error, children: Sequence[ChildTable]) -> NormalizationError | None:
    """The ``NormalizationError`` a failed child query stands for, if it is one."""
    for child in children:
        failure = refusal(exc, child.name)
        if failure is not None:
            return failure
    return None
