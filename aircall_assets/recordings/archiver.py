"""One call's recording or voicemail: kept as archived, downloaded, or a row saying why not.

What is archived is known from the table itself: a row with ``bytes`` and ``sha256`` whose file
is still at its ``uri`` with that size is not downloaded again. Only the size is compared, not
the hash: hashing would read every file of the range back on every run (the lookback re-reads
days already archived), and a file is written only whole and under its hash, so a size that
still matches means the file was not cut or replaced by another download. A file that is gone
or has another size is downloaded again while the call has a link.

An expired link (403) is refreshed once through the API (``GET /v1/calls/{id}`` answers the
call with fresh links) and tried again; any other refusal, or a failed refresh, is an error row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from aircall_assets.recordings.archive import Archive
from aircall_assets.recordings.fetch import AudioFetcher, FetchFailed, LinkRefused

EXPIRED = 403


class Status(Enum):
    ARCHIVED = "archived"  # downloaded by this run
    SKIPPED = "skipped"  # already archived: the previous row kept
    FAILED = "failed"  # an error row


@dataclass(frozen=True)
class Item:
    """A call's audio of one kind in the run's range, with the row the last run left."""

    call_id: int
    kind: str
    started_at: datetime
    url: str | None  # None: the call no longer links one, but an earlier run archived it
    previous: dict[str, Any] | None


@dataclass(frozen=True)
class Outcome:
    row: dict[str, Any]
    status: Status
    refreshed: bool = False  # the link was expired and a fresh one was asked for
    bytes_downloaded: int = 0


# (call id, kind) → a fresh link, None when the call has none; FetchFailed when it cannot be had
Refresh = Callable[[int, str], str | None]


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _row(item: Item, **values: Any) -> dict[str, Any]:
    row = {
        "call_id": item.call_id,
        "kind": item.kind,
        "uri": None,
        "bytes": None,
        "sha256": None,
        "archived_at": None,
        "error": None,
        "call_started_at": _iso(item.started_at),
    }
    row.update(values)
    return row


class Archiver:
    """Archives items into one archive, under one account's schema."""

    def __init__(
        self, archive: Archive, schema: str, fetcher: AudioFetcher, refresh: Refresh
    ) -> None:
        self._archive = archive
        self._schema = schema
        self._fetcher = fetcher
        self._refresh = refresh

    def _already_archived(self, item: Item, uri: str | None) -> bool:
        """Whether the previous row's file is whole where it says (and, when the call still
        has a link, where this archive puts it: a changed archive URL archives anew)."""
        previous = item.previous
        if not previous or previous["sha256"] is None or previous["bytes"] is None:
            return False
        if uri is not None and previous["uri"] != uri:
            return False
        return self._archive.size(previous["uri"]) == previous["bytes"]

    def process(self, item: Item) -> Outcome:
        uri = (
            None
            if item.url is None
            else self._archive.uri(self._schema, item.started_at, item.call_id, item.kind)
        )
        if self._already_archived(item, uri):
            kept = dict(item.previous or {}, call_started_at=_iso(item.started_at))
            return Outcome(_row(item, **kept), Status.SKIPPED)
        if item.url is None or uri is None:
            error = "the archived file is gone and Aircall no longer links this audio"
            return Outcome(_row(item, error=error), Status.FAILED)
        refreshed = False
        url = item.url
        try:
            try:
                stored = self._fetcher.archive(url, self._archive, uri)
            except LinkRefused as refused:
                if refused.status != EXPIRED:
                    raise
                refreshed = True
                fresh = self._refresh(item.call_id, item.kind)
                if fresh is None:
                    raise FetchFailed(
                        f"{refused}; the call no longer has a {item.kind} in Aircall"
                    ) from None
                try:
                    stored = self._fetcher.archive(fresh, self._archive, uri)
                except FetchFailed as again:
                    raise FetchFailed(f"{again} (with a refreshed link)") from None
        except FetchFailed as failed:
            return Outcome(_row(item, error=str(failed)), Status.FAILED, refreshed)
        except OSError as exc:  # the archive's storage, not the link
            error = f"writing the archive failed: {type(exc).__name__}: {exc}"
            return Outcome(_row(item, error=error), Status.FAILED, refreshed)
        row = _row(
            item,
            uri=uri,
            bytes=stored.bytes,
            sha256=stored.sha256,
            archived_at=_iso(datetime.now(timezone.utc)),
        )
        return Outcome(row, Status.ARCHIVED, refreshed, stored.bytes)
