"""The warehouse: one interface (``base.TableStore``) and two implementations, a DuckDB file
(``duckdb_file.py``) and a PostgreSQL database (``postgres.py``), chosen by
``AIRCALL_WAREHOUSE_URL`` (``url.py``) in the Dagster IO manager that writes to them
(``io_manager.py``).

The names other modules use are re-exported here, so that they import them from
``aircall_assets.warehouse`` whichever module implements them.
"""

from aircall_assets.sql import quote
from aircall_assets.warehouse.base import (
    KeyCounts,
    ReplaceRange,
    TableLoad,
    TableStore,
    WriteResult,
)
from aircall_assets.warehouse.duckdb_file import (
    DEFAULT_DUCKDB_PATH,
    DEFAULT_MEMORY_LIMIT,
    Session,
    Warehouse,
    table_exists_in,
    validate_memory_limit,
)
from aircall_assets.warehouse.io_manager import (
    WarehouseIOManager,
    is_range,
    range_run_figures,
    rows_per_partition,
    table_address,
)

__all__ = [
    "DEFAULT_DUCKDB_PATH",
    "DEFAULT_MEMORY_LIMIT",
    "KeyCounts",
    "ReplaceRange",
    "Session",
    "TableLoad",
    "TableStore",
    "Warehouse",
    "WarehouseIOManager",
    "WriteResult",
    "is_range",
    "quote",
    "range_run_figures",
    "rows_per_partition",
    "table_address",
    "table_exists_in",
    "validate_memory_limit",
]
