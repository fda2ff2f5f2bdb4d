"""Turn API records into typed DataFrame chunks whose dtypes match the catalog.

The types come from the catalog, never from pandas inference: a column that happens to be all
null in a chunk still has its declared dtype, timestamps sent as UNIX seconds and as ISO strings
both become UTC instants, and structures become JSON text. A value that cannot be converted is
an error naming the table, field, record and value, never a silent NULL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from aircall_assets.catalog import Field


class NormalizationError(ValueError):
    """A value the API sent does not fit its declared type."""


def epoch_micros(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError("boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return int(value * 1_000_000)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text) * 1_000_000
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError("timestamp without a time zone")
        return int(parsed.timestamp() * 1_000_000)
    raise TypeError(f"{type(value).__name__} is not a timestamp")


def _to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError("boolean is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(f"{type(value).__name__} is not an integer")


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _to_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise TypeError(f"{value!r} is not a boolean")


def _to_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def _to_json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _convert_column(values: list[Any], converter) -> list[Any]:
    return [converter(v) for v in values]


def _column(field: Field, values: list[Any]) -> pd.api.extensions.ExtensionArray | pd.Series:
    wtype = field.warehouse_type
    if wtype == "BIGINT":
        try:
            return pd.array(values, dtype="Int64")
        except (TypeError, ValueError):
            return pd.array(_convert_column(values, _to_int), dtype="Int64")
    if wtype == "DOUBLE":
        return pd.array([None if v is None else float(v) for v in values], dtype="Float64")
    if wtype == "BOOLEAN":
        try:
            return pd.array(values, dtype="boolean")
        except (TypeError, ValueError):
            return pd.array(_convert_column(values, _to_bool), dtype="boolean")
    if wtype == "TIMESTAMPTZ":
        micros = pd.array(_convert_column(values, epoch_micros), dtype="Int64")
        return pd.to_datetime(micros, unit="us", utc=True)
    if wtype == "JSON":
        return pd.array(_convert_column(values, _to_json), dtype="object")
    return pd.array(_convert_column(values, _to_text), dtype="object")


def records_to_frame(
    records: Sequence[dict[str, Any]], fields: Sequence[Field], table: str
) -> pd.DataFrame:
    """One typed DataFrame with exactly ``fields`` as columns, in that order."""
    chunk = _Chunk(fields, table)
    chunk.add(records)
    return chunk.frame()


def _first_bad(records: Sequence[dict[str, Any]], field: Field) -> str:
    for record in records:
        try:
            _column(field, [record.get(field.name)])
        except (TypeError, ValueError, OverflowError):
            value = repr(record.get(field.name))[:80]
            return f"value {value} of record id={record.get('id')}"
    return "a value"


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_dumps = orjson.dumps


def _page_values(field: Field, values: list[Any]) -> list[Any]:
    """One page's values of ``field`` in the plain Python form its chunk array is built from.

    What the API normally sends (ints, bools, strings, None, UNIX seconds, structures) is
    converted inline; anything else goes through ``_column`` for this page, so the values
    accepted, their results and the errors raised are exactly those of ``_column``.
    """
    wtype = field.warehouse_type
    if wtype == "JSON":
        return [None if v is None else _dumps(v).decode() for v in values]
    if wtype == "TIMESTAMPTZ":
        micros = [v * 1_000_000 if type(v) is int else epoch_micros(v) for v in values]
        if not all(m is None or _INT64_MIN <= m <= _INT64_MAX for m in micros):
            _column(field, values)  # raises what the column-at-a-time path raises
        return micros
    if wtype == "BIGINT":
        if all(v is None or (type(v) is int and _INT64_MIN <= v <= _INT64_MAX) for v in values):
            return values
        return _column(field, values).to_numpy(dtype=object, na_value=None).tolist()
    if wtype == "BOOLEAN":
        if all(v is None or type(v) is bool for v in values):
            return values
        return _column(field, values).to_numpy(dtype=object, na_value=None).tolist()
    if wtype == "DOUBLE":
        return [None if v is None else float(v) for v in values]
    return [v if v is None or type(v) is str else _to_text(v) for v in values]


def _array(field: Field, values: list[Any]) -> pd.api.extensions.ExtensionArray | pd.Series:
    """The typed column of a chunk from values ``_page_values`` already converted."""
    wtype = field.warehouse_type
    if wtype == "BIGINT":
        return pd.array(values, dtype="Int64")
    if wtype == "DOUBLE":
        return pd.array(values, dtype="Float64")
    if wtype == "BOOLEAN":
        return pd.array(values, dtype="boolean")
    if wtype == "TIMESTAMPTZ":
        return pd.to_datetime(pd.array(values, dtype="Int64"), unit="us", utc=True)
    text = np.empty(len(values), dtype=object)  # str or None: no NA pass, no inference
    text[:] = values
    return text


class _Chunk:
    """The rows of one chunk, column by column, converted page by page as pages arrive.

    Holding converted values (strings, ints) instead of the parsed records keeps a chunk
    several times smaller, and lets each page's dicts be freed at once instead of piling up
    for the garbage collector to scan again and again.
    """

    def __init__(self, fields: Sequence[Field], table: str) -> None:
        self.fields = tuple(fields)
        self.table = table
        self._reset()

    def _reset(self) -> None:
        self.columns: list[list[Any]] = [[] for _ in self.fields]
        self.rows = 0

    def add(self, records: Sequence[dict[str, Any]]) -> None:
        for field, column in zip(self.fields, self.columns, strict=True):
            name = field.name
            try:
                column.extend(_page_values(field, [r.get(name) for r in records]))
            except (TypeError, ValueError, OverflowError) as exc:
                bad = _first_bad(records, field)
                raise NormalizationError(
                    f"{self.table}.{field.name}: {bad} cannot be stored as "
                    f"{field.warehouse_type} ({exc}). The API sent a value of an unexpected "
                    "type; nothing was written."
                ) from None
        self.rows += len(records)

    def frame(self) -> pd.DataFrame:
        """The chunk as a typed DataFrame; the chunk starts empty again."""
        arrays = {
            f.name: _array(f, column) for f, column in zip(self.fields, self.columns, strict=True)
        }
        frame = pd.DataFrame(arrays, index=pd.RangeIndex(self.rows))
        self._reset()
        return frame


class SchemaDrift:
    """Collects the fields the API sent that the catalog does not know, and counts the
    selected fields it left out (they load as NULL: Aircall omits some empty fields)."""

    def __init__(self, known: Iterable[str], selected: Iterable[str] = ()) -> None:
        self.known = frozenset(known)
        self.selected = frozenset(selected)
        self.unknown: set[str] = set()
        self.missing: Counter[str] = Counter()

    def observe(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            if not self.known.issuperset(record):
                self.unknown.update(k for k in record if k not in self.known)
            if not self.selected.issubset(record):
                self.missing.update(self.selected.difference(record))


def frames(
    pages: Iterable[list[dict[str, Any]]],
    fields: Sequence[Field],
    table: str,
    drift: SchemaDrift,
    chunk_rows: int = 5_000,
) -> Iterator[pd.DataFrame]:
    """Group pages into typed DataFrames of about ``chunk_rows`` rows: memory stays bounded."""
    chunk = _Chunk(fields, table)
    for records in pages:
        drift.observe(records)
        chunk.add(records)
        if chunk.rows >= chunk_rows:
            yield chunk.frame()
    if chunk.rows:
        yield chunk.frame()
