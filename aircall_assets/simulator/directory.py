"""Company settings read by the analytics tables: user availabilities and webhooks.

Availabilities are a snapshot of now (no dates, no filters): each user starts with a value
drawn from `Random(f"{seed}:availability:{user id}")`, and the store keeps what tests set
since, so a re-read can differ from the previous one. Webhooks are generated once from
`Random(f"{seed}:webhooks")`; their `token` is the secret Aircall puts in every webhook payload,
so it looks like one (long hex) and tests can check it never travels further.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from .config import SimulatorConfig
from .data import API_ROOT, DAY_SECONDS, day_start, iso

AVAILABILITIES = ("available", "offline", "do_not_disturb", "in_call", "after_call_work")
_AVAILABILITY_WEIGHTS = (4, 3, 1, 2, 1)
WEBHOOK_ID_BASE = 3_000
WEBHOOK_EVENTS = (
    "call.created",
    "call.ringing_on_agent",
    "call.answered",
    "call.ended",
    "call.tagged",
    "call.commented",
    "contact.created",
    "contact.updated",
    "user.opened",
    "user.closed",
    "transcription.created",
    "sentiment.created",
    "topics.created",
    "summary.created",
)
_RECEIVERS = (
    "https://hooks.crm-sync.example/aircall",
    "https://n8n.internal.example/webhook/aircall-calls",
    "https://hooks.zapier.example/hooks/catch/123456/abcdef/",
    "https://api.helpdesk.example/integrations/aircall?source=webhook",
)


def initial_availability(seed: int, user_id: int) -> str:
    """A user's availability until something changes it."""
    rng = random.Random(f"{seed}:availability:{user_id}")
    return rng.choices(AVAILABILITIES, _AVAILABILITY_WEIGHTS)[0]


def generate_webhooks(config: SimulatorConfig, now: int) -> list[dict[str, Any]]:
    """The company's webhooks, oldest first (ids grow with created_at), none after `now`."""
    rng = random.Random(f"{config.seed}:webhooks")
    start = min(day_start(config.first_day), now)
    times = sorted(start - rng.randrange(0, 400 * DAY_SECONDS) for _ in range(config.webhooks))
    webhooks = []
    for i, created in enumerate(times):
        webhook_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        events = rng.sample(WEBHOOK_EVENTS, k=rng.randint(1, 6))
        webhooks.append(
            {
                "id": WEBHOOK_ID_BASE + i + 1,
                "webhook_id": webhook_id,
                "direct_link": f"{API_ROOT}/v1/webhooks/{webhook_id}",
                "url": _RECEIVERS[i % len(_RECEIVERS)],
                "active": rng.random() < 0.8,
                "events": [e for e in WEBHOOK_EVENTS if e in events],
                "token": f"{rng.getrandbits(160):040x}",
                "created_at": iso(created, millis=rng.random() < 0.5),
            }
        )
    return webhooks
