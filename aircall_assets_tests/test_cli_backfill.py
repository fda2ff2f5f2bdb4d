"""The documented CLI backfill works as written, as one run, against the simulator."""

import os
import subprocess
import sys
from datetime import date, datetime, timezone

import dagster as dg

from aircall_assets.catalog import TABLES
from aircall_assets_tests.helpers import assert_table_matches, query


def ts(d: date) -> int:
    return int(datetime.combine(d, datetime.min.time(), timezone.utc).timestamp())


def test_partition_range_backfill_from_the_cli_is_one_run(simulator_factory, tmp_path):
    sim = simulator_factory(start_date=date(2026, 5, 28), days=40, calls_per_day=15, contacts=20)
    db = tmp_path / "aircall.duckdb"
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "AIRCALL_API_BASE_URL": sim.base_url,
        "AIRCALL_API_ID": "demo",
        "AIRCALL_API_TOKEN": "demo",
        "AIRCALL_REQUESTS_PER_MINUTE": "0",
        "AIRCALL_DUCKDB_PATH": str(db),
        "AIRCALL_START_DATE": "2026-06-01",
    }
    # exactly the command of the README and of issue 3
    command = "dagster asset materialize -m aircall_assets --select aircall/calls --partition-range 2026-06-01...2026-06-30".split()  # noqa: E501, SIM905
    out = subprocess.run(
        [sys.executable, "-m", *command], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    # the first partition also owns everything older than the history start
    truth = sim.store.calls_between(0, ts(date(2026, 7, 1)))
    assert assert_table_matches(db, TABLES["calls"], truth) == 34 * 15
    assert query(db, "SELECT min(started_at)::DATE FROM aircall.calls") == [(date(2026, 5, 28),)]
    instance = dg.DagsterInstance.from_config(str(home))
    assert len(instance.get_runs()) == 1, "a backfill of any range is one run"
    materialized = instance.get_materialized_partitions(dg.AssetKey(["aircall", "calls"]))
    assert len(materialized) == 30 and "2026-06-30" in materialized
