"""The warehouses the contract tests run on: a DuckDB file or a PostgreSQL database, fresh for
each test, written through the project's own code and read back by plain SQL."""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import duckdb
import psycopg

from aircall_assets.warehouse import TableStore, WarehouseIOManager
from aircall_assets_tests.helpers import query

KINDS = ("duckdb", "postgres")
# information_schema's names of the catalog's types, per warehouse
TYPE_NAMES = {
    "duckdb": {
        "BIGINT": "BIGINT",
        "BOOLEAN": "BOOLEAN",
        "JSON": "JSON",
        "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
        "VARCHAR": "VARCHAR",
    },
    "postgres": {
        "BIGINT": "bigint",
        "BOOLEAN": "boolean",
        "JSON": "jsonb",
        "TIMESTAMPTZ": "timestamp with time zone",
        "VARCHAR": "text",
    },
}


def io_manager_for(address: str | PathLike[str]) -> WarehouseIOManager:
    """The IO manager of a warehouse given as a PostgreSQL URL or a DuckDB file's path."""
    if str(address).startswith(("postgresql://", "postgres://")):
        return WarehouseIOManager(url=str(address))
    return WarehouseIOManager(path=str(address))


@dataclass(frozen=True)
class WarehouseUnderTest:
    kind: str
    address: str  # the DuckDB file, or the PostgreSQL URL (with its password)

    @property
    def store(self) -> TableStore:
        return self.io_manager().store

    def io_manager(self) -> WarehouseIOManager:
        return io_manager_for(self.address)

    def query(self, sql: str, params=None) -> list[tuple]:
        return query(self.address, sql, params)

    def execute(self, *statements: str) -> None:
        """Run these statements (no parameters), e.g. to make a test's input tables."""
        if self.kind == "postgres":
            with psycopg.connect(self.address, autocommit=True) as con:
                for statement in statements:
                    con.execute(statement)
            return
        with duckdb.connect(self.address) as con:
            con.execute("SET TimeZone = 'UTC'")
            for statement in statements:
                con.execute(statement)

    def column_types(self, schema: str, table: str) -> dict[str, str]:
        """Column name → the catalog's type name (``TYPE_NAMES`` read backwards)."""
        names = {v: k for k, v in TYPE_NAMES[self.kind].items()}
        found = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        )
        return {column: names[data_type] for column, data_type in found}
