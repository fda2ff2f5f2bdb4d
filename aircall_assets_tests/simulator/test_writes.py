"""Writes: contacts CRUD and search, users, tags, teams, validation errors."""

from __future__ import annotations

from .helpers import get, walk

NEW_CONTACT = {
    "first_name": "Zoë",
    "last_name": "Ångström",
    "company_name": None,
    "information": "créé par le reverse sync 🚀",
    "phone_numbers": [{"label": "Mobile", "value": "+33 6 00 00 00 01"}],
    "emails": [{"label": "Work", "value": "zoe@example.com"}],
}


def test_created_contact_is_visible_everywhere(simulator, http):
    before = get(http, simulator, "/v1/contacts").json()["meta"]["total"]
    response = http.post(simulator.base_url + "/v1/contacts", json=NEW_CONTACT)
    assert response.status_code == 201
    contact = response.json()["contact"]
    assert contact["first_name"] == "Zoë" and contact["is_shared"] is True
    assert contact["created_at"] == contact["updated_at"]
    assert contact["phone_numbers"][0]["value"] == "+33 6 00 00 00 01"
    assert isinstance(contact["phone_numbers"][0]["id"], int)
    assert contact["direct_link"].endswith(f"/v1/contacts/{contact['id']}")
    assert get(http, simulator, "/v1/contacts").json()["meta"]["total"] == before + 1
    assert get(http, simulator, f"/v1/contacts/{contact['id']}").json() == {"contact": contact}
    newest = get(http, simulator, "/v1/contacts", order="desc", per_page=1).json()["contacts"]
    assert newest == [contact]
    admin = http.get(simulator.base_url + "/_simulator/contacts").json()["contacts"]
    assert contact in admin and len(admin) == before + 1


def test_same_payload_twice_creates_two_contacts(simulator, http):
    first = http.post(simulator.base_url + "/v1/contacts", json=NEW_CONTACT).json()["contact"]
    second = http.post(simulator.base_url + "/v1/contacts", json=NEW_CONTACT).json()["contact"]
    assert first["id"] != second["id"]


def test_update_and_delete_contact(simulator, http):
    contact = simulator.store.all("contacts")[0]
    for method in ("post", "put"):
        response = getattr(http, method)(
            f"{simulator.base_url}/v1/contacts/{contact['id']}", json={"last_name": method}
        )
        assert response.status_code == 200
        updated = response.json()["contact"]
        assert updated["last_name"] == method and updated["first_name"] == contact["first_name"]
        assert updated["updated_at"] >= contact["updated_at"]
        assert updated["created_at"] == contact["created_at"]
    assert http.post(simulator.base_url + "/v1/contacts/1", json={}).status_code == 404
    deleted = http.delete(f"{simulator.base_url}/v1/contacts/{contact['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert get(http, simulator, f"/v1/contacts/{contact['id']}").status_code == 404
    assert http.delete(f"{simulator.base_url}/v1/contacts/{contact['id']}").status_code == 404
    assert contact["id"] not in {c["id"] for c in walk(http, simulator, "/v1/contacts")}


def test_contact_validation_is_422_with_error_and_troubleshoot(simulator, http):
    url = simulator.base_url + "/v1/contacts"
    too_many = [{"value": f"+3310000{i:04d}"} for i in range(21)]
    for payload in (
        {"first_name": "No phone"},
        {"phone_numbers": []},
        {"phone_numbers": too_many},
        {"phone_numbers": [{"label": "Work"}]},
        {"phone_numbers": [{"value": "+1"}], "emails": [{"value": "x@y.z"}] * 21},
        {"phone_numbers": [{"value": "+1"}], "emails": [{"value": "not an email"}]},
        {"phone_numbers": [{"value": "+1"}], "first_name": 3},
    ):
        response = http.post(url, json=payload)
        assert response.status_code == 422, payload
        assert set(response.json()) == {"error", "troubleshoot"}
    bad_json = http.post(url, data=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert get(http, simulator, "/v1/contacts").json()["meta"]["total"] == 60


def test_contact_search_by_phone_digits_and_email(simulator, http):
    created = http.post(simulator.base_url + "/v1/contacts", json=NEW_CONTACT).json()["contact"]
    found = walk(
        http, simulator, "/v1/contacts/search", key="contacts", phone_number="+33600000001"
    )
    assert [c["id"] for c in found] == [created["id"]]
    found = walk(http, simulator, "/v1/contacts/search", key="contacts", email="ZOE@example.com")
    assert created["id"] in {c["id"] for c in found}
    none = walk(http, simulator, "/v1/contacts/search", key="contacts", phone_number="+999")
    assert none == []
    assert get(http, simulator, "/v1/contacts/search").status_code == 422


def test_create_user_and_its_validation(simulator, http):
    url = simulator.base_url + "/v2/users"
    payload = {"email": "new.agent@example.com", "first_name": "Łukasz", "last_name": "Nowak"}
    response = http.post(url, json=payload)
    assert response.status_code == 201
    user = response.json()["user"]
    assert user["name"] == "Łukasz Nowak" and user["created_at"].endswith("Z")
    assert get(http, simulator, f"/v2/users/{user['id']}").json() == {"user": user}
    assert get(http, simulator, "/v1/company").json()["company"]["users_count"] == 13
    assert http.post(url, json=payload).status_code == 422  # duplicate email
    for bad in (
        {"email": "x@example.com"},
        {**payload, "email": "nope"},
        {**payload, "email": "other@example.com", "first_name": ""},
    ):
        rejected = http.post(url, json=bad)
        assert rejected.status_code == 422, bad
        assert set(rejected.json()) == {"error", "troubleshoot"}


def test_create_tag_duplicate_name_is_400_and_team(simulator, http):
    tags_url = simulator.base_url + "/v1/tags"
    created = http.post(tags_url, json={"name": "Rappel ☎", "color": "#00FF00"})
    assert created.status_code == 201
    assert created.json()["tag"]["name"] == "Rappel ☎"
    assert http.post(tags_url, json={"name": "Rappel ☎", "color": "#000000"}).status_code == 400
    assert http.post(tags_url, json={"name": "VIP", "color": "#000000"}).status_code == 400
    assert http.post(tags_url, json={"name": "x", "color": "green"}).status_code == 422
    assert len(walk(http, simulator, "/v1/tags")) == 11
    team = http.post(simulator.base_url + "/v1/teams", json={"name": "Night owls 🦉"})
    assert team.status_code == 201 and team.json()["team"]["users"] == []
    assert http.post(simulator.base_url + "/v1/teams", json={}).status_code == 422
    assert len(walk(http, simulator, "/v1/teams")) == 5


def test_store_update_contact_moves_updated_at(simulator, http):
    contact = simulator.store.all("contacts")[3]
    updated = simulator.store.update_contact(contact["id"], information="changed")
    assert updated["updated_at"] == simulator.store.now()
    served = get(http, simulator, f"/v1/contacts/{contact['id']}").json()["contact"]
    assert served["information"] == "changed"
    latest = get(http, simulator, "/v1/contacts", order_by="updated_at", order="desc", per_page=1)
    assert latest.json()["contacts"][0]["id"] == contact["id"]
