"""Test-only fault injection for the local runtime, loaded when NOTIFICATIONS_FAULTS is set.

The integration tier starts `notifications dev` as a separate process, so it cannot reach
`chalicelib.domain.delivery.commit_hook` directly; this module installs that hook inside
the server process from a JSON spec in the environment:

    NOTIFICATIONS_FAULTS='{"seed": 7, "throttle": 0.15, "fail_before": 0.03, "fail_after": 0.03,
                           "duplicate": 0.3, "replay": 0.2}'

- throttle:    probability an inbox transaction commit raises ProvisionedThroughputExceededException
               before reaching DynamoDB (the store's backoff retries it)
- fail_before: probability a commit raises a plain exception instead of committing (a chunk dies
               part-way: earlier transactions of the chunk are committed, later ones are not)
- fail_after:  probability a commit succeeds and then raises (the work is done but the handler
               never learns it: the worst case for double counting)
- duplicate:   probability a stream batch is delivered to the handler twice in a row
- replay:      probability an earlier, already processed batch is delivered again (late duplicate)

Only the stream poller's thread is disturbed. Every injected fault is counted in `stats`,
logged at exit.
It never runs in Lambda: nothing but the local runtime imports it.
"""
from __future__ import annotations

import json
import logging
import random
import threading
from typing import Any, Callable

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

stats: dict[str, int] = {"commits": 0, "throttle": 0, "fail_before": 0, "fail_after": 0, "duplicate": 0,
                         "replay": 0}
_lock = threading.Lock()


class InjectedFault(RuntimeError):
    """A failure the fault injector raised on purpose."""


def _count(name: str) -> None:
    with _lock:
        stats[name] += 1


def install(spec_text: str, handler: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """Install the commit hook and return `handler` wrapped with delivery faults."""
    from chalicelib.domain import delivery

    spec = json.loads(spec_text) if spec_text.strip().startswith("{") else {}
    rng = random.Random(spec.get("seed", 0))
    throttle = float(spec.get("throttle", 0))
    fail_before = float(spec.get("fail_before", 0))
    fail_after = float(spec.get("fail_after", 0))
    duplicate = float(spec.get("duplicate", 0))
    replay = float(spec.get("replay", 0))

    def commit_hook(run: Callable[[], None]) -> None:
        if not threading.current_thread().name.startswith("stream-poller"):
            run()  # API requests are not the subject: only the fan-out is disturbed
            return
        _count("commits")
        roll = rng.random()
        if roll < throttle:
            _count("throttle")
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "injected throttle"}}, "TransactWriteItems")
        roll -= throttle
        if roll < fail_before:
            _count("fail_before")
            raise InjectedFault("injected: died before the commit")
        run()
        if rng.random() < fail_after:
            _count("fail_after")
            raise InjectedFault("injected: died after the commit")

    delivery.commit_hook = commit_hook
    seen: list[dict[str, Any]] = []

    def faulty_handler(event: dict[str, Any]) -> Any:
        if seen and rng.random() < replay:
            _count("replay")
            _safe(handler, rng.choice(seen))
        result = handler(event)
        if rng.random() < duplicate:
            _count("duplicate")
            _safe(handler, event)
        seen.append(event)
        del seen[:-50]
        return result

    import atexit

    atexit.register(lambda: log.warning("fault injection stats: %s", json.dumps(stats)))
    log.warning("fault injection enabled: %s", json.dumps(spec))
    return faulty_handler


def _safe(handler: Callable[[dict[str, Any]], Any], event: dict[str, Any]) -> None:
    """A duplicate delivery's outcome is ignored, as the event source would ignore a second
    concurrent invocation's; its side effects are what the test is about."""
    try:
        handler(event)
    except Exception:  # noqa: BLE001
        log.exception("duplicate delivery raised")

