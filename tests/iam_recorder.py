"""Which AWS calls each deployed function makes, recorded while the tests run, and whether its IAM
role in the synthesized CDK template allows them.

Nothing is deployed from here, so the least-privilege roles are proven against the calls the code
really makes under test:

- **Attribution.** A call belongs to a function when one of that function's entry points is on the
  calling thread's stack (the innermost one wins): every Chalice view (`make_view`'s `view`) is the
  API handler, `handle_broadcast_stream` the Fanout, `handle_inbox_stream` the Expiry and
  `handle_work_queue` the Writer, `chalicelib.api.realtime.handle_push_stream` the Push function and its
  `connect`/`disconnect` the WebSocket handlers (Sockets). Frames are matched by file and qualified name, so no production
  code is wrapped or patched and `from ... import` bindings made before the plugin loaded do not
  matter. Work handed to a `ThreadPoolExecutor` (delivery.write_copies) carries the submitting
  thread's function with it (`submit` is wrapped while recording). Calls outside any entry point
  (tests seeding and asserting, bootstrap's CreateTable, the local runtime's pollers) are ignored.
- **Recording.** `botocore.client.BaseClient._make_api_call` (every boto3 and PynamoDB call passes
  through it) is wrapped: before the call goes out, the operation is turned into the IAM requests
  it needs (`iam_requests`: a transaction into the Put/Update/Delete/ConditionCheck of each item's
  table, a batch into its action on each table named, a Query on an index into the index's ARN,
  SendMessageBatch into sqs:SendMessage, ...).
- **Per-function process caches.** Each Lambda function runs in its own processes; here all run in
  one, so a body cached by the API handler would hide the read the Fanout makes on AWS. While
  recording, the service's in-process data caches (`PARTITIONED_CACHES`) are kept per function.
- **Checking.** `check()` evaluates each recorded request against the statements of the role the
  template gives that function (intrinsics resolved to ARNs, IAM wildcards, explicit denies), and
  lists what each role allows that no recorded call used (apart from what its event source mapping
  uses on the function's behalf).

The session's records are checked by tests/infra/test_iam_recorded.py, which runs last.
IAM_RECORD=0 turns recording off.
"""
from __future__ import annotations

import contextvars
import importlib
import os
import re
import sys
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

# (file, qualified name) of each entry point -> the function (as the report names it).
ENTRY_POINTS: dict[tuple[str, str], str] = {
    ("chalicelib/api/http.py", "make_view.<locals>.view"): "Api",
    ("chalicelib/streams.py", "handle_broadcast_stream"): "Fanout",
    ("chalicelib/streams.py", "handle_inbox_stream"): "Expiry",
    ("chalicelib/queues.py", "handle_work_queue"): "Writer",
    ("chalicelib/api/realtime.py", "handle_push_stream"): "Push",
    ("chalicelib/api/realtime.py", "connect"): "Sockets",
    ("chalicelib/api/realtime.py", "disconnect"): "Sockets",
}
# The template's function resources (Chalice's names) -> the functions above.
TEMPLATE_FUNCTIONS = {"APIHandler": "Api", "Fanout": "Fanout", "Expiry": "Expiry", "Writer": "Writer", "Push": "Push",
                      "WebsocketConnect": "Sockets", "WebsocketMessage": "Sockets", "WebsocketDisconnect": "Sockets"}

# In-process data caches, kept per function while recording (module, attribute). A missing one is
# reported, not an error (the code moves on; keep this list in step with it).
PARTITIONED_CACHES = [
    ("chalicelib.domain.inbox", "_body_cache"),        # broadcast bodies (BatchGetItem on broadcasts)
    ("chalicelib.domain.directory", "_registered"),    # notification types already registered (PutItem)
    ("chalicelib.store.work_queue", "_urls"),          # the work queue's URL (sqs:GetQueueUrl)
]

SERVICES = ("dynamodb", "dynamodbstreams", "sqs")

# What Lambda's event source mappings do with the function's role (not the function's code).
ESM_STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                      "dynamodb:ListStreams")
ESM_QUEUE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
ESM_DESTINATION_ACTIONS = ("sqs:SendMessage",)

REGION, ACCOUNT = "us-east-1", "123456789012"


# ---- attribution ------------------------------------------------------------------------------------

_inherited: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_recorder_function", default=None)
_code_labels: dict[Any, str | None] = {}


def _label_of(code) -> str | None:
    try:
        return _code_labels[code]
    except KeyError:
        filename = code.co_filename.replace(os.sep, "/")
        qualname = getattr(code, "co_qualname", code.co_name)
        label = next((fn for (path, name), fn in ENTRY_POINTS.items()
                      if name == qualname and filename.endswith("/" + path)), None)
        _code_labels[code] = label
        return label


def current_function() -> str | None:
    """The function whose entry point is innermost on this thread's stack; else the one that
    submitted this thread's work to an executor; else None (the tests' own calls)."""
    frame = sys._getframe(1)
    while frame is not None:
        label = _label_of(frame.f_code)
        if label:
            return label
        frame = frame.f_back
    return _inherited.get()


# ---- what IAM authorizes for one API call -------------------------------------------------------------

def _table(name: str) -> str:
    """A TableName parameter (a name or an ARN) -> the table's name."""
    if name.startswith("arn:"):
        return name.split(":table/", 1)[1].split("/", 1)[0]
    return name


def _queue_name(url_or_arn: str) -> str:
    if url_or_arn.startswith("arn:"):
        return url_or_arn.rsplit(":", 1)[1]
    return url_or_arn.rstrip("/").rsplit("/", 1)[1]


TRANSACT_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                  "ConditionCheck": "ConditionCheckItem"}
SQS_ACTION = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
GLOBAL = "*"


def iam_requests(service: str, operation: str, params: dict[str, Any],
                 stream_of_iterator: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The (IAM action, resource) pairs one API call needs. Resources: `table:<name>`,
    `index:<table>/<index>`, `stream:<table>`, `queue:<name>` or `*`."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            out = []
            for item in params.get("TransactItems", []):
                for key, action in TRANSACT_WRITE.items():
                    if key in item:
                        out.append((f"dynamodb:{action}", f"table:{_table(item[key]['TableName'])}"))
            return out
        if operation == "TransactGetItems":
            return [("dynamodb:GetItem", f"table:{_table(i['Get']['TableName'])}")
                    for i in params.get("TransactItems", [])]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", f"table:{_table(t)}") for t in params.get("RequestItems", {})]
        if operation in ("Query", "Scan") and params.get("IndexName"):
            return [(f"dynamodb:{operation}", f"index:{_table(params['TableName'])}/{params['IndexName']}")]
        if "TableName" in params:
            return [(f"dynamodb:{operation}", f"table:{_table(params['TableName'])}")]
        if "ResourceArn" in params:
            return [(f"dynamodb:{operation}", f"table:{_table(params['ResourceArn'])}")]
        return [(f"dynamodb:{operation}", GLOBAL)]  # ListTables, DescribeLimits, ExecuteStatement...
    if service == "dynamodbstreams":
        arn = params.get("StreamArn")
        if arn is None and "ShardIterator" in params:
            arn = (stream_of_iterator or {}).get(params["ShardIterator"])
        if arn is None:
            return [(f"dynamodb:{operation}", GLOBAL if operation == "ListStreams" else "stream:?")]
        return [(f"dynamodb:{operation}", f"stream:{_table(arn)}")]
    if service == "sqs":
        action = "sqs:" + SQS_ACTION.get(operation, operation)
        for key in ("QueueUrl", "SourceArn"):
            if key in params:
                return [(action, f"queue:{_queue_name(params[key])}")]
        if "QueueName" in params:
            return [(action, f"queue:{params['QueueName']}")]
        return [(action, GLOBAL)]
    return [(f"{service}:{operation}", GLOBAL)]


# ---- the records ------------------------------------------------------------------------------------

@dataclass
class Records:
    """(function, action, resource) -> {operation: calls}."""
    calls: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, function: str, operation: str, requests: list[tuple[str, str]]) -> None:
        with self.lock:
            for action, resource in requests:
                ops = self.calls.setdefault((function, action, resource), {})
                ops[operation] = ops.get(operation, 0) + 1

    def functions(self) -> set[str]:
        return {f for f, _, _ in self.calls}

    def __bool__(self) -> bool:
        return bool(self.calls)


SESSION = Records()
_active: Records | None = None
_stream_of_iterator: dict[str, str] = {}


@contextmanager
def capture() -> Iterator[Records]:
    """Record into a fresh `Records` instead of the session's (the recorder's own tests)."""
    global _active
    saved, _active = _active, Records()
    try:
        yield _active
    finally:
        _active = saved


# ---- hooks ------------------------------------------------------------------------------------------

_installed = False


def install() -> None:
    """Start recording into SESSION (idempotent; IAM_RECORD=0 leaves everything untouched)."""
    global _installed, _active
    if _installed or os.environ.get("IAM_RECORD", "1") == "0":
        return
    _installed = True
    _active = SESSION

    from botocore.client import BaseClient

    original_call = BaseClient._make_api_call

    def _make_api_call(self, operation_name, api_params):
        records = _active
        function = current_function() if records is not None else None
        if function is None:
            return original_call(self, operation_name, api_params)
        service = self.meta.service_model.service_name
        if service in SERVICES:
            try:
                requests = iam_requests(service, operation_name, api_params, _stream_of_iterator)
            except Exception as exc:  # noqa: BLE001 - an unmapped call is recorded as such and fails the check
                requests = [(f"{service}:{operation_name}", f"unmapped ({type(exc).__name__}: {exc})")]
            records.add(function, operation_name, requests)
        response = original_call(self, operation_name, api_params)
        if service == "dynamodbstreams" and isinstance(response, dict):  # GetRecords names no stream
            arn = api_params.get("StreamArn") or _stream_of_iterator.get(api_params.get("ShardIterator", ""))
            following = response.get("ShardIterator") or response.get("NextShardIterator")
            if arn and following:
                _stream_of_iterator[following] = arn
        return response

    BaseClient._make_api_call = _make_api_call

    original_submit = ThreadPoolExecutor.submit

    def submit(self, fn, /, *args, **kwargs):
        function = current_function()

        def run(*a, **kw):
            token = _inherited.set(function)  # None when test code submitted it
            try:
                return fn(*a, **kw)
            finally:
                _inherited.reset(token)

        return original_submit(self, run, *args, **kwargs)

    ThreadPoolExecutor.submit = submit
    partition_caches()


class PerFunction:
    """A stand-in for a module-level cache (dict, OrderedDict or set): one instance of the original
    type per function (and one for the tests' own calls); `clear()` clears them all."""

    def __init__(self, original: Any) -> None:
        self._factory = type(original)
        self._parts: dict[str | None, Any] = {None: original}
        self._lock = threading.Lock()

    def _part(self) -> Any:
        function = current_function()
        with self._lock:
            part = self._parts.get(function)
            if part is None:
                part = self._parts[function] = self._factory()
            return part

    def clear(self) -> None:
        with self._lock:
            for part in self._parts.values():
                part.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._part(), name)

    def __contains__(self, key: Any) -> bool:
        return key in self._part()

    def __getitem__(self, key: Any) -> Any:
        return self._part()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._part()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._part()[key]

    def __len__(self) -> int:
        return len(self._part())

    def __iter__(self):
        return iter(self._part())

    def __bool__(self) -> bool:
        return bool(self._part())


MISSING_CACHES: list[str] = []
REPORT: list[str] = []  # set by the check, printed at the end of the session


def partition_caches() -> None:
    for module_name, attribute in PARTITIONED_CACHES:
        try:
            module = importlib.import_module(module_name)
            original = getattr(module, attribute)
        except (ImportError, AttributeError):
            MISSING_CACHES.append(f"{module_name}.{attribute}")
            continue
        if not isinstance(original, PerFunction):
            setattr(module, attribute, PerFunction(original))


# ---- the template's roles -----------------------------------------------------------------------------

class TemplateError(ValueError):
    """Something in the template this evaluator does not model (it refuses rather than guesses)."""


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def resolve(value: Any, resources: dict[str, Any]) -> str:
    """A policy Resource (string or intrinsic) -> an ARN; tables and queues by their names."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise TemplateError(f"cannot resolve {value!r}")
    (fn, arg), = value.items()
    if fn == "Fn::Join":
        sep, parts = arg
        return sep.join(resolve(p, resources) for p in parts)
    if fn == "Ref":
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com"}
        if arg in pseudo:
            return pseudo[arg]
        if resources.get(arg, {}).get("Type") == "AWS::ApiGatewayV2::Api":
            return arg  # an API's id: its logical id stands for it (execute-api ARNs)
        raise TemplateError(f"cannot resolve Ref {arg}")
    if fn == "Fn::Sub":
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        return re.sub(r"\$\{([^}]+)\}", lambda m: resolve(variables[m.group(1)] if m.group(1) in variables
                                                           else {"Ref": m.group(1)}, resources), text)
    if fn == "Fn::GetAtt":
        logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        resource = resources[logical_id]
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            table = _arn("dynamodb", f"table/{props['TableName']}")
            if attribute == "Arn":
                return table
            if attribute == "StreamArn":
                return f"{table}/stream/STREAM"
        if resource["Type"] == "AWS::SQS::Queue" and attribute == "Arn":
            return _arn("sqs", props.get("QueueName", logical_id))
    raise TemplateError(f"cannot resolve {value!r}")


@dataclass
class Statement:
    effect: str
    actions: list[str]
    resources: list[str]


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@dataclass
class Role:
    logical_id: str
    statements: list[Statement]

    def matching(self, action: str, arn: str, effect: str = "Allow") -> list[tuple[Statement, str, str]]:
        return [(s, a, r) for s in self.statements if s.effect == effect
                for a in s.actions if _wildcard(a, action, ignore_case=True)
                for r in s.resources if _wildcard(r, arn)]

    def allows(self, action: str, arn: str) -> bool:
        return bool(self.matching(action, arn)) and not self.matching(action, arn, "Deny")


BASIC_EXECUTION = "service-role/AWSLambdaBasicExecutionRole"  # CloudWatch Logs only


def roles_by_function(template: dict[str, Any]) -> dict[str, Role]:
    """Each function of the template (as TEMPLATE_FUNCTIONS names it) -> its role's statements."""
    resources = template["Resources"]
    out = {}
    for logical_id, label in TEMPLATE_FUNCTIONS.items():
        if logical_id not in resources:
            continue
        role_ref = resources[logical_id]["Properties"].get("Role")
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            raise TemplateError(f"{logical_id}'s role is not a role of this template: {role_ref!r}")
        role_id = role_ref["Fn::GetAtt"][0]
        role = resources[role_id]["Properties"]
        for managed in role.get("ManagedPolicyArns", []):
            if not resolve(managed, resources).endswith(BASIC_EXECUTION):
                raise TemplateError(f"{role_id}: cannot evaluate managed policy {managed!r}")
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        documents += [r["Properties"]["PolicyDocument"] for r in resources.values()
                      if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"].get("Roles", [])]
        statements = []
        for document in documents:
            for st in document["Statement"]:
                if {"NotAction", "NotResource", "Condition"} & set(st):
                    raise TemplateError(f"{role_id}: cannot evaluate {st!r}")
                statements.append(Statement(st["Effect"], _listed(st["Action"]),
                                            [resolve(r, resources) for r in _listed(st["Resource"])]))
        out[label] = Role(role_id, statements)
    return out


def event_source_uses(template: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """function -> the (action, ARN) its event source mappings use through its role."""
    resources = template["Resources"]
    out: dict[str, list[tuple[str, str]]] = {}
    for r in resources.values():
        if r["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = r["Properties"]
        target = next((label for logical_id, label in TEMPLATE_FUNCTIONS.items()
                       if f'"Fn::GetAtt": ["{logical_id}", "Arn"]' in _json(props["FunctionName"])), None)
        if target is None:
            continue
        source = resolve(props["EventSourceArn"], resources)
        actions = ESM_QUEUE_ACTIONS if source.startswith("arn:aws:sqs:") else ESM_STREAM_ACTIONS
        uses = out.setdefault(target, [])
        uses += [(a, source) for a in actions]
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            uses += [(a, resolve(destination, resources)) for a in ESM_DESTINATION_ACTIONS]
    return out


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


# ---- the check ----------------------------------------------------------------------------------------

QUEUE_KINDS = ("work-dlq", "work")  # the queues the code names after TABLE_PREFIX


def _table_kinds() -> tuple[str, ...]:
    from chalicelib.settings import TABLE_KINDS

    return TABLE_KINDS


def _kind(name: str, kinds) -> str | None:
    """The longest kind a name ends with (`...-inbox`, `...-work-dlq`), whatever its prefix."""
    for kind in sorted(kinds, key=len, reverse=True):
        if name == kind or name.endswith("-" + kind):
            return kind
    return None


def _names(template: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(table kind -> table name, queue kind -> queue name) in the template."""
    tables, queues = {}, {}
    for r in template["Resources"].values():
        props = r.get("Properties", {})
        if r["Type"] == "AWS::DynamoDB::Table" and _kind(props.get("TableName", ""), _table_kinds()):
            tables[_kind(props["TableName"], _table_kinds())] = props["TableName"]
        if r["Type"] == "AWS::SQS::Queue" and _kind(props.get("QueueName", ""), QUEUE_KINDS):
            queues[_kind(props["QueueName"], QUEUE_KINDS)] = props["QueueName"]
    return tables, queues


def to_arn(resource: str, template: dict[str, Any]) -> str | None:
    """A recorded resource -> the ARN it has in this template's stage (None: not in the template)."""
    tables, queues = _names(template)
    if resource == GLOBAL:
        return "*"
    kind_of, _, rest = resource.partition(":")
    if kind_of in ("table", "index", "stream"):
        table, _, index = rest.partition("/")
        kind = _kind(table, tables)
        if kind is None:
            return None
        arn = _arn("dynamodb", f"table/{tables[kind]}")
        return {"table": arn, "index": f"{arn}/index/{index}", "stream": f"{arn}/stream/STREAM"}[kind_of]
    if kind_of == "queue":
        kind = _kind(rest, queues)
        return _arn("sqs", queues[kind]) if kind else None
    return None


def short(arn: str) -> str:
    """An ARN as the report prints it: `inbox`, `inbox/index/*`, `broadcasts stream`, `queue work`."""
    m = re.match(r"arn:aws:dynamodb:[^:]*:[^:]*:table/[^/]*?-?(inbox|counters|directory|broadcasts|idempotency|connections)"
                 r"(/index/.*|/stream/.*)?$", arn)
    if m:
        return m.group(1) + ("" if not m.group(2) else " stream" if "/stream/" in m.group(2) else m.group(2))
    m = re.match(r"arn:aws:sqs:[^:]*:[^:]*:(.*)$", arn)
    if m:
        return "queue " + re.sub(r"^notifications-[a-z]+-", "", m.group(1))
    return arn


@dataclass
class Outcome:
    denied: list[str]                          # "Fanout: dynamodb:PutItem on inbox (TransactWriteItems x3)"
    unused: dict[str, list[str]]               # role -> lines "inbox/index/*: DeleteItem, GetItem"
    by_event_source: dict[str, list[str]]      # role -> what its mappings use (not the code), alike
    unrecorded_functions: list[str]            # template functions with no recorded call


def check(template: dict[str, Any], records: Records) -> Outcome:
    roles = roles_by_function(template)
    esm = event_source_uses(template)
    denied: list[str] = []
    used: dict[str, list[tuple[str, str]]] = {}
    for (function, action, resource), ops in sorted(records.calls.items()):
        how = ", ".join(f"{op} x{n}" for op, n in sorted(ops.items()))
        arn = to_arn(resource, template)
        role = roles.get(function)
        if role is None:
            denied.append(f"{function}: {action} on {resource} ({how}): the template has no such function")
        elif arn is None:
            denied.append(f"{function}: {action} on {resource} ({how}): not a resource of the template")
        elif not role.allows(action, arn):
            denied.append(f"{function}: {action} on {short(arn)} ({how}) is not allowed by {role.logical_id}")
        else:
            used.setdefault(function, []).append((action, arn))
    unused: dict[str, dict[str, list[str]]] = {}
    by_source: dict[str, dict[str, list[str]]] = {}
    for function, role in roles.items():
        calls = used.get(function, [])
        service_side = esm.get(function, [])
        for st in role.statements:
            if st.effect != "Allow":
                continue
            for resource in st.resources:
                for action in st.actions:
                    if any(_wildcard(action, a, True) and _wildcard(resource, r) for a, r in calls):
                        continue
                    into = by_source if any(_wildcard(action, a, True) and _wildcard(resource, r)
                                            for a, r in service_side) else unused
                    into.setdefault(role.logical_id, {}).setdefault(short(resource), []).append(
                        action.split(":", 1)[1])
    recorded = records.functions()

    def lines(found: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
        return {role: [f"{where}: {', '.join(sorted(set(actions)))}" for where, actions in places.items()]
                for role, places in found.items()}

    return Outcome(denied, lines(unused), lines(by_source), sorted(f for f in roles if f not in recorded))


def display(resource: str) -> str:
    """A recorded resource without its prefix: `inbox`, `inbox/index/unread`, `queue work`."""
    kind_of, _, rest = resource.partition(":")
    if kind_of in ("table", "index", "stream"):
        table, _, index = rest.partition("/")
        name = _kind(table, _table_kinds()) or table
        return name + (f"/index/{index}" if index else "") + (" stream" if kind_of == "stream" else "")
    if kind_of == "queue":
        return "queue " + (_kind(rest, QUEUE_KINDS) or rest)
    return resource


def table(records: Records) -> list[str]:
    """The recorded calls, one line per function and action:
    `Fanout  dynamodb:Query  directory (Query x4)`."""
    rows: dict[tuple[str, str], list[str]] = OrderedDict()
    for (function, action, resource), ops in sorted(records.calls.items()):
        rows.setdefault((function, action), []).append(
            f"{display(resource)} ({'/'.join(sorted(ops))} x{sum(ops.values())})")
    return [f"{function:<7} {action:<28} {', '.join(places)}" for (function, action), places in rows.items()]
