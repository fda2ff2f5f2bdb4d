"""How big each scenario is: a small sample for pytest/CI, the full counts for the command."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from aircall_assets.simulator.config import FAULT_KINDS, utc_today

MIXED = FAULT_KINDS  # every kind at once


@dataclass(frozen=True)
class Profile:
    name: str
    seed: int = 1
    # The simulated account every scenario reads (days end yesterday: data is deterministic).
    days: int = 3
    calls_per_day: int = 60
    contacts: int = 40
    # Faults: each (rate, kinds) is one full extract compared with the fault-free baseline.
    fault_runs: tuple[tuple[float, tuple[str, ...]], ...] = ((0.3, MIXED),)
    slow_seconds: float = 0.3
    fault_429_seconds: float = 0.5
    reverse_contacts: int = 40
    reverse_fault_runs: tuple[tuple[float, tuple[str, ...]], ...] = ((0.3, MIXED),)
    reverse_gateway_rate: float = 0.3  # creates applied, then answered 502 (proxy)
    # Crashes.
    backfill_kills: int = 3
    reverse_kills: int = 3
    kill_days: int = 3
    kill_calls_per_day: int = 400
    reverse_rows_per_round: int = 8
    reverse_kill_rpm: int = 8  # requests per second of the killed syncs (spreads the kills)
    # Concurrency: this many processes started at once on one DuckDB file.
    concurrent_runs: int = 3
    concurrency_rounds: tuple[str, ...] = ("flock",)  # instance configs, see concurrency.ROUNDS
    secrets_cli_runs: int = 2  # `dagster` CLI runs whose stdout/stderr are searched (max 4)
    # The day the suite started: every scenario's account has the same dates, even when the
    # suite runs across midnight UTC (a baseline built the day before differed by a day).
    today: date = field(default_factory=utc_today)

    @property
    def start(self) -> date:
        return self.today - timedelta(days=self.days + 1)

    @property
    def last(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def with_seed(self, seed: int) -> Profile:
        return replace(self, seed=seed)

    def describe(self) -> str:
        rates = ", ".join(f"{r:.0%}" for r in sorted({r for r, _ in self.fault_runs}))
        return (
            f"{self.days} days x {self.calls_per_day} calls, {self.contacts} contacts; "
            f"{len(self.fault_runs)} faulted extracts at rates {rates} (kinds alone and mixed); "
            f"reverse sync of {self.reverse_contacts} contacts under "
            f"{len(self.reverse_fault_runs)} fault settings; {self.backfill_kills} backfill "
            f"kills ({self.kill_days} days x {self.kill_calls_per_day} calls), "
            f"{self.reverse_kills} reverse-sync kills; {self.concurrent_runs} concurrent runs"
        )


def _each_kind_and_mixed(rates: tuple[float, ...]) -> tuple[tuple[float, tuple[str, ...]], ...]:
    return tuple((rate, kinds) for rate in rates for kinds in [(k,) for k in FAULT_KINDS] + [MIXED])


SMALL = Profile(
    name="small",
    fault_runs=((0.1, MIXED), (0.3, MIXED), (0.3, ("5xx",)), (0.3, ("truncate",))),
    reverse_fault_runs=((0.3, MIXED),),
)

FULL = Profile(
    name="full",
    days=10,
    calls_per_day=300,
    contacts=300,
    fault_runs=_each_kind_and_mixed((0.05, 0.15, 0.3)),
    reverse_contacts=500,
    reverse_fault_runs=((0.1, MIXED), (0.3, MIXED), (0.3, ("drop",)), (0.3, ("slow",))),
    backfill_kills=24,
    reverse_kills=24,
    kill_days=5,
    kill_calls_per_day=1000,
    reverse_rows_per_round=10,
    concurrent_runs=8,
    concurrency_rounds=("pool", "flock"),
    secrets_cli_runs=4,
)

PROFILES = {p.name: p for p in (SMALL, FULL)}
