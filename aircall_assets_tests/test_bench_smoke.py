"""The benchmark suite cannot rot: every case at its smoke sizes, ours and the ceiling only.

No peer is installed and nothing is timed: the test checks that the command runs end to end,
that each tool loaded exactly the records the simulator holds, and that the table it prints
and writes has the columns of issue 6.
"""

import json
import subprocess
import sys

import pytest

from aircall_assets.bench.report import COLUMNS
from aircall_assets.bench.runner import SMOKE

pytestmark = pytest.mark.slow

SMOKE_CASES = "1,2,3,4,5,6"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable,
        "-m",
        "aircall_assets.bench",
        "--smoke",
        "--no-peers",
        "--cases",
        SMOKE_CASES,
        "--output",
        str(tmp / "benchmarks.md"),
        "--json",
        str(tmp / "bench.json"),
        "--workdir",
        str(tmp / "work"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp / "bench.json").read_text())
    return done.stdout, data, (tmp / "benchmarks.md").read_text()


def rows_of(data, case):
    return [r for r in data["rows"] if r["case"] == case]


def test_table_is_printed_and_written_with_the_issue_columns(smoke):
    printed, data, markdown = smoke
    header = next(line for line in printed.splitlines() if "records/s" in line)
    positions = [header.index(column) for column in COLUMNS]
    assert positions == sorted(positions), header
    assert "| " + " | ".join(COLUMNS) + " |" in markdown
    assert "CPU:" in markdown and "dagster" in markdown
    assert {r["case"] for r in data["rows"]} == set(SMOKE_CASES.split(","))
    for row in data["rows"]:
        assert row["tool"] in printed


def test_every_tool_loads_exactly_the_simulators_records(smoke):
    _, data, _ = smoke
    checked = [r for r in data["rows"] if r["expected_records"] is not None]
    assert len(checked) >= 7
    for row in checked:
        assert row["records"] == row["expected_records"], row["tool"]
    ours, ceiling = rows_of(data, "1")
    assert ours["tool"].startswith("ours") and ceiling["tool"].startswith("ceiling")
    assert ours["records"] == SMOKE.throughput_days * SMOKE.throughput_calls_per_day
    # the same pages: the range as one window (under the cap here)
    assert ours["requests"] == ceiling["requests"] == ceiling["extra"]["pages"]
    assert ours["ratio"] == 1.0 and ceiling["ratio"] > 0


def test_case_measurements_are_real(smoke):
    _, data, _ = smoke
    memory = rows_of(data, "4")
    assert [r["records"] for r in memory] == [
        SMOKE.memory_days * SMOKE.memory_small_calls_per_day,
        SMOKE.memory_days * SMOKE.memory_big_calls_per_day,
    ]
    assert all(r["peak_rss_mb"] > 50 for r in memory)
    (daily,) = rows_of(data, "5")
    used, minimum = daily["extra"]["used"], daily["extra"]["minimum"]
    assert set(used) == set(minimum) and sum(minimum.values()) > 0
    assert all(used[t] - minimum[t] <= 1 for t in used), (used, minimum)
    (limited,) = rows_of(data, "2")
    assert limited["requests"] > SMOKE.rate_limit  # at least two rate windows were needed
    (reverse,) = rows_of(data, "6")
    assert reverse["records"] == SMOKE.reverse_contacts
    assert reverse["extra"]["duplicates"] == 0
    empty = [r for r in rows_of(data, "3") if "no calls in the account" in r["tool"]]
    # the range as one window (and one for everything older), against one: never a request
    # per empty day
    assert [(r["records"], r["requests"]) for r in empty] == [(0, 2), (0, 1)]
    goals = {(g["case"], g["goal"]): g for g in data["goals"]}
    assert goals[("3", "single run within 1.3× of the unpartitioned read")]["measured"]


def test_tools_run_in_rotating_turns_and_a_failing_one_drops_out_alone(tmp_path):
    from datetime import timedelta

    from aircall_assets.bench.procs import WorkerFailed
    from aircall_assets.bench.runner import Bench, utc_today

    bench = Bench(SMOKE, tmp_path, peers=False)
    first = utc_today() - timedelta(days=3)
    two_days = {"first_day": first.isoformat(), "days": 2}
    one_day = {"first_day": first.isoformat(), "days": 1}
    with bench.simulator(first, 2, 30) as sim:
        both, broken, first_only = bench.run_in_turns(
            sim,
            [
                (sys.executable, "ceiling.py", two_days),
                (sys.executable, "ours.py", {**two_days, "mode": "no-such-mode"}),
                (sys.executable, "ceiling.py", one_day),
            ],
            repeats=3,
        )
    assert isinstance(broken, WorkerFailed)
    for (run, requests, runs), records in ((both, 60), (first_only, 30)):
        assert runs == 3 and len(run["walls"]) == 3
        assert run["records"] == records and requests == run["pages"] == -(-records // 50)
    # turns A B C, then B C A, then C A B: each starts one tool later; B failed in the first
    # and is not run again
    started = [
        ("ours" if "ours.py" in line else json.loads(line.split(" ", 2)[2])["days"])
        for line in bench.log.read_text().splitlines()
        if line.startswith("$ ")
    ]
    assert started == [2, "ours", 1, 1, 2, 1, 2]
