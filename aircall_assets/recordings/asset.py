"""``aircall/call_recording``: the calls' recordings and voicemails archived while fresh.

Partitioned with the calls and downstream of them: a run reads the calls of its range from
the warehouse (their links as the calls' load just got them), archives each link not archived
yet (``archiver.py``), and replaces the range's rows of ``call_recording`` through the warehouse
IO manager, one row per call and kind: where the file is, its size and hash, or why it could
not be archived. Links expire about an hour after the calls were read, so the asset runs as
soon as the calls' load lands (``AFTER_CALLS_LOAD``), on the project's automation sensor.

A failed link is a row, not a failed run; the run fails, after its rows are written, only when
more than ``recordings.max_failure_share`` of the range's recordings failed.
"""

import threading
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from aircall_assets.assets import column_schema, daily_partitions, partition_range
from aircall_assets.automation import AFTER_CALLS_LOAD
from aircall_assets.catalog import CALL_RECORDING, CALLS
from aircall_assets.client.errors import AircallAPIError, AircallError
from aircall_assets.client.resource import AircallResource
from aircall_assets.recordings.archive import Archive, archive_url, check_archive_url, shown
from aircall_assets.recordings.archiver import Archiver, Item, Outcome, Status
from aircall_assets.recordings.fetch import AudioFetcher, FetchFailed
from aircall_assets.resources import warehouse_kind, warehouse_pool
from aircall_assets.settings import Settings
from aircall_assets.warehouse import TableLoad, TableStore, is_range

KINDS = ("recording", "voicemail")
WORKERS = 4  # downloads at once: a range's links must all be fetched within their hour


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _previous_rows(
    store: TableStore, schema: str, start: datetime | None, end: datetime
) -> dict[tuple[int, str], dict[str, Any]]:
    """The range's rows as the last run left them, by (call id, kind)."""
    if not store.table_exists(schema, CALL_RECORDING.name):
        return {}
    names = CALL_RECORDING.field_names
    rows = store.read_range(schema, CALL_RECORDING.name, names, "call_started_at", start, end)
    previous = {}
    for values in rows:
        row = dict(zip(names, values, strict=True))
        if row["archived_at"] is not None:
            row["archived_at"] = _utc(row["archived_at"]).isoformat()
        previous[(row["call_id"], row["kind"])] = row
    return previous


def _items(
    calls: Sequence[tuple[Any, ...]],
    kinds: Sequence[str],
    previous: dict[tuple[int, str], dict[str, Any]],
) -> list[Item]:
    """Each linked audio of the range's calls, and each one archived before whose call is
    still there but links it no more (its file is kept, so is its row)."""
    items = []
    for call_id, started_at, *links in calls:
        for kind, url in zip(kinds, links, strict=True):
            prior = previous.get((call_id, kind))
            if url or (prior is not None and prior["sha256"] is not None):
                items.append(Item(call_id, kind, _utc(started_at), url or None, prior))
    return items


def _refresher(aircall: AircallResource):
    """Fresh links, one ``GET /v1/calls/{id}`` each from the company's budget, one at a time."""
    client = aircall.get_client()
    lock = threading.Lock()

    def refresh(call_id: int, kind: str) -> str | None:
        with lock:
            try:
                call = client.get(f"/v1/calls/{call_id}").get("call") or {}
            except AircallAPIError as exc:
                raise FetchFailed(
                    f"link expired; refreshing it failed: the API answered {exc.status} for "
                    f"call {call_id}"
                ) from None
            except AircallError as exc:
                raise FetchFailed(f"link expired; refreshing it failed: {exc}") from None
        return call.get(kind) or None

    return client, refresh


def _figures(outcomes: Sequence[Outcome], archive: Archive, client_metadata: dict) -> dict:
    by_status = Counter(o.status for o in outcomes)
    reasons = Counter(o.row["error"] for o in outcomes if o.status is Status.FAILED)
    return {
        "files_archived": by_status[Status.ARCHIVED],
        "files_skipped_already_archived": by_status[Status.SKIPPED],
        "files_failed": by_status[Status.FAILED],
        "bytes_downloaded": sum(o.bytes_downloaded for o in outcomes),
        "links_refreshed": sum(o.refreshed for o in outcomes),
        "failure_reasons": dg.MetadataValue.json(dict(reasons.most_common(5))),
        "archive": shown(archive.url),
        "api_requests": client_metadata["requests"],
    }


def _too_many_failures(outcomes: Sequence[Outcome], settings: Settings) -> str | None:
    failed = [o for o in outcomes if o.status is Status.FAILED]
    limit = settings.recordings.max_failure_share
    if not outcomes or len(failed) / len(outcomes) <= limit:
        return None
    reasons = Counter(o.row["error"] for o in failed).most_common(3)
    schema = settings.names.extract_schema
    return (
        f"{len(failed)} of {len(outcomes)} recordings and voicemails of this range could not be "
        f"archived ({len(failed) / len(outcomes):.1%}, more than recordings.max_failure_share "
        f"{limit:.1%}). Their rows in {schema}.{CALL_RECORDING.name} say why; most often: "
        + "; ".join(f"{reason} ({count})" for reason, count in reasons)
        + ". The rest were archived and recorded. Rerun after fixing the cause: what is "
        "archived is not fetched again, and expired links are refreshed through the API."
    )


def build_recording_asset(
    settings: Settings, url: str | None = None, fetcher: AudioFetcher | None = None
) -> dg.AssetsDefinition:
    """The account's ``call_recording`` asset, archiving into ``url`` (default
    ``AIRCALL_ARCHIVE_URL``), checked now: a protocol whose package is missing fails here."""
    names = settings.names
    key = names.extract_key(CALL_RECORDING.name)
    target = check_archive_url(url or archive_url())
    fetcher = fetcher or AudioFetcher()
    selected = {f.name for f in CALLS.resolve_columns(settings.columns_for(CALLS))}
    kinds = [k for k in KINDS if k in selected]
    schema = names.extract_schema

    @dg.asset(
        key=key,
        deps=[names.extract_key(CALLS.name)],
        group_name=schema,
        kinds={"aircall", warehouse_kind()},
        description=CALL_RECORDING.purpose,
        partitions_def=daily_partitions(settings),
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key=names.io_manager_key,
        required_resource_keys={names.aircall_resource_key, names.io_manager_key},
        pool=warehouse_pool(),
        automation_condition=AFTER_CALLS_LOAD,
        metadata={
            "dagster/column_schema": column_schema(CALL_RECORDING.fields),
            "dagster/table_name": f"{schema}.{CALL_RECORDING.name}",
            "archive": shown(target),
        },
    )
    def _call_recording(context: dg.AssetExecutionContext):
        if not kinds:
            raise dg.Failure(
                description="recordings.enabled needs the calls' recording or voicemail "
                "column: add them to tables.calls.columns (or remove the selection)"
            )
        store: TableStore = getattr(context.resources, names.io_manager_key).store
        aircall: AircallResource = getattr(context.resources, names.aircall_resource_key)
        window, include_older, replace = partition_range(context, settings, CALL_RECORDING)
        start = None if include_older else window.start
        try:
            calls = store.read_range(
                schema, CALLS.name, ["id", "started_at", *kinds], "started_at", start, window.end
            )
        except LookupError as exc:
            raise dg.Failure(
                description=f"{CALL_RECORDING.name} archives the calls' links: {exc}"
            ) from None
        archive = Archive(target)
        items = _items(calls, kinds, _previous_rows(store, schema, start, window.end))
        context.log.info(
            f"Archiving {len(items):,} recordings and voicemails of {len(calls):,} calls from "
            f"{window.start:%Y-%m-%d} to {window.end:%Y-%m-%d} (exclusive) into "
            f"{shown(archive.url)}"
        )
        client, refresh = _refresher(aircall)
        archiver = Archiver(archive, schema, fetcher, refresh)
        try:
            with ThreadPoolExecutor(WORKERS, thread_name_prefix="archive") as pool:
                outcomes = list(pool.map(archiver.process, items))
        finally:
            client.close()
        figures = _figures(outcomes, archive, client.stats.as_metadata())
        load = TableLoad(
            fields=CALL_RECORDING.fields,
            primary_key=None,
            replace=replace,
            pages=[[o.row for o in outcomes]],
        )
        keys = context.partition_keys
        if is_range(keys):
            context.log_event(
                dg.AssetObservation(
                    asset_key=key,
                    description=f"Archive of {keys[0]}..{keys[-1]}",
                    metadata=figures,
                )
            )
            yield dg.Output(load)
        else:
            yield dg.Output(load, metadata=figures)
        problem = _too_many_failures(outcomes, settings)
        if problem:
            raise dg.Failure(description=problem)

    return _call_recording


def build_recording_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """``[call_recording]`` when ``recordings.enabled``, else nothing."""
    if not settings.recordings.enabled:
        return []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        return [build_recording_asset(settings)]
