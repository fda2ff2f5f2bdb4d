"""``AircallClient``: one logical request, paced, sent, and tried again until it settles.

An attempt takes a slot of the company's shared budget (``budget.py``), goes out once over the
transport (``transport.py``), and ends one of three ways: a 429, waited out through the budget
and not counted as an attempt (``rate_limit.py``); a result or a final error; or a transient
failure (``replies.py`` says which is which). Transient failures are retried with exponential
backoff and jitter, up to ``max_attempts``. Reading lists and windows on top of requests is
``pages.py`` and ``windows.py``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from aircall_assets.budget import RequestBudget, budget_for_company
from aircall_assets.client.base_url import DEFAULT_BASE_URL, validate_base_url
from aircall_assets.client.errors import (
    CREDENTIAL_HELP,
    AircallAPIError,
    AircallAuthError,
    AircallUnavailable,
)
from aircall_assets.client.rate_limit import DEFAULT_MAX_RATE_LIMIT_WAIT, RateLimitWaits
from aircall_assets.client.replies import Retryable, failed_send, read_reply
from aircall_assets.client.stats import ClientStats
from aircall_assets.client.transport import SendFailed, Transport

MAX_BACKOFF_SECONDS = 30.0


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
        self.stats = ClientStats()
        self._rate_limit = RateLimitWaits(self.budget, max_rate_limit_wait, self.stats)

    def __repr__(self) -> str:
        return f"AircallClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._transport.close()

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

        ``idempotent`` defaults to the method's meaning (GET, PUT, DELETE, HEAD): a request that
        is not may raise ``AircallResponseLost`` instead of being re-sent.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "DELETE", "HEAD")
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
                last = failed_send(failed, where, idempotent)
            else:
                if reply.status == 429:
                    self._rate_limit.refused(where, reply.headers)
                    attempt -= 1  # a 429 is pacing, not a failed attempt
                    continue
                self._rate_limit.answered()
                try:
                    return read_reply(reply, where, idempotent)
                except Retryable as retry:
                    last = retry.kind
            self.stats.transient_errors[last] += 1
            if attempt < self.max_attempts:
                self.stats.retries += 1
                time.sleep(self._backoff(attempt))
        raise AircallUnavailable(
            f"{where} ({self.base_url + path}) still failing after {self.max_attempts} "
            f"attempts; last error: {last}. Aircall may be down; the run can be retried safely."
        )

    def _backoff(self, attempt: int) -> float:
        """Seconds before the attempt after ``attempt``: doubling from ``backoff_seconds``, a
        random point of its upper half (clients failing together spread out), at most
        ``MAX_BACKOFF_SECONDS``."""
        delay = self.backoff_seconds * 2 ** (attempt - 1)
        return (
            random.uniform(delay / 2, delay) if delay < MAX_BACKOFF_SECONDS else MAX_BACKOFF_SECONDS
        )

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)[1]

    def get_optional(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """``get`` of an object that may not exist, or None when Aircall answers 404: a call's
        transcription, sentiments, topics or summary, which most calls do not have (yet).
        Everything else is as for ``get``: paced, 429s and transient failures retried."""
        try:
            return self.get(path, params)
        except AircallAPIError as exc:
            if exc.status == 404:
                return None
            raise

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
