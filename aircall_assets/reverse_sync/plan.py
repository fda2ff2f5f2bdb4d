"""Plan: which source rows a run sends, in which requests, and what it does first with each.

Everything a run decides before its first request is decided here, from the destination's
settings, the source rows and the state earlier runs left: the rows it skips (unchanged, or
rejected before with the same payload, or a key seen earlier in the source), the invalid rows
it records, the requests (one per row, or batches), a create whose record Aircall already has
turned into an update (or refused: this API cannot update users), and, for a row an earlier run
left without a definitive answer, whether it is looked up in Aircall before it is sent again or
held for a person to check. A dry run shows the plan; a sync sends it (``send.py``) and records
what happens (``record.py``).

The destination's settings are read here and nowhere after: a request carries everything its
sending needs (method, path, body, headers, form or JSON, route), so the steps that follow know
the destination by its name only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import quote

import orjson

from aircall_assets.reverse_sync.destinations import Destination, Route, classify_route
from aircall_assets.reverse_sync.payloads import RowPayload, build_payloads
from aircall_assets.reverse_sync.source import Source
from aircall_assets.reverse_sync.state import StateRow

# States of a row whose last attempt got no definitive answer: the next run sends it again,
# after a look-up when the request is a create that Aircall lets us search for.
PENDING = ("sending", "uncertain", "failed")
SHOWN_DUPLICATES = 20

# What a run does first with a request: send it; look its record up in Aircall (a create an
# earlier attempt may have applied); or hold it as uncertain (such a create that cannot be
# looked up: sent again only when the user asks for resend_uncertain).
FirstStep = Literal["send", "look_up", "hold"]


@dataclass
class Counts:
    """Rows by what happened to them in this run (reported as run metadata). The plan counts
    what it knows before sending (rows, unchanged, rejected_before, invalid, duplicate_keys);
    the outcomes are counted as they are recorded."""

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


@dataclass
class OutgoingRequest:
    """One HTTP request: a single row, or a batch of rows sharing one URL, and how it leaves."""

    method: str
    path: str
    body: dict[str, Any] | list[dict[str, Any]] | None
    items: list[RowPayload]
    route: Route
    headers: Mapping[str, str] = field(default_factory=dict)  # the destination's extra ones
    form: bool = False  # the body travels as form fields, not JSON
    batched: bool = False
    reroute: str | None = None  # why the path differs from the destination's (upsert)
    first: FirstStep = "send"
    earlier_hash: str | None = None  # for a look-up: the payload the earlier attempt sent

    @property
    def keys(self) -> list[str]:
        return [i.key or "" for i in self.items]

    def update_instead(self, aircall_id: str) -> None:
        """Send this contact create as an update of the contact Aircall already has: Aircall
        has no upsert, so creating it again would duplicate it."""
        self.path = f"/v1/contacts/{quote(aircall_id, safe='')}"
        self.route = classify_route("POST", self.path)
        self.reroute = (
            f"contact {aircall_id} was created by an earlier send: updated, not created again"
        )


@dataclass
class Plan:
    """A run of one destination before it sends anything."""

    destination: str
    payloads: list[RowPayload]  # every source row's, as built (a dry run shows them)
    requests: list[OutgoingRequest] = field(default_factory=list)
    invalid: list[RowPayload] = field(default_factory=list)  # to record: new or changed
    refused: list[tuple[OutgoingRequest, str]] = field(default_factory=list)  # and why
    counts: Counts = field(default_factory=Counts)
    duplicates: list[str] = field(default_factory=list)  # a few of the repeated keys

    @property
    def rows_to_send(self) -> int:
        return sum(len(r.items) for r in self.requests)


def plan_sync(
    destination: Destination,
    source: Source,
    state: Mapping[str, StateRow],
    *,
    resend_uncertain: bool = False,
) -> Plan:
    """The plan of a sync: every source row, against the state the earlier runs left.

    Raises ``DestinationError`` when the destination cannot work with this source at all."""
    payloads = build_payloads(destination, source.rows, source.columns)
    return plan_payloads(destination, payloads, state, resend_uncertain=resend_uncertain)


def plan_payloads(
    destination: Destination,
    payloads: Sequence[RowPayload],
    state: Mapping[str, StateRow],
    *,
    force: bool = False,
    resend_uncertain: bool = False,
) -> Plan:
    """Drop unchanged and already-rejected rows (all kept when ``force``: a test send), batch
    the rest, route known creates and choose each request's first step."""
    plan = Plan(destination.name, list(payloads))
    seen: set[str] = set()
    to_send: list[RowPayload] = []
    for item in payloads:
        plan.counts.rows += 1
        assert item.key is not None
        if item.key in seen:
            plan.counts.duplicate_keys += 1
            if len(plan.duplicates) < SHOWN_DUPLICATES:
                plan.duplicates.append(item.key)
            continue
        seen.add(item.key)
        known = state.get(item.key)
        if not item.valid:
            plan.counts.invalid += 1
            if not (known and known.status == "invalid" and known.payload_hash == item.hash):
                plan.invalid.append(item)
            continue
        if known is not None and known.status not in PENDING and not force:
            if known.sent_hash == item.hash:
                plan.counts.unchanged += 1
                continue
            if known.status == "rejected" and known.payload_hash == item.hash:
                plan.counts.rejected_before += 1
                continue
        to_send.append(item)
    for request in make_requests(destination, to_send):
        refusal = _route_known_record(destination, request, state)
        if refusal:
            plan.refused.append((request, refusal))
            continue
        _choose_first_step(request, state, resend_uncertain)
        plan.requests.append(request)
    return plan


def _route_known_record(
    destination: Destination, request: OutgoingRequest, state: Mapping[str, StateRow]
) -> str | None:
    """A template create whose record Aircall already has: update it, or say why not.

    Re-sending a create for a changed row would duplicate the record (Aircall has no upsert),
    so a contact created by an earlier send is updated by id instead, and a user (which this
    API cannot update) is refused with the reason.
    """
    if not destination.template or request.batched:
        return None
    known = state.get(request.items[0].key or "")
    if known is None or not known.aircall_id:
        return None
    if request.route.kind == "contact_create":
        request.update_instead(known.aircall_id)
    elif request.route.kind == "user_create":
        return (
            f"user {known.aircall_id} was already created by an earlier send; the "
            "create_users template does not update users"
        )
    return None


def _choose_first_step(
    request: OutgoingRequest, state: Mapping[str, StateRow], resend_uncertain: bool
) -> None:
    """Rows an earlier attempt left pending: repeat a request that is safe to repeat; look a
    create up before sending it again; hold a POST that cannot be looked up (unless only
    ``failed``, i.e. never answered, or the user asked to resend uncertain rows)."""
    pending = [
        s for s in (state.get(key) for key in request.keys) if s is not None and s.status in PENDING
    ]
    if not pending or request.route.idempotent:
        return
    if request.route.lookup and not request.batched:
        request.first = "look_up"
        request.earlier_hash = pending[0].payload_hash or request.items[0].hash
    elif not resend_uncertain and any(s.status != "failed" for s in pending):
        request.first = "hold"


def make_requests(destination: Destination, items: Sequence[RowPayload]) -> list[OutgoingRequest]:
    """Valid rows → requests: one per row, or batches by count or by a grouping attribute.

    Batches keep the rows' order; with ``group_by`` each batch holds rows sharing that value
    (so a ``{group_by}`` placeholder has one value per batch), at most ``size`` rows each.
    """
    route = destination.route
    batching = destination.batching
    headers, form = dict(destination.headers), destination.content_format == "form"
    if not batching.enabled:
        return [
            OutgoingRequest(route.method, i.path, i.body, [i], route, headers, form) for i in items
        ]
    groups: dict[str, list[RowPayload]] = {}
    for item in items:
        value = item.row.get(batching.group_by) if batching.group_by else None
        group = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        groups.setdefault(group, []).append(item)
    requests = []
    for members in groups.values():
        for start in range(0, len(members), batching.size):
            chunk = members[start : start + batching.size]
            # batches carry bodies: DELETE, whose rows have none, cannot be batched
            body: list[dict[str, Any]] = [i.body for i in chunk]  # type: ignore[misc]
            requests.append(
                OutgoingRequest(
                    route.method, chunk[0].path, body, chunk, route, headers, form, batched=True
                )
            )
    return requests
