"""`notifications broadcast watch ID` / `broadcast show ID`: a broadcast's (or mark-all-read job's) progress."""
from __future__ import annotations

import argparse
import json
import sys
import time

from notifications.cli.connection import EPILOG, client_from, connection_options, reports_errors
from notifications.cli.progress import Progress, bar
from notifications.client import Broadcast, NotificationsClient


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("broadcast", help="follow a broadcast's progress",
                              description="A broadcast's progress (GET /v1/broadcasts/ID): the id a send to an "
                                          "organization or community answered with, or a mark-all-read job id.")
    sub = p.add_subparsers(dest="action", required=True)
    watch_p = sub.add_parser(
        "watch", parents=[connection_options()], help="a live progress bar until complete or failed",
        description="Poll the broadcast and show a progress bar until it is complete (exit 0) or failed (exit 1). "
                    "On a terminal the bar is redrawn in place; otherwise (a pipe, a CI log) a line is printed when "
                    "the progress changes, at most every few seconds, and the final state always.",
        epilog=EPILOG)
    watch_p.add_argument("id", metavar="ID")
    watch_p.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    watch_p.add_argument("--timeout", dest="watch_timeout", type=float, default=None,
                         help="give up (exit 1) after this many seconds (default: never)")
    watch_p.set_defaults(handler=run_watch)
    show = sub.add_parser("show", parents=[connection_options()], help="the broadcast's state once, as JSON",
                          epilog=EPILOG)
    show.add_argument("id", metavar="ID")
    show.set_defaults(handler=run_show)


def describe(b: Broadcast) -> str:
    """One line: bar, percentage, recipients and chunks, status."""
    fraction = b.fraction
    pct = "  ?%" if fraction is None else f"{fraction * 100:3.0f}%"
    parts = [f"{bar(fraction)} {pct}", f"{b.delivered} delivered", f"{b.skipped} skipped"]
    if b.eligible:
        parts[1] = f"{b.delivered}/{b.eligible} delivered"
    if b.chunks is not None:
        total = "?" if b.chunks.total is None else str(b.chunks.total)
        parts.append(f"chunks {b.chunks.done}/{total}" + (f" ({b.chunks.failed} failed)" if b.chunks.failed else ""))
    parts.append(b.status + (f": {b.error}" if b.error else ""))
    return "  ".join(parts)


def watch(api: NotificationsClient, broadcast_id: str, interval: float, timeout: float | None,
          progress: Progress | None = None) -> int:
    progress = progress or Progress(sys.stdout)
    started = time.monotonic()
    try:
        final = api.wait_broadcast(broadcast_id, interval=interval, timeout=timeout,
                                   on_progress=lambda b: None if b.finished else progress.update(describe(b)))
    except TimeoutError:
        progress.done(f"broadcast {broadcast_id}: still running after {timeout:g}s")
        raise
    progress.done(describe(final) + f"  ({time.monotonic() - started:.1f}s)")
    return 0 if final.status == "complete" else 1


@reports_errors("notifications broadcast watch")
def run_watch(args: argparse.Namespace) -> int:
    return watch(client_from(args), args.id, args.interval, args.watch_timeout)


@reports_errors("notifications broadcast show")
def run_show(args: argparse.Namespace) -> int:
    b = client_from(args).get_broadcast(args.id)
    print(json.dumps({"id": b.id, "status": b.status, "audience": b.audience, "eligible": b.eligible,
                      "delivered": b.delivered, "skipped": b.skipped, "createdAt": b.created_at,
                      "completedAt": b.completed_at, "error": b.error,
                      "chunks": None if b.chunks is None else vars(b.chunks)}))
    return 0
