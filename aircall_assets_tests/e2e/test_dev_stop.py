"""``make dev`` ends whole on SIGTERM, as on Ctrl-C: what a container runtime, systemd or a CI
job sends leaves no webserver, daemon, code server or simulator running.

Starts ``python -m aircall_assets dev`` for real (simulator and ``dagster dev`` on free ports,
a temporary ``DAGSTER_HOME``), waits until the webserver has loaded the code location (so every
service, code server included, is up), sends SIGTERM to the top process only, and checks that
every process of its session, and every process it had spawned, is gone within a bounded time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from aircall_assets.demo import INSTANCE_YAML
from aircall_assets_tests.e2e.stack import GraphQL, Group, free_port, wait_for
from aircall_assets_tests.e2e.test_dagster_dev import wait_for_location

pytestmark = pytest.mark.e2e

STOPPED_WITHIN_SECONDS = 60  # dagster dev's own shutdown, then SIGTERM and SIGKILL escalation


def running_processes() -> dict[int, tuple[int, int]]:
    """Every process not yet a zombie: pid -> (parent pid, session id), from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        state, ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if state not in ("Z", "X"):
            found[int(entry.name)] = (int(ppid), int(session))
    return found


def tree_and_session(leader: int) -> set[int]:
    """The processes of ``leader``'s session, and its descendants wherever they moved."""
    processes = running_processes()
    found = {pid for pid, (_ppid, session) in processes.items() if session == leader}
    grown = True
    while grown:
        children = {pid for pid, (ppid, _s) in processes.items() if ppid in found} - found
        found |= children
        grown = bool(children)
    return found


def test_sigterm_stops_dagster_dev_its_services_and_the_simulator(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRCALL_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(home), "AIRCALL_DUCKDB_PATH": str(tmp_path / "aircall.duckdb")}
    web_port = free_port()
    argv = [sys.executable, "-m", "aircall_assets", "dev", "--port", str(free_port())]
    dev = Group("make dev", [*argv, "--webserver-port", str(web_port)], env, tmp_path / "dev.log")
    started: set[int] = set()
    try:
        wait_for_location(GraphQL(web_port), dev)
        started = tree_and_session(dev.pgid)
        # this process, the simulator, dagster dev, its webserver, daemon and code server(s)
        assert len(started) >= 6, f"{len(started)} processes:\n{dev.tail()}"

        os.kill(dev.process.pid, signal.SIGTERM)

        def all_gone() -> bool:
            dev.process.poll()
            return not (tree_and_session(dev.pgid) | started) & set(running_processes())

        wait_for("every process of make dev to end", all_gone, STOPPED_WITHIN_SECONDS, 0.2)
        assert dev.process.returncode == 128 + signal.SIGTERM, dev.tail()
        assert "SIGTERM: stopping dagster dev and the simulator" in dev.tail()
    finally:
        dev.stop()
        for pid in tree_and_session(dev.pgid) | started:  # what a failed stop left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
