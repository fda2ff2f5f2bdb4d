"""The generated account: determinism, shapes, awkward cases, store helpers, serving speed."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pytest
import requests

from aircall_assets.simulator import SimulatorConfig
from aircall_assets.simulator.config import utc_today
from aircall_assets.simulator.data import (
    MISSED_CALL_REASONS,
    NUMBER_MESSAGES,
    QUIET_EMPTY_FIELDS,
    QUIET_NULL_FIELDS,
    phone_digits,
)
from aircall_assets.simulator.store import Store

from .helpers import get, ts, unsigned, walk

CALL_FIELDS = {
    "id",
    "sid",
    "direct_link",
    "direction",
    "status",
    "missed_call_reason",
    "started_at",
    "answered_at",
    "ended_at",
    "duration",
    "archived",
    "cost",
    "voicemail",
    "recording",
    "asset",
    "raw_digits",
    "user",
    "contact",
    "assigned_to",
    "transferred_by",
    "transferred_to",
    "comments",
    "number",
    "teams",
    "tags",
    "recording_short_url",
    "voicemail_short_url",
    "country_code_a2",
    "pricing_type",
}
ABRIDGED_USER = {
    "id",
    "direct_link",
    "name",
    "email",
    "available",
    "availability_status",
    "created_at",
    "time_zone",
    "language",
}
USER_FIELDS = ABRIDGED_USER | {
    "state",
    "wrap_up_time",
    "extension",
    "default_number_id",
    "substatus",
}
START = date(2026, 9, 1)  # fixed dates: generation does not depend on today
ACCOUNT = {"start_date": START, "days": 14, "calls_per_day": 60, "contacts": 80}


@pytest.fixture(scope="module")
def store() -> Store:
    return Store(SimulatorConfig(seed=5, **ACCOUNT, retention_days=100_000))


@pytest.fixture(scope="module")
def calls(store: Store) -> list[dict]:
    return store.calls_between(ts(START), ts(START + timedelta(days=14)))


def test_same_seed_same_data_other_seed_other_data(store, calls):
    twin = Store(SimulatorConfig(seed=5, **ACCOUNT, retention_days=100_000))
    twin_calls = twin.calls_between(ts(START), ts(START + timedelta(days=14)))
    assert unsigned(twin_calls) == unsigned(calls)
    for resource in ("users", "teams", "numbers", "tags", "contacts"):
        assert twin.all(resource) == store.all(resource)
    other = Store(SimulatorConfig(seed=6, **ACCOUNT, retention_days=100_000))
    assert other.calls_between(ts(START), ts(START + timedelta(days=1))) != calls[:60]


def test_calls_have_every_field_and_ids_grow_with_time(calls):
    assert len(calls) == 14 * 60
    assert all(set(c) == CALL_FIELDS for c in calls)
    keys = [(c["started_at"], c["id"]) for c in calls]
    assert keys == sorted(keys) and [c["id"] for c in calls] == sorted(c["id"] for c in calls)
    assert len({c["id"] for c in calls}) == len(calls)
    assert {c["direction"] for c in calls} == {"inbound", "outbound"}
    assert {c["missed_call_reason"] for c in calls} <= {None, *MISSED_CALL_REASONS}
    assert all(isinstance(c["cost"], str) and float(c["cost"]) >= 0 for c in calls)
    assert all(c["answered_at"] is None for c in calls if c["missed_call_reason"])
    assert all(c["contact"] is None for c in calls)
    assert all(
        set(c["number"]) >= {"id", "digits", "messages"} and "users" not in c["number"]
        for c in calls
    )
    assert all(set(c["number"]["messages"]) == set(NUMBER_MESSAGES) for c in calls)
    users = [c["user"] for c in calls if c["user"]] + [
        m["posted_by"] for c in calls for m in c["comments"]
    ]
    assert users and all(set(u) == ABRIDGED_USER for u in users)
    assert any(c["comments"] for c in calls) and any(c["tags"] for c in calls)
    assert any(c["raw_digits"] == "anonymous" for c in calls)
    assert all(isinstance(m["posted_at"], int) for c in calls for m in c["comments"])


def test_every_day_has_a_call_at_midnight(calls):
    starts = {c["started_at"] for c in calls}
    for offset in range(14):
        assert ts(START + timedelta(days=offset)) in starts


def test_quiet_sundays_have_all_optional_fields_null(calls):
    sundays = [
        c for c in calls if datetime.fromtimestamp(c["started_at"], timezone.utc).weekday() == 6
    ]
    assert len(sundays) == 2 * 60
    for call in sundays:
        assert all(call[f] is None for f in QUIET_NULL_FIELDS)
        assert all(call[f] == [] for f in QUIET_EMPTY_FIELDS)
    weekdays = [c for c in calls if c not in sundays]
    assert all(any(c[f] is not None for c in weekdays) for f in QUIET_NULL_FIELDS)


def test_a_third_of_inbound_callers_match_no_contact_and_repeat(store, calls):
    known = {phone_digits(p["value"]) for c in store.all("contacts") for p in c["phone_numbers"]}
    inbound = [c for c in calls if c["direction"] == "inbound" and c["raw_digits"] != "anonymous"]
    unknown = [c["raw_digits"] for c in inbound if phone_digits(c["raw_digits"]) not in known]
    assert 0.2 < len(unknown) / len(inbound) < 0.45
    assert len(set(unknown)) <= 50 < len(unknown)


def test_contacts_spread_unicode_and_nulls(store):
    contacts = store.all("contacts")
    assert len(contacts) == 80
    older = [c for c in contacts if c["created_at"] < ts(START)]
    assert 0 < len(older) < 20
    assert all(c["updated_at"] >= c["created_at"] for c in contacts)
    assert all(1 <= len(c["phone_numbers"]) <= 3 and len(c["emails"]) <= 2 for c in contacts)
    names = " ".join(f"{c['first_name']} {c['last_name']}" for c in contacts)
    assert any(ord(ch) > 0x2000 for ch in names)  # CJK or emoji
    assert any(c["first_name"] is None for c in contacts)
    assert any(c["company_name"] is None for c in contacts)
    assert all(c["is_shared"] is True for c in contacts)


def test_users_numbers_teams_tags_shapes(store):
    users = store.all("users")
    assert all(set(u) == USER_FIELDS for u in users)
    created = [u["created_at"] for u in users]
    assert any(v.endswith(".000Z") for v in created) and any(len(v) == 20 for v in created)
    assert any(u["created_at"] < START.isoformat() for u in users)
    assert all(len(t["color"]) == 7 and t["color"].startswith("#") for t in store.all("tags"))
    assert any(t["description"] is None for t in store.all("tags"))
    assert all(all(set(u) == ABRIDGED_USER for u in n["users"]) for n in store.all("numbers"))
    assert all(
        set(t) == {"id", "name", "direct_link", "created_at", "users"} for t in store.all("teams")
    )
    ids = [r["id"] for k in ("users", "teams", "numbers", "tags", "contacts") for r in store.all(k)]
    assert len(ids) == len(set(ids))


def test_bulk_contacts_share_their_second():
    bulk_day = START + timedelta(days=3)
    store = Store(
        SimulatorConfig(
            seed=2, **{**ACCOUNT, "contacts": 10}, bulk_contacts_day=bulk_day, bulk_contacts=500
        )
    )
    contacts = store.all("contacts")
    assert len(contacts) == 510
    in_bulk = [c for c in contacts if ts(bulk_day) <= c["created_at"] < ts(bulk_day) + 86_400]
    assert len(in_bulk) >= 500 and len({c["created_at"] for c in in_bulk}) <= 5


def test_update_call_changes_fields_but_no_timestamp(simulator, http):
    call = simulator.store.calls_between(0, 2**40)[10]
    changed = simulator.store.update_call(call["id"], comments=[], cost="1.234", archived=True)
    assert changed["cost"] == "1.234" and changed["started_at"] == call["started_at"]
    served = get(http, simulator, f"/v1/calls/{call['id']}").json()["call"]
    assert unsigned(served) == unsigned(changed)
    window = {"from": call["started_at"] - 1, "to": call["started_at"]}
    assert unsigned(changed) in unsigned(walk(http, simulator, "/v1/calls", **window))
    with pytest.raises(ValueError):
        simulator.store.update_call(call["id"], started_at=0)
    with pytest.raises(KeyError):
        simulator.store.update_call(1)


def test_tiny_cache_still_serves_identical_pages(simulator_factory, http):
    sim = simulator_factory(
        start_date=utc_today() - timedelta(days=6),
        days=5,
        calls_per_day=300,
        contacts=5,
        cache_mb=1,
    )
    first = walk(http, sim, "/v1/calls", per_page=50)
    second = walk(http, sim, "/v1/calls", per_page=50, order="desc")
    assert len(first) == 1500 and unsigned(second) == unsigned(first[::-1])


def test_pages_are_served_fast(simulator_factory):
    sim = simulator_factory(
        start_date=utc_today() - timedelta(days=3), days=2, calls_per_day=2500, contacts=5
    )
    with requests.Session() as session:
        session.auth = ("demo", "demo")
        url = f"{sim.base_url}/v1/calls?per_page=50"
        session.get(url).raise_for_status()  # generate and cache both days
        began = time.perf_counter()
        pages = 0
        while url:
            url = session.get(url).json()["meta"]["next_page_link"]
            pages += 1
    elapsed = time.perf_counter() - began
    assert pages == 100
    assert elapsed / pages < 0.02, f"{elapsed / pages * 1000:.1f} ms per page"
