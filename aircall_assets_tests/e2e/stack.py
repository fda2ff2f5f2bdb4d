"""Processes of the end-to-end test: the simulator and ``dagster dev``, each in its own group.

Every process is started in a new session (its own process group), so teardown can signal the
whole tree ``dagster dev`` spawns (webserver, daemon, code server, run workers) and nothing
outlives the test, even when it fails half-way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # not up yet
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last_error!r}")


class Group:
    """A process started in its own session; ``stop()`` ends the whole group."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path = REPO
    ) -> None:
        self.name = name
        self.log = log
        self._log_handle = open(log, "wb")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pgid = self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def group_alive(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 20.0) -> None:
        """Ctrl-C to the group (``dagster dev`` shuts its services down on SIGINT, not on
        SIGTERM), then SIGTERM, then SIGKILL to whatever is left of the group."""
        try:
            for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5.0)):
                if not self.group_alive():
                    break
                os.killpg(self.pgid, sig)
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and self.group_alive():
                    self.process.poll()  # reap the leader so the group can empty
                    time.sleep(0.2)
            if self.group_alive():
                os.killpg(self.pgid, signal.SIGKILL)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and self.group_alive():
                    self.process.poll()
                    time.sleep(0.1)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        finally:
            self._log_handle.close()


def venv_bin(name: str) -> str:
    """A console script of the running interpreter's environment (``.venv/bin/dagster``)."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


class GraphQL:
    """Plain HTTP to the webserver's GraphQL endpoint; errors raise with the server's message."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"

    def __call__(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        response = requests.post(
            self.url, json={"query": query, "variables": dict(variables or {})}, timeout=60
        )
        if response.status_code >= 400:
            raise RuntimeError(f"GraphQL HTTP {response.status_code}: {response.text[:2000]}")
        payload = response.json()
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]


LOCATION = "aircall_assets"
REPOSITORY = "__repository__"


def selector(**names: str) -> dict:
    """A selector of this code location (add ``jobName``, ``sensorName``, ...)."""
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, **names}


def launch(graphql: GraphQL, job: str, *, tags=None, run_config=None, assets=None) -> str:
    """Launch a run of ``job`` (``assets``: ``prefix/name`` keys for an asset job); its id."""
    params = {
        "selector": selector(jobName=job),
        "runConfigData": run_config or {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }
    if assets:
        params["selector"]["assetSelection"] = [{"path": key.split("/")} for key in assets]
    result = graphql(LAUNCH_RUN, {"executionParams": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


LOCATION_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories {
              name
              sensors { name sensorState { status } }
              schedules { name scheduleState { status } }
            }
          }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""

LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

START_SENSOR = """
mutation Start($sensorSelector: SensorSelector!) {
  startSensor(sensorSelector: $sensorSelector) {
    __typename
    ... on Sensor { name sensorState { status } }
    ... on PythonError { message }
    ... on SensorNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter, limit: 20) {
    __typename
    ... on Runs { results { runId jobName status tags { key value } } }
    ... on PythonError { message }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status jobName }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

LAUNCH_BACKFILL = """
mutation Backfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status }
    ... on PythonError { message }
  }
}
"""

DRY_RUN_RESULT = """
    __typename
    ... on DryRunInstigationTick {
      evaluationResult {
        runRequests { runKey jobName runConfigYaml tags { key value } assetSelection { path } }
        skipReason
        cursor
        error { message }
      }
    }
    ... on PythonError { message }
"""

SCHEDULE_DRY_RUN = f"""
mutation Schedule($selectorData: ScheduleSelector!, $timestamp: Float) {{
  scheduleDryRun(selectorData: $selectorData, timestamp: $timestamp) {{ {DRY_RUN_RESULT} }}
}}
"""

SENSOR_DRY_RUN = f"""
mutation Sensor($selectorData: SensorSelector!, $cursor: String) {{
  sensorDryRun(selectorData: $selectorData, cursor: $cursor) {{ {DRY_RUN_RESULT} }}
}}
"""

ALL_RUNS_QUERY = """
query {
  runsOrError(limit: 200) {
    __typename
    ... on Runs { results { runId jobName status startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""
