"""Configuration of a simulated Aircall account and of the server that fronts it.

Everything the simulator does is a pure function of this object (plus the wall clock for
"now"-relative behaviour such as retention), so two simulators built from equal configs serve
identical data. That is what lets tests compare a connector's output with the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

# Call ids encode (day, rank within the day), leaving room for this many calls per day.
MAX_CALLS_PER_DAY = 1_000_000
FAULT_KINDS: tuple[str, ...] = ("5xx", "429", "drop", "slow", "truncate")


def utc_today() -> date:
    """Today's date in UTC: the account's days are UTC days, like the API's timestamps."""
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class SimulatorConfig:
    """Shape of the fake account, credentials, throttling and fault injection.

    `start_date=None` means "30 days before today (UTC)", so the default account ends yesterday
    and no call lies in the future.
    """

    seed: int = 1
    start_date: date | None = None
    days: int = 30
    calls_per_day: int = 200
    contacts: int = 300
    users: int = 12
    teams: int = 4
    numbers: int = 8
    tags: int = 10
    big_days: dict[date, int] = field(default_factory=dict)
    bulk_contacts_day: date | None = None
    bulk_contacts: int = 500
    # The real API only serves about six months of calls.
    retention_days: int = 183
    # Rate limiting: None disables the limiter.
    rpm: int | None = None
    rate_window_seconds: float = 60.0
    reset_in_ms: bool = False
    # Aircall sends X-AircallApi-Limit/Remaining/Reset with a 429; False answers 429 bare, as
    # something in front of Aircall (a proxy) might.
    rate_limit_headers: bool = True
    # Fault injection.
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 1.5
    fault_429_seconds: float = 2.0
    # Credentials and socket.
    api_id: str = "demo"
    api_token: str = field(default="demo", repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    # Budget for cached, serialised call pages (bytes of JSON kept in the per-day LRU).
    cache_mb: int = 256
    # GET /v1/webhooks: how many webhooks the company has set up.
    webhooks: int = 3
    # Conversation intelligence (AI Assist, a paid add-on): False answers every
    # /v1/calls/:id/{transcription,sentiments,topics,summary} with 403; results exist only
    # this long after the call ended.
    intelligence: bool = True
    intelligence_delay_seconds: int = 120
    # Signed recording/voicemail links: valid this long after the response that issued them;
    # downloads of these calls' audio answer 500, or stop short of their Content-Length.
    audio_link_ttl_seconds: int = 3600
    audio_fail_call_ids: frozenset[int] = frozenset()
    audio_truncate_call_ids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if self.start_date is None:
            object.__setattr__(self, "start_date", utc_today() - timedelta(days=30))
        object.__setattr__(self, "big_days", dict(self.big_days))
        object.__setattr__(self, "fault_kinds", tuple(self.fault_kinds))
        for name in ("audio_fail_call_ids", "audio_truncate_call_ids"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {FAULT_KINDS}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if self.days < 0 or self.calls_per_day < 0 or self.contacts < 0:
            raise ValueError("days, calls_per_day and contacts must be >= 0")
        if min(self.users, self.numbers, self.teams, self.tags) < 1:
            raise ValueError("users, numbers, teams and tags must be >= 1")
        if any(n >= MAX_CALLS_PER_DAY for n in [self.calls_per_day, *self.big_days.values()]):
            raise ValueError(f"a day holds fewer than {MAX_CALLS_PER_DAY} calls")
        if self.webhooks < 0 or self.intelligence_delay_seconds < 0:
            raise ValueError("webhooks and intelligence_delay_seconds must be >= 0")
        if self.audio_link_ttl_seconds < 1:
            raise ValueError("audio_link_ttl_seconds must be >= 1")
        if self.rpm is not None and self.rpm < 1:
            raise ValueError("rpm must be >= 1 (or None to disable the limiter)")

    @property
    def first_day(self) -> date:
        """The first simulated day (start_date resolved)."""
        assert self.start_date is not None
        return self.start_date
