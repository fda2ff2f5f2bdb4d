"""The simulated account's current state, shared by the HTTP handlers and by tests.

Calls dominate the volume (a million-call account must be servable), so they are never all
held at once: a day's `started_at` values are indexed permanently (8 bytes a call), while the
calls themselves are kept only as serialised JSON (one array per day, see `DayJson`) in an LRU
bounded by `cache_mb`. A page is then a bisect plus a slice of cached bytes: no regeneration,
no re-serialisation. Small resources live in `Collection`s that cache each record's bytes and
their sort orders until the next write. One lock makes everything thread-safe.
"""

from __future__ import annotations

import gc
import re
import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from . import intelligence
from .audio import AUDIO_KINDS, AudioLinks, audio_bytes, find_marks
from .config import SimulatorConfig
from .data import (
    API_ROOT,
    CONTACT_ID_BASE,
    DAY_SECONDS,
    TAG_ID_BASE,
    TEAM_ID_BASE,
    USER_ID_BASE,
    CallGenerator,
    day_start,
    generate_base,
    iso,
    parse_iso,
    phone_digits,
    split_call_id,
)
from .directory import AVAILABILITIES, generate_webhooks, initial_availability

RESOURCES = ("users", "teams", "numbers", "tags", "contacts", "webhooks")
# Fields whose change would move a call in the (started_at, id) order; never overridable.
_FROZEN_CALL_FIELDS = frozenset({"id", "started_at"})
_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building a day of calls.

    Generation allocates thousands of acyclic dicts, which triggers collections that traverse
    every live object of the process (a third of the generation time when Dagster is loaded).
    The dicts hold no cycles, so nothing is lost; an already-disabled GC stays disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class DayJson:
    """One day of calls serialised as a single JSON array, plus where each call starts.

    One `orjson.dumps` per day instead of one per call: faster, and memory-tight (thousands of
    small output buffers fragment the heap to several times their size). An ascending run of
    calls is then one slice of the array, commas included.
    """

    blob: bytes
    starts: array[int]  # starts[i]: offset of call i; starts[n] == len(blob)
    marks: array[int]  # offsets of the audio link placeholders, ascending (see audio.py)

    @classmethod
    def encode(cls, calls: list[dict[str, Any]]) -> DayJson:
        blob = orjson.dumps(calls)
        starts = array("q")
        position = 0
        for call in calls:  # every call object begins with its id then its sid
            position = blob.index(b'{"id":%d,"sid":' % call["id"], position)
            starts.append(position)
        starts.append(len(blob))
        return cls(blob, starts, find_marks(blob))

    @property
    def size(self) -> int:
        return len(self.blob)

    def run(self, first: int, stop: int) -> bytes:
        """Calls first..stop-1 as comma-separated JSON (no brackets)."""
        return self.blob[self.starts[first] : self.starts[stop] - 1]

    def item(self, rank: int) -> bytes:
        return self.run(rank, rank + 1)

    def signed_run(self, first: int, stop: int, links: AudioLinks, now: int) -> bytes:
        """`run(first, stop)` with its audio links signed as of `now`."""
        offset = self.starts[first]
        marks = self.marks[
            bisect_left(self.marks, offset) : bisect_left(self.marks, self.starts[stop])
        ]
        return links.sign(self.run(first, stop), [m - offset for m in marks], now)

    def signed_item(self, rank: int, links: AudioLinks, now: int) -> bytes:
        return self.signed_run(rank, rank + 1, links, now)


class Collection:
    """Records of one small resource, by id, with cached bytes and cached sort orders."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records: dict[int, dict[str, Any]] = {r["id"]: r for r in records}
        self._bytes: dict[int, bytes] = {}
        self._orders: dict[str, tuple[list[int], list[int]]] = {}

    def __len__(self) -> int:
        return len(self._records)

    def get(self, record_id: int) -> dict[str, Any] | None:
        return self._records.get(record_id)

    def values(self) -> list[dict[str, Any]]:
        return [self._records[i] for i in sorted(self._records)]

    def put(self, record: dict[str, Any]) -> None:
        self._records[record["id"]] = record
        self._bytes.pop(record["id"], None)
        self._orders.clear()

    def delete(self, record_id: int) -> bool:
        self._bytes.pop(record_id, None)
        self._orders.clear()
        return self._records.pop(record_id, None) is not None

    def encoded(self, record_id: int) -> bytes:
        """The record's JSON, serialised once per version."""
        cached = self._bytes.get(record_id)
        if cached is None:
            cached = self._bytes[record_id] = orjson.dumps(self._records[record_id])
        return cached

    @staticmethod
    def _key(record: dict[str, Any], field: str) -> int:
        value = record[field]
        if isinstance(value, str) and _ISO_TIME.match(value):
            return parse_iso(value)
        return value

    def _order(self, field: str) -> tuple[list[int], list[int]]:
        """(keys, ids) sorted by (field, id): ISO timestamps compare as epoch seconds."""
        order = self._orders.get(field)
        if order is None:
            pairs = sorted((self._key(r, field), r["id"]) for r in self._records.values())
            order = self._orders[field] = ([k for k, _ in pairs], [i for _, i in pairs])
        return order

    def select(
        self,
        *,
        filter_field: str | None,
        lo: int | None,
        hi: int | None,
        sort_field: str,
        desc: bool,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[int]:
        """Ids with lo <= filter_field <= hi (bounds optional), sorted by (sort_field, id)."""
        keys, ids = self._order(sort_field)
        if filter_field is None or (lo is None and hi is None):
            selected = list(ids)
        elif filter_field == sort_field:
            start = 0 if lo is None else bisect_left(keys, lo)
            stop = len(keys) if hi is None else bisect_right(keys, hi)
            selected = ids[start:stop]
        else:
            low = float("-inf") if lo is None else lo
            high = float("inf") if hi is None else hi
            selected = [i for i in ids if low <= self._key(self._records[i], filter_field) <= high]
        if predicate is not None:
            selected = [i for i in selected if predicate(self._records[i])]
        if desc:
            selected.reverse()
        return selected


class Store:
    """Current state of the account; all public methods are thread-safe.

    `base_url` gives the scheme and host of the signed audio links in calls (the running
    server's; without one, the configured host and port).
    """

    def __init__(
        self,
        config: SimulatorConfig,
        clock: Callable[[], float] = time.time,
        base_url: Callable[[], str] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.RLock()
        self.audio_links = AudioLinks(
            config, base_url or (lambda: f"http://{config.host}:{config.port}")
        )
        base = generate_base(config, int(clock()))
        self._generator = CallGenerator(config, base)
        self._company_name = base.company_name
        self._collections = {
            "users": Collection(base.users),
            "teams": Collection(base.teams),
            "numbers": Collection(base.numbers),
            "tags": Collection(base.tags),
            "contacts": Collection(base.contacts),
            "webhooks": Collection(generate_webhooks(config, int(clock()))),
        }
        self._availability: dict[int, str] = {}
        self._next_id = {
            "users": USER_ID_BASE + len(base.users) + 1,
            "teams": TEAM_ID_BASE + len(base.teams) + 1,
            "tags": TAG_ID_BASE + len(base.tags) + 1,
            "contacts": CONTACT_ID_BASE + len(base.contacts) + 1,
            "details": base.next_detail_id,
        }
        self._start = day_start(config.first_day)
        self._times: dict[int, array[int]] = {}
        self._pages: OrderedDict[int, DayJson] = OrderedDict()
        self._cached_bytes = 0
        self._cache_budget = config.cache_mb * 1024 * 1024
        self._overrides: dict[int, dict[str, Any]] = {}

    # ----------------------------------------------------------------- time
    def now(self) -> int:
        """Current UNIX time in seconds (the clock is injectable for tests)."""
        return int(self._clock())

    # ----------------------------------------------------------------- calls
    def _day_times(self, index: int) -> array[int]:
        times = self._times.get(index)
        if times is None:
            times = self._times[index] = array("q", self._generator.times(index))
        return times

    def _day_json(self, index: int) -> DayJson:
        """Serialised calls of one day, from the LRU or freshly generated."""
        day = self._pages.get(index)
        if day is not None:
            self._pages.move_to_end(index)
            return day
        with _gc_paused():
            calls = self._generator.calls(index)
        for call in calls:
            override = self._overrides.get(call["id"])
            if override:
                call.update(override)
        day = self._pages[index] = DayJson.encode(calls)
        self._cached_bytes += day.size
        while self._cached_bytes > self._cache_budget and len(self._pages) > 1:
            _, evicted = self._pages.popitem(last=False)
            self._cached_bytes -= evicted.size
        return day

    def _served_bounds(self, lo: int, hi: int) -> tuple[int, int]:
        """Clamp inclusive started_at bounds to what the API serves: retention up to now."""
        now = self.now()
        return max(lo, now - self._config.retention_days * DAY_SECONDS), min(hi, now)

    def _spans(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """(day, first rank, end rank) for the calls with lo <= started_at <= hi."""
        lo, hi = self._served_bounds(lo, hi)
        if hi < lo or self._config.days == 0:
            return []
        first = max(0, (lo - self._start) // DAY_SECONDS)
        last = min(self._config.days - 1, (hi - self._start) // DAY_SECONDS)
        spans = []
        for index in range(first, last + 1):
            times = self._day_times(index)
            start, stop = bisect_left(times, lo), bisect_right(times, hi)
            if stop > start:
                spans.append((index, start, stop))
        return spans

    def calls_page(
        self, lo: int, hi: int, *, desc: bool, offset: int, limit: int
    ) -> tuple[int, int, bytes]:
        """(total, count, comma-joined JSON of the page) for lo <= started_at <= hi.

        Sorted by (started_at, id), ascending or descending; audio links signed as of now.
        """
        links, now = self.audio_links, self.now()
        with self._lock:
            spans = self._spans(lo, hi)
            total = sum(stop - start for _, start, stop in spans)
            chunks: list[bytes] = []
            count = 0
            skip = offset
            for index, start, stop in reversed(spans) if desc else spans:
                size = stop - start
                if skip >= size:
                    skip -= size
                    continue
                day = self._day_json(index)
                want = limit - count
                if desc:
                    top = stop - skip
                    first = max(start, top - want)
                    chunks.extend(
                        day.signed_item(rank, links, now) for rank in range(top - 1, first - 1, -1)
                    )
                else:
                    first, top = start + skip, min(stop, start + skip + want)
                    chunks.append(day.signed_run(first, top, links, now))
                count += top - first
                skip = 0
                if count >= limit:
                    break
            return total, count, b",".join(chunks)

    def _served_item(self, call_id: int, *, signed: bool) -> bytes | None:
        """A served call's JSON, or None if unknown or outside retention / in the future.

        `signed=False` leaves the audio link placeholders (for reading the call's fields).
        """
        index, rank = split_call_id(call_id)
        with self._lock:
            if not (0 <= index < self._config.days and 0 <= rank < self._generator.count(index)):
                return None
            started = self._day_times(index)[rank]
            lo, hi = self._served_bounds(started, started)
            if hi < lo:
                return None
            day = self._day_json(index)
            return day.signed_item(rank, self.audio_links, self.now()) if signed else day.item(rank)

    def call_bytes(self, call_id: int) -> bytes | None:
        """One served call's JSON with fresh audio links, or None (see `_served_item`)."""
        return self._served_item(call_id, signed=True)

    def calls_between(self, start_ts: int, end_ts: int) -> list[dict[str, Any]]:
        """Calls with start_ts <= started_at < end_ts, sorted by (started_at, id).

        Mirrors what the API serves (retention window, nothing after now), so it is the
        ground truth to compare a connector's output with.
        """
        with self._lock:
            calls = []
            now = self.now()
            for index, start, stop in self._spans(start_ts, end_ts - 1):
                run = self._day_json(index).signed_run(start, stop, self.audio_links, now)
                calls.extend(orjson.loads(b"[" + run + b"]"))
            return calls

    def update_call(self, call_id: int, **fields: Any) -> dict[str, Any]:
        """Change a call in place, like comments, tags or cost finalisation do.

        The call keeps its id and started_at (calls have no updated time), so only a re-read
        of its day shows the change: exactly what a connector's lookback must catch.
        """
        frozen = _FROZEN_CALL_FIELDS & fields.keys()
        if frozen:
            raise ValueError(f"cannot change {sorted(frozen)} of a call")
        index, rank = split_call_id(call_id)
        with self._lock:
            if not (0 <= index < self._config.days and 0 <= rank < self._generator.count(index)):
                raise KeyError(call_id)
            self._overrides.setdefault(call_id, {}).update(orjson.loads(orjson.dumps(fields)))
            stale = self._pages.pop(index, None)
            if stale is not None:
                self._cached_bytes -= stale.size
            day = self._day_json(index)
            return orjson.loads(day.signed_item(rank, self.audio_links, self.now()))

    # ----------------------------------------------------------------- per-call resources
    def intelligence(self, call_id: int, kind: str) -> dict[str, Any] | None:
        """What `GET /v1/calls/:id/<kind>` serves now under its key (`transcription`,
        `sentiment`, `topic`, `summary`), or None where it answers 404.

        `kind` is the URL segment: transcription, sentiments, topics or summary.
        """
        if kind not in intelligence.KINDS:
            raise KeyError(f"unknown kind {kind!r}; choose from {sorted(intelligence.KINDS)}")
        item = self._served_item(call_id, signed=False)
        if item is None:
            return None
        return intelligence.result(self._config, orjson.loads(item), kind, self.now())

    def audio(self, call_id: int, kind: str) -> bytes | None:
        """The file a valid link to the call's `recording`/`voicemail` downloads, or None
        when the served call has none (404)."""
        if kind not in AUDIO_KINDS:
            raise KeyError(f"unknown audio kind {kind!r}; choose from {AUDIO_KINDS}")
        item = self._served_item(call_id, signed=False)
        call = None if item is None else orjson.loads(item)
        if call is None or call[kind] is None:
            return None
        return audio_bytes(self._config.seed, call_id, kind, call["duration"])

    # ----------------------------------------------------------------- small resources
    def all(self, resource: str) -> list[dict[str, Any]]:
        """Current records of a small resource (copies), sorted by id."""
        with self._lock:
            collection = self._collection(resource)
            return [orjson.loads(collection.encoded(r["id"])) for r in collection.values()]

    def _collection(self, resource: str) -> Collection:
        if resource not in self._collections:
            raise KeyError(f"unknown resource {resource!r}; choose from {RESOURCES}")
        return self._collections[resource]

    def get(self, resource: str, record_id: int) -> bytes | None:
        """One record's JSON, or None."""
        with self._lock:
            collection = self._collection(resource)
            return collection.encoded(record_id) if collection.get(record_id) else None

    def page(
        self,
        resource: str,
        *,
        filter_field: str | None = None,
        lo: int | None = None,
        hi: int | None = None,
        sort_field: str = "id",
        desc: bool = False,
        offset: int = 0,
        limit: int = 20,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> tuple[int, list[bytes]]:
        """(total, page of serialised records) of a small resource."""
        with self._lock:
            collection = self._collection(resource)
            ids = collection.select(
                filter_field=filter_field,
                lo=lo,
                hi=hi,
                sort_field=sort_field,
                desc=desc,
                predicate=predicate,
            )
            return len(ids), [collection.encoded(i) for i in ids[offset : offset + limit]]

    def availability(self, user_id: int) -> str | None:
        """A user's availability now, or None for an unknown user."""
        with self._lock:
            if self._collections["users"].get(user_id) is None:
                return None
            return self._availability.get(user_id) or initial_availability(
                self._config.seed, user_id
            )

    def set_availability(self, user_id: int, availability: str) -> None:
        """Change a user's availability (KeyError: unknown user, ValueError: unknown value)."""
        if availability not in AVAILABILITIES:
            raise ValueError(f"availability must be one of {AVAILABILITIES}")
        with self._lock:
            if self._collections["users"].get(user_id) is None:
                raise KeyError(user_id)
            self._availability[user_id] = availability

    def availabilities_page(self, *, offset: int, limit: int) -> tuple[int, list[bytes]]:
        """(total, page of `{"id", "availability"}` JSON) over every user, by id."""
        with self._lock:
            ids = sorted(u["id"] for u in self._collections["users"].values())
            return len(ids), [
                orjson.dumps({"id": i, "availability": self.availability(i)})
                for i in ids[offset : offset + limit]
            ]

    def webhook_tokens(self) -> list[str]:
        """Every webhook's secret token: what must never reach a warehouse, log or output."""
        return [webhook["token"] for webhook in self.all("webhooks")]

    def company(self) -> dict[str, Any]:
        """The `/v1/company` object, with counts that follow writes."""
        with self._lock:
            return {
                "name": self._company_name,
                "users_count": len(self._collections["users"]),
                "numbers_count": len(self._collections["numbers"]),
            }

    def _take_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    def _details(self, entries: list[dict[str, Any]], default_label: str) -> list[dict[str, Any]]:
        return [
            {
                "id": self._take_id("details"),
                "label": e.get("label") or default_label,
                "value": e["value"],
            }
            for e in entries
        ]

    def create_contact(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A new shared contact from a validated payload; created_at = updated_at = now."""
        with self._lock:
            cid = self._take_id("contacts")
            now = self.now()
            contact = {
                "id": cid,
                "direct_link": f"{API_ROOT}/v1/contacts/{cid}",
                "first_name": fields.get("first_name"),
                "last_name": fields.get("last_name"),
                "company_name": fields.get("company_name"),
                "information": fields.get("information"),
                "is_shared": True,
                "created_at": now,
                "updated_at": now,
                "phone_numbers": self._details(fields["phone_numbers"], "Work"),
                "emails": self._details(fields.get("emails") or [], "Work"),
            }
            self._collections["contacts"].put(contact)
            return orjson.loads(orjson.dumps(contact))

    def update_contact(self, contact_id: int, **fields: Any) -> dict[str, Any]:
        """Change a contact and set updated_at = now; KeyError if it does not exist.

        `phone_numbers` / `emails` given as [{label, value}] replace the lists (new ids).
        """
        with self._lock:
            contacts = self._collections["contacts"]
            current = contacts.get(contact_id)
            if current is None:
                raise KeyError(contact_id)
            contact = orjson.loads(orjson.dumps(current))
            for key, value in fields.items():
                if key in ("phone_numbers", "emails"):
                    value = self._details(value or [], "Work")
                contact[key] = value
            contact["updated_at"] = self.now()
            contacts.put(contact)
            return orjson.loads(orjson.dumps(contact))

    def delete_contact(self, contact_id: int) -> bool:
        """Remove a contact; False if it did not exist."""
        with self._lock:
            return self._collections["contacts"].delete(contact_id)

    @staticmethod
    def contact_matcher(
        phone_number: str | None, email: str | None
    ) -> Callable[[dict[str, Any]], bool]:
        """A predicate for contacts matching every given criterion.

        Phones compare by digits only (`+33 1 23...` matches `+33123...`), emails without case.
        """
        digits = phone_digits(phone_number) if phone_number else None
        wanted_email = email.strip().lower() if email else None

        def matches(contact: dict[str, Any]) -> bool:
            if digits is not None and not any(
                phone_digits(p["value"]) == digits for p in contact["phone_numbers"]
            ):
                return False
            return wanted_email is None or any(
                e["value"].strip().lower() == wanted_email for e in contact["emails"]
            )

        return matches

    def create_user(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A new (invited) user from a validated payload."""
        with self._lock:
            uid = self._take_id("users")
            name = f"{fields['first_name']} {fields['last_name']}".strip()
            user = {
                "id": uid,
                "direct_link": f"{API_ROOT}/v2/users/{uid}",
                "name": name,
                "email": fields["email"],
                "available": False,
                "availability_status": "unavailable",
                "created_at": iso(self.now(), millis=True),
                "time_zone": fields.get("time_zone") or "Etc/UTC",
                "language": fields.get("language") or "en-US",
                "state": "invited",
                "wrap_up_time": fields.get("wrap_up_time") or 0,
                "extension": str(100 + uid - USER_ID_BASE),
                "default_number_id": None,
                "substatus": None,
            }
            self._collections["users"].put(user)
            return dict(user)

    def email_taken(self, email: str) -> bool:
        """Whether a user already has this email (case-insensitive)."""
        wanted = email.strip().lower()
        with self._lock:
            return any(u["email"].lower() == wanted for u in self._collections["users"].values())

    def create_tag(self, name: str, color: str, description: str | None) -> dict[str, Any] | None:
        """A new tag, or None when the name is taken (case-insensitive)."""
        with self._lock:
            tags = self._collections["tags"]
            if any(t["name"].strip().lower() == name.strip().lower() for t in tags.values()):
                return None
            tag = {
                "id": self._take_id("tags"),
                "name": name,
                "color": color,
                "description": description,
            }
            tags.put(tag)
            return dict(tag)

    def create_team(self, name: str) -> dict[str, Any]:
        """A new team without members."""
        with self._lock:
            tid = self._take_id("teams")
            team = {
                "id": tid,
                "name": name,
                "direct_link": f"{API_ROOT}/v1/teams/{tid}",
                "created_at": iso(self.now(), millis=False),
                "users": [],
            }
            self._collections["teams"].put(team)
            return dict(team)
