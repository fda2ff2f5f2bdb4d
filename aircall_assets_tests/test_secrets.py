"""Secret hygiene: the API id and token never appear in logs, events, metadata, tables or errors."""

import base64
import logging
from datetime import timedelta

import dagster as dg
import duckdb

from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import TABLES
from aircall_assets.settings import parse_settings
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import WarehouseIOManager
from aircall_assets_tests.helpers import resource_for

API_ID = "idSECRET4242"
TOKEN = "tokSECRET9f8e7d6c"
NEEDLES = [API_ID, TOKEN, base64.b64encode(f"{API_ID}:{TOKEN}".encode()).decode()]


def _hits(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def _warehouse_text(path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        parts = []
        for schema, table in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall():
            parts.append(str(con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()))
        return "\n".join(parts)
    finally:
        con.close()


def test_no_secret_in_any_output_of_passing_and_failing_runs(
    simulator_factory, tmp_path, caplog, capfd
):
    start = utc_today() - timedelta(days=3)
    sim = simulator_factory(
        start_date=start,
        days=3,
        calls_per_day=30,
        api_id=API_ID,
        api_token=TOKEN,
        fault_rate=0.2,
        fault_kinds=("5xx", "drop", "truncate"),
    )
    settings = parse_settings({"history_start": start.isoformat()})
    db = tmp_path / "w.duckdb"
    assets = [build_extract_asset(TABLES[n], settings) for n in ("calls", "tags", "company_info")]
    texts = []
    caplog.set_level(logging.DEBUG)
    with dg.instance_for_test() as instance:
        for token in (TOKEN, TOKEN + "x"):  # a passing run, then rejected credentials
            resource = resource_for(sim, api_token=token)
            texts.append(repr(resource))
            result = dg.materialize(
                assets,
                instance=instance,
                partition_key=start.isoformat(),
                resources={
                    "aircall": resource,
                    "warehouse_io_manager": WarehouseIOManager(path=str(db)),
                },
                raise_on_error=False,
            )
            texts.append(str(result.success))
            for event in result.all_events:
                texts.append(repr(event))
        records = instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_FAILURE)
        )
        assert records, "the run with a wrong token failed"
        failure = records[0].event_log_entry.dagster_event.step_failure_data.error.to_string()
        assert "rejected the credentials (403" in failure
        texts.append(failure)
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id):
                texts.append(repr(entry))
    out, err = capfd.readouterr()
    texts += [out, err, caplog.text, _warehouse_text(db)]
    everything = "\n".join(texts)
    assert len(everything) > 10_000, "the search covered real output"
    assert _hits(everything) == []
