"""The connections table: who has a push socket open, and the single-use tickets that open one.

Three item kinds, all under `pk` (no sort key), every one with a TTL (`expires`); what belongs to a tenant
starts with its id, as in every other table:
- `<tenant>#u#<user>`: one item per user, `conns` the string set of that user's open connection ids.
  One item per user means the push function finds the sockets of 100 users with one BatchGetItem; a
  connect ADDs to the set and pushes the TTL to CONNECTION_LIFETIME past it, so an item lives as long
  as its newest socket can (API Gateway closes any socket after 2 hours).
- `@c#<connectionId>`: the owner (`tenant#user`) of one connection, for `$disconnect`, which names
  only the connection.
- `<tenant>#t#<sha256 of the ticket>`: a ticket (tenant, user); the ticket is `<tenant>.<random>`. Only the hash is stored, so the table never
  holds a usable ticket; `$connect` consumes it with a conditional delete (single use, unexpired).
"""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from typing import Iterable

from botocore.exceptions import ClientError
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.store.base import BaseModel, connection, lazy_meta, with_backoff

# API Gateway closes a WebSocket after 2 hours whatever happens; 10 minutes of slack for clocks.
CONNECTION_LIFETIME_SECONDS = 2 * 3600 + 600
BATCH_GET_KEYS = 100  # BatchGetItem's limit


class ConnectionItem(BaseModel):
    """PK `<tenant>#u#<user>` (conns), `@c#<connectionId>` (owner), `<tenant>#t#<sha256>` (tenant, user, exp)."""

    Meta = lazy_meta("connections")

    pk = UnicodeAttribute(hash_key=True)
    conns = UnicodeSetAttribute(null=True)
    owner = UnicodeAttribute(null=True)
    tenant = UnicodeAttribute(null=True)
    user = UnicodeAttribute(null=True)
    exp = NumberAttribute(null=True)  # tickets: epoch seconds after which it is refused (TTL is lazy)
    expires = TTLAttribute(null=True)


def user_key(tenant: str, user: str) -> str:
    return f"{tenant}#u#{user}"


def _owner_key(connection_id: str) -> str:
    return f"@c#{connection_id}"  # '@' starts no tenant id


def _at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc)


def ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _ticket_key(ticket: str) -> str:
    tenant = ticket.partition(".")[0]
    return f"{tenant}#t#{ticket_hash(ticket)}"


# ---- tickets ---------------------------------------------------------------------------------------

def put_ticket(ticket: str, tenant: str, user: str, expires_at: int) -> None:
    """Store a ticket's hash, bound to tenant and user, until `expires_at` (epoch seconds)."""
    ConnectionItem(_ticket_key(ticket), tenant=tenant, user=user, exp=expires_at,
                   expires=_at(expires_at + 60)).save(condition=ConnectionItem.pk.does_not_exist())


def take_ticket(ticket: str, now: float | None = None) -> tuple[str, str] | None:
    """Delete the ticket if it exists and has not expired; its (tenant, user), or None. The delete is
    conditional, so of two sockets presenting one ticket at once exactly one gets it."""
    now = time.time() if now is None else now
    table = ConnectionItem.Meta.table_name
    try:
        response = connection().client.delete_item(
            TableName=table, Key={"pk": {"S": _ticket_key(ticket)}},
            ConditionExpression="attribute_exists(pk) AND #exp > :now",
            ExpressionAttributeNames={"#exp": "exp"},
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
            ReturnValues="ALL_OLD")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    old = response.get("Attributes") or {}
    if "tenant" not in old or "user" not in old:
        return None
    return old["tenant"]["S"], old["user"]["S"]


# ---- connections -----------------------------------------------------------------------------------

def add_connection(tenant: str, user: str, connection_id: str, now: float | None = None) -> None:
    """Record an open socket: its owner, and its id in the user's set."""
    expires = int(time.time() if now is None else now) + CONNECTION_LIFETIME_SECONDS
    owner = f"{tenant}#{user}"
    ConnectionItem(_owner_key(connection_id), owner=owner, expires=_at(expires)).save()
    ConnectionItem(user_key(tenant, user)).update(actions=[
        ConnectionItem.conns.add({connection_id}), ConnectionItem.expires.set(_at(expires))])


def remove_connection(connection_id: str) -> None:
    """Forget a closed socket (`$disconnect`); nothing if it was never recorded."""
    try:
        item = ConnectionItem.get(_owner_key(connection_id), consistent_read=True)
    except ConnectionItem.DoesNotExist:
        return
    tenant, _, user = (item.owner or "").partition("#")
    if tenant and user:
        drop_connections(tenant, user, [connection_id])
    try:
        item.delete()
    except DeleteError:
        pass


def drop_connections(tenant: str, user: str, connection_ids: Iterable[str]) -> None:
    """Take gone connections out of the user's set (DELETE from a set is idempotent)."""
    ids = set(connection_ids)
    if not ids:
        return
    try:  # only an existing item: an update would otherwise create one without a TTL
        ConnectionItem(user_key(tenant, user)).update(actions=[ConnectionItem.conns.delete(ids)],
                                                      condition=ConnectionItem.pk.exists())
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def connections_of(users: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """(tenant, user) -> that user's open connection ids, for users with at least one; one
    BatchGetItem per 100 users."""
    out: dict[tuple[str, str], list[str]] = {}
    keys = {user_key(t, u): (t, u) for t, u in users}
    pending = list(keys)
    table = ConnectionItem.Meta.table_name
    client = connection().client
    while pending:
        chunk, pending = pending[:BATCH_GET_KEYS], pending[BATCH_GET_KEYS:]
        request = {table: {"Keys": [{"pk": {"S": k}} for k in chunk], "ProjectionExpression": "pk, conns"}}
        while request:
            response = with_backoff(lambda: client.batch_get_item(RequestItems=request))
            for raw in response.get("Responses", {}).get(table, []):
                ids = raw.get("conns", {}).get("SS") or []
                if ids:
                    out[keys[raw["pk"]["S"]]] = sorted(ids)
            request = response.get("UnprocessedKeys") or {}
    return out
