"""``python -m aircall_assets demo|dev|status``: the commands behind ``make demo/dev/status``."""

import argparse
import sys

from aircall_assets.demo import SIMULATOR_PORT, WEBSERVER_PORT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aircall_assets")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="load the simulator's account into data/aircall.duckdb")
    dev = commands.add_parser("dev", help="simulator + dagster dev (webserver and daemon)")
    dev.add_argument("--port", type=int, default=SIMULATOR_PORT, help="simulator port")
    dev.add_argument(
        "--webserver-port",
        type=int,
        default=WEBSERVER_PORT,
        help="port of the Dagster UI (dagster dev -p)",
    )
    status = commands.add_parser(
        "status",
        help="per table: pending/active/paused, last load, rows, partitions; per destination: "
        "active, last run, sent/rejected/failed (reads DAGSTER_HOME and the warehouse)",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    from aircall_assets.settings import SettingsError

    try:
        return _run(args)
    except SettingsError as exc:
        # The message names the file (or variable) and what to change: a traceback would only
        # bury it.
        print(exc, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "status":
        from aircall_assets import status as status_module
        from aircall_assets.settings import load_settings

        return status_module.run([load_settings()], as_json=args.json)
    from aircall_assets import demo

    if args.command == "demo":
        return demo.demo()
    return demo.dev(args.port, args.webserver_port)


if __name__ == "__main__":
    sys.exit(main())
