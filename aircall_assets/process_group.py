"""A child process in a process group of its own, stopped the way Ctrl-C stops it.

``make dev`` runs ``dagster dev``, which spawns a webserver, a daemon and code servers, all in
its process group, and shuts them down on SIGINT only. Whoever stops ``make dev`` with SIGTERM
(a container runtime, systemd, a CI job) reaches the top process alone: so each child runs in a
group of its own, and stopping it signals the whole group: SIGINT, the clean shutdown; then
SIGTERM, then SIGKILL to whatever is still there after a bounded wait.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

TERM_WAIT_SECONDS = 5.0


class ProcessGroup:
    """``argv`` started as the leader of a new process group (same session, same terminal)."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, **popen: Any
    ) -> None:
        self.process = subprocess.Popen(list(argv), env=env, process_group=0, **popen)
        self.pgid = self.process.pid

    def alive(self) -> bool:
        """Whether any process of the group is left (the leader is reaped on the way)."""
        self.process.poll()
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a member changed its user: it is still there
            return True
        return True

    def stop(self, grace: float) -> int | None:
        """SIGINT to the group, up to ``grace`` seconds for it to end, then SIGTERM, then
        SIGKILL; returns the leader's exit code."""
        for sig, wait in (
            (signal.SIGINT, grace),
            (signal.SIGTERM, TERM_WAIT_SECONDS),
            (signal.SIGKILL, TERM_WAIT_SECONDS),
        ):
            if not self._signal_and_wait(sig, wait):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(TERM_WAIT_SECONDS)
        return self.process.returncode

    def _signal_and_wait(self, sig: signal.Signals, wait: float) -> bool:
        """Send ``sig`` to the group if anything is left; True if something still is after
        ``wait`` seconds."""
        if not self.alive():
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            time.sleep(0.1)
        return True
