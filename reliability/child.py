"""``python -m reliability.child``: a run the crash scenarios can SIGKILL.

It runs the real assets and IO manager; the only additions are markers (``--markers FILE``):
one line per phase and per DuckDB statement of the warehouse (``<unix time> <phase>
<detail>``), appended and flushed before the statement runs, so that after a SIGKILL the parent
knows where the process died (API read, staging, inside the merge transaction, after commit).
``--kill-in TABLE --kill-after S`` makes the process SIGKILL itself S seconds after the merge
transaction of TABLE begins (``BEGIN TRANSACTION`` sent): a kill that lands inside the DuckDB
transaction however short it is.

Credentials come from ``AIRCALL_API_ID``/``AIRCALL_API_TOKEN``, never from argv.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

_markers = None
_kill: tuple[str, float] | None = None
_merging: str | None = None
# --kill-on EVENT:N: SIGKILL when the N-th marker EVENT ("phase" or "phase:detail") is written.
_kill_on: tuple[str, int, float] | None = None
_seen: dict[str, int] = {}


def mark(phase: str, detail: str = "") -> None:
    if _markers is not None:
        _markers.write(f"{time.time():.6f} {phase} {detail}\n")
        _markers.flush()
    if _kill_on is not None:
        for event in (phase, f"{phase}:{detail}"):
            _seen[event] = _seen.get(event, 0) + 1
            if event == _kill_on[0] and _seen[event] == _kill_on[1]:
                if _kill_on[2] <= 0:
                    mark("self-kill")
                    os.kill(os.getpid(), signal.SIGKILL)
                _sigkill_self_after(_kill_on[2])


def _sigkill_self_after(seconds: float) -> None:
    def fire() -> None:
        mark("self-kill")
        os.kill(os.getpid(), signal.SIGKILL)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


class _MarkedConnection:
    """A DuckDB connection that marks each statement before running it."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        words = sql.split()
        verb = " ".join(words[:2]) if words[:1] in (["CREATE"], ["ALTER"]) else words[0]
        mark("main-sql", verb)
        if verb == "BEGIN" and _kill is not None and _kill[0] == _merging:
            _sigkill_self_after(_kill[1])
        return self._con.execute(sql, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _instrument_warehouse() -> None:
    import duckdb

    from aircall_assets.warehouse import duckdb_file as warehouse

    class _DuckDB:
        def __getattr__(self, name: str) -> Any:
            return getattr(duckdb, name)

        @staticmethod
        def connect(database: str = ":memory:", *args: Any, **kw: Any) -> Any:
            return _MarkedConnection(duckdb.connect(database, *args, **kw))

    warehouse.duckdb = _DuckDB()  # type: ignore[assignment]
    original_merge = warehouse.Warehouse._merge

    def merge(self, spool, schema, table, load):
        global _merging
        mark("merge-start", table)
        _merging = table
        try:
            result = original_merge(self, spool, schema, table, load)
        finally:
            _merging = None
        mark("merge-end", table)
        return result

    warehouse.Warehouse._merge = merge  # type: ignore[method-assign]


def _resource(args: argparse.Namespace):
    """The Aircall resource of a child: the account from the environment, pace from args."""
    from reliability.extract import aircall

    return aircall(
        os.environ["AIRCALL_API_BASE_URL"],
        os.environ["AIRCALL_API_ID"],
        os.environ["AIRCALL_API_TOKEN"],
        requests_per_minute=args.rpm,
        rate_window_seconds=args.window,
    )


def _extract(args: argparse.Namespace) -> int:
    from reliability.extract import extract

    resource = _resource(args)
    mark("start")
    results = extract(
        resource,
        args.db,
        date.fromisoformat(args.first),
        date.fromisoformat(args.last),
        tables=args.tables.split(","),
    )
    ok = all(r.success for r in results)
    mark("done", "ok" if ok else "failed")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    global _markers, _kill, _kill_on
    parser = argparse.ArgumentParser(prog="python -m reliability.child")
    parser.add_argument("--markers", type=Path)
    parser.add_argument("--kill-in", help="SIGKILL self during the merge of this table")
    parser.add_argument("--kill-after", type=float, default=0.0)
    parser.add_argument(
        "--kill-on", help="EVENT:N, SIGKILL self --kill-after seconds after the N-th EVENT marker"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ext = commands.add_parser("extract", help="key-based range backfill + full tables")
    ext.add_argument("--db", required=True)
    ext.add_argument("--first", required=True)
    ext.add_argument("--last", required=True)
    ext.add_argument("--tables", default="users,numbers,contacts,calls")
    ext.add_argument("--rpm", type=int, default=0)
    ext.add_argument("--window", type=float, default=60.0)
    rev = commands.add_parser("reverse", help="one reverse-sync run of a destination")
    rev.add_argument("--db", required=True)
    rev.add_argument("--settings", required=True, help="JSON settings (with the destination)")
    rev.add_argument("--destination", required=True)
    rev.add_argument("--rpm", type=int, default=0)
    rev.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.markers:
        _markers = open(args.markers, "a", encoding="utf-8")  # noqa: SIM115 - process lifetime
    if args.kill_in:
        _kill = (args.kill_in, args.kill_after)
    if args.kill_on:
        event, _, count = args.kill_on.rpartition(":")
        _kill_on = (event, int(count), args.kill_after)
    _instrument_warehouse()
    mark("imported")
    if args.command == "extract":
        return _extract(args)
    return _reverse(args)


def _instrument_client() -> None:
    from aircall_assets.client.client import AircallClient

    original = AircallClient.request

    def request(self, method, path, **kw):
        mark("http-send", f"{method.upper()}")
        try:
            status, body = original(self, method, path, **kw)
        except Exception as exc:
            mark("http-error", type(exc).__name__)
            raise
        mark("http-answer", f"{method.upper()}")
        return status, body

    AircallClient.request = request  # type: ignore[method-assign]


def _reverse(args: argparse.Namespace) -> int:
    import orjson

    from aircall_assets.settings import Settings
    from reliability.reverse import run_sync

    _instrument_client()
    settings = Settings.model_validate(orjson.loads(Path(args.settings).read_bytes()))
    resource = _resource(args)
    mark("start")
    result = run_sync(settings, resource, args.db, args.destination)
    mark("done", "ok" if result.success else "failed")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
