"""The ceiling: a bare ``requests`` loop that fetches and parses the same pages as ours.

Same day windows, same ``from``/``to``/``per_page``/``order`` parameters, one keep-alive
session, ``orjson`` parsing; no normalisation, no writes. Nothing a connector can do per page
is cheaper, so ours is reported as a fraction of it. Params: base_url, api_id, api_token,
first_day, days, older (also read the window before first_day, as our first partition does).
"""

from __future__ import annotations

import time

import orjson
import requests
from _protocol import day_windows, emit, params


def main() -> None:
    p = params()
    windows = day_windows(p["first_day"], p["days"])
    if p.get("older"):
        windows.insert(0, (0, windows[0][0]))
    session = requests.Session()
    session.auth = (p["api_id"], p["api_token"])
    url = p["base_url"] + "/v1/calls"
    records = pages = 0
    started, cpu = time.perf_counter(), time.process_time()
    for start, end in windows:
        page = 1
        while True:
            response = session.get(
                url,
                params={
                    "per_page": 50,
                    "order": "asc",
                    "from": start - 1,
                    "to": end - 1,
                    "page": page,
                },
            )
            body = orjson.loads(response.content)
            records += len(body["calls"])
            pages += 1
            if not body["meta"]["next_page_link"] or not body["calls"]:
                break
            page += 1
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    emit(records=records, wall_s=wall, cpu_s=cpu, pages=pages)


if __name__ == "__main__":
    main()
