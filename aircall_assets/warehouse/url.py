"""``AIRCALL_WAREHOUSE_URL``: which warehouse the data lands in, and its password kept out of sight.

Unset (or empty): the DuckDB file at ``AIRCALL_DUCKDB_PATH``, as before the URL existed.
``postgresql://`` or ``postgres://``: that PostgreSQL database. Any other scheme is refused
when the definitions load, naming the accepted ones. The URL may hold a password: every text
the project shows about it (errors, reprs, logs) goes through ``mask``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

WAREHOUSE_URL_ENV = "AIRCALL_WAREHOUSE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")
MASK = "***"
# user:password@ in the authority, and password=... in the query string (libpq accepts both)
_AUTHORITY_PASSWORD = re.compile(r"(?<=://)([^/?#@:]*):([^/?#@]*)@")
_QUERY_PASSWORD = re.compile(r"(?i)(?<=[?&]password=)[^&#]*")


class WarehouseURLError(ValueError):
    """``AIRCALL_WAREHOUSE_URL`` names no warehouse the project can write to."""


def check_url(url: str) -> str:
    """``url`` if it is a PostgreSQL URL; else an error naming the accepted schemes (the URL
    itself is not repeated: what follows the scheme may be a password)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme.lower() not in POSTGRES_SCHEMES:
        shown = f"scheme '{scheme}'" if scheme else "no scheme"
        raise WarehouseURLError(
            f"{WAREHOUSE_URL_ENV} has {shown}; accepted: "
            + ", ".join(f"{s}://user:password@host:port/database" for s in POSTGRES_SCHEMES)
            + " (PostgreSQL), or leave it unset for DuckDB at AIRCALL_DUCKDB_PATH"
        )
    return url


def mask(url: str) -> str:
    """The URL with its password replaced by ``***`` (wherever libpq would read one)."""
    text = _AUTHORITY_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", url)
    return _QUERY_PASSWORD.sub(MASK, text)


def password_of(url: str) -> str | None:
    """The URL's password, to scrub it from texts that others wrote (a driver's errors)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    query = _QUERY_PASSWORD.search(url)
    return password or (query.group(0) if query else None)


def scrub(text: str, url: str) -> str:
    """``text`` without the URL's password (as written, or decoded), nor the URL in the clear."""
    text = text.replace(url, mask(url))
    password = password_of(url)
    if password:
        for form in {password, unquote(password)}:
            text = text.replace(form, MASK)
    return text
