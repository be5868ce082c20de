"""What the operator subcommands (send, inbox, broadcast, users) share: where the API is and which token
to use (`--url`/`--token`, or NOTIFICATIONS_URL/NOTIFICATIONS_TOKEN), and one line on stderr for a
refused request or an unreachable service instead of a traceback. Not a subcommand itself."""
from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Callable

from notifications.client import ApiError, NotificationsClient, NotificationsError, Transport

URL_ENV, TOKEN_ENV = "NOTIFICATIONS_URL", "NOTIFICATIONS_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8000"  # `make dev`'s default
EPILOG = (f"The API: --url, else ${URL_ENV}, else {DEFAULT_URL}. The token: --token, else ${TOKEN_ENV} "
          "(e.g. `export NOTIFICATIONS_TOKEN=$(notifications token --tenant dev --server)` for `make dev`; on AWS a "
          "token signed with your tenant's key). Exit status: 0 done, 1 refused or unreachable, 2 usage.")


class UsageError(Exception):
    """A mistake in the command line or its input file, found before any request."""


def connection_options() -> argparse.ArgumentParser:
    """A parent parser adding --url, --token and --request-timeout to a subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument("--url", default=None, help=f"the API's base URL (default: ${URL_ENV} or {DEFAULT_URL})")
    group.add_argument("--token", default=None, help=f"bearer token (default: ${TOKEN_ENV}; the environment keeps it "
                                                     "out of your shell history and `ps`)")
    group.add_argument("--request-timeout", type=float, default=30.0, help="seconds per request (default 30)")
    return parent


def make_transport() -> Transport | None:
    """The HTTP transport (None: urllib). Tests replace this to drive the in-process app."""
    return None


def token_from(args: argparse.Namespace) -> str:
    token = (args.token or os.environ.get(TOKEN_ENV) or "").strip()
    if not token:
        raise UsageError(f"no token: pass --token or set {TOKEN_ENV} "
                         "(e.g. `notifications token --tenant dev --server` for make dev)")
    return token


def client_from(args: argparse.Namespace) -> NotificationsClient:
    url = args.url or os.environ.get(URL_ENV) or DEFAULT_URL
    try:
        return NotificationsClient(url, token_from(args), transport=make_transport(), timeout=args.request_timeout)
    except ValueError as exc:
        raise UsageError(f"--url: {exc}") from None


def describe(exc: BaseException) -> str:
    """One line for an error (never the token: the client's messages do not hold it)."""
    if isinstance(exc, ApiError):
        hint = {401: " (check --token / NOTIFICATIONS_TOKEN: missing, expired or for another tenant)",
                403: " (a server token is needed: notifications token --tenant T --server)"}.get(exc.status, "")
        return f"refused: {exc}{hint}"
    if isinstance(exc, (NotificationsError, TimeoutError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def reports_errors(prog: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """A handler's refused request, unreachable service or usage mistake as one line on stderr and an
    exit status (1, or 2 for usage), Ctrl-C as 130: never a traceback."""
    def wrap(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(handler)
        def run(args: argparse.Namespace) -> int:
            try:
                return handler(args)
            except UsageError as exc:
                print(f"{prog}: {exc}", file=sys.stderr)
                return 2
            except (NotificationsError, TimeoutError) as exc:
                print(f"{prog}: {describe(exc)}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130
        return run
    return wrap
