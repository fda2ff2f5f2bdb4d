"""Fixtures for the simulator's own tests: a plain `requests` session with demo credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = ("demo", "demo")
        yield session
