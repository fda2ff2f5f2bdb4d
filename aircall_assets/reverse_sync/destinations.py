"""Reverse-sync destinations as the user declares them in ``aircall.yaml``.

A destination is the Nexla spec's "Aircall destination": a source of warehouse rows and either a
pre-built template (each row one request to a known endpoint, with its required fields checked
before sending) or a manual request shape (method, path template, format, headers, exclusions,
batching). Everything is validated when definitions load, including the one rule that protects
the credentials: requests only ever go to the configured Aircall base URL.
"""

from __future__ import annotations

import os
import re
import string
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aircall_assets.client import DEFAULT_BASE_URL

TEMPLATES = ("create_contacts", "create_users", "update_contacts", "create_records")
Method = Literal["POST", "PUT", "PATCH", "DELETE"]


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


FORBIDDEN_HEADERS = {"authorization", "host", "cookie", "proxy-authorization"}


class Destination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    source: str = Field(
        description="Asset key ('aircall_reverse/unknown_callers') or table ('aircall.contacts')."
    )
    template: Literal[
        "create_contacts", "create_users", "update_contacts", "create_records"
    ] | None = None
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
    key: str = Field(default="id", description="The field that identifies a row.")

    @field_validator("headers", mode="before")
    @classmethod
    def _parse_headers(cls, value: object) -> dict[str, str]:
        headers = parse_headers(value)  # type: ignore[arg-type]
        bad = sorted(h for h in headers if h.lower() in FORBIDDEN_HEADERS)
        if bad:
            raise ValueError(f"headers {bad} cannot be set: credentials come from the resource")
        return headers

    @field_validator("resource_type")
    @classmethod
    def _simple_resource(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError(f"resource_type '{value}' must be a plain name such as 'tags'")
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
        if self.path is not None:
            self.path = relative_path(self.path, self.name)
        if self.batching.enabled and self.template:
            raise ValueError(
                f"destination '{self.name}': templates send one request per row; batching is "
                "a manual-mode option"
            )
        return self

    @property
    def placeholders(self) -> list[str]:
        if not self.path:
            return []
        return [f for _, f, _, _ in string.Formatter().parse(self.path) if f]


def relative_path(path: str, destination: str) -> str:
    """A manual URL as a path under the Aircall base; a foreign host is refused.

    Credentials are attached to every request, so an absolute URL to another host (or to
    plain http) would leak them; only the configured base is accepted.
    """
    base = urlsplit(os.environ.get("AIRCALL_API_BASE_URL") or DEFAULT_BASE_URL)
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise ValueError(
                f"destination '{destination}': URL '{path}' points at "
                f"{parts.scheme}://{parts.netloc}, not the Aircall base "
                f"{base.scheme}://{base.netloc}; the credentials are only ever sent to Aircall. "
                "Give a path such as /v1/contacts/{id}."
            )
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/"):
        raise ValueError(f"destination '{destination}': path '{path}' must start with /")
    return path
