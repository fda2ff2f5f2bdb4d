"""Scenario 5 on the small profile: the ID, the token and their base64 appear nowhere."""

from __future__ import annotations

import base64

from reliability import account
from reliability.report import ScenarioResult
from reliability.scenarios.secrets import Search, hits, run_secrets


def test_the_search_finds_each_needle_in_text_and_bytes():
    basic = base64.b64encode(f"{account.API_ID}:{account.API_TOKEN}".encode()).decode()
    assert hits(f"Authorization: Basic {basic}") == {"Basic-auth base64": 1}
    assert hits(f"x{account.API_TOKEN}y{account.API_TOKEN}".encode()) == {"API token": 2}
    result = ScenarioResult("s")
    Search(result).scan("a file", f"user={account.API_ID}")
    assert result.secret_hits == 1 and "API ID appears 1 time(s) in a file" in result.failures[0]


def test_no_secret_anywhere_after_passing_and_failing_syncs(profile, workdir):
    result = run_secrets(profile, workdir)
    assert result.ok, result.explain()
    assert result.runs >= 10
