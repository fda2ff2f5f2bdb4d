"""``make status`` as text: the instance and the warehouse, then one section per account.

Each section holds the account's schedule and history start, a table of its tables and one of
its reverse-sync destinations, and under each table the one-line reason of every failure; the
rows start with the table's or destination's name, so a line is found by its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from aircall_assets.run_failures import LastFailure, one_line

if TYPE_CHECKING:
    from aircall_assets.status import AccountStatus, Status

WAREHOUSE_STATES = {
    "ok": "",
    "missing": "  (not created yet)",
    "busy": "  (locked by a running load: rows not counted)",
    "unreachable": "  (unreachable: rows not counted)",
}


def render(status: Status) -> str:
    lines = [
        f"Dagster instance: {status.dagster_home}"
        + ("" if status.instance_found else "  (none yet: nothing has run here)"),
        f"Warehouse:        {status.warehouse}" + WAREHOUSE_STATES[status.warehouse_state],
    ]
    if status.warehouse_problem:
        lines.append(f"                  {one_line(status.warehouse_problem, width=200)}")
    for account in status.accounts:
        lines += ["", *_account_lines(account, status.calls_served_from)]
    return "\n".join(lines)


def _account_lines(account: AccountStatus, calls_served_from: date | None) -> list[str]:
    lines = [f"Account:          {account.label} (schema {account.schema})"]
    if account.schedule:
        lines.append(
            f"Schedule:         {account.schedule} "
            + ("running" if account.schedule_running else "stopped (tables paused)")
        )
    lines.append(f"History start:    {account.history_start}")
    if calls_served_from is not None and account.history_start < calls_served_from:
        lines.append(
            f"Calls served:     from {calls_served_from} on (Aircall keeps about six months); "
            "a backfill of older days keeps their rows as loaded"
        )
    lines.append("")
    header = ("TABLE", "STATE", "LAST LOAD", "LAST RUN", "ROWS", "PARTITIONS", "MISSING")
    rows = [header]
    for t in account.tables:
        if t.partitions_total is None:
            partitions = "full table" if t.state != "disabled" else "-"
        else:
            partitions = f"{t.partitions_loaded}/{t.partitions_total}"
        missing = compress_days(t.missing)
        missing_text = (
            "-"
            if not missing
            else ", ".join(missing[:3])
            + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else "")
        )
        rows.append(
            (
                t.name,
                t.state,
                _when(t.last_load) if t.state != "disabled" else "-",
                (t.last_run_status or "-").lower(),
                "-" if t.rows is None else str(t.rows),
                partitions,
                missing_text if t.partitions_total is not None else "-",
            )
        )
    lines += _columns(rows)
    lines += _failure_lines((t.name, t.last_failure) for t in account.tables)
    lines.append("")
    if not account.destinations:
        lines.append("No reverse-sync destinations in the account's settings.")
        return lines
    header = ("DESTINATION", "ACTIVE", "SOURCE", "LAST RUN", "SENT", "REJECTED", "FAILED")
    rows = [header]
    for d in account.destinations:
        last = "never"
        if d.last_run_id:
            last = f"{(d.last_run_status or '?').lower()} {_when(d.last_run_at)}"
        rows.append(
            (
                d.name,
                "yes" if d.active else "no",
                d.source,
                last,
                str(d.sent),
                str(d.rejected),
                str(d.failed),
            )
        )
    lines += _columns(rows)
    lines += _failure_lines((d.name, d.last_failure) for d in account.destinations)
    return lines


def compress_days(keys: Sequence[str]) -> list[str]:
    """``["2026-06-01", "2026-06-02", "2026-06-05"]`` → ``["2026-06-01..2026-06-02", ...]``."""
    days = sorted(date.fromisoformat(k) for k in keys)
    ranges: list[str] = []
    start = previous = None
    for day in days:
        if previous is not None and day == previous + timedelta(days=1):
            previous = day
            continue
        if start is not None:
            ranges.append(_day_range(start, previous))
        start = previous = day
    if start is not None:
        ranges.append(_day_range(start, previous))
    return ranges


def _day_range(start: date, end: date | None) -> str:
    return start.isoformat() if end in (None, start) else f"{start}..{end}"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _failure_lines(failures: Iterable[tuple[str, LastFailure | None]]) -> list[str]:
    """``calls: failed <when>: <reason>`` under a table, one per failed table or destination:
    too long for a column, and a reason read on its own line is read at all."""
    lines = [f"{name}: failed {_when(f.at)}: {f.reason}" for name, f in failures if f is not None]
    return ["", *lines] if lines else []


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
