"""Resources built from the ``AIRCALL_*`` environment, the one place env vars are read for runs.

Secrets stay ``dg.EnvVar`` (resolved at run start, never shown in the UI); a missing one fails
the run at start with the variable's name.
"""

from __future__ import annotations

import os

import dagster as dg

from aircall_assets.client.base_url import DEFAULT_BASE_URL, validate_base_url
from aircall_assets.client.rate_limit import DEFAULT_MAX_RATE_LIMIT_WAIT
from aircall_assets.client.resource import AircallResource
from aircall_assets.settings import Settings
from aircall_assets.warehouse import (
    DEFAULT_DUCKDB_PATH,
    DEFAULT_MEMORY_LIMIT,
    TableStore,
    Warehouse,
    WarehouseIOManager,
    validate_memory_limit,
)
from aircall_assets.warehouse.duckdb_file import LOCK_TIMEOUT_SECONDS
from aircall_assets.warehouse.url import WAREHOUSE_URL_ENV, check_url

DUCKDB_POOL = "aircall_duckdb"  # one writer per DuckDB file: every asset/op writing it

ENV_VARS = {
    "AIRCALL_API_ID": "Aircall API ID (Basic auth user) of the default account. Required.",
    "AIRCALL_API_TOKEN": "Aircall API token (Basic auth password) of the default account. "
    "Required.",
    "AIRCALL_API_BASE_URL": f"API base URL of the default account. Default {DEFAULT_BASE_URL}.",
    "AIRCALL_REQUESTS_PER_MINUTE": "Request budget per minute of the default account's company, "
    "shared by every process. Default 60.",
    "AIRCALL_RATE_WINDOW_S": "Length in seconds of the budget's window. Default 60 "
    "(Aircall's); shorter only against a simulator.",
    "AIRCALL_MAX_RATE_LIMIT_WAIT_S": "Longest run of 429s waited out before a run fails. "
    "Default 1800.",
    "AIRCALL_SPOOL_DIR": "Folder of the read spools a rerun resumes. Default: the temp dir's "
    "aircall_spool.",
    "AIRCALL_SPOOL_MAX_AGE_H": "Oldest spool a rerun resumes, in hours; 0 never resumes. "
    "Default 24.",
    "AIRCALL_BUDGET_DIR": "Folder of the shared budget files, on DuckDB (on PostgreSQL the "
    "budget is a row of aircall_sync.request_budget). Default: the temp dir's aircall_budgets.",
    WAREHOUSE_URL_ENV: "postgresql://user:password@host:port/database: the warehouse is that "
    "PostgreSQL database (the password is never shown). Unset: DuckDB at AIRCALL_DUCKDB_PATH.",
    "AIRCALL_DUCKDB_PATH": f"Warehouse file. Default {DEFAULT_DUCKDB_PATH}.",
    "AIRCALL_DUCKDB_MEMORY_LIMIT": f"DuckDB's memory budget for a load. Default "
    f"{DEFAULT_MEMORY_LIMIT}.",
    "AIRCALL_SETTINGS": "Settings file. Default ./aircall.yaml.",
    "AIRCALL_START_DATE": "Overrides the settings' history_start (YYYY-MM-DD).",
    "AIRCALL_ARCHIVE_URL": "Where recordings.enabled archives the calls' audio: a folder or an "
    "fsspec URL such as s3://bucket/prefix. Default data/recordings.",
}


def _int_env(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}='{raw}' is not an integer") from None
    if value < minimum:
        raise ValueError(f"{name}={value} must be {minimum} or more")
    return value


def aircall_resource(settings: Settings) -> AircallResource:
    """The account's Aircall client. Its credentials are the variables its settings name; the
    default account also takes ``AIRCALL_API_BASE_URL`` and ``AIRCALL_REQUESTS_PER_MINUTE``,
    which a named account sets in its own settings instead."""
    default = settings.account is None
    base_url = settings.base_url or (default and os.environ.get("AIRCALL_API_BASE_URL"))
    requests_per_minute = settings.requests_per_minute
    if requests_per_minute is None:
        requests_per_minute = _int_env("AIRCALL_REQUESTS_PER_MINUTE", 60) if default else 60
    return AircallResource(
        api_id=dg.EnvVar(settings.api_id_env),
        api_token=dg.EnvVar(settings.api_token_env),
        base_url=validate_base_url(base_url or DEFAULT_BASE_URL),
        requests_per_minute=requests_per_minute,
        rate_window_seconds=_int_env("AIRCALL_RATE_WINDOW_S", 60, minimum=1),
        max_rate_limit_wait_seconds=_int_env(
            "AIRCALL_MAX_RATE_LIMIT_WAIT_S", int(DEFAULT_MAX_RATE_LIMIT_WAIT)
        ),
        # the budget lives where the warehouse does: every process of the deployment reaches it
        warehouse_url=dg.EnvVar(WAREHOUSE_URL_ENV) if warehouse_url() else None,
    )


def warehouse_url() -> str | None:
    """``AIRCALL_WAREHOUSE_URL`` if set, checked (a scheme other than PostgreSQL's is an error
    when the definitions load, not at the first run)."""
    url = os.environ.get(WAREHOUSE_URL_ENV)
    return check_url(url) if url else None


def warehouse_kind() -> str:
    """The kind tag the UI shows on every asset stored in the warehouse: ``postgres`` or
    ``duckdb``, the one ``AIRCALL_WAREHOUSE_URL`` chooses."""
    return "postgres" if warehouse_url() else "duckdb"


def warehouse_pool() -> str | None:
    """The pool of the assets that write the warehouse. A DuckDB file takes one writer at a
    time, so they share ``aircall_duckdb``; PostgreSQL's own transactions and advisory locks
    serialise what must be, so there runs write in parallel, in no pool."""
    return None if warehouse_url() else DUCKDB_POOL


def duckdb_path() -> str:
    """The DuckDB file, the warehouse when ``AIRCALL_WAREHOUSE_URL`` is unset."""
    return os.environ.get("AIRCALL_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH


def _memory_limit() -> str:
    return validate_memory_limit(
        os.environ.get("AIRCALL_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    )


def warehouse_store(lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> TableStore:
    """The warehouse of the environment, for the tools that read it outside a run (``make
    status``, the demo's summary): the PostgreSQL database of ``AIRCALL_WAREHOUSE_URL``, else
    the DuckDB file, whose lock they wait for at most ``lock_timeout`` seconds."""
    url = warehouse_url()
    if url:
        # imported here: a DuckDB deployment never loads the PostgreSQL driver
        from aircall_assets.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url)
    return Warehouse(duckdb_path(), lock_timeout=lock_timeout, memory_limit=_memory_limit())


def warehouse_io_manager() -> WarehouseIOManager:
    if warehouse_url():
        # an EnvVar: Dagster resolves it at run start and shows only the variable's name
        return WarehouseIOManager(url=dg.EnvVar(WAREHOUSE_URL_ENV), memory_limit=_memory_limit())
    return WarehouseIOManager(path=duckdb_path(), memory_limit=_memory_limit())
