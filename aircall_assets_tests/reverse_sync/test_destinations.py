"""Destinations are validated when the settings load, with messages that say what to fix."""

from __future__ import annotations

import textwrap

import dagster as dg
import pytest

from aircall_assets.reverse_sync.destinations import Destination
from aircall_assets.settings import SettingsError, load_settings, parse_settings


def dest(**fields) -> dict:
    return {"name": "d", "source": "crm.people", **fields}


def load(*destinations) -> list[Destination]:
    return parse_settings(
        {"history_start": "2026-06-01", "destinations": list(destinations)}
    ).destinations


def refused(*destinations) -> str:
    with pytest.raises(SettingsError) as info:
        load(*destinations)
    return str(info.value)


def test_a_foreign_host_is_refused_when_the_settings_file_loads(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRCALL_API_BASE_URL", raising=False)
    path = tmp_path / "aircall.yaml"
    path.write_text(
        textwrap.dedent("""
        destinations:
          - name: leak
            source: crm.people
            method: POST
            path: https://collector.example.net/v1/contacts
    """)
    )
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message and "collector.example.net" in message
    assert "credentials are only ever sent to Aircall" in message


@pytest.mark.parametrize(
    "url",
    [
        "http://api.aircall.io/v1/contacts",  # plain http to the right host
        "//evil.example/v1/contacts",  # scheme-relative
        "https://api.aircall.io.evil.example/v1/contacts",
        "https://user@api.aircall.io/v1/contacts",
    ],
)
def test_lookalike_urls_are_refused(url, monkeypatch):
    monkeypatch.delenv("AIRCALL_API_BASE_URL", raising=False)
    assert "destinations.0" in refused(dest(method="POST", path=url))


def test_an_absolute_url_to_the_configured_base_becomes_a_path(monkeypatch):
    monkeypatch.setenv("AIRCALL_API_BASE_URL", "http://127.0.0.1:8123")
    (d,) = load(dest(method="PUT", path="http://127.0.0.1:8123/v1/contacts/{id}"))
    assert d.path == "/v1/contacts/{id}"
    assert (d.route.kind, d.route.idempotent) == ("contact_update", True)


def test_templates_resolve_to_their_endpoints():
    contacts, users, update, tags, records_users = load(
        dest(name="a", template="create_contacts"),
        dest(name="b", template="create_users"),
        dest(name="c", template="update_contacts"),
        dest(name="d", template="create_records", resource_type="tags"),
        dest(name="e", template="create_records", resource_type="users"),
    )
    assert (contacts.route.method, contacts.route.path, contacts.route.lookup) == (
        "POST",
        "/v1/contacts",
        "contact_phone",
    )
    assert (users.route.path, users.route.lookup) == ("/v2/users", "user_email")
    assert (update.route.path, update.route.idempotent) == ("/v1/contacts/{id}", True)
    assert (tags.route.path, tags.route.lookup) == ("/v1/tags", "tag_name")
    assert records_users.route.path == "/v2/users"


def test_source_is_an_asset_key_or_a_table():
    a, b = load(
        dest(name="a", source="aircall_reverse/unknown_callers", template="create_contacts"),
        dest(name="b", source="aircall.contacts", template="update_contacts"),
    )
    assert a.asset_key == dg.AssetKey(["aircall_reverse", "unknown_callers"])
    assert a.table == ("aircall_reverse", "unknown_callers")
    assert b.asset_key == dg.AssetKey(["aircall", "contacts"]) and b.table == (
        "aircall",
        "contacts",
    )
    assert "asset key" in refused(dest(source="a/b/c", template="create_contacts"))
    assert "asset key" in refused(dest(source="people", template="create_contacts"))


def test_headers_are_parsed_and_credentials_headers_refused():
    (d,) = load(dest(method="POST", path="/v1/tags", headers="X-Trace: abc, X-Team:sales"))
    assert d.headers == {"X-Trace": "abc", "X-Team": "sales"}
    assert "credentials come from the resource" in refused(
        dest(method="POST", path="/v1/tags", headers="Authorization:Basic xyz")
    )
    assert "not 'name:value'" in refused(dest(method="POST", path="/v1/tags", headers="oops"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "choose a template"),
        ({"template": "create_contacts", "method": "POST", "path": "/v1/x"}, "not both"),
        ({"method": "POST"}, "choose a template"),
        ({"template": "create_records"}, "needs resource_type"),
        ({"template": "create_contacts", "batching": {"enabled": True}}, "manual-mode option"),
        ({"template": "create_contacts", "content_format": "form"}, "templates send JSON"),
        ({"template": "create_users", "exclude": ["email"]}, "requires ['email']"),
        (
            {
                "method": "POST",
                "path": "/v1/x",
                "content_format": "form",
                "batching": {"enabled": True},
            },
            "JSON array",
        ),
        (
            {"method": "PUT", "path": "/v1/contacts/{id}", "batching": {"enabled": True}},
            "needs batching.group_by",
        ),
        (
            {
                "method": "POST",
                "path": "/v1/teams/{team}/users",
                "batching": {"enabled": True, "group_by": "user"},
            },
            "is not",
        ),
        ({"method": "POST", "path": "/v1/x/{0}"}, "plain column name"),
        ({"method": "POST", "path": "/v1/x/{a.b}"}, "plain column name"),
        ({"method": "POST", "path": "v1/contacts"}, "must start with one /"),
        ({"method": "GET", "path": "/v1/contacts"}, "destinations.0.method"),
        ({"template": "create_contacts", "batching": {"size": 0}}, "batching.size"),
    ],
)
def test_invalid_combinations_are_refused(fields, message):
    assert message in refused(dest(**fields))


def test_batching_by_a_group_may_use_that_group_in_the_path():
    (d,) = load(
        dest(
            method="POST",
            path="/v1/teams/{team_id}/users",
            batching={"enabled": True, "size": 10, "group_by": "team_id"},
        )
    )
    assert d.placeholders == ["team_id"]


def test_destination_names_are_unique():
    assert "'d' is already the name of destinations.0" in refused(
        dest(template="create_contacts"), dest(template="create_users")
    )


def test_the_project_settings_declare_the_demo_destination():
    from pathlib import Path

    settings = load_settings(Path(__file__).parents[2] / "aircall.yaml")
    demo = {d.name: d for d in settings.destinations}["unknown_callers"]
    assert demo.source == "aircall_reverse/unknown_callers"
    assert demo.template == "create_contacts"
