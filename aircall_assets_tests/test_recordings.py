"""aircall/call_recording against the simulator's signed audio links: every file equal to the
simulator's, the table row by row (on DuckDB and PostgreSQL), reruns that download nothing,
expired links refreshed through the API, failures as rows, the failure share, an fsspec
archive, no credentials sent to the storage host, and when the asset exists and runs."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import fsspec
import pytest

from aircall_assets.assets import build_extract_asset
from aircall_assets.catalog import CALL_RECORDING, CALLS
from aircall_assets.definitions import build_account_definitions
from aircall_assets.recordings.archive import Archive, ArchiveError, check_archive_url
from aircall_assets.recordings.asset import build_recording_asset
from aircall_assets.recordings.fetch import AudioFetcher
from aircall_assets.schedules import AUTOMATION_SENSOR
from aircall_assets.settings import parse_settings
from aircall_assets.simulator import Simulator, SimulatorConfig
from aircall_assets.simulator.config import utc_today
from aircall_assets.warehouse import range_run_figures
from aircall_assets_tests.helpers import query, resource_for
from aircall_assets_tests.warehouses import io_manager_for

START = utc_today() - timedelta(days=4)
HISTORY = START - timedelta(days=1)  # no partition under test is the first (older calls)
KINDS = ("recording", "voicemail")
RECORDING = dg.AssetKey(["aircall", "call_recording"])


class Clock:
    """The simulated account's now, moved by the tests (link expiry)."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def account() -> Iterator[Callable[..., Simulator]]:
    """`account(**config)` → a started simulator of 4 days, 30 calls a day, on a `Clock`."""
    started: list[Simulator] = []

    def factory(clock: Clock | None = None, **config: Any) -> Simulator:
        config = {"seed": 5, "start_date": START, "days": 4, "calls_per_day": 30, **config}
        sim = Simulator(SimulatorConfig(contacts=10, port=0, **config), clock=clock or Clock())
        started.append(sim.start())
        return sim

    yield factory
    for sim in started:
        sim.stop()


def ts(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), timezone.utc).timestamp())


def linked(sim: Simulator, day: date) -> list[tuple[dict, str]]:
    """(call, kind) of every audio the day's calls link, from the simulator's ground truth."""
    calls = sim.store.calls_between(ts(day), ts(day + timedelta(days=1)))
    return [(c, k) for c in calls for k in KINDS if c[k]]


def recorded_day(sim: Simulator) -> date:
    """The first simulated day with audio (on some days the simulated company is closed)."""
    for offset in range(sim.config.days):
        day = START + timedelta(days=offset)
        if len(linked(sim, day)) >= 5:
            return day
    raise AssertionError("no simulated day links audio")


def settings_for(**recordings: Any):
    return parse_settings(
        {"history_start": HISTORY.isoformat(), "recordings": {"enabled": True, **recordings}}
    )


def run(sim, db, url, day, *, last=None, with_calls=True, settings=None):
    """Calls (unless ``with_calls=False``) then call_recording for ``day``, or as one range
    run from ``day`` to ``last``."""
    settings = settings or settings_for()
    assets = [build_recording_asset(settings, url, AudioFetcher(backoff_seconds=0))]
    if with_calls:
        assets.insert(0, build_extract_asset(CALLS, settings))
    tags = {}
    if last is not None:
        tags = {
            "dagster/asset_partition_range_start": day.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
    return dg.materialize(
        assets,
        selection=None if with_calls else [RECORDING],
        resources={"aircall": resource_for(sim), "warehouse_io_manager": io_manager_for(db)},
        partition_key=None if last is not None else day.isoformat(),
        tags=tags,
        raise_on_error=False,
    )


def stored(db) -> list[dict[str, Any]]:
    names = CALL_RECORDING.field_names
    quoted = ", ".join(f'"{n}"' for n in names)
    rows = query(db, f"SELECT {quoted} FROM aircall.call_recording ORDER BY call_id, kind")
    return [dict(zip(names, row, strict=True)) for row in rows]


def expected(sim, day, archive_root: str, errors: dict[int, str] | None = None) -> list[dict]:
    """The rows the day must have: archived files as the simulator serves them, or the error
    (matched by its start) of the calls in ``errors``."""
    rows = []
    for call, kind in linked(sim, day):
        started = datetime.fromtimestamp(call["started_at"], timezone.utc)
        row = {"call_id": call["id"], "kind": kind, "call_started_at": started}
        if errors and call["id"] in errors:
            row.update(uri=None, bytes=None, sha256=None, error=errors[call["id"]])
        else:
            audio = sim.store.audio(call["id"], kind)
            row.update(
                uri=f"{archive_root}/aircall/{started:%Y/%m/%d}/{call['id']}/{kind}.mp3",
                bytes=len(audio),
                sha256=hashlib.sha256(audio).hexdigest(),
                error=None,
            )
        rows.append(row)
    return sorted(rows, key=lambda r: (r["call_id"], r["kind"]))


def assert_rows(actual: list[dict], wanted: list[dict]) -> None:
    assert [(r["call_id"], r["kind"]) for r in actual] == [
        (r["call_id"], r["kind"]) for r in wanted
    ]
    for row, want in zip(actual, wanted, strict=True):
        error = row.pop("error")
        archived_at = row.pop("archived_at")
        wanted_error = want.pop("error")
        assert row == want, f"call {row['call_id']} {row['kind']}"
        if wanted_error is None:
            assert error is None and archived_at is not None
        else:
            assert error.startswith(wanted_error), error
            assert archived_at is None


def audio_downloads(sim: Simulator) -> int:
    return sum(sim.stats.audio.values())


def figures(result) -> dict[str, Any]:
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key == RECORDING)
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_day_is_archived_file_for_file_and_a_rerun_downloads_nothing(
    account, warehouse, tmp_path
):
    sim = account()
    day = recorded_day(sim)
    root = (tmp_path / "archive").as_posix()
    result = run(sim, warehouse.address, root, day)
    assert result.success
    wanted = expected(sim, day, f"file://{root}")
    rows = stored(warehouse.address)
    assert_rows([dict(r) for r in rows], [dict(w) for w in wanted])
    for row in rows:
        with fsspec.open(row["uri"], "rb") as stored_file:
            assert stored_file.read() == sim.store.audio(row["call_id"], row["kind"])
    first = figures(result)
    assert first["files_archived"] == len(wanted) == audio_downloads(sim)
    assert first["bytes_downloaded"] == sum(w["bytes"] for w in wanted)
    assert (first["files_failed"], first["links_refreshed"]) == (0, 0)
    per_day = [e for e in result.get_asset_materialization_events() if e.asset_key == RECORDING]
    assert per_day[0].materialization.metadata["dagster/row_count"].value == len(wanted)

    again = run(sim, warehouse.address, root, day, with_calls=False)
    assert again.success
    assert audio_downloads(sim) == len(wanted), "a file already archived was fetched again"
    assert figures(again)["files_skipped_already_archived"] == len(wanted)
    assert stored(warehouse.address) == rows  # archived_at included: the rows were kept

    token = sim.config.api_token
    cells = query(warehouse.address, "SELECT * FROM aircall.call_recording")
    assert not any(token in str(cell) for row in cells for cell in row)
    for outcome in (result, again):
        assert not any(token in str(event) for event in outcome.all_events)


def test_expired_links_are_refreshed_through_the_api_or_are_error_rows(account, tmp_path):
    clock = Clock()
    sim = account(clock=clock, audio_link_ttl_seconds=60)
    day = recorded_day(sim)
    db, root = tmp_path / "w.duckdb", (tmp_path / "archive").as_posix()
    assert run(sim, db, root, day).success
    # A second run a while after the calls' load: every stored link has expired.
    Path(root).rename(tmp_path / "elsewhere")
    clock.now += 600
    audio = linked(sim, day)
    (gone, kind), *rest = audio
    error = "HTTP 403 AccessDenied: Request has expired; the call no longer has"
    wanted = expected(sim, day, f"file://{root}", errors={gone["id"]: error})
    sim.store.update_call(gone["id"], **{kind: None})  # removed in Aircall: nothing to refresh
    sim.stats.reset()
    result = run(sim, db, root, day, with_calls=False, settings=settings_for(max_failure_share=1.0))
    assert result.success
    assert_rows(stored(db), wanted)
    refreshed = [path for _, _, path, _ in sim.stats.request_log if path.startswith("/v1/calls/")]
    assert sorted(refreshed) == sorted(f"/v1/calls/{call['id']}" for call, _ in audio)
    assert figures(result)["links_refreshed"] == len(audio)
    assert figures(result)["files_archived"] == len(rest)


def test_failing_and_cut_audio_are_error_rows_and_too_many_fail_the_run(account, tmp_path):
    probe = account()
    day = recorded_day(probe)
    (failing, _), (cut, _), *_ = linked(probe, day)
    sim = account(audio_fail_call_ids={failing["id"]}, audio_truncate_call_ids={cut["id"]})
    db, root = tmp_path / "w.duckdb", (tmp_path / "archive").as_posix()
    errors = {
        failing["id"]: "HTTP 500 InternalError: We encountered an internal error.",
        cut["id"]: "transfer cut after",
    }
    lenient = run(sim, db, root, day, settings=settings_for(max_failure_share=0.5))
    assert lenient.success
    assert_rows(stored(db), expected(sim, day, f"file://{root}", errors))
    assert figures(lenient)["files_failed"] == 2
    archived = sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file())
    assert archived == sorted(
        urlsplit(r["uri"]).path[len(root) + 1 :] for r in stored(db) if r["uri"]
    ), "a failed download left a file (partial or temporary) in the archive"

    downloads = audio_downloads(sim)
    strict = run(sim, db, root, day, with_calls=False, settings=settings_for(max_failure_share=0))
    assert not strict.success
    failure = next(e for e in strict.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "2 of" in message and "recordings.max_failure_share 0.0%" in message
    assert_rows(stored(db), expected(sim, day, f"file://{root}", errors))  # written first
    # only the two failed ones were tried again, each three times
    assert audio_downloads(sim) - downloads == 2 * 3


def test_an_fsspec_url_archives_there_and_a_range_is_one_run(account, tmp_path):
    sim = account()
    first, last = START, START + timedelta(days=sim.config.days - 1)
    url = f"memory://aircall-recordings-{tmp_path.name}"
    db = tmp_path / "w.duckdb"
    result = run(sim, db, url, first, last=last)
    assert result.success
    rows = stored(db)
    days = [first + timedelta(days=n) for n in range(sim.config.days)]
    wanted = [r for day in days for r in expected(sim, day, f"memory:///{url[9:]}")]
    assert_rows([dict(r) for r in rows], sorted(wanted, key=lambda r: (r["call_id"], r["kind"])))
    for row in rows:
        with fsspec.open(row["uri"], "rb") as stored_file:
            assert stored_file.read() == sim.store.audio(row["call_id"], row["kind"])
    # a range's figures are one observation of the run, each day's row count its own
    assert range_run_figures(result, RECORDING)["files_archived"] == len(rows)
    counts = {
        e.partition: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == RECORDING
    }
    assert counts == {day.isoformat(): len(linked(sim, day)) for day in days}
    downloads = audio_downloads(sim)
    assert run(sim, db, url, first, last=last, with_calls=False).success
    assert audio_downloads(sim) == downloads


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Serves `body` at /file.mp3 and redirects /redirect there; records request headers."""

    seen: list[dict[str, str]]
    body = b"ID3" + bytes(range(256)) * 40
    target = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.append(dict(self.headers))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(seen: list) -> http.server.ThreadingHTTPServer:
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_no_authorization_reaches_the_storage_host(tmp_path, monkeypatch):
    """Not even from ~/.netrc, nor after a redirect to another host (where requests looks
    ~/.netrc up again)."""
    seen_storage: list[dict[str, str]] = []
    seen_redirect: list[dict[str, str]] = []
    storage, redirect = _serve(seen_storage), _serve(seen_redirect)
    try:
        redirect.RequestHandlerClass.target = f"http://localhost:{storage.server_port}/file.mp3"
        home = tmp_path / "home"
        home.mkdir()
        netrc = home / ".netrc"
        netrc.write_text(
            "machine 127.0.0.1 login api-id password api-token\n"
            "machine localhost login api-id password api-token\n"
        )
        netrc.chmod(0o600)
        monkeypatch.setenv("HOME", str(home))
        archive = Archive(str(tmp_path / "archive"))
        uri = archive.uri("aircall", datetime(2026, 1, 2, tzinfo=timezone.utc), 7, "recording")
        stored_file = AudioFetcher().archive(
            f"http://127.0.0.1:{redirect.server_port}/redirect?signature=x", archive, uri
        )
    finally:
        storage.shutdown()
        redirect.shutdown()
    assert stored_file.bytes == len(_Recorder.body)
    assert seen_redirect and seen_storage
    for headers in seen_redirect + seen_storage:
        assert not {name.lower() for name in headers} & {"authorization", "proxy-authorization"}


def test_an_archive_url_fsspec_cannot_open_is_refused_saying_what_to_do():
    with pytest.raises(ArchiveError, match="fsspec knows no protocol 'nosuch'"):
        check_archive_url("nosuch://bucket/prefix")
    try:
        import s3fs  # noqa: F401
    except ImportError:
        with pytest.raises(ArchiveError, match="needs the fsspec package s3fs.*pip install s3fs"):
            check_archive_url("s3://user:secret@bucket/prefix")
        with pytest.raises(ArchiveError) as refused:
            check_archive_url("s3://user:secret@bucket/prefix")
        assert "secret" not in str(refused.value)


def test_the_archive_is_aircall_archive_url_by_default_a_local_folder(monkeypatch):
    def archive_of(asset: dg.AssetsDefinition) -> str:
        return asset.specs_by_key[RECORDING].metadata["archive"]

    monkeypatch.delenv("AIRCALL_ARCHIVE_URL", raising=False)
    assert archive_of(build_recording_asset(settings_for())) == "data/recordings"
    monkeypatch.setenv("AIRCALL_ARCHIVE_URL", "memory://archive/prefix")
    assert archive_of(build_recording_asset(settings_for())) == "memory://archive/prefix"
    monkeypatch.setenv("AIRCALL_ARCHIVE_URL", "nosuch://archive")
    with pytest.raises(ArchiveError, match="AIRCALL_ARCHIVE_URL=nosuch://archive"):
        build_account_definitions(settings_for())


def test_off_by_default_and_when_on_archived_after_each_load_of_the_calls():
    off = build_account_definitions(parse_settings({"history_start": HISTORY.isoformat()}))
    assert RECORDING not in off.resolve_asset_graph().get_all_asset_keys()
    on = build_account_definitions(settings_for())
    graph = on.resolve_asset_graph()
    assert graph.get(RECORDING).parent_keys == {dg.AssetKey(["aircall", "calls"])}
    sensor = on.resolve_sensor_def(AUTOMATION_SENSOR)
    assert RECORDING in sensor.asset_selection.resolve(graph)

    calls = dg.AssetKey(["aircall", "calls"])
    only = dg.AssetSelection.assets(RECORDING)
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=on, instance=instance, asset_selection=only)
    assert first.total_requested == 0  # turning it on fetches no history through stale links
    day = (START + timedelta(days=1)).isoformat()
    instance.report_runless_asset_event(dg.AssetMaterialization(calls, partition=day))
    after = dg.evaluate_automation_conditions(
        defs=on, instance=instance, asset_selection=only, cursor=first.cursor
    )
    assert after.get_requested_partitions(RECORDING) == {day}
