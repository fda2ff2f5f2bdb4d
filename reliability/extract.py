"""Run the extract assets the way a user's backfill does, in this process or in a child.

In process (faults, secrets): ``dg.materialize`` of the key-based assets over a partition range
(one single-run backfill, the range passed as tags like the UI and the CLI do) and of the full
tables, with explicit resources. Child processes (crashes) run ``python -m
reliability.child extract`` with the credentials in the environment, never in argv, and the
repository's root on their ``PYTHONPATH``: ``reliability`` is not part of the installed package
and the child runs in a work directory of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import TABLES, Table
from aircall_assets.client.resource import AircallResource
from aircall_assets.settings import Settings
from aircall_assets.warehouse import WarehouseIOManager

KEYED = tuple(t.name for t in TABLES.values() if t.is_partitioned)
FULL = tuple(t.name for t in TABLES.values() if not t.is_partitioned)
ALL = tuple(TABLES)
# Failures are collected from the events; the console would only repeat them.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
REPO_ROOT = Path(__file__).resolve().parents[1]


def settings_for(first: date, tables: dict[str, Any] | None = None) -> Settings:
    """Settings with ``first`` as history start (AIRCALL_START_DATE is not consulted)."""
    return Settings.model_validate({"history_start": first.isoformat(), "tables": tables or {}})


def range_tags(first: date, last: date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


def aircall(base_url: str, api_id: str, api_token: str, **options: Any) -> AircallResource:
    """The resource as a test rig wants it: no pacing, quick retries, short timeouts."""
    values: dict[str, Any] = {
        "requests_per_minute": 0,
        "backoff_seconds": 0.05,
        "read_timeout": 5.0,
        **options,
    }
    return AircallResource(api_id=api_id, api_token=api_token, base_url=base_url, **values)


def extract(
    resource: AircallResource,
    db: Path | str,
    first: date,
    last: date,
    *,
    tables: Iterable[str] = ALL,
    instance: dg.DagsterInstance | None = None,
    run_config: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Key-based tables over ``[first, last]`` in one run, then the full tables in another."""
    settings = settings or settings_for(first)
    run_config = {**QUIET, **(run_config or {})}
    chosen: list[Table] = [TABLES[n] for n in tables]
    resources = {"aircall": resource, "warehouse_io_manager": WarehouseIOManager(path=str(db))}
    results = []
    keyed = [build_extract_asset(t, settings) for t in chosen if t.is_partitioned]
    full = [build_extract_asset(t, settings) for t in chosen if not t.is_partitioned]
    if keyed:
        results.append(
            dg.materialize(
                keyed,
                resources=resources,
                tags=range_tags(first, last),
                instance=instance,
                run_config=run_config,
                raise_on_error=False,
            )
        )
    if full:
        results.append(
            dg.materialize(
                full,
                resources=resources,
                instance=instance,
                run_config=run_config,
                raise_on_error=False,
            )
        )
    return results


def failure_messages(results: Sequence[dg.ExecuteInProcessResult]) -> list[str]:
    """The error text of every failed step of ``results``."""
    messages = []
    for result in results:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data.error:
                messages.append(event.step_failure_data.error.to_string())
            elif event.event_type == dg.DagsterEventType.RUN_FAILURE and not result.success:
                data = event.event_specific_data
                error = getattr(data, "error", None)
                if error is not None:
                    messages.append(error.to_string())
    return messages


def child_env(base_url: str, api_id: str, api_token: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCALL_")}
    env.update(
        {
            "AIRCALL_API_BASE_URL": base_url,
            "AIRCALL_API_ID": api_id,
            "AIRCALL_API_TOKEN": api_token,
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


def spawn_child(args: Sequence[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """``python -m reliability.child ARGS`` in its own process group, in ``cwd``."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    handle = open(log, "ab")  # noqa: SIM115 - closed by the caller via wait_child
    proc = subprocess.Popen(
        [sys.executable, "-m", "reliability.child", *args],
        env={**env, "PYTHONPATH": path},
        cwd=cwd,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc._reliability_log = handle  # type: ignore[attr-defined]
    return proc


def wait_child(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout)
    finally:
        handle = getattr(proc, "_reliability_log", None)
        if handle is not None:
            handle.close()
