"""Fixtures of the reverse-sync tests: a small simulated account and a temp warehouse."""

from __future__ import annotations

import pytest

from aircall_assets_tests.warehouses import WarehouseUnderTest


@pytest.fixture
def sim(simulator_factory):
    """A small account (few calls, 20 contacts, 6 users) on a free loopback port."""
    return simulator_factory(seed=3, days=2, calls_per_day=5, contacts=20, users=6)


@pytest.fixture
def db(tmp_path):
    """A DuckDB file of this test (for what only DuckDB has: its file, its file lock)."""
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def each_db(warehouse: WarehouseUnderTest) -> str:
    """Each warehouse in turn, empty, as the helpers take it: a DuckDB file's path, then a
    PostgreSQL database's URL."""
    return warehouse.address
