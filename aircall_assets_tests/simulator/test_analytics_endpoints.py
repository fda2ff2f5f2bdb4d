"""User availabilities, webhooks and conversation intelligence (transcription, sentiments,
topics, summary): shapes, paging, what has no result, the delay, the AI package."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from aircall_assets.simulator import SimulatorConfig
from aircall_assets.simulator.api import CAP_BODY
from aircall_assets.simulator.config import utc_today
from aircall_assets.simulator.directory import AVAILABILITIES
from aircall_assets.simulator.intelligence import KINDS, SENTIMENTS
from aircall_assets.simulator.store import Store

from .helpers import get, walk

ACCOUNT = {"start_date": utc_today() - timedelta(days=8), "days": 8, "calls_per_day": 40}


@pytest.fixture
def account(simulator_factory):
    """8 days ending yesterday, 57 users and 57 webhooks: two pages of each at 50."""
    return simulator_factory(**ACCOUNT, contacts=5, users=57, webhooks=57)


def test_availabilities_page_like_the_other_lists_and_cover_every_user(account, http):
    served = walk(http, account, "/v1/users/availabilities", key="users", per_page=50)
    users = account.store.all("users")
    assert served == [
        {"id": u["id"], "availability": account.store.availability(u["id"])} for u in users
    ]
    assert len(served) == 57 and {a["availability"] for a in served} <= set(AVAILABILITIES)
    assert len({a["availability"] for a in served}) >= 3
    first = get(http, account, "/v1/users/availabilities").json()["meta"]
    assert first["per_page"] == 20 and first["total"] == 57 and first["previous_page_link"] is None
    assert first["next_page_link"] == (
        f"{account.base_url}/v1/users/availabilities?page=2&per_page=20"
    )
    clamped = get(http, account, "/v1/users/availabilities", per_page=500, page=2).json()
    assert clamped["meta"]["per_page"] == 50 and clamped["meta"]["count"] == 7
    capped = get(http, account, "/v1/users/availabilities", page=201, per_page=50)
    assert capped.status_code == 400 and capped.json() == CAP_BODY


def test_availabilities_are_a_snapshot_that_follows_the_store(account, http):
    created = http.post(
        account.base_url + "/v2/users",
        json={"email": "new.agent@demo-company.example", "first_name": "Zoë", "last_name": "N"},
    ).json()["user"]
    user_id = created["id"]
    served = walk(http, account, "/v1/users/availabilities", key="users", per_page=50)
    assert served[-1]["id"] == user_id and len(served) == 58
    before = get(http, account, f"/v1/users/{user_id}/availability").json()
    assert before == {"availability": account.store.availability(user_id)}
    changed = next(a for a in AVAILABILITIES if a != before["availability"])
    account.store.set_availability(user_id, changed)
    assert get(http, account, f"/v1/users/{user_id}/availability").json() == {
        "availability": changed
    }
    again = walk(http, account, "/v1/users/availabilities", key="users", per_page=50)
    assert again[-1] == {"id": user_id, "availability": changed} and again[:-1] == served[:-1]
    missing = get(http, account, "/v1/users/1/availability")
    assert missing.status_code == 404 and missing.json()["error"] == "Not found"
    with pytest.raises(ValueError):
        account.store.set_availability(user_id, "busy")
    with pytest.raises(KeyError):
        account.store.set_availability(1, "offline")


def test_availabilities_and_webhooks_depend_only_on_the_seed(account):
    twin = Store(account.config)
    ids = [u["id"] for u in account.store.all("users")]
    assert [twin.availability(i) for i in ids] == [account.store.availability(i) for i in ids]
    assert twin.all("webhooks") == account.store.all("webhooks")
    other = Store(SimulatorConfig(**ACCOUNT, contacts=5, users=57, webhooks=57, seed=2))
    assert other.webhook_tokens() != account.store.webhook_tokens()


def test_webhooks_meta_has_no_link_keys_and_57_take_two_pages(account, http):
    first = get(http, account, "/v1/webhooks", per_page=50).json()
    assert first["meta"] == {"count": 50, "total": 57, "current_page": 1, "per_page": 50}
    second = get(http, account, "/v1/webhooks", per_page=50, page=2).json()
    assert second["meta"] == {"count": 7, "total": 57, "current_page": 2, "per_page": 50}
    assert first["webhooks"] + second["webhooks"] == account.store.all("webhooks")
    default = get(http, account, "/v1/webhooks").json()["meta"]
    assert default == {"count": 20, "total": 57, "current_page": 1, "per_page": 20}
    assert get(http, account, "/v1/webhooks", per_page=999).json()["meta"]["per_page"] == 50
    assert get(http, account, "/v1/webhooks", page=201, per_page=50).status_code == 400
    webhooks = first["webhooks"] + second["webhooks"]
    tokens = account.store.webhook_tokens()
    assert [w["token"] for w in webhooks] == tokens and len(set(tokens)) == 57
    for webhook in webhooks:
        assert set(webhook) == {
            "id",
            "webhook_id",
            "direct_link",
            "url",
            "active",
            "events",
            "token",
            "created_at",
        }
        assert (
            webhook["direct_link"] == f"https://api.aircall.io/v1/webhooks/{webhook['webhook_id']}"
        )
        assert str(uuid.UUID(webhook["webhook_id"])) == webhook["webhook_id"]
        assert len(webhook["token"]) >= 32 and int(webhook["token"], 16) >= 0
        assert webhook["url"].startswith("https://") and webhook["events"]
        assert isinstance(webhook["id"], int) and isinstance(webhook["active"], bool)
    stamps = {w["created_at"].endswith(".000Z") for w in webhooks}
    assert stamps == {True, False}, "created_at comes with and without milliseconds"
    assert {w["active"] for w in webhooks} == {True, False}


def _calls(sim):
    return sim.store.calls_between(0, 2**40)


def test_each_kind_has_aircall_s_shape(account, http):
    calls = {c["id"]: c for c in _calls(account)}
    found = {kind: 0 for kind in KINDS}
    texts = []
    for call in calls.values():
        for kind, key in KINDS.items():
            truth = account.store.intelligence(call["id"], kind)
            if truth is None:
                continue
            found[kind] += 1
            if found[kind] > 12:
                continue  # enough over HTTP; the rest is checked on the ground truth
            assert get(http, account, f"/v1/calls/{call['id']}/{kind}").json() == {key: truth}
        transcription = account.store.intelligence(call["id"], "transcription")
        if transcription is not None:
            texts += _check_transcription(transcription, call)
        sentiment = account.store.intelligence(call["id"], "sentiments")
        if sentiment is not None:
            assert sentiment["id"] == call["id"] and sentiment["call_id"] == str(call["id"])
            assert sentiment["participants"][0]["type"] == "external"
            for participant in sentiment["participants"]:
                assert participant["value"] in SENTIMENTS
                assert ("user_id" in participant) == (participant["type"] == "internal")
                assert ("phone_number" in participant) == (participant["type"] == "external")
        topic = account.store.intelligence(call["id"], "topics")
        if topic is not None:
            assert set(topic) == {"id", "call_id", "created_at", "content"}
            assert topic["call_id"] == call["id"] and 0 <= len(topic["content"]) <= 4
            assert topic["created_at"].endswith(".000Z")
        summary = account.store.intelligence(call["id"], "summary")
        if summary is not None:
            assert summary["call_id"] == call["id"] and isinstance(summary["content"], str)
    assert min(found.values()) >= 5, found
    assert any(not t.isascii() for t in texts) and any('"' in t and "," in t for t in texts)


def _check_transcription(transcription: dict, call: dict) -> list[str]:
    assert set(transcription) == {"id", "call_id", "call_created_at", "type", "content"}
    assert transcription["call_id"] == call["id"]
    assert transcription["type"] == ("call" if call["recording"] else "voicemail")
    assert transcription["call_created_at"].endswith(".000Z")
    utterances = transcription["content"]["utterances"]
    assert 2 <= len(utterances) <= 15 and transcription["content"]["language"]
    times = [t for u in utterances for t in (u["start_time"], u["end_time"])]
    assert times == sorted(set(times)) and times[0] >= 0 and times[-1] <= call["duration"]
    for utterance in utterances:
        if utterance["participant_type"] == "internal":
            assert utterance["user_id"] == call["user"]["id"] and "phone_number" not in utterance
        else:
            assert utterance["participant_type"] == "external" and "user_id" not in utterance
            assert utterance["phone_number"].startswith("+") or call["raw_digits"] == "anonymous"
    return [u["text"] for u in utterances]


def test_which_calls_have_results(account, http):
    calls = _calls(account)
    store = account.store
    silent = [c for c in calls if c["recording"] is None and c["voicemail"] is None]
    assert silent and all(store.intelligence(c["id"], k) is None for c in silent for k in KINDS)
    missing = get(http, account, f"/v1/calls/{silent[0]['id']}/transcription")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error", "troubleshoot"} and missing.json()["error"] == (
        "Not Found"
    )
    recorded = [c for c in calls if c["recording"] is not None and c["ended_at"] is not None]
    transcribed = [c for c in recorded if store.intelligence(c["id"], "transcription")]
    assert 0.7 < len(transcribed) / len(recorded) < 0.97
    assert any(store.intelligence(c["id"], "summary") is None for c in transcribed)
    voicemails = [c for c in calls if c["voicemail"] is not None and c["recording"] is None]
    assert any(store.intelligence(c["id"], "transcription") for c in voicemails)
    unknown = get(http, account, "/v1/calls/999/sentiments")
    assert unknown.status_code == 404 and unknown.json()["error"] == "Not Found"
    assert get(http, account, "/v1/calls/999/nothing").json() == {"message": "Not Found"}


def test_results_appear_only_after_the_delay(clocked_simulator, http):
    sim, clock = clocked_simulator(**ACCOUNT, contacts=5, intelligence_delay_seconds=300)
    call = next(
        c for c in _calls(sim) if c["ended_at"] and sim.store.intelligence(c["id"], "summary")
    )
    path = f"/v1/calls/{call['id']}/summary"
    clock.now = call["ended_at"] + 299
    assert get(http, sim, path).status_code == 404
    assert sim.store.intelligence(call["id"], "summary") is None
    clock.now = call["ended_at"] + 300
    assert get(http, sim, path).json() == {"summary": sim.store.intelligence(call["id"], "summary")}
    sim.store.update_call(call["id"], ended_at=None)  # back in progress: nothing yet
    assert get(http, sim, path).status_code == 404


def test_without_the_ai_package_every_request_is_403_and_counts(simulator_factory, http):
    sim = simulator_factory(**ACCOUNT, contacts=5, intelligence=False, rpm=3)
    call_id = _calls(sim)[3]["id"]
    for kind in ("transcription", "sentiments", "topics"):
        response = get(http, sim, f"/v1/calls/{call_id}/{kind}")
        assert response.status_code == 403
        assert (
            response.json()["error"] == "Forbidden"
            and "AI package" in (response.json()["troubleshoot"])
        )
    assert get(http, sim, f"/v1/calls/{call_id}/summary").status_code == 429
    assert sim.stats.requests == 4 and sim.stats.by_path[f"/v1/calls/{call_id}/topics"] == 1
