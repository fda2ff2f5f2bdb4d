"""Processes of a benchmark: the simulator and the measured workers.

A worker is one fresh process per measured run; its peak RSS comes from ``wait4`` (the
kernel's high-water mark for that process), its result from the one ``BENCH_RESULT`` line it
prints. The simulator runs in its own process and is read through its admin endpoints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from aircall_assets.warehouse.url import mask

WORKERS_DIR = Path(__file__).resolve().parent / "workers"
RESULT_PREFIX = "BENCH_RESULT "
API_ID = "bench"
API_TOKEN = "bench-token"


class WorkerFailed(RuntimeError):
    """A worker exited without a result; the message ends with its stderr tail."""


@dataclass
class WorkerRun:
    result: dict[str, Any]
    peak_rss_mb: float
    process_s: float

    def __getitem__(self, key: str) -> Any:
        return self.result[key]


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode(errors="replace")


def run_worker(
    python: str,
    script: str,
    params: dict[str, Any],
    *,
    log_path: Path,
    timeout: float,
    extra_env: dict[str, str] | None = None,
) -> WorkerRun:
    """Run ``workers/<script>`` under ``python`` in a fresh process and collect its result."""
    (run,) = run_workers_at_once(
        python, script, [params], log_path=log_path, timeout=timeout, extra_env=extra_env
    )
    return run


def run_workers_at_once(
    python: str,
    script: str,
    params: list[dict[str, Any]],
    *,
    log_path: Path,
    timeout: float,
    extra_env: dict[str, str] | None = None,
) -> list[WorkerRun]:
    """``workers/<script>`` once per ``params``, every process started at the same moment;
    their results in the same order (``WorkerFailed`` if any of them failed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra_env or {})
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as stderr:
        for each in params:  # a PostgreSQL URL's password masked
            stderr.write(f"\n$ {script} {mask(json.dumps(each))}\n".encode())
        stderr.flush()
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [python, str(WORKERS_DIR / script), json.dumps(each)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
            for each in params
        ]
        timers = [threading.Timer(timeout, proc.kill) for proc in procs]
        for timer in timers:
            timer.start()
        ended = []
        try:
            for proc in procs:  # each prints one line, at its end: no pipe fills up
                assert proc.stdout is not None
                out = proc.stdout.read()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                ended.append((proc.returncode, out, usage, time.perf_counter() - started))
        finally:
            for timer in timers:
                timer.cancel()
            for proc in procs:
                if proc.stdout is not None:
                    proc.stdout.close()
    runs = []
    for code, out, usage, elapsed in ended:
        result = None
        for line in out.decode(errors="replace").splitlines():
            if line.startswith(RESULT_PREFIX):
                result = json.loads(line[len(RESULT_PREFIX) :])
        if code != 0 or result is None:
            why = "timed out" if elapsed >= timeout else f"exit code {code}"
            raise WorkerFailed(f"{script} failed ({why}):\n{_tail(log_path)}")
        # ru_maxrss is in KiB on Linux.
        runs.append(WorkerRun(result, usage.ru_maxrss / 1024.0, elapsed))
    return runs


@dataclass
class SimulatorProcess:
    """``python -m aircall_assets.simulator`` in its own process, on a free loopback port."""

    start_date: str
    days: int
    calls_per_day: int
    log_path: Path
    rpm: int | None = None
    rate_window: float | None = None
    extra_args: Sequence[str] = ()
    base_url: str = field(default="", init=False)
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _session: requests.Session = field(default_factory=requests.Session, init=False, repr=False)

    def __enter__(self) -> SimulatorProcess:
        command = [
            sys.executable,
            "-m",
            "aircall_assets.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--start-date",
            self.start_date,
            "--days",
            str(self.days),
            "--calls-per-day",
            str(self.calls_per_day),
            "--api-id",
            API_ID,
            "--api-token",
            API_TOKEN,
            *self.extra_args,
        ]
        if self.rpm is not None:
            command += ["--rpm", str(self.rpm)]
        if self.rate_window is not None:
            command += ["--rate-window", str(self.rate_window)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        stderr = open(self.log_path, "ab")
        try:
            self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        finally:
            stderr.close()
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if "listening on" not in line:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the simulator did not start: {line!r} {_tail(self.log_path)}")
        self.base_url = line.rsplit(" ", 1)[-1]
        self._session.auth = (API_ID, API_TOKEN)
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    # -- admin and ground truth ------------------------------------------------------------

    def reset_stats(self) -> None:
        self._session.post(f"{self.base_url}/_simulator/reset-stats", timeout=30).raise_for_status()

    def stats(self, with_log: bool = False) -> dict[str, Any]:
        url = f"{self.base_url}/_simulator/stats" + ("?log=1" if with_log else "")
        response = self._session.get(url, timeout=60)
        response.raise_for_status()
        return response.json()

    def contacts(self) -> list[dict[str, Any]]:
        """Every contact of the account as the simulator holds it (created ones included)."""
        response = self._session.get(f"{self.base_url}/_simulator/contacts", timeout=60)
        response.raise_for_status()
        return response.json()["contacts"]

    def total(self, path: str, params: dict[str, Any] | None = None) -> int:
        """``meta.total`` of a list (one request with ``per_page=1``)."""
        response = self._session.get(
            f"{self.base_url}{path}", params={**(params or {}), "per_page": 1}, timeout=60
        )
        response.raise_for_status()
        return int(response.json()["meta"]["total"])

    def calls_total(self, windows: Sequence[tuple[int, int]]) -> int:
        """Calls started in the half-open windows (``from`` exclusive, ``to`` inclusive)."""
        return sum(self.total("/v1/calls", {"from": s - 1, "to": e - 1}) for s, e in windows)

    def common_params(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "api_id": API_ID, "api_token": API_TOKEN}
