"""Throttling and fault injection: the unreliable parts of talking to a real API.

The rate limiter reproduces Aircall's documented behaviour (fixed windows, 429 with the
`X-AircallApi-*` headers, blocked until the window ends). Faults are decided from a hash of
the request and of how many times that same request was seen, never twice in a row for the
same request: a test run is reproducible, and a client that retries always gets through.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Limit advertised by a fault-injected 429 when no limiter is configured (Aircall's
# commonly documented budget).
DEFAULT_ADVERTISED_LIMIT = 60


class RateLimiter:
    """Fixed-window request budget per credential, plus explicit blocks (injected 429s).

    A window opens with the first request after the previous one ended and lasts
    `window_seconds`; request `rpm + 1` and every later one in that window are refused.
    """

    def __init__(
        self,
        rpm: int | None,
        window_seconds: float,
        reset_in_ms: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rpm = rpm
        self._window = window_seconds
        self._reset_in_ms = reset_in_ms
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, count)
        self._blocked_until: dict[str, float] = {}
        self._exhausted_until: dict[str, float] = {}

    def check(self, key: str) -> float | None:
        """Count one request; return the UNIX time the block ends if it must be refused."""
        with self._lock:
            now = self._clock()
            blocked = self._blocked_until.get(key, 0.0)
            if blocked > now:
                return blocked
            exhausted = self._exhausted_until.get(key, 0.0)
            if exhausted > now:  # someone else keeps spending the budget: reset, refused again
                return min(exhausted, float(math.floor(now) + 1))
            if self._rpm is None:
                return None
            start, count = self._windows.get(key, (0.0, 0))
            if now >= start + self._window:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
            return start + self._window if count > self._rpm else None

    def block(self, key: str, seconds: float) -> float:
        """Refuse everything from `key` for `seconds` (rounded up to what the header says)."""
        with self._lock:
            until = self._clock() + seconds
            until = until if self._reset_in_ms else float(math.ceil(until))
            self._blocked_until[key] = max(until, self._blocked_until.get(key, 0.0))
            return self._blocked_until[key]

    def exhaust(self, key: str, seconds: float) -> None:
        """Another client of `key` spends every window's budget for `seconds`: each request
        is refused with a reset at the next second, and refused again after it."""
        with self._lock:
            self._exhausted_until[key] = self._clock() + seconds

    def headers(self, reset_at: float) -> dict[str, str]:
        """The three headers of a 429; Reset in seconds, or milliseconds if configured."""
        reset = math.ceil(reset_at * 1000) if self._reset_in_ms else math.ceil(reset_at)
        return {
            "X-AircallApi-Limit": str(self._rpm or DEFAULT_ADVERTISED_LIMIT),
            "X-AircallApi-Remaining": "0",
            "X-AircallApi-Reset": str(reset),
        }


@dataclass(frozen=True)
class Fault:
    """One injected fault. `status`/`html` matter for 5xx, `after_write` for drops."""

    kind: str
    status: int = 500
    html: bool = False
    after_write: bool = False


class FaultInjector:
    """Decides, deterministically, which requests fail and how."""

    def __init__(self, seed: int, rate: float, kinds: tuple[str, ...]) -> None:
        self._seed = seed
        self._rate = rate
        self._kinds = kinds
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._faulted_last: set[str] = set()

    def decide(self, method: str, target: str, body: bytes) -> Fault | None:
        """The fault for this attempt of (method, path+query, body), or None."""
        if self._rate <= 0 or not self._kinds:
            return None
        signature = hashlib.sha256(f"{method} {target}\n".encode() + body).hexdigest()
        with self._lock:
            attempt = self._attempts.get(signature, 0)
            self._attempts[signature] = attempt + 1
            if signature in self._faulted_last:
                self._faulted_last.discard(signature)
                return None
            rng = random.Random(f"{self._seed}:{signature}:{attempt}")
            if rng.random() >= self._rate:
                return None
            self._faulted_last.add(signature)
        return Fault(
            kind=rng.choice(self._kinds),
            status=rng.choice((500, 502, 503)),
            html=rng.random() < 0.5,
            after_write=rng.random() < 0.5,
        )
