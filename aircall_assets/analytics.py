"""``aircall_analytics/agent_daily``: what the tables are for, one row per agent and day.

Built by one SQL statement inside the warehouse from the calls, their tags (``call_tag``), the
tags' names and the users, so millions of calls never pass through Python; it replaces the
table in one transaction. The statement is written once for DuckDB and PostgreSQL: only the
JSON object aggregate and type are spelt differently. A call counts for the user of
``calls.user`` (the agent who took or made it); calls no agent touched (an inbound call missed
before it rang anyone) have no agent and are left out.

Each account has its own (``aircall_eu_analytics.agent_daily`` from ``aircall_eu``'s tables).
It is rebuilt by the account's automation sensor whenever one of its inputs lands.
"""

import dagster as dg

from aircall_assets.catalog import CALLS, TAGS, USERS
from aircall_assets.resources import warehouse_kind, warehouse_pool
from aircall_assets.settings import Settings
from aircall_assets.sql import quote
from aircall_assets.warehouse import TableStore

TABLE = "agent_daily"
CALL_TAG = "call_tag"
COLUMNS = (
    ("day", "DATE", "UTC day the calls started."),
    ("user_id", "BIGINT", "The agent (aircall.users.id)."),
    ("user_name", "VARCHAR", "The agent's name (null when users is not loaded)."),
    ("calls", "BIGINT", "Calls the agent took or made that day."),
    ("inbound", "BIGINT", "Of which inbound."),
    ("outbound", "BIGINT", "Of which outbound."),
    ("answered", "BIGINT", "Calls that were answered (answered_at set), both directions."),
    ("missed", "BIGINT", "Inbound calls the agent did not answer."),
    ("answer_rate", "DOUBLE", "Answered inbound / inbound calls; null without inbound calls."),
    ("talk_seconds", "BIGINT", "Total talk time: ended_at - answered_at of answered calls."),
    ("average_talk_seconds", "DOUBLE", "Average talk time of the answered calls."),
    ("calls_by_tag", "JSON", 'Calls per tag name, e.g. {"VIP": 2}; {} when none is tagged.'),
)
NEEDED_COLUMNS = {
    CALLS.name: ("user", "started_at", "direction", "answered_at", "ended_at"),
    USERS.name: ("name",),
    TAGS.name: ("name",),
}


def agent_daily_query(kind: str, schema: str, with_users: bool, with_tags: bool) -> str:
    """The SELECT of the table's rows from the tables of ``schema``, in the SQL of ``kind``
    (``duckdb`` or ``postgres``); without users or tags when the account does not load them."""

    def table(name: str) -> str:
        return f"{quote(schema)}.{quote(name)}"

    json_type, object_agg = (
        ("JSONB", "jsonb_object_agg")
        if kind == "postgres"
        else (
            "JSON",
            "json_group_object",
        )
    )
    talk = "extract(epoch FROM (a.ended_at - a.answered_at))"
    inbound = "a.direction = 'inbound'"
    tag_name = (
        "coalesce(t.name, CAST(ct.tag_id AS VARCHAR))"
        if with_tags
        else ("CAST(ct.tag_id AS VARCHAR)")
    )
    tags_join = f"LEFT JOIN {table(TAGS.name)} AS t ON t.id = ct.tag_id" if with_tags else ""
    user_name = "u.name" if with_users else "CAST(NULL AS VARCHAR)"
    users_join = f"LEFT JOIN {table(USERS.name)} AS u ON u.id = a.user_id" if with_users else ""
    return f"""
WITH agent_calls AS (
    SELECT c.id, CAST(c.started_at AS DATE) AS day,
           CAST(c."user" ->> 'id' AS BIGINT) AS user_id,
           c.direction, c.answered_at, c.ended_at
    FROM {table(CALLS.name)} AS c
    WHERE c."user" ->> 'id' IS NOT NULL
),
tagged AS (
    SELECT a.user_id, a.day, {tag_name} AS tag, count(DISTINCT a.id) AS calls
    FROM agent_calls AS a
    JOIN {table(CALL_TAG)} AS ct ON ct.call_id = a.id
    {tags_join}
    GROUP BY a.user_id, a.day, {tag_name}
),
tags_per_day AS (
    SELECT user_id, day, {object_agg}(tag, calls) AS calls_by_tag
    FROM tagged
    GROUP BY user_id, day
)
SELECT
    a.day,
    a.user_id,
    {user_name} AS user_name,
    count(*) AS calls,
    count(*) FILTER (WHERE {inbound}) AS inbound,
    count(*) FILTER (WHERE a.direction = 'outbound') AS outbound,
    count(*) FILTER (WHERE a.answered_at IS NOT NULL) AS answered,
    count(*) FILTER (WHERE {inbound} AND a.answered_at IS NULL) AS missed,
    CAST(count(*) FILTER (WHERE {inbound} AND a.answered_at IS NOT NULL) AS DOUBLE PRECISION)
        / NULLIF(count(*) FILTER (WHERE {inbound}), 0) AS answer_rate,
    CAST(coalesce(sum({talk}), 0) AS BIGINT) AS talk_seconds,
    CAST(avg({talk}) AS DOUBLE PRECISION) AS average_talk_seconds,
    coalesce(tp.calls_by_tag, CAST('{{}}' AS {json_type})) AS calls_by_tag
FROM agent_calls AS a
{users_join}
LEFT JOIN tags_per_day AS tp ON tp.user_id = a.user_id AND tp.day = a.day
GROUP BY a.day, a.user_id, {user_name}, tp.calls_by_tag
ORDER BY a.day, a.user_id
"""


def _missing_inputs(store: TableStore, schema: str, tables: list[str]) -> list[str]:
    return [
        f"{schema}.{name} does not exist: materialize {schema}/{name} first"
        for name in tables
        if not store.table_exists(schema, name)
    ]


def build_agent_daily_asset(settings: Settings) -> dg.AssetsDefinition:
    """The account's ``<analytics schema>/agent_daily``, from its own extract tables."""
    names = settings.names
    schema = names.extract_schema
    enabled = {t.name for t in settings.enabled_tables}
    with_users, with_tags = USERS.name in enabled, TAGS.name in enabled
    inputs = [CALLS.name, CALL_TAG, *([USERS.name] if with_users else [])]
    inputs += [TAGS.name] if with_tags else []
    io_manager_key = names.io_manager_key
    table_name = f"{names.analytics_schema}.{TABLE}"

    @dg.asset(
        key=names.analytics_key(TABLE),
        group_name=names.analytics_schema,
        kinds={"sql", warehouse_kind()},
        deps=[names.extract_key(name) for name in inputs],
        # Rebuilt whenever an input lands (the daily schedule, backfills), by the account's
        # automation sensor.
        automation_condition=dg.AutomationCondition.eager(),
        pool=warehouse_pool(),
        required_resource_keys={io_manager_key},
        description="One row per agent and day: calls, inbound and outbound, answered, missed, "
        "answer rate, total and average talk time, and calls per tag; built in SQL from "
        f"{schema}.calls, call_tag, tags and users.",
        metadata={
            "dagster/table_name": table_name,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(n, t, description=d) for n, t, d in COLUMNS]
            ),
        },
    )
    def agent_daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        store: TableStore = getattr(context.resources, io_manager_key).store
        problems = _missing_inputs(store, schema, inputs)
        if problems:
            raise dg.Failure(description="agent_daily needs its inputs: " + "; ".join(problems))
        query = agent_daily_query(store.kind, schema, with_users, with_tags)
        try:
            rows = store.replace_with_query(names.analytics_schema, TABLE, query)
        except Exception as exc:
            if "column" not in str(exc).lower():
                raise
            needed = ", ".join(f"{t}: {list(c)}" for t, c in NEEDED_COLUMNS.items())
            raise dg.Failure(
                description=f"agent_daily could not read a column it needs ({exc}). It needs "
                f"{needed}: add any that is missing to the table's column selection in the "
                "account's settings (aircall.yaml, or its defs.yaml) and re-load the table."
            ) from None
        context.log.info(f"{rows:,} agent-day row(s) in {table_name}")
        return dg.MaterializeResult(metadata={"dagster/row_count": rows, "table": table_name})

    return agent_daily


def build_analytics_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """The account's analytics tables; none when it does not load calls."""
    if CALLS.name not in {t.name for t in settings.enabled_tables}:
        return []
    return [build_agent_daily_asset(settings)]
