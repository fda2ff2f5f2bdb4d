"""When tables are refreshed: the daily schedule (with a lookback) and the contacts-change sensor.

Calls change after they start (comments, tags, cost) without any updated timestamp, so each
daily run re-reads the last ``lookback_days`` days besides the new one. Contacts do carry
``updated_at`` but the API cannot filter on it, so a sensor walks the contacts by
``updated_at`` descending until it reaches its cursor and re-materializes the created-date
partitions that hold the edited contacts. Turning the schedule off is the spec's "pause".
"""

from datetime import date, datetime, timedelta, timezone

import dagster as dg

from aircall_assets.assets import asset_key
from aircall_assets.catalog import CONTACTS, Table
from aircall_assets.client import AircallError, AircallResource
from aircall_assets.normalize import epoch_micros
from aircall_assets.settings import Settings

DAILY_SCHEDULE = "aircall_daily"
CONTACTS_SENSOR = "aircall_contacts_changes"
AUTOMATION_SENSOR = "aircall_automation"
KEYED_JOB = "aircall_keyed_tables_job"
FULL_JOB = "aircall_full_tables_job"


def _status(running: bool) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED


def _sensor_status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def build_jobs(settings: Settings) -> list:
    keyed = [asset_key(t) for t in settings.enabled_tables if t.is_partitioned]
    full = [asset_key(t) for t in settings.enabled_tables if not t.is_partitioned]
    jobs = []
    if keyed:
        jobs.append(
            dg.define_asset_job(
                KEYED_JOB,
                selection=dg.AssetSelection.assets(*keyed),
                description="Key-based tables (daily partitions on their date field).",
            )
        )
    if full:
        jobs.append(
            dg.define_asset_job(
                FULL_JOB,
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
                run_key=f"{KEYED_JOB}:{today}",
                job_name=KEYED_JOB,
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                },
            )
        )
    if any(not t.is_partitioned for t in tables):
        requests.append(dg.RunRequest(run_key=f"{FULL_JOB}:{today}", job_name=FULL_JOB))
    return requests


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=DAILY_SCHEDULE,
        cron_schedule=settings.schedule.cron,
        execution_timezone=settings.schedule.timezone,
        job_name=KEYED_JOB if any(t.is_partitioned for t in settings.enabled_tables) else FULL_JOB,
        default_status=_status(settings.schedule.running),
        description="Daily refresh: full tables whole, key-based tables for yesterday plus "
        f"the {settings.lookback_days}-day lookback.",
    )
    def _daily(context: dg.ScheduleEvaluationContext):
        scheduled = context.scheduled_execution_time or datetime.now(timezone.utc)
        return daily_run_requests(settings, scheduled.astimezone(timezone.utc).date())

    return _daily


def changed_contact_partitions(
    client, settings: Settings, since: int, today: date
) -> tuple[set[str], int]:
    """Created-date partition keys of contacts updated after ``since``, and the new cursor.

    Walks ``order_by=updated_at&order=desc`` and stops at the first contact not newer than
    the cursor: a quiet account costs one request.
    """
    partitions: set[str] = set()
    newest = since
    last_partition = today - timedelta(days=1)
    try:
        for records, _meta in client.iter_pages(
            CONTACTS, {"order_by": "updated_at", "order": "desc"}
        ):
            for contact in records:
                updated = (epoch_micros(contact.get("updated_at")) or 0) // 1_000_000
                if updated <= since:
                    return partitions, newest
                newest = max(newest, updated)
                created_us = epoch_micros(contact.get("created_at"))
                if created_us is None:
                    continue
                created = datetime.fromtimestamp(created_us / 1e6, tz=timezone.utc).date()
                day = max(created, settings.history_start)
                if day <= last_partition:
                    partitions.add(day.isoformat())
    except AircallError as exc:
        if "narrower windows" not in str(exc):
            raise
    return partitions, newest


def build_contacts_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name=CONTACTS_SENSOR,
        asset_selection=dg.AssetSelection.assets(asset_key(CONTACTS)),
        minimum_interval_seconds=3600,
        default_status=_sensor_status(settings.schedule.running),
        description="Finds contacts edited after creation and re-materializes their "
        "created-date partitions (the API has no updated_at filter).",
    )
    def _contacts_changes(context: dg.SensorEvaluationContext, aircall: AircallResource):
        now = int(datetime.now(timezone.utc).timestamp())
        if context.cursor is None:
            context.update_cursor(str(now))
            return dg.SkipReason("First tick: changes are tracked from now on.")
        client = aircall.get_client()
        try:
            partitions, newest = changed_contact_partitions(
                client, settings, int(context.cursor), datetime.now(timezone.utc).date()
            )
        finally:
            client.close()
        context.update_cursor(str(newest))
        if not partitions:
            return dg.SkipReason("No contact changed since the last tick.")
        return [
            dg.RunRequest(
                run_key=f"contacts-changed:{key}:{newest}",
                partition_key=key,
                asset_selection=[asset_key(CONTACTS)],
            )
            for key in sorted(partitions)
        ]

    return _contacts_changes


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    return [build_daily_schedule(settings)] if settings.enabled_tables else []


def build_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    sensors: list[dg.SensorDefinition] = [
        # Evaluates automation conditions (e.g. unknown_callers rebuilt after calls/contacts
        # land); it follows the schedule's running/paused state like everything automatic.
        dg.AutomationConditionSensorDefinition(
            AUTOMATION_SENSOR,
            target=dg.AssetSelection.all(),
            default_status=_sensor_status(settings.schedule.running),
            minimum_interval_seconds=30,
        )
    ]
    if CONTACTS in settings.enabled_tables:
        sensors.append(build_contacts_sensor(settings))
    return sensors
