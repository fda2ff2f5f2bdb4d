"""One run at a time per destination, for the whole run, on the DuckDB warehouse.

A sync reads its destination's state once, at the start, and trusts it until the end: that is
what lets it send a row only when its state says so. Since the run does not keep the warehouse
open between requests, nothing in DuckDB stops a second run of the same destination (the
sensor launches one per materialization of the source, and a first sync can take hours) from
reading the same state and sending the same rows again. So each run holds an ``flock`` on a
file beside the warehouse, one per destination of each account, from before it reads the
state until its last outcome is committed (on PostgreSQL, where runs may be in other pods, an
advisory lock does the same: ``postgres_store.py``). Runs of other destinations, extracts and
readers are not held up; a second run of the same destination waits, then plans from the
state the first one left.

The kernel releases an ``flock`` when its process dies, so a killed run never leaves the
destination locked. There is no timeout: the run being waited for may rightly take hours, and
terminating the waiting run in the UI ends the wait.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def lock_path(warehouse_path: Path, name: str) -> Path:
    """``<warehouse>.sync-<name>.lock``: ``name`` is ``store.lock_name``'s (``leads`` for the
    default account's destination, ``eu.leads`` for account eu's), a valid file name."""
    return warehouse_path.with_name(f"{warehouse_path.name}.sync-{name}.lock")


@contextmanager
def destination_lock(warehouse_path: Path, name: str, holder: str, log: Any) -> Iterator[None]:
    """Hold the destination ``name`` for this block; ``holder`` (a run id) is shown to whoever
    waits."""
    path = lock_path(warehouse_path, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = handle.read().strip() or "another run"
            log.info(f"'{name}' is being synced by {other}: waiting for it to finish")
            began = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)
            log.info(f"'{name}' is free after {time.monotonic() - began:.1f}s of waiting")
        try:
            handle.truncate(0)
            handle.write(f"{holder} (pid {os.getpid()})")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
