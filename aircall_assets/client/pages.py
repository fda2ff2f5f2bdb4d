"""Reading a list page by page, and the positional cap that bounds how far one list goes.

Every Aircall list answers ``{"<list key>": [...], "meta": {count, total, current_page,
per_page, ...}}``. Most lists' meta also has ``next_page_link``, null on the last page; the
``webhooks`` meta has no link keys at all, so its last page is the one that reaches ``total``.
An empty page ends any list. Whatever the filters, a request for a page past
``page * per_page = 10,000`` is refused with a 400, so a list longer than the cap can only be
read as narrower ``from``/``to`` windows (``windows.py``).

A table's secret fields (a webhook's ``token``) are dropped from each record here, as the
page is read: nothing after this module (the spool, the warehouse, checks, logs) ever has them.
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
    """Whether no page follows this one: by its link where the meta has the key, else by
    whether this page reaches the total (a meta without the figures: a short page is last)."""
    if not records:
        return True
    if "next_page_link" in meta:
        return not meta["next_page_link"]
    try:
        reached = int(meta["current_page"]) * int(meta["per_page"])
        return reached >= int(meta["total"])
    except (KeyError, TypeError, ValueError):
        return len(records) < PER_PAGE


def without_secrets(table: Table, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` with the table's secret fields removed (in place: the page is ours)."""
    for name in table.secret_fields:
        for record in records:
            if isinstance(record, dict):
                record.pop(name, None)
    return records


def get_object(client: AircallClient, table: Table) -> dict[str, Any]:
    """A single-object resource (company)."""
    body = client.get(table.path)
    return without_secrets(table, [body[table.list_key]])[0]


def iter_pages(
    client: AircallClient,
    table: Table,
    params: dict[str, Any] | None = None,
    first_page: int = 1,
) -> Iterator[tuple[list[dict], dict]]:
    """Yield (records, meta) page by page from ``first_page`` until the last (``is_last``),
    secret fields dropped.

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
        yield without_secrets(table, records), meta
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
