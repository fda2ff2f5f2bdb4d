"""A backfill killed with SIGKILL mid-run leaves the previous warehouse rows intact, on DuckDB and
on PostgreSQL (where the killed connection's transaction is rolled back by the server)."""

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

from aircall_assets.catalog import TABLES
from aircall_assets.simulator.config import utc_today
from aircall_assets.spool import spool_root
from aircall_assets_tests.helpers import assert_table_matches, query

CHILD = """
import os, sys
import dagster as dg
from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import TABLES
from aircall_assets.client.resource import AircallResource
from aircall_assets.settings import parse_settings
from aircall_assets.warehouse import WarehouseIOManager

first, last, db = sys.argv[1], sys.argv[2], os.environ["DB"]
warehouse = (
    WarehouseIOManager(url=db) if db.startswith("postgresql://") else WarehouseIOManager(path=db)
)
settings = parse_settings({"history_start": first})
result = dg.materialize(
    [build_extract_asset(TABLES["calls"], settings)],
    resources={
        "aircall": AircallResource(
            api_id="demo", api_token="demo", base_url=os.environ["SIM_URL"],
            requests_per_minute=int(os.environ.get("RPM", "0")), rate_window_seconds=1.0,
        ),
        "warehouse_io_manager": warehouse,
    },
    tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
)
sys.exit(0 if result.success else 1)
"""


def ts(d: date) -> int:
    return int(datetime.combine(d, datetime.min.time(), timezone.utc).timestamp())


def run_child(sim, db, first: date, last: date, rpm: int = 0) -> subprocess.Popen:
    env = {**os.environ, "SIM_URL": sim.base_url, "DB": str(db), "RPM": str(rpm)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, first.isoformat(), last.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_sigkill_during_backfill_keeps_previous_rows_and_rerun_converges(
    simulator_factory, warehouse, own_spool_dir
):
    start = utc_today() - timedelta(days=4)
    sim = simulator_factory(start_date=start, days=4, calls_per_day=300)
    db = warehouse.address
    last = start + timedelta(days=3)
    assert run_child(sim, db, start, last).wait(120) == 0
    calls = TABLES["calls"]
    truth = sim.store.calls_between(ts(start), ts(last + timedelta(days=1)))
    baseline = assert_table_matches(db, calls, truth)
    # change the data, then kill re-runs at several points (paced so they take a while)
    for call in truth[:50]:
        sim.store.update_call(call["id"], cost="1.234")
    for delay in (0.5, 1.5, 2.5, 3.5):
        child = run_child(sim, db, start, last, rpm=8)
        time.sleep(delay)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
        assert query(db, "SELECT count(*) FROM aircall.calls") == [(baseline,)]
        assert query(db, "SELECT count(*) - count(DISTINCT id) FROM aircall.calls") == [(0,)]
    assert run_child(sim, db, start, last).wait(120) == 0
    truth = sim.store.calls_between(ts(start), ts(last + timedelta(days=1)))
    assert assert_table_matches(db, calls, truth) == baseline
    assert query(db, "SELECT count(*) FROM aircall.calls WHERE cost = '1.234'") == [(50,)]
    assert not list(spool_root().iterdir()), "the landed range's spool is gone"
