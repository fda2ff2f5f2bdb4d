"""How an extract run reads: its windows, resumed from the spool, with progress in the run's log.

A run range is read as few API windows as the client allows (``windows.iter_window``) and every
page goes to the spool before it counts as read. A spool left by an earlier attempt of the same
range (killed, evicted, out of memory) is resumed: the windows it holds whole are not read
again, and its window in progress continues at its next page if the API still reports the same
total there, so a rerun re-requests only what the first attempt had not kept.

It reports in the run's log (``progress.py``) at least every 30 seconds and whenever a window
is split: pages and records done, the API's total, the request rate, the time spent waiting for
the budget and an estimated time left at the budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aircall_assets.catalog import Table
from aircall_assets.client.client import AircallClient
from aircall_assets.client.errors import WindowChanged
from aircall_assets.client.pages import PER_PAGE, get_object, iter_pages
from aircall_assets.client.windows import WindowPage, iter_window
from aircall_assets.progress import Ticker, pace
from aircall_assets.read_ahead import read_ahead
from aircall_assets.spool import Spool


@dataclass
class Progress:
    """Counts a read's records against what the API said its windows hold, and reports."""

    log: Callable[[str], None]
    name: str
    client: AircallClient
    records: int = 0  # spooled, by this attempt or an earlier one
    pages: int = 0
    expected: int = 0  # records: spooled before + the totals of the windows read since
    _pending: dict[tuple[int, int], int] = field(default_factory=dict)  # window -> known part
    splits: int = 0
    started: float = field(default_factory=time.monotonic)
    ticker: Ticker = field(default_factory=Ticker)

    def reading(self, start: int, end: int, spooled: int = 0) -> None:
        """A window is about to be read, ``spooled`` of its records already kept."""
        self._pending[(start, end)] = spooled

    def window_total(self, start: int, end: int, total: int) -> None:
        spooled = self._pending.pop((start, end), None)
        if spooled is not None:
            self.expected += max(total - spooled, 0)

    def page(self, records: int) -> None:
        self.pages += 1
        self.records += records
        split = self.client.stats.windows_split > self.splits
        self.splits = self.client.stats.windows_split
        if self.ticker.due() or split:
            self.report("window split: " if split else "")

    def report(self, prefix: str = "") -> None:
        self.log(prefix + self.line())

    def line(self) -> str:
        total = self.expected if not self._pending else None  # None: a window not begun
        done = f"{self.name}: {self.pages:,} pages, {self.records:,}"
        if not total:
            return ", ".join([done + " records", *pace(self.client, self.started, 0, 0)[:2]])
        done += f" of {total:,} records ({min(self.records / total, 1):.0%})"
        left = math.ceil(max(total - self.records, 0) / PER_PAGE)
        return ", ".join([done, *pace(self.client, self.started, left, self.pages)])


def _resumed_windows(
    client: AircallClient,
    table: Table,
    spool: Spool,
    windows: list[tuple[int, int]],
    progress: Progress,
) -> Iterator[WindowPage]:
    """Pages of ``windows`` (contiguous, ascending) that the spool does not hold yet."""
    done = spool.manifest.done_until
    remaining = [
        (max(start, done) if done is not None else start, end)
        for start, end in windows
        if done is None or end > done
    ]
    leaf = spool.manifest.leaf
    if leaf is not None and remaining and remaining[0][0] == leaf.start:
        progress.reading(leaf.start, leaf.end, spooled=leaf.pages * PER_PAGE)
        try:
            yield from iter_window(
                client,
                table,
                leaf.start,
                leaf.end,
                from_page=leaf.pages + 1,
                expect_total=leaf.total,
                seen=spool.leaf_ids(table.primary_key),
                on_total=progress.window_total,
            )
        except WindowChanged:
            spool.drop_leaf()
            progress.records = spool.manifest.rows
            progress.reading(leaf.start, leaf.end)
            yield from iter_window(
                client, table, leaf.start, leaf.end, on_total=progress.window_total
            )
        remaining[0] = (leaf.end, remaining[0][1])
    remaining = [(start, end) for start, end in remaining if start < end]
    for start, end in remaining:
        progress.reading(start, end)
    for start, end in remaining:
        yield from iter_window(client, table, start, end, on_total=progress.window_total)


def read_windows(
    client: AircallClient,
    table: Table,
    windows: list[tuple[int, int]],
    spool: Spool,
    progress: Progress,
    check: Callable[[list[dict[str, Any]]], None],
) -> None:
    """Spool every record of ``windows``; ``check`` sees each page's records first."""
    progress.records = progress.expected = spool.manifest.rows
    paced = client.requests_per_minute > 0  # each page costs budget: keep it at once
    for page in read_ahead(_resumed_windows(client, table, spool, windows, progress)):
        check(page.records)
        spool.add_page(page, keep_now=paced)
        progress.page(len(page.records))
    spool.flush()
    progress.report("read done: ")


def read_full(
    client: AircallClient,
    table: Table,
    spool: Spool,
    progress: Progress,
    check: Callable[[list[dict[str, Any]]], None],
) -> int:
    """Spool every record of a full table (or its one object); the API's total."""
    if not table.paginated:
        records = [get_object(client, table)]
        check(records)
        spool.add_records(records)
        spool.flush()
        return 1
    total = None
    progress.reading(0, 0)
    for records, meta in read_ahead(iter_pages(client, table)):
        if total is None:
            total = int(meta.get("total") or len(records))
            progress.window_total(0, 0, total)
        check(records)
        spool.add_records(records)
        progress.page(len(records))
    spool.flush()
    return total or 0
