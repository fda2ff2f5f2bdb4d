"""``AircallComponent``: one Aircall account in any Dagster project, from a ``defs.yaml``.

Its attributes are the settings of ``aircall.yaml`` (the default account's) plus the account's
name, credentials, base URL and request budget, and they are validated by the same code, with
the same messages. Credentials stay environment variables: ``api_token: "{{ env.NAME }}"`` is
read as the variable's name (not rendered), so the resource holds ``dg.EnvVar`` and the token
is in no definitions snapshot, UI page, log or error.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import dagster as dg
from pydantic import BaseModel

from aircall_assets.account import check_account_name
from aircall_assets.credentials import env_template
from aircall_assets.settings import Settings, parse_settings, suggested_history_start


def _unrendered(context: dg.ResolutionContext, value: str | None) -> str | None:
    """The template as written: the name of the variable, not its value."""
    return value


EnvVarTemplate = Annotated[
    str | None,
    dg.Resolver(
        _unrendered,
        model_field_type=str | None,
        inject_before_resolve=False,
        description="The environment variable holding it, as '{{ env.NAME }}'.",
    ),
]


class AircallScaffoldParams(BaseModel):
    account: str | None = None


class AircallComponentScaffolder(dg.Scaffolder[AircallScaffoldParams]):
    """Writes a ``defs.yaml`` that loads as soon as the variables it names are set.

    The history start is written as a date, the first whole month the API still serves, so
    that the first partition never moves afterwards.
    """

    @classmethod
    def get_scaffold_params(cls) -> type[AircallScaffoldParams]:
        return AircallScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[AircallScaffoldParams]) -> None:
        account = request.params.account if request.params else None
        if account is not None:
            check_account_name(account)  # the file would not load: say so now
        Path(request.target_path).mkdir(parents=True, exist_ok=True)
        (Path(request.target_path) / "defs.yaml").write_text(
            scaffolded_defs_yaml(request.type_name, account), encoding="utf-8"
        )


def scaffolded_defs_yaml(type_name: str, account: str | None, today: date | None = None) -> str:
    today = today or datetime.now(timezone.utc).date()
    prefix = f"{account.upper()}_" if account else ""
    lines = [
        f"type: {type_name}",
        "",
        "attributes:",
        *(
            [f"  account: {account}  # assets aircall_{account}/<table>, schema aircall_{account}"]
            if account
            else ["  # account: eu  # name it when the project holds several accounts"]
        ),
        "  # Aircall dashboard > Integrations & API > API keys; set these variables:",
        f'  api_id: "{env_template(prefix + "AIRCALL_API_ID")}"',
        f'  api_token: "{env_template(prefix + "AIRCALL_API_TOKEN")}"',
        "  requests_per_minute: 60  # the company's budget, shared by every process",
        "  # First daily partition (it also holds older records); it never moves by itself.",
        f"  history_start: {suggested_history_start(today).isoformat()}",
        "  lookback_days: 3  # days re-read before the newest on each scheduled run",
        "  schedule:",
        '    cron: "0 3 * * *"',
        "    timezone: UTC",
        "  # tables: {calls: {columns: [id, direction, started_at, duration, user]}}",
        "  # destinations: []  # reverse sync, see the README",
        "  # AI results, one request per call each: {transcription: true, sentiments: true,",
        "  #   topics: true, summary: true}",
        "  # conversation_intelligence: {summary: true}",
        "  # recordings: {enabled: true}  # archive audio to AIRCALL_ARCHIVE_URL after each load",
        "",
    ]
    return "\n".join(lines)


@dg.scaffold_with(AircallComponentScaffolder)
class AircallComponent(dg.Component, dg.Resolvable, dg.Model):
    """One Aircall account: its tables as daily-partitioned assets, a daily schedule, asset
    checks, and its reverse sync to Aircall."""

    account: str | None = None
    api_id: EnvVarTemplate = None
    api_token: EnvVarTemplate = None
    base_url: str | None = None
    requests_per_minute: int | None = None
    history_start: str | None = None
    lookback_days: int | None = None
    schedule: dict[str, Any] | None = None
    tables: dict[str, dict[str, Any]] | None = None
    destinations: list[dict[str, Any]] | None = None
    conversation_intelligence: dict[str, bool] | None = None
    recordings: dict[str, Any] | None = None

    def settings(self, source: str = "AircallComponent attributes") -> Settings:
        """The attributes validated as settings; ``source`` names the file in any message."""
        return parse_settings(self.model_dump(exclude_none=True), source)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        # imported here: listing or scaffolding the component builds no definitions
        from aircall_assets.definitions import build_account_definitions

        # the keys of a message are those under the file's ``attributes:``
        source = f"{Path(context.path) / 'defs.yaml'} (attributes)"
        return build_account_definitions(self.settings(source))
