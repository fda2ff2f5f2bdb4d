"""Dry run (samples, nothing sent, nothing written) and test send (one row, request + answer)."""

from __future__ import annotations

import json
import re
from typing import Any

import dagster as dg

from aircall_assets_tests.reverse_sync.helpers import (
    failure_text,
    output_metadata,
    query,
    responses,
    run_sync,
    run_test_send,
    settings_with,
    state,
    write_source,
)

PEOPLE = [
    {
        "id": i,
        "first_name": f"P{i}",
        "last_name": "Q",
        "internal": "do not send",
        "phone_numbers": [{"label": "Work", "value": f"+49 30 1234{i:04d}"}],
    }
    for i in range(8)
] + [{"id": 99, "first_name": "No phone", "last_name": "Q", "internal": "x", "phone_numbers": None}]
CREATE = {
    "name": "people",
    "source": "crm.people",
    "template": "create_contacts",
    "exclude": ["last_name"],
}


def tables(db) -> set[str]:
    found = query(
        db,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    return {f"{schema}.{table}" for schema, table in found}


def sample_blocks(markdown: str) -> tuple[list[str], list[Any]]:
    """The dry run's samples as shown: each request's heading line, and its body parsed back
    from its JSON code block (so the text a person reads is exactly the payload)."""
    headings = [line for line in markdown.splitlines() if line.startswith("**")]
    bodies = [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", markdown, re.S)]
    assert len(headings) == len(bodies), markdown
    return headings, bodies


def test_dry_run_shows_samples_and_sends_and_writes_nothing(sim, each_db):
    write_source(each_db, "crm.people", PEOPLE)
    before = len(sim.store.all("contacts"))
    result = run_sync(settings_with(CREATE), sim, each_db, "people", dry_run=True, sample_size=3)
    assert result.success, failure_text(result)
    assert sim.stats.requests == 0 and len(sim.store.all("contacts")) == before
    assert "aircall_sync.responses" not in tables(each_db) and "aircall_sync.state" not in tables(
        each_db
    )
    meta = output_metadata(result)
    assert meta["dry_run"] is True
    assert (meta["rows_to_send"], meta["requests_to_send"]) == (8, 8)
    assert (meta["source_rows"], meta["rows_invalid"], meta["rows_unchanged"]) == (9, 1, 0)
    assert not [key for key in meta if key.startswith("rows_rows")]
    headings, bodies = sample_blocks(meta["sample_payloads"])
    assert headings == [f"**{n + 1}. POST /v1/contacts** (1 row(s): `{n}`)" for n in range(3)]
    assert bodies[0] == {
        "first_name": "P0",
        "phone_numbers": [{"label": "Work", "value": "+49 30 12340000"}],
    }
    assert meta["columns_not_sent"] == ["internal"]
    assert meta["invalid_rows"] == [
        {
            "key": "99",
            "error": "phone_numbers: at least one phone number is required to create a contact",
        }
    ]


def test_dry_run_after_a_sync_shows_what_changed(sim, db):
    write_source(db, "crm.people", PEOPLE)
    settings = settings_with(CREATE)
    assert run_sync(settings, sim, db, "people").success
    changed = [dict(p) for p in PEOPLE]
    changed[2]["first_name"] = "Renamed"
    write_source(db, "crm.people", changed)
    requests = sim.stats.requests
    meta = output_metadata(run_sync(settings, sim, db, "people", dry_run=True))
    assert sim.stats.requests == requests
    assert (meta["rows_to_send"], meta["rows_unchanged"]) == (1, 7)
    (heading,), (body,) = sample_blocks(meta["sample_payloads"])
    contact_id = state(db, "people")["2"]["aircall_id"]
    assert f" /v1/contacts/{contact_id}** (1 row(s): `2`)" in heading
    assert body["first_name"] == "Renamed"
    assert "updated, not created again" in meta["sample_payloads"]


def test_test_send_sends_one_row_and_shows_request_and_answer(sim, each_db):
    write_source(each_db, "crm.people", PEOPLE)
    settings = settings_with(CREATE)
    before = len(sim.store.all("contacts"))
    instance = dg.DagsterInstance.ephemeral()
    result = run_test_send(settings, sim, each_db, "people", row_key="3", instance=instance)
    assert result.success, failure_text(result)
    meta = output_metadata(result)
    assert meta["request"] == {
        "method": "POST",
        "path": "/v1/contacts",
        "body": {
            "first_name": "P3",
            "phone_numbers": [{"label": "Work", "value": "+49 30 12340003"}],
        },
    }
    assert (meta["status"], meta["outcome"]) == (201, "sent")
    assert meta["response"]["contact"]["first_name"] == "P3"
    assert len(sim.store.all("contacts")) == before + 1
    (recorded,) = responses(each_db, "people")
    assert recorded["mode"] == "test" and recorded["row_key"] == "3"
    logs = "\n".join(e.user_message for e in instance.all_logs(result.run_id))
    assert "Test request: POST /v1/contacts" in logs and '"first_name": "P3"' in logs
    assert "Aircall answered 201 (sent)" in logs and '"contact": {' in logs
    # The row is now recorded as sent: the sync does not create it a second time.
    sync = run_sync(settings, sim, each_db, "people")
    assert output_metadata(sync)["sent"] == 7 and output_metadata(sync)["unchanged"] == 1
    assert len(sim.store.all("contacts")) == before + 8


def test_test_send_with_an_edited_row_is_not_recorded_as_the_rows_state(sim, db):
    write_source(db, "crm.people", PEOPLE)
    settings = settings_with(CREATE)
    result = run_test_send(
        settings,
        sim,
        db,
        "people",
        row={"first_name": "Edited", "phone_numbers": [{"value": "+49 30 99"}]},
    )
    assert result.success, failure_text(result)
    meta = output_metadata(result)
    assert meta["request"]["body"]["first_name"] == "Edited"
    assert meta["row_key"] == "0"
    assert state(db, "people") == {}
    assert any(c["first_name"] == "Edited" for c in sim.store.all("contacts"))


def test_test_send_of_an_invalid_row_explains_instead_of_sending(sim, db):
    write_source(db, "crm.people", PEOPLE)
    result = run_test_send(settings_with(CREATE), sim, db, "people", row_key="99")
    assert not result.success
    assert "row 99 would be refused: phone_numbers" in failure_text(result)
    assert sim.stats.requests == 0


def test_test_send_shows_aircall_rejection(sim, db):
    taken = sim.store.all("users")[0]["email"]
    write_source(db, "hr.u", [{"email": taken, "first_name": "A", "last_name": "B"}])
    settings = settings_with({"name": "u", "source": "hr.u", "template": "create_users"})
    result = run_test_send(settings, sim, db, "u")
    assert result.success  # an answer was obtained: the test shows it
    meta = output_metadata(result)
    assert (meta["status"], meta["outcome"]) == (422, "rejected")
    assert "email has already been taken" in meta["error"]
