"""An engine that refuses transactions over N actions (DynamoDB Local 1.11.478: 10) lowers the limit
for the process; nothing is lost or doubled on the way."""
from __future__ import annotations

import botocore.exceptions
import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib.store import base
from tests.conftest import Api, auth


def refusal(actions: int) -> TransactWriteError:
    message = "Member must have length less than or equal to 10"  # DynamoDB Local's words, in full
    cause = botocore.exceptions.ClientError({"Error": {"Code": "ValidationException", "Message": message}},
                                            "TransactWriteItems")
    return TransactWriteError("Failed to write transaction items", cause=cause)


@pytest.fixture
def ten_action_engine(monkeypatch):
    """moto, made to refuse transactions of more than 10 actions the way DynamoDB Local does."""
    from pynamodb.connection.base import Connection

    original = Connection.transact_write_items
    seen: list[int] = []

    def transact(self, *args, **kwargs):
        count = sum(len(kwargs.get(k) or ()) for k in ("condition_check_items", "delete_items", "put_items",
                                                       "update_items"))
        seen.append(count)
        if count > 10:
            raise refusal(count)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", transact)
    monkeypatch.setattr(base, "_engine_transaction_limit", None)
    yield seen
    base._engine_transaction_limit = None


def test_refusal_lowers_the_limit(client, server, ten_action_engine):
    users = [f"u{i:02d}" for i in range(23)]
    r = server.post("/v1/notifications", {"recipients": users, "type": "T", "message": "hello"})
    assert r.status_code == 201, r.data
    assert len(r.data["notifications"]) == 23
    assert base.transaction_limit() == 10
    assert max(ten_action_engine[1:]) <= 10  # only the first attempt was too large
    for u in users:
        assert Api(client, auth("dev", u)).get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    bob = Api(client, auth("dev", "u00"))
    for i in range(15):
        server.post("/v1/notifications", {"recipients": ["u00"], "type": "T", "message": f"m{i}"})
    ids = [n["id"] for n in bob.get("/v1/users/me/notifications?limit=100").data["notifications"]]
    base._engine_transaction_limit = None  # as a fresh process would start: 100
    r = bob.post("/v1/users/me/notifications/read", {"ids": ids})
    assert r.status_code == 200 and r.data["marked"] == 16, r.data
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}


def test_other_validation_errors_are_not_taken_for_a_limit():
    cause = botocore.exceptions.ClientError({"Error": {"Code": "ValidationException", "Message": "bad key"}},
                                            "TransactWriteItems")
    assert not base.adapt_transaction_limit(TransactWriteError("x", cause=cause))
