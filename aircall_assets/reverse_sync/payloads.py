"""Warehouse rows → request payloads: JSON-safe values, exclusions, templates, keys, hashes.

Everything here is pure (no HTTP, no DuckDB) so the sample payloads of a dry run are exactly
what a real run sends. A row becomes a ``RowPayload``: its key, the path with ``{field}``
placeholders filled from the full row, the body after exclusions (for a template: only the
fields that endpoint accepts, normalised and validated), the reason it cannot be sent if any,
and a hash of (method, path, body) that tells a changed row from one already sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import orjson

from aircall_assets.reverse_sync.destinations import Destination

MAX_DETAILS = 20  # Aircall accepts at most 20 phone numbers and 20 emails per contact
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_LABEL = "Work"


class DestinationError(ValueError):
    """The destination cannot work with this source at all (e.g. its key column is missing)."""


def json_safe(value: Any) -> Any:
    """A DuckDB value as JSON would carry it: ISO-8601 UTC times, plain numbers, lists, dicts."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    return str(value)


def normalize_phone(value: Any) -> str:
    """Digits only, keeping a leading + (how unknown callers are matched to contacts)."""
    text = str(value or "").strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    return ("+" + digits) if text.startswith("+") and digits else digits


def canonical_hash(method: str, path: str, body: Any) -> str:
    """A stable fingerprint of what a request sends (key order does not matter)."""
    blob = orjson.dumps(
        {"m": method, "p": path, "b": body}, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    )
    return hashlib.sha256(blob).hexdigest()[:32]


@dataclass
class RowPayload:
    """One source row, ready to send (or not, with ``error`` saying why)."""

    key: str | None
    row: dict[str, Any]
    method: str
    path: str
    body: dict[str, Any] | None
    error: str | None = None
    hash: str = ""
    unsent_columns: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.error is None


@dataclass
class KeySpec:
    """How a row's key is found: a column, or derived from the payload for contacts/users."""

    description: str
    from_row: Callable[[dict[str, Any]], Any] | None = None
    from_body: Callable[[dict[str, Any]], Any] | None = None
    column: str | None = field(default=None)


def key_spec(destination: Destination, columns: Sequence[str]) -> KeySpec:
    """The row key: ``key:`` if set, else a ``key`` or ``id`` column, else the natural key.

    A key must be stable across runs: it is what the state table remembers a row by.
    """
    if destination.key:
        if destination.key not in columns:
            raise DestinationError(
                f"destination '{destination.name}': key column '{destination.key}' is not in "
                f"{destination.source} (columns: {', '.join(columns)})"
            )
        name = destination.key
        return KeySpec(f"column {name}", from_row=lambda r: r.get(name), column=name)
    for name in ("key", "id"):
        if name in columns:
            return KeySpec(f"column {name}", from_row=lambda r, n=name: r.get(n), column=name)
    kind = destination.route.kind
    if kind == "contact_create":
        return KeySpec(
            "first phone number",
            from_body=lambda b: normalize_phone((b.get("phone_numbers") or [{}])[0].get("value")),
        )
    if kind == "user_create":
        return KeySpec(
            "email", from_body=lambda b: str(b.get("email") or "").strip().lower() or None
        )
    raise DestinationError(
        f"destination '{destination.name}': no 'key' or 'id' column in {destination.source}; "
        f"set 'key:' to the column that identifies a row (columns: {', '.join(columns)})"
    )


def _key_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return str(value)


def _placeholder_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        return None
    return quote(str(value), safe="")


def fill_path(path: str, row: dict[str, Any]) -> tuple[str, str | None]:
    """The path with placeholders replaced by URL-quoted row values, or an error."""
    missing = []

    def one(match: re.Match[str]) -> str:
        text = _placeholder_text(row.get(match.group(1)))
        if text is None:
            missing.append(match.group(1))
            return match.group(0)
        return text

    filled = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", one, path)
    if missing:
        return filled, f"path placeholder(s) {missing} empty in this row"
    return filled, None


# ----------------------------------------------------------------------------- templates


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _details(value: Any, name: str) -> tuple[list[dict[str, str]] | None, str | None]:
    """phone_numbers / emails in any usual shape → [{label, value}] (Aircall's ids dropped)."""
    value = _maybe_json(value)
    if value is None:
        return None, None
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        return None, f"{name} must be a list of {{label, value}}"
    entries = []
    for entry in value:
        if isinstance(entry, str):
            entry = {"value": entry}
        if not isinstance(entry, dict):
            return None, f"each item of {name} must be a {{label, value}} object"
        text = entry.get("value")
        text = "" if text is None else str(text).strip()
        if not text:
            return None, f"an item of {name} has no value"
        label = entry.get("label")
        entries.append({"label": str(label) if label else DEFAULT_LABEL, "value": text})
    return entries, None


def _contact_body(
    body: dict[str, Any], row: dict[str, Any], excluded: set[str], creating: bool
) -> tuple[dict[str, Any], str | None]:
    """Normalise and check a contact payload (Aircall's rules, before spending a request)."""
    for single, plural in (("phone_number", "phone_numbers"), ("email", "emails")):
        if plural not in body and single in row and single not in excluded:
            body[plural] = row[single]
    for text_field in ("first_name", "last_name", "company_name", "information"):
        if text_field in body and body[text_field] is not None:
            body[text_field] = str(body[text_field])
    for name in ("phone_numbers", "emails"):
        if name not in body:
            continue
        entries, error = _details(body[name], name)
        if error:
            return body, error
        if entries is None:
            del body[name]
            continue
        body[name] = entries
        if len(entries) > MAX_DETAILS:
            return body, f"{name}: at most {MAX_DETAILS} allowed, got {len(entries)}"
        if name == "emails":
            bad = [e["value"] for e in entries if not EMAIL.match(e["value"])]
            if bad:
                return body, f"emails: {bad[0]!r} is not a valid email address"
    if creating and not body.get("phone_numbers"):
        return body, "phone_numbers: at least one phone number is required to create a contact"
    if "phone_numbers" in body and not body["phone_numbers"]:
        return body, "phone_numbers: cannot be emptied (Aircall requires at least one)"
    if not creating and not body:
        return body, "nothing to update: no contact field in this row"
    return body, None


def _user_body(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    for name in ("email", "first_name", "last_name"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            return body, f"{name} is required to create a user"
        body[name] = value.strip()
    if not EMAIL.match(body["email"]):
        return body, f"email {body['email']!r} is not a valid email address"
    wrap_up = body.get("wrap_up_time")
    if wrap_up is not None and (not isinstance(wrap_up, int) or wrap_up < 0):
        return body, "wrap_up_time must be a non-negative whole number of seconds"
    return body, None


def build_payload(destination: Destination, row: dict[str, Any], key: KeySpec) -> RowPayload:
    """One row → its request: placeholders from the full row, body after exclusions."""
    route = destination.route
    excluded = set(destination.exclude)
    path, error = fill_path(route.path, row)
    kept = {k: v for k, v in row.items() if k not in excluded}
    allowed = destination.templated_fields
    unsent: tuple[str, ...] = ()
    body: dict[str, Any] | None
    if route.method == "DELETE":
        body = None
    elif allowed is None:
        body = dict(kept)
    else:
        body = {k: _maybe_json(v) for k, v in kept.items() if k in allowed and v is not None}
        used = set(allowed) | set(_names(route.path)) | {key.column}
        if route.kind.startswith("contact_"):
            used |= {"phone_number", "email"}
        unsent = tuple(sorted(k for k in kept if k not in used))
    if body is not None and destination.template and error is None:
        if route.kind in ("contact_create", "contact_update"):
            body, error = _contact_body(body, row, excluded, route.kind == "contact_create")
        elif route.kind == "user_create":
            body, error = _user_body(body)
    key_value: Any = None
    if key.from_row is not None:
        key_value = key.from_row(row)
    elif key.from_body is not None and body is not None and error is None:
        key_value = key.from_body(body)
    key_text = _key_text(key_value)
    if key_text is None:
        # Still recorded (once per content) under a key derived from the row itself.
        error = error or f"the row key ({key.description}) is empty"
        key_text = "row:" + canonical_hash("", "", row)
    return RowPayload(
        key=key_text,
        row=row,
        method=route.method,
        path=path,
        body=body,
        error=error,
        hash=canonical_hash(route.method, path, body),
        unsent_columns=unsent,
    )


def _names(path: str) -> list[str]:
    return re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", path)


def build_payloads(
    destination: Destination, rows: Iterable[dict[str, Any]], columns: Sequence[str]
) -> list[RowPayload]:
    spec = key_spec(destination, columns)
    missing = sorted(set(_names(destination.route.path)) - set(columns))
    if missing:
        raise DestinationError(
            f"destination '{destination.name}': path placeholder(s) {missing} are not columns "
            f"of {destination.source} (columns: {', '.join(columns)})"
        )
    if destination.batching.group_by and destination.batching.group_by not in columns:
        raise DestinationError(
            f"destination '{destination.name}': batching.group_by "
            f"'{destination.batching.group_by}' is not a column of {destination.source}"
        )
    return [build_payload(destination, row, spec) for row in rows]
