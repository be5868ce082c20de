"""`notifications users import FILE.csv`: users and their memberships in bulk, resumable.

CSV columns (a header row; names case-insensitive; one row per user, or several for a user in several
organizations or communities, applied in the file's order):

| column | meaning |
| --- | --- |
| `user` | the user id (required) |
| `name`, `short_name`, `profile_picture_url` | the profile (PUT /v1/users/USER) |
| `is_api_user` | true/false (also 1/0, yes/no); API users get no organization or community broadcast |
| `metadata.KEY` | a profile metadata entry KEY (any number of such columns) |
| `organization` *or* `community` | a membership of that organization or community (at most one per row) |
| `role` | the member's role (required with `organization`/`community`), e.g. `Standard User`, `Subscriber` |
| `banned` | true/false, community members only |

A row puts the profile when any profile column (name, short_name, profile_picture_url, is_api_user,
metadata.*) is filled: the PUT replaces the whole profile, so give a user's profile on one row and leave
those columns empty on the user's other rows. The profile is put before the row's membership (a
membership records whether its user is an API user). The whole file is checked before the first call.

Every call that succeeded is recorded in a checkpoint file (default FILE.csv.checkpoint) by a digest of
what it sent, for this API URL and tenant: a re-run (after a crash, Ctrl-C, or with failed rows fixed)
makes only the calls not done yet. Users are imported by parallel workers (`--workers`), each user's
rows in order by one worker.
"""
from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from notifications.cli.connection import (EPILOG, UsageError, client_from, connection_options, describe,
                                          reports_errors, token_from)
from notifications.cli.progress import Progress, bar
from notifications.client import ApiError, NotificationsClient

PROFILE_COLUMNS = ("name", "short_name", "profile_picture_url", "is_api_user")
COLUMNS = ("user", *PROFILE_COLUMNS, "organization", "community", "role", "banned")
METADATA_PREFIX = "metadata."
TRUE, FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n", ""}
# Refusals that concern one row: that user's later rows wait for a fix, the other users go on.
ROW_STATUSES = {400, 404, 409, 413, 415}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("users", help="manage users in bulk",
                              description="Users and memberships in bulk (a server token).")
    sub = p.add_subparsers(dest="action", required=True)
    imp = sub.add_parser(
        "import", parents=[connection_options()], help="users and memberships from a CSV file, resumable",
        description=(__doc__ or "").split("\n", 1)[1], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("file", metavar="FILE.csv", type=Path)
    imp.add_argument("--workers", type=int, default=4, help="users imported in parallel, 1..32 (default 4)")
    imp.add_argument("--checkpoint", type=Path, default=None, help="default: FILE.csv.checkpoint")
    imp.add_argument("--restart", action="store_true", help="ignore (and replace) an existing checkpoint")
    imp.add_argument("--dry-run", action="store_true", help="check the file and print the calls it needs, send nothing")
    imp.set_defaults(handler=run_import)


# ---- the file -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One API call of the import: `line` of the file, `user`, and what it sends."""

    line: int
    user: str
    kind: str  # "user" or "organization" or "community"
    owner: str | None
    body: dict[str, Any]

    @property
    def digest(self) -> str:
        """Identifies the call by what it sends (not its line), so fixing or adding rows keeps the rest done."""
        raw = json.dumps([self.kind, self.owner, self.user, self.body], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def label(self) -> str:
        what = "profile" if self.kind == "user" else f"membership of {self.kind} {self.owner}"
        return f"line {self.line} ({self.user}, {what})"

    def run(self, api: NotificationsClient) -> None:
        b = self.body
        if self.kind == "user":
            api.put_user(self.user, name=b.get("name"), short_name=b.get("shortName"),
                         profile_picture_url=b.get("profilePictureURL"), metadata=b.get("metadata"),
                         is_api_user=b["isApiUser"])
        else:
            api.put_member(self.kind, self.owner or "", self.user, b["role"], b["banned"])  # type: ignore[arg-type]


def _bool(value: str, column: str, where: str) -> bool:
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise UsageError(f"{where}: {column} must be true or false, not {value!r}")


def read_calls(path: Path) -> tuple[int, list[Call]]:
    """The rows of `path` (count) and the calls they need, in file order; UsageError naming the line of
    the first mistake."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise UsageError(f"{path} is empty (it needs a header row: {', '.join(COLUMNS)})") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: line 1: {exc}") from None
        unknown = [h for h in header if h not in COLUMNS and not (h.startswith(METADATA_PREFIX) and
                                                                   len(h) > len(METADATA_PREFIX))]
        if unknown:
            raise UsageError(f"{path}: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)}, metadata.KEY)")
        if "user" not in header:
            raise UsageError(f"{path}: no 'user' column (columns: {', '.join(COLUMNS)}, metadata.KEY)")
        if len(set(header)) != len(header):
            raise UsageError(f"{path}: a column is named twice")
        calls: list[Call] = []
        rows = 0
        try:
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                rows += 1
                if len(row) > len(header):
                    raise UsageError(f"{path}:{line}: {len(row)} cells for {len(header)} columns")
                calls.extend(_row_calls(dict(zip(header, row)), f"{path}:{line}", line))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}:{reader.line_num}: {exc}") from None
    return rows, calls


def _row_calls(cells: dict[str, str], where: str, line: int) -> list[Call]:
    get = lambda name: (cells.get(name) or "").strip()  # noqa: E731
    user = get("user")
    if not user:
        raise UsageError(f"{where}: 'user' is empty")
    out: list[Call] = []
    metadata = {k[len(METADATA_PREFIX):]: v for k, v in cells.items() if k.startswith(METADATA_PREFIX) and v != ""}
    if any(get(c) for c in PROFILE_COLUMNS) or metadata:
        body: dict[str, Any] = {"isApiUser": _bool(get("is_api_user"), "is_api_user", where)}
        for column, name in (("name", "name"), ("short_name", "shortName"),
                             ("profile_picture_url", "profilePictureURL")):
            if get(column):
                body[name] = get(column)
        if metadata:
            body["metadata"] = metadata
        out.append(Call(line, user, "user", None, body))
    org, community, role = get("organization"), get("community"), get("role")
    if org and community:
        raise UsageError(f"{where}: give organization or community, not both (one membership per row)")
    if org or community:
        if not role:
            raise UsageError(f"{where}: a membership needs a role")
        banned = _bool(get("banned"), "banned", where)
        if org and banned:
            raise UsageError(f"{where}: only community members can be banned")
        kind, owner = ("organization", org) if org else ("community", community)
        out.append(Call(line, user, kind, owner, {"role": role, "banned": banned}))
    elif role or get("banned"):
        raise UsageError(f"{where}: role and banned need an organization or community")
    if not out:
        raise UsageError(f"{where}: nothing to import (no profile column and no membership)")
    return out


# ---- the checkpoint -------------------------------------------------------------------------------

def _tenant_of(token: str) -> str | None:
    """The token's `tid`, read without verifying (only to keep checkpoints of tenants apart)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("tid")
    except (IndexError, ValueError, AttributeError):
        return None


class Checkpoint:
    """An append-only file: a JSON header naming the API and tenant, then one line per call done (its
    digest), written and flushed as each call succeeds, so a killed run loses at most the calls in flight."""

    def __init__(self, path: Path, scope: dict[str, Any], restart: bool) -> None:
        self.path, self.scope = path, scope
        self.done: set[str] = set()
        self._lock = threading.Lock()
        if path.exists() and not restart:
            lines = path.read_text(encoding="utf-8").splitlines()
            try:
                header = json.loads(lines[0]) if lines else None
            except ValueError:
                header = None
            if not isinstance(header, dict) or header.get("scope") != scope:
                raise UsageError(f"{path} is the checkpoint of an import into another API or tenant (or not a "
                                 "checkpoint): remove it, pass --checkpoint, or --restart")
            self.done = {ln.strip() for ln in lines[1:] if len(ln.strip()) == 32}
            self._file = path.open("a", encoding="utf-8")
            if lines and not path.read_text(encoding="utf-8").endswith("\n"):
                self._file.write("\n")  # a line cut by a crash stays apart from the next
        else:
            self._file = path.open("w", encoding="utf-8")
            self._file.write(json.dumps({"scope": scope}) + "\n")
        self._file.flush()

    def record(self, digest: str) -> None:
        with self._lock:
            self._file.write(digest + "\n")
            self._file.flush()
            self.done.add(digest)

    def close(self) -> None:
        self._file.close()


# ---- the import -----------------------------------------------------------------------------------

@dataclass
class Outcome:
    made: int = 0  # calls that succeeded in this run
    skipped: int = 0  # calls the checkpoint had
    failed: list[tuple[Call, str]] = field(default_factory=list)
    held: int = 0  # calls after a user's failed one (not tried: that user's rows stay in order)
    fatal: str | None = None  # what stopped the whole run (401/403, unreachable, 5xx after retries)

    def settled(self) -> int:
        return self.made + self.skipped + len(self.failed) + self.held


def import_calls(api: NotificationsClient, calls: list[Call], checkpoint: Checkpoint, workers: int,
                 on_tick: Callable[[Outcome], None] = lambda o: None) -> Outcome:
    """Make the calls not in the checkpoint: one queue of users, `workers` threads, a user's calls in order
    by one thread. A refusal of one row (400/404/409) holds that user's later calls and goes on; anything
    else (401, 403, unreachable, 5xx after retries) stops every worker after its current call."""
    outcome = Outcome()
    lock = threading.Lock()
    stop = threading.Event()
    by_user: dict[str, list[Call]] = {}
    for c in calls:
        if c.digest in checkpoint.done:
            outcome.skipped += 1
        else:
            by_user.setdefault(c.user, []).append(c)
    todo: queue.Queue[list[Call]] = queue.Queue()
    for user_calls in by_user.values():
        todo.put(user_calls)

    def work() -> None:
        while not stop.is_set():
            try:
                user_calls = todo.get_nowait()
            except queue.Empty:
                return
            for i, c in enumerate(user_calls):
                if stop.is_set():
                    return
                try:
                    c.run(api)
                except ApiError as exc:
                    with lock:
                        if exc.status in ROW_STATUSES:
                            outcome.failed.append((c, describe(exc)))
                            outcome.held += len(user_calls) - i - 1
                        else:
                            outcome.fatal = outcome.fatal or describe(exc)
                            stop.set()
                    break
                except Exception as exc:  # noqa: BLE001 - unreachable service etc.: stop, keep the checkpoint
                    with lock:
                        outcome.fatal = outcome.fatal or describe(exc)
                    stop.set()
                    return
                checkpoint.record(c.digest)
                with lock:
                    outcome.made += 1

    threads = [threading.Thread(target=work, name=f"import-{n}", daemon=True)
               for n in range(max(1, min(workers, len(by_user))))]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            on_tick(outcome)
            for t in threads:
                t.join(0.2)
    except KeyboardInterrupt:
        stop.set()  # workers finish the call in flight, which the checkpoint then records
        for t in threads:
            t.join()
        raise
    on_tick(outcome)
    return outcome


@reports_errors("notifications users import")
def run_import(args: argparse.Namespace) -> int:
    if not 1 <= args.workers <= 32:
        raise UsageError("--workers must be between 1 and 32")
    rows, calls = read_calls(args.file)
    if args.dry_run:
        for c in calls:
            print(f"{c.label()}: {json.dumps(c.body, sort_keys=True)}")
        print(f"{args.file}: {rows} rows, {len(calls)} calls (dry run: nothing sent)")
        return 0
    api = client_from(args)
    path = args.checkpoint or args.file.with_name(args.file.name + ".checkpoint")
    scope = {"url": api.base_url, "tenant": _tenant_of(token_from(args))}
    checkpoint = Checkpoint(path, scope, args.restart)
    progress = Progress(sys.stderr)
    total = len(calls)
    started = time.monotonic()

    def tick(o: Outcome) -> None:
        n = o.settled()
        progress.update(f"{bar(n / total if total else 1.0)} {n}/{total} calls" +
                        (f"  {len(o.failed)} failed" if o.failed else ""))

    try:
        outcome = import_calls(api, calls, checkpoint, args.workers, tick)
    finally:
        checkpoint.close()
    elapsed = time.monotonic() - started
    progress.done(f"{bar(outcome.settled() / total if total else 1.0)} {outcome.settled()}/{total} calls")
    for c, why in outcome.failed:
        print(f"notifications users import: {c.label()}: {why}", file=sys.stderr)
    print(f"{args.file}: {rows} rows, {total} calls: {outcome.made} made, {outcome.skipped} already done "
          f"(checkpoint {path}), {len(outcome.failed)} failed, {outcome.held} held; {api.calls} requests "
          f"({api.retries} retries), {args.workers} workers, {elapsed:.1f}s")
    if outcome.fatal:
        print(f"notifications users import: stopped: {outcome.fatal} (re-run to resume: done calls are skipped)",
              file=sys.stderr)
        return 1
    if outcome.failed:
        print(f"notifications users import: {len(outcome.failed)} rows refused: fix them and re-run "
              "(done calls are skipped)", file=sys.stderr)
        return 1
    return 0
