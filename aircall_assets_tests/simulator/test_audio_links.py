"""Recordings and voicemails at signed links that expire: issued per response, downloaded
without credentials or rate limit, refused S3-style once expired or tampered with."""

from __future__ import annotations

import hashlib
import http.client
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from aircall_assets.simulator import SimulatorConfig
from aircall_assets.simulator.audio import MAX_AUDIO_BYTES, MIN_AUDIO_BYTES, audio_path
from aircall_assets.simulator.config import utc_today
from aircall_assets.simulator.store import Store

from .helpers import get, unsigned, walk

ACCOUNT = {"start_date": utc_today() - timedelta(days=6), "days": 6, "calls_per_day": 40}


def _with(store: Store, kind: str) -> list[dict]:
    """The served calls that have a `recording` (or `voicemail`)."""
    return [c for c in store.calls_between(0, 2**40) if c[kind] is not None]


def test_links_point_at_the_simulator_and_expire_after_the_ttl(simulator_factory, http):
    sim = simulator_factory(**ACCOUNT, contacts=5, audio_link_ttl_seconds=600)
    before = int(time.time())
    served = walk(http, sim, "/v1/calls", per_page=50)
    after = int(time.time())
    assert unsigned(served) == unsigned(sim.store.calls_between(0, 2**40))
    links = [c[kind] for c in served for kind in ("recording", "voicemail") if c[kind]]
    assert any("/voicemails/" in link for link in links)
    for call in served:
        for kind in ("recording", "voicemail"):
            if call[kind] is None:
                continue
            parts = urlsplit(call[kind])
            assert f"{parts.scheme}://{parts.netloc}" == sim.base_url
            assert parts.path == audio_path(kind, call["id"]) == f"/audio/{kind}s/{call['id']}.mp3"
            query = parse_qs(parts.query)
            assert set(query) == {"expires", "signature"}
            assert before + 600 <= int(query["expires"][0]) <= after + 600
            assert len(query["signature"][0]) == 64


def test_a_fresh_link_downloads_the_file_without_auth_or_rate_limit(simulator_factory, http):
    sim = simulator_factory(**ACCOUNT, contacts=5, rpm=2)
    call = max(_with(sim.store, "recording"), key=lambda c: c["duration"])
    link = get(http, sim, f"/v1/calls/{call['id']}").json()["call"]["recording"]
    expected = sim.store.audio(call["id"], "recording")
    for headers in ({}, {"Authorization": "Basic d3Jvbmc6d3Jvbmc="}, {}):  # ignored if sent
        response = requests.get(link, headers=headers, timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"] == "audio/mpeg"
        assert int(response.headers["Content-Length"]) == len(expected)
        assert hashlib.sha256(response.content).digest() == hashlib.sha256(expected).digest()
    assert expected.startswith(b"ID3") and MIN_AUDIO_BYTES <= len(expected) <= MAX_AUDIO_BYTES
    assert sim.stats.requests == 1 and sim.stats.audio == {200: 3}
    assert get(http, sim, "/v1/ping").status_code == 200, "the downloads used none of the budget"
    voicemail = _with(sim.store, "voicemail")[0]
    response = requests.get(voicemail["voicemail"], timeout=10)
    assert response.content == sim.store.audio(voicemail["id"], "voicemail")


def test_audio_depends_on_the_seed_the_call_and_its_duration():
    config = SimulatorConfig(**ACCOUNT, contacts=5)
    store, twin = Store(config), Store(config)
    calls = [c for c in store.calls_between(0, 2**40) if c["recording"]]
    short, long = min(calls, key=lambda c: c["duration"]), max(calls, key=lambda c: c["duration"])
    assert store.audio(long["id"], "recording") == twin.audio(long["id"], "recording")
    assert len(store.audio(short["id"], "recording")) < len(store.audio(long["id"], "recording"))
    other = Store(SimulatorConfig(**ACCOUNT, contacts=5, seed=2))
    same_call = other.audio(long["id"], "recording")
    assert same_call is None or same_call != store.audio(long["id"], "recording")


def test_an_expired_link_is_refused_but_a_link_at_its_last_second_works(clocked_simulator):
    sim, clock = clocked_simulator(**ACCOUNT, contacts=5, audio_link_ttl_seconds=60)
    call = _with(sim.store, "recording")[0]
    link = call["recording"]
    expires = int(parse_qs(urlsplit(link).query)["expires"][0])
    clock.now = expires
    assert requests.get(link, timeout=10).status_code == 200
    clock.now = expires + 1
    expired = requests.get(link, timeout=10)
    assert expired.status_code == 403
    assert expired.text.endswith(
        "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    )
    fresh = sim.store.calls_between(call["started_at"], call["started_at"] + 1)
    assert requests.get(fresh[0]["recording"], timeout=10).status_code == 200


def test_tampered_links_are_refused(simulator_factory):
    sim = simulator_factory(**ACCOUNT, contacts=5)
    first, second = _with(sim.store, "recording")[:2]
    link = first["recording"]
    query = urlsplit(link).query
    expires = int(parse_qs(query)["expires"][0])
    signature = parse_qs(query)["signature"][0]
    forged = {
        "signature changed": link.replace(signature, signature[::-1]),
        "later expiry": link.replace(f"expires={expires}", f"expires={expires + 3600}"),
        "another call's path": f"{sim.base_url}{urlsplit(second['recording']).path}?{query}",
        "voicemail of the call": link.replace("/recordings/", "/voicemails/"),
    }
    for why, url in forged.items():
        refused = requests.get(url, timeout=10)
        assert refused.status_code == 403, why
        assert "<Code>SignatureDoesNotMatch</Code>" in refused.text, why
    unsigned_link = requests.get(link.split("?")[0], timeout=10)
    assert unsigned_link.status_code == 403 and "<Code>AccessDenied</Code>" in unsigned_link.text


def test_a_call_without_that_audio_is_404(simulator_factory):
    sim = simulator_factory(**ACCOUNT, contacts=5)
    call = next(c for c in sim.store.calls_between(0, 2**40) if c["voicemail"] is None)
    path = audio_path("voicemail", call["id"])
    signed = sim.store.audio_links.url(path, int(time.time()) + 60)
    assert sim.store.audio(call["id"], "voicemail") is None
    missing = requests.get(signed, timeout=10)
    assert missing.status_code == 404 and "<Code>NoSuchKey</Code>" in missing.text
    assert requests.get(sim.base_url + "/audio/else.mp3", timeout=10).status_code == 404
    unknown = sim.store.audio_links.url(audio_path("recording", 999), int(time.time()) + 60)
    assert requests.get(unknown, timeout=10).status_code == 404


def test_failing_and_truncated_downloads_for_the_archiver(simulator_factory):
    calls = _with(Store(SimulatorConfig(**ACCOUNT, contacts=5)), "recording")
    broken, cut = calls[0], max(calls, key=lambda c: c["duration"])
    sim = simulator_factory(
        **ACCOUNT,
        contacts=5,
        audio_fail_call_ids=[broken["id"]],
        audio_truncate_call_ids={cut["id"]},
    )
    fresh = {c["id"]: c for c in _with(sim.store, "recording")}
    failed = requests.get(fresh[broken["id"]]["recording"], timeout=10)
    assert failed.status_code == 500 and "<Code>InternalError</Code>" in failed.text
    parts = urlsplit(fresh[cut["id"]]["recording"])
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", f"{parts.path}?{parts.query}")
    response = connection.getresponse()
    announced = int(response.headers["Content-Length"])
    assert response.status == 200 and announced == len(sim.store.audio(cut["id"], "recording"))
    with pytest.raises(http.client.IncompleteRead) as short:
        response.read()
    assert 0 < len(short.value.partial) < announced
    connection.close()
    others = [c for i, c in fresh.items() if i not in (broken["id"], cut["id"])]
    assert requests.get(others[0]["recording"], timeout=10).status_code == 200
    assert sim.stats.audio == {500: 1, 200: 2}
