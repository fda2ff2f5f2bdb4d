"""Scenario 1: a bad day at Aircall changes nothing in the warehouse.

The full extract (all seven tables, key-based ones over the whole account) runs once against a
fault-free simulator, then once per (rate, fault kinds) against a simulator injecting 5xx, 429
with blocking, dropped connections, slow answers and truncated bodies. Each faulted warehouse
must equal the fault-free one table by table, column by column (types included), cell by cell.
"""

from __future__ import annotations

import time
from pathlib import Path

from reliability import account
from reliability.compare import compare_warehouses, table_counts
from reliability.extract import aircall, extract, failure_messages
from reliability.profiles import Profile
from reliability.report import ScenarioResult


def baseline(profile: Profile, workdir: Path) -> Path:
    """The fault-free warehouse of the profile's account (built once per work directory)."""
    db = workdir / "baseline.duckdb"
    if db.exists():
        return db
    building = workdir / "baseline.building.duckdb"
    for stale in workdir.glob("baseline.building.duckdb*"):
        stale.unlink()
    with account.start(profile) as sim:
        results = extract(
            aircall(sim.base_url, account.API_ID, account.API_TOKEN),
            building,
            profile.start,
            profile.last,
        )
        if not all(r.success for r in results):
            raise RuntimeError(f"the fault-free extract failed: {failure_messages(results)}")
        expected = account.expected_counts(sim)
    counts = table_counts(building, ["aircall"])
    if counts != expected:
        raise RuntimeError(f"the fault-free extract loaded {counts}, the API holds {expected}")
    building.rename(db)
    return db


def run_extract_faults(profile: Profile, workdir: Path) -> ScenarioResult:
    result = ScenarioResult("faults: extract")
    began = time.monotonic()
    reference = baseline(profile, workdir)
    result.runs += 1
    kinds_seen: dict[str, int] = {}
    for index, (rate, kinds) in enumerate(profile.fault_runs):
        label = f"rate {rate:.0%} {'+'.join(kinds)}"
        db = workdir / f"faults-{index}.duckdb"
        with account.start(profile, fault_rate=rate, fault_kinds=kinds) as sim:
            results = extract(
                aircall(sim.base_url, account.API_ID, account.API_TOKEN),
                db,
                profile.start,
                profile.last,
            )
            injected = account.faults_injected(sim)
            for kind, n in sim.stats.faults.items():
                kinds_seen[kind] = kinds_seen.get(kind, 0) + n
        result.runs += len(results)
        result.faults += injected
        if not all(r.success for r in results):
            result.fail(f"{label}: the extract failed: {failure_messages(results)[:1]}")
            continue
        result.check(injected > 0 or rate == 0, f"{label}: no fault was injected")
        result.add_comparison(compare_warehouses(reference, db, label=f"{label}: "))
    result.notes.append(
        "faults by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds_seen.items()))
    )
    result.seconds = time.monotonic() - began
    return result


MAX_SYNC_RUNS = 4  # a user re-runs a sync whose rows got no definitive answer


def run_reverse_faults(profile: Profile, workdir: Path) -> ScenarioResult:
    """Push the profile's contacts through faults; each must exist exactly once afterwards."""
    from reliability import reverse

    result = ScenarioResult("faults: reverse sync")
    began = time.monotonic()
    rows = reverse.contact_rows(profile.reverse_contacts, profile.seed)
    settings = reverse.settings_with(profile.start, reverse.CREATE_CONTACTS)
    seen: dict[str, int] = {}
    for index, (rate, kinds) in enumerate(profile.reverse_fault_runs):
        label = f"rate {rate:.0%} {'+'.join(kinds)}"
        db = workdir / f"reverse-faults-{index}.duckdb"
        reverse.write_source(db, rows)
        with account.start(profile, fault_rate=rate, fault_kinds=kinds) as sim:
            before = len(sim.store.all("contacts"))
            resource = aircall(sim.base_url, account.API_ID, account.API_TOKEN)
            _sync_until_done(settings, resource, db, result, label)
            result.faults += account.faults_injected(sim)
            reverse.check_each_created_once(sim, rows, result, label, before)
        states = reverse.states(db)
        result.check(
            states == {"sent": len(rows)},
            f"{label}: final states {dict(states)}, all should be sent",
        )
        for name, n in reverse.outcomes(db).items():
            seen[name] = seen.get(name, 0) + n
    if profile.reverse_gateway_rate:
        _gateway_errors_after_apply(profile, workdir, rows, settings, result, seen)
    result.notes.append(
        f"{len(rows)} contacts per run; attempts by outcome: "
        + ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))
    )
    result.seconds = time.monotonic() - began
    return result


def _sync_until_done(settings, resource, db, result, label: str) -> None:
    """Re-run the sync, as a user would, until no row lacks a definitive answer."""
    from reliability import reverse

    for _ in range(MAX_SYNC_RUNS):
        outcome = reverse.run_sync(settings, resource, db)
        result.runs += 1
        if outcome.success:
            return
    result.fail(
        f"{label}: still failing after {MAX_SYNC_RUNS} runs: {failure_messages([outcome])[:1]}"
    )


def _gateway_errors_after_apply(profile, workdir, rows, settings, result, seen) -> None:
    """Creates applied by Aircall but answered 502 by the gateway in front of it."""
    from reliability import reverse
    from reliability.proxy import GatewayErrorAfterApply, Proxy

    rate = profile.reverse_gateway_rate
    label = f"rate {rate:.0%} 502-after-apply (proxy)"
    db = workdir / "reverse-faults-gateway.duckdb"
    reverse.write_source(db, rows)
    rule = GatewayErrorAfterApply(rate, seed=profile.seed)
    with account.start(profile) as sim, Proxy(sim.base_url, rule) as proxy:
        before = len(sim.store.all("contacts"))
        resource = aircall(proxy.base_url, account.API_ID, account.API_TOKEN)
        _sync_until_done(settings, resource, db, result, label)
        result.faults += rule.injected
        reverse.check_each_created_once(sim, rows, result, label, before)
    for name, n in reverse.outcomes(db).items():
        seen[name] = seen.get(name, 0) + n
