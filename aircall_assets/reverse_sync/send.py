"""Send: a plan's requests to Aircall, exactly once, each answer recorded before the next leaves.

Per request the order is fixed, and it is what makes a killed run safe to run again:

1. commit ``sending`` for its rows (``Ledger.intent``, with everything recorded before it);
2. send it through the shared client (rate budget, retries on transient errors);
3. record the outcome: state ``sent``/``rejected``/``failed``/``uncertain`` plus one responses
   row per row of the request, committed with the next request's intent (``record.py``).

A row an earlier run left pending, and any create whose answer is lost
(``AircallResponseLost``), is first looked up in Aircall (contacts by phone number, users by
email, tags/teams by name: ``lookup.py``) and sent again only if absent; the plan chose which
rows those are. Requests that are safe to repeat (updates by id, PUT, PATCH, DELETE) are simply
repeated. A POST the sync cannot look up is never repeated on its own: it is reported
``uncertain`` until the user checks Aircall and asks for ``resend_uncertain``.

Rows Aircall rejects (4xx) are recorded with the reason and not sent again until they change.
Transient failures and lost answers fail the run at the end, after everything else was sent;
an authentication error or Aircall being down for several requests in a row stops the loop
early (the rest waits for the next run).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from aircall_assets.client.client import AircallClient
from aircall_assets.client.errors import (
    AircallAPIError,
    AircallAuthError,
    AircallError,
    AircallResponseLost,
    AircallUnavailable,
)
from aircall_assets.progress import Ticker, pace
from aircall_assets.reverse_sync.lookup import Found, find_existing
from aircall_assets.reverse_sync.plan import OutgoingRequest, Plan
from aircall_assets.reverse_sync.record import Ledger

LOST_RESENDS = 3  # a create whose answer is lost, looked up and absent, is sent again this often
STOP_AFTER_UNAVAILABLE = 3  # consecutive requests Aircall did not serve before giving up the run
UNCERTAIN_HELP = (
    "an earlier attempt may have been applied and Aircall offers no way to look this record "
    "up; check Aircall, then run with resend_uncertain: true to send it again"
)


def send(plan: Plan, client: AircallClient, ledger: Ledger, log: Any) -> str | None:
    """Record what the plan settled without a request, then send its requests (unless stopped
    early); why the loop stopped early, if it did.

    Whatever was recorded is committed on the way out, even when the loop raised: those
    answers were received, and the next run should not have to look them up.
    """
    return _Sending(client, ledger, log).run(plan)


def transmit(client: AircallClient, request: OutgoingRequest) -> tuple[int, Any]:
    """The request on the wire: its status and body (the client raises for the rest)."""
    kwargs: dict[str, Any] = {}
    if request.body is not None:
        if request.form and isinstance(request.body, dict):
            kwargs["data"] = form_fields(request.body)
        else:
            kwargs["json"] = request.body
    return client.request(
        request.method,
        request.path,
        headers=dict(request.headers) or None,
        idempotent=request.route.idempotent,
        **kwargs,
    )


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


class _Sending:
    """The loop of one run: its client, its ledger, and whether Aircall stopped answering."""

    def __init__(self, client: AircallClient, ledger: Ledger, log: Any) -> None:
        self.client = client
        self.ledger = ledger
        self.counts = ledger.counts
        self.log = log
        self.stopped: str | None = None
        self._unavailable_in_a_row = 0

    def run(self, plan: Plan) -> str | None:
        rows = plan.rows_to_send
        started, ticker, done, sent = time.monotonic(), Ticker(), 0, 0
        try:
            self.ledger.invalid(plan.invalid)
            for request, reason in plan.refused:
                self.ledger.outcome(request, "rejected", error=reason, request_id=None)
            for request in plan.requests:
                if self.stopped:
                    self.counts.not_attempted += len(request.items)
                    continue
                self._send(request)
                done, sent = done + 1, sent + len(request.items)
                if ticker.due():
                    self._progress(sent, rows, started, len(plan.requests) - done, done)
        finally:
            self.ledger.commit()
        if rows:
            self._progress(sent, rows, started, 0, done, "sync done: ")
        return self.stopped

    def _progress(
        self, sent: int, rows: int, started: float, left: int, done: int, prefix: str = ""
    ) -> None:
        line = f"{self.ledger.destination}: {sent:,} of {rows:,} rows sent ({sent / rows:.0%})"
        self.log.info(prefix + ", ".join([line, *pace(self.client, started, left, done)]))

    def _send(self, request: OutgoingRequest) -> None:
        if request.first == "look_up" and self._recover(request):
            return
        if request.first == "hold":
            self.ledger.outcome(request, "uncertain", error=UNCERTAIN_HELP, request_id=None)
            return
        self._attempt(request)

    def _recover(self, request: OutgoingRequest) -> bool:
        """After a killed run: is the earlier attempt in Aircall already? True if settled."""
        item = request.items[0]
        found = self._lookup(request, None)
        if found is False:
            return True
        if found is None:
            return False
        applied = request.earlier_hash or item.hash
        changed = applied != item.hash and request.route.kind == "contact_create"
        self.ledger.outcome(
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
            request.update_instead(found.aircall_id)
            return False  # the row changed since: send it as an update of that contact
        return True

    def _lookup(self, request: OutgoingRequest, request_id: str | None) -> Found | None | bool:
        """The record, None if absent, False if the lookup itself failed (recorded)."""
        assert request.route.lookup
        self.ledger.commit()
        try:
            return find_existing(self.client, request.route.lookup, request.body)
        except AircallError as exc:
            self.ledger.outcome(
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
        self.ledger.intent(request, request_id)
        for _ in range(LOST_RESENDS + 1):
            self.ledger.commit()  # the intent (and the previous outcome) before the request leaves
            started = time.monotonic()
            try:
                self.counts.requests += 1
                status, body = transmit(self.client, request)
            except AircallResponseLost as exc:
                self.ledger.lost(request, request_id, str(exc), started)
                if not request.route.lookup or request.batched:
                    self.ledger.outcome(
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
                    self.ledger.outcome(
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
                self._unavailable_in_a_row = 0
                if request.method == "DELETE" and exc.status == 404:
                    self.ledger.outcome(
                        request,
                        "sent",
                        status=404,
                        response=exc.body,
                        request_id=request_id,
                        started=started,
                        error="already absent in Aircall",
                    )
                    return
                self.ledger.outcome(
                    request,
                    "rejected",
                    status=exc.status,
                    response=exc.body,
                    request_id=request_id,
                    started=started,
                    error=rejection_reason(exc.status, exc.body),
                )
                return
            except (AircallAuthError, AircallUnavailable) as exc:
                self.ledger.outcome(
                    request, "failed", request_id=request_id, started=started, error=str(exc)
                )
                self._unavailable(exc)
                return
            except AircallError as exc:
                self.ledger.outcome(
                    request, "failed", request_id=request_id, started=started, error=str(exc)
                )
                return
            else:
                self._unavailable_in_a_row = 0
                self.ledger.outcome(
                    request,
                    "sent",
                    status=status,
                    response=body,
                    aircall_id=None if request.batched else created_id(body),
                    request_id=request_id,
                    started=started,
                )
                return
        self.ledger.outcome(
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
