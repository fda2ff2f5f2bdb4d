"""The reverse sync as Dagster definitions: demo asset, response tables, jobs, one sensor each.

Lineage reads ``aircall/calls`` + ``aircall/contacts`` → ``aircall_reverse/unknown_callers`` →
(sensor ``aircall_reverse_sync__<destination>``) → job ``aircall_reverse_sync`` → Aircall, with
``aircall_sync/responses`` and ``aircall_sync/state`` downstream of every destination's source.
The two ``aircall_sync`` tables are declared as asset specs and the op reports their
materializations, because the op writes them row by row as answers arrive rather than
returning a table at the end.

Those are the default account's names. A named account's reverse sync is the same under its
own (``ReverseSyncNames``): ``aircall_eu/calls`` + ``aircall_eu/contacts`` →
``aircall_eu_reverse/unknown_callers`` → sensor ``aircall_reverse_sync__<destination>_eu`` →
job ``aircall_reverse_sync_eu``, its state and responses in ``aircall_eu_sync``; its ops require
its own Aircall resource and IO manager, so it sends with its own credentials only.

A sensor per destination watches its source asset and starts stopped: turning it on in the UI
is the seed's "Activate". Each materialization of the source becomes one run whose run key is
the materialization's storage id, so a re-evaluated tick never launches a second run for the
same event. Sensors never open the warehouse (a DuckDB file has one writer).

The sync and test-send ops are not in the ``aircall_duckdb`` pool that serialises the extracts
on DuckDB: a sync waits on Aircall's rate budget for hours and uses the warehouse only for a
moment at a time (its plan at the start, then one short transaction per request, see
``sender.py``), so holding a pool slot for its whole run would queue every extract behind it,
the very wait this design removes. What they need instead is one run per destination at a time
(``SyncWarehouse.destination_lock``). Which database the warehouse is, DuckDB or PostgreSQL, is
``store.py``'s business: nothing here depends on it.
"""

import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pydantic import Field

from aircall_assets.account import DEFAULT_ACCOUNT, Account
from aircall_assets.catalog import CALLS, CONTACTS
from aircall_assets.client import AircallResource
from aircall_assets.resources import warehouse_kind
from aircall_assets.reverse_sync.destinations import Destination
from aircall_assets.reverse_sync.payloads import (
    DestinationError,
    build_payloads,
    make_requests,
    sample,
    samples_markdown,
)
from aircall_assets.reverse_sync.sender import Counts, ReverseSync
from aircall_assets.reverse_sync.state import (
    RESPONSE_COLUMNS,
    RESPONSES_TABLE,
    STATE_COLUMNS,
    STATE_TABLE,
    SourceMissing,
    StateRow,
    SyncStore,
    ensure_tables,
    load_state,
    read_source,
)
from aircall_assets.reverse_sync.store import Sql, SyncSession, SyncWarehouse, lock_name
from aircall_assets.reverse_sync.unknown_callers import build_unknown_callers_asset
from aircall_assets.settings import Settings

# The default account's names; a named account's are these suffixed (``ReverseSyncNames``).
REVERSE_SYNC_JOB = "aircall_reverse_sync"
TEST_SEND_JOB = "aircall_reverse_test_send"
SYNC_OP = "reverse_sync"
TEST_SEND_OP = "test_send"
SENSOR_PREFIX = "aircall_reverse_sync__"
DESTINATION_TAG = "aircall/destination"
# What a plan has counted before anything is sent, by the name a dry run shows it under (the
# other counts are outcomes of sending, always 0 in a dry run).
PLANNED_COUNTS = {
    "rows": "source_rows",
    "unchanged": "rows_unchanged",
    "rejected_before": "rows_rejected_before",
    "invalid": "rows_invalid",
    "duplicate_keys": "rows_with_a_repeated_key",
}


def sensor_name(destination: str) -> str:
    """The default account's sensor of ``destination`` (``ReverseSyncNames.sensor`` names
    every account's)."""
    return ReverseSyncNames(DEFAULT_ACCOUNT).sensor(destination)


@dataclass(frozen=True)
class ReverseSyncNames:
    """The names one account's reverse sync takes in a code location: the base names above
    for the default account, suffixed with a named account's name (``Account.suffixed``), so
    two accounts never collide."""

    account: Account

    @property
    def sync_job(self) -> str:
        return self.account.suffixed(REVERSE_SYNC_JOB)

    @property
    def test_send_job(self) -> str:
        return self.account.suffixed(TEST_SEND_JOB)

    @property
    def sync_op(self) -> str:
        """Op names are unique in a code location, like jobs': the run config's key."""
        return self.account.suffixed(SYNC_OP)

    @property
    def test_send_op(self) -> str:
        return self.account.suffixed(TEST_SEND_OP)

    def sensor(self, destination: str) -> str:
        return self.account.suffixed(SENSOR_PREFIX + destination)

    @property
    def responses_key(self) -> dg.AssetKey:
        return self.account.sync_key(RESPONSES_TABLE)

    @property
    def state_key(self) -> dg.AssetKey:
        return self.account.sync_key(STATE_TABLE)


class ReverseSyncConfig(dg.Config):
    """Launchpad: ``ops: {reverse_sync: {config: {destination: unknown_callers}}}``."""

    destination: str = Field(description="Name of a destination in the account's settings.")
    dry_run: bool = Field(
        default=False,
        description="Build every payload and show samples in the run's metadata; send nothing, "
        "write nothing.",
    )
    sample_size: int = Field(default=5, ge=1, le=50, description="Sample requests shown.")
    resend_uncertain: bool = Field(
        default=False,
        description="Send again rows left 'uncertain' (a POST that may have been applied and "
        "cannot be looked up). Only after checking Aircall: this can create duplicates.",
    )


class TestSendConfig(dg.Config):
    """Launchpad: ``ops: {test_send: {config: {destination: ..., row: {...}}}}``."""

    destination: str = Field(description="Name of a destination in the account's settings.")
    row_key: str | None = Field(
        default=None, description="Key of the source row to send; default: the first valid row."
    )
    row: dict[str, Any] | None = Field(
        default=None,
        description="Values that replace the chosen row's (the sample edited before sending); "
        "the whole row if the source is empty. An edited row's state is not recorded.",
    )


def _schema(columns: dict[str, str]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(n, t.replace(" NOT NULL", "")) for n, t in columns.items()]
    )


def _by_name(settings: Settings, name: str) -> Destination:
    for destination in settings.destinations:
        if destination.name == name:
            return destination
    names = ", ".join(d.name for d in settings.destinations) or "(none configured)"
    raise dg.Failure(description=f"no destination '{name}' in the settings; choose from {names}")


def _aircall(context: dg.OpExecutionContext, account: Account) -> AircallResource:
    return getattr(context.resources, account.aircall_resource_key)


def _warehouse(context: dg.OpExecutionContext, account: Account) -> SyncWarehouse:
    return getattr(context.resources, account.io_manager_key).warehouse


def _payloads(destination: Destination, columns: list[str], rows: list[dict[str, Any]]):
    try:
        return build_payloads(destination, rows, columns)
    except DestinationError as exc:
        raise dg.Failure(description=str(exc)) from None


def _read(
    sql: Sql, destination: Destination, source_optional: bool = False
) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        return read_source(sql, *destination.table)
    except SourceMissing as exc:
        if source_optional:
            return [], []
        raise dg.Failure(
            description=f"destination '{destination.name}': {exc} ({destination.source})"
        ) from None


def _inputs(
    session: SyncSession, schema: str, destination: Destination, source_optional: bool = False
) -> tuple[list[str], list[dict[str, Any]], dict[str, StateRow]]:
    """Source rows and state (in the sync ``schema``), read in one connection given back
    before anything is sent."""
    with session.connect() as sql:
        ensure_tables(sql, schema)
        columns, rows = _read(sql, destination, source_optional)
        return columns, rows, load_state(sql, schema, destination.name)


def _counts_text(counts: Counts) -> str:
    shown = {k: v for k, v in counts.as_metadata().items() if v}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "no rows"


# ------------------------------------------------------------------------------------- ops


def _dry_run(
    context: dg.OpExecutionContext,
    account: Account,
    destination: Destination,
    config: ReverseSyncConfig,
):
    """Everything a run would do up to the first request, shown as metadata."""
    try:
        with _warehouse(context, account).connect(read_only=True) as sql:
            columns, rows = _read(sql, destination)
            state = load_state(sql, account.sync_schema, destination.name)
    except FileNotFoundError as exc:
        raise dg.Failure(description=str(exc)) from None  # no DuckDB file yet
    payloads = _payloads(destination, columns, rows)
    sync = ReverseSync(destination, state, run_id=context.run_id, logger=context.log)
    plan = sync.plan(payloads)
    samples = sample(plan.requests, destination.headers, config.sample_size)
    note = "requests this run would send"
    if not samples:
        # Nothing new to send: still show what the rows look like on the wire.
        valid = [p for p in payloads if p.valid]
        samples = sample(make_requests(destination, valid), destination.headers, config.sample_size)
        note = "nothing would be sent (all rows unchanged/invalid); samples of all valid rows"
    unsent = sorted({c for p in payloads for c in p.unsent_columns})
    invalid = [{"key": p.key, "error": p.error} for p in payloads if not p.valid][:10]
    metadata = {
        "dry_run": True,
        "destination": destination.name,
        "rows_to_send": sum(len(r.items) for r in plan.requests),
        "requests_to_send": len(plan.requests),
        **{shown: getattr(sync.counts, count) for count, shown in PLANNED_COUNTS.items()},
        "sample_payloads": dg.MetadataValue.md(samples_markdown(samples)),
        "sample_note": note,
        "columns_not_sent": unsent,
        "invalid_rows": dg.MetadataValue.json(invalid),
    }
    context.log.info(
        f"Dry run of '{destination.name}': {metadata['rows_to_send']} row(s) in "
        f"{metadata['requests_to_send']} request(s) would be sent; nothing was sent"
    )
    yield dg.Output(None, metadata=metadata)


def build_sync_op(settings: Settings) -> dg.OpDefinition:
    account = settings.names
    names = ReverseSyncNames(account)
    schema = account.sync_schema

    @dg.op(
        name=names.sync_op,
        required_resource_keys={account.aircall_resource_key, account.io_manager_key},
        out=dg.Out(dg.Nothing),
        description="Send a destination's new and changed source rows to Aircall, exactly once, "
        f"recording every answer in {schema}.responses.",
    )
    def reverse_sync(context: dg.OpExecutionContext, config: ReverseSyncConfig):
        destination = _by_name(settings, config.destination)
        if config.dry_run:
            yield from _dry_run(context, account, destination, config)
            return
        # one client per run, on the shared rate limiter
        client = _aircall(context, account).get_client()
        started = time.monotonic()
        warehouse = _warehouse(context, account)
        holder = f"run {context.run_id}"
        with (
            warehouse.destination_lock(lock_name(account, destination.name), holder, context.log),
            warehouse.session() as session,
        ):
            columns, rows, state = _inputs(session, schema, destination)
            store = SyncStore(session, schema)
            payloads = _payloads(destination, columns, rows)
            sync = ReverseSync(
                destination,
                state,
                client=client,
                store=store,
                run_id=context.run_id,
                logger=context.log,
                resend_uncertain=config.resend_uncertain,
            )
            plan = sync.plan(payloads)
            context.log.info(
                f"'{destination.name}': {len(rows)} source row(s); sending "
                f"{sum(len(r.items) for r in plan.requests)} row(s) in {len(plan.requests)} "
                f"request(s) to {destination.route.method} {destination.route.path}"
            )
            counts = sync.execute(plan)
        responses_added = store.responses_written
        elapsed = time.monotonic() - started
        if sync.duplicates:
            context.log.warning(
                f"{counts.duplicate_keys} row(s) repeat a key already seen and were skipped "
                f"(e.g. {sync.duplicates[:5]})"
            )
        metadata: dict[str, Any] = {
            "destination": destination.name,
            **counts.as_metadata(),
            "seconds": round(elapsed, 2),
            "rows_per_minute": round(counts.sent / elapsed * 60, 1) if elapsed > 0 else 0.0,
            "client": dg.MetadataValue.json(client.stats.as_metadata()),
        }
        if responses_added:
            yield dg.AssetMaterialization(
                names.responses_key,
                description=f"{responses_added} attempt(s) recorded for '{destination.name}'",
                metadata={"destination": destination.name, "rows_added": responses_added},
            )
            yield dg.AssetMaterialization(
                names.state_key,
                metadata={"destination": destination.name, **counts.as_metadata()},
            )
        summary = _counts_text(counts)
        if counts.unsettled:
            reason = f"; stopped early: {sync.stopped.rstrip('.')}" if sync.stopped else ""
            raise dg.Failure(
                description=f"'{destination.name}': {counts.unsettled} row(s) without a definitive "
                f"answer ({summary}){reason}. Run again to retry them; see {schema}.responses.",
                metadata=metadata,
            )
        context.log.info(f"'{destination.name}' done: {summary}")
        yield dg.Output(None, metadata=metadata)

    return reverse_sync


def build_test_send_op(settings: Settings) -> dg.OpDefinition:
    account = settings.names
    names = ReverseSyncNames(account)
    schema = account.sync_schema

    @dg.op(
        name=names.test_send_op,
        required_resource_keys={account.aircall_resource_key, account.io_manager_key},
        out=dg.Out(dg.Nothing),
        description="Send one sample row of a destination and show the request and Aircall's "
        "answer (the seed's 'Send Test Data').",
    )
    def test_send(context: dg.OpExecutionContext, config: TestSendConfig):
        destination = _by_name(settings, config.destination)
        client = _aircall(context, account).get_client()
        warehouse = _warehouse(context, account)
        holder = f"run {context.run_id}"
        with (
            warehouse.destination_lock(lock_name(account, destination.name), holder, context.log),
            warehouse.session() as session,
        ):
            columns, rows, state = _inputs(
                session, schema, destination, source_optional=bool(config.row)
            )
            columns = list(dict.fromkeys([*columns, *(config.row or {})]))
            payloads = _payloads(destination, columns, rows)
            chosen = _choose(payloads, rows, config)
            if config.row:
                base = dict(chosen) if chosen is not None else {}
                base.update(config.row)
                (item,) = _payloads(destination, columns, [base])
            elif chosen is None:
                raise dg.Failure(
                    description=f"'{destination.name}': no row to send"
                    + (f" with key {config.row_key}" if config.row_key else "")
                    + f" in {destination.source}"
                )
            else:
                (item,) = [p for p in payloads if p.row is chosen]
            if not item.valid:
                raise dg.Failure(description=f"row {item.key} would be refused: {item.error}")
            sync = ReverseSync(
                destination,
                state,
                client=client,
                store=SyncStore(session, schema),
                run_id=context.run_id,
                mode="test",
                logger=context.log,
                force=True,
                record_state=not config.row,
            )
            plan = sync.plan([item])
            request = (plan.requests or [r for r, _ in plan.refused])[0]
            context.log.info(
                f"Test request: {request.method} {request.path}"
                + (
                    f" (extra headers: {sorted(destination.headers)})"
                    if destination.headers
                    else ""
                )
                + f"\n{_json_text(request.body)}"
            )
            counts = sync.execute(plan)
        exchange = sync.exchanges[-1]
        context.log.info(
            f"Aircall answered {exchange.status or 'nothing'} ({exchange.outcome})"
            + (f": {exchange.error}" if exchange.error else "")
            + f"\n{_json_text(exchange.response)}"
        )
        if config.row:
            context.log.warning(
                "The row was edited for this test: its state is not recorded, so a sync will "
                "send the source row as usual."
            )
        metadata = {
            "destination": destination.name,
            "row_key": item.key,
            "request": dg.MetadataValue.json(
                {"method": request.method, "path": request.path, "body": request.body}
            ),
            "status": exchange.status or 0,
            "outcome": exchange.outcome,
            "response": dg.MetadataValue.json(
                exchange.response if exchange.response is not None else {}
            ),
            **({"error": exchange.error} if exchange.error else {}),
        }
        yield dg.AssetMaterialization(
            names.responses_key,
            description=f"test send for '{destination.name}'",
            metadata={"destination": destination.name, "rows_added": 1},
        )
        if counts.unsettled:
            raise dg.Failure(
                description=f"test send did not get an answer: {exchange.error}", metadata=metadata
            )
        yield dg.Output(None, metadata=metadata)

    return test_send


def _choose(payloads, rows, config: TestSendConfig) -> dict[str, Any] | None:
    if config.row_key is not None:
        for p in payloads:
            if p.key == config.row_key:
                return p.row
        return None
    for p in payloads:
        if p.valid:
            return p.row
    return rows[0] if rows else None


def _json_text(value: Any) -> str:
    import orjson

    if value is None:
        return "(no body)"
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return text if len(text) < 4000 else text[:4000] + "\n..."


# --------------------------------------------------------------------------------- sensors


def _storage_id(context: dg.SensorEvaluationContext, key: dg.AssetKey, event: Any) -> int:
    """Storage id of the materialization the asset sensor was handed (newest after cursor)."""
    after = int(context.cursor) if context.cursor and context.cursor.isdigit() else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=100, ascending=False
    ).records
    for record in records:
        entry = record.event_log_entry
        if entry.run_id == event.run_id and entry.timestamp == event.timestamp:
            return record.storage_id
    return records[0].storage_id


def build_sensor(
    names: ReverseSyncNames, destination: Destination, job: dg.JobDefinition
) -> dg.SensorDefinition:
    @dg.asset_sensor(
        asset_key=destination.asset_key,
        job=job,
        name=names.sensor(destination.name),
        default_status=dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=30,
        description=f"Activate to send '{destination.name}' to Aircall after each "
        f"materialization of {destination.source} ({destination.template or 'manual'}: "
        f"{destination.route.method} {destination.route.path}).",
    )
    def _on_source(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
        storage_id = _storage_id(context, destination.asset_key, asset_event)
        return dg.RunRequest(
            run_key=str(storage_id),
            run_config={"ops": {names.sync_op: {"config": {"destination": destination.name}}}},
            tags={DESTINATION_TAG: destination.name, "aircall/source_storage_id": str(storage_id)},
        )

    return _on_source


# ----------------------------------------------------------------------------- assembling


@dataclass
class ReverseSyncDefinitions:
    assets: list[Any] = field(default_factory=list)
    jobs: list[dg.JobDefinition] = field(default_factory=list)
    sensors: list[dg.SensorDefinition] = field(default_factory=list)


def build_reverse_sync(settings: Settings) -> ReverseSyncDefinitions:
    """The account's demo asset (when calls and contacts are loaded) and, per destination, its
    sensor."""
    account = settings.names
    names = ReverseSyncNames(account)
    schema = account.sync_schema
    defs = ReverseSyncDefinitions()
    enabled = {t.name for t in settings.enabled_tables}
    if {CALLS.name, CONTACTS.name} <= enabled:
        defs.assets.append(build_unknown_callers_asset(account))
    if not settings.destinations:
        return defs
    sources = list(dict.fromkeys(d.asset_key for d in settings.destinations))
    defs.assets += [
        dg.AssetSpec(
            names.responses_key,
            deps=sources,
            group_name=schema,
            kinds={warehouse_kind(), "aircall"},
            description="Every request the reverse sync made, one row per row sent, with "
            "Aircall's status and body or the error (the seed's response webhook).",
            metadata={
                "dagster/table_name": f"{schema}.{RESPONSES_TABLE}",
                "dagster/column_schema": _schema(RESPONSE_COLUMNS),
            },
        ),
        dg.AssetSpec(
            names.state_key,
            deps=sources,
            group_name=schema,
            kinds={warehouse_kind()},
            description="Per destination and row key: last payload sent (hash), Aircall id, "
            "status. What makes the sync send only new or changed rows, exactly once.",
            metadata={
                "dagster/table_name": f"{schema}.{STATE_TABLE}",
                "dagster/column_schema": _schema(STATE_COLUMNS),
            },
        ),
    ]
    sync_op = build_sync_op(settings)
    test_op = build_test_send_op(settings)

    @dg.job(
        name=names.sync_job,
        description="Push one destination's source rows to Aircall (run config: destination, "
        "dry_run). Launched by the destination sensors.",
        tags={"aircall/kind": "reverse_sync"},
    )
    def reverse_sync_job():
        sync_op()

    @dg.job(
        name=names.test_send_job,
        description="Send one sample row of a destination and show Aircall's answer.",
        tags={"aircall/kind": "reverse_sync_test"},
    )
    def test_send_job():
        test_op()

    defs.jobs += [reverse_sync_job, test_send_job]
    defs.sensors += [build_sensor(names, d, reverse_sync_job) for d in settings.destinations]
    return defs
