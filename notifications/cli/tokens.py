"""`notifications token`: a signed bearer token the local server accepts (TENANT_KEYS)."""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    tok = subparsers.add_parser("token", help="print a signed bearer token the local server accepts")
    tok.add_argument("--tenant", required=True)
    who = tok.add_mutually_exclusive_group()
    who.add_argument("--user", help="act as this user (sub)")
    who.add_argument("--server", action="store_true", help="the tenant's own backend (the default without --user)")
    tok.add_argument("--role", action="append", default=[], help="repeatable")
    tok.add_argument("--app", default=None, help="application name (Spark's SenderApplication)")
    tok.add_argument("--ttl", type=int, default=86400, help="seconds until it expires")
    tok.set_defaults(handler=print_token)


def print_token(args: argparse.Namespace) -> int:
    from chalicelib.auth.tokens import issue

    try:
        print(issue(args.tenant, user=None if args.server else args.user, roles=args.role, ttl_seconds=args.ttl,
                    application=args.app))
    except ValueError as exc:
        print(f"notifications token: {exc}", file=sys.stderr)
        return 2
    return 0
