"""A throwaway PostgreSQL 15 server: a temp dir, a free loopback port, one database.

The tests' warehouse (``conftest.py``) and the benchmark's PostgreSQL cases (``bench/``) start
one; it lives with the tests, outside the installed package, because the product only ever
connects to a warehouse it is given. The server refuses to run as root and CI runs as root, so
there every server command runs as the ``postgres`` user (``runuser``), in a folder that user
can reach; as any other user it runs directly. For the tests it trades durability for speed
(``initdb --no-sync``, ``fsync=off``): it lives for one session; the benchmark asks for a
``durable`` one, configured as PostgreSQL ships. Its URL carries a password, so that tests can
check that it is never shown.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN_DIR = Path(os.environ.get("AIRCALL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "aircall"
DATABASE = "aircall_test"
SERVER_USER = "postgres"  # who runs the server when the tests run as root
START_TIMEOUT_S = 60
PORT_ATTEMPTS = 3


class PostgresCluster:
    """``start()`` initialises and starts the cluster and creates the database; ``stop()``
    stops it and removes every file, whatever state it is in. ``durable``: PostgreSQL's own
    settings for writes (fsync, synchronous commit, full page writes) instead of the tests'
    faster ones."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.password = "pw-" + secrets.token_hex(8)
        self.port = 0
        self.root: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def data(self) -> Path:
        assert self.root is not None, "start() first"
        return self.root / "data"

    def start(self) -> PostgresCluster:
        missing = [n for n in ("initdb", "pg_ctl") if not (BIN_DIR / n).is_file()]
        if missing:
            raise RuntimeError(
                f"PostgreSQL 15's server ({', '.join(missing)}) is not in {BIN_DIR}: the "
                "warehouse tests and the benchmark's PostgreSQL cases run against a real "
                "server. Install it with `apt-get install postgresql-15` (Debian), or point "
                "AIRCALL_TEST_PG_BIN at a PostgreSQL 15 bin folder."
            )
        # mkdtemp makes a mode-700 folder: the server's user must be able to enter it.
        self.root = Path(tempfile.mkdtemp(prefix="aircall-pg-"))
        self.root.chmod(0o755)
        self.data.mkdir()
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            server = pwd.getpwnam(SERVER_USER)
            for path in (self.data, password_file):
                os.chown(path, server.pw_uid, server.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        password_file.unlink()
        for attempt in range(PORT_ATTEMPTS):
            # a free port may be taken by someone else before the server binds it
            try:
                self._start_server(_free_port())
                break
            except RuntimeError:
                if attempt == PORT_ATTEMPTS - 1:
                    raise
        self._create_database()
        return self

    def _start_server(self, port: int) -> None:
        self.port = port
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories='{self.data}' -c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.data / "server.log"),
            "-o",
            options,
            "-t",
            str(START_TIMEOUT_S),
            "-w",
            "start",
        )

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def log(self) -> str:
        """The server's log so far (for a failure's message)."""
        try:
            return (self.data / "server.log").read_text(errors="replace")
        except (AssertionError, FileNotFoundError):
            return ""

    def _create_database(self) -> None:
        import psycopg

        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {DATABASE}")

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(BIN_DIR / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        out = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
            cwd="/",
            env=_real_clock_environment(),
        )
        if check and out.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}"
                f"\n{self.log()[-2000:]}"
            )


def _real_clock_environment() -> dict[str, str]:
    """This environment without libfaketime: a suite run with the clock moved ahead (to prove
    it does not depend on the date) fakes the project's clock, not the server's, whose timers
    (``lock_timeout`` among them) never fire under it."""
    return {
        name: value
        for name, value in os.environ.items()
        if name != "LD_PRELOAD" and not name.startswith(("FAKETIME", "DONT_FAKE"))
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server of ``url``, dropped at the end: each
    test gets a warehouse of its own (about 50 ms, faster than emptying one)."""
    import psycopg

    name = f"wh_{uuid.uuid4().hex[:12]}"
    base, _ = url.rsplit("/", 1)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f"DROP DATABASE {name} WITH (FORCE)")
