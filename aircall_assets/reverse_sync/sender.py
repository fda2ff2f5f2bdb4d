"""The send loop: which rows go, in which requests, and what is recorded for each, exactly once.

Per request the order is fixed, and it is what makes a killed run safe to run again:

1. commit ``sending`` for its rows in ``aircall_sync.state`` (the intent);
2. send it through the shared client (rate budget, retries on transient errors);
3. commit the outcome: state ``sent``/``rejected``/``failed``/``uncertain`` plus one
   ``aircall_sync.responses`` row per row of the request.

Each commit is a short transaction of its own (``SyncStore.write``; on DuckDB the file is
attached for it and detached), so the warehouse is free for extracts while a request is in
flight or waits for the rate budget. Records wait in memory until the next request is about to
leave, and go in one transaction: the outcome of one request with the intent of the next, or
before a lookup, or at the end of the run. That is one transaction per request instead of two,
and still nothing leaves for Aircall before everything learned so far is committed: a kill in
between loses only what a kill just after the answer would, which the next run looks up.

A row found in ``sending`` (or ``uncertain``/``failed``) at the start of a run, and any create
whose answer is lost (``AircallResponseLost``), is first looked up in Aircall (contacts by phone
number, users by email, tags/teams by name) and sent again only if absent. Requests that are
safe to repeat (updates by id, PUT, PATCH, DELETE) are simply repeated. A POST the sync cannot
look up is never repeated on its own: it is reported ``uncertain`` until the user checks Aircall
and asks for ``resend_uncertain``.

Rows Aircall rejects (4xx) or that fail validation are recorded with the reason and not sent
again until they change. Transient failures and lost answers fail the run at the end, after
everything else was sent; an authentication error or Aircall being down for several requests
in a row stops the loop early (the rest waits for the next run).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import quote

import orjson

from aircall_assets.client import (
    AircallAPIError,
    AircallAuthError,
    AircallClient,
    AircallError,
    AircallResponseLost,
    AircallUnavailable,
)
from aircall_assets.progress import Ticker, pace
from aircall_assets.reverse_sync.destinations import Destination, classify_route
from aircall_assets.reverse_sync.lookup import Found, find_existing
from aircall_assets.reverse_sync.payloads import OutgoingRequest, RowPayload, make_requests
from aircall_assets.reverse_sync.state import ResponseRow, StateRow, SyncStore, now_utc, updated

LOST_RESENDS = 3  # a create whose answer is lost, looked up and absent, is sent again this often
STOP_AFTER_UNAVAILABLE = 3  # consecutive requests Aircall did not serve before giving up the run
UNCERTAIN_HELP = (
    "an earlier attempt may have been applied and Aircall offers no way to look this record "
    "up; check Aircall, then run with resend_uncertain: true to send it again"
)
PENDING = ("sending", "uncertain", "failed")

log = logging.getLogger(__name__)


@dataclass
class Counts:
    """Rows by what happened to them in this run (reported as run metadata)."""

    rows: int = 0
    sent: int = 0
    recovered: int = 0  # found already applied in Aircall (lost answer or killed run)
    unchanged: int = 0
    rejected: int = 0  # Aircall answered 4xx (or the sync refused, e.g. a user already created)
    rejected_before: int = 0  # rejected in an earlier run with the same payload: not re-sent
    invalid: int = 0  # failed the template's validation
    failed: int = 0  # no answer after retries, or credentials refused
    uncertain: int = 0  # may or may not have been applied; needs a human
    not_attempted: int = 0  # left for the next run after the loop stopped early
    duplicate_keys: int = 0  # later rows with a key already seen in this run: skipped
    requests: int = 0  # send requests (lookups and retries are in the client stats)

    @property
    def unsettled(self) -> int:
        """Rows that did not get a definitive answer: these fail the run."""
        return self.failed + self.uncertain + self.not_attempted

    def as_metadata(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def form_fields(body: dict[str, Any]) -> dict[str, str]:
    """A flat payload as form fields; nested values travel as JSON text."""
    out = {}
    for name, value in body.items():
        if value is None:
            continue
        if isinstance(value, (dict, list)):
            out[name] = orjson.dumps(value).decode()
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def created_id(body: Any) -> str | None:
    """The id in ``{"contact": {"id": ...}}``-style answers (or a bare ``{"id": ...}``)."""
    if not isinstance(body, dict):
        return None
    if body.get("id") is not None:
        return str(body["id"])
    for value in body.values():
        if isinstance(value, dict) and value.get("id") is not None:
            return str(value["id"])
    return None


def rejection_reason(status: int, body: Any) -> str:
    if isinstance(body, dict):
        parts = [
            str(body[k]) for k in ("error", "message", "troubleshoot", "errors") if body.get(k)
        ]
        if parts:
            return f"HTTP {status}: " + " - ".join(dict.fromkeys(parts))
    return f"HTTP {status}: {str(body)[:300]}"


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


@dataclass
class Plan:
    requests: list[OutgoingRequest]
    invalid: list[RowPayload]  # to record (new or changed since recorded)
    refused: list[tuple[OutgoingRequest, str]] = field(default_factory=list)


class ReverseSync:
    """One run of one destination: plan the requests, then send and record them."""

    def __init__(
        self,
        destination: Destination,
        state: dict[str, StateRow],
        *,
        client: AircallClient | None = None,
        store: SyncStore | None = None,
        run_id: str | None = None,
        mode: str = "sync",
        logger: Any = None,
        resend_uncertain: bool = False,
        force: bool = False,
        record_state: bool = True,
    ) -> None:
        self.destination = destination
        self.state = state
        self.client = client
        self.store = store
        self.run_id = run_id
        self.mode = mode
        self.log = logger or log
        self.resend_uncertain = resend_uncertain
        self.force = force
        self.record_state = record_state
        self.counts = Counts()
        self.exchanges: list[Exchange] = []
        self.duplicates: list[str] = []
        self.stopped: str | None = None
        self._unavailable_in_a_row = 0
        self._unwritten_states: dict[str, StateRow] = {}  # by row key: the latest wins
        self._unwritten_responses: list[ResponseRow] = []

    # ------------------------------------------------------------------------------ plan

    def plan(self, payloads: Sequence[RowPayload]) -> Plan:
        """Drop unchanged and already-rejected rows, batch the rest, route known creates."""
        seen: set[str] = set()
        to_send: list[RowPayload] = []
        invalid: list[RowPayload] = []
        for item in payloads:
            self.counts.rows += 1
            assert item.key is not None
            if item.key in seen:
                self.counts.duplicate_keys += 1
                if len(self.duplicates) < 20:
                    self.duplicates.append(item.key)
                continue
            seen.add(item.key)
            state = self.state.get(item.key)
            if not item.valid:
                self.counts.invalid += 1
                if not (state and state.status == "invalid" and state.payload_hash == item.hash):
                    invalid.append(item)
                continue
            if state is not None and state.status not in PENDING and not self.force:
                if state.sent_hash == item.hash:
                    self.counts.unchanged += 1
                    continue
                if state.status == "rejected" and state.payload_hash == item.hash:
                    self.counts.rejected_before += 1
                    continue
            to_send.append(item)
        requests = make_requests(self.destination, to_send)
        plan = Plan([], invalid)
        for request in requests:
            refusal = self._route_known_record(request)
            if refusal:
                plan.refused.append((request, refusal))
            else:
                plan.requests.append(request)
        return plan

    def _route_known_record(self, request: OutgoingRequest) -> str | None:
        """A template create whose record Aircall already has: update it, or refuse.

        Re-sending a create for a changed row would duplicate the record (Aircall has no
        upsert), so a contact created by an earlier send is updated by id instead, and a user
        (which this API cannot update) is refused with the reason.
        """
        if not self.destination.template or request.batched:
            return None
        state = self.state.get(request.items[0].key or "")
        if state is None or not state.aircall_id:
            return None
        if request.route.kind == "contact_create":
            self._reroute_to_update(request, state.aircall_id)
        elif request.route.kind == "user_create":
            return (
                f"user {state.aircall_id} was already created by an earlier send; the "
                "create_users template does not update users"
            )
        return None

    @staticmethod
    def _reroute_to_update(request: OutgoingRequest, aircall_id: str) -> None:
        request.path = f"/v1/contacts/{quote(aircall_id, safe='')}"
        request.route = classify_route("POST", request.path)
        request.reroute = (
            f"contact {aircall_id} was created by an earlier send: updated, not created again"
        )

    # ------------------------------------------------------------------------------ send

    def execute(self, plan: Plan) -> Counts:
        """Record invalid rows, then send every planned request (unless stopped early).

        Whatever was recorded is committed on the way out, even when the loop raised: those
        answers were received, and the next run should not have to look them up.
        """
        assert self.client is not None and self.store is not None, "a dry run does not send"
        rows = sum(len(request.items) for request in plan.requests)
        started, ticker, done, sent = time.monotonic(), Ticker(), 0, 0
        try:
            self._record_invalid(plan.invalid)
            for request, reason in plan.refused:
                self._finish(request, "rejected", error=reason, request_id=None)
            for request in plan.requests:
                if self.stopped:
                    self.counts.not_attempted += len(request.items)
                    continue
                self._send(request)
                done, sent = done + 1, sent + len(request.items)
                if ticker.due():
                    self._progress(sent, rows, started, len(plan.requests) - done, done)
        finally:
            self._commit()
        if rows:
            self._progress(sent, rows, started, 0, done, "sync done: ")
        return self.counts

    def _progress(
        self, sent: int, rows: int, started: float, left: int, done: int, prefix: str = ""
    ) -> None:
        assert self.client is not None
        line = f"{self.destination.name}: {sent:,} of {rows:,} rows sent ({sent / rows:.0%})"
        self.log.info(prefix + ", ".join([line, *pace(self.client, started, left, done)]))

    def _record_invalid(self, items: Sequence[RowPayload]) -> None:
        if not items:
            return
        now = now_utc()
        responses = [
            ResponseRow(
                self.destination.name,
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
                self.state.get(i.key or "") or StateRow(self.destination.name, i.key or "", "new"),
                status="invalid",
                payload_hash=i.hash,
                last_error=i.error,
                updated_at=now,
            )
            for i in items
        ]
        self._record(states, responses)
        for item in items[:5]:
            self.log.warning(f"row {item.key}: not sent, {item.error}")
        if len(items) > 5:
            self.log.warning(f"... and {len(items) - 5} more invalid rows (see responses)")

    def _send(self, request: OutgoingRequest) -> None:
        pending = [
            s
            for s in (self.state.get(i.key or "") for i in request.items)
            if s is not None and s.status in PENDING
        ]
        if pending and not request.route.idempotent:
            if request.route.lookup and not request.batched:
                if self._recover(request):
                    return
            elif not self.resend_uncertain and any(s.status != "failed" for s in pending):
                self._finish(request, "uncertain", error=UNCERTAIN_HELP, request_id=None)
                return
        self._attempt(request)

    def _recover(self, request: OutgoingRequest) -> bool:
        """After a killed run: is the earlier attempt in Aircall already? True if settled."""
        item = request.items[0]
        state = self.state.get(item.key or "")
        found = self._lookup(request, None)
        if found is False:
            return True
        if found is None:
            return False
        applied = state.payload_hash if state and state.payload_hash else item.hash
        changed = applied != item.hash and request.route.kind == "contact_create"
        self._finish(
            request,
            "recovered",
            aircall_id=found.aircall_id,
            response=found.record,
            request_id=None,
            applied_hash=applied,
            error="found in Aircall: an earlier attempt was applied; not sent again",
            count=not changed,  # counted once, as the update that follows
        )
        if changed:
            self._reroute_to_update(request, found.aircall_id)
            return False  # the row changed since: send it as an update of that contact
        return True

    def _lookup(self, request: OutgoingRequest, request_id: str | None) -> Found | None | bool:
        """The record, None if absent, False if the lookup itself failed (recorded)."""
        assert self.client is not None and request.route.lookup
        self._commit()
        try:
            return find_existing(self.client, request.route.lookup, request.body)
        except AircallError as exc:
            self._finish(
                request,
                "uncertain",
                request_id=request_id,
                error=f"could not check whether an earlier attempt was applied: {exc}",
            )
            if isinstance(exc, (AircallAuthError, AircallUnavailable)):
                self._unavailable(exc)
            return False

    def _attempt(self, request: OutgoingRequest) -> None:
        request_id = uuid.uuid4().hex
        if self.record_state:
            now = now_utc()
            intents = []
            for item in request.items:
                previous = self.state.get(item.key or "") or StateRow(
                    self.destination.name, item.key or "", "new"
                )
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
            self._record(intents, ())
        for _ in range(LOST_RESENDS + 1):
            self._commit()  # the intent (and the previous outcome) before the request leaves
            started = time.monotonic()
            try:
                self.counts.requests += 1
                status, body = self._call(request)
            except AircallResponseLost as exc:
                self._log_attempt(request, request_id, "lost", str(exc), started)
                if not request.route.lookup or request.batched:
                    self._finish(
                        request,
                        "uncertain",
                        request_id=request_id,
                        error=f"{exc}; {UNCERTAIN_HELP}",
                    )
                    return
                found = self._lookup(request, request_id)
                if found is False:
                    return
                if found is not None:
                    self._finish(
                        request,
                        "recovered",
                        aircall_id=found.aircall_id,
                        response=found.record,
                        request_id=request_id,
                        error="answer lost; found in Aircall, so not sent again",
                    )
                    return
                continue  # not in Aircall: the create was not applied, send it again
            except AircallAPIError as exc:
                if request.method == "DELETE" and exc.status == 404:
                    self._finish(
                        request,
                        "sent",
                        status=404,
                        response=exc.body,
                        request_id=request_id,
                        started=started,
                        error="already absent in Aircall",
                    )
                else:
                    self._finish(
                        request,
                        "rejected",
                        status=exc.status,
                        response=exc.body,
                        request_id=request_id,
                        started=started,
                        error=rejection_reason(exc.status, exc.body),
                    )
                self._unavailable_in_a_row = 0
                return
            except (AircallAuthError, AircallUnavailable) as exc:
                self._finish(
                    request, "failed", request_id=request_id, started=started, error=str(exc)
                )
                self._unavailable(exc)
                return
            except AircallError as exc:
                self._finish(
                    request, "failed", request_id=request_id, started=started, error=str(exc)
                )
                return
            else:
                self._unavailable_in_a_row = 0
                self._finish(
                    request,
                    "sent",
                    status=status,
                    response=body,
                    aircall_id=None if request.batched else created_id(body),
                    request_id=request_id,
                    started=started,
                )
                return
        self._finish(
            request,
            "uncertain",
            request_id=request_id,
            error=f"the answer was lost {LOST_RESENDS + 1} times in a row",
        )

    def _unavailable(self, exc: AircallError) -> None:
        if isinstance(exc, AircallAuthError):
            self.stopped = str(exc)
            return
        self._unavailable_in_a_row += 1
        if self._unavailable_in_a_row >= STOP_AFTER_UNAVAILABLE:
            self.stopped = (
                f"Aircall did not answer {STOP_AFTER_UNAVAILABLE} requests in a row ({exc}); "
                "the remaining rows wait for the next run"
            )

    def _call(self, request: OutgoingRequest) -> tuple[int, Any]:
        assert self.client is not None
        kwargs: dict[str, Any] = {}
        if request.body is not None:
            if self.destination.content_format == "form" and isinstance(request.body, dict):
                kwargs["data"] = form_fields(request.body)
            else:
                kwargs["json"] = request.body
        return self.client.request(
            request.method,
            request.path,
            headers=dict(self.destination.headers) or None,
            idempotent=request.route.idempotent,
            **kwargs,
        )

    # --------------------------------------------------------------------------- record

    def _log_attempt(
        self, request: OutgoingRequest, request_id: str, outcome: str, error: str, started: float
    ) -> None:
        """An attempt that did not settle the rows (a lost answer): responses only."""
        now = now_utc()
        duration = (time.monotonic() - started) * 1000
        self._record(
            (),
            [
                ResponseRow(
                    self.destination.name,
                    i.key,
                    self.run_id,
                    request_id,
                    self.mode,
                    request.method,
                    request.path,
                    None,
                    outcome,
                    error=error,
                    rows_in_request=len(request.items),
                    duration_ms=duration,
                    attempted_at=now,
                )
                for i in request.items
            ],
        )
        self.log.warning(f"{request.method} {request.path}: {error}; checking Aircall")

    def _finish(
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
        """Record the outcome of a request for each of its rows (state + responses)."""
        now = now_utc()
        duration = None if started is None else (time.monotonic() - started) * 1000
        responses = []
        states = []
        for item in request.items:
            key = item.key or ""
            responses.append(
                ResponseRow(
                    self.destination.name,
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
            previous = self.state.get(key) or StateRow(self.destination.name, key, "new")
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
        self._record(states, responses)
        rows = len(request.items)
        counter = {
            "sent": "sent",
            "recovered": "recovered",
            "rejected": "rejected",
            "failed": "failed",
            "uncertain": "uncertain",
        }[outcome]
        if count:
            setattr(self.counts, counter, getattr(self.counts, counter) + rows)
        self.exchanges.append(
            Exchange(request.method, request.path, request.body, status, outcome, response, error)
        )
        if len(self.exchanges) > 20:
            del self.exchanges[:-20]
        keys = ", ".join(request.keys[:3]) + ("..." if rows > 3 else "")
        line = f"{request.method} {request.path} [{keys}] -> {status or '-'} {outcome}"
        if outcome in ("sent", "recovered"):
            self.log.debug(line)
        else:
            self.log.warning(f"{line}: {error}")

    def _record(self, states: Sequence[StateRow], responses: Sequence[ResponseRow]) -> None:
        """Take these rows as this run's truth now; ``_commit`` writes them before the next
        request leaves."""
        if not self.record_state:
            states = ()
        self._unwritten_responses += responses
        for state in states:
            self._unwritten_states[state.row_key] = state
            self.state[state.row_key] = state

    def _commit(self) -> None:
        """Write what was recorded since the last commit, in one short transaction."""
        assert self.store is not None
        if not (self._unwritten_states or self._unwritten_responses):
            return
        states, responses = list(self._unwritten_states.values()), self._unwritten_responses
        self._unwritten_states, self._unwritten_responses = {}, []  # a failed write: not retried
        self.store.write(states, responses)
