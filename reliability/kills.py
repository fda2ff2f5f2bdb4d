"""Kill plans and kill-point classification shared by the crash scenarios.

A kill plan spreads SIGKILLs over a child's measured run: some anywhere from spawn to exit,
some while the work runs (imports done, run not yet returned), and some inside the DuckDB merge
transaction of a chosen table (the child kills itself a random fraction of that transaction's
measured duration after BEGIN). The child's markers then tell where each kill actually landed.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Timing:
    """Phases of a calibration run, in seconds after spawn."""

    total: float
    work_start: float  # imports done, the run begins
    work_end: float  # the run returned (what follows is interpreter teardown)
    merges: dict[str, float]  # table -> seconds from BEGIN to the end of COMMIT


def read_markers(path: Path) -> list[tuple[float, str, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2:
            try:
                out.append((float(parts[0]), parts[1], parts[2] if len(parts) > 2 else ""))
            except ValueError:
                continue  # a line cut by the kill
    return out


def timing(markers: list[tuple[float, str, str]], spawned: float, ended: float) -> Timing:
    work = next((t for t, p, _ in markers if p == "start"), spawned) - spawned
    done = next((t for t, p, _ in markers if p == "done"), ended) - spawned
    merges: dict[str, float] = {}
    table, begun = None, None
    for t, phase, detail in markers:
        if phase == "merge-start":
            table, begun = detail, None
        elif phase == "main-sql" and detail == "BEGIN" and table:
            begun = t
        elif phase == "merge-end" and table and begun is not None:
            merges[table] = t - begun
            table = None
    return Timing(
        total=ended - spawned, work_start=max(work, 0.0), work_end=max(done, work), merges=merges
    )


def landing(markers: list[tuple[float, str, str]]) -> str:
    """Where a killed child was: startup, work (API read + staging), merge:<stmt>, ..."""
    events = [(p, d) for _, p, d in markers if p != "self-kill"]
    if not any(p == "start" for p, _ in events):
        return "startup"
    if events[-1][0] == "done":
        return "after the run"
    in_merge = None
    for phase, detail in events:
        if phase == "merge-start":
            in_merge = "BEGIN not yet sent"
        elif phase == "merge-end":
            in_merge = None
        elif phase == "main-sql" and in_merge is not None:
            in_merge = detail
    if in_merge is not None:
        return f"merge:{in_merge}"
    if any(p == "merge-end" for p, _ in events):
        return "between merges"
    return "API read/staging"


def summarize(landings: list[str]) -> str:
    counts = Counter("inside merge" if x.startswith("merge:") else x for x in landings)
    stmts = Counter(x.split(":", 1)[1] for x in landings if x.startswith("merge:"))
    text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    if stmts:
        text += " (in merge, last statement sent: "
        text += ", ".join(f"{k} {v}" for k, v in sorted(stmts.items())) + ")"
    return text


@dataclass(frozen=True)
class KillPoint:
    mode: str  # anywhere | work | merge
    delay: float  # after spawn (anywhere/work) or after the merge began (merge)
    table: str | None = None


def plan(rng: random.Random, index: int, measured: Timing, tables: list[str]) -> KillPoint:
    mode = ("anywhere", "work", "merge")[index % 3]
    if mode == "merge" and measured.merges:
        table = rng.choice(
            sorted(t for t in tables if t in measured.merges) or sorted(measured.merges)
        )
        return KillPoint("merge", rng.uniform(0.0, measured.merges[table] * 1.2), table)
    if mode == "work":
        return KillPoint(mode, rng.uniform(measured.work_start, measured.work_end))
    return KillPoint(mode, rng.uniform(0.0, measured.total))


def kill_group_after(proc: subprocess.Popen, delay: float) -> None:
    """SIGKILL the child's whole process group ``delay`` seconds after now, unless it exited."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return
        time.sleep(min(0.01, max(deadline - time.monotonic(), 0)))
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
