"""The peers' virtual environments under ``.bench/`` and the description of the machine.

Peers never touch the project's dependencies: dlt and the stock Dagster DuckDB IO manager go
into ``.bench/peers-py311`` (same Dagster, DuckDB and pandas versions as the project, so the
naive baseline differs only by its code), Airbyte's connector into ``.bench/airbyte-py310``
(its CDK needs Python 3.10). Each venv is made once and reused while its requirements match.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / ".bench"
DLT_VERSION = "1.31.0"
AIRBYTE_CONNECTOR = "airbyte-source-aircall==0.3.0"
PROFILER = "py-spy==0.4.3"


def _v(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


@dataclass
class Interpreter:
    """A peer environment's python, or why there is none."""

    name: str
    python: str | None
    reason: str = ""


def peers_requirements() -> list[str]:
    return [
        f"dlt[duckdb]=={DLT_VERSION}",
        f"dagster=={_v('dagster')}",
        f"dagster-duckdb-pandas=={_v('dagster-duckdb')}",
        f"duckdb=={_v('duckdb')}",
        f"pandas=={_v('pandas')}",
        f"requests=={_v('requests')}",
        f"orjson=={_v('orjson')}",
        PROFILER,
    ]


def find_python310() -> str | None:
    """A working Python 3.10 (``python3.10`` on PATH, pyenv's, or the system's)."""
    candidates = [
        os.environ.get("BENCH_PYTHON310"),
        shutil.which("python3.10"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10"))),
        "/usr/bin/python3.10",
        "/usr/local/bin/python3.10",
    ]
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        check = subprocess.run(
            [candidate, "-c", "import sys, venv; assert sys.version_info[:2] == (3, 10)"],
            capture_output=True,
        )
        if check.returncode == 0:
            return candidate
    return None


def ensure_venv(
    name: str, base_python: str, requirements: list[str], log_path: Path
) -> Interpreter:
    """``.bench/<name>`` with exactly ``requirements`` installed (made once, then reused)."""
    root = BENCH_DIR / name
    python = root / "bin" / "python"
    marker = root / ".bench-requirements"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return Interpreter(name, str(python))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  preparing {root.relative_to(REPO_ROOT)}: {' '.join(requirements)}", flush=True)
    with open(log_path, "ab") as log:
        steps = [
            [base_python, "-m", "venv", "--clear", str(root)],
            [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
            [str(python), "-m", "pip", "install", "--quiet", *requirements],
        ]
        for step in steps:
            done = subprocess.run(step, stdout=log, stderr=log)
            if done.returncode != 0:
                return Interpreter(
                    name, None, f"`{' '.join(step[:4])} ...` failed (see {log_path.name})"
                )
    marker.write_text(wanted)
    return Interpreter(name, str(python))


def peers_env(log_path: Path) -> Interpreter:
    return ensure_venv("peers-py311", sys.executable, peers_requirements(), log_path)


def airbyte_env(log_path: Path) -> Interpreter:
    python310 = find_python310()
    if python310 is None:
        return Interpreter("airbyte-py310", None, "no python3.10 on this machine")
    return ensure_venv("airbyte-py310", python310, [AIRBYTE_CONNECTOR], log_path)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine_description(
    peers: Interpreter | None, airbyte: Interpreter | None, postgres: str | None = None
) -> list[str]:
    """The CPU first, then the software each tool ran on (``postgres``: the server's
    description, when a case used it)."""
    lines = [
        f"CPU: {_cpu_model()}, {os.cpu_count()} cores; RAM {_memory_gib()}; "
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()} (ours, ceiling); packages: dagster {_v('dagster')}, "
        f"duckdb {_v('duckdb')}, pandas {_v('pandas')}, numpy {_v('numpy')}, "
        f"requests {_v('requests')}, orjson {_v('orjson')}",
    ]
    if postgres:
        lines.append(postgres)
    if peers and peers.python:
        lines.append(
            f"Peers venv .bench/{peers.name}: dlt {DLT_VERSION}, dagster-duckdb-pandas "
            f"{_v('dagster-duckdb')} (same dagster/duckdb/pandas as ours)"
        )
    if airbyte and airbyte.python:
        out = subprocess.run(
            [
                airbyte.python,
                "-c",
                "import platform; from importlib.metadata import version; "
                "print(platform.python_version(), version('airbyte-cdk'))",
            ],
            capture_output=True,
            text=True,
        ).stdout.split()
        if len(out) == 2:
            lines.append(
                f"Airbyte venv .bench/{airbyte.name}: Python {out[0]}, {AIRBYTE_CONNECTOR}, "
                f"airbyte-cdk {out[1]}"
            )
    return lines
