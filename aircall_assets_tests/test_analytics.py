"""``aircall_analytics/agent_daily`` on both warehouses, compared row by row with figures computed
here in Python from the simulator's calls, tags and users (independently of the SQL)."""

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from aircall_assets.analytics import build_agent_daily_asset, build_analytics_assets
from aircall_assets.assets import build_extract_assets
from aircall_assets.catalog import TABLES
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets_tests.helpers import resource_for
from aircall_assets_tests.warehouses import io_manager_for

START = utc_today() - timedelta(days=4)
DAYS = 3


def settings(*loaded: str):
    """Settings loading only the tables named (all of them when none is)."""
    chosen = set(loaded or TABLES)
    tables = {name: {"enabled": name in chosen} for name in TABLES}
    return parse_settings({"history_start": START.isoformat(), "tables": tables})


def expected_rows(sim) -> dict[tuple, dict]:
    """(day, user_id) → the row agent_daily must hold, from the API's records."""
    tag_names = {t["id"]: t["name"] for t in sim.store.all("tags")}
    user_names = {u["id"]: u["name"] for u in sim.store.all("users")}
    first = int(datetime.combine(START, datetime.min.time(), timezone.utc).timestamp())
    rows: dict[tuple, dict] = {}
    talks: dict[tuple, list[int]] = defaultdict(list)
    for call in sim.store.calls_between(first, first + DAYS * 86400):
        if not call["user"]:
            continue
        day = datetime.fromtimestamp(call["started_at"], timezone.utc).date()
        key = (day, call["user"]["id"])
        row = rows.setdefault(
            key,
            dict.fromkeys(("calls", "inbound", "outbound", "answered", "missed"), 0)
            | {"user_name": user_names.get(key[1]), "calls_by_tag": defaultdict(int)},
        )
        inbound = call["direction"] == "inbound"
        answered = call["answered_at"] is not None
        row["calls"] += 1
        row["inbound" if inbound else "outbound"] += 1
        row["answered"] += answered
        row["missed"] += inbound and not answered
        row.setdefault("inbound_answered", 0)
        row["inbound_answered"] += inbound and answered
        if answered and call["ended_at"] is not None:
            talks[key].append(call["ended_at"] - call["answered_at"])
        for tag in {t["id"] for t in call["tags"]}:
            row["calls_by_tag"][tag_names[tag]] += 1
    for key, row in rows.items():
        inbound_answered = row.pop("inbound_answered")
        row["answer_rate"] = inbound_answered / row["inbound"] if row["inbound"] else None
        row["talk_seconds"] = sum(talks[key])
        row["average_talk_seconds"] = sum(talks[key]) / len(talks[key]) if talks[key] else None
        row["calls_by_tag"] = dict(row["calls_by_tag"])
    return rows


COLUMNS = (
    "user_name",
    "calls",
    "inbound",
    "outbound",
    "answered",
    "missed",
    "answer_rate",
    "talk_seconds",
    "average_talk_seconds",
    "calls_by_tag",
)


def stored_rows(warehouse) -> dict[tuple, dict]:
    rows = warehouse.query(
        f"SELECT day, user_id, {', '.join(COLUMNS)} FROM aircall_analytics.agent_daily"
    )
    stored = {}
    for day, user_id, *values in rows:
        row = dict(zip(COLUMNS, values, strict=True))
        row["calls_by_tag"] = json.loads(row["calls_by_tag"])
        stored[(day, user_id)] = row
    return stored


def run(sim, warehouse, assets):
    return dg.materialize(
        assets,
        resources={"aircall": resource_for(sim), "warehouse_io_manager": warehouse.io_manager()},
        tags={
            "dagster/asset_partition_range_start": START.isoformat(),
            "dagster/asset_partition_range_end": (START + timedelta(days=DAYS - 1)).isoformat(),
        },
        raise_on_error=False,
    )


def test_agent_daily_matches_the_calls_per_agent_and_day(simulator_factory, warehouse):
    sim = simulator_factory(seed=11, start_date=START, days=DAYS, calls_per_day=60)
    account = settings("users", "tags", "calls")
    extract = [a for a in build_extract_assets(account) if a.is_executable]
    keyed = [a for a in extract if a.partitions_def is not None]
    full = [a for a in extract if a.partitions_def is None]
    assert run(sim, warehouse, keyed).success
    result = dg.materialize(
        [*full, *build_analytics_assets(account)],
        resources={"aircall": resource_for(sim), "warehouse_io_manager": warehouse.io_manager()},
        selection=None,
    )
    assert result.success
    expected = expected_rows(sim)
    stored = stored_rows(warehouse)
    assert sorted(stored) == sorted(expected)
    for key, row in expected.items():
        got = stored[key]
        for name in ("answer_rate", "average_talk_seconds"):
            assert got[name] == pytest.approx(row[name]), (key, name)
        assert {
            k: v for k, v in got.items() if k not in ("answer_rate", "average_talk_seconds")
        } == {k: v for k, v in row.items() if k not in ("answer_rate", "average_talk_seconds")}, key
    assert any(row["calls_by_tag"] for row in expected.values())  # the tags were exercised
    assert result.asset_materializations_for_node("aircall_analytics__agent_daily")[0].metadata[
        "dagster/row_count"
    ].value == len(expected)


def test_agent_daily_says_which_input_to_materialize_first(tmp_path):
    asset = build_agent_daily_asset(settings())
    result = dg.materialize(
        [asset],
        resources={"warehouse_io_manager": io_manager_for(tmp_path / "empty.duckdb")},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("aircall_analytics__agent_daily").error
    assert "aircall.calls does not exist: materialize aircall/calls first" in failure.message


def test_agent_daily_is_downstream_of_the_tables_it_reads_and_absent_without_calls():
    (asset,) = build_analytics_assets(settings())
    deps = {key.to_user_string() for key in asset.asset_deps[asset.key]}
    assert asset.key == dg.AssetKey(["aircall_analytics", "agent_daily"])
    assert deps == {"aircall/calls", "aircall/call_tag", "aircall/users", "aircall/tags"}
    assert build_analytics_assets(settings("users", "tags")) == []
    (without_users,) = build_analytics_assets(settings("calls", "tags"))
    assert "aircall/users" not in {
        key.to_user_string() for key in without_users.asset_deps[without_users.key]
    }
