"""Scenario 2 (extract side): SIGKILL a backfill anywhere, lose nothing.

The account's calls flip between two versions (A and B: cost and duration of every seventh call
differ, as when Aircall finalises them after the call). Fault-free reference warehouses of both
are built first. Then, at seeded random points of a backfill child process (anywhere, once the
work began, or inside the DuckDB merge of a chosen table), the child is SIGKILLed while it
loads the other version. After each kill every table must be readable and equal, cell for
cell, to the version it held before the run or to the version the run was loading (one merge
is one transaction); no key may appear twice. A last run must converge to the reference.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

from aircall_assets.reliability import account
from aircall_assets.reliability.compare import compare_warehouses, table_counts, table_equals
from aircall_assets.reliability.extract import (
    KEYED,
    aircall,
    child_env,
    extract,
    failure_messages,
    spawn_child,
    wait_child,
)
from aircall_assets.reliability.kills import (
    kill_group_after,
    landing,
    plan,
    read_markers,
    summarize,
    timing,
)
from aircall_assets.reliability.profiles import Profile
from aircall_assets.reliability.report import ScenarioResult
from aircall_assets.warehouse import Warehouse

CHILD_TIMEOUT = 600


class CallVersions:
    """Switches every seventh call of the account between version A (as generated) and B."""

    def __init__(self, sim, first, end) -> None:
        self.sim = sim
        self.original = {
            c["id"]: {"cost": c["cost"], "duration": c["duration"]}
            for c in sim.store.calls_between(account.day_ts(first), account.day_ts(end))[::7]
        }
        self.current = "A"

    def set(self, version: str) -> None:
        if version == self.current:
            return
        for call_id, fields in self.original.items():
            if version == "A":
                self.sim.store.update_call(call_id, **fields)
            else:
                self.sim.store.update_call(
                    call_id, cost="9.87", duration=(fields["duration"] or 0) + 11
                )
        self.current = version


def _copy_db(source: Path, target: Path) -> None:
    for suffix in ("", ".wal"):
        src = Path(str(source) + suffix)
        if src.exists():
            shutil.copyfile(src, Path(str(target) + suffix))


def run_backfill_crashes(profile: Profile, workdir: Path) -> ScenarioResult:
    result = ScenarioResult("crashes: backfill")
    began = time.monotonic()
    rng = random.Random(f"{profile.seed}:backfill-kills")
    work = workdir / "crash-backfill"
    work.mkdir(parents=True, exist_ok=True)
    tables = list(KEYED)
    sim = account.start(
        profile,
        days=profile.kill_days,
        calls_per_day=profile.kill_calls_per_day,
        start_date=None,
    )
    try:
        first = sim.config.first_day
        last = first.fromordinal(first.toordinal() + profile.kill_days - 1)
        versions = CallVersions(sim, first, last.fromordinal(last.toordinal() + 1))
        resource = aircall(sim.base_url, account.API_ID, account.API_TOKEN)
        refs = {}
        for version in ("A", "B"):
            versions.set(version)
            refs[version] = work / f"ref-{version}.duckdb"
            outcome = extract(resource, refs[version], first, last, tables=tables)
            result.runs += len(outcome)
            if not all(r.success for r in outcome):
                result.fail(f"reference run {version} failed: {failure_messages(outcome)[:1]}")
                return result
        versions.set("A")
        db = work / "warehouse.duckdb"
        env = child_env(sim.base_url, account.API_ID, account.API_TOKEN)
        args = [
            "extract",
            "--db",
            str(db),
            "--first",
            first.isoformat(),
            "--last",
            last.isoformat(),
            "--tables",
            ",".join(tables),
        ]

        # Calibration: a clean run into the working warehouse, with markers, timed.
        markers = work / "markers-calibration.txt"
        spawned = time.time()
        proc = spawn_child(["--markers", str(markers), *args], env, work, work / "child.log")
        code = wait_child(proc, CHILD_TIMEOUT)
        measured = timing(read_markers(markers), spawned, time.time())
        result.runs += 1
        if code != 0:
            result.fail(f"calibration run exited {code}; see {work / 'child.log'}")
            return result
        result.add_comparison(compare_warehouses(refs["A"], db, label="calibration: "))
        result.notes.append(
            f"backfill run: {measured.total:.1f}s ({measured.work_start:.1f}s startup), merges "
            + ", ".join(f"{t} {1000 * s:.0f}ms" for t, s in sorted(measured.merges.items()))
        )
        state = {t: "A" for t in tables}
        landings: list[str] = []
        attempts = 0
        while result.kills < profile.backfill_kills and attempts < profile.backfill_kills * 3:
            attempts += 1
            target = "B" if state["calls"] == "A" else "A"
            versions.set(target)
            point = plan(rng, attempts - 1, measured, tables)
            markers = work / f"markers-{attempts}.txt"
            extra = ["--markers", str(markers)]
            if point.mode == "merge":
                extra += ["--kill-in", point.table, "--kill-after", f"{point.delay:.6f}"]
            proc = spawn_child([*extra, *args], env, work, work / "child.log")
            if point.mode != "merge":
                kill_group_after(proc, point.delay)
            code = wait_child(proc, CHILD_TIMEOUT)
            result.runs += 1
            if code != -9:
                if code != 0:
                    result.fail(f"kill {attempts}: child exited {code} instead of being killed")
                # finished before the kill point: the warehouse now holds the target
                for table in tables:
                    state[table] = target
                continue
            result.kills += 1
            where = landing(read_markers(markers))
            landings.append(where)
            try:
                counts = table_counts(db, ["aircall"])
                for table in tables:
                    Warehouse(db, lock_timeout=30).read_frame("aircall", table)
            except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
                result.fail(f"kill {attempts} ({where}): warehouse unreadable: {exc}")
                continue
            for table in tables:
                previous = state[table]
                result.rows_compared += counts.get(f"aircall.{table}", 0)
                if table_equals(refs[previous], db, "aircall", table):
                    continue
                if table_equals(refs[target], db, "aircall", table):
                    state[table] = target
                    continue
                result.mismatches += 1
                result.fail(
                    f"kill {attempts} ({where}): aircall.{table} is neither its previous "
                    f"version {previous} nor the version {target} being loaded"
                )
                snapshot = work / f"mismatch-{attempts}.duckdb"
                _copy_db(db, snapshot)
                break
            comparison = compare_warehouses(
                refs[state["calls"]], db, tables=[("aircall", t) for t in tables]
            )
            result.duplicates += comparison.duplicates
        # Convergence: a clean re-run loads the current version exactly.
        target = "B" if state["calls"] == "A" else "A"
        versions.set(target)
        proc = spawn_child(args, env, work, work / "child.log")
        code = wait_child(proc, CHILD_TIMEOUT)
        result.runs += 1
        if result.check(code == 0, f"the re-run after the kills exited {code}"):
            result.add_comparison(compare_warehouses(refs[target], db, label="re-run: "))
        leftovers = sorted(p.name for p in work.glob(".warehouse.duckdb.stage-*"))
        result.check(not leftovers, f"staging files left after the re-run: {leftovers}")
        result.notes.append("kill points: " + summarize(landings))
    finally:
        sim.stop()
        result.seconds = time.monotonic() - began
    return result
