"""The `notifications` command. Each subcommand lives in a module of this package with a
`register(subparsers)` function that adds its parser and sets `handler` (args -> exit status);
`COMMAND_MODULES` lists them, in the order `--help` shows them."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# Modules of this package registering subcommands (explicit, no discovery).
COMMAND_MODULES: tuple[str, ...] = ("dev", "tokens", "redrive", "send", "inbox", "broadcasts", "users")

DESCRIPTION = ("The notifications service's command: `dev` runs the local service, `token` prints a bearer token, "
               "`redrive` moves dead-lettered work back to the work queue; `send`, `inbox`, `broadcast` and `users` "
               "operate a local or deployed API (notifications.client).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notifications", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
