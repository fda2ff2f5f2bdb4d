"""The code location exposes the reverse sync as the contract says: names, pools, statuses."""

from __future__ import annotations

import dagster as dg

from aircall_assets.definitions import defs as code_location
from aircall_assets.resources import DUCKDB_POOL
from aircall_assets.reverse_sync.definitions import (
    REVERSE_SYNC_JOB,
    SYNC_OP,
    TEST_SEND_JOB,
    TEST_SEND_OP,
)

defs = code_location()  # the repository's code location, as Dagster loads it


def test_jobs_ops_and_pool():
    sync = defs.resolve_job_def(REVERSE_SYNC_JOB)
    test = defs.resolve_job_def(TEST_SEND_JOB)
    # Outside the extracts' pool: a sync that waits hours on Aircall must not hold its slot.
    assert sync.graph.node_named(SYNC_OP).definition.pool is None
    assert test.graph.node_named(TEST_SEND_OP).definition.pool is None
    assert defs.resolve_assets_def(dg.AssetKey(["aircall", "calls"])).op.pool == DUCKDB_POOL
    fields = sync.graph.node_named(SYNC_OP).definition.config_schema.config_type.fields
    assert {"destination", "dry_run", "sample_size", "resend_uncertain"} <= set(fields)


def test_demo_destination_sensor_is_defined_and_stopped():
    sensor = defs.resolve_sensor_def("aircall_reverse_sync__unknown_callers")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.asset_key == dg.AssetKey(["aircall_reverse", "unknown_callers"])


def test_response_tables_are_assets_in_lineage():
    graph = defs.resolve_asset_graph()
    responses_key = dg.AssetKey(["aircall_sync", "responses"])
    for key in (responses_key, dg.AssetKey(["aircall_sync", "state"])):
        node = graph.get(key)
        assert node.group_name == "aircall_sync"
        assert dg.AssetKey(["aircall_reverse", "unknown_callers"]) in node.parent_keys
    columns = graph.get(responses_key).metadata["dagster/column_schema"].columns
    assert [c.name for c in columns][:8] == [
        "destination",
        "row_key",
        "run_id",
        "request_id",
        "mode",
        "method",
        "path",
        "status",
    ]
