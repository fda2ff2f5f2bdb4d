from datetime import date, timedelta

import pytest

from aircall_assets.settings import SettingsError, load_settings, parse_settings


def test_defaults_enable_every_table_with_seed_columns(monkeypatch):
    monkeypatch.delenv("AIRCALL_START_DATE", raising=False)
    settings = parse_settings({})
    assert len(settings.enabled_tables) == 7
    assert settings.lookback_days == 3
    assert settings.columns_for(settings.enabled_tables[0]) is None


def test_unknown_table_is_a_clear_error():
    with pytest.raises(SettingsError, match="unknown table 'cals'; valid tables are"):
        parse_settings({"tables": {"cals": {"enabled": True}}}, "aircall.yaml")


def test_unknown_column_is_a_clear_error():
    with pytest.raises(SettingsError, match=r"tables: .*unknown column\(s\) \['durration'\]"):
        parse_settings({"tables": {"calls": {"columns": ["durration"]}}}, "aircall.yaml")


def test_unknown_key_is_reported_with_its_location():
    with pytest.raises(SettingsError, match="lookback: Extra inputs are not permitted"):
        parse_settings({"lookback": 3})


def test_malformed_yaml_names_the_file(tmp_path):
    path = tmp_path / "aircall.yaml"
    path.write_text("tables: [unclosed\n")
    with pytest.raises(SettingsError, match=f"{path} is not valid YAML"):
        load_settings(path)


def test_explicit_missing_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRCALL_SETTINGS", str(tmp_path / "missing.yaml"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()


def test_start_date_override(monkeypatch):
    monkeypatch.setenv("AIRCALL_START_DATE", "2026-07-01")
    assert parse_settings({"history_start": "2026-06-01"}).history_start == date(2026, 7, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [("07/01/2026", "is not a date; use YYYY-MM-DD"), ("2999-01-01", "is in the future")],
)
def test_bad_start_date_override(monkeypatch, value, message):
    monkeypatch.setenv("AIRCALL_START_DATE", value)
    with pytest.raises(SettingsError, match=message):
        parse_settings({})


def test_history_start_in_future_rejected():
    future = (date.today() + timedelta(days=10)).isoformat()
    with pytest.raises(SettingsError, match="is in the future"):
        parse_settings({"history_start": future})


def test_shipped_settings_file_is_valid(monkeypatch):
    monkeypatch.delenv("AIRCALL_SETTINGS", raising=False)
    from pathlib import Path

    settings = load_settings(Path(__file__).resolve().parents[1] / "aircall.yaml")
    assert {t.name for t in settings.enabled_tables} >= {"calls", "contacts"}
