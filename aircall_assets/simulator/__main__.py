"""`python -m aircall_assets.simulator`: serve a simulated Aircall account until SIGINT/SIGTERM.

Prints exactly one line once listening, `Aircall simulator listening on http://HOST:PORT`, so a
parent process (reliability tests, demos) can start it with `--port 0` and read the URL.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from datetime import date
from types import FrameType

from .config import FAULT_KINDS, SimulatorConfig
from .server import Simulator


def _big_day(text: str) -> tuple[date, int]:
    day, sep, count = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected YYYY-MM-DD:N")
    return date.fromisoformat(day), int(count)


def _fault_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown fault kinds {sorted(unknown)}")
    return kinds


def build_parser() -> argparse.ArgumentParser:
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m aircall_assets.simulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--start-date",
        type=date.fromisoformat,
        default=None,
        help="first day (default: 30 days before today, UTC)",
    )
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--calls-per-day", type=int, default=defaults.calls_per_day)
    parser.add_argument("--contacts", type=int, default=defaults.contacts)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--teams", type=int, default=defaults.teams)
    parser.add_argument("--numbers", type=int, default=defaults.numbers)
    parser.add_argument("--tags", type=int, default=defaults.tags)
    parser.add_argument(
        "--big-day",
        type=_big_day,
        action="append",
        default=[],
        metavar="YYYY-MM-DD:N",
        help="give that day N calls (repeatable)",
    )
    parser.add_argument("--bulk-contacts-day", type=date.fromisoformat, default=None)
    parser.add_argument("--bulk-contacts", type=int, default=defaults.bulk_contacts)
    parser.add_argument("--retention-days", type=int, default=defaults.retention_days)
    parser.add_argument("--rpm", type=int, default=None, help="requests per window (off if unset)")
    parser.add_argument(
        "--rate-window", type=float, default=defaults.rate_window_seconds, metavar="SECONDS"
    )
    parser.add_argument(
        "--reset-ms", action="store_true", help="send X-AircallApi-Reset in milliseconds"
    )
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--fault-kinds",
        type=_fault_kinds,
        default=FAULT_KINDS,
        help="comma-separated subset of " + ",".join(FAULT_KINDS),
    )
    parser.add_argument("--slow-seconds", type=float, default=defaults.slow_seconds)
    parser.add_argument("--fault-429-seconds", type=float, default=defaults.fault_429_seconds)
    parser.add_argument("--webhooks", type=int, default=defaults.webhooks)
    parser.add_argument(
        "--no-intelligence",
        action="store_true",
        help="the company has no AI package: conversation intelligence answers 403",
    )
    parser.add_argument(
        "--intelligence-delay",
        type=int,
        default=defaults.intelligence_delay_seconds,
        metavar="SECONDS",
        help="how long after a call ends its transcription, sentiments, topics, summary appear",
    )
    parser.add_argument(
        "--audio-link-ttl",
        type=int,
        default=defaults.audio_link_ttl_seconds,
        metavar="SECONDS",
        help="how long signed recording/voicemail links stay valid",
    )
    parser.add_argument("--api-id", default=os.environ.get("AIRCALL_API_ID", "demo"))
    parser.add_argument("--api-token", default=os.environ.get("AIRCALL_API_TOKEN", "demo"))
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        seed=args.seed,
        start_date=args.start_date,
        days=args.days,
        calls_per_day=args.calls_per_day,
        contacts=args.contacts,
        users=args.users,
        teams=args.teams,
        numbers=args.numbers,
        tags=args.tags,
        big_days=dict(args.big_day),
        bulk_contacts_day=args.bulk_contacts_day,
        bulk_contacts=args.bulk_contacts,
        retention_days=args.retention_days,
        rpm=args.rpm,
        rate_window_seconds=args.rate_window,
        reset_in_ms=args.reset_ms,
        fault_rate=args.fault_rate,
        fault_kinds=args.fault_kinds,
        slow_seconds=args.slow_seconds,
        fault_429_seconds=args.fault_429_seconds,
        webhooks=args.webhooks,
        intelligence=not args.no_intelligence,
        intelligence_delay_seconds=args.intelligence_delay,
        audio_link_ttl_seconds=args.audio_link_ttl,
        api_id=args.api_id,
        api_token=args.api_token,
        host=args.host,
        port=args.port,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with Simulator(config) as simulator:
        print(f"Aircall simulator listening on {simulator.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
