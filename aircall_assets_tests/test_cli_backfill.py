"""The documented CLI backfill works as written, as one run, against the simulator."""

from datetime import date, datetime, timedelta, timezone

import dagster as dg

from aircall_assets.catalog import TABLES
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.helpers import (
    assert_table_matches,
    cli_environment,
    materialize_cli,
    query,
)


def ts(d: date) -> int:
    return int(datetime.combine(d, datetime.min.time(), timezone.utc).timestamp())


def test_partition_range_backfill_from_the_cli_is_one_run(simulator_factory, tmp_path):
    # Dated from today: the simulator, like Aircall, serves about six months back from now.
    history = utc_today() - timedelta(days=36)
    last = history + timedelta(days=29)
    sim = simulator_factory(
        start_date=history - timedelta(days=4), days=40, calls_per_day=15, contacts=20
    )
    env = cli_environment(sim, tmp_path, history)
    db = env["AIRCALL_DUCKDB_PATH"]
    materialize_cli(env, "aircall/calls", history, last)
    # the first partition also owns everything older than the history start
    truth = sim.store.calls_between(0, ts(last + timedelta(days=1)))
    assert assert_table_matches(db, TABLES["calls"], truth) == 34 * 15
    assert query(db, "SELECT min(started_at)::DATE FROM aircall.calls") == [
        (history - timedelta(days=4),)
    ]
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    assert len(instance.get_runs()) == 1, "a backfill of any range is one run"
    materialized = instance.get_materialized_partitions(dg.AssetKey(["aircall", "calls"]))
    assert len(materialized) == 30 and last.isoformat() in materialized


def test_steps_in_parallel_processes_share_one_budget_and_get_no_429(simulator_factory, tmp_path):
    """The README's backfill of the four key-based tables, at the limit, under Dagster's
    default multiprocess executor: each step is a process, and all draw from one budget."""
    limit, window = 8, 2
    history = utc_today() - timedelta(days=5)
    last = history + timedelta(days=3)
    sim = simulator_factory(
        start_date=history,
        days=4,
        calls_per_day=150,
        contacts=120,
        rpm=limit,
        rate_window_seconds=window,
    )
    env = cli_environment(
        sim,
        tmp_path,
        history,
        AIRCALL_REQUESTS_PER_MINUTE=str(limit),
        AIRCALL_RATE_WINDOW_S=str(window),
        AIRCALL_BUDGET_DIR=str(tmp_path / "budgets"),
    )
    keyed = "aircall/users,aircall/numbers,aircall/contacts,aircall/calls"
    materialize_cli(env, keyed, history, last)
    assert sim.stats.rate_limited == 0
    db = env["AIRCALL_DUCKDB_PATH"]
    assert assert_table_matches(db, TABLES["calls"], sim.store.calls_between(0, ts(utc_today())))
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    (run,) = instance.get_runs()
    step_pids = {
        entry.dagster_event.pid
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
    }
    assert len(step_pids) == 4, "each step ran in a process of its own"
