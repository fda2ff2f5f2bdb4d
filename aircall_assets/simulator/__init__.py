"""A faithful local Aircall API, for tests, benchmarks and demos without network access.

`Simulator(SimulatorConfig(...))` serves a deterministic account (calls, contacts, users,
numbers, teams, tags, company) over HTTP with Aircall's envelopes, pagination, 10k cap,
auth errors, rate limit and optional fault injection. See `python -m aircall_assets.simulator`.
"""

from .config import SimulatorConfig
from .server import Simulator

__all__ = ["Simulator", "SimulatorConfig"]
