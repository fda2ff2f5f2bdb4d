"""One Aircall company of a code location, and every name its definitions and tables take.

A code location may hold several accounts (regions, brands, an agency's clients), each built
from its own settings. Their asset keys, warehouse schemas, resource keys and job, schedule and
sensor names all come from here, so two accounts never collide and the default (unnamed)
account keeps the names it has always had: ``aircall/<table>``, schema ``aircall``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dagster as dg

ACCOUNT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
# An account named so would take the schema of another one's reverse sync, state or analytics.
RESERVED_ENDINGS = ("reverse", "sync", "analytics")


def check_account_name(name: str) -> str:
    """``name`` if it can name an account, else a ValueError saying which names can."""
    if not ACCOUNT_NAME.match(name):
        raise ValueError(
            f"account {name!r} cannot name warehouse schemas and Dagster keys: use lowercase "
            "letters, digits and underscores, starting with a letter (at most 30), e.g. 'eu'"
        )
    if name.rstrip("_").split("_")[-1] in RESERVED_ENDINGS:
        raise ValueError(
            f"account {name!r} ends with '{name.split('_')[-1]}', which would take the schema "
            "of another account's reverse sync, sync state or analytics; choose another name"
        )
    return name


@dataclass(frozen=True)
class Account:
    """The names of one account's definitions; ``name=None`` is the default account."""

    name: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None:
            check_account_name(self.name)

    @property
    def label(self) -> str:
        """How people are shown the account (``make status``, logs)."""
        return self.name or "default"

    def suffixed(self, base: str) -> str:
        """A job, schedule, sensor or resource name of this account: ``base`` for the default
        account, ``base_<name>`` for a named one."""
        return base if self.name is None else f"{base}_{self.name}"

    def _schema(self, part: str | None = None) -> str:
        return "_".join(p for p in ("aircall", self.name, part) if p)

    @property
    def extract_schema(self) -> str:
        """Schema, asset key prefix and group of the extract tables: ``aircall``, ``aircall_eu``."""
        return self._schema()

    @property
    def reverse_schema(self) -> str:
        """Schema, key prefix and group of the reverse sync's sources: ``aircall_reverse``,
        ``aircall_eu_reverse``."""
        return self._schema("reverse")

    @property
    def sync_schema(self) -> str:
        """Schema of the reverse sync's state and responses: ``aircall_sync``, ``aircall_eu_sync``.
        (The request budget is per company, not per account: it stays in ``aircall_sync``.)"""
        return self._schema("sync")

    @property
    def analytics_schema(self) -> str:
        """Schema, key prefix and group of the tables built in SQL on the extract tables:
        ``aircall_analytics``, ``aircall_eu_analytics``."""
        return self._schema("analytics")

    def extract_key(self, table: str) -> dg.AssetKey:
        return dg.AssetKey([self.extract_schema, table])

    def reverse_key(self, table: str) -> dg.AssetKey:
        return dg.AssetKey([self.reverse_schema, table])

    def sync_key(self, table: str) -> dg.AssetKey:
        return dg.AssetKey([self.sync_schema, table])

    def analytics_key(self, table: str) -> dg.AssetKey:
        return dg.AssetKey([self.analytics_schema, table])

    @property
    def aircall_resource_key(self) -> str:
        return self.suffixed("aircall")

    @property
    def io_manager_key(self) -> str:
        return self.suffixed("warehouse_io_manager")


DEFAULT_ACCOUNT = Account()
