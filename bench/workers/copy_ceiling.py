"""The PostgreSQL ceiling: a bare ``COPY`` of the final typed rows, already in memory.

Runs in the project's environment. The rows are the ones ours loaded: read back (untimed) from
``aircall.calls`` of ``source_url`` as Python values (integers, booleans, ``datetime``\\s in
UTC, text, and each JSONB value as its JSON text, as the API sent it), so that nothing is left
to parse or type. An empty table of the same columns is made in a transaction of its own
(untimed); the timer covers one transaction: ``COPY`` of every row, in ``format`` (``text`` or
``binary``, psycopg's C adapters), and the commit. Nothing a loader can do is cheaper on this
server. Params: source_url, format.
"""

from __future__ import annotations

import time

import psycopg
from _protocol import emit, params
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.string import TextLoader

SOURCE = "aircall.calls"
TARGET = "bench_ceiling.calls"


class JsonbText(str):
    """A JSON text bound for a JSONB column: the class the dumper below is registered under.
    No value is made of it: ``set_types`` picks each column's dumper by its type."""


class JsonbTextBinaryDumper(Dumper):
    """A JSON text as JSONB's binary form (a version byte, then the text): no re-encoding."""

    format = Format.BINARY

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def main() -> None:
    p = params()
    with psycopg.connect(p["source_url"], autocommit=True) as con:
        for name in ("json", "jsonb"):
            con.adapters.register_loader(name, TextLoader)
        con.execute("SET TIME ZONE 'UTC'")
        JsonbTextBinaryDumper.oid = con.adapters.types["jsonb"].oid
        con.adapters.register_dumper(JsonbText, JsonbTextBinaryDumper)
        rows = con.execute(f"SELECT * FROM {SOURCE}").fetchall()
        types = [
            type_name
            for (type_name,) in con.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum",
                [SOURCE],
            ).fetchall()
        ]
        con.execute("DROP SCHEMA IF EXISTS bench_ceiling CASCADE")
        con.execute("CREATE SCHEMA bench_ceiling")
        con.execute(f"CREATE TABLE {TARGET} (LIKE {SOURCE})")
        binary = p["format"] == "binary"
        statement = f"COPY {TARGET} FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
        started, cpu = time.perf_counter(), time.process_time()
        with con.transaction(), con.cursor() as cur, cur.copy(statement) as copy:
            if binary:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        (copied,) = con.execute(f"SELECT count(*) FROM {TARGET}").fetchone()
    emit(records=copied, wall_s=wall, cpu_s=cpu, format=p["format"])


if __name__ == "__main__":
    main()
