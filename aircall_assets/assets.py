"""One software-defined asset per catalog table, built by a factory.

An asset body only turns its partition window into API windows, hands the records it reads to the
warehouse IO manager, and reports what it read; the client owns the API's rules and the IO
manager owns the warehouse and reports the write. The checks verify the table as stored.
Keys, group, resource keys and partitions are the account's (``settings.names``), so several
accounts' assets live side by side in one code location.

Key-based tables are daily-partitioned on their date field with a single-run backfill policy,
so a backfill of any range is one run that reads the range as one API window (split only where
the 10,000 cap forces it) and replaces exactly that range; full tables are re-read and replaced
whole.
"""

import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import dagster as dg
from pydantic import Field as PydanticField

from aircall_assets.budget import company_key
from aircall_assets.catalog import Field, Table
from aircall_assets.client.errors import AircallError
from aircall_assets.client.resource import AircallResource
from aircall_assets.normalize import NormalizationError, SchemaDrift
from aircall_assets.reads import Progress, read_full, read_windows
from aircall_assets.resources import warehouse_kind, warehouse_pool
from aircall_assets.settings import Settings
from aircall_assets.spool import Spool
from aircall_assets.warehouse import (
    KeyCounts,
    ReplaceRange,
    TableLoad,
    WarehouseIOManager,
    is_range,
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class TableRunConfig(dg.Config):
    """Per-run options of an extract asset (Launchpad: ``ops: {aircall__calls: {config: ...}}``,
    ``aircall_eu__calls`` for account ``eu``)."""

    columns: list[str] | None = PydanticField(
        default=None,
        description="Columns to load in this run instead of the settings file's selection. "
        "The primary key and the partition column are always kept.",
    )


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=settings.history_start.isoformat(), timezone="UTC"
    )


def column_schema(fields: tuple[Field, ...]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(f.name, f.warehouse_type, description=f.description) for f in fields
        ]
    )


def _epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _range_windows(start: datetime, end: datetime, include_older: bool) -> list[tuple[int, int]]:
    """``[start, end)`` as one API window; ``include_older`` puts everything before first.

    Not one window per day: the client splits a window only where the cap forces it, so a
    range of sparse days costs the pages its records fill, not a request per day. Which
    partition a record belongs to is the warehouse's business (by its date), not the read's.
    """
    windows = [(_epoch_seconds(start), _epoch_seconds(end))]
    if include_older:
        windows.insert(0, (_epoch_seconds(EPOCH), _epoch_seconds(start)))
    return windows


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)


def _unserved_before(
    context: dg.AssetExecutionContext,
    table: Table,
    window: dg.TimeWindow,
    include_older: bool,
) -> datetime | None:
    """Where the days the API no longer serves end in this run's range, if it reaches them.

    Their read comes back empty, which must not delete what the warehouse archived: the load
    keeps those rows. The user is told which days this run cannot refresh.
    """
    oldest = table.oldest_served_day(datetime.now(timezone.utc).date())
    if oldest is None:
        return None
    served_from = _midnight(oldest)
    if window.start < served_from:
        last_unserved = min(served_from, window.end) - timedelta(days=1)
        context.log.warning(
            f"Aircall serves {table.name} only for about {table.served_days} days, from "
            f"{oldest} on: the days {window.start:%Y-%m-%d}..{last_unserved:%Y-%m-%d} of this "
            "run come back empty. Their rows already in the warehouse are kept (never deleted; "
            "updated only where Aircall still sends a record)."
        )
    elif not include_older:
        return None
    return min(served_from, window.end)


def partition_range(
    context: dg.AssetExecutionContext, settings: Settings, table: Table
) -> tuple[dg.TimeWindow, bool, ReplaceRange]:
    """The run's partition window, whether it reaches back before the history start (the first
    partition also owns every record dated before it), and the rows of ``table`` it replaces:
    for any asset partitioned by a date of ``table.date_field``."""
    assert table.date_field is not None, f"{table.name} is not partitioned"
    window = context.partition_time_window
    include_older = window.start == _midnight(settings.history_start)
    replace = ReplaceRange(
        table.date_field,
        None if include_older else window.start,
        window.end,
        keep_before=_unserved_before(context, table, window, include_older),
    )
    return window, include_older, replace


def _check_required_fields(table: Table, records: list[dict[str, Any]]) -> None:
    """Refuse a record without its primary key or its date: it cannot be placed.

    Such a record would be loaded with a NULL key (or outside every partition) and replace
    good rows; the window reader would also take every id-less record for the same one.
    """
    for record in records:
        for name in table.required_columns:
            if record.get(name) in (None, ""):
                raise NormalizationError(
                    f"{table.name}: Aircall sent a record without '{name}' (fields present: "
                    f"{', '.join(sorted(record)[:15]) or 'none'}); a record needs its "
                    f"{'primary key' if name == table.primary_key else 'date'} to be "
                    "loaded. Nothing was written."
                )


def _check_specs(table: Table, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            "row_count_matches_api",
            asset=key,
            description="Rows loaded equal the total Aircall reported for the run's windows.",
        )
    ]
    if table.primary_key:
        specs += [
            dg.AssetCheckSpec(
                "primary_key_unique",
                asset=key,
                description=f"No two rows share {table.primary_key}.",
            ),
            dg.AssetCheckSpec(
                "primary_key_not_null",
                asset=key,
                description=f"No row has a NULL {table.primary_key}.",
            ),
        ]
    return specs


def _check_results(
    rows_loaded: int, expected: int, keys: KeyCounts | None
) -> Iterator[dg.AssetCheckResult]:
    """The checks of a load that succeeded: it wrote every record read (the warehouse fails a
    load otherwise), so ``rows_loaded`` is the read's count; ``keys``, read back from the
    stored table, is None for a table without a primary key."""
    yield dg.AssetCheckResult(
        check_name="row_count_matches_api",
        passed=rows_loaded == expected,
        metadata={"rows_loaded": rows_loaded, "api_total": expected},
    )
    if keys is not None:
        yield dg.AssetCheckResult(
            check_name="primary_key_unique",
            passed=keys.duplicates == 0,
            metadata={"duplicate_keys": keys.duplicates},
        )
        yield dg.AssetCheckResult(
            check_name="primary_key_not_null",
            passed=keys.nulls == 0,
            metadata={"null_keys": keys.nulls},
        )


def _outs(table: Table, settings: Settings) -> dict[str, dg.AssetOut]:
    """The table's asset (written by the IO manager) and one per child table (written with it
    in the same transaction, so without a value of its own), by output name."""
    names = settings.names
    common: dict[str, Any] = {
        "kinds": {"aircall", warehouse_kind()},
        "freshness_policy": dg.FreshnessPolicy.cron(
            deadline_cron=settings.schedule.freshness_deadline_cron,
            lower_bound_delta=timedelta(hours=24),
            timezone=settings.schedule.timezone,
        ),
        "tags": {"replication": table.replication.value},
    }
    outs = {
        table.name: dg.AssetOut(
            key=names.extract_key(table.name),
            description=table.purpose,
            io_manager_key=names.io_manager_key,
            metadata={
                "dagster/column_schema": column_schema(
                    table.resolve_columns(settings.columns_for(table))
                ),
                "dagster/table_name": f"{names.extract_schema}.{table.name}",
                "replication": table.replication.value,
                "api_path": table.path,
            },
            **common,
        )
    }
    for child in table.children:
        outs[child.name] = dg.AssetOut(
            key=names.extract_key(child.name),
            dagster_type=dg.Nothing,
            description=child.purpose,
            metadata={
                "dagster/column_schema": column_schema(child.fields),
                "dagster/table_name": f"{names.extract_schema}.{child.name}",
                "replication": table.replication.value,
                "parent_table": f"{names.extract_schema}.{table.name}",
            },
            **common,
        )
    return outs


def build_extract_asset(table: Table, settings: Settings) -> dg.AssetsDefinition:
    """The asset of one catalog table for the settings' account, with their column selection
    as default, and the assets of its child tables (``Table.children``), materialized with it.

    One op whatever the table, named like the parent's key (``aircall__calls``), so run config
    is keyed as for a single asset. A child is written only with its parent (its rows come
    from the parent's records, in the parent's transaction), so a selection must hold the
    parent; every child is written with it, selected or not, and the IO manager records the
    unselected ones' materializations itself (``--select aircall/calls`` keeps working)."""
    names = settings.names
    key = names.extract_key(table.name)
    default_columns = settings.columns_for(table)
    partitions = daily_partitions(settings) if table.is_partitioned else None

    @dg.multi_asset(
        name="__".join(key.path),
        outs=_outs(table, settings),
        # lineage: each child table downstream of its parent
        internal_asset_deps={
            table.name: set(),
            **{child.name: {key} for child in table.children},
        },
        group_name=names.extract_schema,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
        # the IO manager as a resource too: the checks read the stored table through it
        required_resource_keys={names.aircall_resource_key, names.io_manager_key},
        check_specs=_check_specs(table, key),
        pool=warehouse_pool(),
        can_subset=True,
    )
    def _extract(context: dg.AssetExecutionContext, config: TableRunConfig):
        if key not in context.selected_asset_keys:
            raise dg.Failure(
                description=f"{', '.join(k.to_user_string() for k in context.selected_asset_keys)}"
                f" can only be materialized with {key.to_user_string()}, whose records they "
                f"come from: select it too (--select {key.to_user_string()}+ selects it with "
                "its child tables)."
            )
        aircall: AircallResource = getattr(context.resources, names.aircall_resource_key)
        try:
            fields = table.resolve_columns(config.columns or default_columns)
        except ValueError as exc:
            raise dg.Failure(description=f"run config: {exc}") from None
        client = aircall.get_client()
        drift = SchemaDrift(table.field_names, (f.name for f in fields))

        def check(records: list[dict[str, Any]]) -> None:
            _check_required_fields(table, records)
            drift.observe(records)

        progress = Progress(context.log.info, table.name, client)
        replace = None
        if partitions is not None:
            window, include_older, replace = partition_range(context, settings, table)
            spool = Spool.resumable(
                {
                    "company": company_key(client.base_url, aircall.api_id),
                    "table": table.name,
                    "range": [window.start.isoformat(), window.end.isoformat(), include_older],
                    "columns": [f.name for f in fields],
                }
            )
            resumed_rows = spool.manifest.rows
            context.log.info(
                f"Reading {table.name} from {window.start:%Y-%m-%d} to {window.end:%Y-%m-%d} "
                f"(exclusive){' and everything older' if include_older else ''}"
                + (
                    f", resuming an earlier attempt's {resumed_rows:,} records"
                    if spool.resumed
                    else ""
                )
            )
            windows = _range_windows(window.start, window.end, include_older)
        else:
            spool, resumed_rows = Spool.private(), 0
        try:
            if partitions is not None:
                read_windows(client, table, windows, spool, progress, check)
                api_total = spool.manifest.api_total - spool.manifest.outside
            else:
                api_total = read_full(client, table, spool, progress, check)
        except AircallError as exc:
            spool.close()  # kept: a rerun of the same range resumes from it
            raise dg.Failure(description=str(exc)) from None
        except BaseException:
            spool.close()
            raise
        manifest = spool.manifest
        rows_read = manifest.rows
        read_figures = {
            **client.stats.as_metadata(),
            "records_resumed_from_spool": resumed_rows,
            "api_windows": manifest.windows if partitions else 1,
            "api_total": api_total,
            "columns": [f.name for f in fields],
            "schema_drift_unknown_fields": sorted(drift.unknown),
            "schema_drift_missing_fields": dict(sorted(drift.missing.items())),
        }
        load = TableLoad(
            fields=fields,
            primary_key=table.primary_key,
            replace=replace,
            spool=spool,
            children_of=table,
        )
        keys = context.partition_keys if partitions is not None else []
        if is_range(keys):
            # as the IO manager does with the write's: once for the run, not once per day
            context.log_event(
                dg.AssetObservation(
                    asset_key=key,
                    description=f"Read of {keys[0]}..{keys[-1]}: {rows_read:,} records",
                    metadata=read_figures,
                )
            )
            output = dg.Output(load, output_name=table.name)
        else:
            output = dg.Output(load, output_name=table.name, metadata=read_figures)
        try:
            yield output
        except BaseException:
            spool.close()  # kept: the rerun loads it without reading it again
            raise
        spool.discard()
        for child in table.children:  # written with the parent; the IO manager reported them
            if names.extract_key(child.name) in context.selected_asset_keys:
                yield dg.Output(None, output_name=child.name)
        if drift.unknown:
            context.log.warning(
                f"Aircall sent fields the catalog does not know for {table.name}: "
                f"{sorted(drift.unknown)}"
            )
        warehouse: WarehouseIOManager = getattr(context.resources, names.io_manager_key)
        stored = warehouse.key_counts(key, table.primary_key) if table.primary_key else None
        selected = {c.name for c in context.selected_asset_check_keys}
        for result in _check_results(rows_read, api_total, stored):
            if result.check_name in selected:
                yield result

    return _extract


def build_extract_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    with warnings.catch_warnings():
        # BackfillPolicy is marked beta; the single-run backfill is what the spec asks for.
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        return [build_extract_asset(table, settings) for table in settings.enabled_tables]
