"""`notifications inbox USER`: a user's unread count and newest notifications, through the API."""
from __future__ import annotations

import argparse
import json

from notifications.cli.connection import EPILOG, client_from, connection_options, reports_errors


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inbox", parents=[connection_options()], help="a user's unread count and notifications",
        description="A user's unread count, then a page of their notifications, newest first (GET "
                    "/v1/users/USER/notifications). USER is any user id with a server token, or `me` with a "
                    "user token. The last line gives the --cursor of the next page.",
        epilog=EPILOG)
    p.add_argument("user", metavar="USER")
    p.add_argument("--count", action="store_true", help="print only the unread count")
    p.add_argument("--status", choices=["unread", "read", "all"], default=None, help="default: all")
    p.add_argument("--type", help="only this notification type")
    p.add_argument("--limit", type=int, default=20, help="notifications per page, 1..100 (default 20)")
    p.add_argument("--cursor", help="the page after the one that printed this cursor")
    p.add_argument("--all-pages", action="store_true", help="every page, not only the first")
    p.add_argument("--json", action="store_true", help="JSON lines: the count, then one notification per line")
    p.set_defaults(handler=run_inbox)


def _line(n) -> str:
    text = (n.message or n.template or "").replace("\n", " ")
    if len(text) > 60:
        text = text[:59] + "…"
    return f"{'  ' if n.read else '* '}{n.id}  {n.created_at}  {n.priority:<6}  {n.type}: {text}"


@reports_errors("notifications inbox")
def run_inbox(args: argparse.Namespace) -> int:
    api = client_from(args)
    count = api.unread_count(args.user)
    if args.json:
        print(json.dumps({"user": args.user, "unreadCount": count}))
    else:
        print(f"{args.user}: {count} unread")
    if args.count:
        return 0
    cursor = args.cursor
    while True:
        page = api.list_inbox(args.user, limit=args.limit, cursor=cursor, status=args.status, type=args.type)
        for n in page.notifications:
            print(json.dumps(n.raw) if args.json else _line(n))
        cursor = page.cursor
        if not cursor or not args.all_pages:
            break
    if cursor and not args.json:
        print(f"more: --cursor {cursor}")
    return 0
