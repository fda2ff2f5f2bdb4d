"""The tiny protocol between the benchmark runner and a worker process.

Workers run in whatever interpreter the tool needs (the project's venv, the peers' venv, or
Python 3.10 for Airbyte), so this module depends on nothing but the standard library. A worker
gets its parameters as one JSON argument and prints one ``BENCH_RESULT {json}`` line.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime, timedelta, timezone
from typing import Any

RESULT_PREFIX = "BENCH_RESULT "


def params() -> dict[str, Any]:
    return json.loads(sys.argv[1])


def emit(**result: Any) -> None:
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def fresh_db(workdir: str, name: str) -> str:
    """The path of a DuckDB file in ``workdir`` with no earlier run's file (or WAL) left."""
    db = os.path.join(workdir, name)
    for suffix in ("", ".wal", ".lock"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return db


def day_start(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp())


def day_windows(first: str, days: int) -> list[tuple[int, int]]:
    """Half-open ``[start, end)`` UNIX-second windows, one per UTC day."""
    start = date.fromisoformat(first)
    return [
        (day_start(start + timedelta(days=i)), day_start(start + timedelta(days=i + 1)))
        for i in range(days)
    ]
