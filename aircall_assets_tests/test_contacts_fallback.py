"""The contacts sensor past the API's 10,000 cap: a bulk edit is re-read whole, never lost.

More contacts are edited between two ticks than one walk by ``updated_at`` can list, so the
sensor cannot know the partitions of those ranked past the 10,000th. It must request one range
run over every contact partition, move its cursor, and that run must land every edit.
"""

from datetime import date, datetime, timedelta, timezone

import dagster as dg

from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import CONTACTS
from aircall_assets.client.pages import PER_PAGE, POSITIONAL_CAP
from aircall_assets.client.windows import iter_window
from aircall_assets.schedules import (
    build_contacts_sensor,
    changed_contact_partitions,
    reread_requests,
)
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import WarehouseIOManager
from aircall_assets_tests.helpers import client_for, query, resource_for

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
DAYS = 10
# 100 more than one walk can list: page 200 (the last the cap serves) still has a next page.
EDITED = POSITIONAL_CAP + 2 * PER_PAGE
EDIT = "bulk CRM update"


def midnight(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp())


def pages(records: int) -> int:
    """Requests one API window of ``records`` costs (an empty one still costs its request)."""
    return max(1, -(-records // PER_PAGE))


def test_more_edits_than_the_cap_rereads_every_partition_in_one_run(
    simulator_factory, tmp_path, capfd
):
    first_day = utc_today() - timedelta(days=DAYS)
    sim = simulator_factory(
        seed=5, start_date=first_day, days=DAYS, calls_per_day=1, contacts=EDITED
    )
    settings = parse_settings({"history_start": first_day.isoformat()})
    sensor = build_contacts_sensor(settings)
    contacts_asset = build_extract_asset(CONTACTS, settings)
    resources = {"aircall": resource_for(sim)}
    defs = dg.Definitions(
        assets=[contacts_asset],
        sensors=[sensor],
        resources={**resources, "warehouse_io_manager": WarehouseIOManager()},
    )

    def tick(instance: dg.DagsterInstance, cursor: str):
        sim.stats.reset()
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources, definitions=defs
        ) as ctx:
            return sensor.evaluate_tick(ctx)

    # The account's own contacts were all last updated before today, so a cursor one second
    # before now lies after them; every edit below is then newer than it.
    cursor = sim.store.now() - 1
    for contact in sim.store.all("contacts"):
        sim.store.update_contact(contact["id"], information=EDIT)
    edited = sim.store.all("contacts")
    assert min(c["updated_at"] for c in edited) > cursor
    newest = max(c["updated_at"] for c in edited)

    with dg.instance_for_test() as instance:
        result = tick(instance, str(cursor))
        walk = sim.stats.as_json()
        quiet = tick(instance, result.cursor)
        quiet_requests = sim.stats.requests

    # The walk reads every page the cap serves and asks for none past it.
    assert walk["requests"] == POSITIONAL_CAP // PER_PAGE == 200
    assert walk["statuses"] == {"200": 200}
    [request] = result.run_requests
    yesterday = utc_today() - timedelta(days=1)
    assert request.partition_key is None
    assert request.asset_selection == [
        dg.AssetKey(["aircall", name]) for name in ("contacts", "contact_number", "contact_email")
    ]
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == (
        first_day.isoformat(),
        yesterday.isoformat(),
    )
    assert result.cursor == str(newest)
    assert not quiet.run_requests and quiet_requests == 1, "the re-read is asked for once"

    estimate = reread_requests(EDITED, settings, utc_today())
    [line] = [x for x in capfd.readouterr().err.splitlines() if "Re-reading every contact" in x]
    assert f"{EDITED:,} contacts, about {estimate} requests" in line

    # The requested run lands every edit, those ranked past the 10,000th included.
    sim.stats.reset()
    outcome = dg.materialize(
        [contacts_asset],
        resources={
            **resources,
            "warehouse_io_manager": WarehouseIOManager(path=str(tmp_path / "w.duckdb")),
        },
        tags=request.tags,
        raise_on_error=False,
    )
    assert outcome.success
    measured = sim.stats.requests
    start = midnight(first_day)
    end = start + DAYS * 86_400
    older = sum(c["created_at"] < start for c in edited)
    in_range = sum(start <= c["created_at"] < end for c in edited)
    assert older + in_range == EDITED
    assert in_range <= POSITIONAL_CAP, "the range window is read without a split"
    assert measured == pages(older) + pages(in_range)
    assert measured <= estimate <= measured * 1.03

    ranked = sorted(edited, key=lambda c: (c["updated_at"], c["id"]), reverse=True)
    beyond_walk = {c["id"] for c in ranked[POSITIONAL_CAP:] if c["created_at"] < end}
    assert beyond_walk
    loaded = query(
        tmp_path / "w.duckdb", "SELECT id FROM aircall.contacts WHERE information = ?", [EDIT]
    )
    assert len(loaded) == older + in_range
    assert beyond_walk <= {row[0] for row in loaded}


def test_the_estimate_counts_the_split_of_a_range_over_the_cap(simulator_factory):
    """Every contact inside the range: the client splits its window, as the estimate expects."""
    first_day = utc_today() - timedelta(days=DAYS)
    sim = simulator_factory(
        seed=5, start_date=first_day, days=DAYS, calls_per_day=1, contacts=EDITED
    )
    # The account's older contacts go back at most 700 days: all are inside this range.
    history_start = first_day - timedelta(days=701)
    settings = parse_settings({"history_start": history_start.isoformat()})
    client = client_for(sim)
    # What the range run reads: everything before the history start, then the range itself.
    for window in ((0, midnight(history_start)), (midnight(history_start), midnight(utc_today()))):
        for _page in iter_window(client, CONTACTS, *window):
            pass
    assert client.stats.windows_split == 1
    estimate = reread_requests(EDITED, settings, utc_today())
    assert client.stats.requests <= estimate <= client.stats.requests + 2


def test_a_walk_too_long_for_a_sensor_tick_falls_back_instead_of_timing_out(simulator_factory):
    """At 60 requests a minute a long walk outlasts Dagster's 60 s sensor timeout: it stops
    within its time and falls back, rather than failing every tick with the cursor stuck."""
    first_day = utc_today() - timedelta(days=DAYS)
    sim = simulator_factory(seed=6, start_date=first_day, days=DAYS, calls_per_day=1, contacts=120)
    settings = parse_settings({"history_start": first_day.isoformat()})
    cursor = sim.store.now() - 1
    for contact in sim.store.all("contacts"):
        sim.store.update_contact(contact["id"], information=EDIT)
    changes = changed_contact_partitions(
        client_for(sim), settings, cursor, utc_today(), time_limit=0.0
    )
    assert not changes.reached_cursor and changes.total == 120
    assert "1 pages took more than the 0s a sensor tick can spend" in changes.stopped_by
    assert sim.stats.requests == 1
