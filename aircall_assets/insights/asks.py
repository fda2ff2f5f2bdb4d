"""Which calls of a range to ask for one conversation-intelligence result, and asking them.

Each result costs one request per call from the company's shared budget, so a call is asked
only when it may have a result that is not stored yet:

* a result already stored is not asked again: Aircall generates it once, after the call, and
  never changes it;
* a call still in progress (no ``ended_at``) is skipped: results appear after it ends;
* a call nobody answered and without a voicemail had no conversation: there is nothing to
  transcribe or analyse (decided only when the calls table holds ``answered_at`` and
  ``voicemail``);
* a 404 (no result, or not yet: results appear minutes after the call) is no error; the call
  is asked again by a later run of its day, unless it had ended ``RESULT_DELAY`` before an
  earlier run of that day asked it: its result would have been there (the daily run's lookback
  days would otherwise ask every call without a result again, each day; run config
  ``ask_again`` asks them anyway).

A 403 means the company lacks Aircall's AI package when the credentials themselves work (one
``/v1/ping`` tells which, after the 403 only): the run fails saying to turn the setting off or
buy the add-on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from aircall_assets.catalog import Table
from aircall_assets.client.client import AircallClient
from aircall_assets.client.errors import AircallAuthError, AircallError

PROGRESS_SECONDS = 30.0  # at most one progress line per this many seconds of asking
# Aircall generates results seconds to minutes after a call ends; a call that had ended this
# long before a run asked it and got no result has none to come.
RESULT_DELAY = timedelta(hours=6)


class InsightsNotIncluded(AircallError):
    """Aircall refused a result with valid credentials: the company lacks the AI package."""


@dataclass(frozen=True)
class StoredCall:
    """A call of the range as the calls table holds it."""

    id: int
    started_at: datetime
    ended_at: datetime | None
    had_conversation: bool  # answered or voicemail (True when the table cannot tell)

    @property
    def day(self) -> date:
        """The UTC day of the call: its partition."""
        return self.started_at.astimezone(timezone.utc).date()


@dataclass
class AskFigures:
    """What a run asked, reported in its metadata."""

    calls_in_range: int = 0
    calls_skipped_already_stored: int = 0
    calls_skipped_in_progress: int = 0
    calls_skipped_no_conversation: int = 0
    calls_skipped_asked_before_without_result: int = 0
    calls_asked: int = 0
    calls_with_data: int = 0
    calls_without_data_404: int = 0

    def as_metadata(self) -> dict[str, int]:
        return dict(vars(self))


def calls_to_ask(
    calls: Iterable[StoredCall],
    stored: set[int],
    figures: AskFigures,
    last_asked: Mapping[date, datetime] | None = None,
) -> list[StoredCall]:
    """The calls that may have a result not stored yet, counting the others in ``figures``;
    ``last_asked``: when an earlier run last asked each day's calls (none: ask them all)."""
    last_asked = last_asked or {}
    chosen = []
    for call in calls:
        figures.calls_in_range += 1
        asked = last_asked.get(call.day)
        if call.id in stored:
            figures.calls_skipped_already_stored += 1
        elif call.ended_at is None:
            figures.calls_skipped_in_progress += 1
        elif not call.had_conversation:
            figures.calls_skipped_no_conversation += 1
        elif asked is not None and call.ended_at < asked - RESULT_DELAY:
            figures.calls_skipped_asked_before_without_result += 1
        else:
            chosen.append(call)
    return chosen


def ask(
    client: AircallClient,
    table: Table,
    setting: str,
    calls: list[StoredCall],
    figures: AskFigures,
    found: Callable[[StoredCall, dict[str, Any]], None],
    log: Callable[[str], None],
) -> None:
    """Ask each call for ``table``'s resource (``table.path``), handing each result found to
    ``found``; raises ``InsightsNotIncluded`` (or the credentials' error) on a 403."""
    last_log = time.monotonic()
    for done, call in enumerate(calls, start=1):
        path = table.path.format(call_id=call.id)
        try:
            body = client.get_optional(path)
        except AircallAuthError:
            client.ping()  # raises the credentials' own error if they are what is wrong
            raise InsightsNotIncluded(
                f"Aircall refused GET {path} (403) although the credentials work: the company "
                "does not have Aircall's AI package (conversation intelligence), a paid "
                f"add-on. Set conversation_intelligence.{setting} to false in the account's "
                "settings, or add the package to the Aircall plan."
            ) from None
        figures.calls_asked += 1
        result = None if body is None else body.get(table.list_key)
        if result is None:
            figures.calls_without_data_404 += 1
        else:
            figures.calls_with_data += 1
            found(call, result)
        if time.monotonic() - last_log >= PROGRESS_SECONDS:
            last_log = time.monotonic()
            log(
                f"{setting}: {done:,}/{len(calls):,} calls asked, "
                f"{figures.calls_with_data:,} with a result"
            )
