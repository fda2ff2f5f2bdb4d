"""Runs the scenarios in order and collects their figures; an exception is a failed scenario."""

from __future__ import annotations

import logging
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path

from .profiles import Profile
from .report import ScenarioResult

Scenario = Callable[[Profile, Path], ScenarioResult]


def scenarios() -> dict[str, list[tuple[str, Scenario]]]:
    """The five groups of the suite, each a list of (row name, function)."""
    from .scenarios.bad_input import run_bad_input
    from .scenarios.concurrency import run_concurrency
    from .scenarios.crashes import run_backfill_crashes, run_reverse_crashes
    from .scenarios.faults import run_extract_faults, run_reverse_faults
    from .scenarios.secrets import run_secrets

    return {
        "faults": [
            ("faults: extract", run_extract_faults),
            ("faults: reverse sync", run_reverse_faults),
        ],
        "crashes": [
            ("crashes: backfill", run_backfill_crashes),
            ("crashes: reverse sync", run_reverse_crashes),
        ],
        "concurrency": [("concurrency", run_concurrency)],
        "bad-input": [("bad input", run_bad_input)],
        "secrets": [("secrets", run_secrets)],
    }


def run_one(name: str, scenario: Scenario, profile: Profile, workdir: Path) -> ScenarioResult:
    began = time.monotonic()
    try:
        result = scenario(profile, workdir)
    except Exception as exc:  # noqa: BLE001 - a crash of the rig is reported, not hidden
        result = ScenarioResult(name)
        result.fail(f"the scenario raised {type(exc).__name__}: {exc}")
        result.notes.append("traceback: " + " | ".join(traceback.format_exc().splitlines()[-6:]))
    result.seconds = result.seconds or (time.monotonic() - began)
    return result


def run(
    profile: Profile,
    workdir: Path,
    only: list[str] | None = None,
    echo: Callable[[str], None] = print,
) -> list[ScenarioResult]:
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    with (
        quiet_logs(workdir / "reliability.log"),
        open(workdir / "stderr.log", "a", encoding="utf-8") as stderr,
        redirect_stderr(stderr),
    ):
        for group, entries in scenarios().items():
            if only and group not in only:
                continue
            for name, scenario in entries:
                echo(f"[reliability] {name} ...")
                result = run_one(name, scenario, profile, workdir)
                verdict = "ok" if result.ok else "FAILED"
                echo(f"[reliability] {name}: {verdict} in {result.seconds:.0f}s")
                results.append(result)
    return results


@contextmanager
def quiet_logs(path: Path) -> Iterator[None]:
    """Client warnings (429 waits, lost answers) and ``sys.stderr`` (the simulator's server
    prints a traceback each time a killed child's connection resets) go to files in the work
    directory, not between the table rows. Restored afterwards."""
    logger = logging.getLogger("aircall_assets")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            import dagster as dg

            warnings.simplefilter("ignore", dg.BetaWarning)
            warnings.simplefilter("ignore", dg.PreviewWarning)
            yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        handler.close()
