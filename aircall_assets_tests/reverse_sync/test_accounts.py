"""Two accounts in one code location: each syncs into its own schemas, with its own credentials,
to its own simulated company, under its own names; neither waits for the other's lock."""

from __future__ import annotations

import threading
from typing import Any

import dagster as dg
import pytest

from aircall_assets.account import DEFAULT_ACCOUNT, Account
from aircall_assets.reverse_sync.definitions import build_reverse_sync
from aircall_assets.reverse_sync.store import lock_name
from aircall_assets.reverse_sync.unknown_callers import build_unknown_callers_asset
from aircall_assets.settings import SettingsError
from aircall_assets_tests.helpers import still_running_after
from aircall_assets_tests.reverse_sync.helpers import (
    contacts_with,
    failure_text,
    job_defs,
    output_metadata,
    query,
    responses,
    run_sync,
    settings_with,
    state,
    write_source,
)
from aircall_assets_tests.reverse_sync.test_unknown_callers import (
    AWKWARD_CALLS,
    AWKWARD_CONTACTS,
    add_rows,
)
from aircall_assets_tests.warehouses import WarehouseUnderTest, io_manager_for

EU = Account("eu")
EU_CREDENTIALS = {
    "api_id": "{{ env.EU_AIRCALL_API_ID }}",
    "api_token": "{{ env.EU_AIRCALL_API_TOKEN }}",
}
WAIT_S = 30  # far longer than a sync of a few rows takes


def people(prefix: str, n: int = 5) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "first_name": "Person",
            "last_name": f"{prefix}{i}",
            "phone_numbers": [{"label": "Work", "value": f"{prefix} {i:02d}"}],
        }
        for i in range(n)
    ]


def numbers(rows: list[dict[str, Any]]) -> list[str]:
    return [r["phone_numbers"][0]["value"] for r in rows]


def destination(source: str) -> dict[str, Any]:
    # The same destination name in both accounts: nothing of theirs may meet.
    return {"name": "leads", "source": source, "template": "create_contacts"}


@pytest.fixture
def companies(simulator_factory):
    """Two companies: the default account's, and account eu's with credentials of its own."""
    home = simulator_factory(seed=3, days=1, calls_per_day=2, contacts=5)
    eu = simulator_factory(
        seed=31, days=1, calls_per_day=2, contacts=7, api_id="eu-id", api_token="eu-token"
    )
    return home, eu


def test_each_account_syncs_its_own_rows_into_its_own_schemas_and_company(companies, each_db):
    home, eu = companies
    home_rows, eu_rows = people("+33 6 10 20 30"), people("+49 151 2000 30")
    write_source(each_db, "crm.home_leads", home_rows)
    write_source(each_db, "crm.eu_leads", eu_rows)
    default_settings = settings_with(destination("crm.home_leads"))
    eu_settings = settings_with(destination("crm.eu_leads"), account="eu", **EU_CREDENTIALS)
    before = {"home": len(home.store.all("contacts")), "eu": len(eu.store.all("contacts"))}

    synced = run_sync(eu_settings, eu, each_db, "leads")
    assert synced.success, failure_text(synced)
    assert output_metadata(synced)["sent"] == len(eu_rows)
    assert set(contacts_with(eu, numbers(eu_rows)).values()) == {1}
    assert len(home.store.all("contacts")) == before["home"], "eu sent to the default company"
    assert home.stats.requests == 0
    eu_state = state(each_db, "leads", schema="aircall_eu_sync")
    assert sorted(eu_state) == [str(r["id"]) for r in eu_rows]
    assert len(responses(each_db, "leads", schema="aircall_eu_sync")) == len(eu_rows)
    tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
    assert not query(each_db, tables, ["aircall_sync"]), "eu wrote the default account's tables"

    # The default account's destination of the same name starts from its own (empty) state:
    # it sends all its rows, to its own company, and eu's state is left as it was.
    synced = run_sync(default_settings, home, each_db, "leads")
    assert synced.success, failure_text(synced)
    assert output_metadata(synced)["sent"] == len(home_rows)
    assert set(contacts_with(home, numbers(home_rows)).values()) == {1}
    assert not contacts_with(home, numbers(eu_rows)) and not contacts_with(eu, numbers(home_rows))
    assert len(eu.store.all("contacts")) == before["eu"] + len(eu_rows)
    assert sorted(state(each_db, "leads")) == [str(r["id"]) for r in home_rows]
    assert state(each_db, "leads", schema="aircall_eu_sync") == eu_state

    again = run_sync(eu_settings, eu, each_db, "leads")
    assert output_metadata(again)["unchanged"] == len(eu_rows)


@pytest.mark.parametrize(
    ("account", "source", "meant"),
    [
        ("eu", "aircall.contacts", "aircall_eu.contacts"),
        ("eu", "aircall_reverse/unknown_callers", "aircall_eu_reverse/unknown_callers"),
        ("eu", "aircall_us_sync.responses", "aircall_eu_sync.responses"),
        (None, "aircall_eu_reverse/unknown_callers", "aircall_reverse/unknown_callers"),
    ],
)
def test_a_source_of_another_account_is_refused_when_the_settings_load(account, source, meant):
    credentials = {"account": account, **EU_CREDENTIALS} if account else {}
    with pytest.raises(SettingsError) as info:
        settings_with(destination("crm.leads"), destination(source) | {"name": "b"}, **credentials)
    text = str(info.value)
    assert "destinations.1.source" in text, text
    assert f"'{source}' is a table of " in text and f"did you mean '{meant}'?" in text
    assert ("account 'eu'" if account else "the default account") in text


def test_an_account_reads_its_own_schemas_and_tables_of_its_own():
    sources = [
        "crm.leads",
        "aircall_eu.contacts",
        "aircall_eu_reverse/unknown_callers",
        "aircall_eu_sync.responses",
    ]
    settings = settings_with(
        *(destination(s) | {"name": f"d{i}"} for i, s in enumerate(sources)),
        account="eu",
        **EU_CREDENTIALS,
    )
    assert [d.source for d in settings.destinations] == sources


def test_a_named_account_takes_its_own_names_and_resources(companies, db):
    settings = settings_with(
        destination("aircall_eu_reverse/unknown_callers"), account="eu", **EU_CREDENTIALS
    )
    reverse = build_reverse_sync(settings)
    defs = job_defs(settings, companies[1], db)
    assert {job.name for job in reverse.jobs} == {
        "aircall_reverse_sync_eu",
        "aircall_reverse_test_send_eu",
    }
    (sensor,) = reverse.sensors
    assert sensor.name == "aircall_reverse_sync__leads_eu"
    assert sensor.asset_key == dg.AssetKey(["aircall_eu_reverse", "unknown_callers"])
    graph = defs.resolve_asset_graph()
    unknown = graph.get(dg.AssetKey(["aircall_eu_reverse", "unknown_callers"]))
    assert unknown.parent_keys == {
        dg.AssetKey(["aircall_eu", "calls"]),
        dg.AssetKey(["aircall_eu", "contacts"]),
    }
    assert unknown.group_name == "aircall_eu_reverse"
    for table in ("responses", "state"):
        node = graph.get(dg.AssetKey(["aircall_eu_sync", table]))
        assert node.group_name == "aircall_eu_sync"
        assert node.metadata["dagster/table_name"] == f"aircall_eu_sync.{table}"
    wanted = {"aircall_eu", "warehouse_io_manager_eu"}
    for job in reverse.jobs:
        (node,) = job.graph.node_dict.values()
        assert node.definition.required_resource_keys == wanted
        assert node.definition.name.endswith("_eu")
    assert defs.resolve_assets_def(unknown.key).required_resource_keys == {
        "warehouse_io_manager_eu"
    }


def test_two_accounts_merge_into_one_code_location(companies, db):
    home, eu = companies
    merged = dg.Definitions.merge(
        job_defs(settings_with(destination("crm.a")), home, db),
        job_defs(settings_with(destination("crm.b"), account="eu", **EU_CREDENTIALS), eu, db),
    )
    names = {job.name for job in merged.resolve_all_job_defs()}
    assert {"aircall_reverse_sync", "aircall_reverse_sync_eu"} <= names
    assert {s.name for s in merged.sensors} == {
        "aircall_reverse_sync__leads",
        "aircall_reverse_sync__leads_eu",
    }
    assert {"aircall_reverse", "aircall_eu_reverse"} <= {
        key.path[0] for key in merged.resolve_asset_graph().get_all_asset_keys()
    }


def test_unknown_callers_of_an_account_come_from_its_own_calls_and_contacts(tmp_path):
    warehouse = WarehouseUnderTest("duckdb", str(tmp_path / "w.duckdb"))
    statements = []
    for schema in ("aircall", "aircall_eu"):
        statements += [
            f"CREATE SCHEMA {schema}",
            f"CREATE TABLE {schema}.calls (id BIGINT, direction TEXT, raw_digits TEXT, "
            "started_at TIMESTAMPTZ)",
            f"CREATE TABLE {schema}.contacts (id BIGINT, phone_numbers JSON)",
        ]
    # eu's tables hold the awkward rows; the default account's one other caller.
    eu_rows = [
        s.replace("aircall.", "aircall_eu.") for s in add_rows(AWKWARD_CALLS, AWKWARD_CONTACTS)
    ]
    statements += eu_rows
    statements += add_rows([(-1, "inbound", "+1 202 555 0111", "2026-01-01 10:00:00+00")], [])
    warehouse.execute(*statements)
    result = dg.materialize(
        [build_unknown_callers_asset(EU)],
        resources={EU.io_manager_key: io_manager_for(warehouse.address)},
        raise_on_error=False,
    )
    assert result.success, failure_text(result)
    keys = [k for (k,) in warehouse.query("SELECT key FROM aircall_eu_reverse.unknown_callers")]
    assert sorted(keys) == [
        "+12025550100",
        "+41446681800",
        "+442012345678",
        "+4930901820",
        "0612345678",
    ]
    tables = warehouse.query(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'unknown_callers'"
    )
    assert tables == [("aircall_eu_reverse",)]
    event = result.get_asset_materialization_events()[0]
    assert event.materialization.metadata["table"].value == "aircall_eu_reverse.unknown_callers"


def test_two_accounts_destinations_of_one_name_never_wait_for_each_other(companies, each_db):
    home, eu = companies
    write_source(each_db, "crm.eu_leads", people("+49 151 3000 40", 3))
    eu_settings = settings_with(destination("crm.eu_leads"), account="eu", **EU_CREDENTIALS)
    warehouse = io_manager_for(each_db).warehouse
    assert lock_name(DEFAULT_ACCOUNT, "leads") != lock_name(EU, "leads")

    instance = dg.DagsterInstance.ephemeral()

    def sync_in_a_thread() -> tuple[threading.Thread, list[dg.ExecuteInProcessResult]]:
        done: list[dg.ExecuteInProcessResult] = []

        def sync() -> None:
            done.append(run_sync(eu_settings, eu, each_db, "leads", instance=instance))

        thread = threading.Thread(target=sync, daemon=True)
        thread.start()
        return thread, done

    # The default account's 'leads' is held, as by a long sync: eu's 'leads' does not wait.
    with warehouse.destination_lock(lock_name(DEFAULT_ACCOUNT, "leads"), "a test", _Log()):
        thread, done = sync_in_a_thread()
        thread.join(WAIT_S)
        assert done and done[0].success, "account eu's sync waited for the default account's"
    # Its own lock held, it does wait (the lock is real), and runs once the lock is given back.
    with warehouse.destination_lock(lock_name(EU, "leads"), "the test", _Log()):
        thread, done = sync_in_a_thread()
        assert still_running_after(thread, 2) and not done, (
            "account eu's sync did not wait for its own destination's lock"
        )
    thread.join(WAIT_S)
    assert done and done[0].success, failure_text(done[0]) if done else "never finished"
    logs = [entry.user_message for entry in instance.all_logs(done[0].run_id)]
    assert any("'eu.leads' is being synced by the test" in line for line in logs), logs


class _Log:
    """The logger of a lock taken outside a run: it never waits, so it never says anything."""

    def info(self, message: str) -> None:
        raise AssertionError(f"the test's lock waited: {message}")
