"""Scenario 3: runs and a backfill launched at once on one DuckDB file all succeed.

Separate processes, exactly as users start them: ``dagster asset materialize -m aircall_assets``
with the ``AIRCALL_*`` environment, a shared ``DAGSTER_HOME`` configured like the demo's (one
slot in the warehouse pool), single partitions, overlapping partition ranges and the full
tables, all started in the same instant. Every process must exit 0, none may print "Could not
set lock on file", and the warehouse must then equal the fault-free extract cell for cell.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from aircall_assets.demo import INSTANCE_YAML
from reliability import account
from reliability.compare import compare_warehouses
from reliability.extract import child_env
from reliability.profiles import Profile
from reliability.report import ScenarioResult
from reliability.scenarios.faults import baseline

LOCK_ERRORS = ("Could not set lock on file", "Conflicting lock is held", "database is locked")
TIMEOUT = 900


def commands(profile: Profile, n: int) -> tuple[list[list[str]], set[str]]:
    """The first ``n`` of a list of overlapping materializations, and the tables they load
    whole (a whole-range backfill or an unpartitioned table): those are compared."""
    first, last = profile.start, profile.last
    day = [first + timedelta(days=i) for i in range(profile.days)]
    whole = f"{first.isoformat()}...{last.isoformat()}"
    runs = [
        ["--select", "aircall/calls", "--partition-range", whole],  # the backfill
        ["--select", "aircall/calls", "--partition", day[min(1, len(day) - 1)].isoformat()],
        ["--select", "aircall/tags,aircall/teams,aircall/company_info"],
        ["--select", "aircall/contacts,aircall/users,aircall/numbers", "--partition-range", whole],
        ["--select", "aircall/contacts", "--partition", first.isoformat()],
        ["--select", "aircall/calls", "--partition-range", f"{first}...{day[len(day) // 2]}"],
        ["--select", "aircall/users,aircall/numbers", "--partition", last.isoformat()],
        ["--select", "aircall/tags"],
        ["--select", "aircall/calls", "--partition", last.isoformat()],
        ["--select", "aircall/teams,aircall/company_info"],
    ]
    while len(runs) < n:
        runs.append(runs[len(runs) % 10])
    chosen = runs[:n]
    whole_tables = set()
    for args in chosen:
        if "--partition" not in args and ("--partition-range" not in args or whole in args):
            whole_tables |= {key.split("/")[1] for key in args[1].split(",")}
    cli = [["dagster", "asset", "materialize", "-m", "aircall_assets", *r] for r in chosen]
    return cli, whole_tables


ROUNDS = {
    "pool": ("the demo's instance: warehouse pool limited to 1", INSTANCE_YAML),
    "flock": (
        "a default instance: no pool limit, the file lock alone",
        "telemetry:\n  enabled: false\n",
    ),
}


def _round(profile: Profile, work: Path, sim, instance_yaml: str, result: ScenarioResult) -> Path:
    """Start every command at once against a fresh warehouse; returns its path."""
    import dagster as dg

    work.mkdir(parents=True, exist_ok=True)
    home = work / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml)
    # Create the instance's SQLite storage first: processes initialising a fresh DAGSTER_HOME
    # at the same instant race on Dagster's own schema migration ("table runs already exists").
    dg.DagsterInstance.from_config(str(home)).dispose()
    settings = work / "aircall.yaml"
    settings.write_text(f"history_start: {profile.start.isoformat()}\n")
    db = work / "aircall.duckdb"
    env = child_env(
        sim.base_url,
        account.API_ID,
        account.API_TOKEN,
        DAGSTER_HOME=str(home),
        AIRCALL_SETTINGS=str(settings),
        AIRCALL_DUCKDB_PATH=str(db),
        AIRCALL_REQUESTS_PER_MINUTE="0",
    )
    dagster = str(Path(sys.executable).with_name("dagster"))
    procs = []
    launched, _ = commands(profile, profile.concurrent_runs)
    for index, command in enumerate(launched):
        log = open(work / f"run-{index}.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([dagster, *command[1:]], env=env, cwd=work, stdout=log, stderr=log)
        procs.append((command, log, proc))
    for command, log, proc in procs:
        try:
            code = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
        result.runs += 1
        text = Path(log.name).read_text(errors="replace")
        selection = " ".join(command[5:])
        result.check(code == 0, f"{work.name}: `{selection}` exited {code}: {text[-800:]}")
        for needle in LOCK_ERRORS:
            result.check(needle not in text, f"{work.name}: `{selection}` printed {needle!r}")
    return db


def run_concurrency(
    profile: Profile, workdir: Path, rounds: tuple[str, ...] | None = None
) -> ScenarioResult:
    result = ScenarioResult("concurrency")
    began = time.monotonic()
    reference = baseline(profile, workdir)
    rounds = rounds or profile.concurrency_rounds
    with account.start(profile) as sim:
        for name in rounds:
            description, instance_yaml = ROUNDS[name]
            db = _round(profile, workdir / f"concurrency-{name}", sim, instance_yaml, result)
            _, whole = commands(profile, profile.concurrent_runs)
            compared = [("aircall", t) for t in sorted(whole)]
            result.add_comparison(
                compare_warehouses(reference, db, tables=compared, label=f"{name}: ")
            )
            result.notes.append(
                f"{profile.concurrent_runs} `dagster asset materialize` processes at once on "
                f"{description}"
            )
    result.seconds = time.monotonic() - began
    return result
