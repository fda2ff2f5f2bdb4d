"""create_contacts / update_contacts end to end against the simulator, state and responses."""

from __future__ import annotations

from aircall_assets_tests.reverse_sync.helpers import (
    contacts_with,
    failure_text,
    output_metadata,
    responses,
    run_sync,
    settings_with,
    state,
    write_source,
)

PEOPLE = [
    {
        "id": 1000 + i,
        "first_name": f"Ada{i}",
        "last_name": "Lovelace",
        "company_name": "Analytical",
        "phone_numbers": [{"label": "Mobile", "value": f"+44 7700 900{i:03d}"}],
        "emails": [{"label": "Work", "value": f"ada{i}@example.org"}],
        "crm_score": i,
    }
    for i in range(12)
]
CREATE = {"name": "crm_contacts", "source": "crm.people", "template": "create_contacts"}


def test_create_contacts_end_to_end_then_unchanged_rows_are_not_resent(sim, each_db):
    write_source(each_db, "crm.people", PEOPLE)
    settings = settings_with(CREATE)
    before = len(sim.store.all("contacts"))

    result = run_sync(settings, sim, each_db, "crm_contacts")
    assert result.success, failure_text(result)
    meta = output_metadata(result)
    assert meta["sent"] == 12 and meta["rejected"] == 0 and meta["failed"] == 0

    contacts = sim.store.all("contacts")
    assert len(contacts) == before + 12
    created = {c["first_name"]: c for c in contacts if c["last_name"] == "Lovelace"}
    assert created["Ada3"]["company_name"] == "Analytical"
    assert created["Ada3"]["phone_numbers"][0]["value"] == "+44 7700 900003"
    assert created["Ada3"]["emails"][0]["value"] == "ada3@example.org"
    assert set(contacts_with(sim, [p["phone_numbers"][0]["value"] for p in PEOPLE]).values()) == {1}

    rows = state(each_db, "crm_contacts")
    assert len(rows) == 12 and {r["status"] for r in rows.values()} == {"sent"}
    assert rows["1003"]["aircall_id"] == str(created["Ada3"]["id"])
    recorded = responses(each_db, "crm_contacts")
    assert len(recorded) == 12
    assert {(r["method"], r["path"], r["status"], r["outcome"]) for r in recorded} == {
        ("POST", "/v1/contacts", 201, "sent")
    }

    requests_before = sim.stats.requests
    again = run_sync(settings, sim, each_db, "crm_contacts")
    assert again.success
    assert output_metadata(again)["unchanged"] == 12
    assert sim.stats.requests == requests_before  # nothing sent at all
    assert len(sim.store.all("contacts")) == before + 12


def test_a_changed_row_updates_the_contact_it_created_instead_of_duplicating(sim, each_db):
    write_source(each_db, "crm.people", PEOPLE[:3])
    settings = settings_with(CREATE)
    assert run_sync(settings, sim, each_db, "crm_contacts").success
    count = len(sim.store.all("contacts"))

    changed = [dict(p) for p in PEOPLE[:3]]
    changed[1]["company_name"] = "Babbage & Co"
    write_source(each_db, "crm.people", changed)
    result = run_sync(settings, sim, each_db, "crm_contacts")
    assert result.success
    meta = output_metadata(result)
    assert (meta["sent"], meta["unchanged"]) == (1, 2)
    assert len(sim.store.all("contacts")) == count
    contact_id = state(each_db, "crm_contacts")["1001"]["aircall_id"]
    updated = [c for c in sim.store.all("contacts") if str(c["id"]) == contact_id][0]
    assert updated["company_name"] == "Babbage & Co"
    last = responses(each_db, "crm_contacts")[-1]
    assert (last["method"], last["path"], last["status"]) == (
        "POST",
        f"/v1/contacts/{contact_id}",
        200,
    )


def test_update_contacts_by_id(sim, db):
    existing = sim.store.all("contacts")[:3]
    rows = [
        {"id": c["id"], "information": f"VIP {i}", "company_name": None}
        for i, c in enumerate(existing)
    ]
    rows.append({"id": 999_999_999, "information": "nobody", "company_name": None})
    write_source(db, "crm.updates", rows)
    settings = settings_with(
        {"name": "vip", "source": "crm.updates", "template": "update_contacts"}
    )
    result = run_sync(settings, sim, db, "vip")
    assert result.success, failure_text(result)
    meta = output_metadata(result)
    assert (meta["sent"], meta["rejected"]) == (3, 1)
    after = {c["id"]: c for c in sim.store.all("contacts")}
    for i, c in enumerate(existing):
        assert after[c["id"]]["information"] == f"VIP {i}"
        assert after[c["id"]]["company_name"] == c["company_name"]  # None means "leave as is"
    missing = [r for r in responses(db, "vip") if r["row_key"] == "999999999"][0]
    assert (missing["status"], missing["outcome"]) == (404, "rejected")
    assert "No contact with id 999999999" in missing["error"]
