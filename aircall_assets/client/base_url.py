"""Which base URLs the client accepts: the credentials travel in every request's header, so
they must not go in clear text over a network or sit in the URL itself."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://api.aircall.io"


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
