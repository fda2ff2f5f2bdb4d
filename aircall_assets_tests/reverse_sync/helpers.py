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

from aircall_assets.assets import IO_MANAGER_KEY
from aircall_assets.reverse_sync.definitions import (
    REVERSE_SYNC_JOB,
    SYNC_OP,
    TEST_SEND_JOB,
    TEST_SEND_OP,
    build_reverse_sync,
)
from aircall_assets.reverse_sync.state import RESPONSE_COLUMNS, STATE_COLUMNS
from aircall_assets.settings import Settings, parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.helpers import query, resource_for
from aircall_assets_tests.warehouses import io_manager_for

Address = str | PathLike[str]  # a DuckDB file or a PostgreSQL URL


def settings_with(*destinations: dict[str, Any]) -> Settings:
    start = (utc_today() - timedelta(days=20)).isoformat()
    return parse_settings({"history_start": start, "destinations": list(destinations)})


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
    reverse = build_reverse_sync(settings)
    return dg.Definitions(
        assets=reverse.assets,
        jobs=reverse.jobs,
        sensors=reverse.sensors,
        resources={
            "aircall": resource_for(sim, **resource_overrides),
            IO_MANAGER_KEY: io_manager_for(db),
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
    job = job_defs(settings, sim, db, **(resource_overrides or {})).get_job_def(REVERSE_SYNC_JOB)
    return job.execute_in_process(
        run_config={"ops": {SYNC_OP: {"config": {"destination": destination, **config}}}},
        raise_on_error=False,
        instance=instance,
    )


def run_test_send(
    settings: Settings, sim, db: Address, destination: str, *, instance=None, **config: Any
):
    job = job_defs(settings, sim, db).get_job_def(TEST_SEND_JOB)
    return job.execute_in_process(
        run_config={"ops": {TEST_SEND_OP: {"config": {"destination": destination, **config}}}},
        raise_on_error=False,
        instance=instance,
    )


def output_metadata(result: dg.ExecuteInProcessResult, op: str = SYNC_OP) -> dict[str, Any]:
    """The op's output metadata, or the failure's metadata, as plain values."""
    for event in result.all_events:
        if event.step_key != op:
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


def responses(db: Address, destination: str | None = None) -> list[dict[str, Any]]:
    where = "WHERE destination = ?" if destination else ""
    return rows_of(
        db,
        "aircall_sync.responses",
        RESPONSE_COLUMNS,
        f"{where} ORDER BY attempted_at",
        [destination] if destination else [],
    )


def state(db: Address, destination: str) -> dict[str, dict[str, Any]]:
    found = rows_of(db, "aircall_sync.state", STATE_COLUMNS, "WHERE destination = ?", [destination])
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
