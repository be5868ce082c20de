"""The production stack: tables, the Chalice app, the work queue, the event source mappings, IAM, alarms.

Tables are built from `chalicelib.store.bootstrap.create_table_params`, itself built from each
PynamoDB model's `describe_model`: the one definition the code, the local bootstrap and this
stack share (tests/infra checks the synthesized template against it).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

ROOT = Path(__file__).resolve().parents[1]

# writer_concurrency: the work queue mapping's ScalingConfig.MaximumConcurrency (at most this many
# writers at once: bounds the write rate the tables see and leaves Lambda concurrency for the API).
STAGES: dict[str, dict[str, Any]] = {
    "dev": {"prod": False, "rate": 50, "burst": 100, "writer_concurrency": 10},
    "prod": {"prod": True, "rate": 500, "burst": 1000, "writer_concurrency": 100},
}

# Chalice's names for its functions in the packaged template.
API_HANDLER = "APIHandler"
FANOUT = "Fanout"
EXPIRY = "Expiry"
WRITER = "Writer"
PUSH = "Push"
WS_FUNCTIONS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
FUNCTIONS = {API_HANDLER: "api", FANOUT: "fanout", EXPIRY: "expiry", WRITER: "writer", PUSH: "push",
             "WebsocketConnect": "ws-connect", "WebsocketMessage": "ws-message", "WebsocketDisconnect": "ws-disconnect"}

# Days CloudWatch Logs keeps the functions' log groups (context `logRetentionDays`): one of the values
# CloudWatch accepts.
DEFAULT_LOG_RETENTION_DAYS = 30
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
# API 5XX responses (from the gateway or the app) in 5 minutes that page someone: the app answers every
# input with a 4xx, so a few 5XX already mean something is broken.
API_5XX_THRESHOLD = 5


def log_retention_days(value: Any) -> int:
    """The `logRetentionDays` context value, checked at synth time (ValueError naming the context key)."""
    if value is None or value == "":
        return DEFAULT_LOG_RETENTION_DAYS
    try:
        days = int(str(value).strip())
    except ValueError:
        raise ValueError(f"logRetentionDays must be a whole number of days, not {value!r}") from None
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"logRetentionDays must be one of CloudWatch's retention periods "
                         f"({', '.join(map(str, LOG_RETENTION_DAYS))}), not {days}")
    return days

# What each function does to each table (IAM actions). TransactWriteItems has no IAM action of
# its own: a transaction is authorized by the Put/Update/Delete/ConditionCheck actions it holds.
READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable"]
WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"]
API_ACCESS = {
    "inbox": READ + WRITE,
    "counters": READ + WRITE,
    "directory": READ + WRITE + ["dynamodb:BatchWriteItem"],
    "broadcasts": READ + WRITE,
    "idempotency": READ + WRITE,
    "connections": ["dynamodb:PutItem"],  # a realtime ticket's hash (POST /v1/realtime/tickets)
}
# The coordinator (fan-out v2): pages the audience, writes manifests and progress, enqueues chunks.
FANOUT_ACCESS = {
    "directory": ["dynamodb:Query"],
    "broadcasts": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
                   "dynamodb:ConditionCheckItem"],
}
# The chunk writer: members and their settings; each copy a conditional put and a counter ADD in one
# transaction; the chunk's marker and progress in another (and a failure marker deleted); mark-all-read
# jobs: Query the inbox and its LSIs, update items and counters.
WRITER_ACCESS = {
    "directory": ["dynamodb:Query", "dynamodb:BatchGetItem"],
    "inbox": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
    "counters": ["dynamodb:UpdateItem"],
    # bodies are read by BatchGetItem (inbox.body); a chunk's failure is a transaction that checks its
    # done marker is absent (ConditionCheckItem)
    "broadcasts": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                   "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
}
# What the work queue's event source mapping does with the writer's role (Lambda's documented minimum).
QUEUE_CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
EXPIRY_ACCESS = {
    # a conditional tombstone and the counter update, in one transaction
    "counters": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem",
                 "dynamodb:DescribeTable"],
}
XRAY_WRITE = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
# The WebSocket handlers ($connect, $disconnect, $default): consume a ticket (a conditional DeleteItem), record
# the socket (PutItem of its owner, UpdateItem of the user's set), forget it (GetItem, UpdateItem, DeleteItem).
SOCKETS_ACCESS = {
    "connections": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
}
# The push function: the users' sockets and unread counts (BatchGetItem), gone sockets dropped (UpdateItem),
# and what the native view of a new notification needs (the stored body, the actors' profiles).
PUSH_ACCESS = {
    "connections": ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"],
    "counters": ["dynamodb:BatchGetItem"],
    "broadcasts": ["dynamodb:BatchGetItem"],
    "directory": ["dynamodb:BatchGetItem"],
}
STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
               "dynamodb:ListStreams"]

# The work queue. Receives before a message goes to the dead-letter queue: the redrive policy's
# maxReceiveCount and the functions' WORK_QUEUE_MAX_RECEIVES (the writer records a chunk as failed
# on its last receive), one constant for both.
WORK_QUEUE_MAX_RECEIVES = 5
# AWS's advice for an SQS-triggered function: a visibility timeout of at least 6x its timeout, so
# a message is not handed to a second writer while the first (and Lambda's retries) may still run.
VISIBILITY_PER_TIMEOUT = 6

# ---- prod tables: warm throughput for the fan-out target ----------------------------------------
# Target: 1,000,000 recipients in 150 s (2.5 min) = 6,667 recipients/s. A new on-demand table (and
# each GSI) instantly serves 4,000 WRU/s and 12,000 RRU/s; beyond that it scales by doubling over
# ~30 min and throttles meanwhile, so prod's inbox and counters are pre-warmed at creation.
# Per recipient, every write of an item up to 1 KB (a copy references the stored body):
#   inbox: the conditional Put inside TransactWriteItems costs 2 WRU (transactions write twice), and the
#     two LSIs (`by_activity`, `unread`: both keys present on a new copy, ALL projection) are written in
#     the table's own partitions, counted at 2 WRU each in a transaction -> 6 WRU/recipient on the table;
#     the GSI `by_tenant` is written asynchronously on its own capacity: 1 WRU/recipient.
#   counters: the UpdateItem ADD in the same transaction: 2 WRU/recipient.
# inbox 6 x 1e6 / 150 = 40,000 WRU/s (exactly the default per-table on-demand quota of 40,000: a larger
# target needs a quota increase first); by_tenant 6,667 WRU/s; counters 13,334 WRU/s.
# Reads are not pre-warmed: a broadcast's readers (one counter GetItem each, 1 RRU) at the same
# 6,667/s stay under the 12,000 RRU/s default, which is stated explicitly.
FANOUT_TARGET_RECIPIENTS = 1_000_000
FANOUT_TARGET_SECONDS = 150
ON_DEMAND_DEFAULT_RRU = 12_000
WRU_PER_RECIPIENT = {"inbox": 6, "counters": 2}
GSI_WRU_PER_RECIPIENT = {("inbox", "by_tenant"): 1}


def _units(per_recipient: int) -> int:
    return math.ceil(per_recipient * FANOUT_TARGET_RECIPIENTS / FANOUT_TARGET_SECONDS)


def warm_throughput(kind: str) -> dict[str, int] | None:
    """The prod table's WarmThroughput (CloudFormation keys), or None for a table left at the defaults."""
    if kind not in WRU_PER_RECIPIENT:
        return None
    return {"ReadUnitsPerSecond": ON_DEMAND_DEFAULT_RRU, "WriteUnitsPerSecond": _units(WRU_PER_RECIPIENT[kind])}


def gsi_warm_throughput(kind: str, index: str) -> dict[str, int] | None:
    if (kind, index) not in GSI_WRU_PER_RECIPIENT:
        return None
    return {"ReadUnitsPerSecond": ON_DEMAND_DEFAULT_RRU,
            "WriteUnitsPerSecond": _units(GSI_WRU_PER_RECIPIENT[(kind, index)])}


def function_config(source_dir: str | Path, stage: str, name: str, key: str) -> Any:
    """One setting of one Chalice function in the stage (`.chalice/config.json`, the one place
    the functions' timeouts and memory are set)."""
    config = json.loads((Path(source_dir) / ".chalice" / "config.json").read_text())
    stage_config = config["stages"][stage]
    return stage_config.get("lambda_functions", {}).get(name, {}).get(key, stage_config.get(key, config.get(key)))

# The records `chalicelib.streams.handle_broadcast_stream` acts on; Lambda drops the rest
# (TTL REMOVEs, message bodies, finished jobs) before invoking it.
FANOUT_FILTER = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {"NewImage": {"kind": {"S": ["broadcast", "readall"]},
                              "status": {"S": ["queued", "running"]}}},
}

# The records `chalicelib.streams.handle_inbox_stream` acts on: TTL deletions only.
EXPIRY_FILTER = {
    "eventName": ["REMOVE"],
    "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
}

# The records `chalicelib.domain.realtime.change_of` acts on: a notification created or changed (it has `act`;
# group pointers do not), or removed (by a user or by TTL). Filters are OR-ed.
PUSH_FILTERS = [
    {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"act": {"S": [{"exists": True}]}}}},
    {"eventName": ["REMOVE"], "dynamodb": {"OldImage": {"act": {"S": [{"exists": True}]}}}},
]

# What API Gateway answers itself, before any function runs: JSON in the native error shape, with
# fixed messages ($context.error.messageString can echo the Authorization header back). Tokens are
# verified in the app, so a 401 never comes from here; an unknown path below a surface's prefix
# reaches that surface's greedy {proxy+} route, and only what matches no resource at all lands here.
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", "no resource at this path"),
    "THROTTLED": ("429", "throttled", "too many requests; retry after a pause"),
    "REQUEST_TOO_LARGE": ("413", "body_too_large", "the request is too large"),
    "DEFAULT_4XX": ("", "bad_request", "the request was refused by the API gateway"),
    "DEFAULT_5XX": ("", "unavailable", "the service is unavailable; the request may be retried"),
}


def gateway_cors_headers(origins: tuple[str, ...]) -> dict[str, str]:
    """CORS headers for what API Gateway answers itself (a throttle, a body too large, a 5xx), so a page sees
    the status instead of an opaque network error. The gateway cannot match patterns: one exact origin is
    named; otherwise it echoes the request's Origin, which exposes nothing (those bodies are fixed texts, and
    every response with data comes from the app, which checks the origin). No origins: no CORS at all."""
    if not origins:
        return {}
    single = len(origins) == 1 and "*" not in origins[0]
    return {"gatewayresponse.header.Access-Control-Allow-Origin": f"'{origins[0]}'" if single
            else "method.request.header.Origin",
            "gatewayresponse.header.Vary": "'Origin'"}


def table_specs(prefix: str) -> dict[str, dict[str, Any]]:
    """kind -> CreateTable params (from the models), with the stage's table names."""
    from chalicelib.settings import TABLE_NAME_PREFIX, reset_settings
    from chalicelib.store.bootstrap import create_table_params
    from chalicelib.store.tables import all_models, describe_model

    # `chalice package` leaves a packaged stage's environment (CDK tokens included) in os.environ.
    saved = dict(os.environ)
    for name in ("TENANT_KEYS", "WORK_QUEUE_URL", "SQS_ENDPOINT"):  # tokens, not values, at synth time
        os.environ.pop(name, None)
    for name in [n for n in os.environ if n.startswith(TABLE_NAME_PREFIX)]:  # another stage's TABLE_<KIND> tokens
        os.environ.pop(name)
    os.environ["TABLE_PREFIX"] = prefix
    reset_settings()  # the settings are built once per process: build them from this environment
    try:
        specs = {}
        for model in all_models():
            params = create_table_params(model)
            params["TimeToLiveAttribute"] = describe_model(model)["ttl_attribute"]
            specs[model.Meta.table_kind] = params
        return specs
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()


def _lower(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CreateTable's PascalCase keys to CloudFormation's camelCase property keys (L1 props)."""
    def conv(value: Any) -> Any:
        if isinstance(value, dict):
            return {k[0].lower() + k[1:]: conv(v) for k, v in value.items()}
        if isinstance(value, list):
            return [conv(v) for v in value]
        return value

    return conv(params)


class NotificationsStack(cdk.Stack):
    def __init__(self, scope: Construct, stage: str, *, stage_name: str | None = None,
                 tenant_keys_secret: str | None = None, alarm_email: str | None = None,
                 cors_origins: str | None = None, tenant_jwks: str | None = None,
                 log_retention: Any = None, source_dir: str | Path = ROOT, **kwargs: Any) -> None:
        self.stage = stage_name or stage
        config = STAGES[self.stage]
        kwargs.setdefault("stack_name", f"notifications-{self.stage}")
        kwargs.setdefault("description", f"Inbox notifications service ({self.stage})")
        super().__init__(scope, stage, **kwargs)  # the construct id is the Chalice stage name
        prod = config["prod"]
        self.prefix = f"notifications-{self.stage}"
        # Checked here as the functions will check them (a SettingsError names the variable).
        from chalicelib.settings import parse_cors_origins, parse_tenant_jwks

        self.cors_origins = parse_cors_origins(cors_origins)
        parse_tenant_jwks(tenant_jwks)
        self.log_retention_days = log_retention_days(log_retention)

        # ---- tables --------------------------------------------------------------------------
        self.tables: dict[str, dynamodb.CfnTable] = {}
        for kind, params in table_specs(self.prefix).items():
            ttl = params.pop("TimeToLiveAttribute")
            props: dict[str, Any] = {
                "table_name": params["TableName"],
                "key_schema": _lower(params["KeySchema"]),
                "attribute_definitions": _lower(params["AttributeDefinitions"]),
                "billing_mode": params["BillingMode"],
                "global_secondary_indexes": _lower(params.get("GlobalSecondaryIndexes")) or None,
                "local_secondary_indexes": _lower(params.get("LocalSecondaryIndexes")) or None,
                "stream_specification": ({"streamViewType": params["StreamSpecification"]["StreamViewType"]}
                                         if "StreamSpecification" in params else None),
                "time_to_live_specification": ({"attributeName": ttl, "enabled": True} if ttl else None),
                "sse_specification": {"sseEnabled": True},
                "point_in_time_recovery_specification": {"pointInTimeRecoveryEnabled": prod},
                "deletion_protection_enabled": prod,
            }
            if prod and warm_throughput(kind):
                props["warm_throughput"] = _lower(warm_throughput(kind))
                for gsi in props["global_secondary_indexes"] or []:
                    if gsi_warm_throughput(kind, gsi["indexName"]):
                        gsi["warmThroughput"] = _lower(gsi_warm_throughput(kind, gsi["indexName"]))
            table = dynamodb.CfnTable(self, f"Table{kind.capitalize()}", **props)
            table.apply_removal_policy(cdk.RemovalPolicy.RETAIN if prod else cdk.RemovalPolicy.DESTROY)
            self.tables[kind] = table

        # ---- roles (least privilege; Chalice's own policy generation is off) -------------------
        basic = [iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")]
        principal = iam.ServicePrincipal("lambda.amazonaws.com")
        self.api_role = iam.Role(self, "ApiRole", assumed_by=principal, managed_policies=basic,
                                 description="API handler: the five tables and their indexes")
        self.fanout_role = iam.Role(self, "FanoutRole", assumed_by=principal, managed_policies=basic,
                                    description="Broadcast fan-out: broadcasts stream, inbox/counters writes")
        self.expiry_role = iam.Role(self, "ExpiryRole", assumed_by=principal, managed_policies=basic,
                                    description="TTL expiry: inbox stream, counters writes")
        self.writer_role = iam.Role(self, "WriterRole", assumed_by=principal, managed_policies=basic,
                                    description="Chunk writer: work queue, inbox/counters writes, progress")
        self._grant(self.api_role, API_ACCESS)
        self._grant(self.fanout_role, FANOUT_ACCESS)
        self._grant(self.expiry_role, EXPIRY_ACCESS)
        self._grant(self.writer_role, WRITER_ACCESS)
        self.sockets_role = iam.Role(self, "SocketsRole", assumed_by=principal, managed_policies=basic,
                                     description="WebSocket $connect/$disconnect/$default: tickets and connections")
        self.push_role = iam.Role(self, "PushRole", assumed_by=principal, managed_policies=basic,
                                  description="Realtime push: inbox stream, connections, posts to the sockets")
        for role in (self.api_role, self.fanout_role, self.expiry_role, self.writer_role, self.sockets_role,
                     self.push_role):
            # Active X-Ray tracing: the function's runtime sends its trace segments (no resource-level scoping).
            role.add_to_policy(iam.PolicyStatement(actions=XRAY_WRITE, resources=["*"]))
        self._grant(self.sockets_role, SOCKETS_ACCESS)
        self._grant(self.push_role, PUSH_ACCESS)
        self.push_role.add_to_policy(iam.PolicyStatement(
            actions=STREAM_READ, resources=[self.tables["inbox"].attr_stream_arn]))
        self.expiry_role.add_to_policy(iam.PolicyStatement(
            actions=STREAM_READ, resources=[self.tables["inbox"].attr_stream_arn]))
        self.fanout_role.add_to_policy(iam.PolicyStatement(
            actions=STREAM_READ, resources=[self.tables["broadcasts"].attr_stream_arn]))

        # ---- the work queue: chunks and mark-all-read jobs, coordinator -> writers -----------------------
        # A standard queue; messages carry the tenant as MessageGroupId (SQS fair queuing). Explicit
        # names: the ones the code derives from TABLE_PREFIX locally (`<prefix>-work`, `-work-dlq`).
        writer_timeout = int(function_config(source_dir, self.stage, "writer", "lambda_timeout"))
        self.work_dlq = sqs.Queue(
            self, "WorkDeadLetters", queue_name=f"{self.prefix}-work-dlq", retention_period=cdk.Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        self.work_queue = sqs.Queue(
            self, "WorkQueue", queue_name=f"{self.prefix}-work", retention_period=cdk.Duration.days(4),
            visibility_timeout=cdk.Duration.seconds(VISIBILITY_PER_TIMEOUT * writer_timeout),
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.work_dlq, max_receive_count=WORK_QUEUE_MAX_RECEIVES))
        self.fanout_role.add_to_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=[self.work_queue.queue_arn]))
        self.writer_role.add_to_policy(iam.PolicyStatement(
            actions=sorted(QUEUE_CONSUME + ["sqs:SendMessage"]), resources=[self.work_queue.queue_arn]))

        # ---- configuration -----------------------------------------------------------------------
        secret_name = tenant_keys_secret or f"notifications/{self.stage}/tenant-keys"
        secret = secretsmanager.Secret.from_secret_name_v2(self, "TenantKeys", secret_name)
        environment = {
            "TABLE_PREFIX": self.prefix,
            "LOG_LEVEL": "INFO",
            "ALLOW_DEV_KEYS": "false",
            # A CloudFormation dynamic reference: resolved at deploy time, never in the template.
            "TENANT_KEYS": secret.secret_value.unsafe_unwrap(),
            "WORK_QUEUE_URL": self.work_queue.queue_url,
            "WORK_QUEUE_MAX_RECEIVES": str(WORK_QUEUE_MAX_RECEIVES),
        }
        if self.cors_origins:
            environment["CORS_ALLOWED_ORIGINS"] = ",".join(self.cors_origins)
        if tenant_jwks:
            environment["TENANT_JWKS"] = tenant_jwks  # issuers and public key URLs: nothing secret
        for kind, table in self.tables.items():
            environment[f"TABLE_{kind.upper()}"] = table.ref  # the names the code uses (chalicelib.settings)

        # ---- the Chalice app ------------------------------------------------------------------------
        from chalice.cdk import Chalice

        self.chalice = Chalice(self, "App", source_dir=str(source_dir), stage_config={
            "environment_variables": environment,
            "manage_iam_role": False,
            "iam_role_arn": self.api_role.role_arn,
            "api_gateway_stage": "api",
            "xray": True,  # active X-Ray tracing on every function
        })
        self.chalice.get_resource(FANOUT).add_property_override("Role", self.fanout_role.role_arn)
        self.chalice.get_resource(EXPIRY).add_property_override("Role", self.expiry_role.role_arn)
        self.chalice.get_resource(WRITER).add_property_override("Role", self.writer_role.role_arn)
        self.chalice.get_resource(PUSH).add_property_override("Role", self.push_role.role_arn)
        for name in WS_FUNCTIONS:
            self.chalice.get_resource(name).add_property_override("Role", self.sockets_role.role_arn)

        # ---- the WebSocket API (Chalice's): its URL for the ticket endpoint and the push function, and
        # execute-api:ManageConnections on this API's connections only (the push, and the pong) -------------
        websocket_api = self.chalice.get_resource("WebsocketAPI")
        self.websocket_url = cdk.Fn.sub("wss://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api",
                                        {"WebsocketAPI": websocket_api.ref})
        for name in (API_HANDLER, PUSH):
            self.chalice.get_resource(name).add_property_override(
                "Environment.Variables.REALTIME_WEBSOCKET_URL", self.websocket_url)
        manage = iam.PolicyStatement(actions=["execute-api:ManageConnections"], resources=[cdk.Fn.sub(
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketAPI}/api/POST/@connections/*",
            {"WebsocketAPI": websocket_api.ref})])
        self.push_role.add_to_policy(manage)
        self.sockets_role.add_to_policy(manage)
        self.chalice.get_resource("WebsocketAPIStage").add_property_override("DefaultRouteSettings", {
            "ThrottlingRateLimit": config["rate"], "ThrottlingBurstLimit": config["burst"]})

        # ---- logs: one log group per function, created before it, kept logRetentionDays ----------------
        self.log_groups: dict[str, logs.CfnLogGroup] = {}
        for resource, short in FUNCTIONS.items():
            group = logs.CfnLogGroup(self, f"{resource}Logs", log_group_name=f"/aws/lambda/{self.prefix}-{short}",
                                     retention_in_days=self.log_retention_days)
            group.apply_removal_policy(cdk.RemovalPolicy.RETAIN if prod else cdk.RemovalPolicy.DESTROY)
            function = self.chalice.get_resource(resource)
            # The Ref makes the group exist before the function (Lambda would otherwise create it, unbounded).
            function.add_property_override("LoggingConfig", {"LogGroup": group.ref, "LogFormat": "Text"})
            self.log_groups[resource] = group

        # API Gateway: stage throttling, and JSON (never echoing headers) for what it answers itself.
        rest_api = self.chalice.get_resource("RestAPI")
        rest_api.add_property_override("TracingEnabled", True)  # X-Ray from the gateway into the functions
        # Named per stage (the OpenAPI title would name both stages' APIs alike): the 5XX alarm's ApiName.
        self.api_name = f"{self.prefix}-api"
        rest_api.add_property_override("Name", self.api_name)
        rest_api.add_property_override("MethodSettings", [{
            "ResourcePath": "/*", "HttpMethod": "*",
            "ThrottlingRateLimit": config["rate"], "ThrottlingBurstLimit": config["burst"],
            "MetricsEnabled": True,
        }])
        for response_type, (status, code, message) in GATEWAY_RESPONSES.items():
            apigw.CfnGatewayResponse(
                self, f"GatewayResponse{response_type.title().replace('_', '')}",
                rest_api_id=rest_api.ref, response_type=response_type, status_code=status or None,
                response_parameters={"gatewayresponse.header.Content-Type": "'application/json'",
                                     **gateway_cors_headers(self.cors_origins)},
                response_templates={"application/json": json.dumps({"error": code, "message": message})})

        # ---- stream consumers: broadcasts -> fan-out, inbox TTL deletions -> expiry ---------------------
        # Fan-out: no batching window (each chunk's record is the next chunk's trigger: a window would
        # add its length to every step), and 10 batch processors per shard, so broadcasts of other
        # owners (records of other keys) run beside a long one instead of queueing behind it; records
        # of one broadcast stay in order (same key).
        self.failures, self.mapping = self._stream_consumer(
            "Fanout", FANOUT, self.fanout_role, "broadcasts", FANOUT_FILTER, batch_size=10,
            window_s=0, retries=5, max_age=cdk.Duration.hours(6), parallelization=10)
        self.expiry_failures, self.expiry_mapping = self._stream_consumer(
            "Expiry", EXPIRY, self.expiry_role, "inbox", EXPIRY_FILTER, batch_size=100,
            window_s=5, retries=10, max_age=cdk.Duration.hours(24))
        # Push: no batching window (a change should reach the sockets within a second); batches of 100 so
        # a broadcast's copies share their reads; 4 batch processors per shard (records of one inbox stay in
        # order); few retries and a short record age: a push an hour late is worth nothing (clients resync
        # with inbox.reset on reconnect and poll meanwhile).
        self.push_failures, self.push_mapping = self._stream_consumer(
            "Push", PUSH, self.push_role, "inbox", PUSH_FILTERS, batch_size=100,
            window_s=0, retries=3, max_age=cdk.Duration.minutes(10), parallelization=4)

        # ---- queue consumer: work queue -> writers -----------------------------------------------------
        # Small batches (each message is a chunk of up to 500 recipients), no batching window, partial
        # batch responses, and at most `writer_concurrency` writers (ScalingConfig.MaximumConcurrency).
        writer_target = lambda_.Function.from_function_attributes(
            self, "WriterFunction", function_arn=self.chalice.get_function(WRITER).function_arn,
            role=self.writer_role, same_environment=True)
        self.writer_mapping = lambda_.EventSourceMapping(
            self, "WriterQueue", target=writer_target, event_source_arn=self.work_queue.queue_arn,
            batch_size=5, max_batching_window=cdk.Duration.seconds(0), report_batch_item_failures=True,
            max_concurrency=config["writer_concurrency"])
        # Lambda checks the role's queue permissions when it creates the mapping.
        self.writer_mapping.node.add_dependency(self.writer_role)

        # ---- alarms -----------------------------------------------------------------------------------
        self.alarm_topic = sns.Topic(self, "Alarms", display_name=f"notifications-{self.stage} alarms")
        if alarm_email:
            self.alarm_topic.add_subscription(subs.EmailSubscription(alarm_email))
        action = cw_actions.SnsAction(self.alarm_topic)
        fanout_name = self.chalice.get_resource(FANOUT).ref
        api_name = self.chalice.get_resource(API_HANDLER).ref

        def alarm(cid: str, metric: cw.Metric, threshold: float, description: str, periods: int = 1) -> cw.Alarm:
            a = cw.Alarm(self, cid, metric=metric, threshold=threshold, evaluation_periods=periods,
                         comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                         treat_missing_data=cw.TreatMissingData.NOT_BREACHING, alarm_description=description)
            a.add_alarm_action(action)
            return a

        def fn_metric(name: str, function: str, stat: str = "Sum") -> cw.Metric:
            return cw.Metric(namespace="AWS/Lambda", metric_name=name, dimensions_map={"FunctionName": function},
                             statistic=stat, period=cdk.Duration.minutes(1))

        alarm("FanoutIteratorAge", fn_metric("IteratorAge", fanout_name, "Maximum"), 300_000,
              "Broadcast fan-out is more than 5 minutes behind the stream", periods=3)
        alarm("FanoutFailuresQueued", self.failures.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(1), statistic="Maximum"), 1,
              "Stream records were given up on (see the on-failure queue)")
        alarm("ExpiryFailuresQueued", self.expiry_failures.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(1), statistic="Maximum"), 1,
              "TTL expiries were not taken off the counters (see the expiry on-failure queue)")
        alarm("WorkQueueAge", self.work_queue.metric_approximate_age_of_oldest_message(
            period=cdk.Duration.minutes(1), statistic="Maximum"), 300,
              "The oldest fan-out chunk has waited 5 minutes or more in the work queue", periods=3)
        alarm("WorkDeadLettersQueued", self.work_dlq.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(1), statistic="Maximum"), 1,
              "Work messages were dead-lettered (see README: redrive with start-message-move-task)")
        expiry_name = self.chalice.get_resource(EXPIRY).ref
        writer_name = self.chalice.get_resource(WRITER).ref
        push_name = self.chalice.get_resource(PUSH).ref
        alarm("PushIteratorAge", fn_metric("IteratorAge", push_name, "Maximum"), 60_000,
              "Realtime push is more than a minute behind the inbox stream", periods=3)
        alarm("PushFailuresQueued", self.push_failures.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(1), statistic="Maximum"), 1,
              "Realtime pushes were given up on (see the push on-failure queue)")
        for label, name in (("Fanout", fanout_name), ("Api", api_name), ("Expiry", expiry_name),
                            ("Writer", writer_name), ("Push", push_name),
                            *((name, self.chalice.get_resource(name).ref) for name in WS_FUNCTIONS)):
            alarm(f"{label}Errors", fn_metric("Errors", name), 1, f"{label} function errors", periods=2)
            alarm(f"{label}Throttles", fn_metric("Throttles", name), 1, f"{label} function throttled")
        # 5XX answers of the API (the gateway's own and the app's): the app answers bad input with a 4xx, so
        # these mean a failure (an unhandled error, a timeout, the function throttled or unreachable).
        alarm("Api5xx", cw.Metric(namespace="AWS/ApiGateway", metric_name="5XXError",
                                  dimensions_map={"ApiName": self.api_name, "Stage": "api"}, statistic="Sum",
                                  period=cdk.Duration.minutes(5)), API_5XX_THRESHOLD,
              f"The API answered {API_5XX_THRESHOLD} or more 5XX responses in 5 minutes")
        for kind in ("inbox", "counters", "broadcasts"):
            metric = cw.Metric(namespace="AWS/DynamoDB", metric_name="WriteThrottleEvents",
                               dimensions_map={"TableName": self.tables[kind].ref}, statistic="Sum",
                               period=cdk.Duration.minutes(1))
            alarm(f"Table{kind.capitalize()}WriteThrottles", metric, 10, f"{kind} table write throttling",
                  periods=3)

        cdk.CfnOutput(self, "ApiUrl", value=cdk.Fn.sub(
            "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/",
            {"RestAPI": rest_api.ref}))
        cdk.CfnOutput(self, "WebsocketUrl", value=self.websocket_url)
        cdk.CfnOutput(self, "FailureQueueUrl", value=self.failures.queue_url)
        cdk.CfnOutput(self, "WorkQueueUrl", value=self.work_queue.queue_url)
        cdk.CfnOutput(self, "WorkDeadLetterQueueUrl", value=self.work_dlq.queue_url)
        cdk.CfnOutput(self, "WorkDeadLetterQueueArn", value=self.work_dlq.queue_arn)
        cdk.CfnOutput(self, "TablePrefix", value=self.prefix)

    def _stream_consumer(self, label: str, function: str, role: iam.Role, table: str, pattern: dict | list[dict], *,
                         batch_size: int, window_s: int, retries: int, max_age: cdk.Duration,
                         parallelization: int = 1):
        """A stream -> function mapping with partial batch failures, bisect, bounded retries, a
        maximum record age, a filter and an SQS on-failure destination."""
        failures = sqs.Queue(self, f"{label}Failures", retention_period=cdk.Duration.days(14),
                             encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        failures.grant_send_messages(role)
        # chalice.get_function() imports the function without its role, and the on-failure
        # destination must grant that role sqs:SendMessage: re-import it with the role we gave it.
        target = lambda_.Function.from_function_attributes(
            self, f"{label}Function", function_arn=self.chalice.get_function(function).function_arn,
            role=role, same_environment=True)
        mapping = lambda_.EventSourceMapping(
            self, f"{label}Stream", target=target, event_source_arn=self.tables[table].attr_stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=batch_size,
            max_batching_window=cdk.Duration.seconds(window_s), bisect_batch_on_error=True,
            retry_attempts=retries, max_record_age=max_age, report_batch_item_failures=True,
            parallelization_factor=parallelization, on_failure=sources.SqsDlq(failures),
            filters=[{"pattern": json.dumps(p)} for p in (pattern if isinstance(pattern, list) else [pattern])],
        )
        # The role must hold its stream permissions before Lambda validates the mapping.
        mapping.node.add_dependency(role)
        return failures, mapping

    def _grant(self, role: iam.Role, access: dict[str, list[str]]) -> None:
        for kind, actions in access.items():
            arn = self.tables[kind].attr_arn
            role.add_to_policy(iam.PolicyStatement(actions=sorted(set(actions)),
                                                   resources=[arn, f"{arn}/index/*"]))
