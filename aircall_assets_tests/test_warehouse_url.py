"""``AIRCALL_WAREHOUSE_URL``: which warehouse, a clear error for any other scheme, and its password
never shown: not in the definitions (what the UI shows), reprs, logs, run events, metadata or
errors, whether the run passes or fails."""

import logging
from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import TABLES
from aircall_assets.definitions import build_definitions
from aircall_assets.resources import warehouse_store
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import Warehouse, WarehouseIOManager
from aircall_assets.warehouse.postgres import PostgresWarehouse
from aircall_assets.warehouse.url import (
    WAREHOUSE_URL_ENV,
    WarehouseURLError,
    check_url,
    mask,
)
from aircall_assets_tests.helpers import query, resource_for

HISTORY = {"history_start": utc_today().isoformat()}


def password(url: str) -> str:
    return url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


@pytest.mark.parametrize(
    "url",
    ["mysql://u:hunter2@db/x", "duckdb:///tmp/x.duckdb", "hunter2@db/x", "sqlite://hunter2"],
)
def test_any_other_scheme_fails_at_load_naming_the_accepted_ones(monkeypatch, url):
    monkeypatch.setenv(WAREHOUSE_URL_ENV, url)
    with pytest.raises(WarehouseURLError) as err:
        build_definitions(parse_settings(HISTORY))
    message = str(err.value)
    assert "postgresql://user:password@host:port/database" in message
    assert "postgres://" in message and "unset for DuckDB at AIRCALL_DUCKDB_PATH" in message
    assert "hunter2" not in message


def test_unset_or_empty_means_the_duckdb_file(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRCALL_DUCKDB_PATH", str(tmp_path / "x.duckdb"))
    for value in (None, ""):
        if value is None:
            monkeypatch.delenv(WAREHOUSE_URL_ENV, raising=False)
        else:
            monkeypatch.setenv(WAREHOUSE_URL_ENV, value)
        io_manager = build_definitions(parse_settings(HISTORY)).resources["warehouse_io_manager"]
        assert io_manager.url is None
        store = io_manager.store
        assert isinstance(store, Warehouse) and store.path == tmp_path / "x.duckdb"


def test_mask_hides_the_password_wherever_libpq_reads_one():
    assert check_url("postgres://a:b@h/d") == "postgres://a:b@h/d"
    assert mask("postgresql://aircall:s3cr:t@db.example:5432/w") == (
        "postgresql://aircall:***@db.example:5432/w"
    )
    assert mask("postgresql://db/w?user=a&password=s3cret&sslmode=require") == (
        "postgresql://db/w?user=a&password=***&sslmode=require"
    )
    assert mask("postgresql://aircall@db/w") == "postgresql://aircall@db/w"


def test_on_a_postgres_url_every_part_uses_that_database_and_none_a_duckdb_file(
    monkeypatch, postgres_url
):
    from aircall_assets.reverse_sync.postgres_store import PostgresSyncWarehouse

    monkeypatch.setenv(WAREHOUSE_URL_ENV, postgres_url)
    io_manager = build_definitions(parse_settings(HISTORY)).resources["warehouse_io_manager"]
    assert io_manager.url == dg.EnvVar(WAREHOUSE_URL_ENV)
    resolved = WarehouseIOManager(url=postgres_url)
    assert isinstance(resolved.store, PostgresWarehouse)
    assert isinstance(resolved.warehouse, PostgresSyncWarehouse)
    assert isinstance(warehouse_store(), PostgresWarehouse)


def test_the_password_never_appears_in_definitions_runs_logs_or_errors(
    monkeypatch, simulator_factory, postgres_database, caplog, capfd
):
    postgres_url = postgres_database
    secret = password(postgres_url)
    monkeypatch.setenv(WAREHOUSE_URL_ENV, postgres_url)
    defs = build_definitions(parse_settings(HISTORY))
    io_manager = defs.resources["warehouse_io_manager"]
    texts = [
        repr(io_manager),
        repr(WarehouseIOManager(url=postgres_url)),
        repr(WarehouseIOManager(url=postgres_url).store),
        serialize_value(RepositorySnap.from_def(defs.get_repository_def())),
    ]
    start = utc_today() - timedelta(days=2)
    sim = simulator_factory(start_date=start, days=2, calls_per_day=20)
    assets = [
        build_extract_asset(TABLES[n], parse_settings({"history_start": start.isoformat()}))
        for n in ("calls", "tags")
    ]
    caplog.set_level(logging.DEBUG)
    wrong = postgres_url.replace(secret, secret + "-wrong")
    with dg.instance_for_test() as instance:
        for url, passes in ((postgres_url, True), (wrong, False)):
            monkeypatch.setenv(WAREHOUSE_URL_ENV, url)
            result = dg.materialize(
                assets,
                instance=instance,
                partition_key=start.isoformat(),
                resources={
                    "aircall": resource_for(sim),
                    "warehouse_io_manager": WarehouseIOManager(url=dg.EnvVar(WAREHOUSE_URL_ENV)),
                },
                raise_on_error=False,
            )
            assert result.success is passes
            texts += [repr(event) for event in result.all_events]
        failures = [e.step_failure_data.error for e in result.get_step_failure_events()]
        assert failures and all(
            "could not connect to the PostgreSQL warehouse" in f.to_string() for f in failures
        )
        texts += [f.to_string() for f in failures]
        for run in instance.get_runs():
            texts += [repr(entry) for entry in instance.all_logs(run.run_id)]
    out, err = capfd.readouterr()
    texts += [out, err, caplog.text]
    everything = "\n".join(texts)
    assert query(postgres_url, "SELECT count(*) FROM aircall.calls")[0][0] > 0
    assert len(everything) > 10_000, "the search covered real output"
    assert mask(postgres_url) in everything  # the URL is shown, masked
    assert secret not in everything
