"""The Dagster IO manager of the warehouse, and the figures its outputs record.

It hands extract loads (``TableLoad``) and downstream DataFrames to the warehouse, loads tables
back as DataFrames, and reports what the write did in the output's metadata (a range run's in
one observation, see ``handle_output``). The asset reports what it read itself, in its output's
metadata (or, for a range, its own observation): nothing flows back from here to the asset,
whose checks read the stored table (``key_counts``). Which database holds the tables is the
warehouse's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd
from pydantic import Field as PydanticField

from aircall_assets.warehouse.base import KeyCounts, TableLoad, TableStore
from aircall_assets.warehouse.duckdb_file import (
    DEFAULT_DUCKDB_PATH,
    DEFAULT_MEMORY_LIMIT,
    Warehouse,
)
from aircall_assets.warehouse.url import WAREHOUSE_URL_ENV, mask

if TYPE_CHECKING:
    from aircall_assets.reverse_sync.store import SyncWarehouse


def rows_per_partition(keys: Sequence[str], rows_per_day: dict[str, int]) -> dict[str, int]:
    """Rows of each daily partition key of a run; days before the first key (the first
    partition also holds everything older) count for it."""
    counts = dict.fromkeys(keys, 0)
    for day, rows in rows_per_day.items():
        key = day if day in counts else (keys[0] if day < keys[0] else None)
        if key is not None:
            counts[key] += rows
    return counts


def is_range(partition_keys: Sequence[str]) -> bool:
    """Whether a run's figures go into observations rather than its output's metadata.

    Dagster copies output metadata onto the materialization of every partition of the run: a
    range's figures would be stored once per day, quadratic in the range, and each day would
    show the whole run's requests as its own.
    """
    return len(partition_keys) > 1


def range_run_figures(result: dg.ExecuteInProcessResult, asset_key: dg.AssetKey) -> dict[str, Any]:
    """What a range run recorded for ``asset_key`` beyond each partition's row count: the
    values of its observations, the read's (the asset's) and the write's (this IO manager's)."""
    figures: dict[str, Any] = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_OBSERVATION" and event.asset_key == asset_key:
            observation = event.asset_observation_data.asset_observation
            figures.update({name: entry.value for name, entry in observation.metadata.items()})
    if not figures:
        raise LookupError(f"the run recorded no observation of {asset_key.to_user_string()}")
    return figures


def table_address(asset_key: dg.AssetKey) -> tuple[str, str]:
    """``aircall/calls`` → (``aircall``, ``calls``): schema from the key's prefix."""
    path = asset_key.path
    return (path[0] if len(path) > 1 else "public"), path[-1]


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Writes extract loads and downstream DataFrames to the warehouse (PostgreSQL when ``url``
    is set, else the DuckDB file at ``path``); loads tables as DataFrames."""

    url: str | None = PydanticField(
        default=None,
        description=f"PostgreSQL warehouse, postgresql://user:password@host:port/database "
        f"(env {WAREHOUSE_URL_ENV}, its password never shown); unset: the DuckDB file.",
    )
    path: str = PydanticField(
        default=DEFAULT_DUCKDB_PATH, description="DuckDB file (env AIRCALL_DUCKDB_PATH)."
    )
    memory_limit: str = PydanticField(
        default=DEFAULT_MEMORY_LIMIT,
        description="DuckDB's memory budget for a load, also while it types the records of a "
        "PostgreSQL load (env AIRCALL_DUCKDB_MEMORY_LIMIT).",
    )

    def __repr_args__(self):  # the URL's password never shows in reprs or logs
        for name, value in super().__repr_args__():
            yield name, (mask(value) if name == "url" and value else value)

    @property
    def store(self) -> TableStore:
        """The warehouse the URL names, else the DuckDB file."""
        if self.url:
            # imported here: a DuckDB deployment never loads the PostgreSQL driver
            from aircall_assets.warehouse.postgres import PostgresWarehouse

            return PostgresWarehouse(self.url, memory_limit=self.memory_limit)
        return Warehouse(self.path, memory_limit=self.memory_limit)

    @property
    def warehouse(self) -> SyncWarehouse:
        """The warehouse as the reverse sync and ``aircall_reverse/unknown_callers`` use it
        (their state, responses and SQL), on the same database as ``store``."""
        # imported here: the reverse sync builds on this package, not the other way round
        from aircall_assets.reverse_sync.store import sync_warehouse

        return sync_warehouse(self.store)

    def key_counts(self, asset_key: dg.AssetKey, column: str) -> KeyCounts:
        """Duplicate and missing values of ``column`` in the table of ``asset_key``, as stored:
        what the asset's primary-key checks verify after the load."""
        schema, table = table_address(asset_key)
        return self.store.key_counts(schema, table, column)

    def handle_output(self, context: dg.OutputContext, obj: TableLoad | pd.DataFrame) -> None:
        schema, table = table_address(context.asset_key)
        if isinstance(obj, pd.DataFrame):
            rows = self.store.replace_frame(schema, table, obj)
            context.add_output_metadata({"dagster/row_count": rows, "table": f"{schema}.{table}"})
            return
        result = self.store.replace(schema, table, obj)
        summary: dict[str, Any] = {
            "table": f"{schema}.{table}",
            "table_rows": result.rows_in_table,
            "rows_loaded": result.rows_written,
            "rows_replaced": result.rows_replaced,
            "rows_kept_not_served": result.rows_kept,
            "preview": dg.MetadataValue.md(_markdown_preview(result.preview)),
        }
        if result.rows_per_day:
            summary["rows_per_day"] = dg.MetadataValue.json(result.rows_per_day)
        self._report(context, context.asset_key, summary, result.rows_in_table, result.rows_per_day)
        for name, child in result.children.items():
            # a child table is an asset of the same multi-asset, materialized with its parent
            self._report(
                context,
                dg.AssetKey([*context.asset_key.path[:-1], name]),
                {
                    "table": f"{schema}.{name}",
                    "parent": f"{schema}.{table}",
                    "table_rows": child.rows_in_table,
                    "rows_loaded": child.rows_written,
                    "rows_replaced": child.rows_replaced,
                },
                child.rows_in_table,
                child.rows_per_day,
            )

    @staticmethod
    def _report(
        context: dg.OutputContext,
        key: dg.AssetKey,
        summary: dict[str, Any],
        rows_in_table: int,
        rows_per_day: dict[str, int],
    ) -> None:
        """A write's figures on the materialization of ``key`` (the output's asset, or a child
        table materialized with it): each partition its own row count, a range's figures once
        in an observation. A child table the run did not select was written all the same (it
        follows its parent): its materializations are recorded here."""
        step = context.step_context
        selected = step.assets_def is not None and key in step.assets_def.keys
        partitions = context.asset_partition_keys if context.has_asset_partitions else []

        def add(metadata: dict[str, Any], partition: str | None = None) -> None:
            if not selected:
                context.log_event(
                    dg.AssetMaterialization(key, partition=partition, metadata=metadata)
                )
            elif key == context.asset_key and partition is None:
                context.add_output_metadata(metadata)
            else:  # a child's output has no value: the IO manager never sees it
                step.add_asset_metadata(metadata, asset_key=key, partition_key=partition)

        if not partitions:
            add({"dagster/row_count": rows_in_table, **summary})
            return
        ranged = is_range(partitions)
        # Each partition's materialization counts its own rows, so Dagster's plots show the
        # daily volume, not the table's size on every day.
        for partition, rows in rows_per_partition(partitions, rows_per_day).items():
            own = summary if not ranged else {"table": summary["table"]}
            add({"dagster/row_count": rows, **({} if selected else own)}, partition)
        if not ranged:
            if selected:
                add(summary)
            return
        context.log_event(
            dg.AssetObservation(
                asset_key=key,
                description=f"Write of {partitions[0]}..{partitions[-1]}: "
                f"{summary['rows_loaded']:,} rows loaded, {summary['rows_replaced']:,} replaced",
                metadata=summary,
            )
        )
        if selected:
            add({"table": summary["table"]})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        schema, table = table_address(context.asset_key)
        return self.store.read_frame(schema, table)


def _markdown_preview(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_no rows_"
    shown = frame.astype(str).map(lambda v: v if len(v) <= 40 else v[:37] + "...")
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in shown.values]
    return "\n".join([header, rule, *body])
