"""AircallComponent's attributes: the settings plus an account's name and credentials, the
credentials kept as the environment variables they name; the scaffold's defs.yaml loads."""

import textwrap

import dagster as dg
import pytest

from aircall_assets.component import (
    AircallComponent,
    AircallComponentScaffolder,
    AircallScaffoldParams,
)
from aircall_assets.definitions import build_account_definitions
from aircall_assets.settings import SettingsError, suggested_history_start
from aircall_assets.simulator.config import utc_today

TOKEN = "a-token-value-0123456789"


def _component(**attributes) -> AircallComponent:
    return AircallComponent.from_attributes_dict(
        attributes={
            "account": "eu",
            "api_id": "{{ env.EU_AIRCALL_API_ID }}",
            "api_token": "{{ env.EU_AIRCALL_API_TOKEN }}",
            "history_start": "2026-07-01",
            **attributes,
        }
    )


def test_credentials_stay_the_names_of_their_variables_even_when_they_are_set(monkeypatch):
    monkeypatch.setenv("EU_AIRCALL_API_TOKEN", TOKEN)
    settings = _component().settings()
    assert (settings.api_id_env, settings.api_token_env) == (
        "EU_AIRCALL_API_ID",
        "EU_AIRCALL_API_TOKEN",
    )
    resource = build_account_definitions(settings).resources["aircall_eu"]
    assert resource.api_token == dg.EnvVar("EU_AIRCALL_API_TOKEN")
    assert TOKEN not in repr(resource)


def test_a_token_written_out_is_refused_without_being_repeated():
    with pytest.raises(SettingsError) as refused:
        _component(api_token=TOKEN).settings("defs.yaml (attributes)")
    message = str(refused.value)
    assert message.startswith("defs.yaml (attributes): api_token:") and TOKEN not in message


def test_a_misspelt_attribute_is_named_with_its_file_and_the_closest_key():
    with pytest.raises(
        SettingsError,
        match=r"defs.yaml \(attributes\): tables.calls.columns: "
        r".*'startd_at'.*did you mean 'started_at'",
    ):
        _component(tables={"calls": {"columns": ["id", "startd_at"]}}).settings(
            "defs.yaml (attributes)"
        )


@pytest.mark.parametrize("account", [None, "eu"])
def test_the_scaffolded_defs_yaml_loads_as_it_is(account, tmp_path):
    AircallComponentScaffolder().scaffold(_request(tmp_path, account))
    header, attributes = (tmp_path / "defs.yaml").read_text().split("attributes:\n")
    assert header.startswith("type: aircall_assets.AircallComponent\n")
    # parsed by Dagster's own YAML loader, as `dg` parses a defs.yaml
    settings = AircallComponent.resolve_from_yaml(textwrap.dedent(attributes)).settings()
    assert settings.history_start == suggested_history_start(utc_today())  # fixed in the file
    expected = f"{account.upper()}_AIRCALL_API_TOKEN" if account else "AIRCALL_API_TOKEN"
    assert (settings.account, settings.api_token_env) == (account, expected)


def test_scaffolding_an_account_name_that_cannot_load_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lowercase letters"):
        AircallComponentScaffolder().scaffold(_request(tmp_path, "EU"))
    assert not (tmp_path / "defs.yaml").exists()


def _request(target, account) -> dg.ScaffoldRequest:
    return dg.ScaffoldRequest(
        type_name="aircall_assets.AircallComponent",
        target_path=target,
        scaffold_format="yaml",
        project_root=None,
        params=AircallScaffoldParams(account=account),
    )
