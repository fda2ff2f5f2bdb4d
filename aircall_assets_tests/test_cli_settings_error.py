"""A broken settings file makes ``python -m aircall_assets status|demo|dev`` (``make status``,
``make demo``, ``make dev``) print the settings error alone on stderr, one line per mistake,
and exit 2: no traceback, nothing on stdout, nothing started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aircall_assets.settings import SETTINGS_ENV, suggested_history_start
from aircall_assets.simulator.config import utc_today

START = "2026-06-01"


def run(
    tmp_path: Path, command: list[str], settings_text: str | None
) -> tuple[subprocess.CompletedProcess, str]:
    """``python -m aircall_assets <command>`` started in ``tmp_path``, with ``settings_text``
    as the file named by AIRCALL_SETTINGS (None: no variable, the project's file)."""
    settings = tmp_path / "broken.yaml"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    env.pop(SETTINGS_ENV, None)
    env.pop("AIRCALL_START_DATE", None)
    if settings_text is not None:
        settings.write_text(settings_text)
        env[SETTINGS_ENV] = str(settings)
    done = subprocess.run(
        [sys.executable, "-m", "aircall_assets", *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, str(settings)


def test_a_settings_file_that_is_no_mapping_gives_one_line_naming_it(tmp_path):
    done, path = run(tmp_path, ["status"], "- calls\n- users\n")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"{path}: must be a YAML mapping of settings (such as 'history_start: "
        f"{suggested_history_start(utc_today())}'), got list"
    ]


def test_every_mistake_is_a_line_with_the_file_the_key_and_the_suggestion(tmp_path):
    text = (
        f"history_start: {START}\n"
        "lookback_day: 3\n"
        "schedule: {timezone: Mars/Olympus}\n"
        "tables:\n"
        "  calls: {columns: [id, startd_at]}\n"
    )
    done, path = run(tmp_path, ["status"], text)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"{path}: schedule.timezone: 'Mars/Olympus' is not an IANA timezone name, e.g. 'UTC' or "
        "'Europe/Paris'",
        f"{path}: tables.calls.columns: unknown column 'startd_at' of table calls; did you mean "
        "'started_at'?",
        f"{path}: lookback_day: unknown key; did you mean 'lookback_days'?",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tables: [\n",
            "line 2, column 1: not valid YAML: expected the node content, but found "
            "'<stream end>', while parsing a flow node",
        ),
        (
            f"history_start: {START}\nlookback_days: -1\n",
            "lookback_days: Input should be greater than or equal to 0",
        ),
    ],
)
def test_other_settings_mistakes_give_their_message_without_a_traceback(tmp_path, text, message):
    done, path = run(tmp_path, ["status"], text)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [f"{path}: {message}"]


@pytest.mark.parametrize("command", [["demo"], ["dev", "--port", "0"]])
def test_demo_and_dev_report_the_mistake_before_starting_anything(tmp_path, command):
    done, path = run(tmp_path, command, f"history_start: {START}\ntables: {{cals: {{}}}}\n")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"{path}: tables.cals: unknown table; did you mean 'calls'?"
    ]
    assert not (tmp_path / "home").exists()
