"""What a scenario measured, the table the command prints, and the note it keeps up to date."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

COLUMNS = (
    ("scenario", "scenario"),
    ("runs", "runs"),
    ("faults", "faults injected"),
    ("kills", "kills"),
    ("rows_compared", "rows compared"),
    ("mismatches", "mismatches"),
    ("duplicates", "duplicates"),
    ("secret_hits", "secret hits"),
    ("failed_checks", "failed checks"),
    ("seconds", "seconds"),
)
DOC_START = "<!-- reliability-figures:start -->"
DOC_END = "<!-- reliability-figures:end -->"


@dataclass
class ScenarioResult:
    """The figures of one scenario. Anything but zeros in the last four counters is a bug.

    ``failures`` holds one line per failed check (an error message that differed, a run that
    failed, something written or sent when nothing should have been); ``notes`` holds facts
    worth printing under the table (kill points inside a merge, fault kinds seen...).
    """

    scenario: str
    runs: int = 0
    faults: int = 0
    kills: int = 0
    rows_compared: int = 0
    mismatches: int = 0
    duplicates: int = 0
    secret_hits: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed_checks(self) -> int:
        return len(self.failures)

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.duplicates or self.secret_hits or self.failures)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def check(self, condition: bool, message: str) -> bool:
        if not condition:
            self.fail(message)
        return condition

    def add_comparison(self, comparison) -> None:
        """Add a ``compare.Comparison``; its problems become failures."""
        self.rows_compared += comparison.rows_compared
        self.mismatches += comparison.mismatches
        self.duplicates += comparison.duplicates
        for problem in comparison.problems:
            self.fail(problem)

    def explain(self) -> str:
        """Why it failed, for an assertion message."""
        lines = [f"{self.scenario}: " + ", ".join(f"{k}={v}" for k, v in self.row().items())]
        lines += [f"  - {f}" for f in self.failures[:40]]
        return "\n".join(lines)

    def row(self) -> dict[str, str]:
        values = {}
        for key, _ in COLUMNS:
            value = getattr(self, key)
            values[key] = f"{value:.0f}" if isinstance(value, float) else str(value)
        return values


def render_table(results: list[ScenarioResult], markdown: bool = False) -> str:
    headers = [title for _, title in COLUMNS]
    rows = [list(r.row().values()) for r in results]
    if len(results) > 1:
        total = ScenarioResult(
            "total",
            runs=sum(r.runs for r in results),
            faults=sum(r.faults for r in results),
            kills=sum(r.kills for r in results),
            rows_compared=sum(r.rows_compared for r in results),
            mismatches=sum(r.mismatches for r in results),
            duplicates=sum(r.duplicates for r in results),
            secret_hits=sum(r.secret_hits for r in results),
            seconds=sum(r.seconds for r in results),
            failures=[f for r in results for f in r.failures],
        )
        rows.append(list(total.row().values()))
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows[:-1]] if len(results) > 1 else [line(r) for r in rows]
    if len(results) > 1:
        out += [line(["-" * w for w in widths]), line(rows[-1])]
    return "\n".join(out)


def render_notes(results: list[ScenarioResult]) -> str:
    lines = []
    for result in results:
        for note in result.notes:
            lines.append(f"- {result.scenario}: {note}")
        for failure in result.failures:
            lines.append(f"- {result.scenario}: FAILED: {failure}")
    return "\n".join(lines)


def _commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def figures_section(results: list[ScenarioResult], profile, command: str, root: Path) -> str:
    """The generated part of ``docs/reliability.md``."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "all checks passed" if all(r.ok for r in results) else "SOME CHECKS FAILED"
    notes = render_notes(results)
    parts = [
        DOC_START,
        f"Latest run: `{command}` ({profile.name} profile, seed {profile.seed}), commit "
        f"`{_commit(root)}`, {when}: **{verdict}**.",
        "",
        f"Profile: {profile.describe()}.",
        "",
        render_table(results, markdown=True),
    ]
    if notes:
        parts += ["", notes]
    parts.append(DOC_END)
    return "\n".join(parts)


def update_doc(path: Path, section: str) -> None:
    """Replace the generated section of the note (or append it), keeping the prose."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(re.escape(DOC_START) + ".*?" + re.escape(DOC_END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + ("\n\n" if text else "") + section + "\n"
    path.write_text(text, encoding="utf-8")
