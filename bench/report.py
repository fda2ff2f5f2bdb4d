"""Rows, goals, the printed table and ``docs/benchmarks.md``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COLUMNS = (
    "case",
    "tool",
    "records",
    "requests",
    "wall s",
    "records/s",
    "peak RSS MB",
    "ratio to ours",
)
BEGIN = "<!-- bench:results:begin (written by `make bench`; edit outside these markers) -->"
END = "<!-- bench:results:end -->"


@dataclass
class Row:
    """One measured (or estimated) run. ``ref`` marks the row the case's ratios divide by."""

    case: str
    tool: str
    records: int | None
    requests: int | None
    wall_s: float | None
    peak_rss_mb: float | None
    ref: bool = False
    expected_records: int | None = None
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def records_per_s(self) -> float | None:
        if self.records is None or not self.wall_s:
            return None
        return self.records / self.wall_s


@dataclass
class Goal:
    case: str
    goal: str
    measured: str
    met: bool | None  # None: not measured


@dataclass
class CaseResult:
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fill_ratios(rows: list[Row]) -> None:
    """ratio = this row's records/s ÷ the records/s of its case's reference row (ours)."""
    refs = {r.case: r for r in rows if r.ref}
    for row in rows:
        ref = refs.get(row.case)
        if ref and ref.records_per_s and row.records_per_s:
            row.ratio = row.records_per_s / ref.records_per_s


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def cells(row: Row) -> list[str]:
    records = _fmt(row.records)
    if row.expected_records is not None and row.records != row.expected_records:
        records += f" (≠ {row.expected_records:,})"
    return [
        row.case,
        row.tool,
        records,
        _fmt(row.requests),
        _fmt(row.wall_s, 2),
        _fmt(row.records_per_s, 0),
        _fmt(row.peak_rss_mb, 0),
        "-" if row.ratio is None else f"{row.ratio:.2f}",
    ]


def text_table(rows: list[Row]) -> str:
    body = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    right = {2, 3, 4, 5, 6, 7}

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)
        ).rstrip()

    out = [line(body[0]), "  ".join("-" * w for w in widths)]
    out += [line(values) for values in body[1:]]
    return "\n".join(out)


TABLE_HEADER = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 2 + "---:|" * 6]
GOALS_HEADER = ["| case | goal | measured | |", "|---|---|---|---|"]


def markdown_rows(rows: list[Row]) -> list[str]:
    return ["| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |" for row in rows]


def goals_text(goals: list[Goal]) -> str:
    def mark(goal: Goal) -> str:
        return {True: "met", False: "NOT met", None: "not measured"}[goal.met]

    return "\n".join(f"[{g.case}] {g.goal}: {g.measured} -> {mark(g)}" for g in goals)


def goals_markdown(goals: list[Goal]) -> list[str]:
    out = []
    for g in goals:
        mark = {True: "met", False: "**not met**", None: "not measured"}[g.met]
        out.append(f"| {g.case} | {g.goal} | {g.measured} | {mark} |")
    return out


RATIO_NOTE = "ratio to ours = records/s of the row ÷ records/s of the case's `ours` row."
_RUN_CASES = re.compile(r"\(cases (?P<cases>[^)]*)\)")
_NOTE_CASE = re.compile(r"^case (?P<case>[^\s:]+):")


CaseOf = Callable[[str], str]


def _row_case(line: str) -> str:
    return line.split("|")[1].strip()


def _note_case(line: str) -> str:
    match = _NOTE_CASE.match(line)
    return match["case"] if match else ""


@dataclass
class RunInfo:
    """One run of the suite: "Run of <when>, `<command>` (cases ...), <N>s in all." and the
    machine it ran on (the first line is the CPU)."""

    line: str
    machine: list[str]

    @property
    def cases(self) -> set[str]:
        match = _RUN_CASES.search(self.line)
        return {c.strip() for c in match["cases"].split(",")} if match else set()

    def lines(self) -> list[str]:
        details = [f"- {line}" for line in self.machine[1:]]
        return [self.line, "", "Machine: " + "".join(self.machine[:1]), "", *details, ""]


@dataclass
class Results:
    """The results block of ``docs/benchmarks.md`` as markdown lines: the runs it comes from
    (newest first), table rows, goal rows and notes, each row naming its case. Kept as lines
    so that a run of some cases replaces theirs and keeps the others' figures exactly as an
    earlier run wrote them, with that run's date, command and machine."""

    runs: list[RunInfo]
    rows: list[str]
    goals: list[str]
    notes: list[str]

    @classmethod
    def of_run(
        cls, run: str, machine: list[str], rows: list[Row], goals: list[Goal], notes: list[str]
    ) -> Results:
        return cls([RunInfo(run, machine)], markdown_rows(rows), goals_markdown(goals), notes)

    @classmethod
    def parse(cls, block: str) -> Results:
        """The inverse of ``render`` (also reads the one-run blocks written before merging)."""
        parsed = cls([], [], [], [])
        section = "runs"
        for line in block.splitlines():
            if line.startswith("Run of ") and section == "runs":
                parsed.runs.append(RunInfo(line.split(" ratio to ours")[0], []))
            elif line.startswith("Machine: ") and parsed.runs:
                parsed.runs[-1].machine.append(line.removeprefix("Machine: "))
            elif line.startswith("- ") and section == "runs" and parsed.runs:
                parsed.runs[-1].machine.append(line[2:])
            elif line.startswith("| case | tool"):
                section = "rows"
            elif line.startswith("| case | goal"):
                section = "goals"
            elif line.startswith("Notes from"):
                section = "notes"
            elif line.startswith("- ") and section == "notes":
                parsed.notes.append(line[2:])
            elif line.startswith("| ") and section in ("rows", "goals"):
                getattr(parsed, section).append(line)
        return parsed

    def merged(self, newer: Results, order: list[str]) -> Results:
        """``newer``'s cases with its figures, every other case of ``order`` with ours; an
        earlier run stays listed while some case shown still has its figures."""
        ran = set().union(*(run.cases for run in newer.runs))
        rank = {case: i for i, case in enumerate(order)}

        def pick(older: list[str], newer_lines: list[str], case_of: CaseOf) -> list[str]:
            kept = [line for line in older if case_of(line) in rank and case_of(line) not in ran]
            return sorted(kept + newer_lines, key=lambda line: rank.get(case_of(line), len(rank)))

        rows = pick(self.rows, newer.rows, _row_case)
        shown = {_row_case(line) for line in rows}
        runs: list[RunInfo] = []
        claimed: set[str] = set()
        for run in newer.runs + self.runs:  # newest first: a case is the first run's to list it
            if (run.cases - claimed) & shown:
                runs.append(run)
            claimed |= run.cases
        return Results(
            runs=runs,
            rows=rows,
            goals=pick(self.goals, newer.goals, _row_case),
            notes=pick(self.notes, newer.notes, _note_case),
        )

    def render(self) -> str:
        sources = " Each case's figures come from the newest run that lists it." * (
            len(self.runs) > 1
        )
        return "\n".join(
            [
                *(line for run in self.runs for line in run.lines()),
                RATIO_NOTE + sources,
                "",
                *TABLE_HEADER,
                *self.rows,
                "",
                "Goals:",
                "",
                *GOALS_HEADER,
                *self.goals,
                "",
                "Notes from these runs:",
                "",
                *[f"- {n}" for n in self.notes],
            ]
        )


def _block_of(text: str) -> str | None:
    if BEGIN in text and END in text:
        return text.split(BEGIN, 1)[1].split(END, 1)[0]
    return None


def write_markdown(path: Path, results: Results, order: list[str]) -> None:
    """Replace the results between the markers, keeping the hand-written text around them and,
    from the results there, the figures of the cases this run did not run."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    old = _block_of(text)
    if old is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Benchmarks\n\n{BEGIN}\n{results.render()}\n{END}\n", encoding="utf-8")
        return
    block = Results.parse(old).merged(results, order).render()
    before, after = text.split(BEGIN, 1)[0], text.split(END, 1)[1]
    path.write_text(f"{before}{BEGIN}\n{block}\n{END}{after}", encoding="utf-8")


def write_json(path: Path, rows: list[Row], goals: list[Goal], notes: list[str]) -> None:
    data = {
        "columns": list(COLUMNS),
        "rows": [{**asdict(r), "records_per_s": r.records_per_s} for r in rows],
        "goals": [asdict(g) for g in goals],
        "notes": notes,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
