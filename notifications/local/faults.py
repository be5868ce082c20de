"""Test-only fault injection for the local runtime, loaded when NOTIFICATIONS_FAULTS is set.

The integration tier starts `notifications dev` as a separate process, so it cannot patch
the fan-out directly; this module does it inside the server process, from a JSON spec in
the environment, without any hook in production code (it wraps functions from outside):

    NOTIFICATIONS_FAULTS='{"seed": 7, "throttle": 0.15, "fail_before": 0.03, "fail_after": 0.03,
                           "duplicate": 0.3, "replay": 0.2, "sqs_duplicate": 0.2, "sqs_race": 0.1,
                           "die_before_marker": 0.05, "die_after_enqueue": 0.2}'

Inbox transactions (`delivery._commit`) of the fan-out's threads (stream poller, queue workers):
- throttle:     probability a commit raises ProvisionedThroughputExceededException first (the
                store's backoff retries it)
- fail_before:  probability a commit raises instead of committing (a chunk dies part-way)
- fail_after:   probability a commit succeeds and then raises (done, but the writer never learns it)
Coordinator (the broadcasts stream):
- duplicate:    probability a stream batch is delivered twice in a row
- replay:       probability an earlier, already processed batch is delivered again (late duplicate)
- die_after_enqueue: probability a step dies after enqueuing its chunks, before advancing
Writers (the work queue):
- sqs_duplicate: probability a message is handled a second time after it succeeded (SQS's
                 at-least-once delivery)
- sqs_race:     probability a message is handled by two writers at once (both may race to
                mark the chunk and to complete the broadcast)
- die_before_marker: probability a writer dies after its inbox writes, before the chunk marker
- dead_letter_chunks: chunk indexes that fail every attempt until the dead-letter queue has them
                (WORK_QUEUE_MAX_RECEIVES attempts); after a redrive they succeed
Random faults spare a message's last two receives, so only the chunks named here are dead-lettered.

Every injected fault is counted in `stats`, logged at exit. Nothing but the local runtime
imports this module, and only when NOTIFICATIONS_FAULTS is set.
"""
from __future__ import annotations

import json
import logging
import random
import threading
from typing import Any, Callable

from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Any]
FAN_OUT_THREADS = ("stream-poller", "queue-worker")

stats: dict[str, int] = {name: 0 for name in (
    "commits", "throttle", "fail_before", "fail_after", "duplicate", "replay", "die_after_enqueue",
    "sqs_duplicate", "sqs_race", "die_before_marker", "dead_letter")}
_lock = threading.Lock()
_state: dict[str, Any] = {}


class InjectedFault(RuntimeError):
    """A failure the fault injector raised on purpose."""


def throttled_transaction(actions: int) -> TransactWriteError:
    """What DynamoDB answers a throttled TransactWriteItems with, once botocore is done: a
    cancellation whose reasons say ThrottlingError (botocore never retries a cancellation;
    `store.base.with_backoff` does)."""
    reasons = [CancellationReason(code="ThrottlingError", message="injected throttle")] + [
        CancellationReason(code="None")] * (actions - 1)
    cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "injected throttle"}},
                               "TransactWriteItems", {}, cancellation_reasons=reasons)
    return TransactWriteError("Failed to write transaction items", cause=cause)


def _count(name: str) -> None:
    with _lock:
        stats[name] += 1


def _roll(name: str) -> bool:
    """True with the spec's probability for `name` (counted)."""
    spec, rng = _configure()
    with _lock:
        hit = rng.random() < float(spec.get(name, 0))
    if hit:
        _count(name)
    return hit


_calm: set[str] = set()  # writer threads on a message's last two receives: no random faults there


def _fan_out_thread() -> bool:
    """A thread of the fan-out (or one of its pool threads, named after it), not calmed."""
    name = threading.current_thread().name
    return name.startswith(FAN_OUT_THREADS) and not any(name.startswith(calm) for calm in list(_calm))


def _configure(spec_text: str | None = None) -> tuple[dict[str, Any], random.Random]:
    """Parse the spec and patch the shared points once (both installers call this)."""
    with _lock:
        if "spec" in _state:
            return _state["spec"], _state["rng"]
        spec = json.loads(spec_text) if spec_text and spec_text.strip().startswith("{") else {}
        _state["spec"], _state["rng"] = spec, random.Random(spec.get("seed", 0))
    _patch_commit()
    _patch_marker()
    _patch_poison(spec)
    _patch_enqueue()
    import atexit

    atexit.register(lambda: log.warning("fault injection stats: %s", json.dumps(stats)))
    log.warning("fault injection enabled: %s", json.dumps(spec))
    return _state["spec"], _state["rng"]


def _patch_commit() -> None:
    from chalicelib.domain import delivery

    original = delivery._commit

    def commit(items: list) -> None:
        if not _fan_out_thread():
            return original(items)  # API requests are not the subject: only the fan-out is disturbed
        _count("commits")
        if _roll("throttle"):
            raise throttled_transaction(len(items) * 2)
        if _roll("fail_before"):
            raise InjectedFault("injected: died before the commit")
        original(items)
        if _roll("fail_after"):
            raise InjectedFault("injected: died after the commit")

    delivery._commit = commit


def _patch_marker() -> None:
    from chalicelib.domain import chunks

    original = chunks.store.record_chunk

    def record_chunk(*args: Any, **kwargs: Any) -> bool:
        if _fan_out_thread() and _roll("die_before_marker"):
            raise InjectedFault("injected: writer died after its inbox writes, before the chunk marker")
        return original(*args, **kwargs)

    chunks.store = _Proxy(chunks.store, record_chunk=record_chunk)


_redriven: set[tuple[str, int]] = set()  # chunks a message redriven from the dead-letter queue carries


def _patch_poison(spec: dict[str, Any]) -> None:
    """Chunks in `dead_letter_chunks` fail every message (duplicates included) until one comes back
    from the dead-letter queue by `notifications redrive`; that one succeeds."""
    from chalicelib.domain import chunks

    poison = {int(index) for index in spec.get("dead_letter_chunks", [])}
    original = chunks.process

    def process(message: dict[str, Any]) -> str:
        index = message.get("chunk")
        if message.get("kind") == chunks.CHUNK and index in poison:
            with _lock:
                failing = (message["sk"], index) not in _redriven
            if failing:
                _count("dead_letter")
                raise InjectedFault(f"injected: chunk {index} fails until it is redriven")
        return original(message)

    chunks.process = process


def _patch_enqueue() -> None:
    from chalicelib.domain import fanout

    original = fanout.work_queue.send

    def send(messages: list, group: str) -> None:
        original(messages, group)
        if threading.current_thread().name.startswith("stream-poller") and _roll("die_after_enqueue"):
            raise InjectedFault("injected: coordinator died after enqueuing, before advancing")

    fanout.work_queue = _Proxy(fanout.work_queue, send=send)


class _Proxy:
    """A module with some functions replaced (the module itself is left untouched)."""

    def __init__(self, module: Any, **replacements: Any) -> None:
        self._module = module
        self.__dict__.update(replacements)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def install(spec_text: str, handler: Handler) -> Handler:
    """The coordinator's stream handler, wrapped with duplicate and late deliveries."""
    _, rng = _configure(spec_text)
    seen: list[dict[str, Any]] = []

    def faulty_handler(event: dict[str, Any]) -> Any:
        if seen and _roll("replay"):
            _safe(handler, rng.choice(seen))
        result = handler(event)
        if _roll("duplicate"):
            _safe(handler, event)
        seen.append(event)
        del seen[:-50]
        return result

    return faulty_handler


def install_writer(spec_text: str, handler: Handler) -> Handler:
    """The writers' queue handler, wrapped with SQS's duplicate and concurrent deliveries."""
    _configure(spec_text)

    from chalicelib.settings import get_settings

    def faulty_handler(event: dict[str, Any]) -> Any:
        receives = max(int((r.get("attributes") or {}).get("ApproximateReceiveCount", 1))
                       for r in event.get("Records", [{}]))
        for record in event.get("Records", []):
            if "redriven" not in (record.get("messageAttributes") or {}):
                continue
            try:
                message = json.loads(record["body"])
                with _lock:
                    _redriven.add((message["sk"], int(message["chunk"])))
            except (KeyError, TypeError, ValueError):
                pass
        name = threading.current_thread().name
        if receives >= get_settings().work_queue_max_receives - 1:
            _calm.add(name)
        try:
            return _disturbed(event)
        finally:
            _calm.discard(name)

    def _disturbed(event: dict[str, Any]) -> Any:
        racer = None
        if _roll("sqs_race"):
            racer = threading.Thread(target=_safe, args=(handler, event),
                                     name=f"{threading.current_thread().name}-racer")
            racer.start()
        result = handler(event)
        if racer is not None:
            racer.join()
        if not (result or {}).get("batchItemFailures") and _roll("sqs_duplicate"):
            _safe(handler, event)
        return result

    return faulty_handler


def _safe(handler: Handler, event: dict[str, Any]) -> None:
    """A duplicate delivery's outcome is ignored, as the event source would ignore a second
    concurrent invocation's; its side effects are what the test is about."""
    try:
        handler(event)
    except Exception:  # noqa: BLE001
        log.exception("duplicate delivery raised")
