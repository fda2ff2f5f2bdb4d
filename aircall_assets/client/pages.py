"""Reading a list page by page, and the positional cap that bounds how far one list goes.

Every Aircall list answers ``{"<list key>": [...], "meta": {..., "next_page_link"}}``; the last
page has no ``next_page_link`` (``webhooks`` has no such key at all). Whatever the filters,
a request for a page past ``page * per_page = 10,000`` is refused with a 400, so a list longer
than the cap can only be read as narrower ``from``/``to`` windows (``windows.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aircall_assets.catalog import Table
from aircall_assets.client.client import AircallClient
from aircall_assets.client.errors import AircallError

PER_PAGE = 50  # the API's largest page
POSITIONAL_CAP = 10_000
MAX_PAGE = POSITIONAL_CAP // PER_PAGE


def is_last(records: list[Any], meta: dict[str, Any]) -> bool:
    return not meta.get("next_page_link") or not records


def get_object(client: AircallClient, table: Table) -> dict[str, Any]:
    """A single-object resource (company)."""
    body = client.get(table.path)
    return body[table.list_key]


def iter_pages(
    client: AircallClient,
    table: Table,
    params: dict[str, Any] | None = None,
    first_page: int = 1,
) -> Iterator[tuple[list[dict], dict]]:
    """Yield (records, meta) page by page from ``first_page`` until ``next_page_link`` is null.

    Never asks for a page past the positional cap: if a list grows past 10,000 records while
    being read, it stops with an error instead of silently truncating.
    """
    query = {"per_page": PER_PAGE, "order": "asc", **(params or {})}
    page = first_page
    while True:
        body = client.get(table.path, {**query, "page": page})
        records = body.get(table.list_key)
        meta = body.get("meta") or {}
        if not isinstance(records, list):
            raise AircallError(
                f"GET {table.path}: the answer has no '{table.list_key}' list "
                f"(keys: {sorted(body) if isinstance(body, dict) else type(body).__name__})"
            )
        yield records, meta
        if is_last(records, meta):
            return
        if page >= MAX_PAGE:
            raise AircallError(
                f"GET {table.path} {params}: more than {POSITIONAL_CAP} records in one "
                "window; narrower windows are needed"
            )
        page += 1


def iter_all(client: AircallClient, table: Table) -> Iterator[list[dict[str, Any]]]:
    """Every record of an unfiltered list (full-replication tables), page by page."""
    for records, _meta in iter_pages(client, table):
        yield records
