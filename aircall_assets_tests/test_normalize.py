from datetime import datetime, timezone

import pandas as pd
import pytest

from aircall_assets.catalog import get_table
from aircall_assets.normalize import NormalizationError, SchemaDrift, frames, records_to_frame

CALLS = get_table("calls")
USERS = get_table("users")


def test_unix_and_iso_timestamps_become_utc_instants():
    fields = USERS.resolve_columns(["created_at"])
    frame = records_to_frame(
        [
            {"id": 1, "created_at": "2026-09-28T10:21:09.000Z"},
            {"id": 2, "created_at": "2025-09-15T12:14:21Z"},
            {"id": 3, "created_at": 1758000000},
            {"id": 4, "created_at": None},
        ],
        fields,
        "users",
    )
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert frame["created_at"][0] == pd.Timestamp(
        datetime(2026, 9, 28, 10, 21, 9, tzinfo=timezone.utc)
    )
    assert frame["created_at"][2] == pd.Timestamp(1758000000, unit="s", tz="UTC")
    assert pd.isna(frame["created_at"][3])


def test_all_null_column_keeps_declared_dtype():
    fields = CALLS.resolve_columns(["duration", "archived", "tags"])
    frame = records_to_frame([{"id": 1, "started_at": 0}], fields, "calls")
    assert str(frame["duration"].dtype) == "Int64"
    assert str(frame["archived"].dtype) == "boolean"
    assert frame["tags"][0] is None


def test_structures_become_json_text_and_unicode_survives():
    fields = CALLS.resolve_columns(["comments", "teams"])
    frame = records_to_frame(
        [{"id": 1, "started_at": 0, "comments": [{"content": "Zoë 李雷 🎉"}], "teams": []}],
        fields,
        "calls",
    )
    assert frame["comments"][0] == '[{"content":"Zoë 李雷 🎉"}]'
    assert frame["teams"][0] == "[]"


def test_numeric_strings_are_coerced_but_garbage_is_an_error():
    fields = CALLS.resolve_columns(["duration"])
    frame = records_to_frame([{"id": "7", "started_at": 0, "duration": "12"}], fields, "calls")
    assert list(frame["duration"]) == [12]
    with pytest.raises(NormalizationError, match=r"calls.duration: value 'abc' of record id=8"):
        records_to_frame([{"id": 8, "started_at": 0, "duration": "abc"}], fields, "calls")


def test_frames_chunks_and_collects_unknown_and_missing_fields():
    fields = CALLS.resolve_columns(["duration"])
    drift = SchemaDrift(CALLS.field_names, [f.name for f in fields])
    pages = [[{"id": i, "started_at": i, "brand_new": 1} for i in range(30)] for _ in range(3)]
    chunks = list(frames(pages, fields, "calls", drift, chunk_rows=50))
    assert [len(c) for c in chunks] == [60, 30]
    assert drift.unknown == {"brand_new"}
    assert drift.missing == {"duration": 90}
