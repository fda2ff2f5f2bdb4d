"""The request budget shared by processes, in a file (DuckDB) or in the PostgreSQL warehouse: a
sliding window never exceeded, 429 blocks shared, nothing leaked by a killed process, one
company never slowed by another; the client picks its budget by the warehouse URL."""

import multiprocessing
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import orjson
import psycopg
import pytest
import requests

from aircall_assets.assets import build_extract_asset
from aircall_assets.budget import (
    BUDGET_DIR_ENV,
    FileBudget,
    SharedBudget,
    budget_dir,
    budget_for_company,
    company_key,
)
from aircall_assets.budget_postgres import TABLE, BudgetUnavailable, PostgresBudget
from aircall_assets.catalog import TABLES
from aircall_assets.client.errors import AircallRateLimited
from aircall_assets.client.pages import iter_all
from aircall_assets.resources import aircall_resource, warehouse_io_manager
from aircall_assets.settings import parse_settings
from aircall_assets.warehouse.url import WAREHOUSE_URL_ENV, mask
from aircall_assets_tests.helpers import client_for, query, resource_for, still_running_after
from aircall_assets_tests.warehouses import KINDS

LIMIT, WINDOW = 20, 0.5
BASE_URL = "https://api.aircall.io"


@dataclass(frozen=True)
class BudgetStore:
    """Where a test's budgets live, as ``budget_for_company`` finds it: the folder of
    ``AIRCALL_BUDGET_DIR`` (no URL), or a PostgreSQL database; picklable for child processes."""

    warehouse_url: str | None

    def budget(self, limit: int, window: float, api_id: str = "company-a") -> SharedBudget:
        return budget_for_company(BASE_URL, api_id, limit, window, self.warehouse_url)

    def stored_text(self) -> str:
        """Everything the store holds, as text."""
        if self.warehouse_url:
            return repr(query(self.warehouse_url, f"SELECT * FROM {TABLE}"))
        return "".join(p.name + p.read_text() for p in budget_dir().iterdir())


@pytest.fixture(params=KINDS)
def store(request, tmp_path, monkeypatch) -> BudgetStore:
    """Each store in turn, empty: a budget folder of this test, or a database of its own."""
    monkeypatch.setenv(BUDGET_DIR_ENV, str(tmp_path / "budgets"))  # children inherit it
    if request.param == "duckdb":
        return BudgetStore(None)
    return BudgetStore(request.getfixturevalue("postgres_database"))


def _draw(store: BudgetStore, seconds: float, out: str, start) -> None:
    budget = store.budget(LIMIT, WINDOW)
    start.wait(120)  # all at once, whichever imported first
    stamps = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        budget.acquire()
        stamps.append(time.time())
    with open(out, "w") as handle:
        handle.write("\n".join(map(str, stamps)))


def test_processes_on_one_budget_never_exceed_it_in_any_window(store, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"stamps-{i}" for i in range(3)]
    start = ctx.Barrier(len(outs))
    procs = [ctx.Process(target=_draw, args=(store, 2.0, str(o), start)) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    stamps = sorted(float(t) for o in outs for t in o.read_text().split())
    busiest = max(sum(1 for u in stamps[i:] if u - t < WINDOW) for i, t in enumerate(stamps))
    assert busiest <= LIMIT
    per_process = [len(o.read_text().split()) for o in outs]
    # the three shared the budget (each got some) and used it (~20 per half second in all)
    assert min(per_process) > 0 and len(stamps) >= 0.85 * LIMIT * (2.0 / WINDOW)


def test_a_block_after_a_429_holds_every_user_of_the_company(store):
    other = store.budget(100, 60)
    began = time.monotonic()  # before the block: however long setting it takes on a busy machine
    store.budget(0, 60).block_until(time.time() + 0.6)
    waited = other.acquire()
    assert 0.55 <= time.monotonic() - began < 3 and waited > 0


def _hold_the_lock(store: BudgetStore, holding, never_written) -> None:
    def hold(state, now) -> None:
        holding.set()
        never_written.recv()  # blocks until the SIGKILL; no clock involved (the suite may run
        # under libfaketime, whose sleeps are not the real clock's)

    store.budget(3, 0.4).update(hold)


def test_a_process_killed_while_holding_the_budget_leaks_nothing(store):
    budget = store.budget(3, 0.4)
    for _ in range(3):
        budget.acquire()
    ctx = multiprocessing.get_context("spawn")
    holding = ctx.Event()
    never_written, kept_open = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_hold_the_lock, args=(store, holding, never_written))
    child.start()
    assert holding.wait(60), "the child never took the budget's lock"
    waiter = threading.Thread(target=budget.acquire, daemon=True)
    waiter.start()
    assert still_running_after(waiter, 0.5), "the lock was not held: the test proves nothing"
    child.kill()  # SIGKILL, inside its transaction (PostgreSQL) or its flock (file)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    began = time.monotonic()
    # the dead process's lock was dropped; the slots expired meanwhile
    assert not still_running_after(waiter, 5, until_done=True)
    assert time.monotonic() - began < 2


def test_one_companys_budget_does_not_slow_another(store):
    busy = store.budget(2, 60, api_id="busy-company")
    busy.acquire()
    busy.acquire()  # its window is full for a minute
    busy.block_until(time.time() + 60)
    began = time.monotonic()
    other = store.budget(2, 60, api_id="other-company")
    assert other.acquire() == 0 and other.acquire() == 0
    assert time.monotonic() - began < 1


def test_the_stored_state_names_no_identifier(store):
    store.budget(60, 60, api_id="my-api-id").acquire()
    stored = store.stored_text()
    assert company_key(BASE_URL, "my-api-id") in stored
    assert "my-api-id" not in stored and company_key(BASE_URL, "other") not in stored


def test_a_corrupt_state_file_starts_a_fresh_window(tmp_path):
    path = tmp_path / "company.json"
    path.write_bytes(b'{"sent": [1.0, 2')
    assert FileBudget(path, 5, 1).acquire() == 0


def test_the_state_file_is_in_the_budget_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(BUDGET_DIR_ENV, str(tmp_path))
    budget = budget_for_company(BASE_URL, "my-api-id", 60, 60)
    assert isinstance(budget, FileBudget)
    assert budget.path == budget_dir() / f"{company_key(BASE_URL, 'my-api-id')}.json"
    assert budget_dir() == Path(tmp_path)


# -- the client's choice, and PostgreSQL's connection ----------------------------------------


def test_a_run_keeps_its_budget_where_the_warehouse_is(
    simulator_factory, postgres_database, monkeypatch, tmp_path
):
    sim = simulator_factory(days=1, calls_per_day=5)
    for name, value in (
        (BUDGET_DIR_ENV, str(tmp_path / "budgets")),
        ("AIRCALL_DUCKDB_PATH", str(tmp_path / "w.duckdb")),
        ("AIRCALL_API_BASE_URL", sim.base_url),
        ("AIRCALL_API_ID", sim.config.api_id),
        ("AIRCALL_API_TOKEN", sim.config.api_token),
    ):
        monkeypatch.setenv(name, value)
    company = company_key(sim.base_url, sim.config.api_id)
    settings = parse_settings({"history_start": "2026-06-01"})

    def run_tags() -> int:
        """The requests of a run of the tags asset, on the resources of the environment."""
        before = sim.stats.requests
        result = dg.materialize(
            [build_extract_asset(TABLES["tags"], settings)],
            resources={
                "aircall": aircall_resource(settings),
                "warehouse_io_manager": warehouse_io_manager(),
            },
        )
        assert result.success
        return sim.stats.requests - before

    monkeypatch.delenv(WAREHOUSE_URL_ENV, raising=False)
    assert aircall_resource(settings).warehouse_url is None
    requests_made = run_tags()
    sent = orjson.loads((budget_dir() / f"{company}.json").read_bytes())["sent"]
    assert len(sent) == requests_made > 0  # DuckDB: the file of AIRCALL_BUDGET_DIR

    monkeypatch.setenv(WAREHOUSE_URL_ENV, postgres_database)
    # an EnvVar: Dagster resolves it at run start and shows only the variable's name
    assert aircall_resource(settings).warehouse_url == dg.EnvVar(WAREHOUSE_URL_ENV)
    requests_made = run_tags()
    rows = query(
        postgres_database, f"SELECT cardinality(sent) FROM {TABLE} WHERE company = ?", [company]
    )
    assert rows == [(requests_made,)]
    assert orjson.loads((budget_dir() / f"{company}.json").read_bytes())["sent"] == sent


def test_the_budget_shows_no_password(simulator_factory, postgres_url):
    sim = simulator_factory(days=1, calls_per_day=5)
    client = resource_for(sim, warehouse_url=postgres_url).get_client()
    assert isinstance(client.budget, PostgresBudget)
    shown = repr(resource_for(sim, warehouse_url=postgres_url)) + repr(client.budget)
    assert urlsplit(postgres_url).password not in shown and mask(postgres_url) in shown


def test_a_dropped_connection_is_made_again(postgres_database):
    budget = PostgresBudget(postgres_database, "company", 0, 60)
    budget.acquire()
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    with psycopg.connect(postgres_database, autocommit=True) as con:
        ended = con.execute(f"SELECT pg_terminate_backend(pid) {others}").fetchall()
        assert ended == [(True,)], "the budget keeps one connection per process"
        while con.execute(f"SELECT count(*) {others}").fetchone()[0]:
            time.sleep(0.01)
    budget.block_until(time.time() + 0.3)
    assert budget.acquire() >= 0.2


def test_an_unreachable_database_is_a_clear_error_without_the_password():
    url = "postgresql://aircall:hunter2-s3cret@127.0.0.1:9/aircall"  # nothing listens on 9
    with pytest.raises(BudgetUnavailable) as raised:
        PostgresBudget(url, "company", 60, 60).acquire()
    message = str(raised.value)
    assert f"could not reach the PostgreSQL warehouse {mask(url)}" in message
    assert TABLE in message and WAREHOUSE_URL_ENV in message
    assert "hunter2" not in message and raised.value.__cause__ is None


# -- 429s through the client ---------------------------------------------------------------


def test_a_429_without_reset_header_ends_the_read_with_a_clear_error(simulator_factory):
    sim = simulator_factory(
        days=1, calls_per_day=5, fault_rate=1.0, fault_kinds=("429",), rate_limit_headers=False
    )
    with pytest.raises(AircallRateLimited, match="without an X-AircallApi-Reset header"):
        list(iter_all(client_for(sim), TABLES["tags"]))
    assert sim.stats.faults["429"] == 1  # not retried: there is nothing to wait for


def test_429s_that_keep_coming_end_the_read_naming_the_cause(simulator_factory):
    sim = simulator_factory(days=1, calls_per_day=5)
    requests.post(f"{sim.base_url}/_simulator/exhaust-budget?seconds=30", timeout=5)
    began = time.monotonic()
    with pytest.raises(AircallRateLimited) as raised:
        list(iter_all(client_for(sim, max_rate_limit_wait=3.0), TABLES["tags"]))
    message = str(raised.value)
    assert "AIRCALL_MAX_RATE_LIMIT_WAIT_S=3" in message and "used by something else" in message
    assert sim.config.api_token not in message
    # waited out each reset (a second each) until the next would pass the 3 s, then stopped
    assert 2 < time.monotonic() - began < 6 and 3 <= sim.stats.rate_limited <= 5
