"""Auth, routing errors, single objects, ping and company."""

from __future__ import annotations

import requests

from .helpers import get, unsigned


def test_missing_credentials_are_401(simulator):
    response = requests.get(simulator.base_url + "/v1/calls", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_wrong_or_malformed_credentials_are_403(simulator):
    for headers in (
        {"Authorization": "Basic ZGVtbzp3cm9uZw=="},  # demo:wrong
        {"Authorization": "Basic !!not-base64!!"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Token demo"},
    ):
        response = requests.get(simulator.base_url + "/v1/ping", headers=headers, timeout=10)
        assert response.status_code == 403, headers
        assert response.json() == {"message": "Forbidden"}


def test_bearer_token_is_accepted(simulator):
    response = requests.get(
        simulator.base_url + "/v1/ping", headers={"Authorization": "Bearer demo"}, timeout=10
    )
    assert response.status_code == 200 and response.json() == {"ping": "pong"}


def test_unknown_routes_are_404_even_without_auth(simulator, http):
    for path in ("/v1/nothing", "/v1/users", "/v3/calls", "/v1/calls/1/extra"):
        response = http.get(simulator.base_url + path, timeout=10)
        assert response.status_code == 404, path
        assert response.json() == {"message": "Not Found"}
    anonymous = requests.get(simulator.base_url + "/v1/nothing", timeout=10)
    assert anonymous.status_code == 404
    assert http.delete(simulator.base_url + "/v1/calls").status_code == 404


def test_company_counts_follow_the_store(simulator, http):
    company = get(http, simulator, "/v1/company").json()
    assert set(company) == {"company"}
    assert company["company"] == simulator.store.company()
    assert company["company"]["users_count"] == 12
    assert company["company"]["numbers_count"] == 8


def test_single_objects_and_their_404(simulator, http):
    call = simulator.store.calls_between(0, 2**40)[5]
    served = get(http, simulator, f"/v1/calls/{call['id']}").json()
    assert unsigned(served) == {"call": unsigned(call)}
    for resource, path, singular in (
        ("contacts", "/v1/contacts", "contact"),
        ("users", "/v2/users", "user"),
        ("numbers", "/v1/numbers", "number"),
        ("teams", "/v1/teams", "team"),
        ("tags", "/v1/tags", "tag"),
    ):
        record = simulator.store.all(resource)[0]
        assert get(http, simulator, f"{path}/{record['id']}").json() == {singular: record}
        missing = get(http, simulator, f"{path}/1")
        assert missing.status_code == 404
        assert missing.json()["error"] == "Not found" and "troubleshoot" in missing.json()
    assert get(http, simulator, "/v1/calls/999").status_code == 404
    assert get(http, simulator, "/v1/calls/1999999999").status_code == 404
