"""The client against the simulator over loopback: pages, windows, the cap, pacing, faults."""

import logging
from datetime import date, datetime, timedelta, timezone

import pytest

from aircall_assets.catalog import TABLES
from aircall_assets.client.base_url import validate_base_url
from aircall_assets.client.client import AircallClient
from aircall_assets.client.errors import (
    AircallAPIError,
    AircallAuthError,
    AircallResponseLost,
    AircallUnavailable,
)
from aircall_assets.client.pages import get_object, iter_all
from aircall_assets.client.windows import SPLIT_TARGET, iter_window
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.helpers import client_for

START = utc_today() - timedelta(days=4)  # the simulator's days are UTC days


def ts(d: date, days: int = 0) -> int:
    return int(
        datetime.combine(d + timedelta(days=days), datetime.min.time(), timezone.utc).timestamp()
    )


def read_ids(client, table, start, end):
    return [r["id"] for page in iter_window(client, table, start, end) for r in page.records]


@pytest.fixture(scope="module")
def account():
    from aircall_assets.simulator import Simulator, SimulatorConfig

    big = START + timedelta(days=2)
    config = SimulatorConfig(
        seed=3, start_date=START, days=4, calls_per_day=60, contacts=80, big_days={big: 10_400}
    )
    with Simulator(config) as sim:
        yield sim


@pytest.mark.parametrize("name", ["users", "tags", "numbers", "teams", "contacts"])
def test_full_read_of_every_list_table(account, name):
    client = client_for(account)
    ids = [r["id"] for page in iter_all(client, TABLES[name]) for r in page]
    assert sorted(ids) == sorted(r["id"] for r in account.store.all(name))
    assert len(ids) == len(set(ids))


def test_company_object(account):
    assert get_object(client_for(account), TABLES["company_info"]) == account.store.company()


def test_day_windows_put_each_call_in_exactly_one_day(account):
    client = client_for(account)
    calls = TABLES["calls"]
    seen = []
    for day in range(4):
        if day == 2:
            continue  # the big day has its own test
        ids = read_ids(client, calls, ts(START, day), ts(START, day + 1))
        truth = [c["id"] for c in account.store.calls_between(ts(START, day), ts(START, day + 1))]
        assert sorted(ids) == sorted(truth)
        seen += ids
    assert len(seen) == len(set(seen))
    midnight = [
        c
        for c in account.store.calls_between(ts(START, 1), ts(START, 2))
        if c["started_at"] == ts(START, 1)
    ]
    assert midnight, "the simulator serves a call exactly at midnight"
    assert midnight[0]["id"] in seen


def test_contacts_windows_are_complete_and_disjoint(account):
    client = client_for(account)
    contacts = TABLES["contacts"]
    ids = read_ids(client, contacts, 0, ts(START)) + [
        i for d in range(5) for i in read_ids(client, contacts, ts(START, d), ts(START, d + 1))
    ]
    assert sorted(ids) == sorted(c["id"] for c in account.store.all("contacts"))


def test_day_over_the_10k_cap_is_read_completely_with_few_extra_requests(account):
    client = client_for(account)
    day = ts(START, 2)
    ids = read_ids(client, TABLES["calls"], day, day + 86400)
    truth = account.store.calls_between(day, day + 86400)
    assert len(truth) > 10_000
    assert sorted(ids) == sorted(c["id"] for c in truth)
    assert len(ids) == len(set(ids))
    minimum = -(-len(truth) // 50)
    # split once, into parts sized from the total: the probe and the parts' last pages
    assert client.stats.windows_split == 1
    parts = -(-len(truth) // SPLIT_TARGET)
    assert client.stats.requests <= minimum + 1 + parts, (client.stats.requests, minimum)


def test_wrong_token_is_403_with_a_clear_message_and_no_secret(account, caplog):
    client = client_for(account, api_token="tok-SECRET-9f8e7d")
    with caplog.at_level(logging.DEBUG), pytest.raises(AircallAuthError) as err:
        client.ping()
    assert "rejected the credentials (403" in str(err.value)
    assert "AIRCALL_API_TOKEN" in str(err.value)
    assert client.stats.requests == 1, "auth errors are not retried"
    assert "tok-SECRET-9f8e7d" not in str(err.value) + repr(client) + caplog.text


def test_a_parameter_set_to_none_is_left_out(account):
    client = client_for(account)
    total = client.get("/v1/calls", {"per_page": 1})["meta"]["total"]
    assert client.get("/v1/calls", {"per_page": 1, "from": None})["meta"]["total"] == total


def test_missing_credentials_name_the_env_vars():
    with pytest.raises(AircallAuthError, match="AIRCALL_API_ID and AIRCALL_API_TOKEN"):
        AircallClient("", "", "http://127.0.0.1:9")


def test_unknown_route_surfaces_the_404_body(account):
    with pytest.raises(AircallAPIError, match="HTTP 404") as err:
        client_for(account).get("/v1/nothing-here")
    assert err.value.status == 404


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.aircall.io", True),
        ("http://127.0.0.1:8765", True),
        ("http://localhost:1", True),
        ("http://api.aircall.io", False),
        ("ftp://api.aircall.io", False),
        ("https://id:token@api.aircall.io", False),
    ],
)
def test_base_url_must_be_https_unless_loopback(url, ok):
    if ok:
        assert validate_base_url(url + "/") == url
    else:
        with pytest.raises(ValueError, match="AIRCALL_API_BASE_URL"):
            validate_base_url(url)


def test_pacing_to_the_simulator_limit_gets_no_429(simulator_factory):
    sim = simulator_factory(
        start_date=START, days=2, calls_per_day=400, rpm=10, rate_window_seconds=1.0
    )
    client = client_for(sim, requests_per_minute=10, rate_window_seconds=1.0)
    ids = read_ids(client, TABLES["calls"], ts(START), ts(START, 2))
    assert len(ids) == 800
    assert client.stats.rate_limited == 0
    assert sim.stats.rate_limited == 0


def test_429_is_waited_out_until_reset(simulator_factory):
    sim = simulator_factory(
        start_date=START, days=1, calls_per_day=600, rpm=5, rate_window_seconds=1.0
    )
    client = client_for(sim)  # no client-side pacing: the server must push back
    ids = read_ids(client, TABLES["calls"], ts(START), ts(START, 1))
    assert len(ids) == 600
    assert client.stats.rate_limited >= 1
    assert sim.stats.rate_limited == client.stats.rate_limited


def test_reset_header_in_milliseconds_is_understood(simulator_factory):
    sim = simulator_factory(
        start_date=START,
        days=1,
        calls_per_day=300,
        rpm=3,
        rate_window_seconds=1.0,
        reset_in_ms=True,
    )
    client = client_for(sim)
    import time

    began = time.monotonic()
    assert len(read_ids(client, TABLES["calls"], ts(START), ts(START, 1))) == 300
    assert time.monotonic() - began < 10


@pytest.mark.parametrize("kind", ["5xx", "429", "drop", "slow", "truncate"])
def test_each_fault_kind_is_survived(simulator_factory, kind):
    sim = simulator_factory(
        start_date=START,
        days=1,
        calls_per_day=500,
        contacts=120,
        fault_rate=0.3,
        fault_kinds=(kind,),
        slow_seconds=0.3,
        fault_429_seconds=0.2,
    )
    client = client_for(sim)
    ids = read_ids(client, TABLES["calls"], ts(START), ts(START, 1))
    assert sorted(ids) == sorted(c["id"] for c in sim.store.calls_between(ts(START), ts(START, 1)))
    contacts = [r["id"] for page in iter_all(client, TABLES["contacts"]) for r in page]
    assert len(contacts) == len(set(contacts)) == len(sim.store.all("contacts"))
    assert sim.stats.faults[kind] > 0


def test_create_contact_and_lost_response_is_reported_not_resent(simulator_factory):
    sim = simulator_factory(start_date=START, days=1, calls_per_day=1)
    client = client_for(sim)
    status, body = client.post(
        "/v1/contacts",
        {"first_name": "Zoë", "phone_numbers": [{"label": "m", "value": "+33100000001"}]},
    )
    assert 200 <= status < 300 and body["contact"]["first_name"] == "Zoë"
    assert any(c["id"] == body["contact"]["id"] for c in sim.store.all("contacts"))
    with pytest.raises(AircallAPIError) as err:
        client.post("/v1/contacts", {"first_name": "No phone"})
    assert err.value.status == 422

    faulty = simulator_factory(
        start_date=START, days=1, calls_per_day=1, fault_rate=1.0, fault_kinds=("drop",)
    )
    before = len(faulty.store.all("contacts"))
    with pytest.raises(AircallResponseLost):
        client_for(faulty).post("/v1/contacts", {"phone_numbers": [{"label": "m", "value": "+1"}]})
    assert len(faulty.store.all("contacts")) - before <= 1, "a lost create is never re-sent"


def test_a_refused_connection_never_sent_anything_so_even_a_create_is_retried():
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AircallClient(
        "id", "secret-token", f"http://127.0.0.1:{port}", 0, max_attempts=3, backoff_seconds=0.01
    )
    with pytest.raises(AircallUnavailable) as err:
        client.post("/v1/contacts", {"phone_numbers": [{"label": "m", "value": "+1"}]})
    assert "still failing after 3 attempts; last error: connect." in str(err.value)
    assert "secret-token" not in str(err.value) and "secret-token" not in repr(client)
    assert client.stats.requests == 3 and client.stats.transient_errors == {"connect": 3}


def test_gateway_error_after_an_applied_create_is_lost_not_resent(simulator_factory):
    """A 502 can come after Aircall applied a POST: retrying it blindly made duplicates."""
    from reliability.proxy import GatewayErrorAfterApply, Proxy

    sim = simulator_factory(start_date=START, days=1, calls_per_day=1)
    before = len(sim.store.all("contacts"))
    with Proxy(sim.base_url, GatewayErrorAfterApply(rate=1.0)) as proxy:
        client = client_for(sim, base_url=proxy.base_url)
        with pytest.raises(AircallResponseLost, match="HTTP 502 after the request was sent"):
            client.post("/v1/contacts", {"phone_numbers": [{"label": "m", "value": "+1555"}]})
    assert len(sim.store.all("contacts")) - before == 1, "the create was applied once, not re-sent"
    assert client.stats.requests == 1


def test_a_date_that_is_not_one_names_the_table_field_and_record(simulator_factory):
    """It used to surface as a bare "Invalid isoformat string: 'yesterday'"."""
    from aircall_assets.normalize import NormalizationError
    from reliability.proxy import Proxy, on_records

    sim = simulator_factory(start_date=START, days=1, calls_per_day=3)
    first = sim.store.calls_between(ts(START), ts(START, 1))[0]["id"]

    def bad_date(call):
        if call["id"] == first:
            call["started_at"] = "yesterday"

    with Proxy(sim.base_url, on_records("/v1/calls", bad_date)) as proxy:
        client = client_for(sim, base_url=proxy.base_url)
        with pytest.raises(NormalizationError) as err:
            read_ids(client, TABLES["calls"], ts(START), ts(START, 1))
    assert str(err.value) == (
        f"calls.started_at: value 'yesterday' of record id={first} cannot be stored as "
        "TIMESTAMPTZ (Invalid isoformat string: 'yesterday'). The API sent a value of an "
        "unexpected type; nothing was written."
    )
