"""Run in a fresh interpreter by scenarios/cold_start.py; prints one JSON line of timings.

`app`: import app.py (what Lambda's init does), then serve GET /health and then one request that
reads DynamoDB (the unread count: token check, botocore client creation, one GetItem) through the
Chalice app's Lambda handler, with API Gateway (REST, proxy) events. `boto3`: a bare `import boto3`.
"""
from __future__ import annotations

import json
import sys
import time

START = time.perf_counter()


def event(path: str, resource: str, params: dict | None, headers: dict) -> dict:
    return {"resource": resource, "path": path, "httpMethod": "GET", "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": params, "stageVariables": None,
            "requestContext": {"resourcePath": resource, "httpMethod": "GET", "path": "/api" + path, "stage": "api",
                               "requestId": "bench", "identity": {"sourceIp": "127.0.0.1"}},
            "body": None, "isBase64Encoded": False}


class LambdaContext:
    function_name = "bench"
    memory_limit_in_mb = 512
    aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main(mode: str, root: str, token: str | None) -> dict:
    if mode == "boto3":
        import boto3  # noqa: F401

        return {"import_s": time.perf_counter() - START}
    sys.path.insert(0, root)
    from app import app

    imported = time.perf_counter()
    health = app(event("/health", "/health", None, {"Host": "bench"}), LambdaContext())
    served = time.perf_counter()
    out = {"import_s": imported - START, "first_request_s": served - imported, "health_status": health["statusCode"]}
    if token:
        counted = app(event("/v1/users/me/notifications/unread-count", "/v1/users/{userId}/notifications/unread-count",
                            {"userId": "me"}, {"Host": "bench", "Authorization": f"Bearer {token}"}), LambdaContext())
        out["first_dynamodb_request_s"] = time.perf_counter() - served
        out["dynamodb_status"] = counted["statusCode"]
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
