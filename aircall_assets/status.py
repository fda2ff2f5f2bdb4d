"""``python -m aircall_assets status``: the integration at a glance, like Daton's integration list.

For every account of the code location (``run(accounts)``, one ``Settings`` each), per table:
its state (``pending`` until the first successful load, ``active`` once loaded while the
account's daily schedule runs, ``paused`` while it is off, ``disabled`` when the account's
settings leave the table out; a child table such as ``call_tag`` follows its parent's), the
last successful load and the last run's outcome, the rows in the account's schema, and for
key-based tables the daily partitions loaded and missing since the account's history start. Per
reverse-sync destination: whether it is activated (its sensor running), its last run and its
rows by latest outcome, sent / rejected / failed, from the account's ``<sync schema>.state``
(every single attempt is in its ``responses``). When a table's or destination's last run
failed, the one-line reason of that failure (``run_failures.py``), so that ``failure`` is never
shown without a why.

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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg

from aircall_assets.catalog import CALLS, TABLES, Table
from aircall_assets.run_failures import FailureReasons, LastFailure, utc_timestamp
from aircall_assets.schedules import daily_schedule
from aircall_assets.settings import Settings
from aircall_assets.status_text import render
from aircall_assets.warehouse import TableStore
from aircall_assets.warehouse.facts import AccountTables, WarehouseFacts, address, read_warehouse

DEFAULT_DAGSTER_HOME = ".dagster_home"
LOCK_TIMEOUT_SECONDS = 5.0


# -- what is reported ----------------------------------------------------------------------


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
class AccountStatus:
    account: str | None  # None: the default account
    label: str
    schema: str
    schedule: str | None
    schedule_running: bool
    history_start: date
    tables: list[TableStatus]
    destinations: list[DestinationStatus]

    def table(self, name: str) -> TableStatus:
        return next(t for t in self.tables if t.name == name)

    def destination(self, name: str) -> DestinationStatus:
        return next(d for d in self.destinations if d.name == name)


@dataclass
class Status:
    dagster_home: str
    instance_found: bool
    warehouse: str  # the DuckDB file, or the PostgreSQL URL with its password masked
    warehouse_state: str  # ok | missing | busy | unreachable
    calls_served_from: date | None  # the oldest day Aircall still serves calls for
    accounts: list[AccountStatus]
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

    def account(self, name: str | None = None) -> AccountStatus:
        """The account ``name`` (None: the default account)."""
        return next(a for a in self.accounts if a.account == name)


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


# -- putting it together -------------------------------------------------------------------


def collect(
    accounts: Sequence[Settings],
    defs: dg.Definitions | None = None,
    instance: dg.DagsterInstance | None = None,
    home: Path | None = None,
    warehouse: TableStore | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> Status:
    """The status of ``accounts`` (their definitions are built unless ``defs`` holds them),
    from the instance in ``home`` and the warehouse, read once for all of them."""
    from aircall_assets.definitions import build_definitions
    from aircall_assets.resources import warehouse_store

    if not accounts:
        raise ValueError("status needs the settings of at least one account")
    defs = defs or build_definitions(*accounts)
    home = home or dagster_home()
    if instance is None:
        instance = open_instance(home)
    warehouse = warehouse or warehouse_store(lock_timeout)
    facts = read_warehouse(warehouse, [_tables_of(s) for s in accounts], lock_timeout)
    reasons = FailureReasons(instance) if instance is not None else None
    return Status(
        dagster_home=str(home),
        instance_found=instance is not None,
        warehouse=address(warehouse),
        warehouse_state=facts.state,
        warehouse_problem=facts.problem,
        calls_served_from=CALLS.oldest_served_day(datetime.now(timezone.utc).date()),
        accounts=[_account_status(s, defs, instance, reasons, facts) for s in accounts],
    )


def status_tables() -> list[tuple[str, Table]]:
    """Every table status reports, with the catalog table whose asset loads it: its own, or
    for a child table (``call_tag``) its parent's, listed right after the parent."""
    return [
        (name, table)
        for table in TABLES.values()
        for name in (table.name, *(c.name for c in table.children))
    ]


def _tables_of(settings: Settings) -> AccountTables:
    names = settings.names
    enabled = {t.name for t in settings.enabled_tables}
    tables = tuple(name for name, loader in status_tables() if loader.name in enabled)
    return AccountTables(names.extract_schema, tables, names.sync_schema)


def _account_status(
    settings: Settings,
    defs: dg.Definitions,
    instance: dg.DagsterInstance | None,
    reasons: FailureReasons | None,
    facts: WarehouseFacts,
) -> AccountStatus:
    names = settings.names
    enabled = {t.name for t in settings.enabled_tables}
    schedule = daily_schedule(settings)
    schedule_def = defs.resolve_schedule_def(schedule) if enabled else None
    schedule_running = bool(schedule_def) and instigator_running(
        instance,
        schedule,
        "schedule",
        schedule_def.default_status == dg.DefaultScheduleStatus.RUNNING,
    )
    rows = facts.rows_of(_tables_of(settings))
    tables = [
        _table_status(
            settings,
            name,
            loader,
            loader.name in enabled,
            defs,
            instance,
            reasons,
            facts,
            rows,
            schedule_running,
        )
        for name, loader in status_tables()
    ]
    return AccountStatus(
        account=settings.account,
        label=names.label,
        schema=names.extract_schema,
        schedule=schedule if schedule_def else None,
        schedule_running=schedule_running,
        history_start=settings.history_start,
        tables=tables,
        destinations=_destination_statuses(settings, defs, instance, reasons, facts),
    )


def _table_status(
    settings: Settings,
    name: str,
    loader: Table,
    enabled: bool,
    defs: dg.Definitions,
    instance: dg.DagsterInstance | None,
    reasons: FailureReasons | None,
    facts: WarehouseFacts,
    rows: dict[str, int],
    schedule_running: bool,
) -> TableStatus:
    status = TableStatus(name=name, state="disabled", replication=loader.replication.value)
    if not enabled:
        return status
    key = settings.names.extract_key(name)
    partitions_def = defs.resolve_assets_def(key).partitions_def
    materialized: set[str] = set()
    if instance is not None and reasons is not None:
        records = instance.get_asset_records([key])
        entry = records[0].asset_entry if records else None
        if entry is not None:
            if entry.last_materialization_record is not None:
                status.last_load = utc_timestamp(entry.last_materialization_record.timestamp)
            status.last_run_id = entry.last_run_id
            run = instance.get_run_by_id(entry.last_run_id) if entry.last_run_id else None
            if run is not None:
                status.last_run_status = run.status.value
                if run.status == dg.DagsterRunStatus.FAILURE:
                    status.last_failure = reasons.of_asset(run, key)
        if partitions_def is not None and status.last_load is not None:
            materialized = instance.get_materialized_partitions(key)
    if facts.state == "ok":
        status.in_warehouse = name in rows
        status.rows = rows.get(name)
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
    from aircall_assets.reverse_sync.definitions import DESTINATION_TAG, ReverseSyncNames

    names = ReverseSyncNames(settings.names)
    statuses = []
    for destination in settings.destinations:
        name = names.sensor(destination.name)
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
                    job_name=names.sync_job, tags={DESTINATION_TAG: destination.name}
                ),
                limit=1,
            )
            if records:
                record = records[0]
                status.last_run_id = record.dagster_run.run_id
                status.last_run_status = record.dagster_run.status.value
                status.last_run_at = utc_timestamp(
                    record.start_time or record.create_timestamp.timestamp()
                )
                if record.dagster_run.status == dg.DagsterRunStatus.FAILURE:
                    status.last_failure = reasons.of_run(status.last_run_id)
        counts = facts.sync_of(_tables_of(settings)).get(destination.name, {})
        status.sent = counts.get("sent", 0)
        status.rejected = counts.get("rejected", 0)
        status.failed = counts.get("failed", 0)
        statuses.append(status)
    return statuses


def run(accounts: Sequence[Settings], as_json: bool = False) -> int:
    """``make status`` of ``accounts``, printed as text or JSON."""
    status = collect(accounts)
    print(json.dumps(status.as_dict(), indent=2) if as_json else render(status))
    return 0
