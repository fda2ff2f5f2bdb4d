"""Request counters: what benchmarks and reliability tests read to judge a connector."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

# Oldest half of the request log is dropped past this many entries (long-running CLI use).
REQUEST_LOG_LIMIT = 200_000


class Stats:
    """Counts of API requests (admin endpoints excluded).

    `statuses` is keyed by HTTP status; a dropped connection (no response at all) counts as 0.
    `request_log` holds (monotonic time, method, path, status) per request. Downloads of
    signed audio links are not API requests: `audio` counts them apart, by status.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.by_path: Counter[str] = Counter()
            self.statuses: Counter[int] = Counter()
            self.rate_limited = 0
            self.faults: Counter[str] = Counter()
            self.request_log: list[tuple[float, str, str, int]] = []
            self.audio: Counter[int] = Counter()

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests += 1
            self.by_path[path] += 1
            self.statuses[status] += 1
            self.request_log.append((time.monotonic(), method, path, status))
            if len(self.request_log) > REQUEST_LOG_LIMIT:
                del self.request_log[: REQUEST_LOG_LIMIT // 2]

    def count_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def count_audio(self, status: int) -> None:
        with self._lock:
            self.audio[status] += 1

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def as_json(self, with_log: bool = False) -> dict[str, Any]:
        """A JSON-able snapshot (status keys become strings)."""
        with self._lock:
            snapshot: dict[str, Any] = {
                "requests": self.requests,
                "by_path": dict(self.by_path),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "rate_limited": self.rate_limited,
                "faults": dict(self.faults),
                "audio": {str(k): v for k, v in sorted(self.audio.items())},
            }
            if with_log:
                snapshot["request_log"] = [list(entry) for entry in self.request_log]
            return snapshot
