"""Rows of the conversation-intelligence tables, from the objects Aircall answers with.

Pure: for each settings key, a function turns the object ``GET /v1/calls/:id/<resource>`` sent
(the value under its envelope key) into rows of that key's tables (``catalog.INSIGHTS``), each
dated by its call's start as the calls table holds it (``call_started_at``, the partition
column). Values stay as the API sent them, ``call_id`` as a string of digits included (the
sentiments endpoint sends one): the warehouse types them by the catalog, like every load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Record = dict[str, Any]
Rows = dict[str, list[Record]]  # table name → rows


def _call_id(result: Record, asked: int) -> Any:
    """The call the object names, or the call it was asked for if it names none."""
    value = result.get("call_id")
    return asked if value is None or value == "" else value


def _speaker(item: Record, type_key: str) -> Record:
    return {
        "participant_type": item.get(type_key),
        "user_id": item.get("user_id"),
        "phone_number": item.get("phone_number"),
    }


def transcription_rows(result: Record, call_id: int, call_started_at: str) -> Rows:
    """One ``call_transcription`` row, and one ``call_transcription_utterance`` row per
    utterance (``position`` its index)."""
    call = {"call_id": _call_id(result, call_id), "call_started_at": call_started_at}
    content = result.get("content") or {}
    utterances = content.get("utterances") or []
    return {
        "call_transcription": [
            {
                **call,
                "id": result.get("id"),
                "type": result.get("type"),
                "language": content.get("language"),
                "call_created_at": result.get("call_created_at"),
            }
        ],
        "call_transcription_utterance": [
            {
                **call,
                "position": position,
                **_speaker(utterance, "participant_type"),
                "start_time": utterance.get("start_time"),
                "end_time": utterance.get("end_time"),
                "text": utterance.get("text"),
            }
            for position, utterance in enumerate(utterances)
        ],
    }


def sentiment_rows(result: Record, call_id: int, call_started_at: str) -> Rows:
    """One ``call_sentiment`` row per participant."""
    call = {"call_id": _call_id(result, call_id), "call_started_at": call_started_at}
    return {
        "call_sentiment": [
            {
                **call,
                "id": result.get("id"),
                "position": position,
                **_speaker(participant, "type"),
                "value": participant.get("value"),
            }
            for position, participant in enumerate(result.get("participants") or [])
        ]
    }


def topic_rows(result: Record, call_id: int, call_started_at: str) -> Rows:
    """One ``call_topic`` row per topic string."""
    call = {"call_id": _call_id(result, call_id), "call_started_at": call_started_at}
    return {
        "call_topic": [
            {
                **call,
                "id": result.get("id"),
                "position": position,
                "topic": topic,
                "created_at": result.get("created_at"),
            }
            for position, topic in enumerate(result.get("content") or [])
        ]
    }


def summary_rows(result: Record, call_id: int, call_started_at: str) -> Rows:
    """One ``call_summary`` row."""
    return {
        "call_summary": [
            {
                "call_id": _call_id(result, call_id),
                "id": result.get("id"),
                "content": result.get("content"),
                "created_at": result.get("created_at"),
                "call_started_at": call_started_at,
            }
        ]
    }


# The rows of a settings key's tables (``catalog.INSIGHTS``), by settings key.
ROWS_OF: Mapping[str, Callable[[Record, int, str], Rows]] = {
    "transcription": transcription_rows,
    "sentiments": sentiment_rows,
    "topics": topic_rows,
    "summary": summary_rows,
}
