"""The reverse sync's ops: the pipeline (plan, send, record) as Dagster runs it.

A sync run finds its destination by name in the account's settings, holds it (one run of a
destination at a time, wherever it runs: ``SyncWarehouse.destination_lock``), reads the source
rows and the destination's state in one short connection, plans (``plan.py``), sends and
records (``send.py``, ``record.py``), then reports the counts as metadata and the sync tables
as materialized. Its dry run plans from a read-only connection and shows the plan
(``dry_run.py``). A test send is the same pipeline for one row, forced (sent even if
unchanged), its request and Aircall's answer shown.

Both ops require the account's own Aircall resource and IO manager, so an account sends with
its credentials only, and write its own sync schema.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dagster as dg
import orjson
from pydantic import Field

from aircall_assets.account import Account
from aircall_assets.client.client import AircallClient
from aircall_assets.reverse_sync.destinations import Destination
from aircall_assets.reverse_sync.dry_run import dry_run_metadata
from aircall_assets.reverse_sync.payloads import DestinationError, RowPayload, build_payloads
from aircall_assets.reverse_sync.plan import Counts, plan_payloads, plan_sync
from aircall_assets.reverse_sync.record import Ledger
from aircall_assets.reverse_sync.send import send
from aircall_assets.reverse_sync.source import Source, SourceMissing, read_source
from aircall_assets.reverse_sync.state import StateRow, SyncStore, ensure_tables, load_state
from aircall_assets.reverse_sync.store import Sql, SyncSession, SyncWarehouse, lock_name
from aircall_assets.settings import Settings

if TYPE_CHECKING:
    from aircall_assets.reverse_sync.definitions import ReverseSyncNames

SHOWN_JSON_CHARS = 4000


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


def build_sync_op(settings: Settings, names: "ReverseSyncNames") -> dg.OpDefinition:
    account = settings.names
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
        warehouse = _warehouse(context, account)
        if config.dry_run:
            yield _dry_run(context, warehouse, account, destination, config)
            return
        client = _client(context, account)  # one per run, on the shared rate limiter
        started = time.monotonic()
        with _held(context, warehouse, account, destination) as session:
            source, state = _inputs(session, schema, destination)
            with _refused_as_failure():
                plan = plan_sync(
                    destination, source, state, resend_uncertain=config.resend_uncertain
                )
            context.log.info(
                f"'{destination.name}': {len(source.rows)} source row(s); sending "
                f"{plan.rows_to_send} row(s) in {len(plan.requests)} request(s) to "
                f"{destination.route.method} {destination.route.path}"
            )
            ledger = Ledger(
                SyncStore(session, schema),
                destination.name,
                state,
                plan.counts,
                run_id=context.run_id,
                logger=context.log,
            )
            stopped = send(plan, client, ledger, context.log)
        counts = plan.counts
        elapsed = time.monotonic() - started
        if plan.duplicates:
            context.log.warning(
                f"{counts.duplicate_keys} row(s) repeat a key already seen and were skipped "
                f"(e.g. {plan.duplicates[:5]})"
            )
        metadata: dict[str, Any] = {
            "destination": destination.name,
            **counts.as_metadata(),
            "seconds": round(elapsed, 2),
            "rows_per_minute": round(counts.sent / elapsed * 60, 1) if elapsed > 0 else 0.0,
            "client": dg.MetadataValue.json(client.stats.as_metadata()),
        }
        if ledger.responses_written:
            yield dg.AssetMaterialization(
                names.responses_key,
                description=f"{ledger.responses_written} attempt(s) recorded for "
                f"'{destination.name}'",
                metadata={"destination": destination.name, "rows_added": ledger.responses_written},
            )
            yield dg.AssetMaterialization(
                names.state_key,
                metadata={"destination": destination.name, **counts.as_metadata()},
            )
        summary = _counts_text(counts)
        if counts.unsettled:
            reason = f"; stopped early: {stopped.rstrip('.')}" if stopped else ""
            raise dg.Failure(
                description=f"'{destination.name}': {counts.unsettled} row(s) without a definitive "
                f"answer ({summary}){reason}. Run again to retry them; see {schema}.responses.",
                metadata=metadata,
            )
        context.log.info(f"'{destination.name}' done: {summary}")
        yield dg.Output(None, metadata=metadata)

    return reverse_sync


def _dry_run(
    context: dg.OpExecutionContext,
    warehouse: SyncWarehouse,
    account: Account,
    destination: Destination,
    config: ReverseSyncConfig,
) -> dg.Output:
    """The plan a run would send, shown as metadata: nothing sent, nothing written."""
    try:
        with warehouse.connect(read_only=True) as sql:
            source = _source(sql, destination)
            state = load_state(sql, account.sync_schema, destination.name)
    except FileNotFoundError as exc:
        raise dg.Failure(description=str(exc)) from None  # no DuckDB file yet
    with _refused_as_failure():
        plan = plan_sync(destination, source, state, resend_uncertain=config.resend_uncertain)
    metadata = dry_run_metadata(destination, plan, config.sample_size)
    context.log.info(
        f"Dry run of '{destination.name}': {metadata['rows_to_send']} row(s) in "
        f"{metadata['requests_to_send']} request(s) would be sent; nothing was sent"
    )
    return dg.Output(None, metadata=metadata)


def build_test_send_op(settings: Settings, names: "ReverseSyncNames") -> dg.OpDefinition:
    account = settings.names
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
        client = _client(context, account)
        warehouse = _warehouse(context, account)
        with _held(context, warehouse, account, destination) as session:
            source, state = _inputs(session, schema, destination, source_optional=bool(config.row))
            item = _test_row(destination, source, config)
            plan = plan_payloads(destination, [item], state, force=True)
            request = (plan.requests or [r for r, _ in plan.refused])[0]
            context.log.info(
                f"Test request: {request.method} {request.path}"
                + (f" (extra headers: {sorted(request.headers)})" if request.headers else "")
                + f"\n{_json_text(request.body)}"
            )
            ledger = Ledger(
                SyncStore(session, schema),
                destination.name,
                state,
                plan.counts,
                run_id=context.run_id,
                mode="test",
                record_state=not config.row,
                logger=context.log,
            )
            send(plan, client, ledger, context.log)
        exchange = ledger.exchanges[-1]
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
        if plan.counts.unsettled:
            raise dg.Failure(
                description=f"test send did not get an answer: {exchange.error}", metadata=metadata
            )
        yield dg.Output(None, metadata=metadata)

    return test_send


def _test_row(destination: Destination, source: Source, config: TestSendConfig) -> RowPayload:
    """The row a test send sends: the one asked for (or the first valid one), with the
    config's edits applied, refused if it would not pass the destination's validation."""
    columns = list(dict.fromkeys([*source.columns, *(config.row or {})]))
    with _refused_as_failure():
        payloads = build_payloads(destination, source.rows, columns)
    chosen = _choose(payloads, source.rows, config)
    if config.row:
        with _refused_as_failure():
            (item,) = build_payloads(destination, [{**(chosen or {}), **config.row}], columns)
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
    return item


def _choose(
    payloads: list[RowPayload], rows: list[dict[str, Any]], config: TestSendConfig
) -> dict[str, Any] | None:
    if config.row_key is not None:
        for p in payloads:
            if p.key == config.row_key:
                return p.row
        return None
    for p in payloads:
        if p.valid:
            return p.row
    return rows[0] if rows else None


# ------------------------------------------------------------------------ the steps' inputs


def _by_name(settings: Settings, name: str) -> Destination:
    for destination in settings.destinations:
        if destination.name == name:
            return destination
    names = ", ".join(d.name for d in settings.destinations) or "(none configured)"
    raise dg.Failure(description=f"no destination '{name}' in the settings; choose from {names}")


def _client(context: dg.OpExecutionContext, account: Account) -> AircallClient:
    return getattr(context.resources, account.aircall_resource_key).get_client()


def _warehouse(context: dg.OpExecutionContext, account: Account) -> SyncWarehouse:
    return getattr(context.resources, account.io_manager_key).warehouse


@contextmanager
def _held(
    context: dg.OpExecutionContext,
    warehouse: SyncWarehouse,
    account: Account,
    destination: Destination,
) -> Iterator[SyncSession]:
    """The destination held by this run for the block, and the run's warehouse session."""
    name = lock_name(account, destination.name)
    with (
        warehouse.destination_lock(name, f"run {context.run_id}", context.log),
        warehouse.session() as session,
    ):
        yield session


def _inputs(
    session: SyncSession, schema: str, destination: Destination, source_optional: bool = False
) -> tuple[Source, dict[str, StateRow]]:
    """Source rows and state (in the sync ``schema``), read in one connection given back
    before anything is sent."""
    with session.connect() as sql:
        ensure_tables(sql, schema)
        source = _source(sql, destination, source_optional)
        return source, load_state(sql, schema, destination.name)


def _source(sql: Sql, destination: Destination, source_optional: bool = False) -> Source:
    try:
        return read_source(sql, *destination.table)
    except SourceMissing as exc:
        if source_optional:
            return Source([], [])
        raise dg.Failure(
            description=f"destination '{destination.name}': {exc} ({destination.source})"
        ) from None


@contextmanager
def _refused_as_failure() -> Iterator[None]:
    """A destination that cannot work with its source at all fails the run, saying why."""
    try:
        yield
    except DestinationError as exc:
        raise dg.Failure(description=str(exc)) from None


def _counts_text(counts: Counts) -> str:
    shown = {k: v for k, v in counts.as_metadata().items() if v}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "no rows"


def _json_text(value: Any) -> str:
    if value is None:
        return "(no body)"
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return text if len(text) < SHOWN_JSON_CHARS else text[:SHOWN_JSON_CHARS] + "\n..."
