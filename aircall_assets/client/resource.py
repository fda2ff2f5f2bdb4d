"""``AircallResource``: an account's client settings as Dagster resource config.

The fields are what the Dagster UI shows of the resource; the credentials are ``dg.EnvVar``
there (``resources.py``), and the reprs mask them in case a value is set directly. Each step
asks for its own client, so that its stats are its own, and every client draws on the
company's one shared budget.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field, PrivateAttr

from aircall_assets.client.base_url import DEFAULT_BASE_URL
from aircall_assets.client.client import AircallClient
from aircall_assets.client.rate_limit import DEFAULT_MAX_RATE_LIMIT_WAIT


class AircallResource(dg.ConfigurableResource):
    """Aircall API credentials and budget. Values come from the ``AIRCALL_*`` env vars."""

    api_id: str = Field(description="Aircall API ID (env AIRCALL_API_ID).")
    api_token: str = Field(description="Aircall API token (env AIRCALL_API_TOKEN).")
    base_url: str = Field(
        default=DEFAULT_BASE_URL, description="API base URL (env AIRCALL_API_BASE_URL)."
    )
    requests_per_minute: int = Field(
        default=60,
        description="Client-side budget per rate window (env AIRCALL_REQUESTS_PER_MINUTE); "
        "0 disables pacing (only for a local simulator).",
    )
    rate_window_seconds: float = Field(
        default=60.0, description="Length of the rate window; 60 for the real API."
    )
    max_rate_limit_wait_seconds: float = Field(
        default=DEFAULT_MAX_RATE_LIMIT_WAIT,
        description="Longest run of 429s waited out before the run fails "
        "(env AIRCALL_MAX_RATE_LIMIT_WAIT_S).",
    )
    max_attempts: int = Field(default=8, description="Attempts per request on transient errors.")
    read_timeout: float = Field(default=30.0, description="Seconds to wait for an answer.")
    backoff_seconds: float = Field(default=1.0, description="First retry delay, doubled each time.")
    warehouse_url: str | None = Field(
        default=None,
        description="PostgreSQL warehouse holding the company's request budget, for processes "
        "on several machines (env AIRCALL_WAREHOUSE_URL, its password never shown); unset: a "
        "file of AIRCALL_BUDGET_DIR, for the processes of one machine.",
    )

    _clients: list[AircallClient] = PrivateAttr(default_factory=list)

    def __repr_args__(self):  # never show the token, the id or a password in reprs or logs
        for name, value in super().__repr_args__():
            if name in ("api_id", "api_token"):
                value = "***"
            elif name == "warehouse_url" and value:
                # imported here: the warehouse package loads DuckDB, which a client needs not
                from aircall_assets.warehouse.url import mask

                value = mask(value)
            yield name, value

    def get_client(self) -> AircallClient:
        """A fresh client (own stats) on its company's shared budget."""
        client = AircallClient(
            api_id=self.api_id,
            api_token=self.api_token,
            base_url=self.base_url,
            requests_per_minute=self.requests_per_minute,
            rate_window_seconds=self.rate_window_seconds,
            max_rate_limit_wait=self.max_rate_limit_wait_seconds,
            max_attempts=self.max_attempts,
            read_timeout=self.read_timeout,
            backoff_seconds=self.backoff_seconds,
            warehouse_url=self.warehouse_url,
        )
        self._clients.append(client)
        return client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
