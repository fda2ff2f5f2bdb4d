"""Baseline: what a first attempt looks like, a ``requests`` loop into the stock IO manager.

A daily-partitioned Dagster asset (single-run backfill) that pages each day window with
``requests`` and ``response.json()``, builds one ``pandas.DataFrame`` of the whole range,
dumps nested fields to JSON text and hands it to ``dagster_duckdb_pandas.DuckDBPandasIOManager``.
Runs in the peers' virtual environment. Params: base_url, api_id, api_token, first_day, days,
workdir.
"""

import json
import time
import warnings

from _protocol import emit, fresh_db, params


def main() -> None:
    p = params()
    warnings.filterwarnings("ignore")
    import dagster as dg
    import duckdb
    import pandas as pd
    import requests
    from dagster_duckdb_pandas import DuckDBPandasIOManager

    base_url, auth = p["base_url"], (p["api_id"], p["api_token"])
    first = p["first_day"]
    last = (pd.Timestamp(first) + pd.Timedelta(days=p["days"] - 1)).date().isoformat()

    @dg.asset(
        key=["aircall", "calls"],
        partitions_def=dg.DailyPartitionsDefinition(start_date=first, end_offset=1),
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"partition_expr": "started_at"},
    )
    def calls(context: dg.AssetExecutionContext) -> pd.DataFrame:
        window = context.partition_time_window
        records = []
        session = requests.Session()
        day = pd.Timestamp(window.start)
        while day < pd.Timestamp(window.end):
            start = int(day.timestamp())
            page = 1
            while True:
                body = session.get(
                    f"{base_url}/v1/calls",
                    params={"from": start - 1, "to": start + 86399, "per_page": 50, "page": page},
                    auth=auth,
                ).json()
                records.extend(body["calls"])
                if not body["meta"]["next_page_link"]:
                    break
                page += 1
            day += pd.Timedelta(days=1)
        frame = pd.DataFrame(records)
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, (dict, list))).any():
                frame[column] = frame[column].map(lambda v: None if v is None else json.dumps(v))
        for column in ("started_at", "answered_at", "ended_at"):
            frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
        return frame

    db = fresh_db(p["workdir"], "naive.duckdb")
    instance = dg.DagsterInstance.ephemeral()
    started, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize(
        [calls],
        instance=instance,
        resources={"io_manager": DuckDBPandasIOManager(database=db)},
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.success
    with duckdb.connect(db, read_only=True) as con:
        records = con.execute("SELECT count(*) FROM aircall.calls").fetchone()[0]
    emit(records=records, wall_s=wall, cpu_s=cpu)


if __name__ == "__main__":
    main()
