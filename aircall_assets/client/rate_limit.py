"""Aircall's 429s: every process of the company waits for the reset, within bounds.

Aircall counts requests per company, so a 429 means the company's budget is spent, not this
process's: the wait goes into the shared budget (``budget.py``), where every process of the
company honours it. The reset time comes from ``X-AircallApi-Reset`` (a UNIX time, sent in
seconds or milliseconds); without it nothing says how long to wait, so the request fails. A run
of 429s longer than ``max_wait`` means something else is using the budget, and the request
fails saying so rather than waiting for ever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from aircall_assets.budget import RequestBudget
from aircall_assets.client.errors import AircallRateLimited
from aircall_assets.client.stats import ClientStats

log = logging.getLogger(__name__)

MAX_RESET_WAIT = 120.0  # longest wait one reset header is trusted for
DEFAULT_MAX_RATE_LIMIT_WAIT = 1800.0


def _reset_time(header: str | None) -> float | None:
    """``X-AircallApi-Reset`` as a UNIX time (sent in s or ms), at most ``MAX_RESET_WAIT``
    ahead; None if absent or unreadable."""
    try:
        reset = float(header) if header else None
    except ValueError:
        return None
    if reset is None:
        return None
    if reset > 1e11:  # milliseconds
        reset /= 1000.0
    return min(reset + 0.05, time.time() + MAX_RESET_WAIT)


class RateLimitWaits:
    """The 429s one client receives in a row, waited out through the company's budget."""

    def __init__(self, budget: RequestBudget, max_wait: float, stats: ClientStats) -> None:
        self.budget = budget
        self.max_wait = max_wait
        self.stats = stats
        self._since: float | None = None  # first of the 429s in a row

    def refused(self, where: str, headers: Mapping[str, str]) -> None:
        """A 429 on ``where``: block the budget until the reset, or raise if it cannot be."""
        self.stats.rate_limited += 1
        now = time.time()
        reset = _reset_time(headers.get("X-AircallApi-Reset"))
        if reset is None:
            raise AircallRateLimited(
                f"{where}: Aircall answered 429 (too many requests) without an "
                "X-AircallApi-Reset header, so there is no time to wait for. Something other "
                "than Aircall's per-company limit refused the request (a proxy in between?); "
                "check the network path, then re-run."
            )
        if self._since is None:
            self._since = now
        if reset - self._since > self.max_wait:
            raise AircallRateLimited(
                f"{where}: Aircall kept answering 429 (too many requests) for "
                f"{now - self._since:.0f}s in a row, beyond "
                f"AIRCALL_MAX_RATE_LIMIT_WAIT_S={self.max_wait:.0f}. The company's "
                "request budget is being used by something else (another integration, script "
                "or API key of the same Aircall company). Stop it or lower "
                "AIRCALL_REQUESTS_PER_MINUTE so that both fit Aircall's limit, then re-run."
            )
        log.warning("Aircall rate limit hit on %s; every process waits %.1fs", where, reset - now)
        self.budget.block_until(reset)

    def answered(self) -> None:
        """An answer other than 429: the run of 429s, if any, is over."""
        self._since = None
