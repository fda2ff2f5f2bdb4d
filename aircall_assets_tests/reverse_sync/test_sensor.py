"""One run per source materialization: the asset sensor, and the whole demo flow through it."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from aircall_assets.account import DEFAULT_ACCOUNT
from aircall_assets.reverse_sync.definitions import ReverseSyncNames, build_reverse_sync
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.reverse_sync.helpers import (
    contacts_with,
    job_defs,
    output_metadata,
    settings_with,
)
from aircall_assets_tests.reverse_sync.test_unknown_callers import (
    load_extracts,
    materialize_unknown,
)

DEMO = {
    "name": "unknown_callers",
    "source": "aircall_reverse/unknown_callers",
    "template": "create_contacts",
}
SOURCE = dg.AssetKey(["aircall_reverse", "unknown_callers"])
NAMES = ReverseSyncNames(DEFAULT_ACCOUNT)


def tick(sensor, instance, defs, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return sensor.evaluate_tick(context)


def test_the_sensor_starts_stopped_and_fires_once_per_materialization(sim, db):
    settings = settings_with(
        DEMO, {"name": "other", "source": "crm.people", "template": "create_contacts"}
    )
    defs = job_defs(settings, sim, db)
    sensor = defs.resolve_sensor_def(NAMES.sensor("unknown_callers"))
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED  # "Activate" = turn it on
    assert sensor.job_name == NAMES.sync_job
    instance = dg.DagsterInstance.ephemeral()

    first = tick(sensor, instance, defs, None)
    assert not first.run_requests

    instance.report_runless_asset_event(dg.AssetMaterialization(SOURCE))
    second = tick(sensor, instance, defs, first.cursor)
    (request,) = second.run_requests
    record = instance.fetch_materializations(SOURCE, limit=1).records[0]
    assert request.run_key == str(record.storage_id)
    assert request.run_config == {
        "ops": {NAMES.sync_op: {"config": {"destination": "unknown_callers"}}}
    }
    assert request.tags["aircall/destination"] == "unknown_callers"

    assert not tick(sensor, instance, defs, second.cursor).run_requests  # same event: nothing
    # Evaluated again from the old cursor (a retried tick): the same run key, so no new run.
    assert [r.run_key for r in tick(sensor, instance, defs, first.cursor).run_requests] == [
        request.run_key
    ]

    # Two materializations between ticks: one run, for the latest (the sync pushes the table).
    instance.report_runless_asset_event(dg.AssetMaterialization(SOURCE))
    instance.report_runless_asset_event(dg.AssetMaterialization(SOURCE))
    third = tick(sensor, instance, defs, second.cursor)
    (latest,) = third.run_requests
    newest = instance.fetch_materializations(SOURCE, limit=1).records[0]
    assert latest.run_key == str(newest.storage_id) != request.run_key
    assert not tick(sensor, instance, defs, third.cursor).run_requests

    other = defs.resolve_sensor_def(NAMES.sensor("other"))
    assert not tick(other, instance, defs, None).run_requests  # other source: not triggered


def test_calls_and_contacts_to_unknown_callers_to_sensor_to_aircall(simulator_factory, each_db):
    start = utc_today() - timedelta(days=2)
    sim = simulator_factory(seed=8, start_date=start, days=2, calls_per_day=40, contacts=30)
    instance = dg.DagsterInstance.ephemeral()
    load_extracts(sim, each_db, start, 2, instance=instance)
    assert materialize_unknown(each_db, instance=instance).success
    from aircall_assets_tests.helpers import query

    numbers = [k for (k,) in query(each_db, "SELECT key FROM aircall_reverse.unknown_callers")]
    assert numbers

    settings = settings_with(DEMO)
    defs = job_defs(settings, sim, each_db)
    sensor = defs.resolve_sensor_def(NAMES.sensor("unknown_callers"))
    result = tick(sensor, instance, defs, None)
    (request,) = result.run_requests
    run = defs.get_job_def(NAMES.sync_job).execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags
    )
    assert run.success
    assert output_metadata(run)["sent"] == len(numbers)
    assert set(contacts_with(sim, numbers).values()) == {1}
    events = instance.fetch_materializations(dg.AssetKey(["aircall_sync", "responses"]), limit=5)
    assert len(events.records) == 1

    # The asset is materialized again (e.g. the next daily load): a new event, a new run,
    # and nothing is sent twice.
    assert materialize_unknown(each_db, instance=instance).success
    (again,) = tick(sensor, instance, defs, result.cursor).run_requests
    assert again.run_key != request.run_key
    second = defs.get_job_def(NAMES.sync_job).execute_in_process(
        run_config=again.run_config, instance=instance
    )
    assert second.success
    assert output_metadata(second)["unchanged"] == len(numbers)
    assert set(contacts_with(sim, numbers).values()) == {1}


def test_no_destination_no_jobs_but_the_demo_asset_stays():
    reverse = build_reverse_sync(settings_with())
    assert [a.key for a in reverse.assets] == [SOURCE]
    assert reverse.jobs == [] and reverse.sensors == []
