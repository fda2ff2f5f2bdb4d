"""The API id and token never reach the responses/state tables, logs, metadata or errors."""

from __future__ import annotations

import base64
import logging

import dagster as dg

from aircall_assets.warehouse import Warehouse
from aircall_assets_tests.reverse_sync.helpers import (
    run_sync,
    run_test_send,
    settings_with,
    write_source,
)

API_ID = "rsID7c1e5b"
TOKEN = "rsTOKEN4d2f9a8e"
NEEDLES = [API_ID, TOKEN, base64.b64encode(f"{API_ID}:{TOKEN}".encode()).decode()]


def warehouse_text(db) -> str:
    with Warehouse(db).connect(read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        return "\n".join(
            str(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables
        )


def test_no_secret_in_any_output_of_syncs_test_sends_and_failures(
    simulator_factory, db, caplog, capfd
):
    sim = simulator_factory(
        seed=4,
        days=1,
        calls_per_day=2,
        contacts=5,
        api_id=API_ID,
        api_token=TOKEN,
        fault_rate=0.3,
        fault_kinds=("drop", "5xx", "truncate"),
    )
    taken = sim.store.all("users")[0]["email"]
    write_source(
        db,
        "crm.c",
        [
            {
                "id": i,
                "first_name": "S",
                "last_name": str(i),
                "phone_numbers": [{"value": f"+33 7 00 00 00 {i:02d}"}],
            }
            for i in range(8)
        ]
        + [{"id": 99, "first_name": "invalid", "last_name": "row", "phone_numbers": None}],
    )
    write_source(db, "crm.u", [{"email": taken, "first_name": "A", "last_name": "B"}])
    settings = settings_with(
        {"name": "c", "source": "crm.c", "template": "create_contacts", "headers": "X-Tag:t"},
        {"name": "u", "source": "crm.u", "template": "create_users"},
    )
    caplog.set_level(logging.DEBUG)
    texts = []
    with dg.instance_for_test() as instance:
        runs = [
            run_sync(settings, sim, db, "c", instance=instance, dry_run=True),
            run_sync(settings, sim, db, "c", instance=instance),
            run_sync(settings, sim, db, "u", instance=instance),  # 422
            run_test_send(settings, sim, db, "c", instance=instance, row_key="3"),
            run_sync(
                settings,
                sim,
                db,
                "c",
                instance=instance,  # rejected credentials
                resource_overrides={"api_token": TOKEN + "x"},
            ),
        ]
        write_source(
            db,
            "crm.c",
            [
                {
                    "id": 50,
                    "first_name": "S",
                    "last_name": "50",
                    "phone_numbers": [{"value": "+33 7 00 00 01 50"}],
                }
            ],
        )
        runs.append(
            run_sync(
                settings,
                sim,
                db,
                "c",
                instance=instance,
                resource_overrides={"api_token": TOKEN + "x"},
            )
        )
        assert [r.success for r in runs] == [True, True, True, True, True, False]
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id):
                texts.append(dg.serialize_value(entry))
    out, err = capfd.readouterr()
    texts += [out, err, caplog.text, warehouse_text(db)]
    everything = "\n".join(texts)
    assert "rejected the credentials (403" in everything
    assert "sample_payloads" in everything
    assert len(everything) > 20_000, "the search covered real output"
    assert [n for n in NEEDLES if n in everything] == []
