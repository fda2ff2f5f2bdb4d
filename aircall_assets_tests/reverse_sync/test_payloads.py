"""Rows → payloads, without HTTP: templates, validation, exclusions, keys, hashes, batching."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from aircall_assets.reverse_sync.dry_run import sample, samples_markdown
from aircall_assets.reverse_sync.payloads import (
    DestinationError,
    build_payloads,
    json_safe,
    normalize_phone,
)
from aircall_assets.reverse_sync.plan import make_requests
from aircall_assets.reverse_sync.send import form_fields
from aircall_assets.settings import parse_settings


def destination(**fields):
    (d,) = parse_settings(
        {
            "history_start": "2026-06-01",
            "destinations": [{"name": "d", "source": "crm.people", **fields}],
        }
    ).destinations
    return d


def payloads(rows, **fields):
    d = destination(**fields)
    return build_payloads(d, rows, list(dict.fromkeys(k for r in rows for k in r)))


def contact(i=1, **extra):
    return {
        "id": i,
        "first_name": "Grace",
        "last_name": "Hopper",
        "phone_numbers": [{"id": 5, "label": "Work", "value": "+1 202-555-0100"}],
        **extra,
    }


def test_create_contacts_keeps_only_contact_fields_and_drops_aircall_ids():
    (p,) = payloads([contact(crm_score=7, information=None)], template="create_contacts")
    assert p.valid and p.key == "1"
    assert p.body == {
        "first_name": "Grace",
        "last_name": "Hopper",
        "phone_numbers": [{"label": "Work", "value": "+1 202-555-0100"}],
    }
    assert p.unsent_columns == ("crm_score",)
    assert (p.method, p.path) == ("POST", "/v1/contacts")


def test_contact_details_accept_json_text_strings_and_single_columns():
    rows = [
        contact(1, phone_numbers='[{"label": "Mobile", "value": "+33 6 12 34 56 78"}]'),
        {"id": 2, "first_name": "A", "phone_number": "+33612345679", "email": "a@b.co"},
        contact(3, phone_numbers=["+33 1", "+33 2"]),
    ]
    a, b, c = payloads(rows, template="create_contacts")
    assert a.body["phone_numbers"] == [{"label": "Mobile", "value": "+33 6 12 34 56 78"}]
    assert b.body["phone_numbers"] == [{"label": "Work", "value": "+33612345679"}]
    assert b.body["emails"] == [{"label": "Work", "value": "a@b.co"}]
    assert [e["value"] for e in c.body["phone_numbers"]] == ["+33 1", "+33 2"]


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ({"id": 1, "first_name": "No phone"}, "at least one phone number is required"),
        (contact(phone_numbers=[]), "at least one phone number is required"),
        (contact(phone_numbers=[{"label": "x", "value": " "}]), "has no value"),
        (
            contact(phone_numbers=[f"+1 555 {i:04d}" for i in range(21)]),
            "at most 20 allowed, got 21",
        ),
        (contact(emails=[f"u{i}@x.io" for i in range(21)]), "emails: at most 20"),
        (contact(emails=["not-an-email"]), "is not a valid email"),
        (contact(phone_numbers=42), "must be a list"),
    ],
)
def test_contact_validation(row, error):
    (p,) = payloads([row], template="create_contacts")
    assert not p.valid and error in p.error


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ({"email": "x@y.io", "first_name": "A"}, "last_name is required"),
        ({"email": "", "first_name": "A", "last_name": "B"}, "email is required"),
        ({"email": "nope", "first_name": "A", "last_name": "B"}, "not a valid email"),
        (
            {"email": "x@y.io", "first_name": "A", "last_name": "B", "wrap_up_time": -1},
            "wrap_up_time",
        ),
    ],
)
def test_user_validation(row, error):
    (p,) = payloads([row], template="create_users")
    assert not p.valid and error in p.error


def test_users_are_keyed_by_email_and_contacts_by_first_number_without_key_column():
    (u,) = payloads(
        [{"email": " Ann@X.io", "first_name": "Ann", "last_name": "B"}], template="create_users"
    )
    assert u.key == "ann@x.io" and u.body["email"] == "Ann@X.io"
    row = contact()
    del row["id"]
    (c,) = payloads([row], template="create_contacts")
    assert c.key == "+12025550100"


def test_an_invalid_row_without_key_gets_a_stable_content_key():
    row = {"first_name": "no phone, no key"}
    (a,) = payloads([row], template="create_contacts")
    (b,) = payloads([dict(row)], template="create_contacts")
    assert not a.valid and a.key.startswith("row:") and a.key == b.key


def test_update_contacts_fills_the_path_from_the_row_and_requires_a_change():
    ok, empty, no_id = payloads(
        [{"id": 7, "information": "vip"}, {"id": 8}, {"id": None, "information": "x"}],
        template="update_contacts",
    )
    assert (ok.path, ok.body) == ("/v1/contacts/7", {"information": "vip"})
    assert "nothing to update" in empty.error
    assert "placeholder(s) ['id'] empty" in no_id.error


def test_exclusions_apply_to_the_body_but_not_to_placeholders():
    (p,) = payloads(
        [{"id": 7, "secret": "s", "information": "x", "company_name": "c"}],
        method="POST",
        path="/v1/contacts/{id}",
        exclude=["secret", "id", "company_name"],
    )
    assert p.path == "/v1/contacts/7"
    assert p.body == {"information": "x"}
    (t,) = payloads(
        [contact(information="keep out")],
        template="create_contacts",
        exclude=["information", "last_name"],
    )
    assert set(t.body) == {"first_name", "phone_numbers"}


def test_placeholder_values_are_url_quoted():
    (p,) = payloads([{"id": "a/b?c", "x": 1}], method="PUT", path="/v1/things/{id}")
    assert p.path == "/v1/things/a%2Fb%3Fc"


def test_key_column_and_missing_columns_are_configuration_errors():
    with pytest.raises(DestinationError, match="key column 'crm_id' is not in crm.people"):
        payloads([contact()], template="create_contacts", key="crm_id")
    with pytest.raises(DestinationError, match=r"placeholder\(s\) \['team'\] are not columns"):
        payloads([{"id": 1}], method="POST", path="/v1/teams/{team}/users")
    with pytest.raises(DestinationError, match="set 'key:'"):
        payloads([{"name": "t"}], template="create_records", resource_type="tags")


def test_hash_tracks_what_is_sent_not_column_order():
    (a,) = payloads([{"id": 1, "x": 1, "y": [1, 2]}], method="POST", path="/v1/x")
    (b,) = payloads([{"y": [1, 2], "x": 1, "id": 1}], method="POST", path="/v1/x")
    (c,) = payloads([{"id": 1, "x": 2, "y": [1, 2]}], method="POST", path="/v1/x")
    assert a.hash == b.hash != c.hash
    (d,) = payloads([contact(crm_score=1)], template="create_contacts")
    (e,) = payloads([contact(crm_score=2)], template="create_contacts")
    assert d.hash == e.hash  # a column the template does not send changes nothing


def test_batching_by_count():
    rows = [{"id": i, "v": i} for i in range(250)]
    d = destination(method="POST", path="/v1/bulk", batching={"enabled": True, "size": 100})
    requests = make_requests(d, build_payloads(d, rows, ["id", "v"]))
    assert [len(r.items) for r in requests] == [100, 100, 50]
    assert requests[0].body[0] == {"id": 0, "v": 0} and requests[2].body[-1] == {
        "id": 249,
        "v": 249,
    }
    assert all(r.path == "/v1/bulk" for r in requests)


def test_batching_by_attribute_value_fills_the_group_placeholder():
    rows = [{"id": i, "team": "ab"[i % 2], "user": i} for i in range(7)]
    d = destination(
        method="POST",
        path="/v1/teams/{team}/users",
        batching={"enabled": True, "size": 3, "group_by": "team"},
        exclude=["team"],
    )
    requests = make_requests(d, build_payloads(d, rows, ["id", "team", "user"]))
    shape = [(r.path, [b["user"] for b in r.body]) for r in requests]
    assert shape == [
        ("/v1/teams/a/users", [0, 2, 4]),
        ("/v1/teams/a/users", [6]),
        ("/v1/teams/b/users", [1, 3, 5]),
    ]
    assert all("team" not in b for r in requests for b in r.body)


def test_sample_shows_batches_after_exclusions_and_header_names_only():
    d = destination(
        method="POST",
        path="/v1/bulk",
        exclude=["v"],
        headers="X-Secret:abc",
        batching={"enabled": True, "size": 40},
    )
    rows = [{"id": i, "v": i} for i in range(45)]
    shown = sample(make_requests(d, build_payloads(d, rows, ["id", "v"])), 5)
    assert [s["rows"] for s in shown] == [40, 5]
    assert shown[0]["body"][:2] == [{"id": 0}, {"id": 1}] and len(shown[0]["body"]) == 10
    assert shown[0]["body_note"] == "first 10 of 40 records in this batch"
    assert shown[0]["extra_headers"] == ["X-Secret"] and "abc" not in str(shown)


def test_samples_markdown_shows_each_request_in_its_own_code_block():
    d = destination(
        method="POST",
        path="/v1/bulk",
        headers="X-Secret:abc",
        batching={"enabled": True, "size": 12},
    )
    rows = [{"id": i, "v": "```" if i == 0 else i} for i in range(13)]
    text = samples_markdown(sample(make_requests(d, build_payloads(d, rows, ["id", "v"])), 5))
    first, second = text.split("\n\n**2. ")
    assert first.startswith("**1. POST /v1/bulk** (12 row(s): `0`, `1`,")
    assert "`9` ...)" in first and "_first 10 of 12 records in this batch_" in first
    # a body holding a fence cannot close the block early: the fence is longer than it
    assert '\n````json\n[\n  {\n    "id": 0,\n    "v": "```"' in first
    assert first.endswith("\n]\n````")
    assert second.startswith("POST /v1/bulk** (1 row(s): `12`)") and "```json" in second
    headers = samples_markdown(sample(make_requests(d, build_payloads(d, rows[:1], ["id"])), 1))
    assert "Extra headers: `X-Secret`" in headers and "abc" not in headers
    assert samples_markdown([]) == "_no request to show_"


def test_json_safe_values_and_form_fields():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert json_safe({"t": moment, "d": Decimal("2.50"), "n": Decimal("3"), "f": float("nan")}) == {
        "t": "2026-01-02T03:04:05Z",
        "d": 2.5,
        "n": 3,
        "f": None,
    }
    assert form_fields({"a": 1, "b": None, "c": [1], "d": True}) == {
        "a": "1",
        "c": "[1]",
        "d": "true",
    }
    assert normalize_phone("+33 (0)1-23") == "+33012" + "3"
    assert normalize_phone("06 12") == "0612" and normalize_phone("anonymous") == ""
