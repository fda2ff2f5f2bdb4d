"""Conversation intelligence (transcription, sentiments, topics, summary): the DOUBLE type of
utterance times on both warehouses, and the opt-in assets against the simulator."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest

from aircall_assets.assets import build_extract_asset
from aircall_assets.automation import AFTER_CALLS_LOAD
from aircall_assets.budget import FileBudget
from aircall_assets.catalog import CALLS, INSIGHTS
from aircall_assets.definitions import build_account_definitions
from aircall_assets.insights import build_insight_assets
from aircall_assets.insights.asks import AskFigures, StoredCall, calls_to_ask
from aircall_assets.normalize import NormalizationError
from aircall_assets.settings import parse_settings
from aircall_assets.simulator import Simulator, SimulatorConfig
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import TableLoad, range_run_figures
from aircall_assets_tests.helpers import resource_for
from aircall_assets_tests.warehouses import io_manager_for

UTTERANCES = INSIGHTS["transcription"][1]


def _typed_times(warehouse, records: list[dict]) -> list[tuple]:
    fields = [UTTERANCES.field(n) for n in ("call_id", "start_time", "end_time")]
    warehouse.store.replace(
        "aircall", UTTERANCES.name, TableLoad(fields=fields, primary_key="call_id", pages=[records])
    )
    return warehouse.query(
        f"SELECT call_id, start_time, end_time FROM aircall.{UTTERANCES.name} ORDER BY call_id"
    )


def test_double_holds_numbers_and_numeric_strings_alike(warehouse):
    rows = _typed_times(
        warehouse,
        [
            {"call_id": 1, "start_time": 12.54, "end_time": 13.8},
            {"call_id": 2, "start_time": 3, "end_time": " 4.25 "},
            {"call_id": 3, "start_time": "1e3", "end_time": None},
            {"call_id": 4, "start_time": "", "end_time": 0.1},
        ],
    )
    assert rows == [(1, 12.54, 13.8), (2, 3.0, 4.25), (3, 1000.0, None), (4, None, 0.1)]
    ((data_type,),) = warehouse.query(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'aircall' "
        f"AND table_name = '{UTTERANCES.name}' AND column_name = 'start_time'"
    )
    assert data_type == {"duckdb": "DOUBLE", "postgres": "double precision"}[warehouse.kind]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("soon", '"soon"'), ("0x10", '"0x10"'), (True, "true"), ("1e400", '"1e400"')],
)
def test_double_refuses_what_is_not_a_number(warehouse, value, shown):
    with pytest.raises(NormalizationError) as err:
        _typed_times(warehouse, [{"call_id": 9, "start_time": value, "end_time": 1}])
    assert str(err.value) == (
        f"call_transcription_utterance.start_time: value {shown} of record call_id=9 cannot be "
        "stored as DOUBLE (not a number). The API sent a value of an unexpected type; nothing "
        "was written."
    )


# ------------------------------------------------------------------ the assets, end to end

DAYS = 2


def _first_day() -> date:
    """Three days ago or a little before: the simulator's Sundays are quiet (no recording, no
    voicemail, so nothing to ask), and the test needs results on both days."""
    day = utc_today() - timedelta(days=3)
    while any((day + timedelta(days=d)).weekday() == 6 for d in range(DAYS)):
        day -= timedelta(days=1)
    return day


START = _first_day()
ALL_ON = {"transcription": True, "sentiments": True, "topics": True, "summary": True}


def ts(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp())


def _cell(value, warehouse_type: str):
    """An API value as the warehouse holds it (computed apart from normalize.py)."""
    if value is None:
        return None
    if warehouse_type == "TIMESTAMPTZ":
        if isinstance(value, int):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if warehouse_type == "BIGINT":
        return int(value)
    if warehouse_type == "DOUBLE":
        return float(value)
    return value


def expected_rows(sim, calls: list[dict]) -> dict[str, Counter]:
    """What each insight table must hold for ``calls``: the simulator's results now."""
    rows: dict[str, list[dict]] = {t.name: [] for tables in INSIGHTS.values() for t in tables}
    for call in calls:
        at = {"call_started_at": call["started_at"]}
        transcription = sim.store.intelligence(call["id"], "transcription")
        if transcription is not None:
            content = transcription["content"]
            rows["call_transcription"].append(
                {
                    **at,
                    "call_id": call["id"],
                    "id": transcription["id"],
                    "type": transcription["type"],
                    "language": content["language"],
                    "call_created_at": transcription["call_created_at"],
                }
            )
            rows["call_transcription_utterance"] += [
                {**at, "call_id": call["id"], "position": i, **u}
                for i, u in enumerate(content["utterances"])
            ]
        sentiment = sim.store.intelligence(call["id"], "sentiments")
        if sentiment is not None:
            rows["call_sentiment"] += [
                {
                    **at,
                    "call_id": sentiment["call_id"],
                    "id": sentiment["id"],
                    "position": i,
                    "participant_type": p["type"],
                    "user_id": p.get("user_id"),
                    "phone_number": p.get("phone_number"),
                    "value": p["value"],
                }
                for i, p in enumerate(sentiment["participants"])
            ]
        topic = sim.store.intelligence(call["id"], "topics")
        if topic is not None:
            rows["call_topic"] += [
                {**at, "call_id": call["id"], "id": topic["id"], "position": i, "topic": name}
                | {"created_at": topic["created_at"]}
                for i, name in enumerate(topic["content"])
            ]
        summary = sim.store.intelligence(call["id"], "summary")
        if summary is not None:
            rows["call_summary"].append({**at, **{k: summary[k] for k in ("id", "content")}})
            rows["call_summary"][-1] |= {"call_id": call["id"], "created_at": summary["created_at"]}
    return {
        t.name: Counter(
            tuple(_cell(r.get(f.name), f.warehouse_type) for f in t.fields) for r in rows[t.name]
        )
        for tables in INSIGHTS.values()
        for t in tables
    }


def stored_rows(warehouse) -> dict[str, Counter]:
    found = {}
    for tables in INSIGHTS.values():
        for t in tables:
            names = ", ".join(f'"{n}"' for n in t.field_names)
            found[t.name] = Counter(warehouse.query(f"SELECT {names} FROM aircall.{t.name}"))
    return found


def insight_requests(sim) -> int:
    return sum(n for path, n in sim.stats.by_path.items() if path.count("/") == 4)


def materialize(sim, address, settings, resource, *, with_calls: bool, instance=None):
    assets = build_insight_assets(settings)
    if with_calls:
        assets = [build_extract_asset(CALLS, settings), *assets]
    return dg.materialize(
        assets,
        resources={"aircall": resource, "warehouse_io_manager": io_manager_for(address)},
        tags={
            "dagster/asset_partition_range_start": START.isoformat(),
            "dagster/asset_partition_range_end": (START + timedelta(days=DAYS - 1)).isoformat(),
        },
        raise_on_error=False,
        instance=instance,
    )


@pytest.fixture
def clocked_simulator():
    """A simulator whose clock the test moves: results of the second day's calls appear only
    once it is moved two days on."""
    moved = [0.0]
    now = time.time()
    config = SimulatorConfig(
        seed=5,
        start_date=START,
        days=DAYS,
        calls_per_day=30,
        contacts=10,
        intelligence_delay_seconds=int(now - ts(START + timedelta(days=1))),
    )
    sim = Simulator(config, clock=lambda: time.time() + moved[0]).start()
    try:
        yield sim, moved
    finally:
        sim.stop()


def test_every_table_matches_the_simulator_and_a_rerun_asks_only_calls_without_results(
    clocked_simulator, warehouse
):
    sim, moved = clocked_simulator
    settings = parse_settings(
        {"history_start": START.isoformat(), "conversation_intelligence": ALL_ON}
    )
    # a budget the test never waits for, so that its slots can be counted
    resource = resource_for(sim, requests_per_minute=100_000, rate_window_seconds=3600.0)
    began = time.time()
    calls = sim.store.calls_between(ts(START), ts(START + timedelta(days=DAYS)))

    first = materialize(sim, warehouse.address, settings, resource, with_calls=True)
    assert first.success
    truth = expected_rows(sim, calls)
    assert all(truth.values()), "each table should have rows to compare"
    assert stored_rows(warehouse) == truth
    figures = range_run_figures(first, dg.AssetKey(["aircall", "call_transcription"]))
    with_result = len(truth["call_transcription"])
    assert figures["calls_in_range"] == len(calls) == 60
    assert figures["calls_with_data"] == with_result
    assert figures["calls_without_data_404"] > 0  # the second day's, not ready: no failure
    assert figures["calls_asked"] == with_result + figures["calls_without_data_404"]
    assert figures["calls_skipped_no_conversation"] > 0
    assert figures["calls_skipped_already_stored"] == 0
    assert figures["calls_skipped_in_progress"] == 2  # the simulator's last two calls
    # sentiments' call_id is a string of digits in the API, a BIGINT in the warehouse
    sentiments = filter(None, (sim.store.intelligence(c["id"], "sentiments") for c in calls))
    assert isinstance(next(sentiments)["call_id"], str)
    ((data_type,),) = warehouse.query(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'aircall' "
        "AND table_name = 'call_sentiment' AND column_name = 'call_id'"
    )
    assert data_type.lower() == "bigint"

    # a call whose topics are an empty list has no row to show it was asked: asked again
    empty = sum(
        1 for c in calls if (sim.store.intelligence(c["id"], "topics") or {}).get("content") == []
    )
    moved[0] = 2 * 86_400.0  # the second day's results are there now
    asked_before, not_found = insight_requests(sim), sim.stats.statuses[404]
    second = materialize(sim, warehouse.address, settings, resource, with_calls=False)
    assert second.success
    all_figures = [
        range_run_figures(second, dg.AssetKey(["aircall", f"call_{name}"]))
        for name in ("transcription", "sentiment", "topic", "summary")
    ]
    # only the calls that had answered 404 (or sent no topics) were asked again
    assert (
        insight_requests(sim) - asked_before
        == not_found + empty
        == sum(f["calls_asked"] for f in all_figures)
    )
    assert all(f["calls_skipped_already_stored"] > 0 for f in all_figures)
    assert stored_rows(warehouse) == expected_rows(sim, calls) != truth
    # every request took a slot of the company's shared budget
    budget = FileBudget.for_company(sim.base_url, sim.config.api_id, 100_000, 3600.0)
    sent = budget.update(lambda state, now: [t for t in state.get("sent", []) if t >= began])
    assert len(sent) == sim.stats.requests

    # once a run of the days has asked them, calls that had long ended are not asked again
    instance = dg.DagsterInstance.ephemeral()
    assert materialize(
        sim, warehouse.address, settings, resource, with_calls=False, instance=instance
    ).success
    asked_before = insight_requests(sim)
    again = materialize(
        sim, warehouse.address, settings, resource, with_calls=False, instance=instance
    )
    assert again.success and insight_requests(sim) == asked_before
    figures = range_run_figures(again, dg.AssetKey(["aircall", "call_topic"]))
    assert figures["calls_skipped_asked_before_without_result"] > 0


def test_a_company_without_the_ai_package_fails_saying_what_to_do(simulator_factory, tmp_path):
    sim = simulator_factory(seed=2, start_date=START, days=1, calls_per_day=20, intelligence=False)
    settings = parse_settings(
        {"history_start": START.isoformat(), "conversation_intelligence": {"topics": True}}
    )
    result = dg.materialize(
        [build_extract_asset(CALLS, settings), *build_insight_assets(settings)],
        resources={
            "aircall": resource_for(sim),
            "warehouse_io_manager": io_manager_for(tmp_path / "w.duckdb"),
        },
        partition_key=START.isoformat(),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "does not have Aircall's AI package" in message
    assert "Set conversation_intelligence.topics to false" in message
    assert sim.config.api_token not in str(result.all_events)


def test_only_the_chosen_results_have_assets():
    plain = build_account_definitions(parse_settings({"history_start": START.isoformat()}))
    keys = {k.path[-1] for k in plain.resolve_asset_graph().get_all_asset_keys()}
    insight_tables = {t.name for tables in INSIGHTS.values() for t in tables}
    assert not keys & insight_tables
    topics = parse_settings(
        {"history_start": START.isoformat(), "conversation_intelligence": {"topics": True}}
    )
    graph = build_account_definitions(topics).resolve_asset_graph()
    keys = {k.path[-1] for k in graph.get_all_asset_keys()}
    assert keys & insight_tables == {"call_topic"}
    topic = graph.get(dg.AssetKey(["aircall", "call_topic"]))
    assert topic.parent_keys == {dg.AssetKey(["aircall", "calls"])}
    # asked by the account's automation sensor right after the calls of a range land
    assert topic.automation_condition is AFTER_CALLS_LOAD


def test_calls_in_progress_without_conversation_or_stored_are_not_asked():
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    calls = [
        StoredCall(1, at, ended_at=at, had_conversation=True),
        StoredCall(2, at, ended_at=None, had_conversation=True),
        StoredCall(3, at, ended_at=at, had_conversation=False),
        StoredCall(4, at, ended_at=at, had_conversation=True),
    ]
    figures = AskFigures()
    assert calls_to_ask(calls, {4}, figures) == [calls[0]]
    assert figures.as_metadata() == {
        "calls_in_range": 4,
        "calls_skipped_already_stored": 1,
        "calls_skipped_in_progress": 1,
        "calls_skipped_no_conversation": 1,
        "calls_skipped_asked_before_without_result": 0,
        "calls_asked": 0,
        "calls_with_data": 0,
        "calls_without_data_404": 0,
    }


def test_a_call_asked_long_after_it_ended_is_not_asked_again_but_a_late_one_is():
    day = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
    early = StoredCall(1, day, ended_at=day + timedelta(minutes=5), had_conversation=True)
    late = StoredCall(2, day, ended_at=day + timedelta(hours=14), had_conversation=True)
    asked_at = {day.date(): day + timedelta(hours=15)}  # the earlier run, an hour after `late`
    figures = AskFigures()
    assert calls_to_ask([early, late], set(), figures, asked_at) == [late]
    assert figures.calls_skipped_asked_before_without_result == 1
    assert calls_to_ask([early, late], set(), AskFigures(), {}) == [early, late]
