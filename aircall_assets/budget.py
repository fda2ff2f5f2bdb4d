"""One request budget per Aircall company, shared by every process that talks to it.

Aircall counts requests per company, whatever key, process or integration sends them, so a
budget kept in one process is wrong as soon as a second one runs: the steps of one run under
Dagster's default multiprocess executor, several runs at once, the reverse sync, a sensor. The
budget of a company (API base URL + API ID) is a small state that every process reads and
writes under an exclusive lock:

* the send times of the last ``limit`` requests (a sliding window: no fixed window the server
  may use, whatever its alignment, ever holds more than ``limit``), and
* the time until which Aircall blocked the company after a 429, so every process waits for the
  reset, not only the one that got it.

Nothing is held between requests: a slot is a timestamp that expires after the window, and a
killed process's lock is dropped (by the kernel, or by the database with its session), so a
crash cannot leak budget. Where the state lives is the one thing that differs:
``FileBudget`` keeps it in a ``flock``'ed file, for the processes of one machine (the DuckDB
warehouse); ``budget_postgres.PostgresBudget`` keeps it in a row of the PostgreSQL warehouse,
for a deployment whose runs are processes on several machines (one pod per run on Kubernetes).
``budget_for_company`` picks the one the warehouse URL implies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

BUDGET_DIR_ENV = "AIRCALL_BUDGET_DIR"
T = TypeVar("T")
# What a budget's state holds: {"sent": [send times, oldest first], "blocked_until": time}.
State = dict[str, Any]


class RequestBudget(Protocol):
    """What the client needs of a budget: a slot before each request, a block after a 429."""

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        ...

    def block_until(self, unix_time: float) -> None:
        """Every user of the budget waits until ``unix_time`` (Aircall's reset)."""
        ...


def budget_dir() -> Path:
    """Where the state files live: ``$AIRCALL_BUDGET_DIR``, else a folder of the temp dir
    (shared by every process of the machine, so Dagster's defaults need no setting)."""
    configured = os.environ.get(BUDGET_DIR_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "aircall_budgets"


def company_key(base_url: str, api_id: str) -> str:
    """A file-name-safe key of one company; a hash, so that no identifier shows on disk."""
    return hashlib.sha256(f"{base_url}\n{api_id}".encode()).hexdigest()[:32]


def budget_for_company(
    base_url: str, api_id: str, limit: int, window: float, warehouse_url: str | None = None
) -> SharedBudget:
    """The company's budget where every process of the deployment finds it: in the PostgreSQL
    warehouse when ``warehouse_url`` names one (its runs may be on several machines), else in
    a file of ``budget_dir()`` (the DuckDB file's processes share one machine)."""
    if warehouse_url:
        # imported here: a DuckDB deployment never loads the PostgreSQL driver
        from aircall_assets.budget_postgres import PostgresBudget

        return PostgresBudget(warehouse_url, company_key(base_url, api_id), limit, window)
    return FileBudget.for_company(base_url, api_id, limit, window)


class SharedBudget(ABC):
    """At most ``limit`` requests in any sliding ``window`` seconds for every user of one
    state, and the blocks after a 429; ``limit=0`` paces nothing but still shares blocks.
    Subclasses say where the state lives and how it is locked (``update``)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        # Covers the send-to-arrival lag of a loaded machine: 0.4% of a real 60 s window.
        self.margin = max(0.05, min(0.25, window * 0.005))

    @abstractmethod
    def update(self, change: Callable[[State, float], T]) -> T:
        """``change(state, now)`` under the state's exclusive lock, the state written back if
        it changed; ``now`` is the clock every user of the state agrees on (Unix seconds).
        The lock is held only while ``change`` runs: it must not wait."""

    def acquire(self) -> float:
        waited = 0.0
        while True:
            wait = self.update(self._take_slot)
            if wait <= 0:
                return waited
            time.sleep(wait)  # outside the lock: the others go on meanwhile
            waited += wait

    def block_until(self, unix_time: float) -> None:
        def block(state: State, now: float) -> None:
            # ``unix_time`` is on this machine's clock, ``now`` on the state's: keep the delay
            until = now + (unix_time - time.time())
            state["blocked_until"] = max(state.get("blocked_until", 0.0), until)

        self.update(block)

    def _take_slot(self, state: State, now: float) -> float:
        """Takes a slot and returns 0, or returns the seconds until one may be free."""
        wait = state.get("blocked_until", 0.0) - now
        if wait > 0 or self.limit <= 0:
            return max(wait, 0.0)
        horizon = now - self.window - self.margin
        sent = [t for t in state.get("sent", []) if t > horizon][-self.limit :]
        if len(sent) >= self.limit:
            state["sent"] = sent
            return sent[0] - horizon
        sent.append(now)
        state["sent"] = sent
        return 0.0


class FileBudget(SharedBudget):
    """The budget in a state file, for every process of the machine that uses the same file."""

    def __init__(self, path: Path, limit: int, window: float) -> None:
        super().__init__(limit, window)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    @classmethod
    def for_company(cls, base_url: str, api_id: str, limit: int, window: float) -> FileBudget:
        return cls(budget_dir() / f"{company_key(base_url, api_id)}.json", limit, window)

    def update(self, change: Callable[[State, float], T]) -> T:
        with _LockedState(self.path) as state:
            return change(state, time.time())


class _LockedState:
    """The state file read under an exclusive lock, written back if changed on exit."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> State:
        # A descriptor of its own each time: flock then excludes other threads of this process
        # too, and a descriptor inherited through fork would share its lock with the parent.
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            raw = os.pread(self.fd, 1 << 20, 0)
        except BaseException:
            os.close(self.fd)
            raise
        try:
            self.state = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            self.state = {}  # a writer killed mid-write: start afresh, the window refills
        self.before = dict(self.state)
        return self.state

    def __exit__(self, *exc: object) -> None:
        try:
            if self.state != self.before:
                data = orjson.dumps(self.state)
                os.pwrite(self.fd, data, 0)
                os.ftruncate(self.fd, len(data))
        finally:
            os.close(self.fd)  # closing drops the flock
