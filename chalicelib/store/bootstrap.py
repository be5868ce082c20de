"""Create the tables the code declares, if missing (local runtime and tests)."""
from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings
from chalicelib.store.tables import all_models, describe_model


def _hash_first(key_schema: list[dict]) -> list[dict]:
    return sorted(key_schema, key=lambda k: k["KeyType"] != "HASH")


def create_table_params(model) -> dict:
    """CreateTable parameters for a model, from its declared keys and indexes."""
    spec = describe_model(model)
    attr_defs = {a["AttributeName"]: a for a in spec["attribute_definitions"]}
    params: dict = {
        "TableName": model.Meta.table_name,
        "KeySchema": _hash_first(spec["key_schema"]),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec["global_secondary_indexes"]:
        params["GlobalSecondaryIndexes"] = [
            {"IndexName": i["index_name"], "KeySchema": _hash_first(i["key_schema"]), "Projection": i["projection"]}
            for i in spec["global_secondary_indexes"]
        ]
    if spec["local_secondary_indexes"]:
        params["LocalSecondaryIndexes"] = [
            {"IndexName": i["index_name"], "KeySchema": _hash_first(i["key_schema"]), "Projection": i["projection"]}
            for i in spec["local_secondary_indexes"]
        ]
    params["AttributeDefinitions"] = list(attr_defs.values())
    if spec["stream_view_type"]:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec["stream_view_type"]}
    return params


_clients: dict[tuple[str, str | None], Any] = {}


def dynamodb_client() -> Any:
    """One client per region and endpoint (making one costs ~30 ms; the unit tests make tables
    for every test)."""
    s = get_settings()
    key = (s.region, s.dynamodb_endpoint)
    if key not in _clients:
        _clients[key] = boto3.client("dynamodb", region_name=s.region, endpoint_url=s.dynamodb_endpoint,
                                     config=Config(retries={"max_attempts": 8, "mode": "standard"}))
    return _clients[key]


def ensure_tables() -> list[str]:
    """Create every missing table and wait for it; returns the names created."""
    client = dynamodb_client()
    existing = set(client.list_tables().get("TableNames", []))
    created = []
    for model in all_models():
        params = create_table_params(model)
        name = params["TableName"]
        if name in existing:
            continue
        client.create_table(**params)
        created.append(name)
    for name in created:
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    for model in all_models():
        ttl = describe_model(model)["ttl_attribute"]
        if ttl and model.Meta.table_name in created:
            client.update_time_to_live(TableName=model.Meta.table_name,
                                       TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
    return created
