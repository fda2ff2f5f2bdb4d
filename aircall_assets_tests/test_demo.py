"""``make demo`` loads the simulator's account into the warehouse the environment names, the
DuckDB file or PostgreSQL (then no DuckDB file is written), prints the rows it holds, and
leaves every asset ``make dev`` shows materialized but the two only a reverse sync writes."""

import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

from aircall_assets import demo as demo_module
from aircall_assets.catalog import TABLES
from aircall_assets.definitions import build_definitions
from aircall_assets.settings import load_settings
from aircall_assets.warehouse.url import WAREHOUSE_URL_ENV, mask
from aircall_assets_tests.helpers import query
from aircall_assets_tests.warehouses import KINDS

DAYS, CALLS_PER_DAY = 3, 15
UNKNOWN_CALLERS = dg.AssetKey(["aircall_reverse", "unknown_callers"])
WRITTEN_BY_A_SYNC = {
    dg.AssetKey(["aircall_sync", "responses"]),
    dg.AssetKey(["aircall_sync", "state"]),
}


def never_materialized(home: Path) -> set[dg.AssetKey]:
    """The assets of the lineage ``make dev`` shows that have no materialization in the
    instance; checked to be only those no run can materialize (written by a sync alone)."""
    graph = build_definitions(load_settings()).resolve_asset_graph()
    assert UNKNOWN_CALLERS in graph.materializable_asset_keys
    with dg.DagsterInstance.from_config(str(home)) as instance:
        never = {
            key
            for key in graph.get_all_asset_keys()
            if instance.get_latest_materialization_event(key) is None
        }
    assert never == graph.get_all_asset_keys() - graph.materializable_asset_keys
    return never


@pytest.mark.parametrize("kind", KINDS)
def test_the_demo_loads_the_warehouse_the_environment_names(
    kind, request, tmp_path, monkeypatch, capsys
):
    db = tmp_path / "data" / "aircall.duckdb"
    url = request.getfixturevalue("postgres_database") if kind == "postgres" else None
    (tmp_path / "aircall.yaml").write_text(
        "tables:\n  teams: {enabled: false}\n"
        "destinations:\n"
        "  - {name: unknown_callers, source: aircall_reverse/unknown_callers, "
        "template: create_contacts}\n"
    )
    env = {
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "AIRCALL_SETTINGS": str(tmp_path / "aircall.yaml"),
        "AIRCALL_DUCKDB_PATH": str(db),
    }
    if url:
        env[WAREHOUSE_URL_ENV] = url
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # unset, as for a user's first demo; set then unset, so that the test's end undoes the demo's
    for name in [WAREHOUSE_URL_ENV, *demo_module.demo_environment("", date(2026, 1, 1))]:
        if name not in env:
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)
    config = replace(demo_module.simulator_config(), days=DAYS, calls_per_day=CALLS_PER_DAY)

    assert demo_module.demo(config) == 0

    printed = capsys.readouterr().out
    assert f"Warehouse {mask(url) if url else db}:" in printed
    lines = [line for line in printed.splitlines() if line.startswith("  aircall.")]
    assert len({len(line) for line in lines}) == 1, "the counts are aligned"
    for name in (name for name in TABLES if name != "teams"):
        (rows,) = query(url or db, f"SELECT count(*) FROM aircall.{name}")[0]
        assert rows > 0, name
        assert re.search(rf"^  aircall\.{name} +{rows} rows$", printed, re.M), name
    assert query(url or db, "SELECT count(*) FROM aircall.calls") == [(DAYS * CALLS_PER_DAY,)]
    assert "aircall.teams" not in printed
    (callers,) = query(url or db, "SELECT count(*) FROM aircall_reverse.unknown_callers")[0]
    assert callers > 0
    assert never_materialized(tmp_path / "dagster_home") == WRITTEN_BY_A_SYNC
    if url:
        assert not db.exists() and not db.parent.exists(), "a DuckDB file was written"
        assert urlsplit(url).password not in printed


def test_dev_starts_dagster_dev_with_the_webserver_port_asked_for():
    command = demo_module.dagster_dev_command(3001)
    assert Path(command[0]).name == "dagster"
    assert command[1:] == ["dev", "-w", "workspace.yaml", "-p", "3001"]
