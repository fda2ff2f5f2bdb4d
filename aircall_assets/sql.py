"""Quoting for the SQL the project builds (identifiers and literals from the catalog, paths)."""

from __future__ import annotations

from collections.abc import Sequence

from aircall_assets.catalog import Field


def quote(identifier: str) -> str:
    """A DuckDB identifier, whatever characters the name holds."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def column_ddl(fields: Sequence[Field]) -> str:
    """``"name" TYPE, ...`` for a CREATE TABLE of the fields' warehouse types."""
    return ", ".join(f"{quote(f.name)} {f.warehouse_type}" for f in fields)
