"""A faithful local Aircall API, for tests, benchmarks and demos without network access.

`Simulator(SimulatorConfig(...))` serves a deterministic account (calls, contacts, users,
numbers, teams, tags, company, user availabilities, webhooks, conversation intelligence, and
the calls' audio at signed expiring links) over HTTP with Aircall's envelopes, pagination,
10k cap, auth errors, rate limit and optional fault injection; `sim.store` is the ground truth and
`sim.stats` counts what clients asked. Out of process (`python -m aircall_assets.simulator`),
the unauthenticated `GET /_simulator/stats`, `POST /_simulator/reset-stats` and
`GET /_simulator/contacts` expose the same.
"""

from .config import SimulatorConfig
from .server import Simulator

__all__ = ["Simulator", "SimulatorConfig"]
