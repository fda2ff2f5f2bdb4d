"""Shared fixtures: simulated Aircall accounts served on free loopback ports, and a throwaway
PostgreSQL server (started only when a test asks for it)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from aircall_assets.budget import BUDGET_DIR_ENV
from aircall_assets.simulator import Simulator, SimulatorConfig
from aircall_assets.simulator.config import utc_today
from aircall_assets.spool import SPOOL_DIR_ENV
from aircall_assets_tests.postgres import PostgresCluster, fresh_database
from aircall_assets_tests.warehouses import KINDS, WarehouseUnderTest


@pytest.fixture(scope="session", autouse=True)
def budget_and_spool_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The shared request budgets and the read spools of this session, apart from any other
    run's (a simulator's port is reused by later ones; child processes inherit the
    variables)."""
    previous = {name: os.environ.get(name) for name in (BUDGET_DIR_ENV, SPOOL_DIR_ENV)}
    os.environ[BUDGET_DIR_ENV] = str(tmp_path_factory.mktemp("budgets"))
    os.environ[SPOOL_DIR_ENV] = str(tmp_path_factory.mktemp("spools"))
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., Simulator]]:
    """`factory(**SimulatorConfig kwargs)` → a started Simulator; all are stopped at the end."""
    started: list[Simulator] = []

    def factory(**kwargs: Any) -> Simulator:
        kwargs.setdefault("port", 0)
        simulator = Simulator(SimulatorConfig(**kwargs)).start()
        started.append(simulator)
        return simulator

    yield factory
    for simulator in started:
        simulator.stop()


@pytest.fixture
def simulator(simulator_factory: Callable[..., Simulator]) -> Simulator:
    """A small account: the 10 days before today, 40 calls a day, 60 contacts, seed 1."""
    return simulator_factory(
        seed=1, start_date=utc_today() - timedelta(days=10), days=10, calls_per_day=40, contacts=60
    )


@pytest.fixture
def own_spool_dir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A spool folder of this test alone, for tests that check what is left in it."""
    path = tmp_path / "spool"
    monkeypatch.setenv(SPOOL_DIR_ENV, str(path))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL (with its password) of a database on a PostgreSQL 15 cluster of this session.

    Never skipped: without the server binaries the tests that need it fail, saying how to
    install them. The cluster is stopped and removed at the end, pass or fail.
    """
    cluster = PostgresCluster()
    try:
        try:
            cluster.start()
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(params=KINDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[WarehouseUnderTest]:
    """Each warehouse in turn, empty: a DuckDB file of this test, or a PostgreSQL database of
    its own (the server starts with the first test that needs it)."""
    if request.param == "duckdb":
        yield WarehouseUnderTest("duckdb", str(tmp_path / "w.duckdb"))
        return
    yield WarehouseUnderTest("postgres", request.getfixturevalue("postgres_database"))


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """The URL of an empty database of this test alone, on the session's server."""
    with fresh_database(postgres_url) as url:
        yield url
