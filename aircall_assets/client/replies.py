"""What one attempt's outcome means: a result, an error to raise, or a reason to try again.

The rule that decides between retrying and raising is whether re-sending could apply the
request twice. A read (and an idempotent write) is retried on any transient failure: 5xx,
timeouts, dropped connections, truncated or invalid JSON. A non-idempotent write (a POST
creating a contact) is re-sent only when it certainly never left; once it may have been
delivered (a 5xx included: a gateway may answer 502 after Aircall applied it), the failure is
``AircallResponseLost`` and the caller looks the record up instead. A 429 never reaches here:
it is pacing (``rate_limit.py``), not a failed attempt.
"""

from __future__ import annotations

from typing import Any

import orjson

from aircall_assets.client.errors import (
    CREDENTIAL_HELP,
    AircallAPIError,
    AircallAuthError,
    AircallResponseLost,
)
from aircall_assets.client.transport import Reply, SendFailed


class Retryable(Exception):
    """The attempt failed in a way another attempt may not; ``kind`` names it in run metadata."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def failed_send(failed: SendFailed, where: str, idempotent: bool) -> str:
    """The kind of a send without a complete answer, to retry under; ``AircallResponseLost``
    if it was a write that may have been applied."""
    if failed.maybe_delivered and not idempotent:
        raise AircallResponseLost(
            f"{where}: no complete answer ({failed.kind}) after the request was "
            "sent; it may have been applied"
        ) from None
    return failed.kind


def read_reply(reply: Reply, where: str, idempotent: bool) -> tuple[int, Any]:
    """(status, parsed body) of a complete answer other than 429; raises ``Retryable`` for a
    transient failure and an ``AircallError`` for a final one."""
    status = reply.status
    if status in (401, 403):
        raise AircallAuthError(
            f"Aircall rejected the credentials ({status} on {where}). {CREDENTIAL_HELP}"
        )
    if status >= 500:
        if not idempotent:
            # A gateway error can come after Aircall applied the write (502/504 from the proxy
            # in front of it): re-sending could create it twice.
            raise AircallResponseLost(
                f"{where}: HTTP {status} after the request was sent; it may have been applied"
            )
        raise Retryable(f"HTTP {status}")
    if status >= 300:
        body = _body_of(reply.body)
        raise AircallAPIError(f"{where} failed with HTTP {status}: {body}", status, body)
    if status == 204 or not reply.body:
        return status, None
    try:
        return status, orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        if not idempotent:
            raise AircallResponseLost(f"{where}: the answer was not valid JSON") from None
        raise Retryable("invalid_json") from None


def _body_of(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500].decode(errors="replace")
