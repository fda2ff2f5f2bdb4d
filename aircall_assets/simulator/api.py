"""The Aircall routes: query semantics, envelopes, pagination meta, validation of writes.

Pure request → response logic with no sockets, auth, throttling or faults (those live in
`gateway.py`), so each API rule sits in one place: per_page clamp and default, the positional
10k cap, from/to inclusivity per resource, order/order_by, full-URL page links, error bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from .store import Store

JSON_TYPE = "application/json; charset=utf-8"
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 50
MAX_POSITION = 10_000
MAX_CONTACT_DETAILS = 20

CAP_BODY = {
    "error": "Bad Request",
    "data": None,
    "message": "BAD_REQUEST",
    "errors": "Your query is limited to 10k results and pagination is out of bound, "
    "please use timestamps or other filters.",
    "troubleshoot": "BAD_REQUEST",
    "success": False,
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_TEXT_FIELDS = ("first_name", "last_name", "company_name", "information")


@dataclass
class Response:
    """What to send back: status, body bytes, extra headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE


@dataclass
class Request:
    """A parsed request as the routes see it."""

    method: str
    path: str  # without query string, without trailing slash
    query: list[tuple[str, str]]  # in the order sent
    body: bytes

    def param(self, name: str) -> str | None:
        """Last value of a query parameter (like most web frameworks)."""
        value = None
        for key, item in self.query:
            if key == name:
                value = item
        return value


# A route's handler: (request, numeric id from the path or None) → response.
Handler = Callable[[Request, int | None], Response]


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, orjson.dumps(payload), headers or {})


def edge_error(status: int, message: str) -> Response:
    """Errors raised before the application (auth, routing): `{"message": ...}`."""
    return json_response(status, {"message": message})


def app_error(status: int, error: str, troubleshoot: str) -> Response:
    """Application errors: `{"error": ..., "troubleshoot": ...}`."""
    return json_response(status, {"error": error, "troubleshoot": troubleshoot})


def unprocessable(troubleshoot: str) -> Response:
    return app_error(422, "Unprocessable Entity", troubleshoot)


class _BadRequest(Exception):
    """Raised by parsers; turned into a 400/422 response by the dispatcher."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def parse_query(raw: str) -> list[tuple[str, str]]:
    return parse_qsl(raw, keep_blank_values=True)


@dataclass(frozen=True)
class _Paging:
    page: int
    per_page: int
    desc: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.param(name)
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        value = default
    return value if value >= 1 else default


def paging_of(request: Request) -> _Paging:
    """page/per_page/order with the API's defaults, clamp and positional cap."""
    page = _int_param(request, "page", 1)
    per_page = min(_int_param(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    if page * per_page > MAX_POSITION:
        raise _BadRequest(json_response(400, CAP_BODY))
    return _Paging(page, per_page, (request.param("order") or "asc").lower() == "desc")


def _timestamp(request: Request, name: str) -> int | None:
    """A from/to UNIX-seconds parameter (fractions are floored)."""
    raw = request.param(name)
    if raw in (None, ""):
        return None
    try:
        return int(float(raw))
    except ValueError:
        raise _BadRequest(
            app_error(400, "Bad Request", f"'{name}' must be a UNIX timestamp in seconds")
        ) from None


class Api:
    """Routes a `Request` to its handler. `base_url` builds the full page links."""

    def __init__(self, store: Store, base_url: Callable[[], str]) -> None:
        self._store = store
        self._base_url = base_url
        collection_routes: dict[str, tuple[str, str]] = {
            "v1/contacts": ("contacts", "contact"),
            "v2/users": ("users", "user"),
            "v1/numbers": ("numbers", "number"),
            "v1/teams": ("teams", "team"),
            "v1/tags": ("tags", "tag"),
        }
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "v1/ping"): lambda r, _: json_response(200, {"ping": "pong"}),
            ("GET", "v1/company"): lambda r, _: json_response(
                200, {"company": self._store.company()}
            ),
            ("GET", "v1/calls"): self._list_calls,
            ("GET", "v1/calls/:id"): self._get_call,
            ("GET", "v1/contacts"): self._list_contacts,
            ("GET", "v1/contacts/search"): self._search_contacts,
            ("GET", "v2/users"): self._list_created("users", "created_at"),
            ("GET", "v1/numbers"): self._list_created("numbers", "created_at"),
            ("GET", "v1/teams"): self._list_created("teams", None),
            ("GET", "v1/tags"): self._list_created("tags", None),
            ("POST", "v1/contacts"): self._create_contact,
            ("POST", "v1/contacts/:id"): self._update_contact,
            ("PUT", "v1/contacts/:id"): self._update_contact,
            ("DELETE", "v1/contacts/:id"): self._delete_contact,
            ("POST", "v2/users"): self._create_user,
            ("POST", "v1/tags"): self._create_tag,
            ("POST", "v1/teams"): self._create_team,
        }
        for prefix, (resource, singular) in collection_routes.items():
            self._routes[("GET", f"{prefix}/:id")] = self._get_record(resource, singular)

    def add_routes(self, routes: dict[tuple[str, str], Handler]) -> None:
        """More (method, pattern) routes, patterns as in `match` (`v1/calls/:id/topics`)."""
        self._routes.update(routes)

    # ----------------------------------------------------------------- routing
    def match(self, method: str, path: str) -> tuple[Handler, int | None] | None:
        """The handler and numeric id for a route, or None for an unknown route (404).

        A numeric third segment is the id, in `v1/calls/:id` and in `v1/calls/:id/topics`.
        """
        parts = path.strip("/").split("/")
        record_id = None
        if len(parts) in (3, 4) and parts[2].isdigit():
            record_id = int(parts[2])
            parts[2] = ":id"
        handler = self._routes.get((method, "/".join(parts)))
        return None if handler is None else (handler, record_id)

    @staticmethod
    def call(handler: Handler, request: Request, record_id: int | None) -> Response:
        """Run a handler, turning parse/validation failures into their responses."""
        try:
            return handler(request, record_id)
        except _BadRequest as failure:
            return failure.response

    # ----------------------------------------------------------------- lists
    def _link(self, request: Request, page: int, per_page: int) -> str:
        params = [(k, v) for k, v in request.query if k not in ("page", "per_page")]
        params += [("page", str(page)), ("per_page", str(per_page))]
        return f"{self._base_url()}{request.path}?{urlencode(params)}"

    def list_response(
        self,
        request: Request,
        key: str,
        paging: _Paging,
        total: int,
        count: int,
        joined: bytes,
        *,
        links: bool = True,
    ) -> Response:
        """The list envelope around `count` pre-serialised, comma-joined records.

        `links=False` leaves the next_page_link/previous_page_link keys out altogether, as
        `/v1/webhooks` does.
        """
        meta: dict[str, Any] = {
            "count": count,
            "total": total,
            "current_page": paging.page,
            "per_page": paging.per_page,
        }
        if links:
            has_next = paging.page * paging.per_page < total
            meta["next_page_link"] = (
                self._link(request, paging.page + 1, paging.per_page) if has_next else None
            )
            meta["previous_page_link"] = (
                self._link(request, paging.page - 1, paging.per_page) if paging.page > 1 else None
            )
        body = b"".join(
            (b'{"', key.encode(), b'":[', joined, b'],"meta":', orjson.dumps(meta), b"}")
        )
        return Response(200, body)

    def _list_calls(self, request: Request, _: int | None) -> Response:
        """Calls filtered on started_at: `from` exclusive, `to` inclusive."""
        paging = paging_of(request)
        start, end = _timestamp(request, "from"), _timestamp(request, "to")
        lo = -(2**62) if start is None else start + 1
        hi = 2**62 if end is None else end
        total, count, joined = self._store.calls_page(
            lo, hi, desc=paging.desc, offset=paging.offset, limit=paging.per_page
        )
        return self.list_response(request, "calls", paging, total, count, joined)

    def _contacts_page(
        self, request: Request, predicate: Callable[[dict[str, Any]], bool] | None
    ) -> Response:
        """Contacts filtered on created_at (both bounds inclusive), order_by created/updated."""
        paging = paging_of(request)
        order_by = request.param("order_by") or "created_at"
        if order_by not in ("created_at", "updated_at"):
            return unprocessable("order_by must be created_at or updated_at")
        total, items = self._store.page(
            "contacts",
            filter_field="created_at",
            lo=_timestamp(request, "from"),
            hi=_timestamp(request, "to"),
            sort_field=order_by,
            desc=paging.desc,
            offset=paging.offset,
            limit=paging.per_page,
            predicate=predicate,
        )
        return self.list_response(request, "contacts", paging, total, len(items), b",".join(items))

    def _list_contacts(self, request: Request, _: int | None) -> Response:
        return self._contacts_page(request, None)

    def _search_contacts(self, request: Request, _: int | None) -> Response:
        """`/v1/contacts/search?phone_number=&email=`: how a lost create is found again."""
        phone, email = request.param("phone_number"), request.param("email")
        if not phone and not email:
            return unprocessable("Provide phone_number and/or email")
        return self._contacts_page(request, self._store.contact_matcher(phone, email))

    def _list_created(self, resource: str, time_field: str | None) -> Handler:
        """Lists ordered by (created_at, id), filtered on it inclusively when it exists."""

        def handler(request: Request, _: int | None) -> Response:
            paging = paging_of(request)
            lo = _timestamp(request, "from") if time_field else None
            hi = _timestamp(request, "to") if time_field else None
            total, items = self._store.page(
                resource,
                filter_field=time_field,
                lo=lo,
                hi=hi,
                sort_field=time_field or "id",
                desc=paging.desc,
                offset=paging.offset,
                limit=paging.per_page,
            )
            return self.list_response(
                request, resource, paging, total, len(items), b",".join(items)
            )

        return handler

    # ----------------------------------------------------------------- single records
    @staticmethod
    def _single(singular: str, body: bytes | None, record_id: int | None) -> Response:
        if body is None:
            return app_error(404, "Not found", f"No {singular} with id {record_id} was found")
        return Response(200, b'{"' + singular.encode() + b'":' + body + b"}")

    def _get_call(self, _: Request, record_id: int | None) -> Response:
        assert record_id is not None
        return self._single("call", self._store.call_bytes(record_id), record_id)

    def _get_record(self, resource: str, singular: str) -> Handler:
        def handler(_: Request, record_id: int | None) -> Response:
            assert record_id is not None
            return self._single(singular, self._store.get(resource, record_id), record_id)

        return handler

    # ----------------------------------------------------------------- writes
    @staticmethod
    def _payload(request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise _BadRequest(app_error(400, "Bad Request", "Body is not valid JSON")) from None
        if not isinstance(payload, dict):
            raise _BadRequest(app_error(400, "Bad Request", "Body must be a JSON object"))
        return payload

    @staticmethod
    def _contact_fields(payload: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        """Validate a contact create/update payload; raise a 422 on the first problem."""
        fields: dict[str, Any] = {}
        for name in _TEXT_FIELDS:
            if name in payload:
                if payload[name] is not None and not isinstance(payload[name], str):
                    raise _BadRequest(unprocessable(f"{name} must be a string"))
                fields[name] = payload[name]
        phones = payload.get("phone_numbers")
        if phones is None and creating:
            raise _BadRequest(unprocessable("phone_numbers is required"))
        for name, minimum in (("phone_numbers", 1), ("emails", 0)):
            entries = payload.get(name)
            if entries is None:
                continue
            if not isinstance(entries, list) or not minimum <= len(entries) <= MAX_CONTACT_DETAILS:
                raise _BadRequest(
                    unprocessable(
                        f"{name} must be a list of {minimum} to {MAX_CONTACT_DETAILS} items"
                    )
                )
            for entry in entries:
                value = entry.get("value") if isinstance(entry, dict) else None
                if not isinstance(value, str) or not value.strip():
                    raise _BadRequest(unprocessable(f"each item of {name} needs a value"))
                if name == "emails" and not _EMAIL.match(value.strip()):
                    raise _BadRequest(unprocessable(f"{value!r} is not a valid email"))
                label = entry.get("label")
                if label is not None and not isinstance(label, str):
                    raise _BadRequest(unprocessable(f"labels of {name} must be strings"))
            fields[name] = [{"label": e.get("label"), "value": e["value"]} for e in entries]
        return fields

    def _create_contact(self, request: Request, _: int | None) -> Response:
        fields = self._contact_fields(self._payload(request), creating=True)
        return json_response(201, {"contact": self._store.create_contact(fields)})

    def _update_contact(self, request: Request, record_id: int | None) -> Response:
        assert record_id is not None
        fields = self._contact_fields(self._payload(request), creating=False)
        try:
            contact = self._store.update_contact(record_id, **fields)
        except KeyError:
            return app_error(404, "Not found", f"No contact with id {record_id} was found")
        return json_response(200, {"contact": contact})

    def _delete_contact(self, _: Request, record_id: int | None) -> Response:
        assert record_id is not None
        if not self._store.delete_contact(record_id):
            return app_error(404, "Not found", f"No contact with id {record_id} was found")
        return Response(204, b"", content_type="")

    def _create_user(self, request: Request, _: int | None) -> Response:
        payload = self._payload(request)
        for name in ("email", "first_name", "last_name"):
            value = payload.get(name)
            if not isinstance(value, str) or not value.strip():
                return unprocessable(f"{name} is required")
        if not _EMAIL.match(payload["email"].strip()):
            return unprocessable("email is invalid")
        wrap_up = payload.get("wrap_up_time")
        if wrap_up is not None and (not isinstance(wrap_up, int) or wrap_up < 0):
            return unprocessable("wrap_up_time must be a non-negative integer")
        if self._store.email_taken(payload["email"]):
            return unprocessable("email has already been taken")
        return json_response(201, {"user": self._store.create_user(payload)})

    def _create_tag(self, request: Request, _: int | None) -> Response:
        payload = self._payload(request)
        name, color = payload.get("name"), payload.get("color")
        if not isinstance(name, str) or not name.strip():
            return unprocessable("name is required")
        if not isinstance(color, str) or not _COLOR.match(color):
            return unprocessable("color must be a hex color like #FF0000")
        description = payload.get("description")
        tag = self._store.create_tag(
            name, color, description if isinstance(description, str) else None
        )
        if tag is None:
            return app_error(400, "Bad Request", f"A tag named {name!r} already exists")
        return json_response(201, {"tag": tag})

    def _create_team(self, request: Request, _: int | None) -> Response:
        name = self._payload(request).get("name")
        if not isinstance(name, str) or not name.strip():
            return unprocessable("name is required")
        return json_response(201, {"team": self._store.create_team(name)})
