"""The benchmark cases of issue 6 (and case 7, of issue 13) and the command that runs them.

``python -m bench`` (``make bench``) runs every case at full size; ``--smoke``
runs tiny sizes (what the test suite does), ``--cases 1,3`` a subset (the other cases keep
their figures in the doc), ``--no-peers`` skips the tools that need the peers' environments.
Each measured run is a fresh process; times are the work itself, measured inside the worker
(interpreter start and imports excluded for every tool alike); repeated runs report the median.
Case 7 is the exception: it times the CLI's processes from launch to exit, start-up included,
because what it measures is several processes sharing one budget as a user starts them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg

from aircall_assets.catalog import TABLES
from aircall_assets.sql import quote
from aircall_assets_tests.postgres import PostgresCluster
from bench import envs
from bench.procs import (
    SimulatorProcess,
    WorkerFailed,
    WorkerRun,
    run_worker,
    run_workers_at_once,
)
from bench.report import (
    CaseResult,
    Goal,
    Results,
    Row,
    fill_ratios,
    goals_text,
    text_table,
    write_json,
    write_markdown,
)

DEFAULT_OUTPUT = envs.REPO_ROOT / "docs" / "benchmarks.md"
DAY = 86_400


@dataclass(frozen=True)
class Sizes:
    """How big each case is. ``FULL`` is ``make bench``; ``SMOKE`` is the test suite's."""

    throughput_days: int = 30
    throughput_calls_per_day: int = 3_334  # 100,020 calls
    cap_days: int = 30
    cap_calls_per_day: int = 333  # 9,990 calls: under the 10,000 cap Airbyte cannot pass
    rate_limit: int = 300
    rate_window: float = 10.0
    rate_days: int = 9
    rate_calls_per_day: int = 5_000  # 900 pages, + 1 probe (a split window) + 1 (older)
    backfill_days: int = 180
    backfill_calls_per_day: int = 200
    separate_runs_sample: int = 12
    memory_days: int = 30
    memory_big_calls_per_day: int = 33_334  # 1,000,020 calls
    memory_small_calls_per_day: int = 334  # 10,020 calls
    incremental_days: int = 30
    incremental_calls_per_day: int = 200
    reverse_contacts: int = 1_000
    shared_limit: int = 25
    shared_window: int = 5  # whole seconds: AIRCALL_RATE_WINDOW_S is an integer
    shared_days: int = 10
    shared_calls_per_day: int = 400  # 4,000 calls: 88 requests for the range run
    shared_contacts: int = 100  # about 200 rows for the reverse sync (see case 7's notes)
    concurrent_runs: int = 4
    concurrent_days: int = 7  # each run's range: disjoint weeks of one account
    concurrent_calls_per_day: int = 3_334  # 93,352 calls in all
    repeats: int = 3  # ours, the ceiling and the naive baseline; dlt and Airbyte run once
    worker_timeout: float = 600.0


FULL = Sizes()
SMOKE = Sizes(
    throughput_days=2,
    throughput_calls_per_day=120,
    cap_days=2,
    cap_calls_per_day=60,
    rate_limit=12,
    rate_window=1.0,
    rate_days=2,
    rate_calls_per_day=300,
    backfill_days=4,
    backfill_calls_per_day=30,
    separate_runs_sample=2,
    memory_days=2,
    memory_big_calls_per_day=600,
    memory_small_calls_per_day=60,
    incremental_days=5,
    incremental_calls_per_day=30,
    reverse_contacts=20,
    shared_limit=10,
    shared_window=1,
    shared_days=2,
    shared_calls_per_day=150,
    shared_contacts=20,
    concurrent_runs=2,
    concurrent_days=2,  # a range of one day is a single partition's run, not a range run
    concurrent_calls_per_day=60,
    repeats=1,
    worker_timeout=300.0,
)


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def day_windows(first: date, days: int) -> list[tuple[int, int]]:
    start = int(datetime.combine(first, datetime.min.time(), timezone.utc).timestamp())
    return [(start + i * DAY, start + (i + 1) * DAY) for i in range(days)]


class Bench:
    """Shared state of one benchmark run: sizes, environments, work and log directories."""

    def __init__(self, sizes: Sizes, workdir: Path, peers: bool) -> None:
        self.sizes = sizes
        self.workdir = workdir
        self.log = workdir / "bench.log"
        self.want_peers = peers
        self._peers: envs.Interpreter | None = None
        self._airbyte: envs.Interpreter | None = None
        self._postgres: PostgresCluster | None = None

    @property
    def peers(self) -> envs.Interpreter:
        if self._peers is None:
            self._peers = (
                envs.peers_env(self.workdir / "install.log")
                if self.want_peers
                else envs.Interpreter("peers-py311", None, "peers skipped (--no-peers)")
            )
        return self._peers

    @property
    def airbyte(self) -> envs.Interpreter:
        if self._airbyte is None:
            self._airbyte = (
                envs.airbyte_env(self.workdir / "install.log")
                if self.want_peers
                else envs.Interpreter("airbyte-py310", None, "peers skipped (--no-peers)")
            )
        return self._airbyte

    @property
    def postgres(self) -> PostgresCluster:
        """The PostgreSQL cases' server, started by the first of them (stopped by ``close``)."""
        if self._postgres is None:
            self._postgres = PostgresCluster(durable=True).start()
        return self._postgres

    def database(self, name: str) -> str:
        """The URL of an empty database ``name`` on the PostgreSQL cases' server."""
        server = self.postgres.url
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
            con.execute(f"CREATE DATABASE {quote(name)}")
        return f"{server.rsplit('/', 1)[0]}/{name}"

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None

    def simulator(self, first: date, days: int, calls_per_day: int, **kw: Any) -> SimulatorProcess:
        return SimulatorProcess(
            start_date=first.isoformat(),
            days=days,
            calls_per_day=calls_per_day,
            log_path=self.workdir / "simulator.log",
            **kw,
        )

    def run(
        self,
        sim: SimulatorProcess,
        python: str,
        script: str,
        params: dict[str, Any],
        repeats: int = 1,
    ) -> tuple[WorkerRun, int, int]:
        """Run a worker ``repeats`` times (fresh process each); the median run by wall time.

        Returns (run, requests the simulator counted for it, runs made).
        """
        (measured,) = self.run_in_turns(sim, [(python, script, params)], repeats)
        if isinstance(measured, WorkerFailed):
            raise measured
        return measured

    def run_in_turns(
        self,
        sim: SimulatorProcess,
        workers: list[tuple[str, str, dict[str, Any]]],
        repeats: int,
    ) -> list[tuple[WorkerRun, int, int] | WorkerFailed]:
        """Each (python, script, params) ``repeats`` times, taking turns (A B C, B C A, ...).

        Tools compared by a ratio run in turns: this machine's speed drifts by up to 1.8×
        within minutes (the same ceiling run took 2.2 to 4.0 s of CPU), and runs made in turns
        see the same drift; the order rotates so that no tool always follows the same one.
        Per worker: (median run by wall time, its requests, runs made), or its failure (a
        worker that fails is not run again; the others go on).
        """
        runs: list[list[tuple[WorkerRun, int]]] = [[] for _ in workers]
        failed: dict[int, WorkerFailed] = {}
        for turn in range(repeats):
            for step in range(len(workers)):
                index = (turn + step) % len(workers)
                if index in failed:
                    continue
                python, script, params = workers[index]
                sim.reset_stats()
                try:
                    run = run_worker(
                        python,
                        script,
                        {**sim.common_params(), "workdir": str(self.workdir), **params},
                        log_path=self.log,
                        timeout=self.sizes.worker_timeout,
                    )
                except WorkerFailed as exc:
                    failed[index] = exc
                    continue
                runs[index].append((run, sim.stats()["requests"]))
        measured: list[tuple[WorkerRun, int, int] | WorkerFailed] = []
        for index, made in enumerate(runs):
            if index in failed:
                measured.append(failed[index])
                continue
            walls = [r["wall_s"] for r, _ in made]
            run, requests = sorted(made, key=lambda pair: pair[0]["wall_s"])[len(made) // 2]
            if len(made) > 1:
                run.result["walls"] = walls  # turn by turn, to pair with the other tools'
                if all("load_s" in r.result for r, _ in made):
                    run.result["load_walls"] = [r["load_s"] for r, _ in made]
            measured.append((run, requests, len(made)))
        return measured


def _row(
    case: str,
    tool: str,
    measured: tuple[WorkerRun, int, int],
    expected: int | None = None,
    ref: bool = False,
) -> Row:
    run, requests, runs = measured
    label = tool if runs == 1 else f"{tool} [median of {runs}]"
    return Row(
        case,
        label,
        run["records"],
        requests,
        run["wall_s"],
        run.peak_rss_mb,
        ref=ref,
        expected_records=expected,
        extra=dict(run.result),
    )


def wall_ratios(numerator: Row, denominator: Row) -> list[float]:
    """Wall time of one tool over another's, turn by turn (``Bench.run_in_turns``)."""
    pairs = zip(numerator.extra.get("walls", []), denominator.extra.get("walls", []), strict=False)
    return [n / d for n, d in pairs if d]


def _failed(case: str, tool: str, why: str) -> Row:
    first_line = why.strip().splitlines()[0] if why.strip() else "failed"
    return Row(case, f"{tool} ({first_line[:60]})", None, None, None, None)


def _try(case: str, tool: str, fn: Callable[[], Row], result: CaseResult) -> Row | None:
    try:
        row = fn()
    except WorkerFailed as exc:
        result.rows.append(_failed(case, tool, "failed"))
        result.notes.append(f"case {case}: {tool} failed: {str(exc)[-600:]}")
        return None
    result.rows.append(row)
    return row


# -- case 1: throughput ----------------------------------------------------------------------


def case_throughput(bench: Bench) -> CaseResult:
    """100,000 calls over 30 days, no rate limit: ours, dlt, the naive baseline, the ceiling."""
    s = bench.sizes
    result = CaseResult()
    first = utc_today() - timedelta(days=s.throughput_days + 1)
    with bench.simulator(first, s.throughput_days, s.throughput_calls_per_day) as sim:
        truth = sim.calls_total(day_windows(first, s.throughput_days))
        common = {"first_day": first.isoformat(), "days": s.throughput_days}
        # The first pass makes the simulator generate and cache every page: untimed.
        bench.run(sim, sys.executable, "ceiling.py", common)
        tool = f"ours: materialize, {s.throughput_days} daily partitions in one run"
        ours, ceiling, naive = _ours_ceiling_naive(
            bench, sim, "1", tool, common, first, truth, result
        )
        peers = _dlt_rows(bench, sim, "1", common, truth, result) + ([naive] if naive else [])
    fill_ratios(result.rows)
    _throughput_goals("1", ours, peers, ceiling, result)
    result.notes.append(
        f"case 1: {truth:,} calls over {s.throughput_days} days, no rate limit, one "
        "simulator, 50 per page. Ours and the ceiling read the same pages: the range as one "
        "window, split where the 10,000 cap forces it; dlt and the naive baseline read one "
        "window per day, as a user would configure them. The simulator's cache was warmed by "
        "an untimed pass first."
    )
    return result


def _ours_range_params(common: dict, first: date) -> dict[str, Any]:
    # history_start the day before: the range is not the first partition, so ours reads
    # exactly the same windows as the ceiling (the first partition also reads "older").
    return {"mode": "range", "history_start": (first - timedelta(days=1)).isoformat(), **common}


CEILING = "ceiling: bare requests + orjson loop"
NAIVE = "naive: requests loop → DuckDBPandasIOManager"


@dataclass(frozen=True)
class Contender:
    """One tool of a case whose ratio to another is a goal."""

    tool: str
    python: str
    script: str
    params: dict[str, Any]
    expected: int | None
    ref: bool = False


def _in_turns(
    bench: Bench, sim: SimulatorProcess, case: str, contenders: list[Contender], result: CaseResult
) -> list[Row | None]:
    """The contenders' rows, their runs made in turns (see ``Bench.run_in_turns``)."""
    workers = [(c.python, c.script, c.params) for c in contenders]
    rows: list[Row | None] = []
    for contender, measured in zip(
        contenders, bench.run_in_turns(sim, workers, bench.sizes.repeats), strict=True
    ):
        if isinstance(measured, WorkerFailed):
            result.rows.append(_failed(case, contender.tool, "failed"))
            result.notes.append(f"case {case}: {contender.tool} failed: {str(measured)[-600:]}")
            rows.append(None)
            continue
        row = _row(case, contender.tool, measured, expected=contender.expected, ref=contender.ref)
        result.rows.append(row)
        rows.append(row)
    return rows


def _ours_ceiling_naive(
    bench: Bench,
    sim: SimulatorProcess,
    case: str,
    tool: str,
    common: dict,
    first: date,
    truth: int,
    result: CaseResult,
) -> tuple[Row | None, Row | None, Row | None]:
    """Ours, the ceiling and (with the peers' venv) the naive baseline, in turns."""
    contenders = [
        Contender(tool, sys.executable, "ours.py", _ours_range_params(common, first), truth, True),
        Contender(CEILING, sys.executable, "ceiling.py", common, truth),
    ]
    if bench.peers.python is not None:
        contenders.append(Contender(NAIVE, bench.peers.python, "naive.py", common, truth))
    ours, ceiling, *naive = _in_turns(bench, sim, case, contenders, result)
    return ours, ceiling, (naive[0] if naive else None)


def _dlt_rows(
    bench: Bench,
    sim: SimulatorProcess,
    case: str,
    common: dict,
    truth: int,
    result: CaseResult,
    formats: tuple[str, ...] = ("jsonl",),
) -> list[Row]:
    """dlt, once per loader format (slow enough for the machine's drift not to matter)."""
    peers = bench.peers
    if peers.python is None:
        result.notes.append(f"case {case}: dlt and the naive baseline not run: {peers.reason}")
        return []
    rows = []
    labels = {
        "jsonl": "dlt rest_api → duckdb (jsonl loader)",
        "insert_values": "dlt rest_api → duckdb (default loader)",
    }
    for fmt in formats:
        tool = labels[fmt]
        row = _try(
            case,
            tool,
            lambda fmt=fmt, tool=tool: _row(
                case,
                tool,
                bench.run(sim, peers.python, "dlt_rest.py", {**common, "loader_file_format": fmt}),
                expected=truth,
            ),
            result,
        )
        if row:
            rows.append(row)
    return rows


def _throughput_goals(
    case: str,
    ours: Row | None,
    peers: list[Row],
    ceiling: Row | None,
    result: CaseResult,
    with_ceiling: bool = True,
) -> None:
    if ours is None or not ours.records_per_s:
        result.goals.append(Goal(case, "ours ≥ 2× the fastest peer", "ours failed", False))
        return
    measured_peers = [p for p in peers if p.records_per_s]
    if measured_peers:
        fastest = max(measured_peers, key=lambda p: p.records_per_s or 0)
        times = ours.records_per_s / (fastest.records_per_s or 1)
        result.goals.append(
            Goal(
                case,
                "ours ≥ 2× the fastest peer",
                f"{times:.1f}× {fastest.tool.split(' [')[0]}",
                times >= 2.0,
            )
        )
    else:
        result.goals.append(Goal(case, "ours ≥ 2× the fastest peer", "no peer measured", None))
    if with_ceiling and ceiling and ceiling.records_per_s:
        share = ours.records_per_s / ceiling.records_per_s
        turns = ", ".join(f"{r:.0%}" for r in wall_ratios(ceiling, ours))
        result.goals.append(
            Goal(
                case,
                "ours ≥ 60% of the fetch+parse ceiling",
                f"{share:.0%}" + (f" (turn by turn: {turns})" if turns else ""),
                share >= 0.60,
            )
        )
    correct = ours.records == ours.expected_records and ours.extra.get("checks_passed", True)
    result.goals.append(
        Goal(
            case,
            "ours loads exactly the API's records (asset checks pass)",
            f"{ours.records:,} of {ours.expected_records:,}",
            bool(correct),
        )
    )


# -- case 1b: under the 10k cap, with Airbyte ------------------------------------------------


def case_under_cap(bench: Bench) -> CaseResult:
    """Airbyte's connector cannot pass 10,000 calls: everyone on a 9,990-call account."""
    s = bench.sizes
    result = CaseResult()
    first = utc_today() - timedelta(days=s.cap_days + 1)
    with bench.simulator(first, s.cap_days, s.cap_calls_per_day) as sim:
        truth = sim.calls_total(day_windows(first, s.cap_days))
        common = {"first_day": first.isoformat(), "days": s.cap_days}
        bench.run(sim, sys.executable, "ceiling.py", common)
        ours, ceiling, naive = _ours_ceiling_naive(
            bench, sim, "1b", "ours: materialize, one run", common, first, truth, result
        )
        peers: list[Row] = [naive] if naive else []
        airbyte = bench.airbyte
        tool = "Airbyte source-aircall 0.3.0 → JSON lines"
        if airbyte.python is None:
            result.notes.append(f"case 1b: Airbyte not run: {airbyte.reason}")
        else:
            row = _try(
                "1b",
                tool,
                lambda: _row(
                    "1b",
                    tool,
                    bench.run(
                        sim,
                        airbyte.python,
                        "airbyte.py",
                        {
                            **common,
                            "start_date": first.isoformat(),
                        },
                    ),
                    expected=truth,
                ),
                result,
            )
            if row:
                peers.append(row)
                dupes = row.records - row.extra.get("unique_ids", row.records)
                result.notes.append(
                    f"case 1b: Airbyte's connector read {row.records:,} records for {truth:,} "
                    f"calls ({dupes:,} duplicates: its page counter asks for page 1 twice); its "
                    "calls stream has no from/to filter and stops at the 10,000 cap, so this "
                    "case stays under the cap. Its row counts what it emitted."
                )
        peers += _dlt_rows(bench, sim, "1b", common, truth, result, ("jsonl", "insert_values"))
    fill_ratios(result.rows)
    # The ceiling goal is case 1's: at 10k calls a run's fixed cost (Dagster, DuckDB files)
    # is most of ours, none of the bare loop's.
    _throughput_goals("1b", ours, peers, ceiling, result, with_ceiling=False)
    result.notes.append(
        f"case 1b: {truth:,} calls over {s.cap_days} days (under the 10,000 cap) so that "
        "Airbyte's connector can take part; same simulator for every tool."
    )
    return result


# -- case 2: rate-limit efficiency -----------------------------------------------------------


def server_windows(times: list[float], window: float) -> list[tuple[float, int]]:
    """(start, requests) per server window: a window opens with the first request after the
    last ended."""
    windows: list[tuple[float, int]] = []
    for t in sorted(times):
        if not windows or t >= windows[-1][0] + window:
            windows.append((t, 0))
        windows[-1] = (windows[-1][0], windows[-1][1] + 1)
    return windows


def fixed_windows(times: list[float], window: float) -> list[int]:
    """Requests per server window."""
    return [count for _, count in server_windows(times, window)]


def case_rate_limit(bench: Bench) -> CaseResult:
    s = bench.sizes
    result = CaseResult()
    limit, window = s.rate_limit, s.rate_window
    first = utc_today() - timedelta(days=s.rate_days + 1)
    with bench.simulator(
        first, s.rate_days, s.rate_calls_per_day, rpm=limit, rate_window=window
    ) as sim:
        truth = sim.calls_total(day_windows(first, s.rate_days))
        time.sleep(window)  # the totals above opened a server window; let it close
        params = {
            "mode": "range",
            "history_start": first.isoformat(),
            "first_day": first.isoformat(),
            "days": s.rate_days,
            "rpm": limit,
            "rate_window": window,
        }
        tool = f"ours, budget = limit = {limit}/{window:g}s"
        row = _try(
            "2",
            tool,
            lambda: _row(
                "2",
                tool,
                bench.run(sim, sys.executable, "ours.py", params),
                expected=truth,
                ref=True,
            ),
            result,
        )
        stats = sim.stats(with_log=True) if row else None
    if row is None or stats is None:
        result.goals.append(Goal("2", "≥ 97% of the budget used, 0 429s", "ours failed", False))
        return result
    times = [entry[0] for entry in stats["request_log"]]
    counts = fixed_windows(times, window)
    full = counts[:-1] or counts
    used = statistics.mean(full) / limit
    rejected = int(stats["statuses"].get("429", 0))
    needed = row.requests or 0
    floor = needed / limit * window
    fill_ratios(result.rows)
    result.goals.append(
        Goal(
            "2",
            "≥ 97% of the budget used per window",
            f"{used:.1%} (requests per window {counts})",
            used >= 0.97,
        )
    )
    result.goals.append(
        Goal("2", "0 429s when the budget equals the limit", str(rejected), rejected == 0)
    )
    result.goals.append(
        Goal(
            "2",
            "wall time against the floor (requests / limit windows)",
            f"{row.wall_s:.1f}s vs {floor:.1f}s ({(row.wall_s or 0) / floor:.2f}×)",
            None,
        )
    )
    result.notes.append(
        f"case 2: simulator limit {limit} requests per {window:g}s fixed window (scaled from "
        f"Aircall's per-minute limit), client budget {limit} per {window:g}s; {truth:,} calls "
        f"need {needed} requests; the last window is partial and left out of the average. "
        "The floor counts requests/limit windows; a fixed-window server lets the last "
        "partial window's requests through at once, so a wall time slightly under it is "
        "possible."
    )
    return result


# -- case 3: backfill cost -------------------------------------------------------------------


def case_backfill(bench: Bench) -> CaseResult:
    s = bench.sizes
    result = CaseResult()
    days = s.backfill_days
    first = utc_today() - timedelta(days=days)
    with bench.simulator(first, days, s.backfill_calls_per_day) as sim:
        truth = sim.calls_total(day_windows(first, days))
        common = {"first_day": first.isoformat(), "days": days, "history_start": first.isoformat()}
        bench.run(sim, sys.executable, "ceiling.py", common)
        single, flat = _range_and_unpartitioned(bench, sim, common, truth, result)
        sample = min(s.separate_runs_sample, days)
        tool = f"ours: {days} separate runs (estimated from {sample})"
        try:
            run, requests, _ = bench.run(
                sim,
                sys.executable,
                "ours.py",
                {
                    **common,
                    "mode": "separate_runs",
                    "sample": sample,
                },
            )
            runs = run["runs"]
            scale = days / runs
            result.rows.append(
                Row(
                    "3",
                    tool,
                    truth,
                    round(requests * scale),
                    run["wall_s"] * scale,
                    run.peak_rss_mb,
                    extra=dict(run.result),
                )
            )
            result.notes.append(
                f"case 3: {runs} of the {days} separate runs were made (partitions "
                f"{run['partitions'][0]}..{run['partitions'][-1]}, in-process "
                f"`materialize`, {run['wall_s'] / runs:.2f}s each); their time and requests "
                f"are scaled by {scale:.0f}. Real separate runs each also start a process."
            )
        except WorkerFailed as exc:
            result.rows.append(_failed("3", tool, "failed"))
            result.notes.append(f"case 3: separate runs failed: {str(exc)[-600:]}")
    _backfill_without_records(bench, first, days, result)
    fill_ratios(result.rows)
    if single and flat and single.wall_s and flat.wall_s:
        ratio = single.wall_s / flat.wall_s
        turns = ", ".join(f"{r:.2f}×" for r in wall_ratios(single, flat))
        result.goals.append(
            Goal(
                "3",
                "single run within 1.3× of the unpartitioned read",
                f"{ratio:.2f}× ({single.wall_s:.1f}s vs {flat.wall_s:.1f}s"
                + (f"; turn by turn: {turns})" if turns else ")"),
                ratio <= 1.3,
            )
        )
    else:
        result.goals.append(Goal("3", "single run within 1.3× of unpartitioned", "failed", False))
    result.notes.append(
        f"case 3: {truth:,} calls over {days} daily partitions; the first partition also "
        "reads everything older (one more request)."
    )
    return result


def _range_and_unpartitioned(
    bench: Bench,
    sim: SimulatorProcess,
    common: dict,
    truth: int,
    result: CaseResult,
    suffix: str = "",
) -> tuple[Row | None, Row | None]:
    """The single run and the unpartitioned read, in turns (their ratio is case 3's goal)."""
    single, flat = _in_turns(
        bench,
        sim,
        "3",
        [
            Contender(
                f"ours: {common['days']} partitions, one run{suffix}",
                sys.executable,
                "ours.py",
                {**common, "mode": "range"},
                truth,
                ref=not suffix,
            ),
            Contender(
                f"ours: same range unpartitioned{suffix or ', one window'}",
                sys.executable,
                "ours.py",
                {**common, "mode": "unpartitioned"},
                truth,
            ),
        ],
        result,
    )
    return single, flat


def _backfill_without_records(bench: Bench, first: date, days: int, result: CaseResult) -> None:
    """The single run and the unpartitioned read again on an account with no calls: what is
    left of the gap between them is the cost of the partitions themselves: Dagster's planned
    and materialization events for every partition (plus the first partition's one request
    for everything older)."""
    with bench.simulator(first, days, 0) as sim:
        common = {"first_day": first.isoformat(), "days": days, "history_start": first.isoformat()}
        single, flat = _range_and_unpartitioned(
            bench, sim, common, 0, result, ", no calls in the account"
        )
    if single and flat and single.wall_s and flat.wall_s:
        gap = single.wall_s - flat.wall_s
        result.notes.append(
            f"case 3: with no calls at all, the {days}-partition run still takes "
            f"{gap:.2f}s more than the unpartitioned read ({single.wall_s:.2f}s vs "
            f"{flat.wall_s:.2f}s), {gap / days * 1000:.1f} ms per partition: Dagster recording "
            f"{days} planned and {days} materialization events (and one more request, for "
            "everything older than the first partition); that part of the gap does not "
            "depend on the data."
        )


# -- case 4: memory --------------------------------------------------------------------------


def case_memory(bench: Bench) -> CaseResult:
    result = _memory(bench, "4", "", {})
    result.notes.append(
        "case 4: peak RSS is the worker process's high-water mark (kernel `wait4`), Dagster, "
        "DuckDB and all; no untimed warm-up (the 1M account does not fit the simulator's "
        "cache anyway)."
    )
    return result


def case_memory_postgres(bench: Bench) -> CaseResult:
    """Case 4 into PostgreSQL: the client's memory (the server is a process of its own)."""
    result = _memory(bench, "4pg", " → PostgreSQL", {"warehouse_url": bench.database("memory")})
    result.notes.append(
        "case 4pg: case 4 into the benchmark's PostgreSQL server (see case 1pg) instead of a "
        "DuckDB file; the peak RSS is the worker's, the run's whole client side (Dagster, the "
        "spool, DuckDB typing the records, the driver); the server's own memory is its "
        "configuration's (shared_buffers), not the range's."
    )
    return result


def _memory(bench: Bench, case: str, into: str, warehouse: dict[str, Any]) -> CaseResult:
    """Peak RSS of a small and a big backfill of ours into ``warehouse`` (worker params)."""
    s = bench.sizes
    result = CaseResult()
    first = utc_today() - timedelta(days=s.memory_days + 1)
    measured: dict[str, Row] = {}
    for label, per_day in (
        ("small", s.memory_small_calls_per_day),
        ("big", s.memory_big_calls_per_day),
    ):
        with bench.simulator(first, s.memory_days, per_day) as sim:
            truth = sim.calls_total(day_windows(first, s.memory_days))
            common = {"first_day": first.isoformat(), "days": s.memory_days}
            tool = f"ours: {truth:,}-call backfill{into}"
            params = {**_ours_range_params(common, first), **warehouse}
            row = _try(
                case,
                tool,
                lambda sim=sim, params=params, truth=truth, tool=tool, ref=(label == "big"): _row(
                    case,
                    tool,
                    bench.run(sim, sys.executable, "ours.py", params),
                    expected=truth,
                    ref=ref,
                ),
                result,
            )
            if row:
                measured[label] = row
    fill_ratios(result.rows)
    big, small = measured.get("big"), measured.get("small")
    if big and small:
        result.goals.append(
            Goal(
                case,
                f"peak RSS < 400 MB at {big.records or 0:,} calls",
                f"{big.peak_rss_mb:.0f} MB",
                (big.peak_rss_mb or 1e9) < 400,
            )
        )
        growth = (big.peak_rss_mb or 0) / (small.peak_rss_mb or 1)
        result.goals.append(
            Goal(
                case,
                "flat: peak RSS does not grow with the range",
                f"{small.peak_rss_mb:.0f} MB → {big.peak_rss_mb:.0f} MB ({growth:.2f}×) for "
                f"{(big.records or 0) / max(small.records or 1, 1):.0f}× the calls",
                growth < 1.5,
            )
        )
    else:
        result.goals.append(Goal(case, "peak RSS < 400 MB", "failed", False))
    return result


# -- case 5: daily incremental run -----------------------------------------------------------


def case_incremental(bench: Bench) -> CaseResult:
    s = bench.sizes
    result = CaseResult()
    days = s.incremental_days
    first = utc_today() - timedelta(days=days)
    with bench.simulator(first, days, s.incremental_calls_per_day) as sim:
        params = {"mode": "incremental", "history_start": first.isoformat()}
        try:
            run = run_worker(
                sys.executable,
                "ours.py",
                {**sim.common_params(), "workdir": str(bench.workdir), **params},
                log_path=bench.log,
                timeout=s.worker_timeout,
            )
        except WorkerFailed as exc:
            result.rows.append(_failed("5", "ours: daily scheduled run", "failed"))
            result.notes.append(f"case 5: failed: {str(exc)[-600:]}")
            result.goals.append(
                Goal("5", "≤ 1 request above the minimum per table", "failed", False)
            )
            return result
    used, minimum = run["used"], run["minimum"]
    extra = {t: used[t] - minimum[t] for t in used}
    result.rows.append(
        Row(
            "5",
            f"ours: scheduled run, {run['runs']} runs, days {run['run_range'][0]}.."
            f"{run['run_range'][1]}",
            None,
            run["requests"],
            run["wall_s"],
            run.peak_rss_mb,
            ref=True,
            extra=dict(run.result),
        )
    )
    detail = ", ".join(f"{t} {used[t]}/{minimum[t]}" for t in used)
    result.goals.append(
        Goal(
            "5",
            "≤ 1 request above the minimum per table",
            f"requests used/minimum: {detail}",
            all(v <= 1 for v in extra.values()),
        )
    )
    result.notes.append(
        f"case 5: an account of {days} days ({s.incremental_calls_per_day} calls a day) loaded "
        "by a backfill, then the daily schedule's run requests executed on the unchanged "
        "account (yesterday plus the 3-day lookback for key-based tables, full tables whole). "
        "The minimum is the pages each table's run range needs read as one window: one "
        "request, or ceil(records / 50) when it holds more than 50; total minimum "
        f"{sum(minimum.values())}, used {run['requests']}."
    )
    return result


# -- case 6: reverse sync --------------------------------------------------------------------


def case_reverse(bench: Bench) -> CaseResult:
    s = bench.sizes
    result = CaseResult()
    limit, window, n = s.rate_limit, s.rate_window, s.reverse_contacts
    first = utc_today() - timedelta(days=2)
    with bench.simulator(first, 1, 1, rpm=limit, rate_window=window) as sim:
        params = {
            "mode": "reverse",
            "history_start": first.isoformat(),
            "contacts": n,
            "rpm": limit,
            "rate_window": window,
        }
        tool = f"ours: reverse sync, {n:,} contacts, budget = limit = {limit}/{window:g}s"
        row = _try(
            "6",
            tool,
            lambda: _row(
                "6",
                tool,
                bench.run(sim, sys.executable, "ours.py", params),
                expected=n,
                ref=True,
            ),
            result,
        )
        stats = sim.stats(with_log=True) if row else None
    if row is None or stats is None:
        result.goals.append(Goal("6", "≥ 97% of the budget, 0 429s, 0 duplicates", "failed", False))
        return result
    counts = fixed_windows([entry[0] for entry in stats["request_log"]], window)
    full = counts[:-1] or counts
    used = statistics.mean(full) / limit
    rejected = int(stats["statuses"].get("429", 0))
    duplicates = row.extra["duplicates"]
    fill_ratios(result.rows)
    result.goals.append(
        Goal(
            "6",
            "≥ 97% of the budget used per window (rows and lookups)",
            f"{used:.1%} (requests per window {counts})",
            used >= 0.97,
        )
    )
    result.goals.append(
        Goal("6", "0 429s when the budget equals the limit", str(rejected), rejected == 0)
    )
    result.goals.append(
        Goal(
            "6",
            "0 duplicates",
            f"{duplicates} ({row.extra['created']:,} created for {n:,} rows)",
            duplicates == 0 and row.records == n,
        )
    )
    result.notes.append(
        f"case 6: {n:,} rows of a warehouse table sent by the reverse sync's create_contacts "
        f"template through the destination job, simulator limit {limit} per {window:g}s, "
        f"client budget the same; duplicates counted on the simulator's contacts. records/s "
        f"here are rows sent per second (the floor is {n / limit * window:.0f}s)."
    )
    return result


# -- cases 1pg, 4pg and 8: PostgreSQL ---------------------------------------------------------

COPY_CEILING = "ceiling: bare COPY of the typed rows ({format})"


def case_postgres_throughput(bench: Bench) -> CaseResult:
    """Case 1 into PostgreSQL, against a bare COPY of the same typed rows into the same server,
    and the same run into DuckDB."""
    s = bench.sizes
    result = CaseResult()
    first = utc_today() - timedelta(days=s.throughput_days + 1)
    with bench.simulator(first, s.throughput_days, s.throughput_calls_per_day) as sim:
        truth = sim.calls_total(day_windows(first, s.throughput_days))
        common = {"first_day": first.isoformat(), "days": s.throughput_days}
        ours_params = _ours_range_params(common, first)
        source = bench.database("typed_rows")
        # Untimed: warms the simulator's cache, and leaves the typed rows the ceiling copies.
        bench.run(sim, sys.executable, "ours.py", {**ours_params, "warehouse_url": source})
        tool = f"ours: materialize → PostgreSQL, {s.throughput_days} daily partitions in one run"
        contenders = [
            Contender(
                tool,
                sys.executable,
                "ours.py",
                {**ours_params, "warehouse_url": bench.database("ours")},
                truth,
                ref=True,
            ),
            Contender("ours: the same run → DuckDB", sys.executable, "ours.py", ours_params, truth),
            *(
                Contender(
                    COPY_CEILING.format(format=fmt),
                    sys.executable,
                    "copy_ceiling.py",
                    {"source_url": source, "format": fmt},
                    truth,
                )
                for fmt in ("text", "binary")
            ),
        ]
        ours, duckdb_run, *ceilings = _in_turns(bench, sim, "1pg", contenders, result)
    fill_ratios(result.rows)
    _postgres_goals(ours, duckdb_run, [c for c in ceilings if c and c.records_per_s], result)
    result.notes += [
        f"case 1pg: case 1's {truth:,} calls (same account, windows and run) into PostgreSQL "
        "on this machine: a throwaway cluster (`aircall_assets_tests/postgres.py`) on "
        "loopback with the settings PostgreSQL ships with (see the machine's description), "
        "a fresh database per run. Ours is the whole run, as in "
        "case 1: the read from the simulator, the spool, then the warehouse's one "
        "transaction (DuckDB types the spooled records and streams them by COPY into a "
        "temporary table before the table's lock; then the range's delete, the insert, the "
        "verification, the commit); its `load_s` is that transaction alone.",
        "case 1pg: the ceiling is what nothing can beat on this server: the final typed rows "
        "of the table ours loaded, read back into the worker's memory beforehand (integers, "
        "booleans, datetimes, text, each JSONB value as its JSON text) and written by one "
        "psycopg `COPY` (text, or binary with the C adapters; the faster one is the goal's) "
        "into an empty table of the same columns, in one transaction, commit included; "
        "no fetch, parse or typing. Ours, the same run into DuckDB and the two ceilings run "
        "in turns (see How it measures).",
    ]
    return result


def _postgres_goals(
    ours: Row | None, duckdb_run: Row | None, ceilings: list[Row], result: CaseResult
) -> None:
    goal = "ours → PostgreSQL ≥ 50% of the bare COPY ceiling"
    if ours is None or not ours.records_per_s or not ceilings:
        result.goals.append(Goal("1pg", goal, "ours or the ceiling failed", False))
        return
    ceiling = max(ceilings, key=lambda c: c.records_per_s or 0)
    kind = ceiling.tool.split("(")[1].split(")")[0]
    share = ours.records_per_s / (ceiling.records_per_s or 1)
    turns = ", ".join(f"{r:.0%}" for r in wall_ratios(ceiling, ours))
    result.goals.append(
        Goal(
            "1pg",
            f"{goal} (the whole run: read, spool and load)",
            f"{share:.0%} of {kind} COPY" + (f" (turn by turn: {turns})" if turns else ""),
            share >= 0.5,
        )
    )
    load = ours.extra.get("load_s")
    if load:
        loads = ours.extra.get("load_walls", [])
        per_turn = [c / w for c, w in zip(ceiling.extra.get("walls", []), loads, strict=False)]
        turns = ", ".join(f"{r:.0%}" for r in per_turn)
        result.goals.append(
            Goal(
                "1pg",
                f"{goal} (the warehouse's transaction alone, from the spool on disk)",
                f"{(ceiling.wall_s or 0) / load:.0%}: {load:.2f}s against "
                f"{ceiling.wall_s:.2f}s" + (f" (turn by turn: {turns})" if turns else ""),
                (ceiling.wall_s or 0) / load >= 0.5,
            )
        )
    correct = ours.records == ours.expected_records and ours.extra.get("checks_passed", True)
    result.goals.append(
        Goal(
            "1pg",
            "ours loads exactly the API's records into PostgreSQL (asset checks pass)",
            f"{ours.records:,} of {ours.expected_records:,}",
            bool(correct),
        )
    )
    if duckdb_run and duckdb_run.wall_s and ours.wall_s:
        duck_load = duckdb_run.extra.get("load_s") or 0
        result.goals.append(
            Goal(
                "1pg",
                "the same run into PostgreSQL against DuckDB (wall)",
                f"{ours.wall_s / duckdb_run.wall_s:.2f}× ({ours.wall_s:.2f}s vs "
                f"{duckdb_run.wall_s:.2f}s; the load alone {load or 0:.2f}s vs {duck_load:.2f}s)",
                None,
            )
        )


def case_concurrent_runs(bench: Bench) -> CaseResult:
    """Range runs of disjoint weeks of calls into one PostgreSQL table, as separate processes:
    all started at once, against the same runs one after another."""
    s = bench.sizes
    result = CaseResult()
    runs, days = s.concurrent_runs, s.concurrent_days
    first = utc_today() - timedelta(days=runs * days + 1)
    url = bench.database("concurrent")
    with bench.simulator(first, runs * days, s.concurrent_calls_per_day) as sim:
        truth = sim.calls_total(day_windows(first, runs * days))
        whole = {"first_day": first.isoformat(), "days": runs * days}
        bench.run(sim, sys.executable, "ceiling.py", whole)  # warms the simulator's cache
        params = [
            {
                **sim.common_params(),
                "workdir": str(bench.workdir),
                "mode": "range",
                "history_start": (first - timedelta(days=1)).isoformat(),
                "first_day": (first + timedelta(days=i * days)).isoformat(),
                "days": days,
                "warehouse_url": url,
                "keep_tables": True,
            }
            for i in range(runs)
        ]
        measured: dict[str, list[tuple[float, list[WorkerRun], int, int]]] = {
            "after": [],
            "once": [],
        }
        try:
            for turn in range(s.repeats):
                for mode in ("after", "once") if turn % 2 == 0 else ("once", "after"):
                    measured[mode].append(_range_runs(bench, sim, url, params, mode))
        except WorkerFailed as exc:
            result.rows.append(_failed("8", f"{runs} range runs", "failed"))
            result.notes.append(f"case 8: failed: {str(exc)[-600:]}")
            result.goals.append(Goal("8", "every run succeeds", "failed", False))
            return result
    labels = {
        "after": f"{runs} range runs of {days} days, one after another",
        "once": f"the same {runs} runs started at once",
    }
    rows = {}
    for mode, made in measured.items():
        wall, workers, requests, rows_in_table = sorted(made, key=lambda m: m[0])[len(made) // 2]
        label = labels[mode] + (f" [median of {len(made)}]" if len(made) > 1 else "")
        rows[mode] = Row(
            "8",
            label,
            rows_in_table,
            requests,
            wall,
            max(w.peak_rss_mb for w in workers),
            ref=mode == "after",
            expected_records=truth,
            extra={"walls": [m[0] for m in made], "run_walls": [w["wall_s"] for w in workers]},
        )
        result.rows.append(rows[mode])
    fill_ratios(result.rows)
    after, once = rows["after"], rows["once"]
    turns = ", ".join(f"{r:.2f}×" for r in wall_ratios(once, after))
    result.goals.append(
        Goal(
            "8",
            f"{runs} runs at once against one after another (wall)",
            f"{(once.wall_s or 0) / (after.wall_s or 1):.2f}× ({once.wall_s:.1f}s vs "
            f"{after.wall_s:.1f}s" + (f"; turn by turn: {turns})" if turns else ")"),
            None,
        )
    )
    exact = all(m[3] == truth for made in measured.values() for m in made)
    result.goals.append(
        Goal(
            "8",
            "every run succeeds and the table holds exactly the API's calls",
            f"{once.records:,} and {after.records:,} of {truth:,}",
            exact,
        )
    )
    result.notes.append(
        f"case 8: {truth:,} calls over {runs * days} days, read as {runs} range runs of "
        f"{days} days each (`ours.py` range mode, each in a process of its own, limit lifted) "
        "into one PostgreSQL table of the case 1pg server, all loading the same table: each "
        "stages its records before the table's advisory lock and merges under it. wall: from "
        "the launch of the first process to the exit of the last, start-up included (Python, "
        "Dagster's imports, the ephemeral instance), as a user waits for them; the table is "
        f"dropped before each mode's runs; the modes alternate. On {os.cpu_count()} cores "
        "the runs, the simulator and the server share the CPU: the ratio is what this machine "
        "gains from running them at once, not what a server with cores to spare would."
    )
    return result


def _range_runs(
    bench: Bench, sim: SimulatorProcess, url: str, params: list[dict[str, Any]], mode: str
) -> tuple[float, list[WorkerRun], int, int]:
    """The range runs of ``params`` one ``after`` another or all at ``once``: (wall from the
    first launch to the last exit, the runs, requests, rows in the table after them)."""
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS aircall CASCADE")
    sim.reset_stats()
    started = time.perf_counter()
    common = {"log_path": bench.log, "timeout": bench.sizes.worker_timeout}
    if mode == "once":
        workers = run_workers_at_once(sys.executable, "ours.py", params, **common)
    else:
        workers = [run_worker(sys.executable, "ours.py", each, **common) for each in params]
    wall = time.perf_counter() - started
    with psycopg.connect(url) as con:
        (rows,) = con.execute("SELECT count(*) FROM aircall.calls").fetchone()
    return wall, workers, sim.stats()["requests"], rows


def _server_description(server: PostgresCluster) -> str:
    with psycopg.connect(server.url) as con:
        settings = dict(
            con.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                "('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', "
                "'work_mem', 'wal_level')"
            ).fetchall()
        )
    version = settings.pop("server_version")
    shown = ", ".join(f"{k} {v}" for k, v in sorted(settings.items()))
    return f"PostgreSQL {version} (cases 1pg, 4pg, 8), psycopg {psycopg.__version__}: {shown}"


# -- case 7: one budget for every process of the machine -------------------------------------


def _selection(partitioned: bool) -> str:
    """The ``--select`` of every key-based (or every full) table of the catalog, with the child
    tables each one's asset writes with it (a selection must name them all)."""
    return ",".join(
        f"aircall/{name}"
        for table in TABLES.values()
        if table.is_partitioned == partitioned
        for name in (table.name, *(child.name for child in table.children))
    )


KEYED_SELECTION = _selection(partitioned=True)
FULL_SELECTION = _selection(partitioned=False)
SYNC_DESTINATION = "unknown_callers"  # the demo destination of the shipped aircall.yaml


@dataclass(frozen=True)
class CliRun:
    """One command a user would type, with the shell's AIRCALL_* and DAGSTER_HOME."""

    name: str
    argv: list[str]
    env: dict[str, str]


@dataclass
class Launched:
    """Runs started at once, as the launcher and the simulator saw them."""

    runs: dict[str, dict[str, Any]]  # name -> started, ended (monotonic s), exit_code, RSS
    counts: dict[str, int]
    wall_s: float
    log: list[tuple[float, str, str, int]]  # the simulator's (monotonic, method, path, status)
    rejected: int

    def span(self, times: list[float]) -> str:
        """When requests were sent, in seconds after the launch."""
        start = min(r["started"] for r in self.runs.values())
        return f"{min(times) - start:.1f}-{max(times) - start:.1f}s" if times else "none"


def cli_environment(
    sim: SimulatorProcess, home: Path, budgets: Path, db: Path, first: date, limit: int, window: int
) -> dict[str, str]:
    """A user's shell for the simulator's account: a Dagster home, a budget folder and a
    warehouse."""
    home.mkdir(parents=True, exist_ok=True)
    budgets.mkdir(parents=True, exist_ok=True)
    account = sim.common_params()
    return {
        "DAGSTER_HOME": str(home),
        "AIRCALL_API_BASE_URL": account["base_url"],
        "AIRCALL_API_ID": account["api_id"],
        "AIRCALL_API_TOKEN": account["api_token"],
        "AIRCALL_REQUESTS_PER_MINUTE": str(limit),
        "AIRCALL_RATE_WINDOW_S": str(window),
        "AIRCALL_BUDGET_DIR": str(budgets),
        "AIRCALL_DUCKDB_PATH": str(db),
        "AIRCALL_START_DATE": first.isoformat(),
        "AIRCALL_SETTINGS": str(envs.REPO_ROOT / "aircall.yaml"),
    }


def materialize_argv(
    selection: str, first: date | None = None, last: date | None = None
) -> list[str]:
    """The README's command (with a partition range for the key-based tables)."""
    argv = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "aircall_assets"]
    argv += ["--select", selection]
    return argv + (["--partition-range", f"{first}...{last}"] if first and last else [])


def launch(
    bench: Bench,
    sim: SimulatorProcess,
    folder: Path,
    runs: list[CliRun],
    counts: dict[str, tuple[Path, str]],
) -> Launched:
    """``runs`` started at the same moment (worker ``cli_runs.py``), then the rows they left in
    ``counts`` (name: DuckDB file, table) and the simulator's request log of them."""
    sim.reset_stats()
    done = run_worker(
        sys.executable,
        "cli_runs.py",
        {
            "mode": "launch",
            "workdir": str(folder),
            "cwd": str(envs.REPO_ROOT),
            "runs": [asdict(run) for run in runs],
            "counts": {name: [str(db), table] for name, (db, table) in counts.items()},
        },
        log_path=bench.log,
        timeout=bench.sizes.worker_timeout,
    )
    stats = sim.stats(with_log=True)
    return Launched(
        runs={r["name"]: r for r in done["runs"]},
        counts=done["counts"],
        wall_s=done["wall_s"],
        log=[tuple(entry) for entry in stats["request_log"]],
        rejected=int(stats["statuses"].get("429", 0)),
    )


def requests_by_client(
    log: list[tuple[float, str, str, int]], readers: dict[str, str]
) -> dict[str, list[float]]:
    """Send times per client, "<run> <path>": an extract's step GETs its table's path
    (``readers``: path -> run), the reverse sync ("sync") sends everything else (its creates,
    and its lookups by phone number)."""
    by_client: dict[str, list[float]] = {}
    for t, method, path, _ in log:
        client = f"{readers[path]} {path}" if method == "GET" and path in readers else "sync"
        by_client.setdefault(client, []).append(t)
    return by_client


def busy_windows(
    times: list[float], window: float, limit: int, clients: list[list[float]]
) -> list[tuple[int, bool]]:
    """(requests, full) per server window. Full: it reached the limit, or it lies wholly in a
    time when some client was between its first and its last request, so that some client
    still had work all along. Not full: the last, partial window, and one with a gap in which
    no client was sending (while Dagster starts the process of a step, say): time in which
    the budget was not asked for."""
    spans = sorted((min(sent), max(sent)) for sent in clients if sent)
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return [
        (count, count >= limit or any(s <= start and start + window <= e for s, e in merged))
        for start, count in server_windows(times, window)
    ]


def _budget_goals(
    part: str,
    launched: Launched,
    clients: dict[str, list[float]],
    limit: int,
    window: int,
    result: CaseResult,
) -> None:
    sent = [entry[0] for entry in launched.log]
    windows = busy_windows(sent, window, limit, list(clients.values()))
    counted = [count for count, busy in windows if busy]
    shown = ", ".join(str(count) if busy else f"({count})" for count, busy in windows)
    goal = f"({part}) ≥ 97% of the budget used per full window"
    if counted:
        used = statistics.mean(counted) / limit
        measured = f"{used:.1%} (requests per window [{shown}]; in parentheses: not full)"
        result.goals.append(Goal("7", goal, measured, used >= 0.97))
    else:
        result.goals.append(Goal("7", goal, f"no full window ([{shown}])", None))
    result.goals.append(
        Goal("7", f"({part}) 0 429s", str(launched.rejected), launched.rejected == 0)
    )
    requests = len(launched.log)
    # A fixed-window server lets the first window's requests through at once: the floor is
    # the windows after it.
    floor = max(requests - limit, 0) / limit * window
    result.goals.append(
        Goal(
            "7",
            f"({part}) wall time and requests",
            f"{launched.wall_s:.1f}s from launch to the last exit; {requests} requests, sent "
            f"{launched.span(sent)} after launch (floor {floor:.1f}s of sending)",
            None,
        )
    )


def _run_row(
    label: str, launched: Launched, name: str, requests: int, records: int, expected: int | None
) -> Row:
    run = launched.runs[name]
    wall = run["ended"] - run["started"]
    return Row("7", label, records, requests, wall, run["peak_rss_mb"], expected_records=expected)


def _shared_account(s: Sizes) -> tuple[str, ...]:
    return ("--contacts", str(s.shared_contacts))


def _prepare_sync_source(
    bench: Bench, work: Path, first: date, last: date
) -> tuple[Path, int, int]:
    """A warehouse holding the reverse sync's source (each part starts from a copy), and the
    truth: made against an unlimited twin of the measured simulator (same config, same data),
    so neither costs the measured one a request. Returns (file, rows to send, calls in the
    range)."""
    s = bench.sizes
    prepared_in = work / "prepare"
    source = prepared_in / "warehouse.duckdb"
    with bench.simulator(
        first, s.shared_days, s.shared_calls_per_day, extra_args=_shared_account(s)
    ) as twin:
        truth = twin.calls_total(day_windows(first, s.shared_days))
        prepared = run_worker(
            sys.executable,
            "cli_runs.py",
            {
                "mode": "prepare",
                "env": cli_environment(
                    twin,
                    prepared_in / "home",
                    prepared_in / "budgets",
                    source,
                    first,
                    0,
                    s.shared_window,
                ),
                "first_day": first.isoformat(),
                "last_day": last.isoformat(),
            },
            log_path=bench.log,
            timeout=s.worker_timeout,
        )
    return source, prepared["rows_to_send"], truth


def case_shared_budget(bench: Bench) -> CaseResult:
    """(a) a range run of the key-based tables alone, (b) with a full-table run and a reverse
    sync at once: every process of them on the company's one budget."""
    from aircall_assets.catalog import TABLES
    from aircall_assets.reverse_sync.definitions import REVERSE_SYNC_JOB, SYNC_OP
    from aircall_assets.reverse_sync.unknown_callers import FIRST_NAME

    s = bench.sizes
    result = CaseResult()
    limit, window, days = s.shared_limit, s.shared_window, s.shared_days
    first = utc_today() - timedelta(days=days + 1)
    last = first + timedelta(days=days - 1)
    work = bench.workdir / "case7"
    shutil.rmtree(work, ignore_errors=True)
    for part in ("prepare", "a", "b"):
        (work / part).mkdir(parents=True)
    sync_config = work / "b" / "sync.yaml"
    sync_config.write_text(
        f"ops:\n  {SYNC_OP}:\n    config:\n      destination: {SYNC_DESTINATION}\n"
    )
    sync_argv = [sys.executable, "-m", "dagster", "job", "execute", "-m", "aircall_assets"]
    sync_argv += ["-j", REVERSE_SYNC_JOB, "-c", str(sync_config)]
    full_tables = [t.name for t in TABLES.values() if not t.is_partitioned]
    try:
        source, to_send, truth = _prepare_sync_source(bench, work, first, last)
        with bench.simulator(
            first,
            days,
            s.shared_calls_per_day,
            rpm=limit,
            rate_window=window,
            extra_args=_shared_account(s),
        ) as sim:
            # One Dagster home, the user's: (a)'s run makes it, and (b)'s three start on it
            # (three runs creating a fresh one at the same moment race on its SQLite schema).
            home = work / "dagster_home"
            db = shutil.copyfile(source, work / "a" / "warehouse.duckdb")
            env = cli_environment(sim, home, work / "a" / "budgets", db, first, limit, window)
            part_a = launch(
                bench,
                sim,
                work / "a",
                [CliRun("range", materialize_argv(KEYED_SELECTION, first, last), env)],
                {"calls": (db, "aircall.calls")},
            )
            time.sleep(window)  # (a)'s last server window closes
            db = shutil.copyfile(source, work / "b" / "warehouse.duckdb")
            env = cli_environment(sim, home, work / "b" / "budgets", db, first, limit, window)
            part_b = launch(
                bench,
                sim,
                work / "b",
                [
                    CliRun("range", materialize_argv(KEYED_SELECTION, first, last), env),
                    CliRun("full", materialize_argv(FULL_SELECTION), env),
                    CliRun("sync", sync_argv, env),
                ],
                {"calls": (db, "aircall.calls")} | {t: (db, f"aircall.{t}") for t in full_tables},
            )
            created = [c["last_name"] for c in sim.contacts() if c.get("first_name") == FIRST_NAME]
    except WorkerFailed as exc:
        result.rows.append(_failed("7", "CLI runs on one budget", "failed"))
        result.notes.append(f"case 7: failed: {str(exc)[-600:]}")
        result.goals.append(Goal("7", "0 429s, ≥ 97% of the budget used", "failed", False))
        return result
    readers = {t.path: "range" if t.is_partitioned else "full" for t in TABLES.values()}
    clients_a = requests_by_client(part_a.log, readers)
    clients_b = requests_by_client(part_b.log, readers)
    by_run: dict[str, list[float]] = {}
    for client, times in clients_b.items():
        by_run.setdefault(client.split()[0], []).extend(times)
    result.rows += [
        _run_row(
            "(a) range run of users, numbers, contacts, calls, alone",
            part_a,
            "range",
            len(part_a.log),
            part_a.counts["calls"],
            truth,
        ),
        _run_row(
            "(b) the same range run, started with the two below",
            part_b,
            "range",
            len(by_run.get("range", [])),
            part_b.counts["calls"],
            truth,
        ),
        _run_row(
            f"(b) full-table run: {', '.join(full_tables)}",
            part_b,
            "full",
            len(by_run.get("full", [])),
            sum(part_b.counts[t] for t in full_tables),
            None,
        ),
        _run_row(
            f"(b) reverse sync of '{SYNC_DESTINATION}' (job)",
            part_b,
            "sync",
            len(by_run.get("sync", [])),
            len(set(created)),
            to_send,
        ),
        Row(
            "7",
            "(b) the three runs at once",
            None,
            len(part_b.log),
            part_b.wall_s,
            max(r["peak_rss_mb"] for r in part_b.runs.values()),
        ),
    ]
    _budget_goals("a", part_a, clients_a, limit, window, result)
    _budget_goals("b", part_b, clients_b, limit, window, result)
    duplicates = len(created) - len(set(created))
    result.goals.append(
        Goal(
            "7",
            "(b) the sync creates each row once",
            f"{len(created):,} created for {to_send:,} rows, {duplicates} duplicates",
            len(created) == to_send and duplicates == 0,
        )
    )
    sent = "; ".join(
        f"{name} {len(times)} ({part_b.span(times)})" for name, times in sorted(by_run.items())
    )
    result.notes += [
        f"case 7: one simulator, limit {limit} requests per {window}s fixed window (Aircall's 60 "
        f"a minute scaled down), {truth:,} calls over {days} days, {s.shared_contacts} "
        f"contacts, one API ID; every process's budget the same {limit} per {window}s "
        f"(`AIRCALL_REQUESTS_PER_MINUTE={limit}`, `AIRCALL_RATE_WINDOW_S={window}`, a fresh "
        "`AIRCALL_BUDGET_DIR` for each part). Each run is the command a user types, in a "
        f"process of its own under Dagster's default multiprocess executor (a process per "
        f"step): `dagster asset materialize -m aircall_assets --select '{KEYED_SELECTION}' "
        f"--partition-range {first}...{last}`, the same with `--select '{FULL_SELECTION}'`, "
        f"and `dagster job execute -m aircall_assets -j {REVERSE_SYNC_JOB}` with `ops: "
        f"{{{SYNC_OP}: {{config: {{destination: {SYNC_DESTINATION}}}}}}}`; (b)'s three start "
        "at the same moment, on the `DAGSTER_HOME` (a)'s run made. records: "
        "calls loaded (range runs), rows of the full tables (full-table run), contacts "
        "created (sync); wall: from the launch to the process's exit, Python's and Dagster's "
        "start-up included.",
        "case 7: windows are counted from the simulator's request log as in case 2 (a window "
        "opens with the first request after the previous one ended). A window is full when it "
        f"reached {limit}, or lies wholly in a time when some client (one step's table, or the "
        "sync) was between its first and its last request, i.e. still had work; the others, "
        "in parentheses, are the last, partial one and any with a gap in which no client was "
        "sending, such as the seconds the multiprocess executor takes to start a step's "
        "process after another ended (it runs as many steps at once as there are cores, "
        f"{os.cpu_count()} here): time in which the budget was not asked for. The floor of "
        f"sending is (requests - {limit}) / {limit} windows: a fixed-window server passes the "
        f"first window's {limit} at once. Requests in (b) by run (sent from-to, seconds after "
        f"the launch): {sent}.",
        "case 7: each part starts from a copy of one warehouse prepared beforehand (untimed) "
        "on an unlimited twin of the simulator (same config, same data): the calls of the "
        "range, the contacts of its first partition only and, from them, the sync's source "
        "`aircall_reverse/unknown_callers`. The simulator has 50 callers who are in no "
        f"contact; with one day's contacts in the warehouse {to_send} numbers are unknown, so "
        "the sync has that many contacts to create. In (b) the extracts and the sync share "
        "that one DuckDB file, as in a deployment: the sync holds it only for a short "
        "transaction per request (issue 13, part 2), and the range run's merge of contacts "
        "does not touch the source table the sync reads.",
    ]
    return result


CASES: dict[str, Callable[[Bench], CaseResult]] = {
    "1": case_throughput,
    "1b": case_under_cap,
    "2": case_rate_limit,
    "3": case_backfill,
    "4": case_memory,
    "5": case_incremental,
    "6": case_reverse,
    "7": case_shared_budget,
    "1pg": case_postgres_throughput,
    "4pg": case_memory_postgres,
    "8": case_concurrent_runs,
}


def profile_ours(bench: Bench) -> str:
    """One case-1 run of ours under py-spy; the summary (also in the workdir's profile.txt)."""
    from bench.profile import profile_worker

    peers = envs.peers_env(bench.workdir / "install.log")  # py-spy lives there
    if peers.python is None:
        return f"no profile: {peers.reason}"
    py_spy = str(Path(peers.python).with_name("py-spy"))
    s = bench.sizes
    first = utc_today() - timedelta(days=s.throughput_days + 1)
    with bench.simulator(first, s.throughput_days, s.throughput_calls_per_day) as sim:
        common = {"first_day": first.isoformat(), "days": s.throughput_days}
        bench.run(sim, sys.executable, "ceiling.py", common)
        params = {
            **sim.common_params(),
            "workdir": str(bench.workdir),
            "mode": "range",
            "history_start": (first - timedelta(days=1)).isoformat(),
            **common,
        }
        return profile_worker(py_spy, params, bench.workdir)


def run_cases(names: list[str], bench: Bench) -> CaseResult:
    total = CaseResult()
    for name in names:
        started = time.perf_counter()
        print(f"case {name} ...", flush=True)
        outcome = CASES[name](bench)
        print(f"case {name} done in {time.perf_counter() - started:.0f}s", flush=True)
        total.rows += outcome.rows
        total.goals += outcome.goals
        total.notes += outcome.notes
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, e.g. 1,1b,3")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (the test suite's)")
    parser.add_argument("--no-peers", action="store_true", help="ours and the ceiling only")
    parser.add_argument("--repeats", type=int, default=None, help="runs per repeated tool")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"markdown file (default {DEFAULT_OUTPUT.relative_to(envs.REPO_ROOT)}"
        "; --smoke writes nothing unless given)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write rows as JSON")
    parser.add_argument("--workdir", type=Path, default=envs.BENCH_DIR / "work")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one case-1 run of ours with py-spy (peers' venv)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    sizes = SMOKE if args.smoke else FULL
    if args.repeats:
        sizes = replace(sizes, repeats=args.repeats)
    output = args.output if args.output or args.smoke else DEFAULT_OUTPUT
    args.workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(sizes, args.workdir, peers=not args.no_peers)
    started = time.perf_counter()
    try:
        outcome = run_cases(names, bench)
        if args.profile:
            print(profile_ours(bench), flush=True)
        postgres = _server_description(bench._postgres) if bench._postgres else None
    finally:
        bench.close()
    elapsed = time.perf_counter() - started
    machine = envs.machine_description(
        bench._peers if bench.want_peers else None,
        bench._airbyte if bench.want_peers else None,
        postgres,
    )
    print()
    print(text_table(outcome.rows))
    print()
    print(goals_text(outcome.goals))
    print()
    for line in machine:
        print(line)
    print(f"total {elapsed:.0f}s ({'smoke' if args.smoke else 'full'} sizes)")
    run = (
        f"Run of {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, `python -m bench"
        f"{' --smoke' if args.smoke else ''}` (cases {', '.join(names)}), {elapsed:.0f}s in all."
    )
    if output:
        results = Results.of_run(run, machine, outcome.rows, outcome.goals, outcome.notes)
        write_markdown(output, results, list(CASES))
        print(f"written to {output}")
    if args.json:
        write_json(args.json, outcome.rows, outcome.goals, outcome.notes)
    return 0
