"""Helpers of the reverse-sync tests: source tables, settings, in-process runs, simulator counts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
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
from aircall_assets.settings import Settings, parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import Warehouse, WarehouseIOManager
from aircall_assets_tests.helpers import query, resource_for


def settings_with(*destinations: dict[str, Any]) -> Settings:
    start = (utc_today() - timedelta(days=20)).isoformat()
    return parse_settings({"history_start": start, "destinations": list(destinations)})


def write_source(db: Path, table: str, rows: list[dict[str, Any]], columns=None) -> None:
    """``schema.table`` ← rows; lists and dicts are stored as JSON text (as a CRM export)."""
    schema, name = table.split(".")
    cells = [
        {k: (orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v) for k, v in r.items()}
        for r in rows
    ]
    frame = pd.DataFrame(cells, columns=columns or (list(rows[0]) if rows else None))
    Warehouse(db).replace_frame(schema, name, frame)


def job_defs(settings: Settings, sim, db: Path, **resource_overrides) -> dg.Definitions:
    reverse = build_reverse_sync(settings)
    return dg.Definitions(
        assets=reverse.assets,
        jobs=reverse.jobs,
        sensors=reverse.sensors,
        resources={
            "aircall": resource_for(sim, **resource_overrides),
            IO_MANAGER_KEY: WarehouseIOManager(path=str(db)),
        },
    )


def run_sync(
    settings: Settings,
    sim,
    db: Path,
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
    settings: Settings, sim, db: Path, destination: str, *, instance=None, **config: Any
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


def responses(db: Path, destination: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM aircall_sync.responses"
    params: list[Any] = []
    if destination:
        sql += " WHERE destination = ?"
        params.append(destination)
    with Warehouse(db).connect(read_only=True) as con:
        cursor = con.execute(sql + " ORDER BY attempted_at", params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def state(db: Path, destination: str) -> dict[str, dict[str, Any]]:
    with Warehouse(db).connect(read_only=True) as con:
        cursor = con.execute(
            "SELECT * FROM aircall_sync.state WHERE destination = ?", [destination]
        )
        names = [d[0] for d in cursor.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


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
