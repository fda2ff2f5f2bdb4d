"""List endpoints: envelopes, meta, links, per_page clamp, the 10k cap, from/to, order."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from aircall_assets.simulator.api import CAP_BODY
from aircall_assets.simulator.config import utc_today
from aircall_assets.simulator.data import parse_iso

from .helpers import get, ts, unsigned, walk

LIST_ENDPOINTS = {
    "/v1/calls": "calls",
    "/v1/contacts": "contacts",
    "/v2/users": "users",
    "/v1/numbers": "numbers",
    "/v1/teams": "teams",
    "/v1/tags": "tags",
}
META_KEYS = {"count", "total", "current_page", "per_page", "next_page_link", "previous_page_link"}


def test_every_list_has_the_envelope_and_meta(simulator, http):
    for path, key in LIST_ENDPOINTS.items():
        body = get(http, simulator, path).json()
        assert set(body) == {key, "meta"}, path
        meta = body["meta"]
        assert set(meta) == META_KEYS
        assert meta["current_page"] == 1 and meta["per_page"] == 20
        assert meta["count"] == len(body[key]) == min(20, meta["total"])
        assert meta["previous_page_link"] is None


def test_walking_next_page_links_returns_every_record_once(simulator, http):
    for path, key in LIST_ENDPOINTS.items():
        records = walk(http, simulator, path, per_page=7)
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids))
        if key == "calls":
            assert len(ids) == 400
        else:
            assert sorted(ids) == [r["id"] for r in simulator.store.all(key)]


def test_page_links_are_full_urls_repeating_the_query(simulator, http):
    response = get(http, simulator, "/v1/calls", order="asc", per_page=5, page=3, to=2**40)
    meta = response.json()["meta"]
    for link, page in ((meta["next_page_link"], "4"), (meta["previous_page_link"], "2")):
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == simulator.base_url
        assert parts.path == "/v1/calls"
        assert parse_qs(parts.query) == {
            "order": ["asc"],
            "to": [str(2**40)],
            "page": [page],
            "per_page": ["5"],
        }


def test_last_page_and_past_the_end(simulator, http):
    last = get(http, simulator, "/v1/calls", per_page=50, page=8).json()
    assert last["meta"]["count"] == 50 and last["meta"]["next_page_link"] is None
    past = get(http, simulator, "/v1/calls", per_page=50, page=9)
    assert past.status_code == 200
    assert past.json()["calls"] == [] and past.json()["meta"]["total"] == 400


def test_per_page_defaults_to_20_and_is_clamped_to_50(simulator, http):
    assert get(http, simulator, "/v1/calls").json()["meta"]["per_page"] == 20
    body = get(http, simulator, "/v1/calls", per_page=500).json()
    assert body["meta"]["per_page"] == 50 and len(body["calls"]) == 50
    assert "per_page=50" in body["meta"]["next_page_link"]


def test_positional_cap_is_checked_before_anything_else(simulator, http):
    for params in (
        {"page": 201, "per_page": 50},
        {"page": 10001, "per_page": 1},
        {"page": 201, "per_page": 100},
        {"page": 501},
    ):
        response = get(http, simulator, "/v1/calls", **params)
        assert response.status_code == 400, params
        assert response.json() == CAP_BODY
    assert response.json()["errors"].startswith("Your query is limited to 10k results")
    assert get(http, simulator, "/v1/calls", page=200, per_page=50).status_code == 200
    assert get(http, simulator, "/v1/calls", page=200, per_page=100).status_code == 200
    assert get(http, simulator, "/v1/contacts", page=201, per_page=50).status_code == 400


def test_big_day_exceeds_the_cap_and_needs_narrower_windows(simulator_factory, http):
    day = utc_today() - timedelta(days=2)
    sim = simulator_factory(
        start_date=day, days=1, calls_per_day=10, contacts=5, big_days={day: 12_000}
    )
    window = {"from": ts(day) - 1, "to": ts(day) + 86_399, "per_page": 50}
    meta = get(http, sim, "/v1/calls", page=200, **window).json()["meta"]
    assert meta["total"] == 12_000 and meta["count"] == 50
    assert meta["next_page_link"] is not None  # the real API links past the cap too
    assert http.get(meta["next_page_link"]).status_code == 400
    middle = ts(day) + 43_200
    first = get(http, sim, "/v1/calls", **{**window, "to": middle}).json()["meta"]["total"]
    second = get(http, sim, "/v1/calls", **{**window, "from": middle}).json()["meta"]["total"]
    assert first + second == 12_000 and first <= 10_000 and second <= 10_000


def test_calls_from_is_exclusive_and_to_inclusive_at_midnight(simulator, http):
    day = simulator.config.first_day + timedelta(days=3)
    midnight = ts(day)
    truth = [c["id"] for c in simulator.store.calls_between(midnight, midnight + 1)]
    assert truth, "every day has a call at exactly 00:00:00 UTC"

    def ids(**window):
        return [c["id"] for c in walk(http, simulator, "/v1/calls", per_page=50, **window)]

    assert ids(**{"from": midnight - 1, "to": midnight}) == truth
    assert ids(**{"from": midnight, "to": midnight}) == []
    assert ids(**{"from": midnight - 10, "to": midnight - 1}) == [
        c["id"] for c in simulator.store.calls_between(midnight - 9, midnight)
    ]
    whole_day = ids(**{"from": midnight - 1, "to": midnight + 86_399})
    assert whole_day == [
        c["id"] for c in simulator.store.calls_between(midnight, midnight + 86_400)
    ]
    assert len(whole_day) == 40


def test_contacts_from_and_to_are_both_inclusive(simulator, http):
    contact = simulator.store.all("contacts")[30]
    created = contact["created_at"]
    same_second = {c["id"] for c in simulator.store.all("contacts") if c["created_at"] == created}
    found = walk(http, simulator, "/v1/contacts", **{"from": created, "to": created})
    assert {c["id"] for c in found} == same_second and contact["id"] in same_second
    before = walk(http, simulator, "/v1/contacts", to=created - 1)
    after = walk(http, simulator, "/v1/contacts", **{"from": created + 1})
    assert len(before) + len(same_second) + len(after) == 60


def test_order_desc_reverses_the_sort(simulator, http):
    for path in ("/v1/calls", "/v1/contacts", "/v2/users", "/v1/numbers", "/v1/tags"):
        ascending = walk(http, simulator, path, per_page=50)
        descending = walk(http, simulator, path, per_page=50, order="desc")
        assert unsigned(descending) == unsigned(ascending[::-1]), path
    calls = walk(http, simulator, "/v1/calls", per_page=50)
    assert [(c["started_at"], c["id"]) for c in calls] == sorted(
        (c["started_at"], c["id"]) for c in calls
    )


def test_contacts_order_by_updated_at(simulator, http):
    contacts = walk(
        http, simulator, "/v1/contacts", per_page=50, order_by="updated_at", order="desc"
    )
    keys = [(c["updated_at"], c["id"]) for c in contacts]
    assert keys == sorted(keys, reverse=True)
    assert get(http, simulator, "/v1/contacts", order_by="name").status_code == 422


def test_users_and_numbers_filter_on_their_iso_created_at(simulator, http):
    for path, key in (("/v2/users", "users"), ("/v1/numbers", "numbers")):
        records = simulator.store.all(key)
        pivot = parse_iso(records[len(records) // 2]["created_at"])
        inside = walk(http, simulator, path, **{"from": pivot, "to": pivot})
        assert [r["id"] for r in inside] == [
            r["id"] for r in records if parse_iso(r["created_at"]) == pivot
        ]
        assert len(walk(http, simulator, path, to=pivot)) + len(
            walk(http, simulator, path, **{"from": pivot + 1})
        ) == len(records)


def test_old_calls_beyond_retention_are_not_served(simulator_factory, http):
    start = utc_today() - timedelta(days=200)
    sim = simulator_factory(start_date=start, days=30, calls_per_day=10, contacts=5)
    old = get(http, sim, "/v1/calls", **{"from": ts(start) - 1, "to": ts(start) + 86_400})
    assert old.status_code == 200 and old.json()["calls"] == []
    served = walk(http, sim, "/v1/calls", per_page=50)
    cutoff = ts(utc_today()) - 183 * 86_400
    assert served and min(c["started_at"] for c in served) >= cutoff - 86_400
    assert len(served) < 300
    assert len(served) == len(sim.store.calls_between(0, 2**40))


def test_calls_never_lie_in_the_future(simulator_factory, http):
    sim = simulator_factory(start_date=utc_today(), days=2, calls_per_day=50, contacts=5)
    now = sim.store.now()
    calls = walk(http, sim, "/v1/calls", per_page=50)
    assert all(c["started_at"] <= now for c in calls)
    assert calls, "midnight today has a call"


def test_invalid_timestamps_are_rejected(simulator, http):
    response = get(http, simulator, "/v1/calls", **{"from": "yesterday"})
    assert response.status_code == 400
    assert set(response.json()) == {"error", "troubleshoot"}
