"""One multi-asset per chosen conversation-intelligence setting, partitioned with the calls.

A run works on the calls of its partition range as the calls table holds them (the asset is
downstream of ``aircall/calls``): it asks Aircall for the results not stored yet
(``asks.py``), turns them into rows (``rows.py``), and replaces the range of each of its
tables with the new rows plus the stored rows of the range's calls it did not ask again,
through the warehouse IO manager like any extract load. Tables holding several rows per call
are written before the one-row-per-call table that marks a call as done, so that a run
failing between the two writes leaves the call to be asked again rather than half stored.
"""

import warnings
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any

import dagster as dg
from pydantic import Field as PydanticField

from aircall_assets.assets import column_schema, daily_partitions, partition_range
from aircall_assets.automation import AFTER_CALLS_LOAD
from aircall_assets.catalog import CALLS, INSIGHTS, Table
from aircall_assets.client.errors import AircallError
from aircall_assets.client.resource import AircallResource
from aircall_assets.insights.asks import AskFigures, StoredCall, ask, calls_to_ask
from aircall_assets.insights.rows import ROWS_OF
from aircall_assets.resources import warehouse_kind, warehouse_pool
from aircall_assets.settings import Settings
from aircall_assets.spool import Spool
from aircall_assets.warehouse import ReplaceRange, TableLoad, TableStore, is_range


def _iso(value: Any) -> Any:
    """A timestamp read back from the warehouse as the ISO text a load types again."""
    if not isinstance(value, datetime):
        return value
    moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _stored_calls(
    store: TableStore, schema: str, settings: Settings, replace: ReplaceRange
) -> list[StoredCall]:
    """The calls of the range, from the calls table; a Failure saying to load it if missing."""
    selected = settings.columns_for(CALLS)
    stored_columns = set(CALLS.default_columns if selected is None else selected)
    conversation = [c for c in ("answered_at", "voicemail") if c in stored_columns]
    columns = ["id", "started_at", "ended_at", *conversation]
    try:
        rows = store.read_range(
            schema, CALLS.name, columns, "started_at", replace.start, replace.end
        )
    except LookupError as exc:
        raise dg.Failure(
            description=f"{exc}: the calls of this range are read from {schema}.calls; "
            "materialize it for the same partitions first."
        ) from None
    calls = []
    for call_id, started_at, ended_at, *rest in rows:
        had_conversation = len(rest) < 2 or any(value is not None for value in rest)
        calls.append(StoredCall(call_id, started_at, ended_at, had_conversation))
    return calls


def _stored_rows(
    store: TableStore, schema: str, table: Table, replace: ReplaceRange
) -> list[dict[str, Any]]:
    """The rows of ``table`` in the range, as records a load takes again (none before its
    first load)."""
    names = table.field_names
    try:
        found = store.read_range(
            schema, table.name, names, table.date_field, replace.start, replace.end
        )
    except LookupError:
        return []
    return [{n: _iso(v) for n, v in zip(names, row, strict=True)} for row in found]


class InsightRunConfig(dg.Config):
    """Per-run options of a conversation-intelligence asset."""

    ask_again: bool = PydanticField(
        default=False,
        description="Ask every ended call without a stored result, also those an earlier run "
        "asked long after they ended (e.g. after the AI package was added).",
    )


def _last_asked(context: dg.AssetExecutionContext, key: dg.AssetKey) -> dict[date, datetime]:
    """When the latest earlier run stored each partition of this run (its calls were asked)."""
    keys = list(context.partition_keys)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=keys), limit=len(keys) * 50
    ).records
    asked: dict[date, datetime] = {}
    for record in records:  # newest first
        day = date.fromisoformat(record.partition_key)
        asked.setdefault(day, datetime.fromtimestamp(record.timestamp, timezone.utc))
    return asked


def build_insight_asset(setting: str, settings: Settings) -> dg.AssetsDefinition:
    """The multi-asset of one ``conversation_intelligence`` setting: its tables, for the
    settings' account."""
    names = settings.names
    tables = INSIGHTS[setting]
    anchor = tables[0]  # one row per call that has a result: marks it as stored
    write_order = [*tables[1:], anchor]
    keys = {t.name: names.extract_key(t.name) for t in tables}
    partitions = daily_partitions(settings)
    to_rows = ROWS_OF[setting]

    @dg.multi_asset(
        name="__".join(keys[anchor.name].path),
        outs={
            t.name: dg.AssetOut(
                key=keys[t.name],
                description=t.purpose,
                io_manager_key=names.io_manager_key,
                kinds={"aircall", warehouse_kind()},
                metadata={
                    "dagster/column_schema": column_schema(t.fields),
                    "dagster/table_name": f"{names.extract_schema}.{t.name}",
                    "api_path": t.path,
                },
                automation_condition=AFTER_CALLS_LOAD,
            )
            for t in tables
        },
        deps=[names.extract_key(CALLS.name)],
        group_name=names.extract_schema,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        required_resource_keys={names.aircall_resource_key, names.io_manager_key},
        pool=warehouse_pool(),
        description=f"Aircall conversation intelligence: {setting}, one request per call.",
    )
    def _insights(
        context: dg.AssetExecutionContext, config: InsightRunConfig
    ) -> Iterator[dg.Output]:
        aircall: AircallResource = getattr(context.resources, names.aircall_resource_key)
        store: TableStore = getattr(context.resources, names.io_manager_key).store
        schema = names.extract_schema
        window, _, replace = partition_range(context, settings, anchor)
        calls = _stored_calls(store, schema, settings, replace)
        # read once: the anchor's rows also say which calls have their result stored
        previous = {t.name: _stored_rows(store, schema, t, replace) for t in tables}
        stored = {row["call_id"] for row in previous[anchor.name]}
        figures = AskFigures()
        asked = {} if config.ask_again else _last_asked(context, keys[anchor.name])
        chosen = calls_to_ask(calls, stored, figures, asked)
        context.log.info(
            f"{setting}: {len(calls):,} calls from {window.start:%Y-%m-%d} to "
            f"{window.end:%Y-%m-%d} (exclusive), {len(chosen):,} to ask Aircall"
        )
        spools = {t.name: Spool.private() for t in tables}
        try:
            in_range = {c.id for c in calls}
            for t in tables:  # the stored rows of the calls not asked again are kept
                kept = [
                    r
                    for r in previous[t.name]
                    if r["call_id"] in stored and r["call_id"] in in_range
                ]
                spools[t.name].add_records(kept)

            def found(call: StoredCall, result: dict[str, Any]) -> None:
                for name, rows in to_rows(result, call.id, _iso(call.started_at)).items():
                    spools[name].add_records(rows)

            client = aircall.get_client()
            try:
                ask(client, anchor, setting, chosen, figures, found, context.log.info)
            except AircallError as exc:
                raise dg.Failure(description=str(exc)) from None
            read_figures = {**client.stats.as_metadata(), **figures.as_metadata()}
            partition_keys = context.partition_keys
            if is_range(partition_keys):
                context.log_event(
                    dg.AssetObservation(
                        asset_key=keys[anchor.name],
                        description=f"Read of {partition_keys[0]}..{partition_keys[-1]}: "
                        f"{figures.calls_with_data:,} calls with a result",
                        metadata=read_figures,
                    )
                )
            for t in write_order:
                spool = spools[t.name]
                spool.flush()
                load = TableLoad(
                    fields=t.fields, primary_key=t.primary_key, replace=replace, spool=spool
                )
                shown = read_figures if t is anchor and not is_range(partition_keys) else None
                yield dg.Output(load, output_name=t.name, metadata=shown)
        finally:
            for spool in spools.values():
                spool.discard()

    return _insights


def build_insight_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """The assets of the chosen ``conversation_intelligence`` settings (none by default)."""
    with warnings.catch_warnings():
        # BackfillPolicy is marked beta; the single-run backfill is what the spec asks for.
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        return [
            build_insight_asset(setting, settings)
            for setting in settings.conversation_intelligence.chosen
        ]
