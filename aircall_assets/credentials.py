"""Where an account's credentials come from: environment variables named in its settings.

A settings file or ``defs.yaml`` names the variables in Dagster's template form,
``api_token: "{{ env.EU_AIRCALL_API_TOKEN }}"``, and the resource holds ``dg.EnvVar`` of that
name: Dagster resolves it at run start and shows only the name (UI, definitions snapshot,
logs). A value written out in the file is refused, because the file ends up in version
control and in the definitions snapshot.
"""

from __future__ import annotations

import re

_ENV_TEMPLATE = re.compile(
    r"^\s*\{\{\s*env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\(\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]\s*\))"
    r"\s*\}\}\s*$"
)
DEFAULT_API_ID_ENV = "AIRCALL_API_ID"
DEFAULT_API_TOKEN_ENV = "AIRCALL_API_TOKEN"


def env_template(name: str) -> str:
    """The template that names the environment variable ``name``."""
    return "{{ env." + name + " }}"


def env_var_name(template: str, key: str) -> str:
    """The variable ``template`` names (``{{ env.NAME }}`` or ``{{ env('NAME') }}``).

    Anything else is refused with a message that never repeats the value (it may be the
    secret itself).
    """
    match = _ENV_TEMPLATE.match(template)
    if not match:
        raise ValueError(
            f"{key} must name an environment variable, e.g. "
            f"'{env_template('EU_AIRCALL_' + key.upper())}'; a credential written in a settings "
            "file would end up in version control and in Dagster's definitions snapshot"
        )
    return match.group(1) or match.group(2)
