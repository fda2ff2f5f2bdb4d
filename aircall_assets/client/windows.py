"""Reading every record dated in a window ``[start, end)``, each once, past the 10,000 cap.

A window is asked for with the resource's own ``from``/``to`` semantics (the catalog's
``WindowBounds``: calls' ``from`` is exclusive, contacts' inclusive; ISO-dated resources are
asked up to ``end`` itself and what comes back dated at ``end`` is dropped), so that windows
side by side neither miss nor repeat a record. A window whose ``meta.total`` is over the
positional cap (``pages.py``) is split into equal spans of time, sized from that total, and
each part is read the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aircall_assets.catalog import Table
from aircall_assets.client.client import AircallClient
from aircall_assets.client.errors import AircallError, WindowChanged
from aircall_assets.client.pages import POSITIONAL_CAP, is_last, iter_pages
from aircall_assets.normalize import NormalizationError, epoch_micros

# Records aimed at per part when a window over the cap is split: half the cap, so that most
# parts fit even where calls bunch up (peak hours hold ~2.4x the day's average in the
# simulator); a part that does not is split again, for one more probe request.
SPLIT_TARGET = POSITIONAL_CAP // 2


@dataclass(frozen=True)
class WindowPage:
    """One page of records from one leaf window, with what the API said the window holds."""

    records: list[dict[str, Any]]
    window_start: int
    window_end: int
    window_total: int
    page: int  # the API's page number within the window, from 1
    last: bool  # no page of the window follows
    outside: int = 0  # records of the page dated outside the window, dropped


def window_params(table: Table, start: int, end: int) -> dict[str, int]:
    """API ``from``/``to`` covering the half-open window ``[start, end)`` in UNIX seconds."""
    bounds = table.bounds
    assert bounds is not None, f"{table.name} has no from/to filter"
    inclusive_end = end if bounds.fractional_seconds else end - 1
    to = inclusive_end if bounds.to_inclusive else end
    return {"from": start - 1 if bounds.from_exclusive else start, "to": to}


def iter_window(
    client: AircallClient,
    table: Table,
    start: int,
    end: int,
    *,
    from_page: int = 1,
    expect_total: int | None = None,
    seen: set[Any] | None = None,
    on_total: Callable[[int, int, int], None] | None = None,
) -> Iterator[WindowPage]:
    """Every record dated in ``[start, end)`` (UNIX seconds), page by page, each id once.

    A window whose ``meta.total`` exceeds the 10,000 cap is split into equal spans of time,
    as many as its total needs at ``SPLIT_TARGET`` records each (a part still over the cap
    is split again). Beyond the pages its records fill, a window costs the partly filled
    last page of each leaf window and the probe page of each split, so a caller should ask
    for the widest window it needs, not day by day: sparse days then share pages. Records
    the API returns outside the window (only possible at ``end`` for fractional-second
    resources) are dropped and discounted from the window's total.

    A leaf window read before up to ``from_page - 1`` resumes there, with the ids already
    read in ``seen``, if the API still reports its ``expect_total``: otherwise the pages
    may have shifted, and ``WindowChanged`` asks the caller to read it again whole.
    ``on_total(start, end, total)`` hears the total of every window read, split or not.
    """
    params = window_params(table, start, end)
    pages = iter_pages(client, table, params, first_page=from_page)
    records, meta = next(pages)
    total = int(meta.get("total") or 0)
    if on_total is not None:
        on_total(start, end, total)
    if expect_total is not None and total != expect_total:
        pages.close()
        raise WindowChanged(
            f"{table.name} [{start}, {end}): {total} records now, {expect_total} before"
        )
    if total > POSITIONAL_CAP:
        pages.close()
        if end - start <= 1:
            raise AircallError(
                f"{table.name}: {total} records in one second at {start}; the API cannot "
                "serve them past its 10,000 cap"
            )
        client.stats.windows_split += 1
        for part_start, part_end in split_window(start, end, total):
            yield from iter_window(client, table, part_start, part_end, on_total=on_total)
        return
    window = _WindowFilter(table, start, end, seen)
    page = from_page
    while True:
        outside = window.outside
        kept = window.keep(records)
        last = is_last(records, meta)
        outside = window.outside - outside
        client.stats.outside_window += outside
        yield WindowPage(kept, start, end, total, page, last, outside)
        if last:
            break
        records, meta = next(pages)
        page += 1
    pages.close()


def split_window(start: int, end: int, total: int) -> list[tuple[int, int]]:
    """``[start, end)`` (UNIX seconds) cut into equal spans for ``total`` records over the cap:
    as many as ``SPLIT_TARGET`` records each need, none shorter than a second."""
    parts = min(end - start, -(-total // SPLIT_TARGET))
    bounds = [start + (end - start) * i // parts for i in range(parts + 1)]
    return list(itertools.pairwise(bounds))


class _WindowFilter:
    """Keeps each record of one window once, and only if dated inside ``[start, end)``."""

    def __init__(self, table: Table, start: int, end: int, seen: set[Any] | None = None) -> None:
        self.table = table
        self.key = table.primary_key
        self.date_field = table.date_field
        self.start_us = start * 1_000_000
        self.end_us = end * 1_000_000
        self.seen: set[Any] = set() if seen is None else seen
        self.outside = 0

    def keep(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for record in records:
            rid = record.get(self.key)
            if rid in self.seen:
                continue
            self.seen.add(rid)
            value = record.get(self.date_field)
            try:
                stamp = epoch_micros(value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise NormalizationError(
                    f"{self.table.name}.{self.date_field}: value "
                    f"{repr(value)[:80]} of record id={rid} cannot be "
                    f"stored as {self.table.field(self.date_field).warehouse_type} ({exc}). The "
                    "API sent a value of an unexpected type; nothing was written."
                ) from None
            if stamp is not None and not (self.start_us <= stamp < self.end_us):
                self.outside += 1
                continue
            kept.append(record)
        return kept
