"""``--profile``: where ours spends a throughput run, sampled by py-spy from the peers' venv.

py-spy samples the worker process from outside (wall clock, idle time included), so the
figures are those of an ordinary run. Stacks are folded into two lists: the functions the
samples were in (self) and the functions on the stack (inclusive), in percent of all samples.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.procs import WORKERS_DIR

_FRAME = re.compile(r"(?P<name>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _label(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    return f"{match['name']} ({Path(match['file']).name})"


def fold(raw: str) -> tuple[int, Counter[str], Counter[str]]:
    """Total samples, self counts and inclusive counts from py-spy's ``raw`` output."""
    total, own, inclusive = 0, Counter(), Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_label(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
    return total, own, inclusive


def profile_worker(py_spy: str, params: dict[str, Any], out_dir: Path, top: int = 25) -> str:
    """Run ``ours.py`` under py-spy; the folded summary as text (also saved beside the raw)."""
    raw_path = out_dir / "profile.raw.txt"
    command = [
        py_spy,
        "record",
        "--rate",
        "200",
        "--idle",
        "--format",
        "raw",
        "--output",
        str(raw_path),
        "--",
        sys.executable,
        str(WORKERS_DIR / "ours.py"),
        json.dumps(params),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not raw_path.exists():
        return f"py-spy failed: {done.stderr[-800:]}"
    total, own, inclusive = fold(raw_path.read_text())
    lines = [f"{total} samples at 200 Hz (idle included)", "", "self:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive (project code and the libraries it calls):"]
    ours = [
        (name, n)
        for name, n in inclusive.most_common()
        if any(
            m in name
            for m in (
                "normalize.py",
                "warehouse.py",
                "client.py",
                "pages.py",
                "windows.py",
                "rate_limit.py",
                "replies.py",
                "read_ahead.py",
                "assets.py",
                "transport.py",
                "connectionpool.py",
                "materialize.py",
            )
        )
    ]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in ours[:top]]
    text = "\n".join(lines)
    (out_dir / "profile.txt").write_text(text + "\n")
    return text
