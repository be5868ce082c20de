"""`notifications dev`: the whole service on this machine (notifications.local.runtime)."""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    dev = subparsers.add_parser("dev", help="start the service locally (embedded DynamoDB, stream fan-out, API)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=None, help="default: $PORT or 8000")
    dev.add_argument("--stage", default="dev")
    dev.set_defaults(handler=run_dev)


def run_dev(args: argparse.Namespace) -> int:
    from chalicelib.settings import SettingsError
    from notifications.local.runtime import StartupError, run

    try:
        return run(host=args.host, port=args.port, stage=args.stage)
    except SettingsError as exc:  # one line naming the variable, no traceback
        print(f"notifications dev: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"notifications dev: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while starting
        return 130
