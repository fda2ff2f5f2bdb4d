"""Dry run: a plan shown as run metadata, everything a sync would do up to its first request.

The requests are the plan's (``plan.py``), built by the same code a sync sends, so what a
person reads is what would leave: each sample is a heading and the body in a JSON code block
(one markdown value, read at a glance in the UI), with the names of extra headers but never
their values. The counts shown are those a plan knows before sending, each named for what it
is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import dagster as dg
import orjson

from aircall_assets.reverse_sync.destinations import Destination
from aircall_assets.reverse_sync.plan import OutgoingRequest, Plan, make_requests

SHOWN_KEYS = 10  # row keys, and records of a batch, shown per sample
SHOWN_INVALID = 10
# What a plan has counted before anything is sent, by the name a dry run shows it under (the
# other counts are outcomes of sending, always 0 in a dry run).
PLANNED_COUNTS = {
    "rows": "source_rows",
    "unchanged": "rows_unchanged",
    "rejected_before": "rows_rejected_before",
    "invalid": "rows_invalid",
    "duplicate_keys": "rows_with_a_repeated_key",
}


def dry_run_metadata(destination: Destination, plan: Plan, sample_size: int) -> dict[str, Any]:
    """The run metadata of a dry run of ``plan``."""
    samples = sample(plan.requests, sample_size)
    note = "requests this run would send"
    if not samples:
        # Nothing new to send: still show what the rows look like on the wire.
        valid = [p for p in plan.payloads if p.valid]
        samples = sample(make_requests(destination, valid), sample_size)
        note = "nothing would be sent (all rows unchanged/invalid); samples of all valid rows"
    unsent = sorted({c for p in plan.payloads for c in p.unsent_columns})
    invalid = [{"key": p.key, "error": p.error} for p in plan.payloads if not p.valid]
    return {
        "dry_run": True,
        "destination": destination.name,
        "rows_to_send": plan.rows_to_send,
        "requests_to_send": len(plan.requests),
        **{shown: getattr(plan.counts, count) for count, shown in PLANNED_COUNTS.items()},
        "sample_payloads": dg.MetadataValue.md(samples_markdown(samples)),
        "sample_note": note,
        "columns_not_sent": unsent,
        "invalid_rows": dg.MetadataValue.json(invalid[:SHOWN_INVALID]),
    }


def sample(requests: Sequence[OutgoingRequest], count: int) -> list[dict[str, Any]]:
    """The first ``count`` requests as a user checks them: method, path, body, header names."""
    shown = []
    for request in requests[:count]:
        body = request.body
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "rows": len(request.items),
            "row_keys": request.keys[:SHOWN_KEYS],
        }
        if isinstance(body, list) and len(body) > SHOWN_KEYS:
            entry["body"] = body[:SHOWN_KEYS]
            entry["body_note"] = f"first {SHOWN_KEYS} of {len(body)} records in this batch"
        else:
            entry["body"] = body
        if request.headers:
            entry["extra_headers"] = sorted(request.headers)  # names only: values may be private
        if request.reroute:
            entry["note"] = request.reroute
        shown.append(entry)
    return shown


def samples_markdown(samples: Sequence[dict[str, Any]]) -> str:
    """``sample``'s requests as one markdown text, a heading and a JSON code block each: the
    dry run's payloads read at a glance in the UI, instead of a JSON tree opened level by level."""
    if not samples:
        return "_no request to show_"
    parts = []
    for number, entry in enumerate(samples, 1):
        keys = ", ".join(f"`{k}`" for k in entry["row_keys"])
        more = " ..." if entry["rows"] > len(entry["row_keys"]) else ""
        lines = [
            f"**{number}. {entry['method']} {entry['path']}** ({entry['rows']} row(s): "
            f"{keys}{more})"
        ]
        for label in ("note", "body_note"):
            if label in entry:
                lines.append(f"_{entry[label]}_")
        if "extra_headers" in entry:
            lines.append("Extra headers: " + ", ".join(f"`{h}`" for h in entry["extra_headers"]))
        lines.append(_code_block(orjson.dumps(entry["body"], option=orjson.OPT_INDENT_2).decode()))
        parts.append("\n\n".join(lines))
    return "\n\n".join(parts)


def _code_block(text: str) -> str:
    """``text`` fenced as JSON, the fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}json\n{text}\n{fence}"
