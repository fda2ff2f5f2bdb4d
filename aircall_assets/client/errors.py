"""What can go wrong talking to Aircall, as the caller must tell it apart.

Each error says what to fix and never contains a credential: the messages end up in run logs,
the Dagster UI and ``status``. Which failure of a request becomes which error is decided in
``replies.py`` (answers), ``rate_limit.py`` (429s) and ``client.py`` (giving up).
"""

from __future__ import annotations

from typing import Any

CREDENTIAL_HELP = (
    "Set AIRCALL_API_ID and AIRCALL_API_TOKEN to an API ID and token created in the Aircall "
    "dashboard (Integrations & API > API keys)."
)


class AircallError(RuntimeError):
    """Any failure talking to Aircall; messages never contain credentials."""


class AircallAuthError(AircallError):
    """401/403: the credentials were missing or rejected. Never retried."""


class AircallAPIError(AircallError):
    """A 4xx other than auth and rate limiting; carries the status and Aircall's body."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AircallResponseLost(AircallError):
    """A non-idempotent write may have reached Aircall but its answer was lost.

    Re-sending could create a duplicate, so the caller must look the record up first.
    """


class AircallUnavailable(AircallError):
    """Gave up after the bounded number of attempts on transient failures."""


class AircallRateLimited(AircallError):
    """Aircall kept refusing for lack of budget: something else uses the company's budget."""


class WindowChanged(AircallError):
    """A window resumed at a later page no longer holds what it held: read it again whole."""
