"""`python -m aircall_assets.simulator` as the reliability tests run it: a subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_cli_prints_one_line_serves_and_exits_cleanly():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AIRCALL_API_TOKEN": "s3cr3t-token"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aircall_assets.simulator",
            "--port",
            "0",
            "--seed",
            "3",
            "--days",
            "2",
            "--calls-per-day",
            "20",
            "--contacts",
            "7",
            "--rpm",
            "1000",
            "--big-day",
            "2026-01-01:5",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"Aircall simulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        base = match.group(1)
        with requests.Session() as http:
            http.auth = ("demo", "s3cr3t-token")
            assert http.get(base + "/v1/ping", timeout=10).json() == {"ping": "pong"}
            calls = http.get(base + "/v1/calls", params={"per_page": 50}, timeout=10).json()
            assert calls["meta"]["total"] == 40
            assert calls["meta"]["next_page_link"] is None
            contacts = http.get(base + "/_simulator/contacts", timeout=10).json()["contacts"]
            assert len(contacts) == 7
            stats = http.get(base + "/_simulator/stats", timeout=10).json()
            assert stats["requests"] == 2 and stats["by_path"]["/v1/calls"] == 1
            assert http.post(base + "/_simulator/reset-stats", timeout=10).status_code == 200
            assert http.get(base + "/_simulator/stats", timeout=10).json()["requests"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert out == "" and "s3cr3t-token" not in err


def test_cli_flags_of_the_analytics_endpoints_reach_the_config():
    from aircall_assets.simulator.__main__ import build_parser, config_from_args

    flags = "--webhooks 57 --no-intelligence --intelligence-delay 5 --audio-link-ttl 600"
    config = config_from_args(build_parser().parse_args(flags.split()))
    assert (config.webhooks, config.intelligence) == (57, False)
    assert (config.intelligence_delay_seconds, config.audio_link_ttl_seconds) == (5, 600)
    defaults = config_from_args(build_parser().parse_args([]))
    assert defaults.intelligence and defaults.webhooks == 3
