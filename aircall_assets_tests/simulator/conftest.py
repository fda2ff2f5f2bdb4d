"""Fixtures for the simulator's own tests: a plain `requests` session with demo credentials,
and simulators whose clock a test sets."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from aircall_assets.simulator import Simulator, SimulatorConfig


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = ("demo", "demo")
        yield session


class Clock:
    """A settable "now" for a simulator's store: link expiry and AI result delays without
    waiting. Starts at the real time, so the account's days stay where the config puts them."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked_simulator() -> Iterator[Callable[..., tuple[Simulator, Clock]]]:
    """`factory(**SimulatorConfig kwargs)` → (started Simulator, its Clock); stopped at the end."""
    started: list[Simulator] = []

    def factory(**kwargs: Any) -> tuple[Simulator, Clock]:
        clock = Clock()
        simulator = Simulator(SimulatorConfig(port=0, **kwargs), clock=clock).start()
        started.append(simulator)
        return simulator, clock

    yield factory
    for simulator in started:
        simulator.stop()
