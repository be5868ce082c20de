"""Consumed-capacity capture for the cost scenario, loaded into `notifications dev` (and any Python
child it starts) through PYTHONPATH by bench/harness/capacity.py. Inert unless BENCH_CAPACITY_LOG
is set.

Every botocore client created in the process gets two hooks on its DynamoDB events:
`before-parameter-build` asks for ReturnConsumedCapacity=INDEXES (per table and per index), and
`after-call` appends what came back to the log, one JSON line per call (O_APPEND writes, so several
threads and processes can share the file). Lines are written only while the switch file
BENCH_CAPACITY_SWITCH exists, so the same service can run the timed scenarios unhooked-in-effect.
This sees every DynamoDB call the service makes, whatever code makes it: it keeps working when the
fan-out's internals change.
"""
import json
import os
import threading

_LOG = os.environ.get("BENCH_CAPACITY_LOG")
_SWITCH = os.environ.get("BENCH_CAPACITY_SWITCH", "")


def _on() -> bool:
    return os.path.exists(_SWITCH)


_pending = threading.local()


def _size(value):
    """An attribute value's size by DynamoDB's documented rules."""
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "B":
        return len(raw)
    if kind == "N":
        return ((len(raw.lstrip("-").replace(".", "").lstrip("0")) or 1) + 1) // 2 + 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(_size(v) + 1 for v in raw)
    return 1


def _actions(params):
    """What a TransactWriteItems writes: DynamoDB Local's ConsumedCapacity for transactions does not
    follow the documented rules, so the bench recomputes them from this."""
    out = []
    for action in params.get("TransactItems", []):
        (kind, body), = action.items()
        item = body.get("Item")
        out.append([kind, body.get("TableName", "?").rsplit("-", 1)[-1],
                    sum(len(k.encode()) + _size(v) for k, v in item.items()) if item else None,
                    sorted(item) if item else None])
    return out


def _ask(params, model, **_):
    if _on() and "ReturnConsumedCapacity" in model.input_shape.members:
        params["ReturnConsumedCapacity"] = "INDEXES"
        _pending.actions = _actions(params) if model.name == "TransactWriteItems" else None


def _record(http_response, parsed, model, **_):
    if not _on():
        return
    line = json.dumps({"op": model.name, "status": getattr(http_response, "status_code", None),
                       "cc": parsed.get("ConsumedCapacity"), "pid": os.getpid(),
                       "actions": getattr(_pending, "actions", None) if model.name == "TransactWriteItems" else None,
                       "thread": threading.current_thread().name}) + "\n"
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _install() -> None:
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-parameter-build.dynamodb", _ask)
            client.meta.events.register("after-call.dynamodb", _record)
        return client

    botocore.session.Session.create_client = create_client


if _LOG:
    _install()
