"""The integration's settings file (``aircall.yaml``), loaded and validated when definitions load.

It persists what a Daton user picks in its UI: which tables to sync, which columns of each,
how much history, how many days to re-read, when to run, and the reverse-sync destinations.
Every mistake is reported with the file name and the valid choices, before anything runs.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aircall_assets.account import Account, check_account_name
from aircall_assets.catalog import TABLES, Table, get_table
from aircall_assets.credentials import DEFAULT_API_ID_ENV, DEFAULT_API_TOKEN_ENV, env_var_name
from aircall_assets.reverse_sync.destinations import Destination

SETTINGS_ENV = "AIRCALL_SETTINGS"
START_DATE_ENV = "AIRCALL_START_DATE"
DEFAULT_SETTINGS_FILE = "aircall.yaml"
DEFAULT_HISTORY_DAYS = 180  # the API serves about six months of calls


class SettingsError(ValueError):
    """The settings file or an AIRCALL_* override is invalid; the message says how to fix it."""


class TableSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    columns: list[str] | None = Field(
        default=None, description="Columns to load; default: the Daton spec's fields."
    )


class ScheduleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = "0 3 * * *"
    timezone: str = "UTC"
    running: bool = Field(
        default=True, description="Whether the daily schedule starts running (off = paused)."
    )
    freshness_deadline_cron: str = Field(
        default="0 6 * * *",
        description="Freshness deadline: each table must have loaded in the 24 hours before.",
    )


def _today() -> date:
    return datetime.now(timezone.utc).date()


class Settings(BaseModel):
    """One account's settings: the attributes of an ``AircallComponent``, or ``aircall.yaml``
    for the default account."""

    model_config = ConfigDict(extra="forbid")

    account: str | None = Field(
        default=None,
        description="Name of the account when a code location holds several: its assets are "
        "aircall_<account>/<table>, its schema aircall_<account>. Unset: the default account "
        "(aircall/<table>, credentials from AIRCALL_API_ID and AIRCALL_API_TOKEN).",
    )
    api_id: str | None = Field(
        default=None,
        description="The environment variable of the API ID, as '{{ env.NAME }}'. Required for "
        "a named account; default AIRCALL_API_ID.",
    )
    api_token: str | None = Field(
        default=None,
        description="The environment variable of the API token, as '{{ env.NAME }}'. Required "
        "for a named account; default AIRCALL_API_TOKEN.",
    )
    base_url: str | None = Field(
        default=None,
        description="API base URL. Default: AIRCALL_API_BASE_URL for the default account, else "
        "Aircall's.",
    )
    requests_per_minute: int | None = Field(
        default=None,
        ge=0,
        description="The company's request budget per minute, shared by every process. "
        "Default: AIRCALL_REQUESTS_PER_MINUTE for the default account, else 60.",
    )
    history_start: date = Field(
        default_factory=lambda: _today() - timedelta(days=DEFAULT_HISTORY_DAYS),
        description="First daily partition; the first partition also holds older records.",
    )
    lookback_days: int = Field(default=3, ge=0, le=60)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    tables: dict[str, TableSettings] = Field(default_factory=dict)
    destinations: list[Destination] = Field(default_factory=list)

    @field_validator("account")
    @classmethod
    def _account_name(cls, value: str | None) -> str | None:
        return None if value is None else check_account_name(value)

    @field_validator("api_id", "api_token")
    @classmethod
    def _names_an_environment_variable(cls, value: str | None, info: Any) -> str | None:
        if value is not None:
            env_var_name(value, info.field_name)
        return value

    @model_validator(mode="after")
    def _named_account_has_its_credentials(self) -> Settings:
        if self.account is not None:
            missing = [k for k in ("api_id", "api_token") if getattr(self, k) is None]
            if missing:
                raise ValueError(
                    f"account '{self.account}' needs {' and '.join(missing)} naming its own "
                    f"environment variables, e.g. api_token: "
                    f"'{{{{ env.{self.account.upper()}_AIRCALL_API_TOKEN }}}}' (the AIRCALL_* "
                    "credentials are the default account's)"
                )
        return self

    @property
    def names(self) -> Account:
        """The names this account's definitions and tables take."""
        return Account(self.account)

    @property
    def api_id_env(self) -> str:
        return env_var_name(self.api_id, "api_id") if self.api_id else DEFAULT_API_ID_ENV

    @property
    def api_token_env(self) -> str:
        return env_var_name(self.api_token, "api_token") if self.api_token else DEFAULT_API_TOKEN_ENV

    @field_validator("tables")
    @classmethod
    def _known_tables_and_columns(
        cls, tables: dict[str, TableSettings]
    ) -> dict[str, TableSettings]:
        for name, table_settings in tables.items():
            get_table(name).resolve_columns(table_settings.columns)
        return tables

    @field_validator("history_start")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > _today():
            raise ValueError(f"history_start {value} is in the future")
        return value

    @model_validator(mode="after")
    def _destination_names_unique(self) -> Settings:
        names = [d.name for d in self.destinations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"destination names must be unique; repeated: {duplicates}")
        return self

    def table_settings(self, name: str) -> TableSettings:
        return self.tables.get(name, TableSettings())

    @property
    def enabled_tables(self) -> list[Table]:
        return [t for name, t in TABLES.items() if self.table_settings(name).enabled]

    def columns_for(self, table: Table) -> list[str] | None:
        return self.table_settings(table.name).columns


def settings_path() -> Path:
    return Path(os.environ.get(SETTINGS_ENV) or DEFAULT_SETTINGS_FILE)


def _start_date_override() -> date | None:
    raw = os.environ.get(START_DATE_ENV)
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        raise SettingsError(
            f"{START_DATE_ENV}='{raw}' is not a date; use YYYY-MM-DD, e.g. 2026-06-01"
        ) from None
    if value > _today():
        raise SettingsError(f"{START_DATE_ENV}={value} is in the future; today is {_today()}")
    return value


def _format_validation_error(source: str, exc: ValidationError) -> str:
    lines = [f"Invalid settings in {source}:"]
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        lines.append(f"  - {where}: {error['msg']}")
    return "\n".join(lines)


def parse_settings(data: Any, source: str = "settings") -> Settings:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError(f"{source} must be a YAML mapping, got {type(data).__name__}")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_format_validation_error(source, exc)) from None
    override = _start_date_override()
    if override is not None:
        settings = settings.model_copy(update={"history_start": override})
    return settings


def load_settings(path: Path | None = None) -> Settings:
    """Settings from ``path`` (or ``$AIRCALL_SETTINGS``, or ``./aircall.yaml``).

    A missing default file means the defaults (every table, the spec's columns); a file named
    explicitly must exist.
    """
    explicit = path is not None or bool(os.environ.get(SETTINGS_ENV))
    path = path or settings_path()
    if not path.exists():
        if explicit:
            raise SettingsError(
                f"settings file {path} does not exist (from {SETTINGS_ENV}); create it or "
                "unset the variable to use the defaults"
            )
        return parse_settings({}, "defaults")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from None
    return parse_settings(data, str(path))
