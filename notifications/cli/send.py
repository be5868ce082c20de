"""`notifications send`: one notification to users, an organization or a community, through the API."""
from __future__ import annotations

import argparse
import json
import sys
import uuid

from notifications.cli.connection import EPILOG, UsageError, client_from, connection_options, reports_errors


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "send", parents=[connection_options()], help="send a notification (users: delivered now; an organization "
                                                     "or community: a broadcast)",
        description="Send a notification through the native API (POST /v1/notifications, a server token). "
                    "Every send carries an Idempotency-Key (printed on stderr): re-run with --idempotency-key KEY "
                    "after a failure to be sure nothing is sent twice.",
        epilog=EPILOG)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--to", action="append", metavar="USER", help="a recipient (repeat for several, up to 1,000)")
    who.add_argument("--organization", metavar="ORG", help="every member who is not an API user (a broadcast)")
    who.add_argument("--community", metavar="COMMUNITY", help="every member neither banned nor an API user")
    p.add_argument("--type", required=True, help="notification type, e.g. Welcome (registered on first use)")
    p.add_argument("--message", help="Markdown body")
    p.add_argument("--priority", choices=["low", "medium", "high"], type=str.lower)
    p.add_argument("--template", help="header template with {{actor}} / {{recipient}}")
    p.add_argument("--actor", help="the user who acted")
    p.add_argument("--link", dest="link", metavar="URL", help="where the notification leads (the API's `url`)")
    p.add_argument("--group-key", help="aggregate into the unread notification with this key")
    p.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
    p.add_argument("--idempotency-key", help="default: a new random key")
    p.add_argument("--watch", action="store_true", help="for a broadcast: follow its progress until done "
                                                        "(as `notifications broadcast watch`)")
    p.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    p.set_defaults(handler=run_send)


def _metadata(pairs: list[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata must be KEY=VALUE, not {pair!r}")
        out[key] = value
    return out or None


@reports_errors("notifications send")
def run_send(args: argparse.Namespace) -> int:
    api = client_from(args)
    metadata = _metadata(args.metadata)
    # Said before sending: if the answer is lost (a timeout, a crash), a re-run with this key cannot send twice.
    key = args.idempotency_key or uuid.uuid4().hex
    print(f"idempotency key: {key}", file=sys.stderr)
    result = api.send(to=args.to, organization=args.organization, community=args.community, type=args.type,
                      message=args.message, priority=args.priority, template=args.template, actor=args.actor,
                      url=args.link, group_key=args.group_key, metadata=metadata,
                      idempotency_key=key)
    if result.replayed:
        print("replayed: the service had already accepted this key; nothing new was sent", file=sys.stderr)
    if args.json:
        print(json.dumps({"status": result.status, "broadcastId": result.broadcast_id,
                          "notifications": [{"id": n.id, "recipient": n.recipient, "aggregated": n.aggregated}
                                            for n in result.notifications],
                          "skipped": [{"recipient": s.recipient, "reason": s.reason} for s in result.skipped],
                          "idempotencyKey": result.idempotency_key, "replayed": result.replayed}))
    elif result.broadcast_id:
        print(f"broadcast {result.broadcast_id} queued")
    else:
        for n in result.notifications:
            print(f"delivered {n.id} to {n.recipient}" + (" (aggregated)" if n.aggregated else ""))
        for s in result.skipped:
            print(f"skipped {s.recipient}: {s.reason}")
    if args.watch and result.broadcast_id:
        from notifications.cli.broadcasts import watch

        return watch(api, result.broadcast_id, interval=1.0, timeout=None)
    return 0
