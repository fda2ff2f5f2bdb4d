"""Peer: dlt's ``rest_api`` source into dlt's DuckDB destination, set up as a user would.

Page-number paginator on ``page``/``per_page``; calls read in day windows (``from`` exclusive,
``to`` inclusive) resolved from a parent resource, since one window cannot pass the 10k cap.
Runs in the peers' virtual environment. Params: base_url, api_id, api_token, first_day, days,
workdir.
"""

from __future__ import annotations

import os
import time

from _protocol import day_windows, emit, params


def main() -> None:
    p = params()
    os.environ["DLT_DATA_DIR"] = os.path.join(p["workdir"], "dlt_data")
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    from dlt.sources.rest_api import rest_api_source

    windows = day_windows(p["first_day"], p["days"])

    @dlt.resource(name="windows", selected=False)
    def windows_resource():
        yield [{"from": start - 1, "to": end - 1} for start, end in windows]

    source = rest_api_source(
        {
            "client": {
                "base_url": p["base_url"] + "/v1/",
                "auth": {"type": "http_basic", "username": p["api_id"], "password": p["api_token"]},
                "paginator": {
                    "type": "page_number",
                    "base_page": 1,
                    "page_param": "page",
                    "total_path": None,  # meta.total counts records, not pages
                },
            },
            "resource_defaults": {"write_disposition": "replace", "primary_key": "id"},
            "resources": [
                windows_resource,
                {
                    "name": "calls",
                    "endpoint": {
                        "path": "calls",
                        "data_selector": "calls",
                        "params": {
                            "per_page": 50,
                            "order": "asc",
                            "from": "{resources.windows.from}",
                            "to": "{resources.windows.to}",
                        },
                    },
                },
            ],
        }
    )
    db = os.path.join(p["workdir"], "dlt_calls.duckdb")
    pipeline = dlt.pipeline(
        pipeline_name="aircall_bench",
        destination=dlt.destinations.duckdb(db),
        dataset_name="aircall",
        pipelines_dir=os.path.join(p["workdir"], "dlt_pipelines"),
    )
    started, cpu = time.perf_counter(), time.process_time()
    pipeline.run(source, loader_file_format=p.get("loader_file_format"))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    with pipeline.sql_client() as client:
        records = client.execute_sql("SELECT count(*) FROM calls")[0][0]
    emit(records=records, wall_s=wall, cpu_s=cpu)


if __name__ == "__main__":
    main()
