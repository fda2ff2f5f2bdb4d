"""Progress lines of long runs: what was done, the request rate, the budget waits, an ETA.

At Aircall's real limit a backfill or a first reverse sync takes hours; a run that says nothing
for minutes looks stuck. Reads and the reverse sync report one line at least every
``PROGRESS_SECONDS`` through the run's log, in the same words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aircall_assets.client.client import AircallClient

PROGRESS_SECONDS = 30.0


@dataclass
class Ticker:
    """Says when the next line is due."""

    last: float = field(default_factory=time.monotonic)

    def due(self) -> bool:
        if time.monotonic() - self.last < PROGRESS_SECONDS:
            return False
        self.last = time.monotonic()
        return True


def pace(client: AircallClient, started: float, requests_left: int, done: int) -> list[str]:
    """The request rate since ``started``, the time waited for the budget, and an ETA for
    ``requests_left`` more requests: at the budget if there is one, else at this pace (from
    ``done`` units of work so far, each costing one request)."""
    elapsed = max(time.monotonic() - started, 1e-6)
    stats = client.stats
    parts = [
        f"{stats.requests / elapsed * 60:.0f} requests/min",
        f"{stats.seconds_paced:.0f}s waiting for the budget",
    ]
    if client.requests_per_minute > 0:
        eta = requests_left / client.requests_per_minute * 60
        parts.append(f"ETA {duration(eta)} at {client.requests_per_minute:g} requests/min")
    elif done:
        parts.append(f"ETA {duration(requests_left * elapsed / done)} at this pace")
    return parts


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
