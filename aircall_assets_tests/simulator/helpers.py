"""Small helpers shared by the simulator tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import requests

from aircall_assets.simulator import Simulator
from aircall_assets.simulator.data import day_start


def get(http: requests.Session, sim: Simulator, path: str, **params: Any) -> requests.Response:
    return http.get(sim.base_url + path, params=params, timeout=10)


def walk(
    http: requests.Session, sim: Simulator, path: str, key: str | None = None, **params: Any
) -> list[dict]:
    """Every record of a list (under `key`, default the path's last part), via next_page_link."""
    response = get(http, sim, path, **params)
    key = key or path.rsplit("/", 1)[-1]
    records = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        records += body[key]
        if body["meta"]["next_page_link"] is None:
            return records
        response = http.get(body["meta"]["next_page_link"], timeout=10)


def ts(day: date) -> int:
    """00:00:00 UTC of `day` as UNIX seconds."""
    return day_start(day)


def unsigned(value: Any) -> Any:
    """Calls (a call, a list, an envelope) with every audio link cut before its query.

    Links are signed per response (`expires` = the response's time + ttl), so two reads of
    the same calls differ in the query string once a second has passed.
    """
    if isinstance(value, list):
        return [unsigned(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: item.split("?", 1)[0]
        if key in ("recording", "voicemail") and isinstance(item, str)
        else unsigned(item)
        for key, item in value.items()
    }
