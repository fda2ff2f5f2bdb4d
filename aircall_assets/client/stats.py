"""What one client spent, counted where it is spent and reported as run metadata."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClientStats:
    """What a client spent, reported as run metadata."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429s received and waited out
    seconds_paced: float = 0.0
    windows_split: int = 0
    outside_window: int = 0  # boundary records the API returned for a neighbouring window
    transient_errors: Counter = field(default_factory=Counter)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited_429s": self.rate_limited,
            "seconds_paced": round(self.seconds_paced, 2),
            "windows_split": self.windows_split,
            "records_outside_window": self.outside_window,
            "transient_errors": dict(self.transient_errors),
        }
