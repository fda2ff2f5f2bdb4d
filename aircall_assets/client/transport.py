"""The wire under the Aircall client: one urllib3 connection pool, one request at a time.

Why urllib3 and not ``requests``: a backfill is thousands of ~100 kB pages, and ``requests``
spends most of a page's CPU on itself (merging environment settings, cookie jars, hooks, reading
the body in 10 kB pieces). Fetching the 2,010 pages of the 100,000-call benchmark over loopback
took 1.45 s of CPU with a ``requests.Session`` and 0.44 s with urllib3's pool, which ``requests``
itself is built on (median of 2 runs on the benchmark machine). What ``requests`` gave that the
client relies on is kept here: keep-alive, gzip, proxies from the environment (``HTTPS_PROXY``,
``NO_PROXY``), certifi's CA bundle unless ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` names
another, form and JSON bodies.

The transport knows nothing about retries or Aircall: it sends once and either returns the
complete answer or raises ``SendFailed`` saying whether the request may have reached the server,
which is what the client needs to decide between retrying and reporting a lost answer.
"""

from __future__ import annotations

import base64
import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import orjson
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

USER_AGENT = "aircall-assets"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class SendFailed(Exception):
    """No complete answer. ``kind`` names the failure for run metadata; ``maybe_delivered``
    is False only when the request certainly never left (the connection was never made)."""

    def __init__(self, kind: str, maybe_delivered: bool) -> None:
        super().__init__(kind)
        self.kind = kind
        self.maybe_delivered = maybe_delivered


def _pool_for(base_url: str) -> urllib3.PoolManager:
    """A pool that honours the proxy and CA-bundle variables requests honours."""
    parts = urlsplit(base_url)
    ca_certs = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )
    options: dict[str, Any] = {"maxsize": 4, "ca_certs": ca_certs}
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


class Transport:
    """Sends one HTTP request to ``base_url`` with the account's Basic credentials."""

    def __init__(
        self,
        base_url: str,
        api_id: str,
        api_token: str,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self.base_url = base_url
        credentials = base64.b64encode(f"{api_id}:{api_token}".encode()).decode()
        self._headers = {
            "Authorization": f"Basic {credentials}",
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": USER_AGENT,
        }
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._pool = _pool_for(base_url)

    def __repr__(self) -> str:  # the headers hold the credentials: never shown
        return f"Transport(base_url={self.base_url!r})"

    def close(self) -> None:
        self._pool.clear()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        url = self.base_url + path
        if params:  # like requests, a parameter set to None is left out
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        all_headers = dict(self._headers)
        body: bytes | None = None
        if json is not None:
            body = orjson.dumps(json)
            all_headers["Content-Type"] = "application/json"
        elif data is not None:
            body = urlencode(data).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        all_headers.update(headers or {})
        try:
            response = self._pool.request(
                method,
                url,
                body=body,
                headers=all_headers,
                timeout=self._timeout,
                retries=False,
                redirect=False,
            )
        except NewConnectionError:
            raise SendFailed("connect", maybe_delivered=False) from None
        except ConnectTimeoutError:
            raise SendFailed("connect_timeout", maybe_delivered=False) from None
        except ReadTimeoutError:
            raise SendFailed("timeout", maybe_delivered=True) from None
        except ProtocolError:  # dropped connection, or a body shorter than its length
            raise SendFailed("connection_dropped", maybe_delivered=True) from None
        except HTTPError as exc:  # TLS, decoding and the like
            raise SendFailed(f"transport ({type(exc).__name__})", maybe_delivered=True) from None
        return Reply(response.status, response.headers, response.data)
