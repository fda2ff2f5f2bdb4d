"""Materialize the extract assets against the simulator and compare the warehouse cell by cell
(the tests taking the ``warehouse`` fixture run on DuckDB and on PostgreSQL)."""

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest

from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import TABLES
from aircall_assets.normalize import epoch_micros
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import range_run_figures
from aircall_assets_tests.helpers import assert_table_matches, query, resource_for
from aircall_assets_tests.warehouses import io_manager_for

START = utc_today() - timedelta(days=6)
DAYS = 5
BIG_DAY = START + timedelta(days=3)
KEYED = ["users", "numbers", "contacts", "calls"]
FULL = ["tags", "teams", "company_info"]


def ts(d: date) -> int:
    return int(datetime.combine(d, datetime.min.time(), timezone.utc).timestamp())


@pytest.fixture(scope="module")
def account():
    from aircall_assets.simulator import Simulator, SimulatorConfig

    config = SimulatorConfig(
        seed=7,
        start_date=START,
        days=DAYS,
        calls_per_day=50,
        contacts=90,
        big_days={BIG_DAY: 10_300},
        bulk_contacts_day=START + timedelta(days=1),
        bulk_contacts=120,
    )
    with Simulator(config) as sim:
        yield sim


def materialize(
    sim,
    db,
    names,
    *,
    first=None,
    last=None,
    partition=None,
    run_config=None,
    settings=None,
    resource=None,
    instance=None,
):
    settings = settings or parse_settings({"history_start": START.isoformat()})
    assets = [build_extract_asset(TABLES[n], settings) for n in names]
    tags = {}
    if first:
        tags = {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
    return dg.materialize(
        assets,
        resources={
            "aircall": resource or resource_for(sim),
            "warehouse_io_manager": io_manager_for(db),
        },
        tags=tags,
        partition_key=partition.isoformat() if partition else None,
        run_config=run_config,
        raise_on_error=False,
        instance=instance,
    )


def calls_columns(db) -> list[str]:
    sql = (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'calls' ORDER BY ordinal_position"
    )
    return [r[0] for r in query(db, sql)]


def calls_between(sim, first: date, end: date):
    return sim.store.calls_between(ts(first), ts(end))


def test_every_table_over_the_whole_range_matches_the_api(account, warehouse):
    db = warehouse.address
    last = START + timedelta(days=DAYS - 1)
    result = materialize(account, db, KEYED, first=START, last=last)
    assert result.success
    assert materialize(account, db, FULL).success
    for name in ["users", "numbers", "contacts"]:
        # the first partition also holds everything created before the history start
        assert_table_matches(db, TABLES[name], account.store.all(name))
    rows = assert_table_matches(
        db, TABLES["calls"], calls_between(account, START, last + timedelta(days=1))
    )
    assert rows > 10_300
    assert_table_matches(db, TABLES["tags"], account.store.all("tags"))
    assert_table_matches(db, TABLES["teams"], account.store.all("teams"))
    assert_table_matches(db, TABLES["company_info"], [account.store.company()])
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    calls_event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["aircall", "calls"])
    )
    metadata = calls_event.materialization.metadata
    # a range's figures are recorded once, in an observation of the run
    figures = range_run_figures(result, dg.AssetKey(["aircall", "calls"]))
    assert figures["rows_per_day"][BIG_DAY.isoformat()] == 10_300
    assert "| id |" in figures["preview"]
    assert figures["windows_split"] >= 1
    assert set(metadata) == {"dagster/row_count", "table"}
    # each partition counts its own day's rows, so Dagster's plot shows the daily volume
    counts = {
        e.partition: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["aircall", "calls"])
    }
    days = [START + timedelta(days=i) for i in range(DAYS)]
    expected = {d.isoformat(): len(calls_between(account, d, d + timedelta(days=1))) for d in days}
    assert counts == expected and counts[BIG_DAY.isoformat()] == 10_300


def test_an_aircall_error_fails_the_run_with_its_own_message(account, tmp_path):
    result = materialize(
        account,
        tmp_path / "w.duckdb",
        ["calls"],
        partition=START,
        resource=resource_for(account, api_token="not-the-token"),
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    data = failure.step_failure_data
    assert data.error.cls_name == "Failure", "not an output-handling wrapper"
    assert data.user_failure_data.description.startswith(
        "Aircall rejected the credentials (403 on GET /v1/calls)"
    )
    assert "not-the-token" not in str(data.error)


def test_a_range_costs_the_pages_its_records_fill_not_a_request_per_day(account, tmp_path):
    first, last = START + timedelta(days=1), START + timedelta(days=3)
    names = ["users", "numbers", "contacts"]
    result = materialize(account, tmp_path / "w.duckdb", names, first=first, last=last)
    assert result.success
    start, end = ts(first) * 10**6, ts(last + timedelta(days=1)) * 10**6
    for name in names:
        field = TABLES[name].date_field
        held = [r for r in account.store.all(name) if start <= epoch_micros(r[field]) < end]
        figures = range_run_figures(result, dg.AssetKey(["aircall", name]))
        # one window over the three days: day windows would cost at least three requests
        assert figures["requests"] == max(1, -(-len(held) // 50)), name
        assert figures["api_windows"] == 1


def test_single_partition_and_midnight_call(account, tmp_path):
    db = tmp_path / "w.duckdb"
    day = START + timedelta(days=1)
    assert materialize(account, db, ["calls"], partition=day).success
    truth = calls_between(account, day, day + timedelta(days=1))
    assert any(c["started_at"] == ts(day) for c in truth), "a call exactly at midnight"
    assert_table_matches(db, TABLES["calls"], truth)
    assert materialize(account, db, ["calls"], partition=day + timedelta(days=1)).success
    assert materialize(account, db, ["calls"], partition=day).success  # re-run
    both = calls_between(account, day, day + timedelta(days=2))
    assert_table_matches(db, TABLES["calls"], both)


def test_reruns_never_duplicate_and_pick_up_changed_calls(account, warehouse):
    db = warehouse.address
    day = START + timedelta(days=4)
    for _ in range(2):
        assert materialize(account, db, ["calls"], first=day - timedelta(days=1), last=day).success
    target = calls_between(account, day, day + timedelta(days=1))[0]["id"]
    account.store.update_call(target, archived=True, cost="9.99")
    assert materialize(account, db, ["calls"], partition=day).success
    assert query(db, "SELECT archived, cost FROM aircall.calls WHERE id = ?", [target]) == [
        (True, "9.99")
    ]
    assert query(db, "SELECT count(*) - count(DISTINCT id) FROM aircall.calls") == [(0,)]
    assert_table_matches(
        db,
        TABLES["calls"],
        calls_between(account, day - timedelta(days=1), day + timedelta(days=1)),
    )


def test_column_selection_from_run_config_and_settings(account, warehouse):
    db = warehouse.address
    day = START + timedelta(days=2)
    config = {"ops": {"aircall__calls": {"config": {"columns": ["duration", "sid"]}}}}
    assert materialize(account, db, ["calls"], partition=day, run_config=config).success
    columns = calls_columns(db)
    assert columns == ["id", "started_at", "duration", "sid"]
    truth = calls_between(account, day, day + timedelta(days=1))
    assert_table_matches(db, TABLES["calls"], truth, columns=["duration", "sid"])
    # the settings' selection adds columns; the old ones are kept (NULL for new rows)
    settings = parse_settings(
        {"history_start": START.isoformat(), "tables": {"calls": {"columns": ["direction"]}}}
    )
    assert materialize(
        account, db, ["calls"], partition=day + timedelta(days=2), settings=settings
    ).success
    columns = calls_columns(db)
    assert columns == ["id", "started_at", "duration", "sid", "direction"]
    assert query(db, "SELECT count(*) FROM aircall.calls WHERE direction IS NULL") == [
        (len(truth),)
    ]


def test_unknown_column_in_run_config_fails_with_the_valid_names(account, tmp_path):
    db = tmp_path / "w.duckdb"
    config = {"ops": {"aircall__calls": {"config": {"columns": ["durr"]}}}}
    result = materialize(account, db, ["calls"], partition=START, run_config=config)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "unknown column(s) ['durr']" in failure and "valid columns are: id" in failure
    assert not db.exists() or query(
        db, "SELECT count(*) FROM information_schema.tables WHERE table_schema='aircall'"
    ) == [(0,)]


def test_schema_drift_is_reported(account, tmp_path):
    db = tmp_path / "w.duckdb"
    account.store.update_call(
        calls_between(account, START, START + timedelta(days=1))[0]["id"], brand_new_field=1
    )
    result = materialize(account, db, ["calls"], partition=START)
    event = result.get_asset_materialization_events()[0]
    assert "| id |" in event.materialization.metadata["preview"].value  # one partition: inline
    assert event.materialization.metadata["schema_drift_unknown_fields"].value == [
        "brand_new_field"
    ]


def test_tables_load_as_dataframe_inputs_of_downstream_assets(account, warehouse):
    db = warehouse.address

    @dg.asset(key=["analytics", "tag_colors"], ins={"tags": dg.AssetIn(key=["aircall", "tags"])})
    def tag_colors(tags):
        assert list(tags.columns) == ["id", "name", "color", "description"]
        return tags.groupby("color", as_index=False).size()

    settings = parse_settings({"history_start": START.isoformat()})
    result = dg.materialize(
        [build_extract_asset(TABLES["tags"], settings), tag_colors],
        resources={
            "aircall": resource_for(account),
            "warehouse_io_manager": io_manager_for(db),
            "io_manager": io_manager_for(db),
        },
    )
    assert result.success
    colors = query(db, "SELECT sum(size) FROM analytics.tag_colors")
    assert colors == [(len(account.store.all("tags")),)]


@pytest.mark.parametrize(("field", "what"), [("id", "primary key"), ("started_at", "date")])
def test_records_without_their_key_or_date_fail_the_run_and_keep_previous_rows(
    simulator_factory, warehouse, field, what
):
    """Without this, id-less calls collapsed into one row per day and replaced the good ones."""
    from reliability.proxy import Proxy, on_records

    sim = simulator_factory(start_date=START, days=2, calls_per_day=20)
    db = warehouse.address
    assert materialize(sim, db, ["calls"], partition=START).success
    before = query(db, "SELECT * FROM aircall.calls ORDER BY id")
    with Proxy(sim.base_url, on_records("/v1/calls", lambda r: r.pop(field))) as proxy:
        result = materialize(
            sim, db, ["calls"], partition=START, resource=resource_for(sim, base_url=proxy.base_url)
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    while failure.cause is not None:
        failure = failure.cause
    assert f"calls: Aircall sent a record without '{field}'" in failure.message
    assert f"needs its {what} to be loaded. Nothing was written." in failure.message
    assert query(db, "SELECT * FROM aircall.calls ORDER BY id") == before


def test_a_backfill_of_days_aircall_no_longer_serves_keeps_their_rows(warehouse):
    """Aircall serves calls for about six months: re-reading older days must not empty them."""
    from aircall_assets.simulator import Simulator, SimulatorConfig

    today = utc_today()
    first = today - timedelta(days=186)
    last = first + timedelta(days=9)  # its last 4 days are still served
    db = warehouse.address
    settings = parse_settings({"history_start": (first - timedelta(days=1)).isoformat()})
    shape = {"seed": 3, "start_date": first, "days": 10, "calls_per_day": 6, "contacts": 5}
    with Simulator(SimulatorConfig(**shape, retention_days=400)) as then:
        truth = then.store.calls_between(0, ts(last + timedelta(days=1)))
        assert materialize(then, db, ["calls"], first=first, last=last, settings=settings).success
    instance = dg.DagsterInstance.ephemeral()
    with Simulator(SimulatorConfig(**shape)) as now:
        served = now.store.calls_between(0, ts(last + timedelta(days=1)))
        rerun = materialize(
            now, db, ["calls"], first=first, last=last, settings=settings, instance=instance
        )
    assert rerun.success and 0 < len(served) < len(truth)
    assert assert_table_matches(db, TABLES["calls"], truth) == len(truth)
    warning = (
        f"from {today - timedelta(days=180)} on: the days {first}.."
        f"{today - timedelta(days=181)} of this run come back empty"
    )
    logs = [entry.user_message for entry in instance.all_logs(rerun.run_id)]
    assert any(warning in message for message in logs), logs
    figures = range_run_figures(rerun, dg.AssetKey(["aircall", "calls"]))
    assert figures["rows_kept_not_served"] == len(truth) - len(served)
