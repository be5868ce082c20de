"""The `notifications` command: `dev` runs the local service, `token` prints a bearer token,
`redrive` moves dead-lettered work back to the work queue."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notifications", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="start the service locally (embedded DynamoDB, stream fan-out, API)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=None, help="default: $PORT or 8000")
    dev.add_argument("--stage", default="dev")

    tok = sub.add_parser("token", help="print a signed bearer token the local server accepts")
    tok.add_argument("--tenant", required=True)
    who = tok.add_mutually_exclusive_group()
    who.add_argument("--user", help="act as this user (sub)")
    who.add_argument("--server", action="store_true", help="the tenant's own backend (the default without --user)")
    tok.add_argument("--role", action="append", default=[], help="repeatable")
    tok.add_argument("--app", default=None, help="application name (Spark's SenderApplication)")
    tok.add_argument("--ttl", type=int, default=86400, help="seconds until it expires")

    sub.add_parser("redrive", help="move the work queue's dead-lettered messages back to it (SQS_ENDPOINT, "
                                   "TABLE_PREFIX name the queue; on AWS use `aws sqs start-message-move-task`)")

    args = parser.parse_args(argv)
    if args.command == "redrive":
        from chalicelib.store.work_queue import redrive

        print(f"moved {redrive()} messages back to the work queue")
        return 0
    if args.command == "dev":
        from chalicelib.local.runtime import StartupError, run
        from chalicelib.settings import SettingsError

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
    from chalicelib.auth.tokens import issue

    try:
        print(issue(args.tenant, user=None if args.server else args.user, roles=args.role, ttl_seconds=args.ttl,
                    application=args.app))
    except ValueError as exc:
        print(f"notifications token: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
