"""Finding a record a create may already have made, before sending that create again.

Aircall has no idempotency key and no upsert: the same ``POST /v1/contacts`` twice makes two
contacts. So when a create's answer was lost (timeout, dropped connection, truncated body) or a
run died between sending and recording, the sync asks Aircall whether the record exists, by
the identity Aircall lets us search on: contacts by phone number (``/v1/contacts/search``),
users by email, tags and teams by name (their lists). Only if nothing is found is it sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aircall_assets.client.client import AircallClient

MAX_PAGES = 40  # 2,000 records: a lookup is an insurance request, not an extract


@dataclass(frozen=True)
class Found:
    aircall_id: str
    record: dict[str, Any]


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _pages(
    client: AircallClient, path: str, key: str, params: dict[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    for page in range(1, MAX_PAGES + 1):
        body = client.get(path, {**params, "page": page, "per_page": 50})
        records = body.get(key) if isinstance(body, dict) else None
        if not isinstance(records, list):
            return
        yield records
        meta = body.get("meta") or {}
        if not records or not meta.get("next_page_link"):
            return


def _first(
    client: AircallClient,
    path: str,
    key: str,
    params: dict[str, Any],
    match: Callable[[dict[str, Any]], int],
) -> Found | None:
    """The best-scoring record (score > 0), newest id first among equals."""
    best: tuple[int, int, dict[str, Any]] | None = None
    for records in _pages(client, path, key, params):
        for record in records:
            score = match(record)
            if score <= 0:
                continue
            rank = (score, int(record.get("id") or 0))
            if best is None or rank > best[:2]:
                best = (*rank, record)
    if best is None:
        return None
    return Found(str(best[2].get("id")), best[2])


def find_contact(client: AircallClient, body: dict[str, Any]) -> Found | None:
    """A contact with the payload's first phone number and, if the payload has them, its names.

    The names make the answer "was *this* create applied" rather than "does anyone have this
    number": another contact sharing the number must not swallow a create that never landed.
    """
    phones = body.get("phone_numbers") or []
    if not phones or not isinstance(phones[0], dict) or not phones[0].get("value"):
        return None
    wanted = _digits(phones[0]["value"])

    def match(contact: dict[str, Any]) -> int:
        numbers = {_digits(p.get("value")) for p in contact.get("phone_numbers") or []}
        if wanted not in numbers:
            return 0
        same_names = all(
            (contact.get(n) or None) == (body.get(n) or None)
            for n in ("first_name", "last_name")
            if n in body
        )
        return 1 if same_names else 0

    return _first(
        client, "/v1/contacts/search", "contacts", {"phone_number": phones[0]["value"]}, match
    )


def find_user(client: AircallClient, body: dict[str, Any]) -> Found | None:
    email = str(body.get("email") or "").strip().lower()
    if not email:
        return None
    return _first(
        client,
        "/v2/users",
        "users",
        {"order": "desc"},
        lambda u: 1 if str(u.get("email") or "").strip().lower() == email else 0,
    )


def _find_named(path: str, key: str) -> Callable[[AircallClient, dict[str, Any]], Found | None]:
    def find(client: AircallClient, body: dict[str, Any]) -> Found | None:
        name = str(body.get("name") or "").strip().lower()
        if not name:
            return None
        return _first(
            client,
            path,
            key,
            {},
            lambda r: 1 if str(r.get("name") or "").strip().lower() == name else 0,
        )

    return find


FINDERS: dict[str, Callable[[AircallClient, dict[str, Any]], Found | None]] = {
    "contact_phone": find_contact,
    "user_email": find_user,
    "tag_name": _find_named("/v1/tags", "tags"),
    "team_name": _find_named("/v1/teams", "teams"),
}


def find_existing(client: AircallClient, lookup: str, body: Any) -> Found | None:
    """The record a create with this body would have made, if Aircall has it."""
    if not isinstance(body, dict):
        return None
    return FINDERS[lookup](client, body)
