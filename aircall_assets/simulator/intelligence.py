"""Conversation intelligence (AI Assist): a call's transcription, sentiments, topics, summary.

Aircall has no list endpoint for these: a connector asks `GET /v1/calls/:id/<kind>` once per
call and kind, and gets 404 for most calls: unanswered calls without voicemail have nothing,
recorded calls usually have everything, voicemails a transcription (type "voicemail") and
rarely the rest, and every result appears only some time after the call ended. Results are a
pure function of (seed, call as served, now), so tests compute the truth with `result`.

Presence is drawn from `Random(f"{seed}:ai:{call id}")` (four draws, one per kind, always in
the same order) and content from one `Random` per (kind, call), so a result never changes
once it exists, whatever else the call's fields do.
"""

from __future__ import annotations

import random
from typing import Any

from .config import SimulatorConfig
from .data import CALL_ID_BASE, iso, phone_digits

# URL segment → the key of the single object the endpoint answers with.
KINDS: dict[str, str] = {
    "transcription": "transcription",
    "sentiments": "sentiment",
    "topics": "topic",
    "summary": "summary",
}
_ID_BASES = {"transcription": 20_000_000_000, "topics": 30_000_000_000, "summary": 40_000_000_000}
# P(kind exists) for recorded calls and for voicemails; the other three need a transcription.
_RECORDED = {"transcription": 0.85, "sentiments": 0.9, "topics": 0.85, "summary": 0.75}
_VOICEMAIL = {"transcription": 0.9, "sentiments": 0.3, "topics": 0.4, "summary": 0.6}
SENTIMENTS = ("POSITIVE", "NEUTRAL", "NEGATIVE")
_LANGUAGES = ("en", "en", "en", "fr", "de", "es")
_UTTERANCES = (
    "Okay,",
    "Hello, thanks for calling, how can I help?",
    "Bonjour, je vous appelle au sujet de ma facture.",
    'He said "next week", but nothing came.',
    "D'accord, merci beaucoup !",
    "Ich möchte mein Abo kündigen, bitte.",
    "¿Puede repetir, por favor?",
    "Thanks — that's great 👍",
    "The total was 1 234,56 €, right?",
    "Let me check that for you, one second.",
    "Zoë from Ångström Labs, yes.",
    "I'll send you the details by email, okay?",
    "已经收到，谢谢",
    "Could you spell it: O, apostrophe, B-R-I-E-N?",
    "Perfect. Anything else?",
    "No, that's all. Bye!",
)
_TOPICS = (
    "payment",
    "billing",
    "refund",
    "delivery",
    "cancellation",
    "pricing",
    "onboarding",
    "technical issue",
    "contract renewal",
    "réclamation",
)
_SUMMARIES = (
    "The caller asked about an invoice; the agent explained the charges.",
    "Customer wants to cancel the subscription, agent offered a discount.",
    "Le client signale un retard de livraison ; rappel prévu demain.",
    'Caller left a voicemail asking for a "quick callback" about pricing.',
    "Zoë confirmed the renewal — contract to be signed by Friday.",
    "Technical issue with the app, escalated to tier 2, ticket #4521.",
)


def _present(config: SimulatorConfig, call: dict[str, Any], kind: str) -> bool:
    """Whether this call ever gets a result of this kind (ignoring the delay)."""
    if call["recording"] is not None:
        chances = _RECORDED
    elif call["voicemail"] is not None:
        chances = _VOICEMAIL
    else:
        return False
    rng = random.Random(f"{config.seed}:ai:{call['id']}")
    draws = {name: rng.random() for name in KINDS}
    if draws["transcription"] >= chances["transcription"]:
        return False
    return draws[kind] < chances[kind]


def ready_at(config: SimulatorConfig, call: dict[str, Any]) -> int | None:
    """When results of a call appear (None while the call is still in progress)."""
    ended = call["ended_at"]
    return None if ended is None else ended + config.intelligence_delay_seconds


def result(config: SimulatorConfig, call: dict[str, Any], kind: str, now: int) -> dict | None:
    """The object `GET /v1/calls/:id/<kind>` serves at `now`, or None (404)."""
    ready = ready_at(config, call)
    if ready is None or now < ready or not _present(config, call, kind):
        return None
    rng = random.Random(f"{config.seed}:{kind}:{call['id']}")
    offset = call["id"] - CALL_ID_BASE
    if kind == "transcription":
        return {
            "id": _ID_BASES[kind] + offset,
            "call_id": call["id"],
            "call_created_at": iso(call["started_at"], millis=True),
            "type": "call" if call["recording"] is not None else "voicemail",
            "content": {"language": rng.choice(_LANGUAGES), "utterances": _utterances(rng, call)},
        }
    if kind == "sentiments":
        return {
            "id": call["id"],
            "call_id": str(call["id"]),
            "participants": [
                {**speaker, "value": rng.choices(SENTIMENTS, (5, 3, 2))[0]}
                for speaker in _speakers(call)
            ],
        }
    created_at = iso(ready, millis=True)
    created = {"id": _ID_BASES[kind] + offset, "call_id": call["id"], "created_at": created_at}
    if kind == "topics":
        return {**created, "content": rng.sample(_TOPICS, k=rng.randint(0, 4))}
    return {**created, "content": rng.choice(_SUMMARIES)}


def _external_phone(call: dict[str, Any]) -> str:
    digits = phone_digits(call["raw_digits"])
    return f"+{digits}" if digits else call["raw_digits"]


def _speakers(call: dict[str, Any]) -> list[dict[str, Any]]:
    """The call's participants: the outside party, then the agent if there was one.

    A voicemail has no agent: the caller spoke alone.
    """
    speakers: list[dict[str, Any]] = [{"phone_number": _external_phone(call), "type": "external"}]
    if call["recording"] is not None and call["user"] is not None:
        speakers.append({"user_id": call["user"]["id"], "type": "internal"})
    return speakers


def _utterances(rng: random.Random, call: dict[str, Any]) -> list[dict[str, Any]]:
    """2–15 utterances with strictly increasing times inside the call's duration.

    Talk starts when the call is answered (a voicemail at its start). At most 4 utterances
    a second keeps every gap above 0.01 s, so times stay distinct once rounded to 2 decimals.
    """
    answered = call["answered_at"]
    start = float(answered - call["started_at"]) if answered is not None else 0.0
    span = max(call["duration"] - start, 1.0)
    count = min(rng.randint(2, 15), max(2, int(span * 4)))
    gaps = [rng.random() + 0.1 for _ in range(2 * count + 1)]
    scale = span / sum(gaps)
    times, position = [], start
    for gap in gaps[:-1]:
        position += gap * scale
        times.append(round(position, 2))
    speakers = _speakers(call)
    turn = 0 if call["direction"] == "outbound" or len(speakers) == 1 else 1
    utterances = []
    for i in range(count):
        speaker = speakers[turn % len(speakers)]
        utterance: dict[str, Any] = {
            "start_time": times[2 * i],
            "end_time": times[2 * i + 1],
            "text": rng.choice(_UTTERANCES),
            "participant_type": speaker["type"],
        }
        if speaker["type"] == "internal":
            utterance["user_id"] = speaker["user_id"]
        else:
            utterance["phone_number"] = speaker["phone_number"]
        utterances.append(utterance)
        if rng.random() < 0.75:
            turn += 1
    return utterances
