"""Shared fixtures: simulated Aircall accounts served on free loopback ports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from aircall_assets.budget import BUDGET_DIR_ENV
from aircall_assets.simulator import Simulator, SimulatorConfig
from aircall_assets.simulator.config import utc_today


@pytest.fixture(scope="session", autouse=True)
def budget_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The shared request budgets of this session's simulators, apart from any other run's (a
    simulator's port is reused by later ones; child processes inherit the variable)."""
    previous = os.environ.get(BUDGET_DIR_ENV)
    os.environ[BUDGET_DIR_ENV] = str(tmp_path_factory.mktemp("budgets"))
    yield
    if previous is None:
        os.environ.pop(BUDGET_DIR_ENV, None)
    else:
        os.environ[BUDGET_DIR_ENV] = previous


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
