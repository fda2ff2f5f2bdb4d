"""Shared test helpers: clients and resources pointed at a simulator, warehouse readers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import psycopg
from psycopg.types.string import TextLoader

from aircall_assets.client.client import AircallClient
from aircall_assets.client.resource import AircallResource


def _options(sim, overrides) -> dict:
    """Credentials of the simulator, no pacing, fast retries: tests wait for nothing."""
    return {
        "api_id": sim.config.api_id,
        "api_token": sim.config.api_token,
        "base_url": sim.base_url,
        "requests_per_minute": 0,
        "backoff_seconds": 0.01,
        "read_timeout": 5.0,
        **overrides,
    }


def client_for(sim, **overrides) -> AircallClient:
    return AircallClient(**_options(sim, overrides))


def resource_for(sim, **overrides) -> AircallResource:
    return AircallResource(**_options(sim, overrides))


def query(where: str | Path, sql: str, params=None) -> list[tuple]:
    """Read-only query of a warehouse: a PostgreSQL URL, else a DuckDB file (attached as ``wh``:
    a file aircall.duckdb vs schema aircall). ``?`` placeholders on both; JSON as its text,
    timestamps in UTC."""
    if str(where).startswith(("postgresql://", "postgres://")):
        return _postgres_query(str(where), sql, params)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH '{where}' AS wh (READ_ONLY)")
        con.execute("USE wh")
        return con.execute(sql, params or []).fetchall()


def _postgres_query(url: str, sql: str, params) -> list[tuple]:
    with psycopg.connect(url) as con:
        con.execute("SET TIME ZONE 'UTC'")
        for name in ("json", "jsonb"):
            con.adapters.register_loader(name, TextLoader)
        if params:
            return con.execute(sql.replace("?", "%s"), params).fetchall()
        return con.execute(sql).fetchall()


def _expected_cell(value, warehouse_type: str):
    """The API value as the warehouse must hold it, computed independently of normalize.py."""
    from datetime import datetime, timezone

    if value is None:
        return None
    if warehouse_type == "TIMESTAMPTZ":
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    if warehouse_type == "JSON":
        return value
    if warehouse_type == "VARCHAR" and isinstance(value, (dict, list)):
        return value
    return value


def assert_table_matches(where, table, records, columns=None, schema: str = "aircall") -> int:
    """Every cell of ``<schema>.<table>`` in the warehouse ``where`` (see ``query``) equals the
    API records, types included."""
    import json
    from urllib.parse import urlsplit

    fields = table.resolve_columns(columns)
    names = ", ".join(f'"{f.name}"' for f in fields)
    rows = query(where, f"SELECT {names} FROM {schema}.{table.name}")
    key = table.primary_key
    # Audio links are signed per response and point at the simulator that served them (its
    # port): equal when their paths are, whatever the host and query (expires, signature).
    signed = {"recording", "voicemail"} if table.name == "calls" else set()

    def unsigned(name, value):
        return urlsplit(value).path if name in signed and isinstance(value, str) else value

    actual = {}
    for row in rows:
        cells = dict(zip([f.name for f in fields], row, strict=True))
        for f in fields:
            if f.warehouse_type == "JSON" and cells[f.name] is not None:
                cells[f.name] = json.loads(cells[f.name])
            cells[f.name] = unsigned(f.name, cells[f.name])
        actual[cells[key] if key else 0] = cells
    assert len(actual) == len(rows), "duplicate primary keys in the warehouse"
    expected = {
        (r[key] if key else 0): {
            f.name: unsigned(f.name, _expected_cell(r.get(f.name), f.warehouse_type))
            for f in fields
        }
        for r in records
    }
    assert sorted(actual) == sorted(expected), (
        f"{table.name}: ids differ; missing {sorted(set(expected) - set(actual))[:5]}, "
        f"extra {sorted(set(actual) - set(expected))[:5]}"
    )
    for ident, cells in expected.items():
        assert actual[ident] == cells, f"{table.name} id={ident} differs"
    return len(rows)


def cli_environment(sim, directory: Path, history: date, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: the account, a Dagster home and a warehouse."""
    home = directory / "dagster_home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "AIRCALL_API_BASE_URL": sim.base_url,
        "AIRCALL_API_ID": sim.config.api_id,
        "AIRCALL_API_TOKEN": sim.config.api_token,
        "AIRCALL_REQUESTS_PER_MINUTE": "0",
        "AIRCALL_DUCKDB_PATH": str(directory / "aircall.duckdb"),
        "AIRCALL_START_DATE": history.isoformat(),
        **extra,
    }


def materialize_command(selection: str, first: date, last: date) -> list[str]:
    """Exactly the README's CLI backfill (and issue 3's)."""
    return [
        sys.executable,
        "-m",
        *f"dagster asset materialize -m aircall_assets --select {selection}".split(),
        "--partition-range",
        f"{first}...{last}",
    ]


def materialize_cli(env: dict[str, str], selection: str, first: date, last: date) -> None:
    out = subprocess.run(
        materialize_command(selection, first, last),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]


def still_running_after(thread: threading.Thread, seconds: float, until_done: bool = False) -> bool:
    """Whether ``thread`` still runs ``seconds`` later (or, ``until_done``, as soon as it
    ends). Polled with sleeps: under libfaketime (the suite run a month ahead) a timed
    ``Thread.join`` never returns."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until_done and not thread.is_alive()):
        time.sleep(0.02)
    return thread.is_alive()
