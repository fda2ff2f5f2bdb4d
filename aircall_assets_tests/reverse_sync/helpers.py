"""Helpers of the reverse-sync tests: source tables, settings, in-process runs, simulator counts.

A warehouse is given as its address, a DuckDB file's path or a PostgreSQL database's URL
(``warehouses.io_manager_for``): the same helpers serve both."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from os import PathLike
from typing import Any

import dagster as dg
import orjson
import pandas as pd

from aircall_assets.account import DEFAULT_ACCOUNT
from aircall_assets.reverse_sync.definitions import ReverseSyncNames, build_reverse_sync
from aircall_assets.reverse_sync.state import RESPONSE_COLUMNS, STATE_COLUMNS
from aircall_assets.settings import Settings, parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.helpers import query, resource_for
from aircall_assets_tests.warehouses import io_manager_for

Address = str | PathLike[str]  # a DuckDB file or a PostgreSQL URL


DEFAULT_SYNC_SCHEMA = DEFAULT_ACCOUNT.sync_schema


def settings_with(*destinations: dict[str, Any], **others: Any) -> Settings:
    """Settings with these destinations (and ``others``: an account, its credentials)."""
    start = (utc_today() - timedelta(days=20)).isoformat()
    return parse_settings({"history_start": start, "destinations": list(destinations), **others})


def write_source(db: Address, table: str, rows: list[dict[str, Any]], columns=None) -> None:
    """``schema.table`` ← rows; lists and dicts are stored as JSON text (as a CRM export)."""
    schema, name = table.split(".")
    cells = [
        {k: (orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v) for k, v in r.items()}
        for r in rows
    ]
    frame = pd.DataFrame(cells, columns=columns or (list(rows[0]) if rows else None))
    io_manager_for(db).store.replace_frame(schema, name, frame)


def job_defs(settings: Settings, sim, db: Address, **resource_overrides) -> dg.Definitions:
    """The account's reverse sync, its resources pointed at ``sim`` and the warehouse ``db``."""
    reverse = build_reverse_sync(settings)
    account = settings.names
    return dg.Definitions(
        assets=reverse.assets,
        jobs=reverse.jobs,
        sensors=reverse.sensors,
        resources={
            account.aircall_resource_key: resource_for(sim, **resource_overrides),
            account.io_manager_key: io_manager_for(db),
        },
    )


def run_sync(
    settings: Settings,
    sim,
    db: Address,
    destination: str,
    *,
    instance=None,
    resource_overrides=None,
    **config: Any,
) -> dg.ExecuteInProcessResult:
    names = ReverseSyncNames(settings.names)
    defs = job_defs(settings, sim, db, **(resource_overrides or {}))
    return defs.get_job_def(names.sync_job).execute_in_process(
        run_config={"ops": {names.sync_op: {"config": {"destination": destination, **config}}}},
        raise_on_error=False,
        instance=instance,
    )


def run_test_send(
    settings: Settings, sim, db: Address, destination: str, *, instance=None, **config: Any
):
    names = ReverseSyncNames(settings.names)
    job = job_defs(settings, sim, db).get_job_def(names.test_send_job)
    return job.execute_in_process(
        run_config={
            "ops": {names.test_send_op: {"config": {"destination": destination, **config}}}
        },
        raise_on_error=False,
        instance=instance,
    )


def output_metadata(result: dg.ExecuteInProcessResult, op: str | None = None) -> dict[str, Any]:
    """The op's output metadata, or the failure's metadata, as plain values (``op``: the run's
    only op if not given)."""
    for event in result.all_events:
        if op is not None and event.step_key != op:
            continue
        if event.event_type_value == "STEP_OUTPUT":
            entries = event.event_specific_data.metadata
            return {k: getattr(v, "value", v) for k, v in entries.items()}
        if event.event_type_value == "STEP_FAILURE":
            data = event.event_specific_data
            entries = data.user_failure_data.metadata if data.user_failure_data else {}
            return {k: getattr(v, "value", v) for k, v in entries.items()}
    raise AssertionError("no output or failure event for " + op)


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Messages of the failed steps, with the exceptions that caused them."""
    texts = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        error = event.event_specific_data.error
        while error is not None:
            texts.append(str(error.message))
            error = error.cause
    return "\n".join(texts)


def rows_of(db: Address, table: str, columns, where: str = "", params=()) -> list[dict[str, Any]]:
    """``columns`` of ``table``'s rows (``where``: a clause with ``?`` marks) as dicts."""
    names = list(columns)
    sql = f"SELECT {', '.join(names)} FROM {table} {where}"
    return [dict(zip(names, row, strict=True)) for row in query(db, sql, list(params))]


def responses(
    db: Address, destination: str | None = None, schema: str = DEFAULT_SYNC_SCHEMA
) -> list[dict[str, Any]]:
    where = "WHERE destination = ?" if destination else ""
    return rows_of(
        db,
        f"{schema}.responses",
        RESPONSE_COLUMNS,
        f"{where} ORDER BY attempted_at",
        [destination] if destination else [],
    )


def state(
    db: Address, destination: str, schema: str = DEFAULT_SYNC_SCHEMA
) -> dict[str, dict[str, Any]]:
    found = rows_of(db, f"{schema}.state", STATE_COLUMNS, "WHERE destination = ?", [destination])
    return {row["row_key"]: row for row in found}


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def contacts_with(sim, numbers: list[str]) -> Counter:
    """How many simulator contacts hold each of these numbers (compared digit by digit)."""
    wanted = {digits(n): n for n in numbers}
    found: Counter = Counter()
    for contact in sim.store.all("contacts"):
        for d in {digits(p["value"]) for p in contact["phone_numbers"]}:
            if d in wanted:
                found[wanted[d]] += 1
    return found


__all__ = ["query"]
