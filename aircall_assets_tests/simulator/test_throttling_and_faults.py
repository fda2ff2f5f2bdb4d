"""Rate limit (429, headers, blocking until reset) and deterministic fault injection."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
import requests

from .helpers import get

RATE_HEADERS = ("X-AircallApi-Limit", "X-AircallApi-Remaining", "X-AircallApi-Reset")
SMALL = {"days": 2, "calls_per_day": 30, "contacts": 10}


def _sleep_until(reset: float) -> None:
    time.sleep(max(0.0, reset - time.time()) + 0.01)


def test_rate_limit_429_headers_and_block_until_window_end(simulator_factory, http):
    sim = simulator_factory(rpm=3, rate_window_seconds=1.0, **SMALL)
    for _ in range(3):
        ok = get(http, sim, "/v1/ping")
        assert ok.status_code == 200
        assert not any(h in ok.headers for h in RATE_HEADERS)
    limited = get(http, sim, "/v1/calls")
    assert limited.status_code == 429
    assert set(limited.json()) == {"error", "troubleshoot"}
    assert limited.headers["X-AircallApi-Limit"] == "3"
    assert limited.headers["X-AircallApi-Remaining"] == "0"
    reset = int(limited.headers["X-AircallApi-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 2
    assert get(http, sim, "/v1/ping").status_code == 429  # still blocked in this window
    _sleep_until(reset)
    assert get(http, sim, "/v1/ping").status_code == 200
    assert sim.stats.rate_limited == 2 and sim.stats.statuses[429] == 2
    unauthenticated = requests.get(sim.base_url + "/v1/ping", timeout=10)
    assert unauthenticated.status_code == 401  # auth comes before the limiter


def test_rate_limit_reset_in_milliseconds(simulator_factory, http):
    sim = simulator_factory(rpm=1, rate_window_seconds=1.0, reset_in_ms=True, **SMALL)
    get(http, sim, "/v1/ping")
    limited = get(http, sim, "/v1/ping")
    reset_ms = int(limited.headers["X-AircallApi-Reset"])
    assert abs(reset_ms / 1000 - time.time()) < 2
    _sleep_until(reset_ms / 1000)
    assert get(http, sim, "/v1/ping").status_code == 200


@pytest.mark.parametrize("kind", ["5xx", "429", "drop", "slow", "truncate"])
def test_each_fault_kind_then_the_retry_succeeds(simulator_factory, http, kind):
    sim = simulator_factory(
        fault_rate=1.0, fault_kinds=(kind,), slow_seconds=0.3, fault_429_seconds=0.5, **SMALL
    )
    began = time.monotonic()
    try:
        first = get(http, sim, "/v1/calls", per_page=50)
    except requests.RequestException:
        first = None
    elapsed = time.monotonic() - began
    if kind == "5xx":
        assert first is not None and first.status_code in (500, 502, 503)
    elif kind == "429":
        assert first is not None and first.status_code == 429
        assert all(h in first.headers for h in RATE_HEADERS)
        blocked = get(http, sim, "/v1/ping")  # every request is refused until the reset
        assert blocked.status_code == 429
        _sleep_until(int(first.headers["X-AircallApi-Reset"]))
    elif kind == "slow":
        assert first is not None and first.status_code == 200 and elapsed >= 0.3
    else:  # drop and truncate break the transport
        assert first is None
    retry = get(http, sim, "/v1/calls", per_page=50)
    assert retry.status_code == 200 and len(retry.json()["calls"]) == 50
    assert sim.stats.faults[kind] == 1


def test_faults_never_hit_the_same_request_twice_in_a_row(simulator_factory, http):
    sim = simulator_factory(fault_rate=0.6, fault_kinds=("5xx",), **SMALL)
    outcomes: dict[int, list[bool]] = defaultdict(list)
    for _ in range(8):
        for page in range(1, 11):
            response = get(http, sim, "/v1/calls", per_page=5, page=page)
            outcomes[page].append(response.status_code >= 500)
    assert any(any(seq) for seq in outcomes.values())
    for page, seq in outcomes.items():
        assert not any(a and b for a, b in zip(seq, seq[1:], strict=False)), (page, seq)
    assert sim.stats.faults["5xx"] == sum(sum(seq) for seq in outcomes.values())


def test_faults_are_deterministic_for_a_seed(simulator_factory, http):
    def run(seed: int) -> list[int]:
        sim = simulator_factory(seed=seed, fault_rate=0.5, fault_kinds=("5xx",), **SMALL)
        return [get(http, sim, "/v1/calls", page=p).status_code for p in range(1, 16)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_dropped_writes_are_sometimes_applied_before_the_drop(simulator_factory, http):
    sim = simulator_factory(fault_rate=1.0, fault_kinds=("drop",), **SMALL)
    before = len(sim.store.all("contacts"))
    for i in range(12):
        payload = {"phone_numbers": [{"value": f"+331000000{i:02d}"}]}
        with pytest.raises(requests.ConnectionError):
            http.post(sim.base_url + "/v1/contacts", json=payload)
    applied = len(sim.store.all("contacts")) - before
    assert 0 < applied < 12, "about half of the lost responses hide an applied write"
    retried = http.post(
        sim.base_url + "/v1/contacts", json={"phone_numbers": [{"value": "+33100000000"}]}
    )
    assert retried.status_code == 201  # never twice in a row for the same request
    assert sim.stats.faults["drop"] == 12 and sim.stats.statuses[0] == 12


def test_stats_count_requests_and_reset(simulator, http):
    simulator.stats.reset()
    get(http, simulator, "/v1/calls")
    get(http, simulator, "/v1/calls", page=2)
    get(http, simulator, "/v1/nothing")
    stats = simulator.stats
    assert stats.requests == 3
    assert stats.by_path["/v1/calls"] == 2 and stats.statuses[404] == 1
    assert [entry[1:] for entry in stats.request_log] == [
        ("GET", "/v1/calls", 200),
        ("GET", "/v1/calls", 200),
        ("GET", "/v1/nothing", 404),
    ]
    remote = http.get(simulator.base_url + "/_simulator/stats").json()
    assert remote["requests"] == 3 and remote["statuses"] == {"200": 2, "404": 1}
    assert http.post(simulator.base_url + "/_simulator/reset-stats").status_code == 200
    assert simulator.stats.requests == 0 and simulator.stats.request_log == []
