"""The one HTTP client that talks to Aircall, and its Dagster resource.

It owns everything the real API makes hard (``../shared/docs/aircall-api.md``):
pagination with ``next_page_link``, the positional 10,000-record cap (a window over it is split
into parts sized from the total the API reports), per-resource ``from``/``to`` bound semantics,
a pace under the company's per-minute budget shared by every process (``budget.py``), 429
waits on ``X-AircallApi-Reset`` that every process honours, retries with backoff and jitter on
transient failures, and errors that say what to fix without ever showing a secret.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import orjson
from pydantic import Field, PrivateAttr

from aircall_assets.budget import RequestBudget, budget_for_company
from aircall_assets.catalog import Table
from aircall_assets.normalize import NormalizationError, epoch_micros
from aircall_assets.transport import SendFailed, Transport

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.aircall.io"
PER_PAGE = 50
POSITIONAL_CAP = 10_000
MAX_PAGE = POSITIONAL_CAP // PER_PAGE
# Records aimed at per part when a window over the cap is split: half the cap, so that most
# parts fit even where calls bunch up (peak hours hold ~2.4x the day's average in the
# simulator); a part that does not is split again, for one more probe request.
SPLIT_TARGET = POSITIONAL_CAP // 2
MAX_RESET_WAIT = 120.0  # longest wait one reset header is trusted for
DEFAULT_MAX_RATE_LIMIT_WAIT = 1800.0
PREFETCH_PAGES = 2  # pages read ahead while the caller processes the current one
CREDENTIAL_HELP = (
    "Set AIRCALL_API_ID and AIRCALL_API_TOKEN to an API ID and token created in the Aircall "
    "dashboard (Integrations & API > API keys)."
)


class AircallError(RuntimeError):
    """Any failure talking to Aircall; messages never contain credentials."""


class AircallAuthError(AircallError):
    """401/403: the credentials were missing or rejected. Never retried."""


class AircallAPIError(AircallError):
    """A 4xx other than auth and rate limiting; carries the status and Aircall's body."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AircallResponseLost(AircallError):
    """A non-idempotent write may have reached Aircall but its answer was lost.

    Re-sending could create a duplicate, so the caller must look the record up first.
    """


class AircallUnavailable(AircallError):
    """Gave up after the bounded number of attempts on transient failures."""


class AircallRateLimited(AircallError):
    """Aircall kept refusing for lack of budget: something else uses the company's budget."""


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str) -> str:
    """The base URL without a trailing slash; https unless the host is loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"AIRCALL_API_BASE_URL '{url}' is not an http(s) URL; use {DEFAULT_BASE_URL}"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"AIRCALL_API_BASE_URL '{url}' uses plain http for a non-loopback host: the "
            "credentials would travel in clear text. Use https (http is only allowed for "
            "127.0.0.1/localhost, e.g. the simulator)."
        )
    if parts.username or parts.password:
        raise ValueError("AIRCALL_API_BASE_URL must not embed credentials; use the env vars.")
    return url.rstrip("/")


@dataclass
class ClientStats:
    """What a client spent, reported as run metadata."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429s received and waited out
    seconds_paced: float = 0.0
    windows_split: int = 0
    outside_window: int = 0  # boundary records the API returned for a neighbouring window
    transient_errors: Counter = field(default_factory=Counter)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited_429s": self.rate_limited,
            "seconds_paced": round(self.seconds_paced, 2),
            "windows_split": self.windows_split,
            "records_outside_window": self.outside_window,
            "transient_errors": dict(self.transient_errors),
        }


@dataclass(frozen=True)
class WindowPage:
    """One page of records from one leaf window, with what the API said the window holds."""

    records: list[dict[str, Any]]
    window_start: int
    window_end: int
    window_total: int
    page: int  # the API's page number within the window, from 1
    last: bool  # no page of the window follows
    outside: int = 0  # records of the page dated outside the window, dropped


class WindowChanged(AircallError):
    """A window resumed at a later page no longer holds what it held: read it again whole."""


def _is_last(records: list[Any], meta: dict[str, Any]) -> bool:
    return not meta.get("next_page_link") or not records


def _reset_time(header: str | None) -> float | None:
    """``X-AircallApi-Reset`` as a UNIX time (sent in s or ms), at most ``MAX_RESET_WAIT``
    ahead; None if absent or unreadable."""
    try:
        reset = float(header) if header else None
    except ValueError:
        return None
    if reset is None:
        return None
    if reset > 1e11:  # milliseconds
        reset /= 1000.0
    return min(reset + 0.05, time.time() + MAX_RESET_WAIT)


def _body_of(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500].decode(errors="replace")


class AircallClient:
    """Synchronous Aircall client; one per run step, drawing on its company's shared budget."""

    def __init__(
        self,
        api_id: str,
        api_token: str,
        base_url: str = DEFAULT_BASE_URL,
        requests_per_minute: int = 60,
        rate_window_seconds: float = 60.0,
        max_attempts: int = 8,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        backoff_seconds: float = 1.0,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
        budget: RequestBudget | None = None,
        warehouse_url: str | None = None,
    ) -> None:
        if not api_id or not api_token:
            raise AircallAuthError(f"Aircall credentials are missing. {CREDENTIAL_HELP}")
        self.base_url = validate_base_url(base_url)
        self._transport = Transport(self.base_url, api_id, api_token, connect_timeout, read_timeout)
        self.budget = budget or budget_for_company(
            self.base_url, api_id, requests_per_minute, rate_window_seconds, warehouse_url
        )
        self.requests_per_minute = requests_per_minute * 60 / rate_window_seconds  # 0: unpaced
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_rate_limit_wait = max_rate_limit_wait
        self._limited_since: float | None = None  # first of the 429s in a row
        self.stats = ClientStats()

    def __repr__(self) -> str:
        return f"AircallClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._transport.close()

    # -- low level -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        idempotent: bool | None = None,
    ) -> tuple[int, Any]:
        """Send one logical request with pacing and retries; returns (status, parsed body).

        Transient failures (5xx, timeouts, dropped connections, truncated or invalid JSON) are
        retried with exponential backoff and jitter, up to ``max_attempts``. For a
        non-idempotent write (POST by default) a failure after the request may have been
        delivered (a 5xx included: a gateway may answer 502 after Aircall applied it) raises
        ``AircallResponseLost`` instead of re-sending.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "DELETE", "HEAD")
        url = self.base_url + path
        where = f"{method} {path}"
        last = "no attempt"
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            self.stats.seconds_paced += self.budget.acquire()
            self.stats.requests += 1
            try:
                reply = self._transport.send(
                    method, path, params=params, json=json, data=data, headers=headers
                )
            except SendFailed as failed:
                if failed.maybe_delivered and not idempotent:
                    raise AircallResponseLost(
                        f"{where}: no complete answer ({failed.kind}) after the request was "
                        "sent; it may have been applied"
                    ) from None
                last = failed.kind
            else:
                status = reply.status
                if status == 429:
                    self._rate_limited(where, reply.headers.get("X-AircallApi-Reset"))
                    attempt -= 1  # a 429 is pacing, not a failed attempt
                    continue
                self._limited_since = None
                if status in (401, 403):
                    raise AircallAuthError(
                        f"Aircall rejected the credentials ({status} on {where}). {CREDENTIAL_HELP}"
                    )
                if status >= 500:
                    if not idempotent:
                        # A gateway error can come after Aircall applied the write (502/504
                        # from the proxy in front of it): re-sending could create it twice.
                        raise AircallResponseLost(
                            f"{where}: HTTP {status} after the request was sent; it may have "
                            "been applied"
                        )
                    last = f"HTTP {status}"
                elif status >= 300:
                    body = _body_of(reply.body)
                    raise AircallAPIError(
                        f"{where} failed with HTTP {status}: {body}", status, body
                    )
                elif status == 204 or not reply.body:
                    return status, None
                else:
                    try:
                        return status, orjson.loads(reply.body)
                    except orjson.JSONDecodeError:
                        if not idempotent:
                            raise AircallResponseLost(
                                f"{where}: the answer was not valid JSON"
                            ) from None
                        last = "invalid_json"
            self.stats.transient_errors[last] += 1
            if attempt < self.max_attempts:
                self.stats.retries += 1
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                time.sleep(random.uniform(delay / 2, delay) if delay < 30 else 30)
        raise AircallUnavailable(
            f"{where} ({url}) still failing after {self.max_attempts} attempts; last error: "
            f"{last}. Aircall may be down; the run can be retried safely."
        )

    def _rate_limited(self, where: str, reset_header: str | None) -> None:
        """A 429: every process of the company waits for the reset, within bounds."""
        self.stats.rate_limited += 1
        now = time.time()
        reset = _reset_time(reset_header)
        if reset is None:
            raise AircallRateLimited(
                f"{where}: Aircall answered 429 (too many requests) without an "
                "X-AircallApi-Reset header, so there is no time to wait for. Something other "
                "than Aircall's per-company limit refused the request (a proxy in between?); "
                "check the network path, then re-run."
            )
        if self._limited_since is None:
            self._limited_since = now
        if reset - self._limited_since > self.max_rate_limit_wait:
            raise AircallRateLimited(
                f"{where}: Aircall kept answering 429 (too many requests) for "
                f"{now - self._limited_since:.0f}s in a row, beyond "
                f"AIRCALL_MAX_RATE_LIMIT_WAIT_S={self.max_rate_limit_wait:.0f}. The company's "
                "request budget is being used by something else (another integration, script "
                "or API key of the same Aircall company). Stop it or lower "
                "AIRCALL_REQUESTS_PER_MINUTE so that both fit Aircall's limit, then re-run."
            )
        log.warning("Aircall rate limit hit on %s; every process waits %.1fs", where, reset - now)
        self.budget.block_until(reset)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)[1]

    def post(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.request("POST", path, json=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.request("PUT", path, json=json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.request("DELETE", path, **kw)

    def ping(self) -> None:
        """The cheapest credential check; raises ``AircallAuthError`` on bad credentials."""
        self.get("/v1/ping")

    # -- reading tables ------------------------------------------------------------------

    def get_object(self, table: Table) -> dict[str, Any]:
        """A single-object resource (company)."""
        body = self.get(table.path)
        return body[table.list_key]

    def iter_pages(
        self, table: Table, params: dict[str, Any] | None = None, first_page: int = 1
    ) -> Iterator[tuple[list[dict], dict]]:
        """Yield (records, meta) page by page from ``first_page`` until ``next_page_link`` is
        null.

        Never asks for a page past the positional cap: if a list grows past 10,000 records
        while being read, it stops with an error instead of silently truncating.
        """
        query = {"per_page": PER_PAGE, "order": "asc", **(params or {})}
        page = first_page
        while True:
            body = self.get(table.path, {**query, "page": page})
            records = body.get(table.list_key)
            meta = body.get("meta") or {}
            if not isinstance(records, list):
                raise AircallError(
                    f"GET {table.path}: the answer has no '{table.list_key}' list "
                    f"(keys: {sorted(body) if isinstance(body, dict) else type(body).__name__})"
                )
            yield records, meta
            if _is_last(records, meta):
                return
            if page >= MAX_PAGE:
                raise AircallError(
                    f"GET {table.path} {params}: more than {POSITIONAL_CAP} records in one "
                    "window; narrower windows are needed"
                )
            page += 1

    def iter_all(self, table: Table) -> Iterator[list[dict[str, Any]]]:
        """Every record of an unfiltered list (full-replication tables), page by page."""
        for records, _meta in self.iter_pages(table):
            yield records

    def window_params(self, table: Table, start: int, end: int) -> dict[str, int]:
        """API ``from``/``to`` covering the half-open window ``[start, end)`` in UNIX seconds."""
        bounds = table.bounds
        assert bounds is not None, f"{table.name} has no from/to filter"
        inclusive_end = end if bounds.fractional_seconds else end - 1
        to = inclusive_end if bounds.to_inclusive else end
        return {"from": start - 1 if bounds.from_exclusive else start, "to": to}

    def iter_window(
        self,
        table: Table,
        start: int,
        end: int,
        *,
        from_page: int = 1,
        expect_total: int | None = None,
        seen: set[Any] | None = None,
        on_total: Callable[[int, int, int], None] | None = None,
    ) -> Iterator[WindowPage]:
        """Every record dated in ``[start, end)`` (UNIX seconds), page by page, each id once.

        A window whose ``meta.total`` exceeds the 10,000 cap is split into equal spans of time,
        as many as its total needs at ``SPLIT_TARGET`` records each (a part still over the cap
        is split again). Beyond the pages its records fill, a window costs the partly filled
        last page of each leaf window and the probe page of each split, so a caller should ask
        for the widest window it needs, not day by day: sparse days then share pages. Records
        the API returns outside the window (only possible at ``end`` for fractional-second
        resources) are dropped and discounted from the window's total.

        A leaf window read before up to ``from_page - 1`` resumes there, with the ids already
        read in ``seen``, if the API still reports its ``expect_total``: otherwise the pages
        may have shifted, and ``WindowChanged`` asks the caller to read it again whole.
        ``on_total(start, end, total)`` hears the total of every window read, split or not.
        """
        params = self.window_params(table, start, end)
        pages = self.iter_pages(table, params, first_page=from_page)
        records, meta = next(pages)
        total = int(meta.get("total") or 0)
        if on_total is not None:
            on_total(start, end, total)
        if expect_total is not None and total != expect_total:
            pages.close()
            raise WindowChanged(
                f"{table.name} [{start}, {end}): {total} records now, {expect_total} before"
            )
        if total > POSITIONAL_CAP:
            pages.close()
            if end - start <= 1:
                raise AircallError(
                    f"{table.name}: {total} records in one second at {start}; the API cannot "
                    "serve them past its 10,000 cap"
                )
            self.stats.windows_split += 1
            for part_start, part_end in split_window(start, end, total):
                yield from self.iter_window(table, part_start, part_end, on_total=on_total)
            return
        window = _WindowFilter(table, start, end, seen)
        page = from_page
        while True:
            outside = window.outside
            kept = window.keep(records)
            last = _is_last(records, meta)
            outside = window.outside - outside
            self.stats.outside_window += outside
            yield WindowPage(kept, start, end, total, page, last, outside)
            if last:
                break
            records, meta = next(pages)
            page += 1
        pages.close()


def split_window(start: int, end: int, total: int) -> list[tuple[int, int]]:
    """``[start, end)`` (UNIX seconds) cut into equal spans for ``total`` records over the cap:
    as many as ``SPLIT_TARGET`` records each need, none shorter than a second."""
    parts = min(end - start, -(-total // SPLIT_TARGET))
    bounds = [start + (end - start) * i // parts for i in range(parts + 1)]
    return list(itertools.pairwise(bounds))


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[Any], depth: int = PREFETCH_PAGES) -> Iterator[Any]:
    """``items`` produced by a background thread at most ``depth`` ahead of the caller.

    A load wraps its whole stream of pages (every window, splits included), so the next page
    is requested while the caller checks and spools the current one, across window
    boundaries too: a window-by-window read-ahead leaves every window's first page
    unoverlapped. Only pages the caller would read anyway are read;
    pacing and retries are unchanged (the limiter is thread-safe); an error is raised in the
    caller; if the caller stops early, the reader stops after the request in flight.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as error:  # handed to the caller
            put(_Raised(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="aircall-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        reader.join()


class _WindowFilter:
    """Keeps each record of one window once, and only if dated inside ``[start, end)``."""

    def __init__(self, table: Table, start: int, end: int, seen: set[Any] | None = None) -> None:
        self.table = table
        self.key = table.primary_key
        self.date_field = table.date_field
        self.start_us = start * 1_000_000
        self.end_us = end * 1_000_000
        self.seen: set[Any] = set() if seen is None else seen
        self.outside = 0

    def keep(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for record in records:
            rid = record.get(self.key)
            if rid in self.seen:
                continue
            self.seen.add(rid)
            value = record.get(self.date_field)
            try:
                stamp = epoch_micros(value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise NormalizationError(
                    f"{self.table.name}.{self.date_field}: value "
                    f"{repr(value)[:80]} of record id={rid} cannot be "
                    f"stored as {self.table.field(self.date_field).warehouse_type} ({exc}). The "
                    "API sent a value of an unexpected type; nothing was written."
                ) from None
            if stamp is not None and not (self.start_us <= stamp < self.end_us):
                self.outside += 1
                continue
            kept.append(record)
        return kept


class AircallResource(dg.ConfigurableResource):
    """Aircall API credentials and budget. Values come from the ``AIRCALL_*`` env vars."""

    api_id: str = Field(description="Aircall API ID (env AIRCALL_API_ID).")
    api_token: str = Field(description="Aircall API token (env AIRCALL_API_TOKEN).")
    base_url: str = Field(
        default=DEFAULT_BASE_URL, description="API base URL (env AIRCALL_API_BASE_URL)."
    )
    requests_per_minute: int = Field(
        default=60,
        description="Client-side budget per rate window (env AIRCALL_REQUESTS_PER_MINUTE); "
        "0 disables pacing (only for a local simulator).",
    )
    rate_window_seconds: float = Field(
        default=60.0, description="Length of the rate window; 60 for the real API."
    )
    max_rate_limit_wait_seconds: float = Field(
        default=DEFAULT_MAX_RATE_LIMIT_WAIT,
        description="Longest run of 429s waited out before the run fails "
        "(env AIRCALL_MAX_RATE_LIMIT_WAIT_S).",
    )
    max_attempts: int = Field(default=8, description="Attempts per request on transient errors.")
    read_timeout: float = Field(default=30.0, description="Seconds to wait for an answer.")
    backoff_seconds: float = Field(default=1.0, description="First retry delay, doubled each time.")
    warehouse_url: str | None = Field(
        default=None,
        description="PostgreSQL warehouse holding the company's request budget, for processes "
        "on several machines (env AIRCALL_WAREHOUSE_URL, its password never shown); unset: a "
        "file of AIRCALL_BUDGET_DIR, for the processes of one machine.",
    )

    _clients: list[AircallClient] = PrivateAttr(default_factory=list)

    def __repr_args__(self):  # never show the token, the id or a password in reprs or logs
        for name, value in super().__repr_args__():
            if name in ("api_id", "api_token"):
                value = "***"
            elif name == "warehouse_url" and value:
                # imported here: the warehouse package imports this module
                from aircall_assets.warehouse.url import mask

                value = mask(value)
            yield name, value

    def get_client(self) -> AircallClient:
        """A fresh client (own stats) on its company's shared budget."""
        client = AircallClient(
            api_id=self.api_id,
            api_token=self.api_token,
            base_url=self.base_url,
            requests_per_minute=self.requests_per_minute,
            rate_window_seconds=self.rate_window_seconds,
            max_rate_limit_wait=self.max_rate_limit_wait_seconds,
            max_attempts=self.max_attempts,
            read_timeout=self.read_timeout,
            backoff_seconds=self.backoff_seconds,
            warehouse_url=self.warehouse_url,
        )
        self._clients.append(client)
        return client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
