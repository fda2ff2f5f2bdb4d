"""Exactly once: killed runs, crashes between send and record, lost answers, uncertain POSTs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from aircall_assets.reverse_sync import send
from aircall_assets.reverse_sync.state import SyncStore
from aircall_assets_tests.reverse_sync.helpers import (
    contacts_with,
    failure_text,
    output_metadata,
    responses,
    run_sync,
    settings_with,
    state,
    write_source,
)
from aircall_assets_tests.reverse_sync.recorder import FakeSim, Recorder

CREATE = {"name": "leads", "source": "crm.leads", "template": "create_contacts"}


def leads(n: int) -> list[dict]:
    return [
        {
            "id": i,
            "first_name": "Lead",
            "last_name": f"N{i:03d}",
            "phone_numbers": [
                {"label": "Work", "value": f"+33 9 70 00 {i // 100:02d} {i % 100:02d}"}
            ],
        }
        for i in range(n)
    ]


def numbers(rows) -> list[str]:
    return [r["phone_numbers"][0]["value"] for r in rows]


def duplicates(sim, rows) -> int:
    counts = contacts_with(sim, numbers(rows))
    return sum(c - 1 for c in counts.values() if c > 1)


def assert_each_created_once(sim, rows) -> None:
    counts = contacts_with(sim, numbers(rows))
    assert duplicates(sim, rows) == 0, {n: c for n, c in counts.items() if c > 1}
    assert len(counts) == len(rows), f"{len(rows) - len(counts)} row(s) never created"


def test_crash_after_aircall_applied_but_before_the_outcome_was_recorded(sim, each_db, monkeypatch):
    rows = leads(10)
    write_source(each_db, "crm.leads", rows)
    settings = settings_with(CREATE)
    real_write = SyncStore.write
    outcomes = {"n": 0}

    def crash_on_fifth_outcome(self, states=(), responses=()):
        if any(r.outcome == "sent" for r in responses):
            outcomes["n"] += 1
            if outcomes["n"] == 5:
                raise RuntimeError("process killed")  # request 5 was applied by Aircall
        return real_write(self, states, responses)

    monkeypatch.setattr(SyncStore, "write", crash_on_fifth_outcome)
    first = run_sync(settings, sim, each_db, "leads")
    assert not first.success and "process killed" in failure_text(first)
    pending = {k: s for k, s in state(each_db, "leads").items() if s["status"] == "sending"}
    assert list(pending) == ["4"]
    monkeypatch.setattr(SyncStore, "write", real_write)

    second = run_sync(settings, sim, each_db, "leads")
    assert second.success, failure_text(second)
    meta = output_metadata(second)
    assert (meta["recovered"], meta["sent"], meta["unchanged"]) == (1, 5, 4)
    assert_each_created_once(sim, rows)
    recovered = [r for r in responses(each_db, "leads") if r["outcome"] == "recovered"]
    assert [r["row_key"] for r in recovered] == ["4"]
    assert state(each_db, "leads")["4"]["aircall_id"] == recovered[0]["aircall_id"]


def test_crash_after_the_intent_but_before_the_request_left(sim, each_db, monkeypatch):
    rows = leads(6)
    write_source(each_db, "crm.leads", rows)
    settings = settings_with(CREATE)
    real_transmit = send.transmit
    calls = {"n": 0}

    def die_before_third_request(client, request):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed before sending")
        return real_transmit(client, request)

    monkeypatch.setattr(send, "transmit", die_before_third_request)
    assert not run_sync(settings, sim, each_db, "leads").success
    monkeypatch.setattr(send, "transmit", real_transmit)
    assert state(each_db, "leads")["2"]["status"] == "sending"

    second = run_sync(settings, sim, each_db, "leads")
    assert second.success
    meta = output_metadata(second)
    assert (meta["sent"], meta["recovered"], meta["unchanged"]) == (4, 0, 2)
    assert_each_created_once(sim, rows)


CHILD = """
import os, sys, time
from aircall_assets.reverse_sync.state import SyncStore
from aircall_assets_tests.reverse_sync.helpers import run_sync, settings_with

real_write = SyncStore.write

def slow_outcomes(self, states=(), responses=()):
    # A slow disk: the answer is in, its record not yet (the window a kill must not break).
    if any(r.outcome == "sent" for r in responses):
        time.sleep(0.1)
    return real_write(self, states, responses)

SyncStore.write = slow_outcomes

class Sim:
    base_url = os.environ["SIM_URL"]
    class config:
        api_id = "demo"
        api_token = "demo"

settings = settings_with({"name": "leads", "source": "crm.leads", "template": "create_contacts"})
result = run_sync(settings, Sim, os.environ["DB"], "leads")
sys.exit(0 if result.success else 1)
"""


def test_sigkill_half_way_then_rerun_creates_no_duplicates(sim, each_db, capsys):
    rows = leads(30)
    write_source(each_db, "crm.leads", rows)
    before = len(sim.store.all("contacts"))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "SIM_URL": sim.base_url, "DB": str(each_db)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(sim.store.all("contacts")) - before < 12:
            assert child.poll() is None, "the child finished before it could be killed"
            assert time.monotonic() < deadline, "the child never sent 12 rows"
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)  # the 12th create is applied, not yet recorded
        child.wait(10)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
    created_at_kill = len(sim.store.all("contacts")) - before
    assert 12 <= created_at_kill < 30
    at_kill = Counter(s["status"] for s in state(each_db, "leads").values())

    result = run_sync(settings_with(CREATE), sim, each_db, "leads")
    assert result.success, failure_text(result)
    meta = output_metadata(result)
    assert meta["sent"] + meta["recovered"] + meta["unchanged"] == 30
    assert at_kill["sending"] == 1 and meta["recovered"] == 1  # looked up, not sent again
    dup = duplicates(sim, rows)
    assert_each_created_once(sim, rows)
    assert len(sim.store.all("contacts")) - before == 30
    with capsys.disabled():
        print(
            f"\n[reverse sync] SIGKILL after {created_at_kill} creates (state {dict(at_kill)}); "
            f"rerun: sent={meta['sent']} "
            f"recovered={meta['recovered']} unchanged={meta['unchanged']}; duplicates={dup}"
        )


def test_lost_answers_after_the_write_are_looked_up_not_duplicated(simulator_factory, db):
    sim = simulator_factory(
        seed=11, days=1, calls_per_day=2, contacts=5, fault_rate=0.35, fault_kinds=("drop",)
    )
    rows = leads(30)
    write_source(db, "crm.leads", rows)
    result = run_sync(settings_with(CREATE), sim, db, "leads")
    assert result.success, failure_text(result)
    assert sim.stats.faults["drop"] > 0
    recorded = responses(db, "leads")
    lost = [r for r in recorded if r["outcome"] == "lost"]
    recovered = [r for r in recorded if r["outcome"] == "recovered"]
    assert lost and recovered, "the seed should drop some creates after applying them"
    assert all(r["status"] is None and "may have been applied" in r["error"] for r in lost)
    assert_each_created_once(sim, rows)
    meta = output_metadata(result)
    assert meta["sent"] + meta["recovered"] == 30


def test_lost_user_creates_are_looked_up_by_email(simulator_factory, db):
    sim = simulator_factory(
        seed=5, days=1, calls_per_day=2, contacts=5, users=4, fault_rate=0.35, fault_kinds=("drop",)
    )
    rows = [
        {"email": f"u{i}@lost.example", "first_name": "U", "last_name": str(i)} for i in range(20)
    ]
    write_source(db, "hr.users", rows)
    settings = settings_with({"name": "users", "source": "hr.users", "template": "create_users"})
    result = run_sync(settings, sim, db, "users")
    assert result.success, failure_text(result)
    emails = [u["email"] for u in sim.store.all("users") if u["email"].endswith("@lost.example")]
    assert sorted(emails) == sorted(r["email"] for r in rows)
    assert any(r["outcome"] == "recovered" for r in responses(db, "users"))


def test_a_lost_post_that_cannot_be_looked_up_is_uncertain_until_the_user_says_resend(db):
    recorder = Recorder(drop_next=1).start()
    try:
        write_source(db, "crm.events", [{"id": 1, "kind": "signup"}, {"id": 2, "kind": "churn"}])
        settings = settings_with(
            {"name": "events", "source": "crm.events", "method": "POST", "path": "/v1/events"}
        )
        fake = FakeSim(recorder)
        first = run_sync(settings, fake, db, "events")
        assert not first.success
        assert "1 row(s) without a definitive answer" in failure_text(first)
        assert output_metadata(first)["uncertain"] == 1 and output_metadata(first)["sent"] == 1
        assert state(db, "events")["1"]["status"] == "uncertain"
        assert len(recorder.received) == 2

        second = run_sync(settings, fake, db, "events")
        assert not second.success and len(recorder.received) == 2  # not re-sent on its own
        assert "resend_uncertain" in responses(db, "events")[-1]["error"]

        third = run_sync(settings, fake, db, "events", resend_uncertain=True)
        assert third.success and len(recorder.received) == 3
        assert output_metadata(third)["sent"] == 1
    finally:
        recorder.stop()


def test_aircall_down_stops_after_three_requests_and_the_next_run_sends_the_rest(sim, db):
    rows = leads(8)
    write_source(db, "crm.leads", rows)
    settings = settings_with(CREATE)
    recorder = Recorder().start()
    down = FakeSim(recorder)
    recorder.stop()  # nothing listens on its port any more: connection refused
    first = run_sync(
        settings, down, db, "leads", resource_overrides={"max_attempts": 2, "backoff_seconds": 0.01}
    )
    assert not first.success
    meta = output_metadata(first)
    assert (meta["failed"], meta["not_attempted"], meta["sent"]) == (3, 5, 0)
    text = failure_text(first)
    assert "8 row(s) without a definitive answer" in text and "stopped early" in text
    assert {s["status"] for s in state(db, "leads").values()} == {"failed"}

    second = run_sync(settings, sim, db, "leads")
    assert second.success, failure_text(second)
    assert output_metadata(second)["sent"] == 8
    assert_each_created_once(sim, rows)


def test_rejected_credentials_stop_the_run_at_once(sim, db):
    write_source(db, "crm.leads", leads(5))
    result = run_sync(
        settings_with(CREATE), sim, db, "leads", resource_overrides={"api_token": "wrong"}
    )
    assert not result.success
    meta = output_metadata(result)
    assert (meta["failed"], meta["not_attempted"]) == (1, 4)
    assert "rejected the credentials (403" in failure_text(result)
    assert sim.stats.statuses[403] == 1


def test_a_row_changed_after_a_crash_is_found_then_updated_not_created_again(sim, db, monkeypatch):
    rows = leads(3)
    write_source(db, "crm.leads", rows)
    settings = settings_with(CREATE)
    real_write = SyncStore.write

    def crash_on_first_outcome(self, states=(), responses=()):
        if any(r.outcome == "sent" for r in responses):
            raise RuntimeError("process killed")
        return real_write(self, states, responses)

    monkeypatch.setattr(SyncStore, "write", crash_on_first_outcome)
    assert not run_sync(settings, sim, db, "leads").success
    monkeypatch.setattr(SyncStore, "write", real_write)
    changed = [dict(r) for r in rows]
    changed[0]["company_name"] = "Changed while down"
    write_source(db, "crm.leads", changed)

    result = run_sync(settings, sim, db, "leads")
    assert result.success, failure_text(result)
    meta = output_metadata(result)
    assert (meta["sent"], meta["recovered"]) == (3, 0)
    assert_each_created_once(sim, rows)
    contact_id = state(db, "leads")["0"]["aircall_id"]
    contact = next(c for c in sim.store.all("contacts") if str(c["id"]) == contact_id)
    assert contact["company_name"] == "Changed while down"
    outcomes = [(r["outcome"], r["path"]) for r in responses(db, "leads") if r["row_key"] == "0"]
    assert outcomes == [
        ("recovered", "/v1/contacts"),
        ("sent", f"/v1/contacts/{contact_id}"),
    ]
