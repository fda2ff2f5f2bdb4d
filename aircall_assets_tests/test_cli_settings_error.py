"""A broken settings file makes ``python -m aircall_assets status`` (``make status``) print the
settings error alone on stderr and exit non-zero: no traceback, nothing on stdout."""

import os
import subprocess
import sys

import pytest

from aircall_assets.settings import SETTINGS_ENV


def run_status(tmp_path, settings_text: str) -> tuple[subprocess.CompletedProcess, str]:
    settings = tmp_path / "broken.yaml"
    settings.write_text(settings_text)
    env = {**os.environ, SETTINGS_ENV: str(settings), "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "aircall_assets", "status"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, str(settings)


def test_a_settings_file_that_is_no_mapping_gives_one_line_naming_it(tmp_path):
    done, path = run_status(tmp_path, "- calls\n- users\n")
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"{path} must be a YAML mapping, got list"]


@pytest.mark.parametrize(
    "text, says",
    [
        ("tables: [\n", "is not valid YAML"),
        ("lookback_days: -1\n", "lookback_days"),
    ],
)
def test_other_settings_mistakes_give_their_message_without_a_traceback(tmp_path, text, says):
    done, path = run_status(tmp_path, text)
    assert done.returncode != 0 and done.stdout == ""
    assert "Traceback" not in done.stderr
    first = done.stderr.splitlines()[0]
    assert path in first and says in done.stderr
