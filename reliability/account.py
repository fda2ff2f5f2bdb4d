"""The simulated account the scenarios read, and what it holds (the ground truth)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

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
    """Rows a full extract of the whole account must load, per table."""
    cfg = sim.config
    first = cfg.first_day
    end = first + timedelta(days=cfg.days)
    return {
        "aircall.calls": len(sim.store.calls_between(0, day_ts(end))),
        "aircall.contacts": len(sim.store.all("contacts")),
        "aircall.users": len(sim.store.all("users")),
        "aircall.numbers": len(sim.store.all("numbers")),
        "aircall.teams": len(sim.store.all("teams")),
        "aircall.tags": len(sim.store.all("tags")),
        "aircall.company_info": 1,
    }


def faults_injected(sim: Simulator) -> int:
    return sum(sim.stats.faults.values())
