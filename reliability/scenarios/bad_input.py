"""Scenario 4: bad input gets the exact error a user sees, and nothing is written or sent.

Three families. Configuration (credentials, settings file, run config, environment, manual
destination URL): loaded the way ``dagster`` loads the code location, with the environment
pointing at a simulator and a warehouse; the message must be exactly the expected one, the
simulator must have received no request and the warehouse must be unchanged. API answers
(unknown, missing and retyped fields, an envelope without its list, HTML instead of JSON),
bent by a proxy in front of the simulator: the run fails with the exact message and the
warehouse keeps its previous rows, or (unknown fields, an omitted optional field) the run
loads what it can and says so. Source rows of a reverse sync (missing phone numbers, bad
emails, too many numbers, wrong types, NULL key, NULLs, very long strings, unicode): each
invalid row is recorded with its exact reason and never sent; the valid ones arrive intact.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from aircall_assets.client.errors import CREDENTIAL_HELP
from aircall_assets.client.resource import AircallResource
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import range_run_figures
from reliability import account
from reliability.compare import compare_warehouses
from reliability.extract import aircall, extract
from reliability.profiles import Profile
from reliability.proxy import Proxy, html_instead_of_json, on_records
from reliability.report import ScenarioResult
from reliability.scenarios.faults import baseline

ALL_SCHEMAS = None


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for the block."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def root_error(results) -> str | None:
    """The innermost error message of the first failed step (what caused the failure)."""
    for result in results:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data.error:
                error = event.step_failure_data.error
                while error.cause is not None:
                    error = error.cause
                text = error.message.strip()
                prefix = f"{error.cls_name}: "
                if error.cls_name and prefix in text:
                    text = text.split(prefix, 1)[1]
                return text
    return None


def failure_description(results) -> str | None:
    """The ``dg.Failure`` description of the first failed step (a run's user-facing reason)."""
    for result in results:
        for event in result.all_events:
            if event.is_step_failure:
                data = event.step_failure_data
                if data.user_failure_data and data.user_failure_data.description:
                    return data.user_failure_data.description
    return root_error(results)


@dataclass
class Harness:
    profile: Profile
    workdir: Path
    sim: Any
    reference: Path
    result: ScenarioResult

    def fresh_warehouse(self, name: str) -> Path:
        """A copy of the fault-free warehouse: 'nothing written' means it stays equal."""
        db = self.workdir / f"bad-{name}.duckdb"
        shutil.copyfile(self.reference, db)
        return db

    def expect(
        self,
        name: str,
        expected: str | Callable[[str], bool],
        actual: str | None,
        *,
        db: Path | None,
        requests_before: int | None,
        max_requests: int | None = 0,
    ) -> None:
        result = self.result
        result.runs += 1
        if callable(expected):
            matched = actual is not None and expected(actual)
        else:
            matched = actual == expected
        result.check(matched, f"{name}: expected {expected!r}, the user saw {actual!r}")
        if requests_before is not None and max_requests is not None:
            sent = self.sim.stats.requests - requests_before
            result.check(sent <= max_requests, f"{name}: {sent} request(s) sent to Aircall")
        if db is not None:
            if db.exists():
                comparison = compare_warehouses(self.reference, db, schemas=ALL_SCHEMAS)
                result.rows_compared += comparison.rows_compared
                result.mismatches += comparison.mismatches
                result.duplicates += comparison.duplicates
                for problem in comparison.problems:
                    result.fail(f"{name}: the warehouse changed: {problem}")
            else:
                result.fail(f"{name}: the warehouse disappeared")


# ------------------------------------------------------------------------ configuration


def _load_definitions(env: dict[str, str | None]) -> str | None:
    """Load the code location like ``dagster`` does; the error text it fails with, if any."""
    from aircall_assets.definitions import build_definitions
    from aircall_assets.settings import load_settings

    with environment(**env):
        try:
            build_definitions(load_settings())
        except Exception as exc:  # noqa: BLE001 - the message is what is checked
            return str(exc)
    return None


def configuration_cases(h: Harness) -> None:
    sim, work = h.sim, h.workdir / "bad-config"
    work.mkdir(parents=True, exist_ok=True)
    db = h.fresh_warehouse("config")
    env = {
        "AIRCALL_API_BASE_URL": sim.base_url,
        "AIRCALL_API_ID": account.API_ID,
        "AIRCALL_API_TOKEN": account.API_TOKEN,
        "AIRCALL_DUCKDB_PATH": str(db),
        "AIRCALL_START_DATE": None,
        "AIRCALL_REQUESTS_PER_MINUTE": "0",
    }
    settings = work / "aircall.yaml"

    def settings_case(name: str, text: str, expected, **extra: str | None) -> None:
        settings.write_text(text, encoding="utf-8")
        before = sim.stats.requests
        actual = _load_definitions({**env, "AIRCALL_SETTINGS": str(settings), **extra})
        h.expect(name, expected, actual, db=db, requests_before=before)

    from aircall_assets.settings import suggested_history_start

    start = h.profile.start.isoformat()
    proposed = suggested_history_start(utc_today())
    settings_case(
        "unknown table in the settings",
        f"history_start: {start}\ntables:\n  cals: {{enabled: true}}\n",
        f"{settings}: tables.cals: unknown table; did you mean 'calls'?",
    )
    settings_case(
        "unknown column in the settings",
        f"history_start: {start}\ntables:\n  calls:\n    columns: [id, durration]\n",
        f"{settings}: tables.calls.columns: unknown column 'durration' of table calls; did you "
        "mean 'duration'?",
    )
    settings_case(
        "malformed settings file (YAML syntax)",
        "tables: [unclosed\n",
        f"{settings}: line 2, column 1: not valid YAML: expected ',' or ']', but got "
        "'<stream end>', while parsing a flow sequence (line 1, column 9)",
    )
    settings_case(
        "malformed settings file (not a mapping)",
        "- calls\n- contacts\n",
        f"{settings}: must be a YAML mapping of settings (such as 'history_start: {proposed}'), "
        "got list",
    )
    settings_case(
        "misspelt settings key",
        f"history_start: {start}\nlookback: 3\n",
        f"{settings}: lookback: unknown key; did you mean 'lookback_days'?",
    )
    settings_case(
        "invalid timezone",
        f"history_start: {start}\nschedule: {{timezone: Mars/Olympus}}\n",
        f"{settings}: schedule.timezone: 'Mars/Olympus' is not an IANA timezone name, e.g. 'UTC' "
        "or 'Europe/Paris'",
    )
    settings_case(
        "AIRCALL_START_DATE not a date",
        f"history_start: {start}\n",
        "AIRCALL_START_DATE='07/01/2026' is not a date; use YYYY-MM-DD, e.g. 2026-06-01",
        AIRCALL_START_DATE="07/01/2026",
    )
    future = (utc_today() + timedelta(days=30)).isoformat()
    settings_case(
        "AIRCALL_START_DATE in the future",
        f"history_start: {start}\n",
        f"AIRCALL_START_DATE={future} is in the future; today is {utc_today()}",
        AIRCALL_START_DATE=future,
    )
    settings_case(
        "history_start in the future",
        f"history_start: {future}\n",
        f"{settings}: history_start: {future} is in the future (today is {utc_today()} UTC): "
        f"the first day to load must have begun, e.g. {proposed}",
    )
    settings_case(
        "base URL not https for a non-loopback host",
        f"history_start: {start}\n",
        "AIRCALL_API_BASE_URL 'http://api.aircall.io' uses plain http for a non-loopback host: "
        "the credentials would travel in clear text. Use https (http is only allowed for "
        "127.0.0.1/localhost, e.g. the simulator).",
        AIRCALL_API_BASE_URL="http://api.aircall.io",
    )
    settings_case(
        "manual destination URL to a foreign host",
        f"history_start: {start}\ndestinations:\n  - name: leak\n    source: crm.leads\n"
        "    method: POST\n    path: https://collector.example.com/aircall\n",
        f"{settings}: destinations.0: destination 'leak': "
        "URL 'https://collector.example.com/aircall' points at https://collector.example.com, "
        f"not the Aircall base {sim.base_url}; the credentials are only ever sent to Aircall. "
        "Give a path such as /v1/contacts/{id}.",
    )
    settings_case(
        "manual destination URL: same host, other port",
        f"history_start: {start}\ndestinations:\n  - name: leak\n    source: crm.leads\n"
        f"    method: POST\n    path: http://127.0.0.1:1/v1/contacts\n",
        f"{settings}: destinations.0: destination 'leak': "
        "URL 'http://127.0.0.1:1/v1/contacts' points at http://127.0.0.1:1, not the Aircall "
        f"base {sim.base_url}; the credentials are only ever sent to Aircall. Give a path "
        "such as /v1/contacts/{id}.",
    )
    settings.write_text(f"history_start: {start}\n", encoding="utf-8")


def credential_cases(h: Harness) -> None:
    sim, profile = h.sim, h.profile
    db = h.fresh_warehouse("credentials")
    before = sim.stats.requests
    with environment(AIRCALL_API_ID=None, AIRCALL_API_TOKEN=None):
        resource = AircallResource(
            api_id=dg.EnvVar("AIRCALL_API_ID"),
            api_token=dg.EnvVar("AIRCALL_API_TOKEN"),
            base_url=sim.base_url,
            requests_per_minute=0,
        )
        try:
            extract(resource, db, profile.start, profile.last, tables=["calls"])
            actual = None
        except dg.DagsterInvalidConfigError as exc:
            actual = str(exc)
    missing = [
        f'You have attempted to fetch the environment variable "{name}" which is not set. In '
        "order for this execution to succeed it must be set in this environment."
        for name in ("AIRCALL_API_ID", "AIRCALL_API_TOKEN")
    ]
    h.expect(
        "missing credentials (env vars unset)",
        lambda text: all(m in text for m in missing),
        actual,
        db=db,
        requests_before=before,
    )
    before = sim.stats.requests
    try:
        aircall(sim.base_url, "", "").get_client()
        actual = None
    except Exception as exc:  # noqa: BLE001
        actual = str(exc)
    h.expect(
        "missing credentials (empty values)",
        f"Aircall credentials are missing. {CREDENTIAL_HELP}",
        actual,
        db=db,
        requests_before=before,
    )
    before = sim.stats.requests
    results = extract(
        aircall(sim.base_url, account.API_ID, "wrong-token"),
        db,
        profile.start,
        profile.last,
        tables=["calls"],
    )
    h.expect(
        "wrong credentials",
        f"Aircall rejected the credentials (403 on GET /v1/calls). {CREDENTIAL_HELP}",
        root_error(results),
        db=db,
        requests_before=before,
        max_requests=1,
    )


def run_config_case(h: Harness) -> None:
    from aircall_assets.catalog import CALLS

    db = h.fresh_warehouse("run-config")
    before = h.sim.stats.requests
    results = extract(
        aircall(h.sim.base_url, account.API_ID, account.API_TOKEN),
        db,
        h.profile.start,
        h.profile.last,
        tables=["calls"],
        run_config={"ops": {"aircall__calls": {"config": {"columns": ["id", "durration"]}}}},
    )
    h.expect(
        "unknown column in the run config",
        f"run config: unknown column(s) ['durration'] for table 'calls'; valid columns are: "
        f"{', '.join(CALLS.field_names)}",
        failure_description(results),
        db=db,
        requests_before=before,
    )


# --------------------------------------------------------------------------- API answers


def api_answer_cases(h: Harness) -> None:
    sim, profile = h.sim, h.profile
    first_call = sim.store.calls_between(
        account.day_ts(profile.start), account.day_ts(profile.last + timedelta(days=1))
    )[0]["id"]

    def bent(name: str, rule, expected, *, tables=("calls",)) -> list:
        db = h.fresh_warehouse(name.replace(" ", "-")[:40])
        with Proxy(sim.base_url, rule) as proxy:
            results = extract(
                aircall(proxy.base_url, account.API_ID, account.API_TOKEN, max_attempts=3),
                db,
                profile.start,
                profile.last,
                tables=list(tables),
            )
        if expected is not None:
            h.expect(name, expected, root_error(results), db=db, requests_before=None)
        return [db, results]

    def retype(field: str, value: Any) -> Callable[[dict], None]:
        def change(record: dict) -> None:
            if record.get("id") == first_call:
                record[field] = value

        return change

    bent(
        "API answer: a value of the wrong type",
        on_records("/v1/calls", retype("duration", "abc")),
        f'calls.duration: value "abc" of record id={first_call} cannot be stored as BIGINT '
        "(not an integer). The API sent a value of an unexpected type; nothing was written.",
    )
    bent(
        "API answer: a timestamp that is not one",
        on_records("/v1/calls", retype("started_at", "yesterday")),
        f"calls.started_at: value 'yesterday' of record id={first_call} cannot be stored as "
        "TIMESTAMPTZ (Invalid isoformat string: 'yesterday'). The API sent a value of an "
        "unexpected type; nothing was written.",
    )
    bent(
        "API answer: a boolean that is not one",
        on_records("/v1/calls", retype("archived", "maybe")),
        f'calls.archived: value "maybe" of record id={first_call} cannot be stored as BOOLEAN '
        "(not a boolean). The API sent a value of an unexpected type; nothing was written.",
    )
    for field, what in (("id", "primary key"), ("started_at", "date")):
        bent(
            f"API answer: records without their {what}",
            on_records("/v1/calls", lambda r, f=field: r.pop(f, None)),
            lambda text, f=field, w=what: (
                text.startswith(f"calls: Aircall sent a record without '{f}' (fields present: ")
                and text.endswith(f"a record needs its {w} to be loaded. Nothing was written.")
            ),
        )

    def no_list(exchange) -> None:
        if exchange.route == "/v1/calls" and exchange.status == 200:
            body = exchange.json()
            body["data"] = body.pop("calls")
            exchange.set_json(body)

    bent(
        "API answer: the envelope has no list",
        no_list,
        "GET /v1/calls: the answer has no 'calls' list (keys: ['data', 'meta'])",
    )
    bent(
        "API answer: not JSON at all (HTML page, status 200)",
        html_instead_of_json("/v1/calls"),
        lambda text: (
            text.startswith("GET /v1/calls (http://127.0.0.1:")
            and text.endswith(
                "/v1/calls) still failing after 3 attempts; last error: invalid_json. Aircall "
                "may be down; the run can be retried safely."
            )
        ),
    )
    # Tolerated drift: unknown fields are ignored and reported, an omitted field is NULL.
    instance = dg.DagsterInstance.ephemeral()
    db = h.fresh_warehouse("unknown-fields")
    rule = on_records("/v1/calls", lambda r: r.update(brand_new_field={"x": 1}, another_one=[1]))
    with Proxy(sim.base_url, rule) as proxy:
        results = extract(
            aircall(proxy.base_url, account.API_ID, account.API_TOKEN),
            db,
            profile.start,
            profile.last,
            tables=["calls"],
            instance=instance,
        )
    h.result.runs += 1
    if h.result.check(all(r.success for r in results), "unknown fields failed the run"):
        calls = dg.AssetKey(["aircall", "calls"])
        drift = {tuple(range_run_figures(r, calls)["schema_drift_unknown_fields"]) for r in results}
        h.result.check(drift == {("another_one", "brand_new_field")}, f"drift shown as {drift}")
        warning = (
            "Aircall sent fields the catalog does not know for calls: "
            "['another_one', 'brand_new_field']"
        )
        logged = [
            entry.user_message
            for r in results
            for entry in instance.all_logs(r.run_id)
            if entry.level == logging.WARNING
        ]
        h.result.check(warning in logged, f"unknown fields: warning {warning!r} not in {logged}")
        h.result.add_comparison(
            compare_warehouses(h.reference, db, schemas=ALL_SCHEMAS, label="unknown fields: ")
        )
    db, results = bent(
        "API answer: an optional field omitted",
        on_records("/v1/calls", lambda r: r.pop("duration", None)),
        None,
    )
    h.result.runs += 1
    if h.result.check(all(r.success for r in results), "an omitted optional field failed the run"):
        from reliability.compare import SIGNED_LINKS, compared, open_pair

        links = SIGNED_LINKS["calls"]
        rest = f"* EXCLUDE (duration, {', '.join(links)}), " + ", ".join(
            compared("calls", c) for c in links
        )
        con = open_pair(h.reference, db)
        try:
            (differ,) = con.execute(
                f"SELECT count(*) FROM (SELECT {rest} FROM exp.aircall.calls "
                f"EXCEPT ALL SELECT {rest} FROM act.aircall.calls)"
            ).fetchone()
            (filled,) = con.execute("SELECT count(duration) FROM act.aircall.calls").fetchone()
        finally:
            con.close()
        h.result.check(
            differ == 0 and filled == 0,
            f"omitted duration: {differ} rows differ, {filled} durations not NULL",
        )


# ------------------------------------------------------------------------- source rows


def source_rows() -> list[tuple[dict[str, Any], str | None]]:
    """(row, expected reason it is refused, or None if it must arrive intact)."""
    from reliability.reverse import phone

    def row(i: int, **values: Any) -> dict[str, Any]:
        base = {
            "key": phone(9, i, 0),
            "first_name": "Row",
            "last_name": f"N{i}",
            "company_name": None,
            "information": None,
            "phone_numbers": [{"label": "Work", "value": phone(9, i, i)}],
            "emails": [],
        }
        base.update(values)
        return base

    long_text = ("Ünïcödé ✓ 漢字 🌍 " * 1000)[:10_000]
    return [
        (
            row(
                0,
                first_name="Zoë 🌻 王芳",
                last_name="Ørsted-Łukasiewicz",
                information=long_text,
                company_name="Société Générale & Fils — «Qualité»",
            ),
            None,
        ),
        (row(1, last_name=None, emails=None, information=None), None),
        (row(2, first_name="N" * 5_000, emails=[{"label": None, "value": "ok@example.org"}]), None),
        (
            row(3, phone_numbers=None),
            "phone_numbers: at least one phone number is required to create a contact",
        ),
        (
            row(4, phone_numbers=[]),
            "phone_numbers: at least one phone number is required to create a contact",
        ),
        (
            row(5, emails=[{"label": "Work", "value": "not-an-email"}]),
            "emails: 'not-an-email' is not a valid email address",
        ),
        (
            row(
                6,
                phone_numbers=[{"label": "Work", "value": phone(9, 100 + k, 0)} for k in range(21)],
            ),
            "phone_numbers: at most 20 allowed, got 21",
        ),
        (
            row(7, phone_numbers=[1, 2]),
            "each item of phone_numbers must be a {label, value} object",
        ),
        (row(8, phone_numbers={"label": "Work"}), "an item of phone_numbers has no value"),
        (
            row(9, phone_numbers=[{"label": "Work", "value": "   "}]),
            "an item of phone_numbers has no value",
        ),
        (
            row(10, emails=[{"label": "Work", "value": "a@b.c"} for _ in range(21)]),
            "emails: at most 20 allowed, got 21",
        ),
        (row(11, key=None), "the row key (column key) is empty"),
    ]


def source_row_case(h: Harness) -> None:
    from aircall_assets.warehouse import Warehouse
    from reliability import reverse

    sim = h.sim
    cases = source_rows()
    rows = [r for r, _ in cases]
    db = h.workdir / "bad-source-rows.duckdb"
    db.unlink(missing_ok=True)
    reverse.write_source(db, rows)
    settings = reverse.settings_with(h.profile.start, reverse.CREATE_CONTACTS)
    before_contacts = len(sim.store.all("contacts"))
    before_log = len(sim.stats.request_log)
    results = reverse.run_sync(
        settings, aircall(sim.base_url, account.API_ID, account.API_TOKEN), db
    )
    h.result.runs += 1
    h.result.check(results.success, f"source rows: the sync failed: {root_error([results])}")
    with Warehouse(db).connect(read_only=True) as con:
        recorded = con.execute(
            "SELECT row_key, outcome, error FROM aircall_sync.responses WHERE destination = ?",
            [reverse.DESTINATION],
        ).fetchall()
    by_key = {k: (o, e) for k, o, e in recorded}
    valid = [r for r, reason in cases if reason is None]
    for row, reason in cases:
        if reason is None:
            continue
        h.result.runs += 1
        key = row["key"]
        if key is None:
            matches = [(o, e) for k, o, e in recorded if k.startswith("row:")]
            outcome, error = matches[0] if len(matches) == 1 else (None, f"{matches}")
        else:
            outcome, error = by_key.get(key, (None, None))
        h.result.check(
            (outcome, error) == ("invalid", reason),
            f"source row {key}: expected refusal {reason!r}, recorded {outcome!r} {error!r}",
        )
    posts = [e for e in sim.stats.request_log[before_log:] if e[1] == "POST"]
    h.result.check(
        len(posts) == len(valid),
        f"source rows: {len(posts)} POST(s) sent for {len(valid)} valid row(s)",
    )
    refused = {
        reverse.digits(p["value"])
        for r, reason in cases
        if reason is not None and isinstance(r["phone_numbers"], list)
        for p in r["phone_numbers"]
        if isinstance(p, dict) and reverse.digits(p.get("value"))
    }
    leaked = [
        c["id"]
        for c in sim.store.all("contacts")
        if refused & {reverse.digits(p["value"]) for p in c["phone_numbers"]}
    ]
    h.result.check(not leaked, f"refused rows reached Aircall as contacts {leaked[:5]}")
    reverse.check_each_created_once(sim, valid, h.result, "valid source rows", before_contacts)


def reverse_answer_cases(h: Harness) -> None:
    """Wrong credentials for a sync; a create answered with a page that is not JSON."""
    from reliability import reverse

    sim = h.sim
    settings = reverse.settings_with(h.profile.start, reverse.CREATE_CONTACTS)
    rows = reverse.contact_rows(3, h.profile.seed, series=7)
    db = h.workdir / "bad-reverse-credentials.duckdb"
    db.unlink(missing_ok=True)
    reverse.write_source(db, rows)
    before = len(sim.store.all("contacts"))
    outcome = reverse.run_sync(settings, aircall(sim.base_url, account.API_ID, "wrong"), db)
    h.expect(
        "wrong credentials (reverse sync)",
        f"'{reverse.DESTINATION}': 3 row(s) without a definitive answer (rows=3, failed=1, "
        "not_attempted=2, requests=1); stopped early: Aircall rejected the credentials (403 on "
        f"POST /v1/contacts). {CREDENTIAL_HELP} Run again to retry them; see "
        "aircall_sync.responses.",
        failure_description([outcome]),
        db=None,
        requests_before=None,
    )
    h.result.check(
        len(sim.store.all("contacts")) == before, "wrong credentials: a contact was created"
    )

    def html_after_create(exchange) -> None:
        if exchange.method == "POST" and exchange.route == "/v1/contacts":
            exchange.status = 200
            exchange.headers = {"Content-Type": "text/html"}
            exchange.body = b"<html><body>Thanks!</body></html>"

    rows = reverse.contact_rows(5, h.profile.seed, series=8)
    db = h.workdir / "bad-reverse-html.duckdb"
    db.unlink(missing_ok=True)
    reverse.write_source(db, rows)
    before = len(sim.store.all("contacts"))
    with Proxy(sim.base_url, html_after_create) as proxy:
        outcome = reverse.run_sync(
            settings, aircall(proxy.base_url, account.API_ID, account.API_TOKEN), db
        )
    h.result.runs += 1
    h.result.check(outcome.success, f"HTML answers to creates: {root_error([outcome])}")
    reverse.check_each_created_once(sim, rows, h.result, "HTML answers to creates", before)
    recorded = reverse.outcomes(db)
    h.result.check(
        recorded == {"lost": 5, "recovered": 5},
        f"HTML answers to creates: attempts recorded as {dict(recorded)}",
    )


# ------------------------------------------------------------------------------- scenario


def run_bad_input(profile: Profile, workdir: Path) -> ScenarioResult:
    result = ScenarioResult("bad input")
    began = time.monotonic()
    reference = baseline(profile, workdir)
    with account.start(profile) as sim:
        h = Harness(profile, workdir, sim, reference, result)
        configuration_cases(h)
        credential_cases(h)
        run_config_case(h)
        api_answer_cases(h)
        source_row_case(h)
        reverse_answer_cases(h)
    result.notes.append(f"{result.runs} cases, each message compared in full")
    result.seconds = time.monotonic() - began
    return result
