"""The ceiling: a bare ``requests`` loop that fetches and parses the same pages as ours.

Same windows as ours (the range as one window, split where the 10,000 cap forces it, by the
client's own rule), same ``from``/``to``/``per_page``/``order`` parameters, one keep-alive
session, ``orjson`` parsing; no normalisation, no writes. Nothing a connector can do per page
is cheaper, so ours is reported as a fraction of it. Params: base_url, api_id, api_token,
first_day, days.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
import requests
from _protocol import day_windows, emit, params

from aircall_assets.client.pages import POSITIONAL_CAP
from aircall_assets.client.windows import split_window


@dataclass
class Reader:
    session: requests.Session
    url: str
    records: int = 0
    pages: int = 0

    def window(self, start: int, end: int) -> None:
        """Every page of ``[start, end)``; a window over the cap is split as ours splits it."""
        page = 1
        while True:
            response = self.session.get(
                self.url,
                params={
                    "per_page": 50,
                    "order": "asc",
                    "from": start - 1,
                    "to": end - 1,
                    "page": page,
                },
            )
            body = orjson.loads(response.content)
            self.pages += 1
            total = body["meta"]["total"]
            if page == 1 and total > POSITIONAL_CAP:
                if end - start <= 1:
                    raise RuntimeError(f"{total} calls in one second at {start}: past the cap")
                for part_start, part_end in split_window(start, end, total):
                    self.window(part_start, part_end)
                return
            self.records += len(body["calls"])
            if not body["meta"]["next_page_link"] or not body["calls"]:
                return
            page += 1


def main() -> None:
    p = params()
    days = day_windows(p["first_day"], p["days"])
    session = requests.Session()
    session.auth = (p["api_id"], p["api_token"])
    reader = Reader(session, p["base_url"] + "/v1/calls")
    started, cpu = time.perf_counter(), time.process_time()
    reader.window(days[0][0], days[-1][1])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    emit(records=reader.records, wall_s=wall, cpu_s=cpu, pages=reader.pages)


if __name__ == "__main__":
    main()
