"""``make demo`` and ``make dev``: the project on its embedded defaults, no Aircall account needed.

The demo starts the simulator, points the ``AIRCALL_*`` environment at it, materializes every
enabled table over the simulator's days into the warehouse (``data/aircall.duckdb``, or the
PostgreSQL database of ``AIRCALL_WAREHOUSE_URL`` when it is set) and then what is built from
them, recorded in the Dagster instance under ``.dagster_home`` so the UI shows the runs, prints
rows per table and stops. ``dev`` starts the simulator in a subprocess and ``dagster dev`` with
the same environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from aircall_assets.process_group import ProcessGroup
from aircall_assets.resources import warehouse_store
from aircall_assets.simulator import Simulator, SimulatorConfig
from aircall_assets.warehouse.facts import AccountTables, address, read_warehouse

DEMO_DAGSTER_HOME = ".dagster_home"
DEMO_DAYS = 30
SIMULATOR_PORT = 8765
SIMULATOR_LISTENING = "Aircall simulator listening on "  # its one line once it serves
WEBSERVER_PORT = 3000  # dagster dev's own default
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_SECONDS = 30.0  # for dagster dev to shut its webserver, daemon and code servers down
LOCK_TIMEOUT_SECONDS = 60.0  # the demo's own runs have ended: nothing else should hold it
INSTANCE_YAML = """\
# Written by the demo. One run at a time writes a DuckDB file: every asset and op that
# touches it sits in the pool below, limited to 1 (on PostgreSQL they are in no pool).
concurrency:
  pools:
    default_limit: 1
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
telemetry:
  enabled: false
freshness:
  enabled: true
"""


def prepare_dagster_home() -> Path:
    """``DAGSTER_HOME`` (default ``./.dagster_home``) with the pool limit configured."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEMO_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def demo_environment(base_url: str, start: date) -> dict[str, str]:
    return {
        "AIRCALL_API_BASE_URL": base_url,
        "AIRCALL_API_ID": os.environ.get("AIRCALL_API_ID", "demo"),
        "AIRCALL_API_TOKEN": os.environ.get("AIRCALL_API_TOKEN", "demo"),
        "AIRCALL_START_DATE": start.isoformat(),
        "AIRCALL_REQUESTS_PER_MINUTE": os.environ.get("AIRCALL_REQUESTS_PER_MINUTE", "0"),
    }


def check_settings(start: date) -> None:
    """Load the settings as the demo's definitions will (the history from ``start``), so that
    a broken settings file is reported before the simulator or ``dagster dev`` starts."""
    from aircall_assets.settings import START_DATE_ENV, load_settings

    os.environ[START_DATE_ENV] = start.isoformat()
    load_settings()


def simulator_config(port: int = 0) -> SimulatorConfig:
    return SimulatorConfig(
        api_id=os.environ.get("AIRCALL_API_ID", "demo"),
        api_token=os.environ.get("AIRCALL_API_TOKEN", "demo"),
        days=DEMO_DAYS,
        port=port,
    )


def run_extract(start: date, end: date) -> dict[str, int]:
    """Materialize every enabled table (key-based ones over ``[start, end]`` in one run), then
    the rest of the lineage that can be materialized (``aircall_reverse/unknown_callers``), so
    that ``make dev`` shows no asset "never materialized" but the sync's own tables, which only
    a sync writes (the demo sends nothing to Aircall)."""
    from aircall_assets.definitions import build_definitions
    from aircall_assets.schedules import FULL_JOB, KEYED_JOB
    from aircall_assets.settings import load_settings

    settings = load_settings()
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

    def run(job: dg.JobDefinition, **options: Any) -> None:
        result = job.execute_in_process(instance=instance, run_config=quiet, **options)
        assert result.success, f"the demo's run of {job.name} failed"

    extract_jobs = [job for job in defs.resolve_all_job_defs() if job.name in (KEYED_JOB, FULL_JOB)]
    for job in extract_jobs:
        tags = {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        }
        run(job, tags=tags if job.name == KEYED_JOB else None)
    extracted = {key for job in extract_jobs for key in job.asset_layer.selected_asset_keys}
    downstream = sorted(defs.resolve_asset_graph().materializable_asset_keys - extracted)
    if downstream:
        run(defs.resolve_implicit_job_def_def_for_assets(downstream), asset_selection=downstream)
    names = settings.names
    tables = tuple(
        name
        for table in settings.enabled_tables
        for name in (table.name, *(child.name for child in table.children))
    )
    return _rows_per_table(AccountTables(names.extract_schema, tables, names.sync_schema))


def _rows_per_table(account: AccountTables) -> dict[str, int]:
    """The rows of each table in the warehouse the demo wrote, read as ``make status`` does."""
    store = warehouse_store()
    facts = read_warehouse(store, [account], lock_timeout=LOCK_TIMEOUT_SECONDS)
    if facts.state != "ok":
        raise RuntimeError(
            f"the demo loaded the warehouse {address(store)} but could not read it back "
            f"({facts.state}){': ' + facts.problem if facts.problem else ''}"
        )
    rows = facts.rows_of(account)
    return {name: rows.get(name, 0) for name in account.tables}


def demo(config: SimulatorConfig | None = None) -> int:
    """The demo on the simulator's account ``config`` (by default ``simulator_config()``)."""
    config = config or simulator_config()
    check_settings(config.first_day)
    prepare_dagster_home()
    with Simulator(config) as sim:
        start = config.first_day
        end = start + timedelta(days=config.days - 1)
        os.environ.update(demo_environment(sim.base_url, start))
        print(f"Simulator on {sim.base_url}: {config.days} days from {start}", flush=True)
        counts = run_extract(start, end)
    print(f"\nWarehouse {address(warehouse_store())}:")
    width = max(map(len, counts), default=0)
    for name, rows in counts.items():
        print(f"  aircall.{name:<{width}} {rows:>7} rows")
    print("\nNext: `make dev` opens the Dagster UI on the same data.")
    return 0


def dagster_dev_command(webserver_port: int) -> list[str]:
    """``dagster dev`` on the repository's workspace, its webserver on ``webserver_port``."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    return [dagster, "dev", "-w", "workspace.yaml", "-p", str(webserver_port)]


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, _frame: object) -> None:
    raise _Stopped(signum)


def dev(port: int = SIMULATOR_PORT, webserver_port: int = WEBSERVER_PORT) -> int:
    """The simulator on ``port`` and ``dagster dev`` (UI on ``webserver_port``) until either
    ends or this process gets SIGINT (Ctrl-C) or SIGTERM; then both are stopped, whole groups,
    as Ctrl-C stops them. Returns ``dagster dev``'s exit code, or 128 + the signal's number."""
    config = simulator_config(port)
    check_settings(config.first_day)
    prepare_dagster_home()
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    groups: list[ProcessGroup] = []
    try:
        sim = ProcessGroup(
            [
                sys.executable,
                "-m",
                "aircall_assets.simulator",
                "--port",
                str(port),
                "--start-date",
                config.first_day.isoformat(),
                "--days",
                str(config.days),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        groups.append(sim)
        line = sim.process.stdout.readline().strip() if sim.process.stdout else ""
        if not line.startswith(SIMULATOR_LISTENING):
            print(f"The simulator did not start on port {port} (in use?)", file=sys.stderr)
            return 1
        base_url = line.rsplit(" ", 1)[-1]
        print(line, flush=True)
        env = {**os.environ, **demo_environment(base_url, config.first_day)}
        groups.insert(0, ProcessGroup(dagster_dev_command(webserver_port), env=env))
        return groups[0].process.wait()
    except _Stopped as stopped:
        print(f"\n{stopped}: stopping dagster dev and the simulator", flush=True)
        return 128 + stopped.signum
    finally:
        for sig in STOP_SIGNALS:  # the stop below is bounded: a second signal cannot cut it
            signal.signal(sig, signal.SIG_IGN)
        for group in groups:  # dagster dev first: its runs may be calling the simulator
            group.stop(STOP_GRACE_SECONDS)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
