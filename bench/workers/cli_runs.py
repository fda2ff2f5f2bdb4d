"""Dagster runs started from the command line, several at once, as users' shells would start them.

Runs in the project's environment. Modes (param ``mode``):

* ``prepare``: the reverse sync's source, materialized in this process (it is setup, not
  measured): ``aircall/calls`` over the range, ``aircall/contacts`` for its first partition
  only and ``aircall_reverse/unknown_callers`` from them, into ``env``'s DuckDB file. With
  the contacts of one day in the warehouse, most callers of the range match no contact, so
  the demo destination has some hundreds of rows to send (the simulator has only 50 callers
  that are in no contact at all).
* ``launch``: every command of ``runs`` started at the same moment, each in a process of its
  own with the environment's overrides, and waited for; per run its start and end on the
  monotonic clock (the simulator's request log uses the same system-wide clock, so the
  runner can tell which server windows each run was alive in), exit code and the peak RSS of
  the largest process of its tree.

Params: mode, and for ``prepare``: env, first_day, last_day; for ``launch``: workdir (a log
per run), cwd, runs (name, argv, env), counts (name: [DuckDB file, table]) read after every
run ended.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from _protocol import emit, params

warnings.filterwarnings("ignore")

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _count(db: str, table: str) -> int:
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def mode_prepare(p: dict) -> None:
    os.environ.update(p["env"])
    import dagster as dg

    from aircall_assets.catalog import CALLS, CONTACTS
    from aircall_assets.definitions import build_definitions
    from aircall_assets.settings import load_settings

    defs = build_definitions(load_settings())
    instance = dg.DagsterInstance.ephemeral()

    def materialize(key: dg.AssetKey, **kw: object) -> None:
        # The definition comes bound to the code location's resources (the AIRCALL_* env).
        result = dg.materialize(
            [defs.resolve_assets_def(key)], instance=instance, run_config=QUIET, **kw
        )
        assert result.success, key

    materialize(
        dg.AssetKey(["aircall", CALLS.name]),
        tags={
            "dagster/asset_partition_range_start": p["first_day"],
            "dagster/asset_partition_range_end": p["last_day"],
        },
    )
    materialize(dg.AssetKey(["aircall", CONTACTS.name]), partition_key=p["first_day"])
    materialize(dg.AssetKey(["aircall_reverse", "unknown_callers"]))
    db = p["env"]["AIRCALL_DUCKDB_PATH"]
    emit(
        calls=_count(db, "aircall.calls"),
        contacts=_count(db, "aircall.contacts"),
        rows_to_send=_count(db, "aircall_reverse.unknown_callers"),
    )


def mode_launch(p: dict) -> None:
    logs = Path(p["workdir"])
    started: dict[int, tuple[str, float, Path]] = {}
    for run in p["runs"]:
        log = logs / f"{run['name']}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                run["argv"],
                cwd=p["cwd"],
                env={**os.environ, **run["env"]},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started[proc.pid] = (run["name"], time.monotonic(), log)
    ended: dict[str, dict] = {}
    while len(ended) < len(started):
        pid, status, usage = os.wait4(-1, 0)  # every child of this process is a run
        name, start, log = started[pid]
        code = os.waitstatus_to_exitcode(status)
        ended[name] = {
            "started": start,
            "ended": time.monotonic(),
            "exit_code": code,
            "peak_rss_mb": usage.ru_maxrss / 1024.0,  # KiB on Linux; its tree's largest
        }
        if code != 0:
            sys.stderr.write(f"{name} exited {code}:\n{log.read_text(errors='replace')[-3000:]}")
    failed = [name for name, run in ended.items() if run["exit_code"] != 0]
    if failed:
        raise SystemExit(f"runs failed: {failed}")
    first = min(run["started"] for run in ended.values())
    last = max(run["ended"] for run in ended.values())
    emit(
        runs=[{"name": r["name"], **ended[r["name"]]} for r in p["runs"]],
        counts={name: _count(db, table) for name, (db, table) in p["counts"].items()},
        wall_s=last - first,
    )


def main() -> None:
    p = params()
    {"prepare": mode_prepare, "launch": mode_launch}[p["mode"]](p)


if __name__ == "__main__":
    main()
