"""The first hour of a user, for real: ``dagster dev`` (webserver + daemon), GraphQL, a browser.

Starts the simulator and ``dagster dev -w workspace.yaml`` on free ports with a temporary
``DAGSTER_HOME`` (pool limit 1, queued run coordinator: the demo's instance), a temporary
DuckDB file and the ``AIRCALL_*`` environment pointing at the simulator; then, through the
webserver's GraphQL API only, as the UI would:

1. launches a materialization of every table (key-based ones over the simulator's days as one
   partition-range run) and waits for the daemon to dequeue and finish them;
2. activates the demo destination (turns its sensor on), materializes
   ``aircall_reverse/unknown_callers``, and waits until the daemon's sensor tick has launched
   the reverse-sync run and the simulator lists the new contacts;
3. checks ``python -m aircall_assets status`` against the live instance;
4. opens the asset graph in headless Chromium (Debian's ``/usr/bin/chromium`` driven by
   Playwright, no browser download), checks every asset node and lineage edge, and saves the
   README's screenshot to ``docs/asset-graph.png``.

Every process group is ended at teardown, pass or fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from aircall_assets.catalog import TABLES as CATALOG
from aircall_assets.demo import INSTANCE_YAML
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.e2e.stack import (
    FINISHED,
    LOCATION,
    LOCATION_QUERY,
    REPO,
    REPOSITORY,
    RUN_QUERY,
    RUNS_QUERY,
    START_SENSOR,
    GraphQL,
    Group,
    free_port,
    launch,
    venv_bin,
    wait_for,
)

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("AIRCALL_E2E_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT = Path(os.environ.get("AIRCALL_E2E_SCREENSHOT", REPO / "docs" / "asset-graph.png"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DAYS = 5
CALLS_PER_DAY = 40
DESTINATION = "unknown_callers"
SENSOR = f"aircall_reverse_sync__{DESTINATION}"
REVERSE_SYNC_JOB = "aircall_reverse_sync"
TABLES = list(CATALOG)  # every table of the catalog, each its own asset
# Asset nodes (as the graph labels them) and the lineage edges that must be drawn.
NODES = [*TABLES, "unknown_callers", "responses", "state"]
EDGES = {
    ("calls", "unknown_callers"),
    ("contacts", "unknown_callers"),
    ("unknown_callers", "responses"),
    ("unknown_callers", "state"),
}
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
VIEWPORT = {"width": 1600, "height": 1400}  # the whole graph fits: every node is rendered


def require_browser():
    """Fail (never skip) when the browser stack is missing: CI must have it."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package "
            "(`apt-get update && apt-get install -y chromium`; .ci/run does this), or point "
            "AIRCALL_E2E_CHROMIUM at a Chromium binary."
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(
            "The playwright Python package is missing: `pip install -e '.[dev]'` installs it "
            "(no browser download is needed: the test drives Debian's chromium)."
        )


# ------------------------------------------------------------------------------- the stack


@pytest.fixture
def stack(tmp_path):
    """Simulator + ``dagster dev`` on free ports; yields what the test needs; kills both."""
    require_browser()
    groups: list[Group] = []
    start = utc_today() - timedelta(days=DAYS)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    db = tmp_path / "warehouse" / "aircall.duckdb"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRCALL_", "DAGSTER_"))}
    try:
        simulator = Group(
            "simulator",
            [
                sys.executable,
                "-m",
                "aircall_assets.simulator",
                "--port",
                "0",
                "--start-date",
                start.isoformat(),
                "--days",
                str(DAYS),
                "--calls-per-day",
                str(CALLS_PER_DAY),
                "--contacts",
                "80",
            ],
            base_env,
            tmp_path / "simulator.log",
        )
        groups.append(simulator)

        def simulator_url():
            assert simulator.alive(), f"simulator exited:\n{simulator.tail()}"
            for line in simulator.log.read_text().splitlines():
                if "listening on " in line:
                    return line.rsplit(" ", 1)[-1].strip()
            return None

        base_url = wait_for("the simulator to listen", simulator_url, timeout=60)
        port = free_port()
        env = {
            **base_env,
            "DAGSTER_HOME": str(home),
            "AIRCALL_API_BASE_URL": base_url,
            "AIRCALL_API_ID": "demo",
            "AIRCALL_API_TOKEN": "demo",
            "AIRCALL_REQUESTS_PER_MINUTE": "0",
            "AIRCALL_START_DATE": start.isoformat(),
            "AIRCALL_DUCKDB_PATH": str(db),
        }
        dev = Group(
            "dagster dev",
            [venv_bin("dagster"), "dev", "-w", "workspace.yaml", "-p", str(port)],
            env,
            tmp_path / "dagster_dev.log",
        )
        groups.append(dev)
        yield {
            "env": env,
            "port": port,
            "base_url": base_url,
            "start": start,
            "db": db,
            "dev": dev,
            "home": home,
        }
    finally:
        for group in reversed(groups):
            group.stop()
        leftovers = [g.name for g in groups if g.group_alive()]
        assert not leftovers, f"processes left running: {leftovers}"


def wait_for_location(graphql: GraphQL, dev: Group) -> dict:
    def loaded():
        assert dev.alive(), f"dagster dev exited:\n{dev.tail()}"
        data = graphql(LOCATION_QUERY)["workspaceOrError"]
        for entry in data.get("locationEntries", []):
            if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED":
                location = entry["locationOrLoadError"]
                assert location["__typename"] == "RepositoryLocation", location
                return location["repositories"][0]
        return None

    return wait_for("the code location to load in dagster dev", loaded, timeout=120, interval=1)


def wait_for_runs(graphql: GraphQL, dev: Group, run_ids: list[str], timeout: float) -> None:
    def finished():
        assert dev.alive(), f"dagster dev exited:\n{dev.tail()}"
        statuses = {}
        for run_id in run_ids:
            run = graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
            statuses[run_id] = run.get("status")
        if all(s in FINISHED for s in statuses.values()):
            return statuses
        return None

    statuses = wait_for(f"runs {run_ids} to finish", finished, timeout=timeout, interval=1)
    failed = {r: s for r, s in statuses.items() if s != "SUCCESS"}
    assert not failed, f"runs did not succeed: {failed}\n{dev.tail(80)}"


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def simulator_numbers(base_url: str) -> tuple[int, set[str]]:
    contacts = requests.get(f"{base_url}/_simulator/contacts", timeout=30).json()["contacts"]
    numbers = {digits(p["value"]) for c in contacts for p in c.get("phone_numbers") or []}
    return len(contacts), numbers


def unknown_caller_numbers(db: Path) -> list[str]:
    from aircall_assets.warehouse import Warehouse

    with Warehouse(db, lock_timeout=120).connect(read_only=True) as con:
        rows = con.execute("SELECT key FROM aircall_reverse.unknown_callers").fetchall()
        return [k for (k,) in rows]


# -------------------------------------------------------------------------------- the test


def test_dagster_dev_materializes_syncs_back_and_shows_the_lineage(stack):
    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started, 1)

    graphql = GraphQL(stack["port"])
    dev = stack["dev"]
    repository = wait_for_location(graphql, dev)
    lap("dagster dev up")
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    assert sensors.get(SENSOR) == "STOPPED", f"the destination must start inactive: {sensors}"
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]}
    assert schedules.get("aircall_daily") == "RUNNING", schedules

    # 1. Every table: key-based ones as one partition-range run, full ones whole.
    first = stack["start"].isoformat()
    last = (stack["start"] + timedelta(days=DAYS - 1)).isoformat()
    runs = [
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
    wait_for_runs(graphql, dev, runs, timeout=240)
    lap("tables loaded")

    # 2. Activate the demo destination, materialize its source, let the daemon do the rest.
    started_sensor = graphql(
        START_SENSOR,
        {
            "sensorSelector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "sensorName": SENSOR,
            }
        },
    )["startSensor"]
    assert started_sensor.get("sensorState", {}).get("status") == "RUNNING", started_sensor
    contacts_before, _ = simulator_numbers(stack["base_url"])
    source_run = launch(
        graphql, "__ASSET_JOB", assets=["aircall_reverse/unknown_callers"], run_config=IN_PROCESS
    )
    wait_for_runs(graphql, dev, [source_run], timeout=120)
    unknown = unknown_caller_numbers(stack["db"])
    assert unknown, "the simulator's inbound calls should include numbers no contact holds"
    lap("unknown_callers materialized")

    def sensor_run():
        assert dev.alive(), f"dagster dev exited:\n{dev.tail()}"
        result = graphql(
            RUNS_QUERY,
            {
                "filter": {
                    "pipelineName": REVERSE_SYNC_JOB,
                    "tags": [{"key": "dagster/sensor_name", "value": SENSOR}],
                }
            },
        )["runsOrError"]
        finished = [r for r in result["results"] if r["status"] in FINISHED]
        return finished[0] if finished else None

    run = wait_for("the sensor's reverse-sync run", sensor_run, timeout=150, interval=2)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["status"] == "SUCCESS", f"{run}\n{dev.tail(80)}"
    assert tags.get("aircall/destination") == DESTINATION

    def contacts_created():
        count, numbers = simulator_numbers(stack["base_url"])
        missing = [n for n in unknown if digits(n) not in numbers]
        return (count, numbers) if not missing else None

    count, _ = wait_for("the simulator to list the new contacts", contacts_created, timeout=30)
    assert count == contacts_before + len(unknown)
    lap("reverse sync done")

    # 3. The status command reads the live instance and warehouse while dagster dev runs.
    out = subprocess.run(
        [sys.executable, "-m", "aircall_assets", "status", "--json"],
        cwd=REPO,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    (status,) = json.loads(out.stdout)["accounts"]  # the repository's default account
    states = {t["name"]: t["state"] for t in status["tables"]}
    # every table active, child tables (which follow their parent) included
    assert set(TABLES) <= set(states) and set(states.values()) == {"active"}, states
    calls = next(t for t in status["tables"] if t["name"] == "calls")
    assert calls["rows"] == DAYS * CALLS_PER_DAY and calls["missing"] == []
    destination = next(d for d in status["destinations"] if d["name"] == DESTINATION)
    assert destination["active"] and destination["last_run_status"] == "SUCCESS"
    assert (destination["sent"], destination["rejected"], destination["failed"]) == (
        len(unknown),
        0,
        0,
    )
    lap("status checked")

    # 4. The asset graph in a real browser.
    graph = check_asset_graph(stack["port"], SCREENSHOT, stack["home"].parent / "graph.png")
    lap("asset graph checked")
    assert set(graph["nodes"]) >= set(NODES), graph
    print(f"\ne2e timings (s since dagster dev start): {timings}")


# ------------------------------------------------------------------------------ the browser

GRAPH_JS = r"""
() => {
  const nodes = [];
  for (const fo of document.querySelectorAll('svg foreignObject')) {
    const label = fo.querySelector('[class*="AssetNode_assetName"]');
    if (!label) continue;  // group boxes
    nodes.push({name: label.textContent.trim(), x: +fo.getAttribute('x'),
                y: +fo.getAttribute('y'), w: +fo.getAttribute('width'),
                h: +fo.getAttribute('height')});
  }
  const edges = [];
  for (const path of document.querySelectorAll('svg path[marker-end]')) {
    const numbers = (path.getAttribute('d') || '').match(/-?[0-9.]+/g) || [];
    if (numbers.length >= 4) {
      edges.push({x1: +numbers[0], y1: +numbers[1],
                  x2: +numbers[numbers.length - 2], y2: +numbers[numbers.length - 1]});
    }
  }
  return {nodes, edges};
}
"""


def _edge_ends(edge: dict, nodes: list[dict]) -> tuple[str | None, str | None]:
    """Which node an edge leaves (its right side) and enters (its left side, before the arrow)."""

    def inside_y(node, y):
        return node["y"] <= y <= node["y"] + node["h"]

    source = [
        n for n in nodes if abs(n["x"] + n["w"] - edge["x1"]) <= 12 and inside_y(n, edge["y1"])
    ]
    target = [n for n in nodes if -2 <= n["x"] - edge["x2"] <= 20 and inside_y(n, edge["y2"])]
    return (
        source[0]["name"] if len(source) == 1 else None,
        target[0]["name"] if len(target) == 1 else None,
    )


def check_asset_graph(port: int, screenshot: Path, failed_screenshot: Path) -> dict:
    from playwright.sync_api import sync_playwright

    groups = ",".join(f"global@global:{g}" for g in ("aircall", "aircall_reverse", "aircall_sync"))
    init = (
        # No community pop-up; every asset group expanded (the graph's "Expand all groups").
        "localStorage.setItem('communityNux', '\"1\"');"
        "localStorage.setItem('asset-graph-open-graph-nodes-global-__GLOBAL__',"
        f" JSON.stringify({{expanded: '{groups}'}}));"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(init)
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/asset-groups", timeout=60_000)
            page.wait_for_selector(
                'svg foreignObject [class*="AssetNode_assetName"]', timeout=60_000
            )

            attempts = {"n": 0}

            def drawn():
                graph = page.evaluate(GRAPH_JS)
                names = {n["name"] for n in graph["nodes"]}
                if names >= set(NODES) and len(graph["edges"]) >= len(EDGES):
                    return graph
                attempts["n"] += 1
                if attempts["n"] % 6 == 0:
                    # The graph only renders what is in view: zoom out if the layout grew.
                    page.get_by_role("img", name="zoom_out").first.click()
                return None

            try:
                graph = wait_for("every asset node and edge in the graph", drawn, timeout=30)
            except TimeoutError:
                page.screenshot(path=str(failed_screenshot))
                raise AssertionError(
                    f"the asset graph did not show every node and edge; see {failed_screenshot}"
                ) from None
            page.wait_for_timeout(1500)  # let status badges and fonts settle for the picture
            graph = page.evaluate(GRAPH_JS)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    edges = {_edge_ends(e, graph["nodes"]) for e in graph["edges"]}
    assert edges >= EDGES, f"lineage edges drawn: {sorted(map(str, edges))}"
    names = [n["name"] for n in graph["nodes"]]
    assert sorted(names) == sorted(set(names)), f"an asset is drawn twice: {names}"
    return {"nodes": names, "edges": sorted(edges, key=str)}
