"""HTTP transport and lifecycle: a threading HTTP/1.1 server around the `Gateway`.

Keep-alive matters for benchmarks (a client must not pay a TCP handshake per page), so the
handler speaks HTTP/1.1 with an exact Content-Length, writes headers and body in one send
(no Nagle/delayed-ACK stall) and logs nothing per request. Faults that break the transport
(dropped connection, truncated body) are carried out here.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .config import SimulatorConfig
from .gateway import Gateway
from .stats import Stats
from .store import Store

_CHUNK = 256 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "aircall-simulator"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the per-request stderr line."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        outcome = self.server.gateway.handle(
            self.command, self.path, self.headers.get("Authorization"), body
        )
        response = outcome.response
        if response is None:  # injected drop: no status line, no bytes, just close
            self.close_connection = True
            return
        lines = [f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}"]
        if response.status != 204:
            lines.append(f"Content-Type: {response.content_type}")
            lines.append(f"Content-Length: {len(response.body)}")
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body_out = response.body
        if outcome.truncate:  # full Content-Length announced, only part of the body sent
            body_out = body_out[: len(body_out) // 2]
            self.close_connection = True
        # Large bodies (audio files) are streamed in chunks; a page goes out in one send.
        self.wfile.write(head + body_out[:_CHUNK])
        for start in range(_CHUNK, len(body_out), _CHUNK):
            self.wfile.write(body_out[start : start + _CHUNK])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    """Threading server that remembers open connections so `stop()` can close idle ones."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # parallel clients connecting at once must not hit SYN drops

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        self.gateway = gateway
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive sockets."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Simulator:
    """A local Aircall API: `with Simulator(config) as sim: requests.get(sim.base_url + ...)`."""

    def __init__(
        self, config: SimulatorConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        """`clock` is the account's "now" (retention, audio link expiry, AI result delays)."""
        self.config = config or SimulatorConfig()
        self.store = Store(self.config, clock, base_url=self._link_base)
        self.stats = Stats()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT` with the port actually bound (loopback if bound to all)."""
        host = self.config.host if self.config.host not in ("", "0.0.0.0") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    def _link_base(self) -> str:
        """Where signed audio links point: this server once started, else its configured
        address (ground truth read before `start`)."""
        if self._server is None:
            return f"http://{self.config.host}:{self.config.port}"
        return self.base_url

    def start(self) -> Simulator:
        if self._server is not None:
            return self
        gateway = Gateway(self.config, self.store, self.stats, lambda: self.base_url)
        self._server = _Server((self.config.host, self.config.port), gateway)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"aircall-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
