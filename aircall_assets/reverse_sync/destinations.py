"""Reverse-sync destinations as the user declares them in ``aircall.yaml``.

A destination is the Nexla spec's "Aircall destination": a source of warehouse rows and either a
pre-built template (each row one request to a known endpoint, with its required fields checked
before sending) or a manual request shape (method, path template, format, headers, exclusions,
batching). Everything is validated when definitions load, including the one rule that protects
the credentials: requests only ever go to the configured Aircall base URL. Combinations that
could not work (form bodies in a batch, a path placeholder that differs inside one batch, a
template whose required field is excluded) are refused here rather than failing row by row.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aircall_assets.account import Account
from aircall_assets.client.base_url import DEFAULT_BASE_URL

TEMPLATES = ("create_contacts", "create_users", "update_contacts", "create_records")
Method = Literal["POST", "PUT", "PATCH", "DELETE"]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SOURCE = re.compile(r"[a-z_][a-z0-9_]*(?:[./][a-z_][a-z0-9_]*)")


class Batching(BaseModel):
    """Record batching (off by default, as in the Nexla spec)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    size: int = Field(default=100, ge=1, le=10_000)
    group_by: str | None = Field(
        default=None, description="Batch rows sharing this attribute's value; by count if unset."
    )


def parse_headers(value: str | dict[str, str] | None) -> dict[str, str]:
    """``"header1:value1,header2:value2"`` (the spec's format) or a mapping → dict."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k).strip(): str(v).strip() for k, v in value.items()}
    headers = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        name, sep, val = pair.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"header '{pair}' is not 'name:value'")
        headers[name.strip()] = val.strip()
    return headers


FORBIDDEN_HEADERS = {"authorization", "host", "cookie", "proxy-authorization", "content-length"}


@dataclass(frozen=True)
class Route:
    """Where one row (or batch) goes and what a lost answer means for it.

    ``kind`` names the Aircall operation when it is one the sync knows: it decides the
    validation, whether the request can be repeated safely (``idempotent``) and how a create
    whose answer was lost is looked up (``lookup``) before anything is sent again.
    """

    method: str
    path: str  # with {field} placeholders
    kind: str  # contact_create | contact_update | user_create | tag_create | team_create | other
    idempotent: bool
    lookup: str | None  # contact_phone | user_email | tag_name | team_name


_KNOWN_POSTS: dict[str, tuple[str, str | None]] = {
    "/v1/contacts": ("contact_create", "contact_phone"),
    "/v2/users": ("user_create", "user_email"),
    "/v1/tags": ("tag_create", "tag_name"),
    "/v1/teams": ("team_create", "team_name"),
}
_CONTACT_UPDATE = re.compile(r"/v1/contacts/(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[0-9]+)")


def classify_route(method: str, path: str) -> Route:
    """The route of a request: known creates can be looked up, updates can be repeated."""
    bare = path.split("?", 1)[0].rstrip("/") or "/"
    if method in ("PUT", "PATCH", "DELETE"):
        kind = "contact_update" if _CONTACT_UPDATE.fullmatch(bare) else "other"
        return Route(method, path, kind, idempotent=True, lookup=None)
    if bare in _KNOWN_POSTS:
        kind, lookup = _KNOWN_POSTS[bare]
        return Route(method, path, kind, idempotent=False, lookup=lookup)
    if _CONTACT_UPDATE.fullmatch(bare):
        # POST /v1/contacts/:id is Aircall's contact update: repeating it sets the same values.
        return Route(method, path, "contact_update", idempotent=True, lookup=None)
    return Route(method, path, "other", idempotent=False, lookup=None)


# Fields each template sends (anything else in the row is left out and reported) and the
# fields it cannot do without.
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "contact_create": (
        "first_name",
        "last_name",
        "company_name",
        "information",
        "phone_numbers",
        "emails",
    ),
    "contact_update": (
        "first_name",
        "last_name",
        "company_name",
        "information",
        "phone_numbers",
        "emails",
    ),
    "user_create": (
        "email",
        "first_name",
        "last_name",
        "time_zone",
        "language",
        "wrap_up_time",
        "role_ids",
    ),
}
TEMPLATE_REQUIRED: dict[str, tuple[str, ...]] = {
    "contact_create": ("phone_numbers",),
    "contact_update": ("id",),
    "user_create": ("email", "first_name", "last_name"),
}


class Destination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    source: str = Field(
        description="Asset key ('aircall_reverse/unknown_callers') or table ('aircall.contacts')."
    )
    template: (
        Literal["create_contacts", "create_users", "update_contacts", "create_records"] | None
    ) = None
    resource_type: str | None = Field(
        default=None, description="For create_records: POST /v1/{resource_type}."
    )
    method: Method | None = None
    path: str | None = Field(
        default=None, description="Manual mode: path under the base URL, {field} placeholders."
    )
    content_format: Literal["json", "form"] = "json"
    headers: dict[str, str] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)
    batching: Batching = Field(default_factory=Batching)
    key: str | None = Field(
        default=None,
        description="The column that identifies a row across runs. Default: a 'key' or 'id' "
        "column; for contacts the first phone number, for users the email.",
    )

    @field_validator("headers", mode="before")
    @classmethod
    def _parse_headers(cls, value: object) -> dict[str, str]:
        headers = parse_headers(value)  # type: ignore[arg-type]
        bad = sorted(h for h in headers if h.lower() in FORBIDDEN_HEADERS)
        if bad:
            raise ValueError(f"headers {bad} cannot be set: credentials come from the resource")
        for name, val in headers.items():
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
                raise ValueError(f"header name '{name}' is not a valid HTTP header name")
            if any(c in val for c in "\r\n\0"):
                raise ValueError(f"header '{name}' has a line break in its value")
        return headers

    @field_validator("resource_type")
    @classmethod
    def _simple_resource(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError(f"resource_type '{value}' must be a plain name such as 'tags'")
        return value

    @field_validator("source")
    @classmethod
    def _source_form(cls, value: str) -> str:
        if not _SOURCE.fullmatch(value):
            raise ValueError(
                f"source '{value}' must be an asset key 'prefix/name' (e.g. "
                "aircall_reverse/unknown_callers) or a table 'schema.table' (e.g. aircall.contacts)"
            )
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> Destination:
        manual = self.method is not None or self.path is not None
        if self.template and manual:
            raise ValueError(
                f"destination '{self.name}': give either a template or method+path, not both"
            )
        if not self.template and not (self.method and self.path):
            raise ValueError(
                f"destination '{self.name}': choose a template ({', '.join(TEMPLATES)}) or set "
                "both method and path (manual mode)"
            )
        if self.template == "create_records" and not self.resource_type:
            raise ValueError(f"destination '{self.name}': create_records needs resource_type")
        if self.resource_type and self.template != "create_records":
            raise ValueError(
                f"destination '{self.name}': resource_type only applies to create_records"
            )
        if self.path is not None:
            self.path = relative_path(self.path, self.name)
            for field in _placeholders(self.path):
                if not _IDENTIFIER.fullmatch(field):
                    raise ValueError(
                        f"destination '{self.name}': placeholder {{{field}}} in path "
                        f"'{self.path}' must be a plain column name such as {{id}}"
                    )
        if self.template:
            if self.batching.enabled:
                raise ValueError(
                    f"destination '{self.name}': templates send one request per row; batching "
                    "is a manual-mode option"
                )
            if self.content_format != "json":
                raise ValueError(
                    f"destination '{self.name}': templates send JSON; content_format 'form' is "
                    "a manual-mode option"
                )
            required = TEMPLATE_REQUIRED.get(self.route.kind, ())
            excluded = sorted(set(required) & set(self.exclude))
            if excluded and self.route.kind != "contact_update":
                raise ValueError(
                    f"destination '{self.name}': {self.template} requires {excluded}, which "
                    "'exclude' removes"
                )
        if self.batching.enabled:
            self._check_batching()
        return self

    def _check_batching(self) -> None:
        if self.content_format == "form":
            raise ValueError(
                f"destination '{self.name}': a batch is sent as a JSON array; form content "
                "cannot carry one. Use content_format: json or turn batching off."
            )
        if self.method == "DELETE":
            raise ValueError(f"destination '{self.name}': DELETE requests carry no batch body")
        group_by = self.batching.group_by
        stray = sorted(set(self.placeholders) - {group_by})
        if stray:
            raise ValueError(
                f"destination '{self.name}': with batching, rows of one batch share one URL, so "
                f"path placeholders must be the batching group_by attribute; {stray} "
                + ("is not" if group_by else "needs batching.group_by")
            )

    @property
    def placeholders(self) -> list[str]:
        return _placeholders(self.route.path)

    @property
    def asset_key(self) -> dg.AssetKey:
        """The asset whose materializations trigger this destination's sync."""
        return dg.AssetKey(re.split(r"[./]", self.source))

    @property
    def table(self) -> tuple[str, str]:
        """(schema, table) of the source rows in the warehouse."""
        schema, table = re.split(r"[./]", self.source)
        return schema, table

    @property
    def route(self) -> Route:
        """The request every row goes to (templates resolve to their Aircall endpoint)."""
        if self.template == "create_contacts" or (
            self.template == "create_records" and self.resource_type == "contacts"
        ):
            return classify_route("POST", "/v1/contacts")
        if self.template == "create_users" or (
            self.template == "create_records" and self.resource_type == "users"
        ):
            return classify_route("POST", "/v2/users")
        if self.template == "update_contacts":
            return classify_route("POST", "/v1/contacts/{id}")
        if self.template == "create_records":
            return classify_route("POST", f"/v1/{self.resource_type}")
        assert self.method and self.path
        return classify_route(self.method, self.path)

    @property
    def templated_fields(self) -> tuple[str, ...] | None:
        """The only fields a template sends; None means every (non-excluded) column."""
        if not self.template:
            return None
        return TEMPLATE_FIELDS.get(self.route.kind)


# The schemas every account's definitions take are ``aircall`` or start with ``aircall_``
# (``account.py``): a source there is some account's table, whose account must be its own.
INTEGRATION_SCHEMA = "aircall"


def _owner(schema: str) -> tuple[str | None, str] | None:
    """(account name or None for the default, part) of an account's schema, else None.

    An account's name cannot end in ``reverse`` or ``sync``, so the part is unambiguous."""
    if schema != INTEGRATION_SCHEMA and not schema.startswith(INTEGRATION_SCHEMA + "_"):
        return None
    rest = schema.removeprefix(INTEGRATION_SCHEMA).removeprefix("_")
    for part in ("reverse", "sync"):
        if rest == part or rest.endswith("_" + part):
            return (rest.removesuffix(part).removesuffix("_") or None), part
    return (rest or None), "extract"


def foreign_sources(destinations: Sequence[Destination], account: Account) -> list[tuple[int, str]]:
    """(index, what is wrong) of each destination whose source is a table of another account.

    Each account sends with its own credentials to its own company: a source in another
    account's schema would push that account's rows (its callers, its contacts) into this one's
    company. Sources outside the integration's schemas (``crm.leads``) are the user's own tables
    and stay allowed. A source written with the default account's names in a named account
    (``aircall.contacts`` in account eu) is refused too, not mapped, with the name it most
    likely meant: mapped, one name would read different tables in different accounts'
    settings, and a destination copied from the default account's file would change meaning
    without a word.
    """
    own = {
        "extract": account.extract_schema,
        "reverse": account.reverse_schema,
        "sync": account.sync_schema,
    }
    found = []
    for index, destination in enumerate(destinations):
        schema, table = destination.table
        owner = _owner(schema)
        if owner is None or schema in own.values():
            continue
        name, part = owner
        separator = destination.source[len(schema)]
        meant = f"{own[part]}{separator}{table}"
        found.append(
            (
                index,
                f"'{destination.source}' is a table of {_label(name)}, not of "
                f"{_label(account.name)}, which sends to its own Aircall company only: its "
                f"destinations read its own schemas ({', '.join(own.values())}) or tables "
                f"outside the aircall schemas; did you mean '{meant}'?",
            )
        )
    return found


def _label(account_name: str | None) -> str:
    return f"account '{account_name}'" if account_name else "the default account"


def _placeholders(path: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(path) if f is not None and f != ""]


def relative_path(path: str, destination: str) -> str:
    """A manual URL as a path under the Aircall base; a foreign host is refused.

    Credentials are attached to every request, so an absolute URL to another host (or to
    plain http) would leak them; only the configured base is accepted.
    """
    base = urlsplit(os.environ.get("AIRCALL_API_BASE_URL") or DEFAULT_BASE_URL)
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith("//"):
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise ValueError(
                f"destination '{destination}': URL '{path}' points at "
                f"{parts.scheme}://{parts.netloc}, not the Aircall base "
                f"{base.scheme}://{base.netloc}; the credentials are only ever sent to Aircall. "
                "Give a path such as /v1/contacts/{id}."
            )
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"destination '{destination}': path '{path}' must start with one /")
    if "@" in path.split("?", 1)[0] or "\\" in path:
        raise ValueError(f"destination '{destination}': path '{path}' has a forbidden character")
    try:
        list(string.Formatter().parse(path))
    except ValueError as exc:
        raise ValueError(f"destination '{destination}': path '{path}': {exc}") from None
    return path
