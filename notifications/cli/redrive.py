"""`notifications redrive`: the work queue's dead-lettered messages back to it (local SQS)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    redrive = subparsers.add_parser(
        "redrive", help="move the work queue's dead-lettered messages back to it (SQS_ENDPOINT, TABLE_PREFIX name "
                        "the queue; on AWS use `aws sqs start-message-move-task`)")
    redrive.set_defaults(handler=run_redrive)


def run_redrive(args: argparse.Namespace) -> int:
    from chalicelib.store.work_queue import redrive

    print(f"moved {redrive()} messages back to the work queue")
    return 0
