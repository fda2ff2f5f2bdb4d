"""Our connector, through the real code path: ``dg.materialize`` of the calls asset.

Runs in the project's environment. Modes (param ``mode``):

* ``range``: one run over the partition range ``first_day``..``last_day`` (tags
  ``dagster/asset_partition_range_start/end``), as a single-run backfill does;
* ``unpartitioned``: the same client, normaliser and IO manager reading the whole range as one
  window in one unpartitioned asset (the reference for the backfill-cost case);
* ``separate_runs``: one run per partition for a sample of partitions (what Dagster does for
  a backfill without a backfill policy), timed per run;
* ``incremental``: a backfill of every table, then the daily schedule's runs on the unchanged
  account, counting the requests each table used against the pages it needed.

The timer covers the run, as Dagster times it: the instance is made before it (a run worker
loads its instance before the run starts; the naive baseline does the same, and dlt makes its
pipeline before its timer). Params: base_url, api_id, api_token, workdir, history_start,
first_day, days, rpm, rate_window, plus the mode's own. ``range`` also takes
``warehouse_url``: load into that PostgreSQL database instead of a DuckDB file (its
``aircall`` schema dropped first, unless ``keep_tables``: runs sharing one database), and
reports ``load_s``, the wall time of the warehouse's write alone (its transaction).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from datetime import date, datetime, timedelta, timezone

from _protocol import emit, fresh_db, params

warnings.filterwarnings("ignore")

import dagster as dg  # noqa: E402
import duckdb  # noqa: E402
import requests  # noqa: E402

from aircall_assets.assets import build_extract_asset  # noqa: E402
from aircall_assets.catalog import CALLS  # noqa: E402
from aircall_assets.client.resource import AircallResource  # noqa: E402
from aircall_assets.client.windows import iter_window, window_params  # noqa: E402
from aircall_assets.read_ahead import read_ahead  # noqa: E402
from aircall_assets.settings import parse_settings  # noqa: E402
from aircall_assets.warehouse import (  # noqa: E402
    ReplaceRange,
    TableLoad,
    TableStore,
    WarehouseIOManager,
    range_run_figures,
)

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _is_postgres(db: str) -> bool:
    return db.startswith("postgresql://")


def _resources(p: dict, db: str) -> dict:
    """The Aircall resource and the IO manager of ``db`` (a DuckDB file or a PostgreSQL URL)."""
    return {
        "aircall": AircallResource(
            api_id=p["api_id"],
            api_token=p["api_token"],
            base_url=p["base_url"],
            requests_per_minute=p.get("rpm", 0),
            rate_window_seconds=p.get("rate_window", 60.0),
        ),
        "warehouse_io_manager": (
            WarehouseIOManager(url=db) if _is_postgres(db) else WarehouseIOManager(path=db)
        ),
    }


def _postgres(url: str):
    """A connection to ``url``: the driver is imported by PostgreSQL runs only (it would add
    to a DuckDB run's peak RSS)."""
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _rows(db: str, table: str = "calls") -> int:
    if _is_postgres(db):
        with _postgres(db) as con:
            return con.execute(f"SELECT count(*) FROM aircall.{table}").fetchone()[0]
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM aircall.{table}").fetchone()[0]


def _fresh_warehouse(p: dict) -> str:
    """The run's warehouse, holding no earlier run's tables (see the module docstring)."""
    url = p.get("warehouse_url")
    if not url:
        return fresh_db(p["workdir"], "ours.duckdb")
    if not p.get("keep_tables"):
        with _postgres(url) as con:
            con.execute("DROP SCHEMA IF EXISTS aircall CASCADE")
    return url


def _timed_writes() -> list[float]:
    """The wall time of each warehouse write from now on (``TableStore.replace``: staging,
    merge, verification and commit), appended as each one ends."""
    durations: list[float] = []
    replace = TableStore.replace

    def timed(self, schema: str, table: str, load: TableLoad):
        started = time.perf_counter()
        try:
            return replace(self, schema, table, load)
        finally:
            durations.append(time.perf_counter() - started)

    TableStore.replace = timed
    return durations


def _last_day(p: dict) -> str:
    return (date.fromisoformat(p["first_day"]) + timedelta(days=p["days"] - 1)).isoformat()


def mode_range(p: dict) -> None:
    db = _fresh_warehouse(p)
    settings = parse_settings({"history_start": p["history_start"]})
    asset = build_extract_asset(CALLS, settings)
    instance = dg.DagsterInstance.ephemeral()
    writes = _timed_writes()
    started, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize(
        [asset],
        instance=instance,
        resources=_resources(p, db),
        tags={
            "dagster/asset_partition_range_start": p["first_day"],
            "dagster/asset_partition_range_end": _last_day(p),
        },
        run_config=QUIET,
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.success
    meta = range_run_figures(result, dg.AssetKey(["aircall", "calls"]))
    checks = [c.passed for c in result.get_asset_check_evaluations()]
    emit(
        records=_rows(db),
        wall_s=wall,
        cpu_s=cpu,
        client_requests=meta["requests"],
        rate_limited=meta["rate_limited_429s"],
        windows_split=meta["windows_split"],
        checks_passed=all(checks) and bool(checks),
        load_s=sum(writes),
    )


def mode_unpartitioned(p: dict) -> None:
    db = fresh_db(p["workdir"], "ours.duckdb")
    start = datetime.fromisoformat(p["first_day"]).replace(tzinfo=timezone.utc)
    end = start + timedelta(days=p["days"])

    @dg.asset(key=["aircall", "calls"], io_manager_key="warehouse_io_manager")
    def calls(aircall: AircallResource):
        client = aircall.get_client()
        fields = CALLS.resolve_columns(None)
        pages = read_ahead(
            page.records
            for page in iter_window(client, CALLS, int(start.timestamp()), int(end.timestamp()))
        )
        return TableLoad(
            fields=fields,
            pages=pages,
            primary_key=CALLS.primary_key,
            replace=ReplaceRange(CALLS.date_field, start, end),
        )

    instance = dg.DagsterInstance.ephemeral()
    started, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize(
        [calls], instance=instance, resources=_resources(p, db), run_config=QUIET
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.success
    emit(records=_rows(db), wall_s=wall, cpu_s=cpu)


def mode_separate_runs(p: dict) -> None:
    db = fresh_db(p["workdir"], "ours.duckdb")
    settings = parse_settings({"history_start": p["history_start"]})
    asset = build_extract_asset(CALLS, settings)
    first = date.fromisoformat(p["first_day"])
    total_days, sample = p["days"], p["sample"]
    step = max(1, total_days // sample)
    keys = [(first + timedelta(days=i)).isoformat() for i in range(0, total_days, step)][:sample]
    resources = _resources(p, db)
    instance = dg.DagsterInstance.ephemeral()
    walls = []
    cpu = time.process_time()
    for key in keys:
        started = time.perf_counter()
        result = dg.materialize(
            [asset], instance=instance, resources=resources, partition_key=key, run_config=QUIET
        )
        walls.append(time.perf_counter() - started)
        assert result.success
    emit(
        records=_rows(db),
        wall_s=sum(walls),
        cpu_s=time.process_time() - cpu,
        runs=len(walls),
        partitions=keys,
    )


def _minimum_pages(p: dict, settings, run_range: tuple[str, str]) -> dict[str, int]:
    """Pages each table needs for the scheduled run: max(1, ceil(total / 50)) for its whole
    range read as one window (the fewest any reader can spend; no window here nears the cap)."""
    from aircall_assets.client.client import AircallClient

    client = AircallClient(p["api_id"], p["api_token"], p["base_url"], requests_per_minute=0)
    first, last = (date.fromisoformat(d) for d in run_range)
    start = int(datetime.combine(first, datetime.min.time(), timezone.utc).timestamp())
    end = int(datetime.combine(last, datetime.min.time(), timezone.utc).timestamp()) + 86400
    minimum: dict[str, int] = {}
    for table in settings.enabled_tables:
        if not table.paginated:
            minimum[table.name] = 1
            continue
        query = {"per_page": 1}
        if table.is_partitioned:
            query.update(window_params(table, start, end))
        total = int(client.get(table.path, query)["meta"]["total"])
        minimum[table.name] = max(1, math.ceil(total / 50))
    client.close()
    return minimum


def mode_incremental(p: dict) -> None:
    """Backfill everything, then run what the daily schedule asks for on the same account."""
    db = fresh_db(p["workdir"], "ours.duckdb")
    os.environ.update(
        {
            "AIRCALL_API_BASE_URL": p["base_url"],
            "AIRCALL_API_ID": p["api_id"],
            "AIRCALL_API_TOKEN": p["api_token"],
            "AIRCALL_REQUESTS_PER_MINUTE": "0",
            "AIRCALL_DUCKDB_PATH": db,
        }
    )
    from aircall_assets.definitions import build_definitions
    from aircall_assets.schedules import DAILY_SCHEDULE, FULL_JOB, KEYED_JOB, lookback_range

    settings = parse_settings({"history_start": p["history_start"], "lookback_days": 3})
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    today = datetime.now(timezone.utc).date()
    backfill = defs.resolve_job_def(KEYED_JOB).execute_in_process(
        instance=instance,
        run_config=QUIET,
        tags={
            "dagster/asset_partition_range_start": p["history_start"],
            "dagster/asset_partition_range_end": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert backfill.success
    assert (
        defs.resolve_job_def(FULL_JOB)
        .execute_in_process(instance=instance, run_config=QUIET)
        .success
    )
    run_range = lookback_range(settings, today)
    minimum = _minimum_pages(p, settings, run_range)

    session = requests.Session()
    session.post(p["base_url"] + "/_simulator/reset-stats").raise_for_status()
    schedule = defs.get_schedule_def(DAILY_SCHEDULE)
    moment = datetime.combine(today, datetime.min.time(), timezone.utc) + timedelta(hours=3)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=moment)
    run_requests = schedule.evaluate_tick(context).run_requests or []
    started, cpu = time.perf_counter(), time.process_time()
    for request in run_requests:
        result = defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, run_config=QUIET, tags=request.tags
        )
        assert result.success
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = session.get(p["base_url"] + "/_simulator/stats").json()
    used = {}
    for table in settings.enabled_tables:
        used[table.name] = stats["by_path"].get(table.path, 0)
    emit(
        records=sum(_rows(db, t.name) for t in settings.enabled_tables),
        wall_s=wall,
        cpu_s=cpu,
        requests=stats["requests"],
        used=used,
        minimum=minimum,
        run_range=list(run_range),
        runs=len(run_requests),
        statuses=stats["statuses"],
    )


def mode_reverse(p: dict) -> None:
    """Create ``contacts`` contacts through the reverse sync with the rate limit on."""
    import pandas as pd

    from aircall_assets.reverse_sync.definitions import (
        REVERSE_SYNC_JOB,
        SYNC_OP,
        build_reverse_sync,
    )
    from aircall_assets.warehouse import Warehouse

    db = fresh_db(p["workdir"], "ours.duckdb")
    n = p["contacts"]
    phones = [f"+34 699 {i:06d}" for i in range(n)]
    rows = pd.DataFrame(
        {
            "id": list(range(n)),
            "first_name": ["Bench"] * n,
            "last_name": [f"Contact {i}" for i in range(n)],
            "phone_numbers": [f'[{{"label": "Work", "value": "{v}"}}]' for v in phones],
        }
    )
    Warehouse(db).replace_frame("crm", "bench_contacts", rows)
    settings = parse_settings(
        {
            "history_start": p["history_start"],
            "destinations": [
                {"name": "bench", "source": "crm.bench_contacts", "template": "create_contacts"}
            ],
        }
    )
    reverse = build_reverse_sync(settings)
    defs = dg.Definitions(assets=reverse.assets, jobs=reverse.jobs, resources=_resources(p, db))
    session = requests.Session()
    session.post(p["base_url"] + "/_simulator/reset-stats").raise_for_status()
    started, cpu = time.perf_counter(), time.process_time()
    result = defs.resolve_job_def(REVERSE_SYNC_JOB).execute_in_process(
        run_config={**QUIET, "ops": {SYNC_OP: {"config": {"destination": "bench"}}}},
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.success
    contacts = session.get(p["base_url"] + "/_simulator/contacts").json()["contacts"]
    created = [c["last_name"] for c in contacts if c.get("first_name") == "Bench"]
    emit(
        records=len(set(created)),
        created=len(created),
        duplicates=len(created) - len(set(created)),
        wall_s=wall,
        cpu_s=cpu,
    )


def main() -> None:
    p = params()
    {
        "range": mode_range,
        "unpartitioned": mode_unpartitioned,
        "separate_runs": mode_separate_runs,
        "incremental": mode_incremental,
        "reverse": mode_reverse,
    }[p["mode"]](p)


if __name__ == "__main__":
    main()
