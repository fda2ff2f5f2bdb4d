"""Rows, goals, the printed table and ``docs/benchmarks.md``."""

from __future__ import annotations

import json
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


def markdown_table(rows: list[Row]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 2 + "---:|" * 6]
    for row in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |")
    return "\n".join(out)


def goals_text(goals: list[Goal]) -> str:
    def mark(goal: Goal) -> str:
        return {True: "met", False: "NOT met", None: "not measured"}[goal.met]

    return "\n".join(f"[{g.case}] {g.goal}: {g.measured} -> {mark(g)}" for g in goals)


def goals_markdown(goals: list[Goal]) -> str:
    out = ["| case | goal | measured | |", "|---|---|---|---|"]
    for g in goals:
        mark = {True: "met", False: "**not met**", None: "not measured"}[g.met]
        out.append(f"| {g.case} | {g.goal} | {g.measured} | {mark} |")
    return "\n".join(out)


def results_markdown(
    rows: list[Row], goals: list[Goal], notes: list[str], machine: list[str], header: str
) -> str:
    parts = [
        header,
        "",
        "Machine: " + "; ".join(machine[:1]),
        "",
        *[f"- {line}" for line in machine[1:]],
        "",
        markdown_table(rows),
        "",
        "Goals (issue 6):",
        "",
        goals_markdown(goals),
        "",
        "Notes from this run:",
        "",
        *[f"- {n}" for n in notes],
    ]
    return "\n".join(parts)


def write_markdown(path: Path, results: str) -> None:
    """Replace the results between the markers, keeping the hand-written text around them."""
    block = f"{BEGIN}\n{results}\n{END}"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            before = text.split(BEGIN, 1)[0]
            after = text.split(END, 1)[1]
            path.write_text(before + block + after, encoding="utf-8")
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmarks\n\n{block}\n", encoding="utf-8")


def write_json(path: Path, rows: list[Row], goals: list[Goal], notes: list[str]) -> None:
    data = {
        "columns": list(COLUMNS),
        "rows": [{**asdict(r), "records_per_s": r.records_per_s} for r in rows],
        "goals": [asdict(g) for g in goals],
        "notes": notes,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
