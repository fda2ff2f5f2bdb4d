"""Reverse-sync rigs: a CRM table of contacts to push, runs of the sync job, exactly-once checks.

The source rows are awkward on purpose: unicode and emoji names, NULL optional fields, very
long ``information`` texts, several numbers and emails per contact, phone numbers spelled with
spaces, dashes and brackets. Each row's key is its first phone number, which is also how the
checks find the contact in the simulator afterwards: exactly one contact per row, with the
values the row holds.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pandas as pd

from aircall_assets.client.resource import AircallResource
from aircall_assets.reverse_sync.definitions import REVERSE_SYNC_JOB, SYNC_OP, build_reverse_sync
from aircall_assets.reverse_sync.destinations import TEMPLATE_FIELDS
from aircall_assets.settings import Settings
from aircall_assets.warehouse import Warehouse, WarehouseIOManager

from .report import ScenarioResult

SOURCE = "crm.new_contacts"
DESTINATION = "push_contacts"
CREATE_CONTACTS = {"name": DESTINATION, "source": SOURCE, "template": "create_contacts"}
COLUMNS = ["key", *TEMPLATE_FIELDS["contact_create"]]  # what create_contacts sends
FIRST_NAMES = [
    "Zoë",
    "Jürgen",
    "Łukasz",
    "Søren",
    "Hélène",
    "Иван",
    "王芳",
    "José",
    "Ana",
    "O'Brien",
    "Nguyễn",
    "Anaïs 🌻",
    "محمد",
    "Ωmega",
]
LAST_NAMES = ["Dupré", "Müller", "Nowak", None, "García-López", "田中", "Smith", "D'Arcy"]


def digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def phone(series: int, index: int, style: int) -> str:
    """A number no simulated contact or caller has (+1 555 01xx is reserved for fiction)."""
    body = f"{series:02d}{index:05d}"
    styles = (
        f"+1555{body}",
        f"+1 555 {body[:3]} {body[3:]}",
        f"+1 (555) {body[:3]}-{body[3:]}",
    )
    return styles[style % len(styles)]


def contact_rows(n: int, seed: int, series: int = 1, start: int = 0) -> list[dict[str, Any]]:
    """``n`` contacts to create; row ``i`` is the same for a given (seed, series, i)."""
    rows = []
    for i in range(start, start + n):
        rng = random.Random(f"{seed}:{series}:{i}")
        phones = [
            {
                "label": rng.choice(["Mobile", "Work", None]),
                "value": phone(series, i * 3 + k, i + k),
            }
            for k in range(rng.choice([1, 1, 1, 2, 3]))
        ]
        emails = [
            {"label": "Work", "value": f"contact{i}.{k}@example.org"}
            for k in range(rng.choice([0, 1, 1, 2]))
        ]
        info = None
        if i % 5 == 0:
            info = ("Note « très longue » ✓ " * 400)[: 2000 + rng.randrange(4000)]
        elif i % 5 == 1:
            info = f"Lead #{i}\nline two\ttabbed"
        rows.append(
            {
                "key": phone(series, i * 3, 0),
                "first_name": rng.choice(FIRST_NAMES),
                "last_name": rng.choice(LAST_NAMES),
                "company_name": None if i % 3 else f"Société {i} & Co",
                "information": info,
                "phone_numbers": phones,
                "emails": emails,
            }
        )
    return rows


def write_source(db: Path | str, rows: list[dict[str, Any]], table: str = SOURCE) -> None:
    """The CRM table, lists stored as JSON text (as an export from another tool would be)."""
    schema, name = table.split(".")
    cells = [
        {k: (orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v) for k, v in r.items()}
        for r in rows
    ]
    frame = pd.DataFrame(cells, columns=list(rows[0]) if rows else COLUMNS)
    Warehouse(db).replace_frame(schema, name, frame)


def settings_with(first, *destinations: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {"history_start": first.isoformat(), "destinations": list(destinations)}
    )


def sync_job(settings: Settings, resource: AircallResource, db: Path | str) -> dg.JobDefinition:
    reverse = build_reverse_sync(settings)
    defs = dg.Definitions(
        assets=reverse.assets,
        jobs=reverse.jobs,
        resources={"aircall": resource, "warehouse_io_manager": WarehouseIOManager(path=str(db))},
    )
    return defs.resolve_job_def(REVERSE_SYNC_JOB)


def run_sync(
    settings: Settings,
    resource: AircallResource,
    db: Path | str,
    destination: str = DESTINATION,
    *,
    instance: dg.DagsterInstance | None = None,
    quiet: bool = True,
    **config: Any,
) -> dg.ExecuteInProcessResult:
    run_config: dict[str, Any] = {
        "ops": {SYNC_OP: {"config": {"destination": destination, **config}}}
    }
    if quiet:
        run_config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    return sync_job(settings, resource, db).execute_in_process(
        run_config=run_config, raise_on_error=False, instance=instance
    )


def _counts(db: Path | str, column: str, table: str, destination: str) -> Counter:
    with Warehouse(db).connect(read_only=True) as con:
        rows = con.execute(
            f"SELECT {column}, count(*) FROM aircall_sync.{table} WHERE destination = ? "
            f"GROUP BY {column}",
            [destination],
        ).fetchall()
    return Counter(dict(rows))


def outcomes(db: Path | str, destination: str = DESTINATION) -> Counter:
    """Attempts recorded in ``aircall_sync.responses`` by outcome."""
    return _counts(db, "outcome", "responses", destination)


def states(db: Path | str, destination: str = DESTINATION) -> Counter:
    """Rows in ``aircall_sync.state`` by status."""
    return _counts(db, "status", "state", destination)


def contacts_by_first_phone(sim, rows: Iterable[dict[str, Any]]) -> dict[str, list[dict]]:
    """Simulator contacts holding each row's key number (compared digit by digit)."""
    wanted = {digits(r["key"]): r["key"] for r in rows}
    found: dict[str, list[dict]] = {key: [] for key in wanted.values()}
    for contact in sim.store.all("contacts"):
        for number in {digits(p["value"]) for p in contact["phone_numbers"]}:
            if number in wanted:
                found[wanted[number]].append(contact)
    return found


def _expected(row: dict[str, Any]) -> dict[str, Any]:
    def values(entries):
        return [(e.get("label") or "Work", str(e["value"]).strip()) for e in entries or []]

    return {
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "company_name": row["company_name"],
        "information": row["information"],
        "phone_numbers": values(row["phone_numbers"]),
        "emails": values(row["emails"]),
    }


def _actual(contact: dict[str, Any]) -> dict[str, Any]:
    return {
        "first_name": contact.get("first_name"),
        "last_name": contact.get("last_name"),
        "company_name": contact.get("company_name"),
        "information": contact.get("information"),
        "phone_numbers": [(p["label"], p["value"]) for p in contact.get("phone_numbers") or []],
        "emails": [(e["label"], e["value"]) for e in contact.get("emails") or []],
    }


def check_each_created_once(
    sim, rows: list[dict[str, Any]], result: ScenarioResult, label: str, contacts_before: int
) -> None:
    """Every row is exactly one simulator contact holding the row's values; nothing else."""
    found = contacts_by_first_phone(sim, rows)
    result.rows_compared += len(rows)
    missing = [k for k, c in found.items() if not c]
    doubled = {k: len(c) for k, c in found.items() if len(c) > 1}
    result.duplicates += sum(n - 1 for n in doubled.values())
    result.mismatches += len(missing)
    if missing:
        result.fail(f"{label}: {len(missing)} row(s) never created, e.g. {missing[:3]}")
    if doubled:
        result.fail(f"{label}: created more than once: {dict(list(doubled.items())[:5])}")
    differ = []
    for row in rows:
        contacts = found[row["key"]]
        if len(contacts) == 1 and _actual(contacts[0]) != _expected(row):
            differ.append((row["key"], _expected(row), _actual(contacts[0])))
    result.mismatches += len(differ)
    if differ:
        result.fail(
            f"{label}: {len(differ)} contact(s) differ from their row, e.g. {str(differ[0])[:400]}"
        )
    extra = len(sim.store.all("contacts")) - contacts_before - len(rows)
    if extra > 0 and not doubled:
        result.duplicates += extra
        result.fail(f"{label}: {extra} contact(s) created that match no row")
