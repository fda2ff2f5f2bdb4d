"""The request budget in the PostgreSQL warehouse, for runs on several machines at once.

On Kubernetes every run is a pod of its own: a budget file would give each pod the company's
whole budget, and Aircall would answer 429s. With a PostgreSQL warehouse the budget of a company
is a row of ``aircall_sync.request_budget`` instead (created on first use):

* ``company``: ``budget.company_key`` of the API base URL and API ID (a hash: no identifier is
  stored), the primary key;
* ``sent``: the send times of the company's last requests, on the database server's clock
  (Unix seconds), so that machines whose clocks differ still share one window;
* ``blocked_until``: the end of the block after a 429, on the same clock.

A slot is taken in one short transaction that locks the company's row (``SELECT ... FOR
UPDATE``): other companies' rows are never waited for, and the time to wait for a slot or the
end of a block is slept after the commit, never holding the lock. A killed process's session
ends with its connection and the server rolls its transaction back, so a crash leaks nothing.

Each process keeps one connection per database, shared by its clients and threads (a request
costs a transaction, not a connection); a dropped connection is made again once, and a
database that cannot be reached fails the request with a message that names the URL with its
password masked.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

import psycopg

from aircall_assets.budget import SharedBudget, State
from aircall_assets.warehouse.url import WAREHOUSE_URL_ENV, check_url, mask, scrub

SCHEMA = "aircall_sync"
TABLE = f"{SCHEMA}.request_budget"
CONNECT_TIMEOUT_S = 10
T = TypeVar("T")

CREATE_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {TABLE} (
    company TEXT PRIMARY KEY,
    sent DOUBLE PRECISION[] NOT NULL DEFAULT '{{}}',
    blocked_until DOUBLE PRECISION NOT NULL DEFAULT 0
)"""
# The clock is read in the outer query, which runs once the inner one holds the row's lock: a
# time read before waiting for the lock would date the slot too early.
LOCK_SQL = f"""
SELECT sent, blocked_until, extract(epoch FROM clock_timestamp())::float8
FROM (SELECT sent, blocked_until FROM {TABLE} WHERE company = %s FOR UPDATE) AS locked"""
INSERT_SQL = f"INSERT INTO {TABLE} (company) VALUES (%s) ON CONFLICT (company) DO NOTHING"
UPDATE_SQL = f"UPDATE {TABLE} SET sent = %s::float8[], blocked_until = %s WHERE company = %s"


class BudgetUnavailable(ConnectionError):
    """The PostgreSQL database holding the request budget could not be reached (the message
    has no password)."""


class PostgresBudget(SharedBudget):
    """The budget of ``company`` in the PostgreSQL database at ``url``."""

    def __init__(self, url: str, company: str, limit: int, window: float) -> None:
        super().__init__(limit, window)
        self.url = check_url(url)
        self.company = company

    def __repr__(self) -> str:
        return f"PostgresBudget({mask(self.url)}, limit={self.limit}, window={self.window})"

    def update(self, change: Callable[[State, float], T]) -> T:
        return _link(self.url).transaction(lambda con: self._change(con, change))

    def _change(self, con: psycopg.Connection, change: Callable[[State, float], T]) -> T:
        row = con.execute(LOCK_SQL, [self.company]).fetchone()
        if row is None:  # the company's first request: its row, then its lock
            con.execute(INSERT_SQL, [self.company])
            row = con.execute(LOCK_SQL, [self.company]).fetchone()
        sent, blocked_until, now = row
        state: State = {"sent": list(sent), "blocked_until": blocked_until}
        before = dict(state)
        result = change(state, now)
        if state != before:
            con.execute(UPDATE_SQL, [state["sent"], state["blocked_until"], self.company])
        return result


class _Link:
    """This process's connection to one database, for every budget and thread of the process:
    one transaction at a time on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._con: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def transaction(self, work: Callable[[psycopg.Connection], T]) -> T:
        """``work`` in one transaction; on a connection found dropped, once more on a new one."""
        with self._lock:
            for attempt in (1, 2):
                con = self._connection()
                try:
                    with con.transaction():
                        return work(con)
                except psycopg.OperationalError as exc:
                    if not con.broken or attempt == 2:
                        raise self._unavailable("lost the connection to", exc) from None
                    self._con = None  # dropped (a restart, an idle timeout): connect again
            raise AssertionError("unreachable")

    def _connection(self) -> psycopg.Connection:
        if self._con is None:
            try:
                con = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
                with con.transaction():
                    # the schema lock of the warehouse's loads (postgres.py): two first users
                    # creating the table at once would collide
                    con.execute(
                        "SELECT pg_advisory_xact_lock(hashtext('aircall_assets'), hashtext(%s))",
                        [SCHEMA],
                    )
                    con.execute(CREATE_SQL)
            except psycopg.Error as exc:
                raise self._unavailable("could not reach", exc) from None
            self._con = con
        return self._con

    def _unavailable(self, what: str, exc: Exception) -> BudgetUnavailable:
        reason = scrub(str(exc).strip(), self.url)
        return BudgetUnavailable(
            f"the request budget {what} the PostgreSQL warehouse {mask(self.url)} "
            f"({TABLE}): {reason}. Check that the server is up and {WAREHOUSE_URL_ENV} "
            "is right, then re-run."
        )


_links: dict[str, _Link] = {}
_links_pid = os.getpid()
_links_lock = threading.Lock()


def _link(url: str) -> _Link:
    """The process's link to ``url``; a forked child makes its own (the parent's socket is not
    its to use, and psycopg leaves it open for the parent)."""
    global _links, _links_pid
    with _links_lock:
        if _links_pid != os.getpid():
            _links, _links_pid = {}, os.getpid()
        link = _links.get(url)
        if link is None:
            link = _links[url] = _Link(url)
        return link
