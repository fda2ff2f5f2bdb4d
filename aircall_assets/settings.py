"""The integration's settings file (``aircall.yaml``), loaded and validated when definitions load.

It persists what a Daton user picks in its UI: which tables to sync, which columns of each,
how much history, how many days to re-read, when to run, and the reverse-sync destinations.
Every mistake (a cron or timezone Dagster would refuse included) is reported before anything
runs, one line each with the file and the key, and a misspelt name gets the closest valid one
suggested (see ``settings_errors.py``). Nothing depends on the day the settings load: the
history start is written down, never derived from today.
"""

from __future__ import annotations

import os
import zoneinfo
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from dagster._utils.schedules import get_smallest_cron_interval, is_valid_cron_string
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from aircall_assets.account import Account, check_account_name
from aircall_assets.catalog import (
    CALLS,
    CHILD_PARENTS,
    INSIGHTS,
    TABLES,
    Table,
    secret_column_message,
)
from aircall_assets.credentials import DEFAULT_API_ID_ENV, DEFAULT_API_TOKEN_ENV, env_var_name
from aircall_assets.reverse_sync.destinations import Destination, foreign_sources
from aircall_assets.settings_errors import Loc, closest, describe, joined, problems, suggestion
from aircall_assets.strict_yaml import read_yaml

SETTINGS_ENV = "AIRCALL_SETTINGS"
START_DATE_ENV = "AIRCALL_START_DATE"
DEFAULT_SETTINGS_FILE = "aircall.yaml"
# The project of this code location: the folder of pyproject.toml (for an editable install or a
# checkout; a wheel installed into site-packages has no settings file there).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Each table must have loaded in this window before every freshness deadline.
FRESHNESS_WINDOW = timedelta(hours=24)
# Models refuse unknown keys and keep the values they refuse out of error texts (a value
# may be a credential written in the wrong place).
STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True)


class SettingsError(ValueError):
    """The settings file or an AIRCALL_* override is invalid; the message says how to fix it."""


class TableSettings(BaseModel):
    model_config = STRICT

    enabled: bool = True
    columns: list[str] | None = Field(
        default=None, description="Columns to load; default: the Daton spec's fields."
    )


class ScheduleSettings(BaseModel):
    model_config = STRICT

    cron: str = "0 3 * * *"
    timezone: str = "UTC"
    running: bool = Field(
        default=True, description="Whether the daily schedule starts running (off = paused)."
    )
    freshness_deadline_cron: str = Field(
        default="0 6 * * *",
        description="Freshness deadline: each table must have loaded in the 24 hours before.",
    )

    @field_validator("cron", "freshness_deadline_cron")
    @classmethod
    def _dagster_accepts_the_cron(cls, value: str) -> str:
        if not is_valid_cron_string(value):
            raise ValueError(
                f"'{value}' is not a cron Dagster accepts: five fields (minute hour "
                "day-of-month month day-of-week) on real dates, e.g. '0 3 * * *' for 03:00 "
                "every day"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _iana_timezone(cls, value: str) -> str:
        if value in _timezones():
            return value
        city = {name.rsplit("/", 1)[-1]: name for name in _timezones()}
        guess = closest(value, _timezones()) or city.get(closest(value, city, 0.8) or "")
        raise ValueError(
            f"'{value}' is not an IANA timezone name"
            + (f"; did you mean '{guess}'?" if guess else ", e.g. 'UTC' or 'Europe/Paris'")
        )

    @model_validator(mode="after")
    def _deadlines_a_window_apart(self) -> ScheduleSettings:
        gap = _smallest_gap(self.freshness_deadline_cron)
        if gap < FRESHNESS_WINDOW:
            raise problems(
                [
                    (
                        ("freshness_deadline_cron",),
                        f"'{self.freshness_deadline_cron}' sets deadlines {gap} apart; each "
                        "asks for a load in the 24 hours before it, so deadlines must be at "
                        "least a day apart, e.g. '0 6 * * *'",
                    )
                ]
            )
        return self


class ConversationIntelligenceSettings(BaseModel):
    """Which AI results to read (Aircall's AI package). Each costs one request per call of the
    range from the company's shared budget, so each is off until chosen."""

    model_config = STRICT

    transcription: bool = False
    sentiments: bool = False
    topics: bool = False
    summary: bool = False

    @property
    def chosen(self) -> tuple[str, ...]:
        """The enabled results, in catalog order (``INSIGHTS``)."""
        return tuple(name for name in INSIGHTS if getattr(self, name))


class RecordingSettings(BaseModel):
    """Archiving the calls' recordings and voicemails before their signed links expire."""

    model_config = STRICT

    enabled: bool = False
    max_failure_share: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="The run fails when more than this share of a range's recordings could "
        "not be archived; below it, each failure is a row with its reason.",
    )


@cache
def _smallest_gap(cron: str) -> timedelta:
    """As Dagster measures it for a freshness policy (in UTC, by sampling ticks)."""
    return get_smallest_cron_interval(cron)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _today() -> date:
    return datetime.now(timezone.utc).date()


def suggested_history_start(today: date) -> date:
    """The history start to propose: the first whole month Aircall still serves calls for."""
    oldest = CALLS.oldest_served_day(today) or today
    if oldest.day == 1:
        return oldest
    return date(oldest.year + oldest.month // 12, oldest.month % 12 + 1, 1)


def history_start_hint() -> str:
    """What to write when no history start is given."""
    example = suggested_history_start(_today()).isoformat()
    return (
        f"the first day to load, e.g. 'history_start: {example}' (Aircall serves about six "
        f"months of calls), or set {START_DATE_ENV}={example}; it is never derived from today, "
        "so the partitions stay where they are"
    )


class Settings(BaseModel):
    """One account's settings: the attributes of an ``AircallComponent``, or ``aircall.yaml``
    for the default account."""

    model_config = STRICT

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
        description="First daily partition (required: a default derived from today would move "
        "the partitions every day); the first partition also holds older records.",
    )
    lookback_days: int = Field(default=3, ge=0, le=60)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    tables: dict[str, TableSettings] = Field(default_factory=dict)
    destinations: list[Destination] = Field(default_factory=list)
    conversation_intelligence: ConversationIntelligenceSettings = Field(
        default_factory=ConversationIntelligenceSettings
    )
    recordings: RecordingSettings = Field(default_factory=RecordingSettings)

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
    def _features_downstream_of_calls_have_them(self) -> Settings:
        """Recordings and AI results are read for the stored calls: refused at load, not at
        the first run, when the account does not store the calls (or their links)."""
        found = []
        calls = self.table_settings(CALLS.name)
        wanted = [
            (("recordings", "enabled"), "archiving recordings")
            if self.recordings.enabled
            else None,
            *(
                (("conversation_intelligence", name), f"conversation_intelligence.{name}")
                for name in self.conversation_intelligence.chosen
            ),
        ]
        for loc, what in filter(None, wanted):
            if not calls.enabled:
                found.append(
                    (
                        loc,
                        f"{what} works on the stored calls, but tables.calls.enabled is "
                        "false: enable calls, or turn this off",
                    )
                )
        selected = set(CALLS.default_columns if calls.columns is None else calls.columns)
        if self.recordings.enabled and calls.enabled and not {"recording", "voicemail"} & selected:
            found.append(
                (
                    ("recordings", "enabled"),
                    "archiving recordings needs the calls' links: add recording and "
                    "voicemail to tables.calls.columns, or turn recordings off",
                )
            )
        if found:
            raise problems(found)
        return self

    @model_validator(mode="after")
    def _named_account_has_its_credentials(self) -> Settings:
        if self.account is not None:
            missing = [k for k in ("api_id", "api_token") if getattr(self, k) is None]
            if missing:
                raise problems(
                    [
                        (
                            (key,),
                            f"required for account '{self.account}': name its own environment "
                            f"variable, e.g. {key}: "
                            f"'{{{{ env.{self.account.upper()}_AIRCALL_{key.upper()} }}}}' (the "
                            "AIRCALL_* credentials are the default account's)",
                        )
                        for key in missing
                    ]
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
        return (
            env_var_name(self.api_token, "api_token") if self.api_token else DEFAULT_API_TOKEN_ENV
        )

    @field_validator("tables", mode="wrap")
    @classmethod
    def _known_tables_and_columns(
        cls, value: Any, handler: ValidatorFunctionWrapHandler
    ) -> dict[str, TableSettings]:
        # The names are checked on the raw mapping, so that a misspelt table or column is
        # reported together with any other mistake in the tables, not after it is fixed.
        found = _unknown_tables_and_columns(value)
        try:
            tables = handler(value)
        except ValidationError as exc:
            raise joined(exc, found) from None
        if found:
            raise problems(found)
        return tables

    @field_validator("history_start")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        today = _today()
        if value > today:
            raise ValueError(
                f"{value} is in the future (today is {today} UTC): the first day to load must "
                f"have begun, e.g. {suggested_history_start(today)}"
            )
        return value

    @field_validator("destinations")
    @classmethod
    def _destination_names_unique(cls, destinations: list[Destination]) -> list[Destination]:
        first: dict[str, int] = {}
        found = []
        for i, destination in enumerate(destinations):
            if destination.name in first:
                found.append(
                    (
                        (i, "name"),
                        f"'{destination.name}' is already the name of destinations."
                        f"{first[destination.name]}; destination names must be unique",
                    )
                )
            first.setdefault(destination.name, i)
        if found:
            raise problems(found)
        return destinations

    @field_validator("destinations")
    @classmethod
    def _destinations_read_their_own_account(
        cls, destinations: list[Destination], info: Any
    ) -> list[Destination]:
        if "account" not in info.data:
            return destinations  # the account's own mistake is what is reported
        found = foreign_sources(destinations, Account(info.data["account"]))
        if found:
            raise problems([((index, "source"), message) for index, message in found])
        return destinations

    def table_settings(self, name: str) -> TableSettings:
        return self.tables.get(name, TableSettings())

    @property
    def enabled_tables(self) -> list[Table]:
        return [t for name, t in TABLES.items() if self.table_settings(name).enabled]

    def columns_for(self, table: Table) -> list[str] | None:
        return self.table_settings(table.name).columns


def _unknown_tables_and_columns(tables: Any) -> list[tuple[Loc, str]]:
    """Each table name and selected column of ``tables`` (as written) the catalog lacks."""
    found: list[tuple[Loc, str]] = []
    for name, entry in tables.items() if isinstance(tables, dict) else ():
        table = TABLES.get(name)
        parent = CHILD_PARENTS.get(name)
        if parent is not None:
            found.append(
                (
                    (name,),
                    f"{name} is written with its parent table {parent}, in the same "
                    f"transaction; enable, disable or select columns of {parent} instead",
                )
            )
            continue
        if table is None:
            found.append(((name,), "unknown table" + suggestion(str(name), list(TABLES), "tables")))
            continue
        columns = entry.get("columns") if isinstance(entry, dict) else None
        for column in columns if isinstance(columns, list) else ():
            if column in table.secret_fields:
                found.append(((name, "columns"), secret_column_message(table, column)))
            elif isinstance(column, str) and column not in table.field_names:
                found.append(
                    (
                        (name, "columns"),
                        f"unknown column '{column}' of table {name}"
                        + suggestion(column, table.field_names, "columns", list_all=True),
                    )
                )
    return found


def settings_path() -> Path:
    """The settings file: ``$AIRCALL_SETTINGS``, else ``aircall.yaml`` of the project.

    The project's file is the one next to ``pyproject.toml``, wherever a command starts
    (``python -m aircall_assets status``, ``dagster dev`` from another folder read the same
    one). A relative ``AIRCALL_SETTINGS`` is relative to the working directory, as any path
    given in an environment variable.
    """
    explicit = os.environ.get(SETTINGS_ENV)
    return Path(explicit) if explicit else PROJECT_ROOT / DEFAULT_SETTINGS_FILE


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


def parse_settings(data: Any, source: str = "settings") -> Settings:
    """Settings from a mapping: a parsed ``aircall.yaml``, or a component's attributes.

    ``source`` (the file the mapping was read from) starts every line of the SettingsError,
    one line per mistake with its key. ``AIRCALL_START_DATE`` replaces the default account's
    history start (and stands in for it when the mapping has none); a named account's is in
    its own settings only, like its credentials.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"{source}: must be a YAML mapping of settings (such as 'history_start: "
            f"{suggested_history_start(_today())}'), got {type(data).__name__}"
        )
    override = None if data.get("account") else _start_date_override()
    if override is not None and "history_start" not in data:
        data = {**data, "history_start": override.isoformat()}
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(
            describe(exc, Settings, source, when_missing={"history_start": history_start_hint()})
        ) from None
    if override is not None:
        settings = settings.model_copy(update={"history_start": override})
    return settings


def load_settings(path: Path | None = None) -> Settings:
    """Settings from ``path``, else the file of :func:`settings_path`.

    A missing project file means every setting's default (and so a history start from
    ``AIRCALL_START_DATE``); a file named explicitly must exist.
    """
    given = path is not None
    path = path or settings_path()
    if not path.exists():
        if given:
            raise SettingsError(f"{path}: no such settings file")
        if os.environ.get(SETTINGS_ENV):
            raise SettingsError(
                f"{path}: no such settings file (named by {SETTINGS_ENV}); create it, or unset "
                "the variable to use the project's"
            )
        return parse_settings({}, f"{path} (no such file, so every setting's default)")
    try:
        data = read_yaml(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    return parse_settings(data, str(path))
