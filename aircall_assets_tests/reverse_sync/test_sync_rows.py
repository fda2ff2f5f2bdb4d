"""Users end to end, rejections, validation, batching and form bodies on the wire."""

from __future__ import annotations

import json

import pytest

from aircall_assets_tests.reverse_sync.helpers import (
    failure_text,
    output_metadata,
    responses,
    run_sync,
    settings_with,
    state,
    write_source,
)
from aircall_assets_tests.reverse_sync.recorder import FakeSim, Recorder

USERS = {"name": "new_agents", "source": "hr.agents", "template": "create_users"}


def agents(n, start=0):
    return [
        {
            "email": f"agent{i}@callcenter.example",
            "first_name": f"Agent{i}",
            "last_name": "Smith",
            "team": "sales",
            "language": "fr-FR",
        }
        for i in range(start, start + n)
    ]


def test_create_users_end_to_end_and_the_simulator_lists_them(sim, db):
    write_source(db, "hr.agents", agents(5))
    result = run_sync(settings_with(USERS), sim, db, "new_agents")
    assert result.success, failure_text(result)
    assert output_metadata(result)["sent"] == 5
    users = {u["email"]: u for u in sim.store.all("users")}
    for i in range(5):
        user = users[f"agent{i}@callcenter.example"]
        assert user["name"] == f"Agent{i} Smith" and user["language"] == "fr-FR"
    rows = state(db, "new_agents")
    assert set(rows) == {f"agent{i}@callcenter.example" for i in range(5)}  # keyed by email
    assert rows["agent2@callcenter.example"]["aircall_id"] == str(
        users["agent2@callcenter.example"]["id"]
    )


def test_a_changed_user_is_refused_not_created_twice(sim, db):
    write_source(db, "hr.agents", agents(2))
    settings = settings_with(USERS)
    assert run_sync(settings, sim, db, "new_agents").success
    changed = agents(2)
    changed[0]["language"] = "en-GB"
    write_source(db, "hr.agents", changed)
    result = run_sync(settings, sim, db, "new_agents")
    assert result.success
    meta = output_metadata(result)
    assert (meta["rejected"], meta["unchanged"], meta["sent"]) == (1, 1, 0)
    assert "does not update users" in responses(db, "new_agents")[-1]["error"]
    assert sum(u["email"] == "agent0@callcenter.example" for u in sim.store.all("users")) == 1


def test_a_422_is_recorded_with_the_reason_and_the_other_rows_still_go(sim, each_db):
    taken = sim.store.all("users")[0]["email"]  # Aircall answers 422: email already taken
    rows = agents(2) + [{"email": taken, "first_name": "Dup", "last_name": "Licate"}] + agents(2, 2)
    write_source(each_db, "hr.agents", rows)
    settings = settings_with(USERS)
    result = run_sync(settings, sim, each_db, "new_agents")
    assert result.success, "a rejection is an answer, not a failure of the run"
    meta = output_metadata(result)
    assert (meta["sent"], meta["rejected"], meta["failed"]) == (4, 1, 0)
    rejected = [r for r in responses(each_db, "new_agents") if r["outcome"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["status"] == 422
    assert "email has already been taken" in rejected[0]["error"]
    assert '"troubleshoot"' in rejected[0]["response"]
    assert state(each_db, "new_agents")[taken.lower()]["status"] == "rejected"

    requests = sim.stats.requests
    again = run_sync(settings, sim, each_db, "new_agents")
    assert output_metadata(again)["rejected_before"] == 1
    assert sim.stats.requests == requests  # not retried blindly


def test_invalid_rows_are_recorded_once_and_never_sent(sim, each_db):
    rows = agents(2) + [
        {"email": "broken", "first_name": "No", "last_name": "Good"},
        {"email": "x@y.io", "first_name": "No last name", "last_name": None},
    ]
    write_source(each_db, "hr.agents", rows)
    settings = settings_with(USERS)
    result = run_sync(settings, sim, each_db, "new_agents")
    assert result.success
    meta = output_metadata(result)
    assert (meta["sent"], meta["invalid"]) == (2, 2)
    assert sim.stats.by_path["/v2/users"] == 2
    invalid = [r for r in responses(each_db, "new_agents") if r["outcome"] == "invalid"]
    assert sorted(r["error"] for r in invalid) == [
        "email 'broken' is not a valid email address",
        "last_name is required to create a user",
    ]
    assert all(r["status"] is None for r in invalid)
    run_sync(settings, sim, each_db, "new_agents")
    assert len([r for r in responses(each_db, "new_agents") if r["outcome"] == "invalid"]) == 2


@pytest.fixture
def recorder():
    rec = Recorder().start()
    yield rec
    rec.stop()


def test_batches_by_count_and_by_group_reach_the_wire_as_json_arrays(recorder, each_db):
    rows = [{"id": i, "team": f"t{i % 3}", "user_id": 100 + i, "note": "x"} for i in range(23)]
    write_source(each_db, "crm.members", rows)
    settings = settings_with(
        {
            "name": "by_count",
            "source": "crm.members",
            "method": "POST",
            "path": "/v1/bulk",
            "exclude": ["note"],
            "batching": {"enabled": True, "size": 10},
        },
        {
            "name": "by_team",
            "source": "crm.members",
            "method": "POST",
            "path": "/v1/teams/{team}/members",
            "exclude": ["note", "team"],
            "batching": {"enabled": True, "size": 4, "group_by": "team"},
        },
    )
    fake = FakeSim(recorder)
    assert run_sync(settings, fake, each_db, "by_count").success
    sizes = [len(r.json()) for r in recorder.received]
    assert sizes == [10, 10, 3]
    assert recorder.received[0].json()[0] == {"id": 0, "team": "t0", "user_id": 100}
    assert {r.headers["Content-Type"] for r in recorder.received} == {"application/json"}

    recorder.received.clear()
    assert run_sync(settings, fake, each_db, "by_team").success
    shape = sorted((r.path, len(r.json())) for r in recorder.received)
    assert shape == [
        ("/v1/teams/t0/members", 4),
        ("/v1/teams/t0/members", 4),
        ("/v1/teams/t1/members", 4),
        ("/v1/teams/t1/members", 4),
        ("/v1/teams/t2/members", 3),
        ("/v1/teams/t2/members", 4),
    ]
    for received in recorder.received:
        team = received.path.split("/")[3]
        assert all(rows[m["id"]]["team"] == team and "team" not in m for m in received.json())
    rows_recorded = responses(each_db, "by_team")
    assert len(rows_recorded) == 23 and len({r["request_id"] for r in rows_recorded}) == 6
    assert {r["rows_in_request"] for r in rows_recorded} == {3, 4}


def test_nul_characters_of_an_answer_are_dropped_from_what_is_recorded(recorder, each_db):
    recorder.status = 422
    recorder.answer = {"error": "bad\u0000 value", "detail": ["a\u0000b"]}
    write_source(each_db, "crm.events", [{"id": 1, "kind": "signup"}])
    settings = settings_with(
        {"name": "events", "source": "crm.events", "method": "POST", "path": "/v1/events"}
    )
    result = run_sync(settings, FakeSim(recorder), each_db, "events")
    assert result.success, failure_text(result)
    (recorded,) = responses(each_db, "events")
    assert recorded["error"] == "HTTP 422: bad value"
    assert json.loads(recorded["response"]) == {"error": "bad value", "detail": ["ab"]}
    assert state(each_db, "events")["1"]["last_error"] == "HTTP 422: bad value"


def test_manual_form_body_with_extra_headers(recorder, db):
    write_source(
        db, "crm.notes", [{"id": 5, "content": "héllo & bye", "tags": [1, 2], "skip": "x"}]
    )
    settings = settings_with(
        {
            "name": "notes",
            "source": "crm.notes",
            "method": "PATCH",
            "path": "/v1/notes/{id}",
            "content_format": "form",
            "headers": "X-Origin:warehouse,X-Batch:1",
            "exclude": ["skip"],
        }
    )
    assert run_sync(settings, FakeSim(recorder), db, "notes").success
    (received,) = recorder.received
    assert (received.method, received.path) == ("PATCH", "/v1/notes/5")
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert received.headers["X-Origin"] == "warehouse" and received.headers["X-Batch"] == "1"
    from urllib.parse import parse_qs

    assert parse_qs(received.body.decode()) == {
        "id": ["5"],
        "content": ["héllo & bye"],
        "tags": ["[1,2]"],
    }


def test_configuration_problems_fail_the_run_with_what_to_do(sim, each_db):
    settings = settings_with(
        {"name": "a", "source": "crm.absent", "template": "create_contacts"},
        {"name": "b", "source": "crm.people", "template": "create_contacts", "key": "crm_id"},
    )
    write_source(each_db, "crm.people", [{"id": 1, "phone_numbers": ["+1 555"]}])
    unknown = run_sync(settings, sim, each_db, "nope")
    assert "no destination 'nope' in the settings; choose from a, b" in failure_text(unknown)
    missing = run_sync(settings, sim, each_db, "a")
    assert "source table crm.absent does not exist: materialize it first" in failure_text(missing)
    no_key = run_sync(settings, sim, each_db, "b")
    assert "key column 'crm_id' is not in crm.people (columns: id, phone_numbers)" in failure_text(
        no_key
    )
    assert sim.stats.requests == 0
