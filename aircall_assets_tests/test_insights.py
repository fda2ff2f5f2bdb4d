"""Conversation intelligence (transcription, sentiments, topics, summary): the DOUBLE type of
utterance times on both warehouses, and the opt-in assets against the simulator."""

from __future__ import annotations

import pytest

from aircall_assets.catalog import INSIGHTS
from aircall_assets.normalize import NormalizationError
from aircall_assets.warehouse import TableLoad

UTTERANCES = INSIGHTS["transcription"][1]


def _typed_times(warehouse, records: list[dict]) -> list[tuple]:
    fields = [UTTERANCES.field(n) for n in ("call_id", "start_time", "end_time")]
    warehouse.store.replace(
        "aircall", UTTERANCES.name, TableLoad(fields=fields, primary_key="call_id", pages=[records])
    )
    return warehouse.query(
        f"SELECT call_id, start_time, end_time FROM aircall.{UTTERANCES.name} ORDER BY call_id"
    )


def test_double_holds_numbers_and_numeric_strings_alike(warehouse):
    rows = _typed_times(
        warehouse,
        [
            {"call_id": 1, "start_time": 12.54, "end_time": 13.8},
            {"call_id": 2, "start_time": 3, "end_time": " 4.25 "},
            {"call_id": 3, "start_time": "1e3", "end_time": None},
            {"call_id": 4, "start_time": "", "end_time": 0.1},
        ],
    )
    assert rows == [(1, 12.54, 13.8), (2, 3.0, 4.25), (3, 1000.0, None), (4, None, 0.1)]
    ((data_type,),) = warehouse.query(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'aircall' "
        f"AND table_name = '{UTTERANCES.name}' AND column_name = 'start_time'"
    )
    assert data_type == {"duckdb": "DOUBLE", "postgres": "double precision"}[warehouse.kind]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("soon", '"soon"'), ("0x10", '"0x10"'), (True, "true"), ("1e400", '"1e400"')],
)
def test_double_refuses_what_is_not_a_number(warehouse, value, shown):
    with pytest.raises(NormalizationError) as err:
        _typed_times(warehouse, [{"call_id": 9, "start_time": value, "end_time": 1}])
    assert str(err.value) == (
        f"call_transcription_utterance.start_time: value {shown} of record call_id=9 cannot be "
        "stored as DOUBLE (not a number). The API sent a value of an unexpected type; nothing "
        "was written."
    )
