"""A loopback HTTP endpoint that records what the sync sends (bodies, headers, content types).

The simulator implements Aircall's real routes; batches and form bodies go to endpoints Aircall
does not document, so the tests check the wire format against this recorder instead.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)
    status: int = 200
    answer: dict | None = None  # the body of every answer; default: {"ok": true, "n": count}
    drop_next: int = 0  # this many requests are read, then the connection closes unanswered
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Recorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.received.append(
                    Received(self.command, self.path, dict(self.headers.items()), body)
                )
                if recorder.drop_next > 0:
                    recorder.drop_next -= 1
                    self.close_connection = True
                    return
                body = recorder.answer or {"ok": True, "n": len(recorder.received)}
                answer = json.dumps(body).encode()
                self.send_response(recorder.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class FakeSim:
    """What the test helpers need of a simulator: credentials and a base URL."""

    def __init__(self, recorder: Recorder) -> None:
        self.base_url = recorder.base_url
        self.config = type("C", (), {"api_id": "rec-id", "api_token": "rec-token"})()
