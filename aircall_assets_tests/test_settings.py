"""Settings that never surprise: each mistake one line with the file and the key, the closest
valid name suggested, crons and timezones checked as Dagster will, a history start that is
written down, and the project's file whatever the working directory."""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster._time import get_timezone

from aircall_assets.catalog import CALLS
from aircall_assets.settings import (
    PROJECT_ROOT,
    SettingsError,
    history_start_hint,
    load_settings,
    parse_settings,
    settings_path,
    suggested_history_start,
)
from aircall_assets.simulator.config import utc_today

REPO_SETTINGS = Path(__file__).resolve().parents[1] / "aircall.yaml"
START = "2026-06-01"
SOURCE = "conf/aircall.yaml"


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRCALL_START_DATE", raising=False)
    monkeypatch.delenv("AIRCALL_SETTINGS", raising=False)


def mistakes(data: object) -> list[str]:
    """The lines of the error ``data`` is refused with (as read from ``SOURCE``)."""
    with pytest.raises(SettingsError) as info:
        parse_settings(data, SOURCE)
    return str(info.value).splitlines()


def test_defaults_enable_every_table_with_seed_columns():
    settings = parse_settings({"history_start": START})
    assert len(settings.enabled_tables) == 9
    assert settings.lookback_days == 3
    assert settings.columns_for(settings.enabled_tables[0]) is None
    assert settings.history_start == date(2026, 6, 1)


def test_the_history_start_is_required_and_the_message_says_what_to_write():
    example = suggested_history_start(utc_today())
    assert mistakes({}) == [
        f"{SOURCE}: history_start: required: the first day to load, e.g. "
        f"'history_start: {example}' (Aircall serves about six months of calls), or set "
        f"AIRCALL_START_DATE={example}; it is never derived from today, so the partitions stay "
        "where they are"
    ]


@pytest.mark.parametrize(
    ("today", "proposed"),
    [
        (date(2026, 12, 1), date(2026, 7, 1)),  # 180 days back is 2026-06-04: next month
        (date(2026, 11, 28), date(2026, 6, 1)),  # 180 days back is a first of the month
        (date(2027, 6, 15), date(2027, 1, 1)),  # 2026-12-17: the next month is in 2027
    ],
)
def test_the_proposed_history_start_is_the_first_whole_month_still_served(today, proposed):
    assert suggested_history_start(today) == proposed
    assert CALLS.oldest_served_day(today) <= proposed


def test_start_date_variable_stands_in_for_a_missing_history_start(monkeypatch):
    monkeypatch.setenv("AIRCALL_START_DATE", "2026-07-01")
    assert parse_settings({}).history_start == date(2026, 7, 1)


def test_start_date_override(monkeypatch):
    monkeypatch.setenv("AIRCALL_START_DATE", "2026-07-01")
    assert parse_settings({"history_start": START}).history_start == date(2026, 7, 1)


def test_an_overridden_history_start_is_still_checked(monkeypatch):
    monkeypatch.setenv("AIRCALL_START_DATE", "2026-07-01")
    assert mistakes({"history_start": "June"}) == [
        f"{SOURCE}: history_start: not a date; write it as YYYY-MM-DD"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("07/01/2026", "AIRCALL_START_DATE='07/01/2026' is not a date; use YYYY-MM-DD, e.g. "),
        ("2999-01-01", "AIRCALL_START_DATE=2999-01-01 is in the future; today is "),
    ],
)
def test_bad_start_date_override(monkeypatch, value, message):
    monkeypatch.setenv("AIRCALL_START_DATE", value)
    with pytest.raises(SettingsError, match=f"^{message}"):
        parse_settings({"history_start": START})


def test_history_start_in_future_rejected():
    today = utc_today()
    future = today + timedelta(days=10)
    assert mistakes({"history_start": future.isoformat()}) == [
        f"{SOURCE}: history_start: {future} is in the future (today is {today} UTC): the first "
        f"day to load must have begun, e.g. {suggested_history_start(today)}"
    ]


def test_misspelt_keys_at_every_level_get_the_closest_one():
    assert mistakes(
        {
            "history_start": START,
            "lookback_day": 3,
            "schedule": {"timezon": "UTC"},
            "tables": {"calls": {"enable": False}},
            "destinations": [{"name": "d", "source": "crm.people", "templat": "create_contacts"}],
        }
    ) == [
        f"{SOURCE}: schedule.timezon: unknown key; did you mean 'timezone'?",
        f"{SOURCE}: tables.calls.enable: unknown key; did you mean 'enabled'?",
        f"{SOURCE}: destinations.0.templat: unknown key; did you mean 'template'?",
        f"{SOURCE}: lookback_day: unknown key; did you mean 'lookback_days'?",
    ]


def test_an_unknown_key_like_no_valid_one_lists_the_keys_there():
    assert mistakes({"history_start": START, "schedule": {"when": "daily"}}) == [
        f"{SOURCE}: schedule.when: unknown key; valid keys here: cron, timezone, running, "
        "freshness_deadline_cron"
    ]


def test_unknown_table_and_columns_each_get_a_line_with_a_suggestion():
    assert mistakes(
        {
            "history_start": START,
            "tables": {"cals": {"enabled": True}, "calls": {"columns": ["id", "startd_at"]}},
        }
    ) == [
        f"{SOURCE}: tables.cals: unknown table; did you mean 'calls'?",
        f"{SOURCE}: tables.calls.columns: unknown column 'startd_at' of table calls; did you "
        "mean 'started_at'?",
    ]


def test_a_column_like_no_valid_one_lists_the_columns_and_a_table_the_tables():
    assert mistakes(
        {"history_start": START, "tables": {"voicemails": {}, "calls": {"columns": ["xyz"]}}}
    ) == [
        f"{SOURCE}: tables.voicemails: unknown table; valid tables: users, tags, numbers, teams, "
        "contacts, calls, company_info, user_availability, webhooks",
        f"{SOURCE}: tables.calls.columns: unknown column 'xyz' of table calls; valid columns: "
        + ", ".join(CALLS.field_names),
    ]


def test_a_child_table_is_named_with_the_parent_that_writes_it():
    assert mistakes({"history_start": START, "tables": {"call_tag": {"enabled": False}}}) == [
        f"{SOURCE}: tables.call_tag: call_tag is written with its parent table calls, in the "
        "same transaction; enable, disable or select columns of calls instead"
    ]


def test_names_are_checked_even_where_the_shape_around_them_is_wrong():
    assert mistakes(
        {"history_start": START, "tables": {"calls": {"columns": ["durration"], "enabled": "?"}}}
    ) == [
        f"{SOURCE}: tables.calls.enabled: must be true or false",
        f"{SOURCE}: tables.calls.columns: unknown column 'durration' of table calls; did you "
        "mean 'duration'?",
    ]


@pytest.mark.parametrize(
    ("timezone", "message"),
    [
        (
            "Mars/Olympus",
            "'Mars/Olympus' is not an IANA timezone name, e.g. 'UTC' or 'Europe/Paris'",
        ),
        (
            "europe/paris",
            "'europe/paris' is not an IANA timezone name; did you mean 'Europe/Paris'?",
        ),
        ("Berlin", "'Berlin' is not an IANA timezone name; did you mean 'Europe/Berlin'?"),
    ],
)
def test_a_timezone_dagster_would_refuse_is_a_settings_error(timezone, message):
    assert mistakes({"history_start": START, "schedule": {"timezone": timezone}}) == [
        f"{SOURCE}: schedule.timezone: {message}"
    ]


def test_every_timezone_accepted_is_one_dagster_accepts():
    for name in sorted(zoneinfo.available_timezones()):
        assert parse_settings({"history_start": START, "schedule": {"timezone": name}})
        get_timezone(name)


@pytest.mark.parametrize("key", ["cron", "freshness_deadline_cron"])
@pytest.mark.parametrize("cron", ["0 3 * *", "0 3 * * * *", "61 3 * * *", "0 0 30 2 *", "daily"])
def test_a_cron_dagster_would_refuse_is_a_settings_error(key, cron):
    assert mistakes({"history_start": START, "schedule": {key: cron}}) == [
        f"{SOURCE}: schedule.{key}: '{cron}' is not a cron Dagster accepts: five fields (minute "
        "hour day-of-month month day-of-week) on real dates, e.g. '0 3 * * *' for 03:00 every "
        "day"
    ]


def test_freshness_deadlines_less_than_a_day_apart_are_refused():
    assert mistakes(
        {"history_start": START, "schedule": {"freshness_deadline_cron": "0 6,18 * * *"}}
    ) == [
        f"{SOURCE}: schedule.freshness_deadline_cron: '0 6,18 * * *' sets deadlines 12:00:00 "
        "apart; each asks for a load in the 24 hours before it, so deadlines must be at least "
        "a day apart, e.g. '0 6 * * *'"
    ]


def test_a_schedule_that_is_no_mapping_lists_its_keys():
    assert mistakes({"history_start": START, "schedule": "daily"}) == [
        f"{SOURCE}: schedule: must be a mapping of cron, timezone, running, freshness_deadline_cron"
    ]


def test_destination_choices_and_names():
    source = {"source": "crm.people"}
    assert mistakes(
        {
            "history_start": START,
            "destinations": [
                {"name": "d", **source, "template": "create_contact"},
                {"name": "e", **source, "method": "GET", "path": "/v1/x"},
            ],
        }
    ) == [
        f"{SOURCE}: destinations.0.template: 'create_contact' is not a valid choice; did you "
        "mean 'create_contacts'?",
        f"{SOURCE}: destinations.1.method: 'GET' is not a valid choice; valid choices: POST, "
        "PUT, PATCH, DELETE",
    ]
    assert mistakes(
        {
            "history_start": START,
            "destinations": [
                {"name": "d", **source, "template": "create_contacts"},
                {"name": "d", **source, "template": "create_users"},
            ],
        }
    ) == [
        f"{SOURCE}: destinations.1.name: 'd' is already the name of destinations.0; "
        "destination names must be unique"
    ]


def test_a_named_account_without_its_credentials_is_told_each_key():
    assert mistakes({"history_start": START, "account": "eu"}) == [
        f"{SOURCE}: {key}: required for account 'eu': name its own environment variable, e.g. "
        f"{key}: '{{{{ env.EU_AIRCALL_{key.upper()} }}}}' (the AIRCALL_* credentials are the "
        "default account's)"
        for key in ("api_id", "api_token")
    ]


def test_a_refused_value_is_never_repeated():
    secret = "sk-live-4d1f9e"
    text = "\n".join(
        mistakes({"history_start": START, "api_token": secret, "lookback_days": secret})
    )
    assert secret not in text
    assert f"{SOURCE}: lookback_days: must be a whole number" in text.splitlines()


def test_a_file_that_is_no_mapping(tmp_path):
    path = tmp_path / "aircall.yaml"
    path.write_text("- calls\n- users\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value) == (
        f"{path}: must be a YAML mapping of settings (such as 'history_start: "
        f"{suggested_history_start(utc_today())}'), got list"
    )


def test_an_empty_file_needs_its_history_start(tmp_path):
    path = tmp_path / "aircall.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: history_start: required: {history_start_hint()}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tables: [unclosed\n",
            "line 2, column 1: not valid YAML: expected ',' or ']', but got '<stream end>', "
            "while parsing a flow sequence (line 1, column 9)",
        ),
        (
            f"history_start: {START}\nlookback_days: 3\nlookback_days: 5\n",
            "line 3, column 1: not valid YAML: key 'lookback_days' is written twice (lines 2 "
            "and 3); keep one",
        ),
        (
            f"history_start: {START}\ntables:\n  calls: {{enabled: true}}\n  calls: {{}}\n",
            "line 4, column 3: not valid YAML: key 'calls' is written twice (lines 3 and 4); "
            "keep one",
        ),
    ],
)
def test_yaml_mistakes_are_one_line_that_says_where(tmp_path, text, message):
    path = tmp_path / "aircall.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: {message}"


def test_explicit_missing_file_is_an_error(tmp_path, monkeypatch):
    missing = tmp_path / "missing.yaml"
    monkeypatch.setenv("AIRCALL_SETTINGS", str(missing))
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value) == (
        f"{missing}: no such settings file (named by AIRCALL_SETTINGS); create it, or unset the "
        "variable to use the project's"
    )
    with pytest.raises(SettingsError) as info:
        load_settings(missing)
    assert str(info.value) == f"{missing}: no such settings file"


def test_the_project_file_is_read_whatever_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "aircall.yaml").write_text("history_start: 2026-09-01\nlookback_days: 9\n")
    monkeypatch.chdir(tmp_path)
    assert settings_path() == REPO_SETTINGS == PROJECT_ROOT / "aircall.yaml"
    assert (PROJECT_ROOT / "pyproject.toml").is_file()
    assert load_settings() == load_settings(REPO_SETTINGS)


def test_a_relative_settings_variable_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mine.yaml").write_text("history_start: 2026-09-01\nlookback_days: 9\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIRCALL_SETTINGS", "conf/mine.yaml")
    assert load_settings().lookback_days == 9


def test_shipped_settings_file_is_valid():
    settings = load_settings(REPO_SETTINGS)
    assert {t.name for t in settings.enabled_tables} >= {"calls", "contacts"}
    assert settings.history_start == date(2026, 6, 1)


def test_the_start_date_override_is_the_default_accounts_only(monkeypatch):
    monkeypatch.setenv("AIRCALL_START_DATE", "2026-09-01")
    named = {
        "account": "eu",
        "api_id": "{{ env.EU_AIRCALL_API_ID }}",
        "api_token": "{{ env.EU_AIRCALL_API_TOKEN }}",
        "history_start": "2026-07-01",
    }
    assert str(parse_settings({"history_start": "2026-07-01"}).history_start) == "2026-09-01"
    assert str(parse_settings(named).history_start) == "2026-07-01"


def test_recordings_and_ai_results_need_the_calls_they_work_on():
    assert mistakes(
        {
            "history_start": START,
            "tables": {"calls": {"enabled": False}},
            "recordings": {"enabled": True},
            "conversation_intelligence": {"summary": True},
        }
    ) == [
        f"{SOURCE}: recordings.enabled: archiving recordings works on the stored calls, but "
        "tables.calls.enabled is false: enable calls, or turn this off",
        f"{SOURCE}: conversation_intelligence.summary: conversation_intelligence.summary works "
        "on the stored calls, but tables.calls.enabled is false: enable calls, or turn this off",
    ]
    assert mistakes(
        {
            "history_start": START,
            "tables": {"calls": {"columns": ["id", "started_at", "duration"]}},
            "recordings": {"enabled": True},
        }
    ) == [
        f"{SOURCE}: recordings.enabled: archiving recordings needs the calls' links: add "
        "recording and voicemail to tables.calls.columns, or turn recordings off"
    ]
    kept = {"calls": {"columns": ["id", "started_at", "voicemail"]}}
    assert parse_settings(
        {"history_start": START, "tables": kept, "recordings": {"enabled": True}}
    ).recordings.enabled
