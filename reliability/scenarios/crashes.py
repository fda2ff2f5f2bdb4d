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
from collections import Counter
from pathlib import Path

import orjson

from aircall_assets.warehouse import Warehouse
from reliability import account
from reliability.compare import compare_warehouses, table_counts, table_equals
from reliability.extract import (
    KEYED,
    aircall,
    child_env,
    extract,
    failure_messages,
    spawn_child,
    wait_child,
)
from reliability.kills import (
    kill_group_after,
    landing,
    plan,
    read_markers,
    summarize,
    timing,
)
from reliability.profiles import Profile
from reliability.report import ScenarioResult

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
        # Each attempt must load the version served now, to be compared with it whole: a
        # killed attempt's spool is not resumed here (test_resume covers resuming).
        spool = work / "spool"
        env = child_env(
            sim.base_url,
            account.API_ID,
            account.API_TOKEN,
            AIRCALL_SPOOL_DIR=str(spool),
            AIRCALL_SPOOL_MAX_AGE_H="0",
        )
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
        leftovers = sorted(p.name for p in spool.iterdir()) if spool.exists() else []
        result.check(not leftovers, f"spools left after the re-run: {leftovers}")
        result.notes.append("kill points: " + summarize(landings))
    finally:
        sim.stop()
        result.seconds = time.monotonic() - began
    return result


# ------------------------------------------------------------------------------ reverse sync

REVERSE_MODES = ("anywhere", "work", "after-answer", "in-transaction")


def reverse_landing(markers: list[tuple[float, str, str]]) -> str:
    """Where a killed sync was: startup, before/between requests, request in flight, answer
    received but not recorded, inside a state/responses transaction, after the run."""
    events = [(p, d) for _, p, d in markers if p != "self-kill"]
    if not any(p == "start" for p, _ in events):
        return "startup"
    if events[-1][0] == "done":
        return "after the run"
    where = "reading source/planning"
    in_txn = False
    for phase, detail in events:
        if phase == "main-sql" and detail == "BEGIN":
            in_txn = True
        elif phase == "main-sql" and detail in ("COMMIT", "ROLLBACK"):
            in_txn = False
            where = "between requests"
        elif phase == "http-send":
            where = f"{detail} in flight"
        elif phase in ("http-answer", "http-error"):
            where = f"{detail} answered, not yet recorded"
    return "inside a state transaction" if in_txn else where


def _reverse_plan(rng: random.Random, index: int, measured, rows: int):
    mode = REVERSE_MODES[index % len(REVERSE_MODES)]
    if mode == "after-answer":
        return mode, ["--kill-on", f"http-answer:POST:{rng.randint(1, max(rows, 1))}"], None
    if mode == "in-transaction":
        return (
            mode,
            [
                "--kill-on",
                f"main-sql:BEGIN:{rng.randint(2, 2 * max(rows, 1) + 1)}",
                "--kill-after",
                f"{rng.uniform(0, 0.004):.6f}",
            ],
            None,
        )
    if mode == "work":
        return mode, [], rng.uniform(measured.work_start, measured.work_end)
    return mode, [], rng.uniform(0.0, measured.total)


def run_reverse_crashes(profile: Profile, workdir: Path) -> ScenarioResult:
    """SIGKILL reverse-sync runs at seeded points; no contact is ever created twice.

    Every round adds new rows to the CRM table and edits a few rows already sent, so each run
    has creates and updates to do when it is killed. After each kill the warehouse (source,
    state, responses) must be readable and no contact may exist twice in the simulator; a last
    clean run must leave exactly one contact per row, with the row's latest values.
    """
    from reliability import reverse

    result = ScenarioResult("crashes: reverse sync")
    began = time.monotonic()
    rng = random.Random(f"{profile.seed}:reverse-kills")
    work = workdir / "crash-reverse"
    work.mkdir(parents=True, exist_ok=True)
    per_round = profile.reverse_rows_per_round
    settings_file = work / "settings.json"
    settings = reverse.settings_with(profile.start, reverse.CREATE_CONTACTS)
    settings_file.write_bytes(orjson.dumps(settings.model_dump(mode="json")))
    db = work / "warehouse.duckdb"
    sim = account.start(profile, days=1, calls_per_day=5)
    try:
        before = len(sim.store.all("contacts"))
        env = child_env(sim.base_url, account.API_ID, account.API_TOKEN)
        args = [
            "reverse", "--db", str(db), "--settings", str(settings_file),
            "--destination", reverse.DESTINATION, "--rpm", str(profile.reverse_kill_rpm),
            "--window", "1",
        ]  # fmt: skip
        rows = reverse.contact_rows(per_round, profile.seed, series=2)
        reverse.write_source(db, rows)
        markers = work / "markers-calibration.txt"
        spawned = time.time()
        code = wait_child(
            spawn_child(["--markers", str(markers), *args], env, work, work / "child.log"),
            CHILD_TIMEOUT,
        )
        measured = timing(read_markers(markers), spawned, time.time())
        result.runs += 1
        if not result.check(code == 0, f"calibration sync exited {code}; see child.log"):
            return result
        result.notes.append(
            f"sync of {per_round} rows at {profile.reverse_kill_rpm} requests/s: "
            f"{measured.total:.1f}s ({measured.work_start:.1f}s startup)"
        )
        landings: list[str] = []
        attempts = 0
        while result.kills < profile.reverse_kills and attempts < profile.reverse_kills * 3:
            attempts += 1
            rows = _next_round(rows, per_round, profile.seed, attempts, rng)
            reverse.write_source(db, rows)
            mode, extra, delay = _reverse_plan(rng, attempts - 1, measured, per_round)
            markers = work / f"markers-{attempts}.txt"
            proc = spawn_child(
                ["--markers", str(markers), *extra, *args], env, work, work / "child.log"
            )
            if delay is not None:
                kill_group_after(proc, delay)
            code = wait_child(proc, CHILD_TIMEOUT)
            result.runs += 1
            if code != -9:
                result.check(code == 0, f"kill {attempts} ({mode}): sync exited {code}")
                continue
            result.kills += 1
            where = reverse_landing(read_markers(markers))
            landings.append(f"{mode}: {where}")
            _check_after_reverse_kill(db, sim, rows, before, result, f"kill {attempts} ({where})")
        # Convergence: clean runs until every row is settled (one is enough unless a kill left
        # a row 'uncertain', which the sync reports instead of guessing).
        for _ in range(2):
            code = wait_child(spawn_child(args, env, work, work / "child.log"), CHILD_TIMEOUT)
            result.runs += 1
            if code == 0:
                break
        result.check(code == 0, f"the re-run after the kills exited {code}; see child.log")
        reverse.check_each_created_once(sim, rows, result, "after the re-run", before)
        states = reverse.states(db)
        result.check(states == {"sent": len(rows)}, f"final states {dict(states)}")
        result.notes.append(
            f"{len(rows)} rows pushed over {result.runs} runs; kill points: "
            + ", ".join(f"{k} {v}" for k, v in sorted(Counter(landings).items()))
        )
    finally:
        sim.stop()
        result.seconds = time.monotonic() - began
    return result


def _next_round(rows, per_round, seed, round_index, rng) -> list[dict]:
    """The CRM table of the next round: new rows, and a few sent rows edited."""
    from reliability import reverse

    rows = [dict(r) for r in rows]
    for row in rng.sample(rows, k=min(2, len(rows))):
        row["information"] = f"edited in round {round_index}"
    return rows + reverse.contact_rows(per_round, seed, series=2, start=len(rows))


def _check_after_reverse_kill(db, sim, rows, before, result: ScenarioResult, label: str) -> None:
    from reliability import reverse

    try:
        counts = table_counts(db)
    except Exception as exc:  # noqa: BLE001 - unreadable is the finding
        result.fail(f"{label}: warehouse unreadable: {exc}")
        return
    result.check(
        counts.get("crm.new_contacts") == len(rows),
        f"{label}: the source table changed: {counts.get('crm.new_contacts')} rows",
    )
    found = reverse.contacts_by_first_phone(sim, rows)
    doubled = {k: len(c) for k, c in found.items() if len(c) > 1}
    result.rows_compared += len(rows)
    if doubled:
        result.duplicates += sum(n - 1 for n in doubled.values())
        result.fail(f"{label}: contacts created twice: {dict(list(doubled.items())[:5])}")
    stray = len(sim.store.all("contacts")) - before - sum(len(c) for c in found.values())
    if stray:
        result.duplicates += stray
        result.fail(f"{label}: {stray} contact(s) created that match no row")
