"""The simulated account the scenarios read, and what it holds (the ground truth)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

from aircall_assets.catalog import TABLES
from aircall_assets.simulator import Simulator, SimulatorConfig

from .profiles import Profile

# Recognisable credentials: the secrets scenario searches every output for them.
API_ID = "relID7c1d2e3f"
API_TOKEN = "relTOKENa9b8c7d6e5f4"


def config(profile: Profile, **overrides: Any) -> SimulatorConfig:
    """The profile's account; equal seeds and sizes serve identical data (days end yesterday)."""
    values: dict[str, Any] = {
        "seed": profile.seed,
        "start_date": profile.start,
        "days": profile.days,
        "calls_per_day": profile.calls_per_day,
        "contacts": profile.contacts,
        "slow_seconds": profile.slow_seconds,
        "fault_429_seconds": profile.fault_429_seconds,
        "api_id": API_ID,
        "api_token": API_TOKEN,
        "port": 0,
    }
    values.update(overrides)
    return SimulatorConfig(**values)


def start(profile: Profile, **overrides: Any) -> Simulator:
    return Simulator(config(profile, **overrides)).start()


def day_ts(day) -> int:
    return int(datetime.combine(day, time.min, tzinfo=timezone.utc).timestamp())


def expected_counts(sim: Simulator) -> dict[str, int]:
    """Rows a full extract of the whole account must load, per table (a child table: one row
    per element of its parent's list)."""
    cfg = sim.config
    end = cfg.first_day + timedelta(days=cfg.days)
    records = {name: sim.store.all(name) for name in ("contacts", "users", "numbers", "teams")}
    records["calls"] = sim.store.calls_between(0, day_ts(end))
    counts = {f"aircall.{name}": len(rows) for name, rows in records.items()}
    counts |= {
        "aircall.tags": len(sim.store.all("tags")),
        "aircall.company_info": 1,
        "aircall.user_availability": len(records["users"]),
        "aircall.webhooks": len(sim.store.all("webhooks")),
    }
    for name, rows in records.items():
        for child in TABLES[name].children:
            counts[f"aircall.{child.name}"] = sum(len(r[child.list_field] or []) for r in rows)
    return counts


def faults_injected(sim: Simulator) -> int:
    return sum(sim.stats.faults.values())
