"""What stands in front of the API routes: admin endpoints, routing, auth, throttling, faults.

The order mirrors Aircall's edge: unknown route → 404 `{"message"}`; missing credentials →
401; wrong credentials → 403; then the rate limiter; then (in the simulator only) fault
injection; then the route itself. Every API request is counted in `Stats`.

Signed audio links (`/audio/...`) stand for the storage Aircall's links point at, not the API:
they skip auth, the rate limit and fault injection, and are counted apart (`Stats.audio`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .analytics_routes import analytics_routes
from .api import Api, Request, Response, app_error, edge_error, json_response, parse_query
from .audio import AUDIO_PREFIX, MPEG_TYPE, XML_TYPE, parse_path, s3_error
from .config import SimulatorConfig
from .faults import Fault, FaultInjector, RateLimiter
from .stats import Stats
from .store import Store

ADMIN_PREFIX = "/_simulator/"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1>"
    b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass
class Outcome:
    """How to answer: a response (None = close the socket without one), maybe cut short."""

    response: Response | None
    truncate: bool = False


class Gateway:
    """Turns (method, raw path, Authorization, body) into an `Outcome`."""

    def __init__(
        self, config: SimulatorConfig, store: Store, stats: Stats, base_url: Callable[[], str]
    ) -> None:
        self._config = config
        self._store = store
        self._stats = stats
        self._api = Api(store, base_url)
        self._api.add_routes(analytics_routes(config, store, self._api))
        self._limiter = RateLimiter(config.rpm, config.rate_window_seconds, config.reset_in_ms)
        self._faults = FaultInjector(config.seed, config.fault_rate, config.fault_kinds)

    def handle(self, method: str, raw_path: str, authorization: str | None, body: bytes) -> Outcome:
        target = urlsplit(raw_path)
        path = target.path.rstrip("/") or "/"
        if path.startswith(ADMIN_PREFIX):
            return Outcome(self._admin(method, path, target.query))
        if path.startswith(AUDIO_PREFIX):
            outcome = self._audio(method, path, target.query)
            self._stats.count_audio(outcome.response.status if outcome.response else 0)
            return outcome
        try:
            outcome = self._serve(method, path, target.query, raw_path, authorization, body)
        except Exception:  # a simulator bug must not kill the connection silently
            traceback.print_exc()
            outcome = Outcome(app_error(500, "Internal Server Error", "simulator error"))
        self._stats.record(method, path, outcome.response.status if outcome.response else 0)
        return outcome

    def _admin(self, method: str, path: str, query: str) -> Response:
        """Unauthenticated helpers for tests that run the simulator out of process."""
        if (method, path) == ("GET", "/_simulator/stats"):
            with_log = dict(parse_query(query)).get("log") in ("1", "true")
            return json_response(200, self._stats.as_json(with_log))
        if (method, path) == ("POST", "/_simulator/reset-stats"):
            self._stats.reset()
            return json_response(200, {"ok": True})
        if (method, path) == ("POST", "/_simulator/exhaust-budget"):
            seconds = float(dict(parse_query(query)).get("seconds", "60"))
            self._limiter.exhaust(self._config.api_id, seconds)
            return json_response(200, {"ok": True})
        if (method, path) == ("GET", "/_simulator/contacts"):
            return json_response(200, {"contacts": self._store.all("contacts")})
        return edge_error(404, "Not Found")

    def _audio(self, method: str, path: str, query: str) -> Outcome:
        """A signed link followed: the file, or S3's XML refusal; Authorization is ignored."""
        target = parse_path(path)
        if method != "GET" or target is None:
            return Outcome(_xml(404, "NoSuchKey", "The specified key does not exist."))
        refusal = self._store.audio_links.refusal(path, query, self._store.now())
        if refusal is not None:
            return Outcome(_xml(403, *refusal))
        kind, call_id = target
        audio = self._store.audio(call_id, kind)
        if audio is None:
            return Outcome(_xml(404, "NoSuchKey", "The specified key does not exist."))
        if call_id in self._config.audio_fail_call_ids:
            return Outcome(_xml(500, "InternalError", "We encountered an internal error."))
        response = Response(200, audio, content_type=MPEG_TYPE)
        return Outcome(response, truncate=call_id in self._config.audio_truncate_call_ids)

    def _credential(self, authorization: str | None) -> str | Response:
        """The rate-limit key (the company's API id) or the 401/403 response."""
        if not authorization:
            return edge_error(401, "Unauthorized")
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return edge_error(403, "Forbidden")
            if hmac.compare_digest(
                decoded.encode(), f"{self._config.api_id}:{self._config.api_token}".encode()
            ):
                return self._config.api_id
        elif scheme.lower() == "bearer" and hmac.compare_digest(
            value.encode(), self._config.api_token.encode()
        ):
            return self._config.api_id
        return edge_error(403, "Forbidden")

    def _too_many(self, reset_at: float) -> Response:
        return json_response(
            429,
            {
                "error": "Too Many Requests",
                "troubleshoot": "Rate limit exceeded; retry after "
                "the time given by the X-AircallApi-Reset header",
            },
            self._limiter.headers(reset_at) if self._config.rate_limit_headers else {},
        )

    def _serve(
        self,
        method: str,
        path: str,
        query: str,
        raw_path: str,
        authorization: str | None,
        body: bytes,
    ) -> Outcome:
        matched = self._api.match(method, path)
        if matched is None:
            return Outcome(edge_error(404, "Not Found"))
        credential = self._credential(authorization)
        if isinstance(credential, Response):
            return Outcome(credential)
        blocked_until = self._limiter.check(credential)
        if blocked_until is not None:
            self._stats.count_rate_limited()
            return Outcome(self._too_many(blocked_until))
        handler, record_id = matched
        request = Request(method, path, parse_query(query), body)
        fault = self._faults.decide(method, raw_path, body)
        if fault is None:
            return Outcome(self._api.call(handler, request, record_id))
        self._stats.count_fault(fault.kind)
        return self._inject(
            fault,
            credential,
            write=method in _WRITE_METHODS,
            answer=lambda: self._api.call(handler, request, record_id),
        )

    def _inject(
        self, fault: Fault, credential: str, *, write: bool, answer: Callable[[], Response]
    ) -> Outcome:
        if fault.kind == "5xx":
            return Outcome(self._server_error(fault))
        if fault.kind == "429":
            return Outcome(
                self._too_many(self._limiter.block(credential, self._config.fault_429_seconds))
            )
        if fault.kind == "drop":
            # Half of the dropped writes are applied first: the response is what gets lost.
            if write and fault.after_write:
                answer()
            return Outcome(None)
        if fault.kind == "slow":
            time.sleep(self._config.slow_seconds)
            return Outcome(answer())
        return Outcome(answer(), truncate=True)

    @staticmethod
    def _server_error(fault: Fault) -> Response:
        reason = _REASONS[fault.status]
        if fault.html:
            html = _BAD_GATEWAY_HTML.replace(b"{status}", f"{fault.status} {reason}".encode())
            return Response(fault.status, html, content_type="text/html")
        return app_error(fault.status, reason, "Temporary failure, retry later")


def _xml(status: int, code: str, message: str) -> Response:
    return Response(status, s3_error(code, message), content_type=XML_TYPE)
