"""Shared bench plumbing: an engine (DynamoDB Local if installed, else moto's server), tokens,
an in-process Chalice client, and a counter of DynamoDB requests per API call."""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ["TABLE_PREFIX"] = "notifications-dev"  # the stage the Chalice test client applies
os.environ.setdefault("LOG_LEVEL", "WARNING")


def start_engine(prefer: str | None = None):
    """Returns (stop, description). DynamoDB Local when its jar is present, unless BENCH_ENGINE=moto."""
    prefer = prefer or os.environ.get("BENCH_ENGINE", "auto")
    if prefer in ("auto", "local"):
        from chalicelib.local.dynamodb_local import DynamoDBLocal, missing

        if missing() is None:
            engine = DynamoDBLocal().start()
            os.environ["DYNAMODB_ENDPOINT"] = engine.endpoint
            os.environ["DYNAMODB_TRANSACTION_LIMIT"] = "10"
            return engine.stop, "DynamoDB Local (transactions capped at 10 actions)"
        if prefer == "local":
            raise SystemExit(f"DynamoDB Local unavailable: {missing()}")
    from chalicelib.local.runtime import start_embedded_dynamodb

    server, endpoint = start_embedded_dynamodb()  # with chalicelib.local.moto_engine: safe under concurrency
    os.environ["DYNAMODB_ENDPOINT"] = endpoint
    return server.stop, "moto server"


class RequestCounter:
    """Counts DynamoDB API calls made by this process (botocore clients)."""

    def __init__(self) -> None:
        self.count = 0
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        counter = self

        def counting(client, operation_name, api_params):
            counter.count += 1
            return original(client, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = counting


def client():
    from chalice.test import Client

    from app import app

    return Client(app)


def headers(user: str | None = None, roles=()) -> dict[str, str]:
    from chalicelib.auth.tokens import issue

    return {"Authorization": f"Bearer {issue('dev', user=user, roles=list(roles))}",
            "Content-Type": "application/json"}


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Run each case in turn, repeat times, so machine noise hits all cases alike."""
    results: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            results[name].append(time.perf_counter() - start)
    return results


def dumps(value: Any) -> str:
    return json.dumps(value)
