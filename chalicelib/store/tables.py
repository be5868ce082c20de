"""Every table the service uses, and the definition each model declares.

The one list the local bootstrap (`store.bootstrap`), the CDK stack (`infra/stack.py`), the local
runtime and the tests build tables from. It imports the table modules; they import only
`store.base`, so dependencies run one way.
"""
from __future__ import annotations

from typing import Any

from chalicelib.store import broadcasts, connections, counters, directory, idempotency, inbox
from chalicelib.store.base import BaseModel


def all_models() -> list[type[BaseModel]]:
    """One model per table (the one declaring its keys, indexes, stream and TTL)."""
    return [inbox.InboxItem, counters.Counter, directory.DirectoryItem, broadcasts.BroadcastItem,
            idempotency.IdempotencyRecord, connections.ConnectionItem]


def describe_model(model: type[BaseModel]) -> dict[str, Any]:
    """The table definition (keys, indexes, stream, TTL) a model declares: the one source
    the local bootstrap and the CDK stack both build from."""
    schema = model._get_schema()
    ttl = next((attr.attr_name for attr in model.get_attributes().values()
                if type(attr).__name__ == "TTLAttribute"), None)
    return {
        "kind": model.Meta.table_kind,
        "key_schema": schema["key_schema"],
        "attribute_definitions": schema["attribute_definitions"],
        "global_secondary_indexes": schema["global_secondary_indexes"],
        "local_secondary_indexes": schema["local_secondary_indexes"],
        "stream_view_type": getattr(model.Meta, "stream_view_type", None),
        "ttl_attribute": ttl,
    }
