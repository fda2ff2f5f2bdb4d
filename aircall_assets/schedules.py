"""When tables are refreshed: the daily schedule (with a lookback) and the contacts-change sensor.

Calls change after they start (comments, tags, cost) without any updated timestamp, so each
daily run re-reads the last ``lookback_days`` days besides the new one. Contacts do carry
``updated_at`` but the API cannot filter on it, so a sensor walks the contacts by
``updated_at`` descending until it reaches its cursor and re-materializes the created-date
partitions that hold the edited contacts. The walk is positional, so it cannot see past the
10,000 most recently edited contacts (the API's cap): when more than that changed since the
last tick (a bulk CRM update), the edits ranked past the cap cannot be told apart, and the
sensor re-reads every contact partition in one range run instead of losing them. Turning the
schedule off is the spec's "pause".

Each account has its own: the names below are the default account's, a named account's are
suffixed with its name (``aircall_daily_eu``, see ``Account.suffixed``), and each follows its
own settings (cron, time zone, lookback, history start) and targets its own assets only.
"""

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import dagster as dg

from aircall_assets.catalog import CONTACTS, Table
from aircall_assets.client.client import AircallClient
from aircall_assets.client.pages import PER_PAGE, POSITIONAL_CAP, iter_pages
from aircall_assets.client.resource import AircallResource
from aircall_assets.client.windows import split_window
from aircall_assets.normalize import epoch_micros
from aircall_assets.settings import Settings

# The default account's names; a named account's are these with its name appended.
DAILY_SCHEDULE = "aircall_daily"
CONTACTS_SENSOR = "aircall_contacts_changes"
AUTOMATION_SENSOR = "aircall_automation"
KEYED_JOB = "aircall_keyed_tables_job"
FULL_JOB = "aircall_full_tables_job"
# What a walk of the edited contacts may take: within Dagster's default 60 s sensor timeout.
WALK_SECONDS = 40.0


def _status(running: bool) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED


def _sensor_status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def keyed_job(settings: Settings) -> str:
    """The account's job of its key-based tables."""
    return settings.names.suffixed(KEYED_JOB)


def full_job(settings: Settings) -> str:
    """The account's job of its full-replication tables."""
    return settings.names.suffixed(FULL_JOB)


def daily_schedule(settings: Settings) -> str:
    """The account's daily schedule."""
    return settings.names.suffixed(DAILY_SCHEDULE)


def table_keys(settings: Settings, table: Table) -> list[dg.AssetKey]:
    """The asset keys one table's op materializes: the table's and its child tables', which
    are written with it (``assets.build_extract_asset``)."""
    names = settings.names
    return [names.extract_key(name) for name in (table.name, *(c.name for c in table.children))]


def build_jobs(settings: Settings) -> list:
    tables = settings.enabled_tables
    keyed = [k for t in tables if t.is_partitioned for k in table_keys(settings, t)]
    full = [k for t in tables if not t.is_partitioned for k in table_keys(settings, t)]
    jobs = []
    if keyed:
        jobs.append(
            dg.define_asset_job(
                keyed_job(settings),
                selection=dg.AssetSelection.assets(*keyed),
                description="Key-based tables (daily partitions on their date field).",
            )
        )
    if full:
        jobs.append(
            dg.define_asset_job(
                full_job(settings),
                selection=dg.AssetSelection.assets(*full),
                description="Full-replication tables, replaced whole.",
            )
        )
    return jobs


def lookback_range(settings: Settings, today: date) -> tuple[str, str] | None:
    """Partition keys ``(first, last)`` of a daily run: yesterday plus the lookback days."""
    last = today - timedelta(days=1)
    if last < settings.history_start:
        return None
    first = max(settings.history_start, last - timedelta(days=settings.lookback_days))
    return first.isoformat(), last.isoformat()


def daily_run_requests(settings: Settings, today: date) -> list[dg.RunRequest]:
    requests = []
    tables: list[Table] = settings.enabled_tables
    keyed_range = lookback_range(settings, today)
    if keyed_range and any(t.is_partitioned for t in tables):
        first, last = keyed_range
        requests.append(
            dg.RunRequest(
                run_key=f"{keyed_job(settings)}:{today}",
                job_name=keyed_job(settings),
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                },
            )
        )
    if any(not t.is_partitioned for t in tables):
        job = full_job(settings)
        requests.append(dg.RunRequest(run_key=f"{job}:{today}", job_name=job))
    return requests


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=daily_schedule(settings),
        cron_schedule=settings.schedule.cron,
        execution_timezone=settings.schedule.timezone,
        job_name=(
            keyed_job(settings)
            if any(t.is_partitioned for t in settings.enabled_tables)
            else full_job(settings)
        ),
        default_status=_status(settings.schedule.running),
        description="Daily refresh: full tables whole, key-based tables for yesterday plus "
        f"the {settings.lookback_days}-day lookback.",
    )
    def _daily(context: dg.ScheduleEvaluationContext):
        scheduled = context.scheduled_execution_time or datetime.now(timezone.utc)
        return daily_run_requests(settings, scheduled.astimezone(timezone.utc).date())

    return _daily


@dataclass(frozen=True)
class ContactChanges:
    """What one walk of the contacts by ``updated_at`` found."""

    partitions: set[str]  # created-date partitions of the contacts edited after the cursor
    newest: int  # the newest ``updated_at`` seen (UNIX seconds): the next cursor
    reached_cursor: bool  # False: the walk ended before the cursor (see ``stopped_by``)
    total: int  # the API's ``meta.total``: every contact, what a re-read has to page through
    stopped_by: str = ""  # why the walk ended before the cursor


def changed_contact_partitions(
    client: AircallClient,
    settings: Settings,
    since: int,
    today: date,
    time_limit: float = WALK_SECONDS,
) -> ContactChanges:
    """Created-date partition keys of contacts updated after ``since``, and the new cursor.

    Walks ``order_by=updated_at&order=desc`` and stops at the first contact not newer than
    the cursor: a quiet account costs one request. The walk stops itself at the last page the
    positional cap serves (page 200 of 50) rather than letting the client fail on the next
    one, and says so in ``reached_cursor``: the contacts ranked past it were edited after the
    cursor too, but which partitions they belong to cannot be known from this list. It also
    stops after ``time_limit`` seconds, within a sensor tick's timeout: at 60 requests a minute
    a walk of 200 pages takes over three minutes, and a tick that times out moves nothing.
    """
    partitions: set[str] = set()
    newest = since
    total = 0
    last_partition = today - timedelta(days=1)
    pages = iter_pages(client, CONTACTS, {"order_by": "updated_at", "order": "desc"})
    deadline = time.monotonic() + time_limit
    try:
        for page, (records, meta) in enumerate(pages, start=1):
            total = int(meta.get("total") or 0)
            for contact in records:
                updated = (epoch_micros(contact.get("updated_at")) or 0) // 1_000_000
                if updated <= since:
                    return ContactChanges(partitions, newest, True, total)
                newest = max(newest, updated)
                created_us = epoch_micros(contact.get("created_at"))
                if created_us is None:
                    continue
                created = datetime.fromtimestamp(created_us / 1e6, tz=timezone.utc).date()
                day = max(created, settings.history_start)
                if day <= last_partition:
                    partitions.add(day.isoformat())
            more = bool(records and meta.get("next_page_link"))
            if more and page * PER_PAGE >= POSITIONAL_CAP:
                stopped = f"the API lists only the {POSITIONAL_CAP:,} most recently edited"
                return ContactChanges(partitions, newest, False, total, stopped)
            if more and time.monotonic() > deadline:
                stopped = (
                    f"{page} pages took more than the {time_limit:.0f}s a sensor tick can "
                    "spend at this request budget"
                )
                return ContactChanges(partitions, newest, False, total, stopped)
    finally:
        pages.close()
    return ContactChanges(partitions, newest, True, total)


def reread_requests(total: int, settings: Settings, today: date) -> int:
    """About how many requests re-reading every contact partition takes, from ``total``.

    The range run reads two API windows (everything created before the history start, then
    the history start to today), so: the pages ``total`` contacts fill plus one partly filled
    page. A window over the cap is split (``split_window``), which adds a probe page and a
    partly filled last page per part. ``total`` counts contacts created today too, which the
    range leaves out, so this errs high.
    """
    requests = -(-total // PER_PAGE) + 1
    if total > POSITIONAL_CAP:
        window = (_midnight(settings.history_start), _midnight(today))
        requests += 1 + len(split_window(*window, total))
    return requests


def _midnight(day: date) -> int:
    """The UTC start of ``day`` in UNIX seconds, as the asset's partition windows begin."""
    return int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp())


def build_contacts_sensor(settings: Settings) -> dg.SensorDefinition:
    names = settings.names
    contacts = table_keys(settings, CONTACTS)

    @dg.sensor(
        name=names.suffixed(CONTACTS_SENSOR),
        asset_selection=dg.AssetSelection.assets(*contacts),
        required_resource_keys={names.aircall_resource_key},
        minimum_interval_seconds=3600,
        default_status=_sensor_status(settings.schedule.running),
        description="Finds contacts edited after creation and re-materializes their "
        "created-date partitions (the API has no updated_at filter); past 10,000 edits since "
        "the last tick, re-reads every contact partition in one run.",
    )
    def _contacts_changes(context: dg.SensorEvaluationContext):
        aircall: AircallResource = getattr(context.resources, names.aircall_resource_key)
        now = int(datetime.now(timezone.utc).timestamp())
        if context.cursor is None:
            context.update_cursor(str(now))
            return dg.SkipReason("First tick: changes are tracked from now on.")
        today = datetime.now(timezone.utc).date()
        client = aircall.get_client()
        try:
            changes = changed_contact_partitions(client, settings, int(context.cursor), today)
        finally:
            client.close()
        if changes.reached_cursor:
            result = _changed_partition_runs(changes, contacts)
        else:
            result = _reread_all(context, settings, changes, today, contacts)
        # Moved only once the runs that load everything edited up to it are requested.
        context.update_cursor(str(changes.newest))
        return result

    return _contacts_changes


def _changed_partition_runs(
    changes: ContactChanges, contacts: list[dg.AssetKey]
) -> list[dg.RunRequest] | dg.SkipReason:
    """One run per partition holding an edited contact: the walk saw every edit."""
    if not changes.partitions:
        return dg.SkipReason("No contact changed since the last tick.")
    return [
        dg.RunRequest(
            run_key=f"contacts-changed:{key}:{changes.newest}",
            partition_key=key,
            asset_selection=contacts,
        )
        for key in sorted(changes.partitions)
    ]


def _reread_all(
    context: dg.SensorEvaluationContext,
    settings: Settings,
    changes: ContactChanges,
    today: date,
    contacts: list[dg.AssetKey],
) -> list[dg.RunRequest] | dg.SkipReason:
    """One range run over every contact partition, for a walk the cap ended before the cursor.

    One run, not one per day: the asset's single-run backfill policy reads the range as one
    API window, so the re-read costs the pages the contacts fill, not a request per day.
    """
    last = today - timedelta(days=1)
    if last < settings.history_start:
        return dg.SkipReason("Contacts changed, but no contact partition is complete yet.")
    first = settings.history_start
    cost = reread_requests(changes.total, settings, today)
    context.log.warning(
        "The walk of the contacts edited since the last tick "
        f"({datetime.fromtimestamp(int(context.cursor), timezone.utc):%Y-%m-%d %H:%M:%S} UTC) "
        f"ended before reaching it ({changes.stopped_by}), so the partitions of the others are "
        f"unknown. Re-reading every contact partition ({first} to {last}) in one run: "
        f"{changes.total:,} contacts, about {cost} requests."
    )
    return [
        dg.RunRequest(
            run_key=f"contacts-reread:{first}:{last}:{changes.newest}",
            asset_selection=contacts,
            tags={
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
        )
    ]


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    return [build_daily_schedule(settings)] if settings.enabled_tables else []


def build_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    names = settings.names
    sensors: list[dg.SensorDefinition] = [
        # Evaluates automation conditions (e.g. unknown_callers rebuilt after calls/contacts
        # land); it follows the schedule's running/paused state like everything automatic.
        # Only the account's own assets: an asset may be targeted by one such sensor, and the
        # project's other assets (or accounts) are not this account's to automate.
        dg.AutomationConditionSensorDefinition(
            names.suffixed(AUTOMATION_SENSOR),
            target=dg.AssetSelection.key_prefixes(
                [names.extract_schema],
                [names.reverse_schema],
                [names.sync_schema],
                [names.analytics_schema],
            ),
            default_status=_sensor_status(settings.schedule.running),
            minimum_interval_seconds=30,
        )
    ]
    if CONTACTS in settings.enabled_tables:
        sensors.append(build_contacts_sensor(settings))
    return sensors
