"""A deployment that runs many things at once, on PostgreSQL from end to end.

The Dagster instance keeps its runs, events and schedules in PostgreSQL (``dagster-postgres``),
the daemon dequeues up to four runs at once (queued run coordinator, each run its own process,
as on Kubernetes where each is a pod), and the warehouse is a PostgreSQL database too. The
webserver and the daemon are separate processes, as a deployment runs them.

After a first load, the simulator changes (calls edited on old days and yesterday, contacts
edited), then four things are launched at the same moment through the webserver's GraphQL API,
as the UI would: a backfill of calls over every day, the daily schedule's runs (its dry run's
requests: the UI's "Test schedule" then "Launch all"), the contacts-change sensor's runs (the
same, from a cursor before the edits) and a reverse sync of the demo destination. Every run
must succeed with at least four in flight together, the warehouse must equal the simulator cell
by cell, and the reverse sync must have created every unknown caller exactly once.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from aircall_assets.catalog import TABLES
from aircall_assets.reverse_sync.definitions import REVERSE_SYNC_JOB, SYNC_OP
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.e2e.stack import (
    ALL_RUNS_QUERY,
    BACKFILL_QUERY,
    FINISHED,
    LAUNCH_BACKFILL,
    LOCATION,
    LOCATION_QUERY,
    REPO,
    SCHEDULE_DRY_RUN,
    SENSOR_DRY_RUN,
    GraphQL,
    Group,
    free_port,
    launch,
    selector,
    venv_bin,
    wait_for,
)
from aircall_assets_tests.helpers import assert_table_matches, query
from aircall_assets_tests.postgres import fresh_database

pytestmark = pytest.mark.e2e

DAYS = 6
CALLS_PER_DAY = 40
MAX_CONCURRENT_RUNS = 4
DESTINATION = "unknown_callers"
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}  # the first load: setup, not the test
SYNC_CONFIG = {"ops": {SYNC_OP: {"config": {"destination": DESTINATION}}}}

INSTANCE_YAML = f"""\
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {MAX_CONCURRENT_RUNS}
telemetry:
  enabled: false
"""


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def created(record: dict) -> float:
    value = record["created_at"]
    if isinstance(value, (int, float)):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def ts(day) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc).timestamp())


@pytest.fixture
def deployment(tmp_path, simulator_factory, postgres_url):
    """Simulator, PostgreSQL instance + warehouse, webserver and daemon; everything stopped."""
    start = utc_today() - timedelta(days=DAYS)
    sim = simulator_factory(
        seed=7, start_date=start, days=DAYS, calls_per_day=CALLS_PER_DAY, contacts=80
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    groups: list[Group] = []
    with fresh_database(postgres_url) as instance_url, fresh_database(postgres_url) as wh_url:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRCALL_", "DAGSTER_"))}
        env = {
            **base,
            "DAGSTER_HOME": str(home),
            # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which dagster-postgres's
            # storage does not support: name the driver it is built for.
            "DAGSTER_PG_URL": instance_url.replace("postgresql://", "postgresql+psycopg2://"),
            "AIRCALL_WAREHOUSE_URL": wh_url,
            "AIRCALL_DUCKDB_PATH": str(tmp_path / "never.duckdb"),
            "AIRCALL_BUDGET_DIR": os.environ["AIRCALL_BUDGET_DIR"],
            "AIRCALL_SPOOL_DIR": str(tmp_path / "spool"),
            "AIRCALL_API_BASE_URL": sim.base_url,
            "AIRCALL_API_ID": sim.config.api_id,
            "AIRCALL_API_TOKEN": sim.config.api_token,
            "AIRCALL_REQUESTS_PER_MINUTE": "0",
            "AIRCALL_START_DATE": start.isoformat(),
        }
        port = free_port()
        try:
            workspace = ["-w", str(REPO / "workspace.yaml")]
            for name, argv in (
                ("webserver", [venv_bin("dagster-webserver"), *workspace, "-p", str(port)]),
                ("daemon", [venv_bin("dagster-daemon"), "run", *workspace]),
            ):
                groups.append(Group(name, argv, env, tmp_path / f"{name}.log"))
            yield {
                "sim": sim,
                "env": env,
                "graphql": GraphQL(port),
                "groups": groups,
                "home": home,
                "start": start,
                "warehouse": wh_url,
                "tmp": tmp_path,
            }
        finally:
            for group in reversed(groups):
                group.stop()
            leftovers = [g.name for g in groups if g.group_alive()]
            assert not leftovers, f"processes left running: {leftovers}"


# ------------------------------------------------------------------------- GraphQL steps


def launch_requests(graphql: GraphQL, evaluation: dict) -> list[str]:
    """Launch every run request of a dry-run tick, as the UI's "Launch all" does."""
    assert not evaluation.get("error"), evaluation["error"]
    requests = evaluation.get("runRequests") or []
    assert requests, f"the tick requested no run: {evaluation.get('skipReason')}"
    return [
        launch(
            graphql,
            request["jobName"] or "__ASSET_JOB",
            tags={t["key"]: t["value"] for t in request["tags"]},
            run_config=yaml.safe_load(request["runConfigYaml"]) or {},
            assets=["/".join(a["path"]) for a in request["assetSelection"] or []],
        )
        for request in requests
    ]


def dry_run(graphql: GraphQL, mutation: str, field: str, **variables) -> dict:
    result = graphql(mutation, variables)[field]
    assert result["__typename"] == "DryRunInstigationTick", result
    return result["evaluationResult"]


def location_loaded(graphql: GraphQL) -> bool:
    entries = graphql(LOCATION_QUERY)["workspaceOrError"].get("locationEntries", [])
    return any(e["name"] == LOCATION and e["loadStatus"] == "LOADED" for e in entries)


def all_runs(graphql: GraphQL) -> list[dict]:
    return graphql(ALL_RUNS_QUERY)["runsOrError"]["results"]


def wait_until_quiet(deployment: dict, backfill_id: str | None, timeout: float) -> list[dict]:
    """Every run finished (the automation sensor's included), the backfill done, and nothing
    new launched for a few seconds; the runs."""
    graphql, groups = deployment["graphql"], deployment["groups"]
    seen: dict[str, int] = {"count": -1, "since": 0}

    def quiet():
        for group in groups:
            assert group.alive(), f"{group.name} exited:\n{group.tail()}"
        if backfill_id:
            backfill = graphql(BACKFILL_QUERY, {"backfillId": backfill_id})
            if backfill["partitionBackfillOrError"]["status"] == "REQUESTED":
                return None
        runs = all_runs(graphql)
        if any(r["status"] not in FINISHED for r in runs):
            return None
        if len(runs) != seen["count"]:
            seen.update(count=len(runs), since=time.monotonic())
            return None
        return runs if time.monotonic() - seen["since"] > 8 else None

    return wait_for("every run to finish", quiet, timeout=timeout, interval=1)


def most_in_flight(runs: list[dict]) -> int:
    """The largest number of runs that were executing at one moment."""
    edges = sorted(
        [(r["startTime"], 1) for r in runs if r["startTime"]]
        + [(r["endTime"], -1) for r in runs if r["startTime"] and r["endTime"]],
        key=lambda edge: (edge[0], edge[1]),
    )
    best = current = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best


# -------------------------------------------------------------------------------- the test


def test_concurrent_backfill_schedule_sensor_and_sync_on_postgres(deployment):
    graphql, sim, env = deployment["graphql"], deployment["sim"], deployment["env"]
    began = time.monotonic()
    laps: dict[str, float] = {}

    def lap(name: str) -> None:
        laps[name] = round(time.monotonic() - began, 1)

    wait_for("the webserver to load the code location", lambda: location_loaded(graphql), 40)
    start, today = deployment["start"], utc_today()
    first, last = start.isoformat(), (today - timedelta(days=1)).isoformat()

    # A first load of everything, then the source of the destination.
    initial = [
        launch(
            graphql,
            "aircall_keyed_tables_job",
            tags={
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            },
            run_config=IN_PROCESS,
        ),
        launch(graphql, "aircall_full_tables_job", run_config=IN_PROCESS),
    ]
    runs = wait_until_quiet(deployment, None, timeout=300)
    lap("first load")
    assert {r["runId"] for r in runs} >= set(initial)
    source = launch(
        graphql,
        "__ASSET_JOB",
        assets=["aircall_reverse/unknown_callers"],
        run_config=IN_PROCESS,
    )
    runs = wait_until_quiet(deployment, None, timeout=180)
    lap("unknown_callers")
    failed = [r for r in runs if r["status"] != "SUCCESS"]
    assert not failed and source in {r["runId"] for r in runs}, failed
    unknown = [
        k
        for (k,) in query(
            deployment["warehouse"], "SELECT key FROM aircall_reverse.unknown_callers"
        )
    ]
    assert unknown, "the simulator's inbound calls should include numbers no contact holds"
    contacts_before = len(sim.store.all("contacts"))

    # The account changes: old days and yesterday edited, contacts edited.
    cursor = str(int(time.time()) - 1)
    for day in (start, today - timedelta(days=1)):
        for call in sim.store.calls_between(ts(day), ts(day + timedelta(days=1)))[:3]:
            sim.store.update_call(call["id"], duration=call["duration"] + 1000)
    for contact in sim.store.all("contacts")[:5]:
        sim.store.update_contact(contact["id"], information="edited during the e2e")

    # Four things at the same moment.
    backfill = graphql(
        LAUNCH_BACKFILL,
        {
            "backfillParams": {
                "assetSelection": [{"path": ["aircall", "calls"]}],
                "allPartitions": True,
            }
        },
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    daily = dry_run(
        graphql,
        SCHEDULE_DRY_RUN,
        "scheduleDryRun",
        selectorData=selector(scheduleName="aircall_daily"),
        timestamp=float(ts(today) + 6 * 3600),
    )
    contacts = dry_run(
        graphql,
        SENSOR_DRY_RUN,
        "sensorDryRun",
        selectorData=selector(sensorName="aircall_contacts_changes"),
        cursor=cursor,
    )
    launched = launch_requests(graphql, daily) + launch_requests(graphql, contacts)
    launched.append(
        launch(
            graphql,
            REVERSE_SYNC_JOB,
            tags={"aircall/destination": DESTINATION},
            run_config=SYNC_CONFIG,
        )
    )
    runs = wait_until_quiet(deployment, backfill["backfillId"], timeout=600)
    lap("concurrent runs")
    for r in sorted(runs, key=lambda r: r["startTime"] or 0):
        print(
            r["jobName"],
            r["status"],
            round((r["startTime"] or 0) % 10000, 1),
            round((r["endTime"] or 0) % 10000, 1),
        )

    failed = [(r["jobName"], r["status"]) for r in runs if r["status"] != "SUCCESS"]
    assert not failed, failed
    concurrent = [r for r in runs if r["startTime"] and r["startTime"] >= time.time() - 3600]
    assert set(launched) <= {r["runId"] for r in runs}
    assert any(
        ("dagster/backfill", backfill["backfillId"]) in {(t["key"], t["value"]) for t in r["tags"]}
        for r in runs
    )
    assert most_in_flight(concurrent) >= MAX_CONCURRENT_RUNS
    for group in deployment["groups"]:
        log = group.log.read_text(errors="replace")
        for sign in ("deadlock detected", "could not obtain lock", "database is locked"):
            assert sign not in log, f"{group.name}: {sign}"

    # The warehouse equals the simulator, cell by cell.
    wh = deployment["warehouse"]
    assert_table_matches(wh, TABLES["calls"], sim.store.calls_between(0, ts(today)))
    served_contacts = [c for c in sim.store.all("contacts") if created(c) < ts(today)]
    assert_table_matches(wh, TABLES["contacts"], served_contacts)
    for name in ("users", "tags", "numbers", "teams"):
        assert_table_matches(wh, TABLES[name], sim.store.all(name))
    assert_table_matches(wh, TABLES["company_info"], [sim.store.company()])

    # Every unknown caller became a contact exactly once.
    contacts_after = sim.store.all("contacts")
    assert len(contacts_after) == contacts_before + len(unknown)
    held = [digits(p["value"]) for c in contacts_after for p in c.get("phone_numbers") or []]
    holders = [held.count(digits(number)) for number in unknown]
    assert holders == [1] * len(unknown)
    states = query(wh, "SELECT status, count(*) FROM aircall_sync.state GROUP BY status")
    assert states == [("sent", len(unknown))]

    # Nothing went to a DuckDB file or to SQLite: the instance and the warehouse are PostgreSQL.
    assert not Path(env["AIRCALL_DUCKDB_PATH"]).exists()
    assert not list(deployment["home"].rglob("*.db")), list(deployment["home"].rglob("*.db"))
    print(f"\nruns: {len(runs)}, most in flight at once: {most_in_flight(concurrent)}; {laps}")
