"""The demo source of the reverse sync: people who called in but are not in the contacts.

``aircall_reverse/unknown_callers`` holds one row per phone number that made an inbound call and
matches no contact's phone number, already shaped as a contact to create (the
``create_contacts`` template sends it as is). It is computed by one SQL statement inside the
warehouse, so a calls table of millions of rows never passes through Python, and it replaces the
table in one transaction. The statement is written once for DuckDB and PostgreSQL; the three
things they spell differently (a JSON array's fields, building one, a time as text) come from
the warehouse (``store.SyncWarehouse``). Numbers are compared normalised: digits only, with the
leading ``+`` kept (Aircall shows ``+33 1 23 45 67 89`` in calls and may store ``+33123456789``
in contacts).

Each account has its own, built from its own calls and contacts into its own reverse schema
(``aircall_eu_reverse.unknown_callers`` from ``aircall_eu.calls`` and ``aircall_eu.contacts``).
"""

from typing import Any

import dagster as dg

from aircall_assets.account import Account
from aircall_assets.catalog import CALLS, CONTACTS
from aircall_assets.resources import warehouse_kind, warehouse_pool
from aircall_assets.reverse_sync.store import Sql, SyncWarehouse
from aircall_assets.sql import literal, quote

TABLE = "unknown_callers"
FIRST_NAME = "Unknown caller"
LABEL = "Caller"
REQUIRED_COLUMNS = {
    CALLS.name: ("direction", "raw_digits", "started_at"),
    CONTACTS.name: ("phone_numbers",),
}
COLUMNS = (
    ("key", "VARCHAR", "The caller's number, normalised (digits, leading +): the row key."),
    ("first_name", "VARCHAR", f"'{FIRST_NAME}'."),
    ("last_name", "VARCHAR", "The number, so the contact is findable by name."),
    ("information", "VARCHAR", "How often and when the number called."),
    ("phone_numbers", "JSON", f"[{{label: '{LABEL}', value: number}}]."),
    ("call_count", "BIGINT", "Inbound calls from this number in the warehouse."),
    ("first_call_at", "TIMESTAMPTZ", "First inbound call (UTC)."),
    ("last_call_at", "TIMESTAMPTZ", "Latest inbound call (UTC)."),
)


def normalized(expression: str) -> str:
    """SQL for a phone number reduced to its digits, keeping a leading + (no + if no digit)."""
    digits = f"regexp_replace({expression}, '[^0-9]', '', 'g')"
    plus = f"CASE WHEN ltrim({expression}) LIKE '+%' AND {digits} <> '' THEN '+' ELSE '' END"
    return f"({plus} || {digits})"


def unknown_callers_query(warehouse: SyncWarehouse, extract_schema: str) -> str:
    """The SELECT of the table's rows from the calls and contacts of ``extract_schema``, in
    ``warehouse``'s SQL (the columns typed by casts)."""
    calls = f"{quote(extract_schema)}.{quote(CALLS.name)}"
    contacts = f"{quote(extract_schema)}.{quote(CONTACTS.name)}"
    phone_numbers = warehouse.json_array_of_object(
        [("label", literal(LABEL)), ("value", "c.number")]
    )
    contact_numbers = warehouse.array_field_texts(contacts, "phone_numbers", "value", alias="value")
    return f"""
WITH inbound AS (
    SELECT {normalized("raw_digits")} AS number, started_at
    FROM {calls}
    WHERE direction = 'inbound'
      AND raw_digits IS NOT NULL
      AND lower(trim(raw_digits)) NOT IN ('', 'anonymous', 'unknown')
),
callers AS (
    SELECT number, count(*) AS call_count, min(started_at) AS first_call_at,
           max(started_at) AS last_call_at
    FROM inbound
    WHERE length(replace(number, '+', '')) >= 3
    GROUP BY number
),
known AS (
    SELECT DISTINCT {normalized("value")} AS number
    FROM ({contact_numbers}) AS contact_numbers
    WHERE value IS NOT NULL
)
SELECT
    c.number::TEXT AS key,
    {literal(FIRST_NAME)}::TEXT AS first_name,
    c.number::TEXT AS last_name,
    ('Called ' || c.call_count || CASE WHEN c.call_count = 1 THEN ' time' ELSE ' times' END
        || ', last on ' || {warehouse.utc_minute("c.last_call_at")} || ' UTC.')::TEXT
        AS information,
    {phone_numbers} AS phone_numbers,
    c.call_count::BIGINT AS call_count,
    c.first_call_at::TIMESTAMPTZ AS first_call_at,
    c.last_call_at::TIMESTAMPTZ AS last_call_at
FROM callers AS c
WHERE NOT EXISTS (SELECT 1 FROM known AS k WHERE k.number = c.number)
ORDER BY c.last_call_at DESC, c.number
"""


def _missing_inputs(sql: Sql, schema: str) -> list[str]:
    problems = []
    for table, needed in REQUIRED_COLUMNS.items():
        present = sql.column_names(schema, table)
        if not present:
            problems.append(f"{schema}.{table} does not exist: materialize {schema}/{table} first")
            continue
        lacking = [c for c in needed if c not in present]
        if lacking:
            problems.append(
                f"{schema}.{table} has no column(s) {lacking}: add them to the table's column "
                "selection in the account's settings (aircall.yaml, or its defs.yaml) and "
                "re-load it"
            )
    return problems


def compute_unknown_callers(warehouse: SyncWarehouse, account: Account) -> dict[str, Any]:
    """Rebuild the account's ``unknown_callers`` in one transaction; returns figures."""
    schema = account.reverse_schema
    target = f"{quote(schema)}.{quote(TABLE)}"
    with warehouse.connect() as sql:
        problems = _missing_inputs(sql, account.extract_schema)
        if problems:
            raise dg.Failure(
                description="unknown_callers needs the calls and contacts tables: "
                + "; ".join(problems)
            )
        columns = {name: kind for name, kind, _ in COLUMNS}
        query = unknown_callers_query(warehouse, account.extract_schema)
        warehouse.replace_table(sql, schema, TABLE, columns, query)
        (rows,) = sql.execute(f"SELECT count(*) FROM {target}").fetchone()
        preview = sql.execute(
            f"SELECT key, information FROM {target} ORDER BY last_call_at DESC, key LIMIT 5"
        ).fetchall()
    return {"rows": int(rows), "preview": preview}


def build_unknown_callers_asset(account: Account) -> dg.AssetsDefinition:
    """The account's ``<reverse schema>/unknown_callers``, from its own calls and contacts."""
    io_manager_key = account.io_manager_key
    table_name = f"{account.reverse_schema}.{TABLE}"

    @dg.asset(
        key=account.reverse_key(TABLE),
        group_name=account.reverse_schema,
        kinds={warehouse_kind()},
        deps=[account.extract_key(CALLS.name), account.extract_key(CONTACTS.name)],
        # Rebuilt whenever calls or contacts land (daily schedule, backfills, contact edits),
        # by the daemon's automation sensor: the destination then always sees fresh callers.
        automation_condition=dg.AutomationCondition.eager(),
        pool=warehouse_pool(),
        io_manager_key=io_manager_key,
        required_resource_keys={io_manager_key},
        description="Phone numbers that called in (inbound, not anonymous) and match no "
        "contact, one row each, shaped as a contact to create. Source of the demo reverse-sync "
        "destination 'unknown_callers' (template create_contacts).",
        metadata={
            "dagster/table_name": table_name,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(n, t, description=d) for n, t, d in COLUMNS]
            ),
        },
    )
    def unknown_callers(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        warehouse = getattr(context.resources, io_manager_key).warehouse
        figures = compute_unknown_callers(warehouse, account)
        context.log.info(f"{figures['rows']} unknown caller(s)")
        table = "\n".join(f"| {k} | {i} |" for k, i in figures["preview"])
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": figures["rows"],
                "table": table_name,
                "preview": dg.MetadataValue.md(
                    "| key | information |\n|---|---|\n" + table if table else "_no rows_"
                ),
            }
        )

    return unknown_callers
