import dagster as dg
import pytest

from aircall_assets.account import DEFAULT_ACCOUNT, Account


def test_the_default_account_keeps_the_names_it_always_had() -> None:
    assert DEFAULT_ACCOUNT.extract_key("calls") == dg.AssetKey(["aircall", "calls"])
    assert DEFAULT_ACCOUNT.reverse_key("unknown_callers") == dg.AssetKey(
        ["aircall_reverse", "unknown_callers"]
    )
    assert DEFAULT_ACCOUNT.sync_schema == "aircall_sync"
    assert DEFAULT_ACCOUNT.analytics_key("agent_daily") == dg.AssetKey(
        ["aircall_analytics", "agent_daily"]
    )
    assert DEFAULT_ACCOUNT.suffixed("aircall_daily") == "aircall_daily"
    assert (DEFAULT_ACCOUNT.aircall_resource_key, DEFAULT_ACCOUNT.io_manager_key) == (
        "aircall",
        "warehouse_io_manager",
    )


def test_a_named_account_takes_its_own_schemas_keys_and_names() -> None:
    eu = Account("eu")
    assert eu.extract_key("calls") == dg.AssetKey(["aircall_eu", "calls"])
    assert eu.reverse_schema == "aircall_eu_reverse"
    assert eu.sync_schema == "aircall_eu_sync"
    assert eu.analytics_schema == "aircall_eu_analytics"
    assert eu.suffixed("aircall_reverse_sync") == "aircall_reverse_sync_eu"
    assert (eu.aircall_resource_key, eu.io_manager_key) == ("aircall_eu", "warehouse_io_manager_eu")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("EU", "lowercase letters"),
        ("1eu", "starting with a letter"),
        ("eu-west", "underscores"),
        ("reverse", "another account's reverse sync"),
        ("brand_sync", "another account's reverse sync"),
        ("eu_analytics", "analytics"),
    ],
)
def test_a_name_that_would_collide_or_cannot_name_a_schema_is_refused(name: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Account(name)
