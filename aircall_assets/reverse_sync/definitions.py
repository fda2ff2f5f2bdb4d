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

The sync and test-send ops (``ops.py``) are not in the ``aircall_duckdb`` pool that serialises
the extracts on DuckDB: a sync waits on Aircall's rate budget for hours and uses the warehouse
only for a moment at a time (its plan at the start, then one short transaction per request, see
``record.py``), so holding a pool slot for its whole run would queue every extract behind it,
the very wait this design removes. What they need instead is one run per destination at a time
(``SyncWarehouse.destination_lock``). Which database the warehouse is, DuckDB or PostgreSQL, is
``store.py``'s business: nothing here depends on it.
"""

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from aircall_assets.account import Account
from aircall_assets.catalog import CALLS, CONTACTS
from aircall_assets.resources import warehouse_kind
from aircall_assets.reverse_sync.destinations import Destination
from aircall_assets.reverse_sync.ops import build_sync_op, build_test_send_op
from aircall_assets.reverse_sync.state import (
    RESPONSE_COLUMNS,
    RESPONSES_TABLE,
    STATE_COLUMNS,
    STATE_TABLE,
)
from aircall_assets.reverse_sync.unknown_callers import build_unknown_callers_asset
from aircall_assets.settings import Settings

# The default account's names; a named account's are these suffixed (``ReverseSyncNames``).
REVERSE_SYNC_JOB = "aircall_reverse_sync"
TEST_SEND_JOB = "aircall_reverse_test_send"
SYNC_OP = "reverse_sync"
TEST_SEND_OP = "test_send"
SENSOR_PREFIX = "aircall_reverse_sync__"
DESTINATION_TAG = "aircall/destination"


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


def _schema(columns: dict[str, str]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(n, t.replace(" NOT NULL", "")) for n, t in columns.items()]
    )


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
    sync_op = build_sync_op(settings, names)
    test_op = build_test_send_op(settings, names)

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
