"""A loopback proxy in front of the simulator that bends its answers.

The simulator is faithful; some bad days need a broken middlebox instead: a gateway that lets a
create through to Aircall and still answers 502, an API release that adds, drops or retypes
fields, a maintenance page served with status 200. ``Proxy(upstream, rule)`` forwards every
request unchanged and hands the upstream answer to ``rule(exchange)``, which may change the
status, the headers or the body. Requests and their bodies reach the simulator as sent, so
writes are applied exactly as the client asked.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
MAINTENANCE_HTML = (
    b"<!DOCTYPE html><html><head><title>Aircall - Maintenance</title></head>"
    b"<body><h1>We'll be back soon</h1></body></html>"
)
GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    b"Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class Exchange:
    method: str
    path: str  # with the query string
    request_body: bytes
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    def json(self) -> Any:
        return orjson.loads(self.body)

    def set_json(self, value: Any) -> None:
        self.body = orjson.dumps(value)
        self.headers["Content-Type"] = "application/json; charset=utf-8"


Rule = Callable[[Exchange], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        upstream = HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            exchange = Exchange(
                self.command,
                self.path,
                body,
                answer.status,
                {k: v for k, v in answer.getheaders() if k.lower() not in HOP_HEADERS},
                payload,
            )
        except OSError:
            self.close_connection = True  # the simulator dropped it: drop it too
            return
        finally:
            upstream.close()
        self.server.rule(exchange)
        self.server.count(exchange)
        lines = [f"HTTP/1.1 {exchange.status} {HTTPStatus(exchange.status).phrase}"]
        lines += [f"{k}: {v}" for k, v in exchange.headers.items()]
        if exchange.status != 204:
            lines.append(f"Content-Length: {len(exchange.body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (exchange.body if exchange.status != 204 else b""))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str, rule: Rule) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.rule = rule
        self.requests = 0
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def count(self, exchange: Exchange) -> None:
        with self._lock:
            self.requests += 1


class Proxy:
    """``with Proxy(sim.base_url, rule) as proxy: ... proxy.base_url ...``"""

    def __init__(self, upstream: str, rule: Rule) -> None:
        self._server = _Server(upstream, rule)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> int:
        return self._server.requests

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@dataclass
class GatewayErrorAfterApply:
    """Creates reach Aircall, then the gateway answers 502: the create happened.

    Decided per request like the simulator's faults (seeded, never twice in a row for the same
    request), so a client that looks before re-sending converges without duplicates.
    """

    rate: float
    seed: int = 1
    routes: tuple[str, ...] = ("/v1/contacts", "/v2/users")
    injected: int = 0
    _attempts: dict[str, int] = field(default_factory=dict)
    _last: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, exchange: Exchange) -> None:
        if exchange.method != "POST" or exchange.route not in self.routes:
            return
        if not 200 <= exchange.status < 300:
            return
        signature = hashlib.sha256(exchange.path.encode() + exchange.request_body).hexdigest()
        with self._lock:
            attempt = self._attempts.get(signature, 0)
            self._attempts[signature] = attempt + 1
            if signature in self._last:
                self._last.discard(signature)
                return
            if random.Random(f"{self.seed}:{signature}:{attempt}").random() >= self.rate:
                return
            self._last.add(signature)
            self.injected += 1
        exchange.status = 502
        exchange.headers = {"Content-Type": "text/html"}
        exchange.body = GATEWAY_HTML


def on_records(route: str, change: Callable[[dict[str, Any]], None]) -> Rule:
    """Apply ``change`` to every record of the list answers of ``route``."""

    def rule(exchange: Exchange) -> None:
        if exchange.method != "GET" or exchange.route != route or exchange.status != 200:
            return
        body = exchange.json()
        key = route.rsplit("/", 1)[-1]
        for record in body.get(key) or []:
            change(record)
        exchange.set_json(body)

    return rule


def html_instead_of_json(route: str) -> Rule:
    """A maintenance page with status 200 where JSON was expected."""

    def rule(exchange: Exchange) -> None:
        if exchange.route == route:
            exchange.status = 200
            exchange.headers = {"Content-Type": "text/html; charset=utf-8"}
            exchange.body = MAINTENANCE_HTML

    return rule
