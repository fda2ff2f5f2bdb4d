"""Scenario 5: the API ID and token never appear anywhere but in the requests to Aircall, and
the webhooks' tokens (secrets the API sends with each webhook) nowhere at all.

Passing and failing syncs, both directions, run the way users run them: the project's own
definitions with the ``AIRCALL_*`` environment (``dg.EnvVar`` resources) and a persistent
``DAGSTER_HOME``, in process and through the ``dagster`` CLI. Passing runs have faults on
(retries, lost answers, 429 waits all log something); failing runs have rejected credentials,
an unreachable API and an API that answers HTML. Then everything a user or an attacker could
read is searched for the token, the ID and their Basic-auth base64: every event log entry
(messages, metadata, errors), run records (config and tags), every table of the warehouse
(responses included), exception texts, Python log records, stdout/stderr of this process and of
the CLI processes, and every byte of every file under ``DAGSTER_HOME`` and the work directory.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from aircall_assets.demo import INSTANCE_YAML
from reliability import account
from reliability.extract import range_tags
from reliability.profiles import Profile
from reliability.proxy import Proxy, html_instead_of_json
from reliability.report import ScenarioResult
from reliability.scenarios.bad_input import environment

NEEDLES = {
    "API token": account.API_TOKEN,
    "API ID": account.API_ID,
    "Basic-auth base64": base64.b64encode(
        f"{account.API_ID}:{account.API_TOKEN}".encode()
    ).decode(),
}
QUIET = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}


def hits(text: str | bytes, needles: dict[str, str] = NEEDLES) -> dict[str, int]:
    """Occurrences of each needle (text or raw bytes)."""
    found = {}
    for name, needle in needles.items():
        count = text.count(needle.encode() if isinstance(text, bytes) else needle)
        if count:
            found[name] = count
    return found


class Search:
    """Accumulates what was searched and every hit, by source."""

    def __init__(self, result: ScenarioResult) -> None:
        self.result = result
        self.sources = 0
        self.chars = 0
        self.needles = dict(NEEDLES)

    def scan(self, source: str, text: str | bytes) -> None:
        self.sources += 1
        self.chars += len(text)
        for name, count in hits(text, self.needles).items():
            self.result.secret_hits += count
            self.result.fail(f"the {name} appears {count} time(s) in {source}")


@contextmanager
def captured_output(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr to ``path``: file descriptors 1 and 2 (what C
    code and subprocesses write) and ``sys.stdout``/``sys.stderr`` (which a test runner may
    have replaced with its own objects)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = os.dup(1), os.dup(2)
    saved_streams = sys.stdout, sys.stderr
    with open(path, "ab") as sink, open(path, "a", encoding="utf-8", buffering=1) as text:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        sys.stdout = sys.stderr = text
        try:
            yield
        finally:
            text.flush()
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")
        if record.exc_info:
            self.lines.append("".join(traceback.format_exception(*record.exc_info)))


def run_secrets(profile: Profile, workdir: Path) -> ScenarioResult:
    from reliability import reverse

    result = ScenarioResult("secrets")
    began = time.monotonic()
    work = workdir / "secrets"
    work.mkdir(parents=True, exist_ok=True)
    home = work / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    db = work / "aircall.duckdb"
    settings = work / "aircall.yaml"
    settings.write_text(
        f"history_start: {profile.start.isoformat()}\n"
        "destinations:\n"
        f"  - name: {reverse.DESTINATION}\n    source: {reverse.SOURCE}\n"
        "    template: create_contacts\n",
        encoding="utf-8",
    )
    reverse.write_source(db, reverse.contact_rows(12, profile.seed, series=5))
    search = Search(result)
    texts: list[str] = []
    records = _Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    out_file = work / "in-process-output.txt"
    sim = account.start(profile, fault_rate=0.2, fault_kinds=("5xx", "429", "drop", "truncate"))
    webhooks = sim.store.all("webhooks")
    search.needles.update({f"token of webhook {w['id']}": w["token"] for w in webhooks})
    try:
        env = {
            "DAGSTER_HOME": str(home),
            "AIRCALL_API_BASE_URL": sim.base_url,
            "AIRCALL_API_ID": account.API_ID,
            "AIRCALL_API_TOKEN": account.API_TOKEN,
            "AIRCALL_DUCKDB_PATH": str(db),
            "AIRCALL_SETTINGS": str(settings),
            "AIRCALL_START_DATE": None,
            "AIRCALL_REQUESTS_PER_MINUTE": "0",
        }
        instance = dg.DagsterInstance.from_config(str(home))
        with captured_output(out_file):
            _in_process_runs(profile, env, instance, sim, result, texts)
        _cli_runs(profile, env, work, sim, result, search)
        for run in instance.get_runs():
            search.scan(
                f"run {run.run_id[:8]} config and tags", repr(run.run_config) + repr(run.tags)
            )
            for entry in instance.all_logs(run.run_id):
                search.scan(f"event log of run {run.run_id[:8]}", repr(entry))
        instance.dispose()
        result.faults += account.faults_injected(sim)
    finally:
        sim.stop()
        root.removeHandler(records)
        root.setLevel(old_level)
    search.scan("exception texts", "\n".join(texts))
    search.scan("Python log records", "\n".join(records.lines))
    search.scan("stdout/stderr of the in-process runs", out_file.read_bytes())
    tables = _warehouse_text(db)
    search.scan("the warehouse tables", tables)
    result.check(
        bool(webhooks) and all(w["webhook_id"] in tables for w in webhooks),
        "the webhooks were not loaded (their tokens' search would prove nothing)",
    )
    for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
        if path.suffix in (".duckdb", ".wal") and path.parent == work:
            continue  # read through DuckDB above; raw pages are compressed anyway
        search.scan(f"file {path.relative_to(workdir)}", path.read_bytes())
    result.check(search.chars > 100_000, f"only {search.chars} characters searched")
    captured = out_file.read_text(errors="replace")
    result.check(
        "RUN_SUCCESS" in captured and "STEP_FAILURE" in captured,
        "the in-process output was not captured (the search would miss what a terminal shows)",
    )
    result.check(
        "rejected the credentials" in "\n".join(texts), "the failing runs did not fail as planned"
    )
    result.notes.append(
        f"{search.sources} sources searched ({search.chars / 1e6:.1f} MB): event logs, run "
        "records, warehouse tables, exceptions, log records, stdout/stderr, every file"
    )
    result.seconds = time.monotonic() - began
    return result


def _failures(outcome: dg.ExecuteInProcessResult) -> list[str]:
    texts = []
    for event in outcome.all_events:
        if event.is_failure and event.event_specific_data is not None:
            error = getattr(event.event_specific_data, "error", None)
            while error is not None:
                texts.append(error.to_string())
                error = error.cause
    return texts


def _in_process_runs(profile, env, instance, sim, result, texts) -> None:
    from aircall_assets.definitions import build_definitions
    from aircall_assets.reverse_sync.definitions import REVERSE_SYNC_JOB, SYNC_OP, TEST_SEND_JOB
    from aircall_assets.schedules import FULL_JOB, KEYED_JOB
    from aircall_assets.settings import load_settings

    def run(label: str, job: str, expect_success: bool, env_over=None, **kw) -> None:
        with environment(**{**env, **(env_over or {})}):
            try:
                defs = build_definitions(load_settings())
                outcome = defs.resolve_job_def(job).execute_in_process(
                    instance=instance, raise_on_error=False, **kw
                )
            except Exception as exc:  # noqa: BLE001 - its text is searched too
                texts.append("".join(traceback.format_exception(exc)))
                result.fail(f"{label}: raised {type(exc).__name__}")
                return
        result.runs += 1
        texts.extend(_failures(outcome))
        texts.append(repr(outcome.all_events))
        result.check(
            outcome.success == expect_success,
            f"{label}: success={outcome.success}, expected {expect_success}",
        )

    sync = {"ops": {SYNC_OP: {"config": {"destination": "push_contacts"}}}}
    tags = range_tags(profile.start, profile.last)
    run("extract (faults on)", KEYED_JOB, True, tags=tags, run_config=QUIET)
    run("full tables (faults on)", FULL_JOB, True, run_config=QUIET)
    run("reverse sync dry run", REVERSE_SYNC_JOB, True, run_config=_with(sync, dry_run=True))
    run("reverse sync (faults on)", REVERSE_SYNC_JOB, True, run_config={**sync, **QUIET})
    run(
        "test send",
        TEST_SEND_JOB,
        True,
        run_config={"ops": {"test_send": {"config": {"destination": "push_contacts"}}}, **QUIET},
    )
    wrong = {"AIRCALL_API_TOKEN": account.API_TOKEN + "x"}
    run("extract, rejected token", KEYED_JOB, False, env_over=wrong, tags=tags, run_config=QUIET)
    _more_rows(env, profile, 1)
    run("reverse sync, rejected token", REVERSE_SYNC_JOB, False, env_over=wrong,
        run_config={**sync, **QUIET})  # fmt: skip
    # Unreachable or broken API: the project's assets with quick retries (credentials still
    # from the environment, as in the definitions).
    for label, url in (
        ("extract, unreachable API", "http://127.0.0.1:9"),
        ("extract, HTML instead of JSON", None),
    ):
        with Proxy(sim.base_url, html_instead_of_json("/v1/tags")) as proxy:
            base = url or proxy.base_url
            with environment(**env):
                outcome = (
                    _quick_retry_defs(base)
                    .resolve_job_def(FULL_JOB)
                    .execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)
                )
        result.runs += 1
        texts.extend(_failures(outcome))
        result.check(not outcome.success, f"{label}: the run did not fail")
    # Credentials in the base URL are refused without being echoed.
    with environment(**{**env, "AIRCALL_API_BASE_URL": _url_with_credentials(sim.base_url)}):
        try:
            build_definitions(load_settings())
            result.fail("a base URL with credentials was accepted")
        except Exception as exc:  # noqa: BLE001
            texts.append("".join(traceback.format_exception(exc)))
    result.runs += 1


def _quick_retry_defs(base_url: str) -> dg.Definitions:
    from aircall_assets.assets import build_extract_assets
    from aircall_assets.client.resource import AircallResource
    from aircall_assets.resources import warehouse_io_manager
    from aircall_assets.schedules import build_jobs
    from aircall_assets.settings import load_settings

    settings = load_settings()
    return dg.Definitions(
        assets=build_extract_assets(settings),
        jobs=build_jobs(settings),
        resources={
            "aircall": AircallResource(
                api_id=dg.EnvVar("AIRCALL_API_ID"),
                api_token=dg.EnvVar("AIRCALL_API_TOKEN"),
                base_url=base_url,
                requests_per_minute=0,
                max_attempts=3,
                backoff_seconds=0.05,
            ),
            "warehouse_io_manager": warehouse_io_manager(),
        },
    )


def _more_rows(env: dict, profile: Profile, series_offset: int) -> None:
    """New rows in the CRM table, so that the next sync has something to send."""
    from reliability import reverse

    rows = reverse.contact_rows(12, profile.seed, series=5)
    rows += reverse.contact_rows(3, profile.seed, series=5, start=100 * series_offset)
    reverse.write_source(env["AIRCALL_DUCKDB_PATH"], rows)


def _with(run_config: dict, **op_config) -> dict:
    (op,) = run_config["ops"]
    config = {**run_config["ops"][op]["config"], **op_config}
    return {"ops": {op: {"config": config}}, **QUIET}


def _url_with_credentials(base_url: str) -> str:
    return base_url.replace("://", f"://{account.API_ID}:{account.API_TOKEN}@")


def _cli_runs(profile, env, work: Path, sim, result: ScenarioResult, search: Search) -> None:
    """The same through the ``dagster`` CLI: its stdout/stderr are searched too."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCALL_")}
    child_env.update({k: v for k, v in env.items() if v is not None})
    config = work / "sync.yaml"
    config.write_text("ops:\n  reverse_sync:\n    config:\n      destination: push_contacts\n")
    runs = [
        ("CLI extract", True, {}, ["asset", "materialize", "-m", "aircall_assets", "--select",
                                   "aircall/tags,aircall/company_info"]),
        ("CLI extract, rejected token", False, {"AIRCALL_API_TOKEN": account.API_TOKEN + "x"},
         ["asset", "materialize", "-m", "aircall_assets", "--select", "aircall/teams"]),
        ("CLI reverse sync", True, {},
         ["job", "execute", "-m", "aircall_assets", "-j", "aircall_reverse_sync", "-c",
          str(config)]),
        ("CLI reverse sync, rejected token", False, {"AIRCALL_API_TOKEN": "nope"},
         ["job", "execute", "-m", "aircall_assets", "-j", "aircall_reverse_sync", "-c",
          str(config)]),
    ]  # fmt: skip
    if profile.secrets_cli_runs < len(runs):
        runs = [runs[0], runs[-1]]
    with tempfile.TemporaryDirectory() as cwd:
        for label, expect_success, extra, args in runs:
            if "reverse sync, rejected" in label:
                _more_rows(env, profile, 2)
            out = subprocess.run(
                [dagster, *args],
                env={**child_env, **extra},
                cwd=cwd,
                capture_output=True,
                timeout=600,
            )
            result.runs += 1
            search.scan(f"stdout of `{label}`", out.stdout)
            search.scan(f"stderr of `{label}`", out.stderr)
            result.check(
                (out.returncode == 0) == expect_success,
                f"{label}: exit {out.returncode}, expected "
                f"{'success' if expect_success else 'failure'}: "
                f"{_masked(out.stderr, search.needles)[-600:]}",
            )


def _masked(text: bytes, needles: dict[str, str]) -> str:
    decoded = text.decode(errors="replace")
    for needle in needles.values():
        decoded = decoded.replace(needle, "***")
    return decoded


def _warehouse_text(db: Path) -> str:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{db}' AS w (READ_ONLY)")
        parts = []
        for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'w'"
        ).fetchall():
            rows = con.execute(f'SELECT * FROM w."{schema}"."{table}"').fetchall()
            parts.append(f"{schema}.{table}: {rows!r}")
        return "\n".join(parts)
    finally:
        con.close()
