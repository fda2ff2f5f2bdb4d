"""Record: what one run learns about one destination's rows, kept in its state and responses.

Every row the run settles goes through here: an invalid row, a create refused before sending,
the ``sending`` intent of a request, an answer that was lost, and the outcome of a request
(``sent``, ``recovered``, ``rejected``, ``failed``, ``uncertain``). Each becomes the rows'
new state (the latest per row key wins) and one ``responses`` row per row of the request, held
in memory until ``commit`` writes them in one short transaction (``SyncStore.write``).

``send.py`` commits before every request leaves and before every look-up, so the outcome of one
request and the intent of the next go in one transaction: one per request instead of two, and
still nothing leaves for Aircall before everything learned so far is committed. A kill in
between loses only what a kill just after the answer would, which the next run looks up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aircall_assets.reverse_sync.payloads import RowPayload
from aircall_assets.reverse_sync.plan import Counts, OutgoingRequest
from aircall_assets.reverse_sync.state import ResponseRow, StateRow, SyncStore, now_utc, updated

SHOWN_INVALID = 5  # invalid rows logged one by one; the rest are counted (all are in responses)
KEPT_EXCHANGES = 20
OUTCOMES = ("sent", "recovered", "rejected", "failed", "uncertain")  # each a field of Counts

log = logging.getLogger(__name__)


@dataclass
class Exchange:
    """One request and its answer, as a test send shows it."""

    method: str
    path: str
    body: Any
    status: int | None
    outcome: str
    response: Any = None
    error: str | None = None


class Ledger:
    """One run's record of one destination (``destination``, its name) in the sync tables.

    ``state`` is the destination's state as the run read it, updated here as rows settle.
    ``record_state=False`` (a test send of an edited row) keeps the responses only: the edited
    row is not the source row, whose state must stay what it was.
    """

    def __init__(
        self,
        store: SyncStore,
        destination: str,
        state: dict[str, StateRow],
        counts: Counts,
        *,
        run_id: str | None,
        mode: str = "sync",
        record_state: bool = True,
        logger: Any = None,
    ) -> None:
        self.store = store
        self.destination = destination
        self.state = state
        self.counts = counts
        self.run_id = run_id
        self.mode = mode
        self.record_state = record_state
        self.log = logger or log
        self.exchanges: list[Exchange] = []
        self._unwritten_states: dict[str, StateRow] = {}  # by row key: the latest wins
        self._unwritten_responses: list[ResponseRow] = []

    @property
    def responses_written(self) -> int:
        return self.store.responses_written

    def invalid(self, items: Sequence[RowPayload]) -> None:
        """Rows that failed validation: recorded with the reason, not sent until they change."""
        if not items:
            return
        now = now_utc()
        responses = [
            ResponseRow(
                self.destination,
                i.key,
                self.run_id,
                None,
                self.mode,
                i.method,
                i.path,
                None,
                "invalid",
                error=i.error,
                attempted_at=now,
            )
            for i in items
        ]
        states = [
            updated(
                self._previous(i.key or ""),
                status="invalid",
                payload_hash=i.hash,
                last_error=i.error,
                updated_at=now,
            )
            for i in items
        ]
        self._keep(states, responses)
        for item in items[:SHOWN_INVALID]:
            self.log.warning(f"row {item.key}: not sent, {item.error}")
        if len(items) > SHOWN_INVALID:
            self.log.warning(
                f"... and {len(items) - SHOWN_INVALID} more invalid rows (see responses)"
            )

    def intent(self, request: OutgoingRequest, request_id: str) -> None:
        """The request's rows are being sent: what a run killed before the answer leaves."""
        now = now_utc()
        intents = []
        for item in request.items:
            previous = self._previous(item.key or "")
            intents.append(
                updated(
                    previous,
                    status="sending",
                    payload_hash=item.hash,
                    request_id=request_id,
                    attempts=previous.attempts + 1,
                    updated_at=now,
                )
            )
        self._keep(intents, ())

    def lost(self, request: OutgoingRequest, request_id: str, error: str, started: float) -> None:
        """An attempt whose answer was lost: its responses only, the rows stay ``sending``."""
        now = now_utc()
        duration = (time.monotonic() - started) * 1000
        self._keep(
            (),
            [
                ResponseRow(
                    self.destination,
                    i.key,
                    self.run_id,
                    request_id,
                    self.mode,
                    request.method,
                    request.path,
                    None,
                    "lost",
                    error=error,
                    rows_in_request=len(request.items),
                    duration_ms=duration,
                    attempted_at=now,
                )
                for i in request.items
            ],
        )
        self.log.warning(f"{request.method} {request.path}: {error}; checking Aircall")

    def outcome(
        self,
        request: OutgoingRequest,
        outcome: str,
        *,
        request_id: str | None,
        status: int | None = None,
        response: Any = None,
        error: str | None = None,
        aircall_id: str | None = None,
        started: float | None = None,
        applied_hash: str | None = None,
        count: bool = True,
    ) -> None:
        """The outcome of a request for each of its rows (state + responses).

        ``applied_hash``: the payload found applied in Aircall (a look-up after a killed run),
        recorded as sent instead of the row's current one. ``count=False`` for an outcome
        counted by the request that follows it (a found contact updated at once).
        """
        assert outcome in OUTCOMES, outcome
        now = now_utc()
        duration = None if started is None else (time.monotonic() - started) * 1000
        responses = []
        states = []
        for item in request.items:
            key = item.key or ""
            responses.append(
                ResponseRow(
                    self.destination,
                    key,
                    self.run_id,
                    request_id,
                    self.mode,
                    request.method,
                    request.path,
                    status,
                    outcome,
                    response,
                    error,
                    aircall_id,
                    len(request.items),
                    duration,
                    now,
                )
            )
            previous = self._previous(key)
            common = dict(request_id=request_id, http_status=status, updated_at=now)
            if outcome in ("sent", "recovered"):
                done = applied_hash or item.hash
                states.append(
                    updated(
                        previous,
                        status="sent",
                        payload_hash=done,
                        sent_hash=done,
                        aircall_id=aircall_id or previous.aircall_id,
                        last_error=None,
                        first_sent_at=previous.first_sent_at or now,
                        **common,
                    )
                )
            else:
                states.append(
                    updated(
                        previous, status=outcome, payload_hash=item.hash, last_error=error, **common
                    )
                )
        self._keep(states, responses)
        rows = len(request.items)
        if count:
            setattr(self.counts, outcome, getattr(self.counts, outcome) + rows)
        self.exchanges.append(
            Exchange(request.method, request.path, request.body, status, outcome, response, error)
        )
        del self.exchanges[:-KEPT_EXCHANGES]
        keys = ", ".join(request.keys[:3]) + ("..." if rows > 3 else "")
        line = f"{request.method} {request.path} [{keys}] -> {status or '-'} {outcome}"
        if outcome in ("sent", "recovered"):
            self.log.debug(line)
        else:
            self.log.warning(f"{line}: {error}")

    def commit(self) -> None:
        """Write what was recorded since the last commit, in one short transaction."""
        if not (self._unwritten_states or self._unwritten_responses):
            return
        states, responses = list(self._unwritten_states.values()), self._unwritten_responses
        self._unwritten_states, self._unwritten_responses = {}, []  # a failed write: not retried
        self.store.write(states, responses)

    def _previous(self, key: str) -> StateRow:
        return self.state.get(key) or StateRow(self.destination, key, "new")

    def _keep(self, states: Sequence[StateRow], responses: Sequence[ResponseRow]) -> None:
        """Take these rows as this run's truth now; ``commit`` writes them before the next
        request leaves."""
        if not self.record_state:
            states = ()
        self._unwritten_responses += responses
        for state in states:
            self._unwritten_states[state.row_key] = state
            self.state[state.row_key] = state
