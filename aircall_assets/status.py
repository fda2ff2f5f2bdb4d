"""``python -m aircall_assets status``: the integration at a glance, like Daton's integration list.

Per table: its state (``pending`` until the first successful load, ``active`` once loaded while
the daily schedule runs, ``paused`` while the schedule is off, ``disabled`` when the settings
file leaves it out), the last successful load and the last run's outcome, the rows in the
warehouse, and for key-based tables the daily partitions loaded and missing since the history
start. Per reverse-sync destination: whether it is activated (its sensor running), its last run
and its rows by latest outcome, sent / rejected / failed, from ``aircall_sync.state`` (every
single attempt is in ``aircall_sync.responses``). When a table's or destination's last run
failed, the one-line reason of that failure, so that ``failure`` is never shown without a why.

Everything is read, nothing is written: the Dagster instance under ``DAGSTER_HOME`` (the same
default as ``make dev``: ``./.dagster_home``) and the warehouse ``AIRCALL_WAREHOUSE_URL`` names
(``warehouse/facts.py``): the DuckDB file, opened read-only for a few milliseconds under its
file lock so that it works while ``dagster dev`` runs, or the PostgreSQL database in a
read-only session. If a run holds what the counts need longer than ``lock_timeout`` seconds,
they are shown as unknown rather than waited for; a PostgreSQL server that cannot be reached
is said so, with the URL's password masked.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from aircall_assets.assets import asset_key
from aircall_assets.catalog import CALLS, TABLES
from aircall_assets.schedules import DAILY_SCHEDULE
from aircall_assets.settings import Settings
from aircall_assets.warehouse import TableStore
from aircall_assets.warehouse.facts import WarehouseFacts, address, read_warehouse

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

DEFAULT_DAGSTER_HOME = ".dagster_home"
LOCK_TIMEOUT_SECONDS = 5.0
# A failure's reason is cut to this many characters: one line of the status, with the table's
# name and the failure's time in front; the full message is in the run's log.
REASON_WIDTH = 100
ELLIPSIS = "..."
FAILURE_EVENTS = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}


# -- what is reported ----------------------------------------------------------------------


@dataclass
class LastFailure:
    """Why the last run failed, in one line, and when (the time of the failure event)."""

    at: datetime
    reason: str


@dataclass
class TableStatus:
    name: str
    state: str  # pending | active | paused | disabled
    replication: str
    last_load: datetime | None = None
    last_run_id: str | None = None
    last_run_status: str | None = None
    rows: int | None = None  # None: not in the warehouse, or not counted (busy)
    in_warehouse: bool | None = None  # None: the warehouse could not be read
    partitions_total: int | None = None  # None: an unpartitioned (full-replication) table
    partitions_loaded: int | None = None
    missing: list[str] = field(default_factory=list)
    last_failure: LastFailure | None = None  # only while the last run is a failure


@dataclass
class DestinationStatus:
    name: str
    source: str
    active: bool
    sensor: str | None
    last_run_id: str | None = None
    last_run_status: str | None = None
    last_run_at: datetime | None = None
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    last_failure: LastFailure | None = None  # only while the last run is a failure


@dataclass
class Status:
    dagster_home: str
    instance_found: bool
    warehouse: str  # the DuckDB file, or the PostgreSQL URL with its password masked
    warehouse_state: str  # ok | missing | busy | unreachable
    schedule: str | None
    schedule_running: bool
    history_start: date
    calls_served_from: date | None  # the oldest day Aircall still serves calls for
    tables: list[TableStatus]
    destinations: list[DestinationStatus]
    warehouse_problem: str | None = None  # why it is unreachable

    def as_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, (datetime, date)):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        return plain(asdict(self))

    def table(self, name: str) -> TableStatus:
        return next(t for t in self.tables if t.name == name)

    def destination(self, name: str) -> DestinationStatus:
        return next(d for d in self.destinations if d.name == name)


# -- reading the instance ------------------------------------------------------------------


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()


def open_instance(home: Path) -> dg.DagsterInstance | None:
    """The instance in ``home``, or None when nothing ever ran there (no ``dagster.yaml``)."""
    if not (home / "dagster.yaml").exists():
        return None
    return dg.DagsterInstance.from_config(str(home))


def instigator_running(
    instance: dg.DagsterInstance | None, name: str, instigator_type: str, default_running: bool
) -> bool:
    """Whether the schedule or sensor ``name`` runs: its stored state, else its code default.

    A state toggled in the UI (or ``dagster schedule stop``) is stored in the instance; until
    then, and while the stored status says "as declared in code", the definition's
    ``default_status`` decides.
    """
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    if instance is None:
        return default_running
    kind = InstigatorType.SCHEDULE if instigator_type == "schedule" else InstigatorType.SENSOR
    states = [s for s in instance.all_instigator_state(instigator_type=kind) if s.name == name]
    explicit = [
        s for s in states if s.status in (InstigatorStatus.RUNNING, InstigatorStatus.STOPPED)
    ]
    if not explicit:
        return default_running
    # Several code locations could declare the same name; ours is "aircall_assets".
    ours = [
        s
        for s in explicit
        if s.origin.repository_origin.code_location_origin.location_name == "aircall_assets"
    ]
    return (ours or explicit)[-1].status == InstigatorStatus.RUNNING


def _timestamp(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# -- why a run failed ------------------------------------------------------------------------


@dataclass
class RunFailureEvents:
    """A failed run's failure events: a table's reason is its own step's, if that step failed."""

    steps: dict[str, dg.EventLogEntry]  # the STEP_FAILURE of each failed step, by step key
    run: dg.EventLogEntry | None  # the RUN_FAILURE


class FailureReasons:
    """The one-line reasons of failed runs, from each run's failure events only.

    Only ``STEP_FAILURE`` and ``RUN_FAILURE`` events of a failed run are read (one query per
    run, shared by the tables that run loaded), never the run's whole log: a backfill's run
    logs thousands of events, an instance millions.
    """

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._events: dict[str, RunFailureEvents] = {}

    def _read(self, run_id: str) -> RunFailureEvents:
        if run_id not in self._events:
            failures = RunFailureEvents({}, None)
            for entry in self._instance.all_logs(run_id, of_type=FAILURE_EVENTS):
                if entry.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE:
                    failures.run = entry
                else:
                    failures.steps[entry.step_key] = entry
            self._events[run_id] = failures
        return self._events[run_id]

    def of_asset(self, run: dg.DagsterRun, key: dg.AssetKey) -> LastFailure | None:
        """Why ``run`` failed for the asset ``key``: the failure of the step that materializes
        it, else the run's failure (another step failed, or the run failed before its steps)."""
        steps: set[str] = set()
        if run.execution_plan_snapshot_id:
            plan = self._instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            steps = {
                step.key
                for step in plan.steps
                for output in step.outputs
                if output.properties is not None and output.properties.asset_key == key
            }
        return self._reason(self._read(run.run_id), steps)

    def of_run(self, run_id: str) -> LastFailure | None:
        """Why ``run_id`` failed: its first failed step, else the run's failure (for jobs of
        one op, like the reverse sync's)."""
        failures = self._read(run_id)
        return self._reason(failures, set(failures.steps))

    @staticmethod
    def _reason(failures: RunFailureEvents, steps: set[str]) -> LastFailure | None:
        failed = [entry for key, entry in failures.steps.items() if key in steps]
        if failed:
            entry = failed[0]
            data = entry.dagster_event.event_specific_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                reason = data.user_failure_data.description  # a dg.Failure raised by our code
            elif data.error is not None:
                reason = error_reason(data.error)
            else:
                reason = entry.message
        elif failures.run is not None:
            entry = failures.run
            error = entry.dagster_event.event_specific_data.error
            # When other steps failed, the run's error is theirs: its message names them.
            other_steps_failed = bool(failures.steps)
            reason = entry.message if other_steps_failed or error is None else error_reason(error)
        else:
            return None
        return LastFailure(at=_timestamp(entry.timestamp), reason=one_line(reason))


@cache
def _dagster_wrappers() -> frozenset[str]:
    """Names of the errors Dagster wraps user code's exceptions in (``Error occurred while
    handling output ...``): the reason is the exception they wrap, not them."""

    def subclasses(cls: type) -> Iterable[type]:
        yield cls
        for sub in cls.__subclasses__():
            yield from subclasses(sub)

    return frozenset(c.__name__ for c in subclasses(dg.DagsterUserCodeExecutionError))


def error_reason(error: SerializableErrorInfo) -> str:
    """The message of the error user code raised, under Dagster's wrappers.

    Its own cause is not followed: our errors are raised ``from None`` or carry what matters
    (the client says "Aircall rejected the credentials", not the HTTP library's exception).
    Dagster's and this project's messages are written for people, so their class name is
    dropped; any other keeps its short name (``KeyError: 'id'`` says more than ``'id'``).
    """
    while error.cls_name in _dagster_wrappers() and (error.cause or error.context):
        error = error.cause or error.context
    lines = [line for line in error.message.strip().splitlines() if line.strip()]
    text = lines[0].strip() if lines else error.cls_name
    prefix = re.match(rf"(?:([\w.]+)\.)?{re.escape(error.cls_name)}(?::\s*|$)", text)
    if prefix is None:
        return text
    module = prefix.group(1) or ""
    rest = text[prefix.end() :]
    if module.split(".")[0] in ("dagster", "aircall_assets"):
        return rest or error.cls_name
    return f"{error.cls_name}: {rest}" if rest else error.cls_name


def one_line(text: str, width: int = REASON_WIDTH) -> str:
    """The first line of ``text``, cut at a word before ``width`` characters, with an ellipsis."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(line) <= width:
        return line
    room = width - len(ELLIPSIS)
    cut = line.rfind(" ", 0, room + 1)
    if cut < room * 2 // 3:  # no space near the end: cut inside the word
        cut = room
    return line[:cut].rstrip(" ,;:.") + ELLIPSIS


def compress_days(keys: Sequence[str]) -> list[str]:
    """``["2026-06-01", "2026-06-02", "2026-06-05"]`` → ``["2026-06-01..2026-06-02", ...]``."""
    days = sorted(date.fromisoformat(k) for k in keys)
    ranges: list[str] = []
    start = previous = None
    for day in days:
        if previous is not None and day == previous + timedelta(days=1):
            previous = day
            continue
        if start is not None:
            ranges.append(_day_range(start, previous))
        start = previous = day
    if start is not None:
        ranges.append(_day_range(start, previous))
    return ranges


def _day_range(start: date, end: date | None) -> str:
    return start.isoformat() if end in (None, start) else f"{start}..{end}"


# -- putting it together -------------------------------------------------------------------


def collect(
    settings: Settings | None = None,
    defs: dg.Definitions | None = None,
    instance: dg.DagsterInstance | None = None,
    home: Path | None = None,
    warehouse: TableStore | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> Status:
    from aircall_assets.definitions import build_definitions
    from aircall_assets.resources import warehouse_store
    from aircall_assets.settings import load_settings

    settings = settings or load_settings()
    defs = defs or build_definitions(settings)
    home = home or dagster_home()
    if instance is None:
        instance = open_instance(home)
    warehouse = warehouse or warehouse_store(lock_timeout)
    enabled = {t.name for t in settings.enabled_tables}

    schedule_def = defs.resolve_schedule_def(DAILY_SCHEDULE) if enabled else None
    schedule_running = bool(schedule_def) and instigator_running(
        instance,
        DAILY_SCHEDULE,
        "schedule",
        schedule_def.default_status == dg.DefaultScheduleStatus.RUNNING,
    )
    facts = read_warehouse(warehouse, enabled, lock_timeout)

    reasons = FailureReasons(instance) if instance is not None else None
    tables = [
        _table_status(name, name in enabled, defs, instance, reasons, facts, schedule_running)
        for name in TABLES
    ]
    destinations = _destination_statuses(settings, defs, instance, reasons, facts)
    return Status(
        dagster_home=str(home),
        instance_found=instance is not None,
        warehouse=address(warehouse),
        warehouse_state=facts.state,
        warehouse_problem=facts.problem,
        schedule=DAILY_SCHEDULE if schedule_def else None,
        schedule_running=schedule_running,
        history_start=settings.history_start,
        calls_served_from=CALLS.oldest_served_day(datetime.now(timezone.utc).date()),
        tables=tables,
        destinations=destinations,
    )


def _table_status(
    name: str,
    enabled: bool,
    defs: dg.Definitions,
    instance: dg.DagsterInstance | None,
    reasons: FailureReasons | None,
    facts: WarehouseFacts,
    schedule_running: bool,
) -> TableStatus:
    table = TABLES[name]
    status = TableStatus(name=name, state="disabled", replication=table.replication.value)
    if not enabled:
        return status
    key = asset_key(table)
    partitions_def = defs.resolve_assets_def(key).partitions_def
    materialized: set[str] = set()
    if instance is not None and reasons is not None:
        records = instance.get_asset_records([key])
        entry = records[0].asset_entry if records else None
        if entry is not None:
            if entry.last_materialization_record is not None:
                status.last_load = _timestamp(entry.last_materialization_record.timestamp)
            status.last_run_id = entry.last_run_id
            run = instance.get_run_by_id(entry.last_run_id) if entry.last_run_id else None
            if run is not None:
                status.last_run_status = run.status.value
                if run.status == dg.DagsterRunStatus.FAILURE:
                    status.last_failure = reasons.of_asset(run, key)
        if partitions_def is not None and status.last_load is not None:
            materialized = instance.get_materialized_partitions(key)
    if facts.state == "ok":
        status.in_warehouse = name in facts.rows
        status.rows = facts.rows.get(name)
    elif facts.state == "missing":
        status.in_warehouse = False
    if partitions_def is not None:
        keys = partitions_def.get_partition_keys()
        status.partitions_total = len(keys)
        status.partitions_loaded = sum(1 for k in keys if k in materialized)
        status.missing = [k for k in keys if k not in materialized]
    loaded = status.last_load is not None and status.in_warehouse is not False
    if not schedule_running:
        status.state = "paused"
    else:
        status.state = "active" if loaded else "pending"
    return status


def _destination_statuses(
    settings: Settings,
    defs: dg.Definitions,
    instance: dg.DagsterInstance | None,
    reasons: FailureReasons | None,
    facts: WarehouseFacts,
) -> list[DestinationStatus]:
    from aircall_assets.reverse_sync.definitions import (
        DESTINATION_TAG,
        REVERSE_SYNC_JOB,
        sensor_name,
    )

    statuses = []
    for destination in settings.destinations:
        name = sensor_name(destination.name)
        sensor_def = defs.resolve_sensor_def(name)
        status = DestinationStatus(
            name=destination.name,
            source=destination.source,
            sensor=name,
            active=instigator_running(
                instance,
                name,
                "sensor",
                sensor_def.default_status == dg.DefaultSensorStatus.RUNNING,
            ),
        )
        if instance is not None and reasons is not None:
            records = instance.get_run_records(
                filters=dg.RunsFilter(
                    job_name=REVERSE_SYNC_JOB, tags={DESTINATION_TAG: destination.name}
                ),
                limit=1,
            )
            if records:
                record = records[0]
                status.last_run_id = record.dagster_run.run_id
                status.last_run_status = record.dagster_run.status.value
                status.last_run_at = _timestamp(
                    record.start_time or record.create_timestamp.timestamp()
                )
                if record.dagster_run.status == dg.DagsterRunStatus.FAILURE:
                    status.last_failure = reasons.of_run(status.last_run_id)
        counts = facts.sync.get(destination.name, {})
        status.sent = counts.get("sent", 0)
        status.rejected = counts.get("rejected", 0)
        status.failed = counts.get("failed", 0)
        statuses.append(status)
    return statuses


# -- output --------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def render(status: Status) -> str:
    lines = [
        f"Dagster instance: {status.dagster_home}"
        + ("" if status.instance_found else "  (none yet: nothing has run here)"),
        f"Warehouse:        {status.warehouse}"
        + {
            "ok": "",
            "missing": "  (not created yet)",
            "busy": "  (locked by a running load: rows not counted)",
            "unreachable": "  (unreachable: rows not counted)",
        }[status.warehouse_state],
    ]
    if status.warehouse_problem:
        lines.append(f"                  {one_line(status.warehouse_problem, width=200)}")
    if status.schedule:
        lines.append(
            f"Schedule:         {status.schedule} "
            + ("running" if status.schedule_running else "stopped (tables paused)")
        )
    lines.append(f"History start:    {status.history_start}")
    served_from = status.calls_served_from
    if served_from is not None and status.history_start < served_from:
        lines.append(
            f"Calls served:     from {served_from} on (Aircall keeps about six months); "
            "a backfill of older days keeps their rows as loaded"
        )
    lines.append("")
    header = ("TABLE", "STATE", "LAST LOAD", "LAST RUN", "ROWS", "PARTITIONS", "MISSING")
    rows = [header]
    for t in status.tables:
        if t.partitions_total is None:
            partitions = "full table" if t.state != "disabled" else "-"
        else:
            partitions = f"{t.partitions_loaded}/{t.partitions_total}"
        missing = compress_days(t.missing)
        missing_text = (
            "-"
            if not missing
            else ", ".join(missing[:3])
            + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else "")
        )
        rows.append(
            (
                t.name,
                t.state,
                _when(t.last_load) if t.state != "disabled" else "-",
                (t.last_run_status or "-").lower(),
                "-" if t.rows is None else str(t.rows),
                partitions,
                missing_text if t.partitions_total is not None else "-",
            )
        )
    lines += _columns(rows)
    lines += _failure_lines((t.name, t.last_failure) for t in status.tables)
    lines.append("")
    if not status.destinations:
        lines.append("No reverse-sync destinations in the settings file.")
    else:
        header = ("DESTINATION", "ACTIVE", "SOURCE", "LAST RUN", "SENT", "REJECTED", "FAILED")
        rows = [header]
        for d in status.destinations:
            last = "never"
            if d.last_run_id:
                last = f"{(d.last_run_status or '?').lower()} {_when(d.last_run_at)}"
            rows.append(
                (
                    d.name,
                    "yes" if d.active else "no",
                    d.source,
                    last,
                    str(d.sent),
                    str(d.rejected),
                    str(d.failed),
                )
            )
        lines += _columns(rows)
        lines += _failure_lines((d.name, d.last_failure) for d in status.destinations)
    return "\n".join(lines)


def _failure_lines(failures: Iterable[tuple[str, LastFailure | None]]) -> list[str]:
    """``calls: failed <when>: <reason>`` under a table, one per failed table or destination:
    too long for a column, and a reason read on its own line is read at all."""
    lines = [f"{name}: failed {_when(f.at)}: {f.reason}" for name, f in failures if f is not None]
    return ["", *lines] if lines else []


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def main(as_json: bool = False) -> int:
    status = collect()
    print(json.dumps(status.as_dict(), indent=2) if as_json else render(status))
    return 0
