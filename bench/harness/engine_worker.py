"""The engine worker: a child process (the project's venv) bound to one running service's engine
(DYNAMODB_ENDPOINT, TABLE_PREFIX from its environment). It does what the bench must do *beside*
the public API: seed members and inboxes straight into the tables, verify deliveries by counting,
measure the engine's write ceilings, and read stored item sizes for the cost scenario.

It uses the store's models only to get the item shapes right; the fan-out under test is driven
through HTTP by the bench, never from here. Run by bench/harness/engine.py via bench/harness/rpc.py.
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness.rpc import serve  # noqa: E402

_client = None
_serial = 0


def client():
    """One boto3 client (thread-safe) for the raw calls; retries in standard mode."""
    global _client
    if _client is None:
        import boto3
        from botocore.config import Config

        _client = boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"], region_name="us-east-1",
                               config=Config(retries={"max_attempts": 10, "mode": "standard"},
                                             max_pool_connections=32))
    return _client


def table(kind: str) -> str:
    from chalicelib.settings import get_settings

    return get_settings().table_name(kind)


def batch_put(table_name: str, items: list[dict[str, Any]], threads: int) -> float:
    """Unconditional BatchWriteItem puts, 25 per request, on `threads` threads; returns seconds."""
    batches = [items[i:i + 25] for i in range(0, len(items), 25)]

    def write(batch: list[dict[str, Any]]) -> None:
        pending = {table_name: [{"PutRequest": {"Item": item}} for item in batch]}
        delay = 0.02
        while pending:
            out = client().batch_write_item(RequestItems=pending)
            pending = out.get("UnprocessedItems") or {}
            if pending:
                time.sleep(delay)
                delay = min(1.0, delay * 2)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(write, batches))
    return time.perf_counter() - start


def ensure_tables() -> list[str]:
    from chalicelib.store.bootstrap import ensure_tables as ensure

    return ensure()


def seed_members(tenant: str, owner: str, user_prefix: str, count: int, threads: int = 4) -> float:
    """`count` members of organization `owner` (users `<prefix>-u000000`...), shaped as the directory
    store writes them (chalicelib/store/directory.py). Returns seconds."""
    from chalicelib.store.directory import MemberItem, member_key, owner_pk

    pk = owner_pk(tenant, "org", owner)
    items = []
    for i in range(count):
        user = f"{user_prefix}-u{i:06d}"
        items.append(MemberItem(pk, f"m#{user}", member_key=member_key(tenant, user), role="Standard User",
                                banned=False, is_api_user=False, joined_at=0).serialize())
    return batch_put(table("directory"), items, threads)


def _content(message: str = "m"):
    from chalicelib.domain.model import Content

    return Content(type="Bench", message=message, metadata={"k": "v"})


def seed_inbox(tenant: str, user: str, count: int, threads: int = 4) -> float:
    """`count` unread notifications in one inbox, newest last, and its counters to match."""
    from chalicelib import ids
    from chalicelib.domain.sending import build_item
    from chalicelib.store.counters import Counter

    content = _content("hello")
    base = int(time.time() * 1000) - count
    items = []
    for i in range(count):
        sk = ids.ulid_bound(base + i, upper=False)[:16] + ids.new_ulid()[16:]
        items.append(build_item(tenant, user, sk, content).serialize())
    seconds = batch_put(table("inbox"), items, threads)
    Counter(f"{tenant}#{user}", unread=count, total=count, version=count).save()
    return seconds


def counter_totals(tenant: str, user_prefix: str, count: int, threads: int = 4) -> dict[str, int]:
    """How many of the members hold how many notifications, from their counters
    (BatchGetItem, 100 keys per call): {"<total>": members}. Absent counters count as 0."""
    keys = [f"{tenant}#{user_prefix}-u{i:06d}" for i in range(count)]
    name = table("counters")

    def fetch(part: list[str]) -> list[int]:
        request = {name: {"Keys": [{"pk": {"S": k}} for k in part], "ConsistentRead": True,
                          "ProjectionExpression": "pk, #t", "ExpressionAttributeNames": {"#t": "total"}}}
        totals = []
        while request:
            out = client().batch_get_item(RequestItems=request)
            totals += [int(item.get("total", {}).get("N", "0")) for item in out["Responses"].get(name, [])]
            request = out.get("UnprocessedKeys") or {}
        return totals

    parts = [keys[i:i + 100] for i in range(0, len(keys), 100)]
    histogram: dict[str, int] = {}
    found = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for totals in pool.map(fetch, parts):
            for total in totals:
                histogram[str(total)] = histogram.get(str(total), 0) + 1
                found += 1
    if found < count:
        histogram["0"] = histogram.get("0", 0) + count - found
    return histogram


def inbox_counts(tenant: str, users: list[str]) -> dict[str, int]:
    """Items in each inbox partition (a consistent Query with Select=COUNT), for a sample check."""
    name = table("inbox")
    out: dict[str, int] = {}
    for user in users:
        total, start = 0, None
        while True:
            kwargs: dict[str, Any] = {"TableName": name, "KeyConditionExpression": "pk = :p",
                                      "ExpressionAttributeValues": {":p": {"S": f"{tenant}#{user}"}},
                                      "Select": "COUNT", "ConsistentRead": True,
                                      "FilterExpression": "attribute_exists(act)"}  # notifications, not pointers
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = client().query(**kwargs)
            total += page["Count"]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        out[user] = total
    return out


def _ceiling_items(count: int):
    """Inbox copies of one broadcast for `count` fresh users, shaped as the fan-out writes them
    (the body stored once and referenced): the template item and the users."""
    global _serial
    from chalicelib import ids
    from chalicelib.domain.sending import build_item

    _serial += 1
    sk = ids.new_ulid()
    users = [f"c{os.getpid()}-{_serial}-{i:06d}" for i in range(count)]
    return build_item("ceiling", users[0], sk, _content(), ref=f"ceiling#msg|{sk}", broadcast="bench"), users


def write_new_seconds(count: int, threads: int) -> float:
    """The fan-out's exact writes alone (`chalicelib.domain.delivery.write_copies`: conditional put +
    counter ADD per recipient, in transactions) for `count` recipients with
    FANOUT_PARALLELISM=threads. Returns seconds."""
    from chalicelib.domain.delivery import write_copies

    os.environ["FANOUT_PARALLELISM"] = str(threads)
    template, users = _ceiling_items(count)
    start = time.perf_counter()
    outcome = write_copies(template, "ceiling", users)
    seconds = time.perf_counter() - start
    assert sum(outcome.values()) == count, f"write_copies wrote {sum(outcome.values())} of {count}"
    return seconds


def batch_write_seconds(count: int, threads: int) -> float:
    """Plain unconditional BatchWriteItem (25 per request) of the same items, no counters."""
    from chalicelib.store.inbox import copies

    template, users = _ceiling_items(count)
    return batch_put(table("inbox"), copies(template, "ceiling", users), threads)


def dynamodb_size(value: dict[str, Any]) -> int:
    """An attribute value's size by DynamoDB's documented rules (strings and binary by their bytes,
    numbers about 1 byte per 2 digits + 1, maps and lists 3 bytes + 1 per element)."""
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "B":
        return len(raw)
    if kind == "N":
        digits = len(raw.lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + dynamodb_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(dynamodb_size(v) + 1 for v in raw)
    if kind in ("SS", "NS", "BS"):
        return sum(dynamodb_size({kind[0]: v}) for v in raw)
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + dynamodb_size(value) for name, value in item.items())


def stored_sizes(tenant: str, user: str, owner: str, member: str) -> dict[str, int]:
    """Sizes in bytes of what a send stores: the newest inbox item of `user`, its counter, a member
    item of `owner`, and the biggest stored message body of the tenant (if any)."""
    c = client()
    sizes: dict[str, int] = {}
    page = c.query(TableName=table("inbox"), KeyConditionExpression="pk = :p",
                   ExpressionAttributeValues={":p": {"S": f"{tenant}#{user}"}}, ScanIndexForward=False, Limit=1)
    if page["Items"]:
        sizes["inbox_item"] = item_size(page["Items"][0])
    got = c.get_item(TableName=table("counters"), Key={"pk": {"S": f"{tenant}#{user}"}})
    if "Item" in got:
        sizes["counter_item"] = item_size(got["Item"])
    got = c.get_item(TableName=table("directory"), Key={"pk": {"S": f"{tenant}#org#{owner}"}, "sk": {"S": f"m#{member}"}})
    if "Item" in got:
        sizes["member_item"] = item_size(got["Item"])
    bodies = c.query(TableName=table("broadcasts"), KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": f"{tenant}#msg"}})
    if bodies["Items"]:
        sizes["body_item_max"] = max(item_size(i) for i in bodies["Items"])
    return sizes


def transaction_calibration() -> dict[str, float]:
    """Capacity the engine reports for small counter-shaped items (under 1 KB): one plain PutItem,
    a TransactWriteItems of 1 put and one of 5 puts. DynamoDB documents 1, 2 and 10 WCU."""
    c = client()
    name = table("counters")
    units = lambda cc: sum(float(e.get("CapacityUnits") or 0) for e in (cc if isinstance(cc, list) else [cc]))  # noqa: E731
    plain = c.put_item(TableName=name, Item={"pk": {"S": "calibration#plain"}, "unread": {"N": "1"}},
                       ReturnConsumedCapacity="TOTAL")
    out = {"put_item_wcu": units(plain.get("ConsumedCapacity") or {})}
    for n in (1, 5):
        tx = c.transact_write_items(TransactItems=[{"Put": {"TableName": name, "Item": {
            "pk": {"S": f"calibration#tx{n}-{i}"}, "unread": {"N": "1"}}}} for i in range(n)],
            ReturnConsumedCapacity="TOTAL")
        out[f"transact_{n}_puts_wcu"] = units(tx.get("ConsumedCapacity") or {})
    return out


def index_keys() -> dict[str, dict[str, list[str]]]:
    """{table kind: {index: key attribute names}} of the service's tables (DescribeTable)."""
    from chalicelib.settings import TABLE_KINDS

    out: dict[str, dict[str, list[str]]] = {}
    for kind in TABLE_KINDS:
        described = client().describe_table(TableName=table(kind))["Table"]
        indexes = described.get("LocalSecondaryIndexes", []) + described.get("GlobalSecondaryIndexes", [])
        out[kind] = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in indexes}
    return out


if __name__ == "__main__":
    serve({"ensure_tables": ensure_tables, "seed_members": seed_members, "seed_inbox": seed_inbox,
           "counter_totals": counter_totals, "inbox_counts": inbox_counts,
           "write_new_seconds": write_new_seconds, "batch_write_seconds": batch_write_seconds,
           "stored_sizes": stored_sizes, "transaction_calibration": transaction_calibration,
           "index_keys": index_keys})
