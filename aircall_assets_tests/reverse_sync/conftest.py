"""Fixtures of the reverse-sync tests: a small simulated account and a temp warehouse."""

from __future__ import annotations

import pytest


@pytest.fixture
def sim(simulator_factory):
    """A small account (few calls, 20 contacts, 6 users) on a free loopback port."""
    return simulator_factory(seed=3, days=2, calls_per_day=5, contacts=20, users=6)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "warehouse.duckdb"
