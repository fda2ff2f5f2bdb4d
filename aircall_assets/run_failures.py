"""Why a run failed, in one line: what ``make status`` shows next to a failed table or destination.

Only a failed run's ``STEP_FAILURE`` and ``RUN_FAILURE`` events are read, and the reason is the
message of the error the project's code raised, under Dagster's wrappers, cut to one line of
the status.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

# A failure's reason is cut to this many characters: one line of the status, with the table's
# name and the failure's time in front; the full message is in the run's log.
REASON_WIDTH = 100
ELLIPSIS = "..."
FAILURE_EVENTS = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}


@dataclass
class LastFailure:
    """Why the last run failed, in one line, and when (the time of the failure event)."""

    at: datetime
    reason: str


def utc_timestamp(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass
class RunFailureEvents:
    """A failed run's failure events: a table's reason is its own step's, if that step failed."""

    steps: dict[str, dg.EventLogEntry]  # the STEP_FAILURE of each failed step, by step key
    run: dg.EventLogEntry | None  # the RUN_FAILURE


class FailureReasons:
    """The one-line reasons of failed runs, from each run's failure events only.

    Only ``STEP_FAILURE`` and ``RUN_FAILURE`` events of a failed run are read (one query per
    run, shared by the tables that run loaded), never the run's whole log: a backfill's run
    logs thousands of events, an instance millions.
    """

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._events: dict[str, RunFailureEvents] = {}

    def _read(self, run_id: str) -> RunFailureEvents:
        if run_id not in self._events:
            failures = RunFailureEvents({}, None)
            for entry in self._instance.all_logs(run_id, of_type=FAILURE_EVENTS):
                if entry.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE:
                    failures.run = entry
                else:
                    failures.steps[entry.step_key] = entry
            self._events[run_id] = failures
        return self._events[run_id]

    def of_asset(self, run: dg.DagsterRun, key: dg.AssetKey) -> LastFailure | None:
        """Why ``run`` failed for the asset ``key``: the failure of the step that materializes
        it, else the run's failure (another step failed, or the run failed before its steps)."""
        steps: set[str] = set()
        if run.execution_plan_snapshot_id:
            plan = self._instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            steps = {
                step.key
                for step in plan.steps
                for output in step.outputs
                if output.properties is not None and output.properties.asset_key == key
            }
        return self._reason(self._read(run.run_id), steps)

    def of_run(self, run_id: str) -> LastFailure | None:
        """Why ``run_id`` failed: its first failed step, else the run's failure (for jobs of
        one op, like the reverse sync's)."""
        failures = self._read(run_id)
        return self._reason(failures, set(failures.steps))

    @staticmethod
    def _reason(failures: RunFailureEvents, steps: set[str]) -> LastFailure | None:
        failed = [entry for key, entry in failures.steps.items() if key in steps]
        if failed:
            entry = failed[0]
            data = entry.dagster_event.event_specific_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                reason = data.user_failure_data.description  # a dg.Failure raised by our code
            elif data.error is not None:
                reason = error_reason(data.error)
            else:
                reason = entry.message
        elif failures.run is not None:
            entry = failures.run
            error = entry.dagster_event.event_specific_data.error
            # When other steps failed, the run's error is theirs: its message names them.
            other_steps_failed = bool(failures.steps)
            reason = entry.message if other_steps_failed or error is None else error_reason(error)
        else:
            return None
        return LastFailure(at=utc_timestamp(entry.timestamp), reason=one_line(reason))


@cache
def _dagster_wrappers() -> frozenset[str]:
    """Names of the errors Dagster wraps user code's exceptions in (``Error occurred while
    handling output ...``): the reason is the exception they wrap, not them."""

    def subclasses(cls: type) -> Iterable[type]:
        yield cls
        for sub in cls.__subclasses__():
            yield from subclasses(sub)

    return frozenset(c.__name__ for c in subclasses(dg.DagsterUserCodeExecutionError))


def error_reason(error: SerializableErrorInfo) -> str:
    """The message of the error user code raised, under Dagster's wrappers.

    Its own cause is not followed: our errors are raised ``from None`` or carry what matters
    (the client says "Aircall rejected the credentials", not the HTTP library's exception).
    Dagster's and this project's messages are written for people, so their class name is
    dropped; any other keeps its short name (``KeyError: 'id'`` says more than ``'id'``).
    """
    while error.cls_name in _dagster_wrappers() and (error.cause or error.context):
        error = error.cause or error.context
    lines = [line for line in error.message.strip().splitlines() if line.strip()]
    text = lines[0].strip() if lines else error.cls_name
    prefix = re.match(rf"(?:([\w.]+)\.)?{re.escape(error.cls_name)}(?::\s*|$)", text)
    if prefix is None:
        return text
    module = prefix.group(1) or ""
    rest = text[prefix.end() :]
    if module.split(".")[0] in ("dagster", "aircall_assets"):
        return rest or error.cls_name
    return f"{error.cls_name}: {rest}" if rest else error.cls_name


def one_line(text: str, width: int = REASON_WIDTH) -> str:
    """The first line of ``text``, cut at a word before ``width`` characters, with an ellipsis."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(line) <= width:
        return line
    room = width - len(ELLIPSIS)
    cut = line.rfind(" ", 0, room + 1)
    if cut < room * 2 // 3:  # no space near the end: cut inside the word
        cut = room
    return line[:cut].rstrip(" ,;:.") + ELLIPSIS
