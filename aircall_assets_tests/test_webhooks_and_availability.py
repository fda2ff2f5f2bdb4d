"""The lists without dates: ``user_availability`` (a snapshot of now) and ``webhooks`` (a meta
without link keys, and a ``token`` that must never travel past the read)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import dagster as dg
import pytest
import zstandard

from aircall_assets.__main__ import main as cli_main
from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import USER_AVAILABILITY, WEBHOOKS
from aircall_assets.client.pages import is_last
from aircall_assets.definitions import build_definitions
from aircall_assets.demo import INSTANCE_YAML
from aircall_assets.reads import Progress, read_full
from aircall_assets.settings import SettingsError, load_settings, parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.simulator.directory import AVAILABILITIES
from aircall_assets.spool import Spool
from aircall_assets_tests.helpers import assert_table_matches, client_for, query, resource_for
from aircall_assets_tests.warehouses import io_manager_for

WEBHOOK_COUNT = 57  # more than the API's largest page: two pages
START = utc_today() - timedelta(days=2)


@pytest.fixture(scope="module")
def account():
    from aircall_assets.simulator import Simulator, SimulatorConfig

    config = SimulatorConfig(
        seed=16, start_date=START, days=2, calls_per_day=5, contacts=10, webhooks=WEBHOOK_COUNT
    )
    with Simulator(config) as sim:
        yield sim


def materialize(sim, db, names, run_config=None, instance=None) -> dg.ExecuteInProcessResult:
    settings = parse_settings({"history_start": START.isoformat()})
    tables = {"user_availability": USER_AVAILABILITY, "webhooks": WEBHOOKS}
    return dg.materialize(
        [build_extract_asset(tables[n], settings) for n in names],
        resources={"aircall": resource_for(sim), "warehouse_io_manager": io_manager_for(db)},
        run_config=run_config,
        raise_on_error=False,
        instance=instance,
    )


def availabilities(sim) -> list[dict]:
    return [
        {"id": u["id"], "availability": sim.store.availability(u["id"])}
        for u in sim.store.all("users")
    ]


def test_a_page_is_last_by_its_link_or_else_by_the_total():
    linked = {"total": 120, "current_page": 1, "per_page": 50}
    assert not is_last([{}], {**linked, "next_page_link": "https://api/v1/calls?page=2"})
    assert is_last([{}], {**linked, "next_page_link": None}), "a null link ends a linked list"
    bare = {"count": 50, "total": 57, "per_page": 50}  # the webhooks' meta: no link keys
    assert not is_last([{}] * 50, {**bare, "current_page": 1})
    assert is_last([{}] * 7, {**bare, "count": 7, "current_page": 2})
    assert is_last([], {**bare, "current_page": 1}), "an empty page ends any list"
    assert is_last([{}] * 3, {}) and not is_last([{}] * 50, {}), "no figures: a short page ends"


def test_both_tables_match_the_api_and_a_snapshot_replaces_the_rows(account, warehouse):
    db = warehouse.address
    account.stats.reset()
    result = materialize(account, db, ["user_availability", "webhooks"])
    assert result.success
    assert account.stats.by_path["/v1/webhooks"] == 2
    assert assert_table_matches(db, WEBHOOKS, account.store.all("webhooks")) == WEBHOOK_COUNT
    assert assert_table_matches(db, USER_AVAILABILITY, availabilities(account)) == len(
        account.store.all("users")
    )
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    # the snapshot changes: the next load holds the new value and no row of the old one
    user = account.store.all("users")[0]["id"]
    before = account.store.availability(user)
    after = next(a for a in AVAILABILITIES if a != before)
    account.store.set_availability(user, after)
    assert materialize(account, db, ["user_availability"]).success
    assert_table_matches(db, USER_AVAILABILITY, availabilities(account))
    assert query(db, "SELECT availability FROM aircall.user_availability WHERE id = ?", [user]) == [
        (after,)
    ]


def test_a_token_column_is_refused_as_a_secret_in_settings_and_run_config(account, tmp_path):
    with pytest.raises(SettingsError) as raised:
        parse_settings(
            {
                "history_start": START.isoformat(),
                "tables": {"webhooks": {"columns": ["url", "token"]}},
            }
        )
    assert "webhooks" in str(raised.value) and "'token' of table webhooks is a secret" in str(
        raised.value
    )
    config = {"ops": {"aircall__webhooks": {"config": {"columns": ["token"]}}}}
    result = materialize(account, tmp_path / "w.duckdb", ["webhooks"], run_config=config)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "'token' of table webhooks is a secret that is never loaded" in failure


def test_the_token_is_dropped_as_the_page_is_read_before_the_spool(account, tmp_path):
    tokens = account.store.webhook_tokens()
    assert len(tokens) == WEBHOOK_COUNT
    client = client_for(account)
    served = json.dumps(client.get(WEBHOOKS.path, {"per_page": 50}))
    assert tokens[0] in served, "the API does send the tokens"
    spool = Spool.private(root=tmp_path)
    seen: list[dict] = []
    progress = Progress(lambda _: None, "webhooks", client)
    total = read_full(client, WEBHOOKS, spool, progress, seen.extend)
    assert total == WEBHOOK_COUNT == len(seen) == spool.manifest.rows
    assert all("token" not in record for record in seen), "the checks never see it"
    spooled = b"".join(
        zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read() for path in spool.files
    )
    assert all(w["webhook_id"].encode() in spooled for w in account.store.all("webhooks"))
    assert [t for t in tokens if t.encode() in spooled] == []
    spool.discard()


def test_no_webhook_token_in_any_output(
    account, tmp_path, monkeypatch, own_spool_dir, caplog, capfd
):
    """The project's own definitions, as a user runs them: every byte they leave behind."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    settings_file = tmp_path / "aircall.yaml"
    settings_file.write_text(f"history_start: {START}\n")
    db = tmp_path / "wh" / "aircall.duckdb"
    env = {
        "DAGSTER_HOME": str(home),
        "AIRCALL_SETTINGS": str(settings_file),
        "AIRCALL_DUCKDB_PATH": str(db),
        "AIRCALL_API_BASE_URL": account.base_url,
        "AIRCALL_API_ID": account.config.api_id,
        "AIRCALL_API_TOKEN": account.config.api_token,
        "AIRCALL_REQUESTS_PER_MINUTE": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AIRCALL_START_DATE", raising=False)
    monkeypatch.delenv("AIRCALL_WAREHOUSE_URL", raising=False)
    caplog.set_level(logging.DEBUG)
    texts = []
    keys = {dg.AssetKey(["aircall", "webhooks"]), dg.AssetKey(["aircall", "user_availability"])}
    defs = build_definitions(load_settings())
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.keys & keys]
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            assets,
            resources=defs.resources,
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "DEBUG"}}}},
        )
        assert result.success
        texts.append(repr(result.all_events))
        for run in instance.get_runs():
            texts += [repr(run), *(repr(entry) for entry in instance.all_logs(run.run_id))]
    webhooks = next(
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["aircall", "webhooks"])
    )
    assert webhooks.metadata["schema_drift_unknown_fields"].value == []
    assert "token" not in webhooks.metadata["columns"].value
    assert cli_main(["status"]) == 0 and cli_main(["status", "--json"]) == 0
    out, err = capfd.readouterr()
    assert "webhooks" in out and "user_availability" in out
    tables = [
        name
        for (name,) in query(
            db,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = 'wh' AND table_schema = 'aircall'",
        )
    ]
    assert {"webhooks", "user_availability"} <= set(tables)
    for name in tables:
        texts.append(repr(query(db, f"SELECT * FROM aircall.{name}")))
    texts += [out, err, caplog.text]
    everything = "\n".join(texts).encode()
    files = [p for root in (home, db.parent, own_spool_dir) for p in root.rglob("*") if p.is_file()]
    assert len(files) > 3 and b"".join(p.read_bytes() for p in files), "something was searched"
    searched = [everything, *(p.read_bytes() for p in files)]
    assert all(w["webhook_id"].encode() in everything for w in account.store.all("webhooks"))
    leaks = [t for t in account.store.webhook_tokens() if any(t.encode() in b for b in searched)]
    assert leaks == []
