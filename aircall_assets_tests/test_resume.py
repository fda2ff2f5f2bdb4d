"""A long read killed part way resumes from its spool instead of starting over."""

import os
import random
import signal
import subprocess
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from aircall_assets.catalog import TABLES
from aircall_assets.reads import Progress, read_windows
from aircall_assets.simulator.config import utc_today
from aircall_assets.spool import Spool, spool_root
from aircall_assets_tests.helpers import (
    assert_table_matches,
    cli_environment,
    client_for,
    materialize_cli,
    materialize_command,
)

CALLS = TABLES["calls"]


def ts(d: date) -> int:
    return int(datetime.combine(d, datetime.min.time(), timezone.utc).timestamp())


def _kill_at(env: dict[str, str], sim, first: date, last: date, requests: int) -> int:
    """Start the CLI backfill and SIGKILL it once the simulator has answered ``requests``;
    the requests it had made by then."""
    before = sim.stats.requests
    child = subprocess.Popen(
        materialize_command("aircall/calls", first, last),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while sim.stats.requests - before < requests:
        assert child.poll() is None, "the backfill ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait(30)
    return sim.stats.requests - before


@pytest.mark.slow
def test_a_rerun_after_a_kill_re_requests_almost_nothing_and_lands_the_same(
    simulator_factory, tmp_path, own_spool_dir
):
    first = utc_today() - timedelta(days=6)
    last = first + timedelta(days=4)
    sim = simulator_factory(start_date=first, days=5, calls_per_day=4_000, contacts=5)
    # paced as at a real limit (each page waits for the budget), scaled to seconds
    paced = {"AIRCALL_REQUESTS_PER_MINUTE": "30", "AIRCALL_RATE_WINDOW_S": "1"}
    reference = tmp_path / "reference"
    reference.mkdir()
    before = sim.stats.requests
    materialize_cli(cli_environment(sim, reference, first), "aircall/calls", first, last)
    uninterrupted = sim.stats.requests - before
    rng = random.Random(13)
    kill_at = rng.randint(uninterrupted // 5, uninterrupted * 9 // 10)
    env = cli_environment(sim, tmp_path, first, **paced)
    fetched = _kill_at(env, sim, first, last, kill_at)
    assert list(spool_root().iterdir()), "the killed read left its spool"
    before = sim.stats.requests
    materialize_cli(env, "aircall/calls", first, last)
    rerun = sim.stats.requests - before
    re_requested = rerun - (uninterrupted - fetched)
    print(
        f"\n[resume] uninterrupted {uninterrupted} requests; killed after {fetched}; the rerun "
        f"made {rerun}: {re_requested} re-requested = {re_requested / fetched:.1%} of those "
        "fetched"
    )
    assert re_requested <= 0.05 * fetched
    truth = sim.store.calls_between(0, ts(last + timedelta(days=1)))
    assert assert_table_matches(env["AIRCALL_DUCKDB_PATH"], CALLS, truth) == len(truth) == 20_000
    assert not list(spool_root().iterdir()), "the landed range's spool is gone"


class _Killed(Exception):
    pass


def _read(sim, spool: Spool, windows, stop_after: int | None = None) -> list[str]:
    lines: list[str] = []
    client = client_for(sim)
    pages = 0

    def check(records):
        nonlocal pages
        pages += 1
        if stop_after is not None and pages > stop_after:
            raise _Killed

    try:
        read_windows(client, CALLS, windows, spool, Progress(lines.append, "calls", client), check)
    except _Killed:
        spool.close()
    return lines


def _ids(spool: Spool) -> list[int]:
    return sorted(r["id"] for chunk in spool.records() for r in chunk)


@pytest.fixture
def account(simulator_factory):
    first = utc_today() - timedelta(days=4)
    sim = simulator_factory(start_date=first, days=3, calls_per_day=4_000, contacts=5)
    return sim, [(ts(first), ts(first + timedelta(days=3)))]


def test_a_resumed_read_holds_every_record_once(account, monkeypatch):
    sim, windows = account
    monkeypatch.setattr("aircall_assets.spool.FLUSH_SECONDS", 0.0)  # a chunk per page
    identity = {"table": "calls", "range": "resumed"}
    _read(sim, Spool.resumable(identity), windows, stop_after=130)  # inside the second leaf
    spool = Spool.resumable(identity)
    assert spool.resumed and spool.manifest.leaf is not None and spool.manifest.done_until
    before = sim.stats.requests
    _read(sim, spool, windows)
    truth = sorted(c["id"] for c in sim.store.calls_between(windows[0][0], windows[0][1]))
    assert _ids(spool) == truth and spool.manifest.api_total == len(truth) == 12_000
    assert sim.stats.requests - before <= 241 - 130 + 1  # the rest, and the page in flight


def test_a_window_that_changed_since_is_read_again_whole(account, monkeypatch):
    sim, windows = account
    monkeypatch.setattr("aircall_assets.spool.FLUSH_SECONDS", 0.0)
    identity = {"table": "calls", "range": "changed"}
    _read(sim, Spool.resumable(identity), windows, stop_after=130)
    spool = Spool.resumable(identity)
    spool.manifest.leaf.total += 1  # as if a call had been added to the window since
    _read(sim, spool, windows)
    truth = sorted(c["id"] for c in sim.store.calls_between(windows[0][0], windows[0][1]))
    assert _ids(spool) == truth


def test_a_spool_of_other_columns_or_too_old_is_discarded(account, monkeypatch):
    sim, windows = account
    identity = {"table": "calls", "range": "stale", "columns": ["id", "started_at"]}
    _read(sim, Spool.resumable(identity), windows, stop_after=20)
    other_columns = Spool.resumable({**identity, "columns": ["id"]})
    assert not other_columns.resumed and not other_columns.files
    other_columns.close()
    assert not Spool.resumable(identity).resumed, "the first columns' chunks are gone"
    _read(sim, Spool.resumable(identity), windows, stop_after=20)
    monkeypatch.setenv("AIRCALL_SPOOL_MAX_AGE_H", "0")
    assert not Spool.resumable(identity).resumed


def test_a_second_run_of_the_same_range_at_once_reads_on_its_own(account):
    sim, windows = account
    identity = {"table": "calls", "range": "twice"}
    held = Spool.resumable(identity)
    other = Spool.resumable(identity)
    assert other.directory != held.directory
    _read(sim, other, windows)
    assert len(_ids(other)) == 12_000
    other.close()
    assert not other.directory.exists(), "a private spool is not kept"
    held.discard()


def test_progress_lines_say_how_far_the_read_is(account, monkeypatch):
    sim, windows = account
    monkeypatch.setattr("aircall_assets.progress.PROGRESS_SECONDS", 0.0)
    lines = _read(sim, Spool.private(), windows)
    print("\n".join(["", *lines[:3], "...", *lines[-2:]]))
    assert lines[0].startswith("window split: calls: 1 pages, 50 of 12,000 records (0%)")
    assert all(f in lines[5] for f in ("of 12,000 records", "requests/min", "budget", "ETA"))
    assert lines[-1].startswith("read done: calls: 240 pages, 12,000 of 12,000 records (100%)")


def test_a_read_resumed_in_its_last_window_reports_its_total(account, monkeypatch):
    sim, windows = account
    monkeypatch.setattr("aircall_assets.spool.FLUSH_SECONDS", 0.0)
    identity = {"table": "calls", "range": "last leaf"}
    _read(sim, Spool.resumable(identity), windows, stop_after=200)  # inside the third leaf
    lines = _read(sim, Spool.resumable(identity), windows)
    assert lines[-1].startswith("read done: calls: 40 pages, 12,000 of 12,000 records (100%)")
