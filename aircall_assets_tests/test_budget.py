"""The request budget shared by processes: a sliding window, shared 429 blocks, no leaks."""

import fcntl
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
import requests

from aircall_assets.budget import FileBudget, budget_dir, company_key
from aircall_assets.catalog import TABLES
from aircall_assets.client import AircallRateLimited
from aircall_assets_tests.helpers import client_for

LIMIT, WINDOW = 20, 0.5


def _draw(path: str, seconds: float, out: str) -> None:
    budget = FileBudget(Path(path), LIMIT, WINDOW)
    stamps = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        budget.acquire()
        stamps.append(time.time())
    with open(out, "w") as handle:
        handle.write("\n".join(map(str, stamps)))


def test_processes_on_one_budget_never_exceed_it_in_any_window(tmp_path):
    path = tmp_path / "company.json"
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"stamps-{i}" for i in range(3)]
    procs = [ctx.Process(target=_draw, args=(str(path), 2.0, str(o))) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    stamps = sorted(float(t) for o in outs for t in o.read_text().split())
    busiest = max(sum(1 for u in stamps[i:] if u - t < WINDOW) for i, t in enumerate(stamps))
    assert busiest <= LIMIT
    per_process = [len(o.read_text().split()) for o in outs]
    # the three shared the budget (each got some) and used it (~20 per half second in all)
    assert min(per_process) > 0 and len(stamps) >= 0.85 * LIMIT * (2.0 / WINDOW)


def test_a_block_after_a_429_holds_every_user_of_the_company(tmp_path):
    path = tmp_path / "company.json"
    FileBudget(path, 0, 60).block_until(time.time() + 0.6)
    began = time.monotonic()
    waited = FileBudget(path, 100, 60).acquire()
    assert 0.5 <= time.monotonic() - began < 2 and waited >= 0.5


def _hold_the_lock(path: str) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    time.sleep(60)


def test_a_process_killed_while_holding_the_budget_leaks_nothing(tmp_path):
    path = tmp_path / "company.json"
    budget = FileBudget(path, 3, 0.4)
    for _ in range(3):
        budget.acquire()
    child = multiprocessing.get_context("spawn").Process(target=_hold_the_lock, args=(str(path),))
    child.start()
    time.sleep(0.5)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    began = time.monotonic()
    budget.acquire()  # the kernel dropped the dead process's lock; the slots expired
    assert time.monotonic() - began < 1


def test_a_corrupt_state_file_starts_a_fresh_window(tmp_path):
    path = tmp_path / "company.json"
    path.write_bytes(b'{"sent": [1.0, 2')
    assert FileBudget(path, 5, 1).acquire() == 0


def test_the_state_file_names_no_identifier(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRCALL_BUDGET_DIR", str(tmp_path))
    budget = FileBudget.for_company("https://api.aircall.io", "my-api-id", 60, 60)
    budget.acquire()
    assert budget.path.parent == budget_dir() == tmp_path
    assert "my-api-id" not in budget.path.name and "my-api-id" not in budget.path.read_text()
    assert company_key("https://api.aircall.io", "other") not in budget.path.name


def test_a_429_without_reset_header_ends_the_read_with_a_clear_error(simulator_factory):
    sim = simulator_factory(
        days=1, calls_per_day=5, fault_rate=1.0, fault_kinds=("429",), rate_limit_headers=False
    )
    with pytest.raises(AircallRateLimited, match="without an X-AircallApi-Reset header"):
        list(client_for(sim).iter_all(TABLES["tags"]))
    assert sim.stats.faults["429"] == 1  # not retried: there is nothing to wait for


def test_429s_that_keep_coming_end_the_read_naming_the_cause(simulator_factory):
    sim = simulator_factory(days=1, calls_per_day=5)
    requests.post(f"{sim.base_url}/_simulator/exhaust-budget?seconds=30", timeout=5)
    began = time.monotonic()
    with pytest.raises(AircallRateLimited) as raised:
        list(client_for(sim, max_rate_limit_wait=3.0).iter_all(TABLES["tags"]))
    message = str(raised.value)
    assert "AIRCALL_MAX_RATE_LIMIT_WAIT_S=3" in message and "used by something else" in message
    assert sim.config.api_token not in message
    # waited out each reset (a second each) until the next would pass the 3 s, then stopped
    assert 2 < time.monotonic() - began < 6 and 3 <= sim.stats.rate_limited <= 5
